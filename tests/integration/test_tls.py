"""HTTPS through civetweb: [server] tls_cert and tls_key.

The test makes its own self-signed certificate for 127.0.0.1 with the
openssl command, and its client trusts only that certificate and checks
the name, as a careful CI job would. Everything a user does over HTTP
must work the same over HTTPS: a signed webhook in, a database ready, the
CI API's URL connecting.
"""

import http.client
import json
import socket
import ssl
import subprocess
import warnings

import psycopg2
import pytest

from previewd import pr_payload


def make_cert(directory, name="127.0.0.1"):
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:" + name,
         "-keyout", str(key), "-out", str(cert)],
        check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, timeout=60)
    return cert, key


@pytest.fixture
def tls_daemon(tmp_path, pg_config, previewd_factory):
    cert, key = make_cert(tmp_path)
    config = dict(pg_config)
    config["server"] = {"tls_cert": str(cert), "tls_key": str(key)}
    d = previewd_factory(config)
    assert d.base_url.startswith("https://")
    return d


def test_https_webhook_to_connecting_url(tls_daemon):
    d = tls_daemon
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", 71))
    assert status == 202, body
    status, _, body = d.env_for("acme/shop", 71, wait=60)
    assert status == 200, body
    env = json.loads(body)
    assert env["status"] == "ready", env
    with psycopg2.connect(env["database_url"], connect_timeout=10) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert cur.fetchone()[0] == env["database"]
    conn.close()


def test_plain_http_on_tls_port_gets_no_answer(tls_daemon):
    """Nothing is served in clear text on the HTTPS port: the daemon drops
    the connection rather than answering the request."""
    conn = http.client.HTTPConnection("127.0.0.1", tls_daemon.port, timeout=10)
    try:
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            conn.request("GET", "/healthz")
            conn.getresponse()
    finally:
        conn.close()
    # ... and the daemon is still there for TLS clients.
    assert tls_daemon.request("GET", "/healthz")[0] == 200


def test_old_tls_versions_refused(tls_daemon):
    ctx = ssl.create_default_context(cafile=tls_daemon.config["server"]["tls_cert"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    # OpenSSL 3's default security level forbids TLS < 1.2 in the client
    # too; level 0 lets it try, so the refusal is the server's.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", tls_daemon.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError) as exc:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
                s.recv(100)
    # An alert from the server, not a client that could not even try.
    assert "ALERT_PROTOCOL_VERSION" in str(exc.value) or \
        "UNSUPPORTED_PROTOCOL" in str(exc.value), exc.value


def test_mismatched_key_fails_at_start_with_a_clear_message(tmp_path, pg_config,
                                                            previewd_factory):
    cert, _ = make_cert(tmp_path)
    (tmp_path / "other").mkdir()
    _, other_key = make_cert(tmp_path / "other")
    config = dict(pg_config)
    config["server"] = {"tls_cert": str(cert), "tls_key": str(other_key)}
    d = previewd_factory(config, start=False)
    with pytest.raises(RuntimeError) as exc:
        d.start()
    assert "tls: cannot use" in str(exc.value), str(exc.value)
    d.expected_exit = True
