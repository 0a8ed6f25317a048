"""Readiness that keeps webhooks flowing (issue 24, item 6).

/readyz answers 200 while previewd can accept work and record it durably,
whatever the database servers and forges are doing: during a database
outage the load balancer keeps sending webhooks, they are answered 202
and acted on when the server is back. /readyz names components and
states only; the state of each moves to the metrics
(previewd_engine_up, previewd_forge_up) and, with its error text, to
GET /api/v1/health for the admin token and to the admin page.

The outage is of a PostgreSQL started for the test alone: the session's
servers keep serving the other tests.
"""

import base64
import json
import re

from previewd import pr_payload, wait_until
from servers import PostgresServer

REPO = "acme/shop"
TOKEN = "ghp_readiness_test_token"


def readyz(d):
    status, _, body = d.request("GET", "/readyz")
    return status, json.loads(body)


def metric(d, series):
    """The value of one series in /metrics (a float), None when absent."""
    status, _, body = d.request("GET", "/metrics")
    assert status == 200
    m = re.search(r"^%s (\S+)$" % re.escape(series), body.decode(), re.M)
    return float(m.group(1)) if m else None


def health(d, token):
    return d.get_json("/api/v1/health", token=token)


def component(d, name):
    status, body = health(d, d.admin_token)
    assert status == 200, body
    found = [c for c in body["components"] if c["name"] == name]
    assert len(found) == 1, body
    return found[0]


def env_now(d, number):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (REPO, number),
                              token=d.ci_token)
    assert status == 200, body
    return body


def admin_page(d):
    raw = ("ops:%s" % d.admin_token).encode()
    status, _, body = d.request("GET", "/", headers={
        "Authorization": "Basic " + base64.b64encode(raw).decode()})
    assert status == 200
    return body.decode()


def assert_states_only(body):
    """The unauthenticated answer: names and states, no error text."""
    assert set(body) <= {"ready", "checked_at", "checks"}, body
    assert set(body["checks"].values()) <= {"ok", "down", "draining"}, body


def test_database_outage_keeps_previewd_ready(previewd_factory):
    server = PostgresServer()
    server.start()
    try:
        d = previewd_factory({
            "postgres": {"admin_url": server.admin_url, "pool_size": "0"},
            "repo:acme/shop": {"ttl": "72h"},
        })
        wait_until(lambda: readyz(d)[1]["checks"].get("postgres") == "ok",
                   what="postgres ok in /readyz")
        assert readyz(d)[0] == 200

        server.stop_server()
        wait_until(lambda: readyz(d)[1]["checks"]["postgres"] != "ok",
                   what="/readyz to see postgres go")
        status, body = readyz(d)
        assert status == 200, body
        assert body["ready"] is True and body["checks"]["postgres"] == "down", body
        assert body["checks"]["state"] == "ok" and body["checks"]["listener"] == "ok"
        assert_states_only(body)
        assert metric(d, 'previewd_engine_up{engine="postgres"}') == 0

        # The detail: admin token only, with the error, scrubbed.
        assert health(d, None)[0] == 401
        assert health(d, d.ci_token)[0] == 401
        pg = component(d, "postgres")
        assert pg["state"] == "down" and pg["kind"] == "engine", pg
        assert pg["error"], pg
        assert server.admin_password not in json.dumps(health(d, d.admin_token)[1])
        assert component(d, "state")["state"] == "ok"
        page = admin_page(d)
        assert re.search(r'data-component="postgres" data-state="down"', page), page
        assert server.admin_password not in page

        # A webhook during the outage is taken, and waits.
        status, _, body = d.github_webhook("pull_request", pr_payload("opened", 1))
        assert status == 202, body
        wait_until(lambda: (env_now(d, 1)["error"] or "").startswith("waiting for postgres"),
                   what="the wait explained")
        assert env_now(d, 1)["status"] == "provisioning"

        # The server comes back: ready without another webhook.
        server.start_server()
        wait_until(lambda: env_now(d, 1)["status"] == "ready", timeout=120,
                   what="the environment ready after the outage")
        wait_until(lambda: metric(d, 'previewd_engine_up{engine="postgres"}') == 1,
                   what="previewd_engine_up back to 1")
        assert readyz(d)[1]["checks"]["postgres"] == "ok"
        assert component(d, "postgres")["error"] is None
    finally:
        server.stop()


def test_forge_up_follows_the_latest_call(pg, pg_config, forge, previewd_factory):
    forge.github_token = TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    # GitHub answers every comment with 503 until told otherwise.
    forge.fail("POST", r"/issues/\d+/comments$", 503, times=None)
    d = previewd_factory(cfg)
    assert metric(d, 'previewd_forge_up{forge="github"}') == 1   # no call yet
    assert metric(d, 'previewd_forge_up{forge="gitlab"}') is None  # not configured
    assert d.github_webhook("pull_request", pr_payload("opened", 2))[0] == 202
    wait_until(lambda: metric(d, 'previewd_forge_up{forge="github"}') == 0, timeout=60,
               what="previewd_forge_up 0 after a 503")
    status, body = readyz(d)
    assert status == 200 and "github" not in body["checks"], body
    gh = component(d, "github")
    assert gh["state"] == "down" and "503" in gh["error"], gh
    assert TOKEN not in json.dumps(health(d, d.admin_token)[1])

    forge.clear_scripts()
    wait_until(lambda: metric(d, 'previewd_forge_up{forge="github"}') == 1, timeout=60,
               what="previewd_forge_up 1 once GitHub answers")
    assert component(d, "github")["state"] == "ok"

