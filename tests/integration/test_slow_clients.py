"""Slow clients (issue 24): a request's headers and body must arrive within
[server] request_timeout, and clients that send bodies slowly cannot take
the HTTP threads from everyone else.

The attack: connections that send a webhook's complete header block and
then its body one byte a second.  Before the fix ~130 of them held every
HTTP thread for as long as they stayed open; /healthz and genuine webhooks
timed out.

The attackers connect from 127.0.0.2 (and 127.0.0.3...), the genuine
sender from 127.0.0.1: all of 127/8 is loopback on Linux, and previewd
counts the bodies it reads per client address.  The attackers' one byte a
second is the attack itself; everything else waits with wait_until.
"""

import http.client
import json
import socket
import threading
import time
import uuid

from previewd import pr_payload, sign_github, wait_until

TIMEOUT = 3                 # [server] request_timeout in these tests, seconds
MARGIN = 5                  # how late after it a cut-off may come
ATTACKER = "127.0.0.2"
# The clocks previewd and this test read are rounded differently (whole
# milliseconds there): a cut-off may show up to this much early here.
ROUNDING = 0.05


def slow_config(pg_config, timeout=TIMEOUT, **sections):
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["server"] = {"request_timeout": "%ds" % timeout}
    cfg.update(sections)
    return cfg


class SlowBodies:
    """n connections from source, each sending a complete header block for
    path that announces `length` bytes of body, then one byte of it a
    second from a background thread.  poll() collects what previewd
    answers and notes when each connection ended (previewd closed or reset
    it).  close() stops the thread and closes every socket."""

    def __init__(self, port, n, source=ATTACKER, path="/webhooks/github",
                 headers=None, length=20000):
        self.port, self.n, self.source, self.path = port, n, source, path
        self.length = length
        self.headers = headers if headers is not None else {
            "X-GitHub-Event": "pull_request",
            # Well-formed, so that only the body could show it is wrong.
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
        }
        self.socks = []
        self.opened = []            # time.monotonic() before each connect
        self.answers = []           # bytes previewd sent on each
        self.ended = []             # when each was seen closed, or None
        self._stop = threading.Event()
        self._thread = None

    def _head(self):
        lines = ["POST %s HTTP/1.1" % self.path, "Host: 127.0.0.1:%d" % self.port,
                 "Content-Type: application/json",
                 "X-GitHub-Delivery: slow-%s" % uuid.uuid4(),
                 "Content-Length: %d" % self.length]
        lines += ["%s: %s" % kv for kv in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def open(self):
        for _ in range(self.n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.socks.append(s)
            s.bind((self.source, 0))
            s.settimeout(10)
            self.opened.append(time.monotonic())
            s.connect(("127.0.0.1", self.port))
            s.sendall(self._head())
            s.setblocking(False)
            self.answers.append(b"")
            self.ended.append(None)
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()
        return self

    def _trickle(self):
        while not self._stop.wait(1.0):
            for s in self.socks:
                try:
                    s.send(b" ")
                except OSError:
                    pass            # closed by previewd: that is the point

    def poll(self):
        """Read what arrived; return how many connections have ended."""
        for i, s in enumerate(self.socks):
            while self.ended[i] is None:
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    break
                except OSError:     # reset: closed with our bytes unread
                    data = b""
                if not data:
                    self.ended[i] = time.monotonic()
                else:
                    self.answers[i] += data
        return sum(1 for e in self.ended if e is not None)

    def all_ended(self):
        return self.poll() == self.n

    def statuses(self):
        """The status of each answer (None: closed without one)."""
        return [int(a.split(b" ", 2)[1]) if a.startswith(b"HTTP/1.1 ") else None
                for a in self.answers]

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for s in self.socks:
            s.close()


def timed(d, method, path, limit, body=None, headers=None):
    """One request that must be answered within limit seconds; returns
    (seconds, status, headers, body)."""
    t0 = time.monotonic()
    try:
        status, hdrs, data = d.request(method, path, body=body, headers=headers,
                                       timeout=limit)
    except (socket.timeout, TimeoutError, http.client.HTTPException, OSError) as e:
        raise AssertionError("%s %s: no answer within %gs (%r)" % (method, path, limit, e))
    took = time.monotonic() - t0
    assert took < limit, "%s %s took %.3fs" % (method, path, took)
    return took, status, hdrs, data


def signed_webhook(d, number):
    body = json.dumps(pr_payload("opened", number)).encode()
    return body, {"X-GitHub-Event": "pull_request",
                  "X-GitHub-Delivery": str(uuid.uuid4()),
                  "Content-Type": "application/json",
                  "X-Hub-Signature-256": sign_github(body, d.webhook_secret)}


def test_slow_bodies_do_not_starve_the_server(pg, pg_config, previewd_factory):
    d = previewd_factory(slow_config(pg_config))
    attack = SlowBodies(d.port, 300)
    try:
        attack.open()
        # Every header block is in and the trickle runs: 300 requests want
        # a thread to read their body.
        healthz = [timed(d, "GET", "/healthz", 1.0) for _ in range(5)]
        assert [h[1] for h in healthz] == [200] * 5
        print("healthz under attack: %s s" % ", ".join("%.3f" % h[0] for h in healthz))
        _, status, _, metrics = timed(d, "GET", "/metrics", 1.0)
        assert status == 200 and b"previewd_webhooks_total" in metrics
        body, headers = signed_webhook(d, 1)
        took, status, _, answer = timed(d, "POST", "/webhooks/github", 2.0, body=body,
                                        headers=headers)
        assert status == 202, answer
        print("signed webhook under attack: %.3f s" % took)

        # previewd has closed every slow connection by request_timeout
        # after it began, answering what it still could.
        wait_until(attack.all_ended, timeout=TIMEOUT + MARGIN,
                   what="previewd to close the 300 slow connections")
        longest = max(e - o for e, o in zip(attack.ended, attack.opened))
        print("slow connections: %s; the longest lasted %.2f s"
              % ({s: attack.statuses().count(s) for s in set(attack.statuses())}, longest))
        assert longest <= TIMEOUT + MARGIN
        for status, raw in zip(attack.statuses(), attack.answers):
            assert status in (408, 503, None), raw[:200]
            if status == 503:
                assert b"\r\nRetry-After: " in raw, raw[:300]
        # One address reads at most 16 bodies at once; the rest are
        # refused before any of their body is read.
        assert attack.statuses().count(408) <= 16
        assert attack.statuses().count(503) >= 300 - 16
    finally:
        attack.close()
    status, _, env = d.env_for("acme/shop", 1, wait=60)
    assert status == 200 and json.loads(env)["status"] == "ready", env


def test_a_slow_body_is_cut_off_at_request_timeout(pg, pg_config, previewd_factory):
    d = previewd_factory(slow_config(pg_config))
    attack = SlowBodies(d.port, 1)
    try:
        attack.open()
        wait_until(attack.all_ended, timeout=TIMEOUT + MARGIN + 2,
                   what="previewd to cut the slow body off")
        took = attack.ended[0] - attack.opened[0]
        print("a slow body was cut off after %.2f s (request_timeout %d s)" % (took, TIMEOUT))
        assert TIMEOUT - ROUNDING <= took <= TIMEOUT + MARGIN
        head, _, body = attack.answers[0].partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), attack.answers[0]
        assert b"\r\nConnection: close" in head
        assert json.loads(body)["error"]["code"] == "request_timeout"
    finally:
        attack.close()
    assert "within 3s (request_timeout): 408, connection closed" in d.log()
    # previewd serves on.
    assert timed(d, "GET", "/healthz", 1.0)[1] == 200


def test_refused_from_the_headers_before_the_body_is_read(pg, pg_config, previewd_factory):
    """What the headers alone show wrong is answered at once: the body,
    coming a byte a second, is never waited for (it would take far
    longer than the second allowed here, and request_timeout is 3 s)."""
    d = previewd_factory(slow_config(
        pg_config,
        gitlab={"webhook_token": "gl-hook-token", "signing_token":
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        vercel={"webhook_secret": "v-secret"}))
    stale = str(int(time.time()) - 3600)
    cases = [
        ("/webhooks/gitlab", {"X-Gitlab-Event": "Merge Request Hook",
                              "X-Gitlab-Token": "wrong"}, 401),
        ("/webhooks/gitlab", {"X-Gitlab-Event": "Merge Request Hook"}, 401),
        ("/webhooks/gitlab", {"X-Gitlab-Event": "Merge Request Hook",
                              "webhook-id": "msg_1", "webhook-timestamp": stale,
                              "webhook-signature": "v1,AAAA"}, 401),
        ("/webhooks/github", {"X-GitHub-Event": "pull_request",
                              "X-Hub-Signature-256": "sha256=abc"}, 401),
        ("/webhooks/github", {"X-GitHub-Event": "pull_request"}, 401),
        ("/webhooks/github", {"X-Hub-Signature-256": "sha256=" + "0" * 64}, 400),
        ("/webhooks/vercel", {"x-vercel-signature": "not hex"}, 401),
    ]
    for path, headers, want in cases:
        attack = SlowBodies(d.port, 1, path=path, headers=headers)
        try:
            attack.open()
            # Answered, and closed: the unread body is not waited for.
            wait_until(attack.all_ended, timeout=1.0,
                       what="an answer to %s %s before its body" % (path, headers))
            took = time.monotonic() - attack.opened[0]
            assert attack.statuses()[0] == want, (path, headers, attack.answers[0])
            assert b"\r\nConnection: close" in attack.answers[0]
            print("%s %s: %d after %.3f s" % (path, sorted(headers), want, took))
        finally:
            attack.close()
    assert "webhook gitlab: missing or wrong token or signature" in d.log()


def test_bodies_read_at_once_are_bounded_overall(pg, pg_config, previewd_factory):
    """Many addresses (8 x 16 slow bodies) fill the 64 places for bodies
    being read: the rest, a genuine webhook included, are refused 503 with
    Retry-After at once; /healthz does not notice. When the slow clients
    are gone, the webhook goes through."""
    d = previewd_factory(slow_config(pg_config, timeout=20))
    attacks = []
    try:
        for i in range(8):
            attacks.append(SlowBodies(d.port, 16, source="127.0.0.%d" % (i + 2)).open())
        def refused():
            # A refusal is its 503 and then the connection's end: wait
            # for both, or a 503 read before its FIN counts as open.
            ended = sum(a.poll() for a in attacks)
            return ended >= 64 and sum(a.statuses().count(503) for a in attacks) == 64
        wait_until(refused, timeout=5, what="64 of the 128 slow bodies to be refused")
        assert sum(a.poll() for a in attacks) == 64        # the other 64 are being read
        for a in attacks:
            for status, raw in zip(a.statuses(), a.answers):
                if status is not None:
                    assert status == 503 and b"\r\nRetry-After: 20\r\n" in raw, raw[:300]
        for _ in range(3):
            assert timed(d, "GET", "/healthz", 1.0)[1] == 200
        body, headers = signed_webhook(d, 2)
        _, status, hdrs, answer = timed(d, "POST", "/webhooks/github", 2.0, body=body,
                                        headers=headers)
        assert status == 503 and hdrs["retry-after"] == "20", answer
        assert json.loads(answer)["error"]["code"] == "busy"
    finally:
        for a in attacks:
            a.close()
    # The places free as the slow clients go; the forge's redelivery is
    # accepted.
    def redelivered():
        status, _, _ = d.request("POST", "/webhooks/github", body=body, headers=headers,
                                 timeout=2)
        return status == 202
    wait_until(redelivered, timeout=10, interval=0.2, what="the redelivery to be accepted")


def test_the_loopback_proxy_is_not_held_to_one_address_share(pg, pg_config, previewd_factory):
    """Behind the reverse proxy the README recommends, every client comes
    from 127.0.0.1: 24 bodies in flight from there are all read, where 24
    from another single address get 16 places and 8 refusals."""
    d = previewd_factory(slow_config(pg_config, timeout=3))
    proxy = SlowBodies(d.port, 24, source="127.0.0.1").open()
    other = SlowBodies(d.port, 24, source="127.0.0.3").open()
    try:
        # Each is read until request_timeout cuts it off (408), or is
        # refused before its body is read (503).
        wait_until(lambda: proxy.poll() + other.poll() == 48, timeout=3 + MARGIN,
                   what="previewd to end the 48 slow connections")
        assert sorted(proxy.statuses()) == [408] * 24, proxy.statuses()
        assert sorted(other.statuses()) == [408] * 16 + [503] * 8, other.statuses()
    finally:
        proxy.close()
        other.close()


def test_a_slow_body_over_https_is_cut_off_too(tmp_path, pg_config, previewd_factory):
    """With TLS the deadline holds the same: the cut-off is on the socket
    under the TLS session, and the 408 still goes out over it."""
    from test_tls import make_cert
    import ssl

    cert, key = make_cert(tmp_path)
    d = previewd_factory(slow_config(pg_config, server={
        "request_timeout": "%ds" % TIMEOUT, "tls_cert": str(cert), "tls_key": str(key)}))
    ctx = ssl.create_default_context(cafile=str(cert))
    raw = socket.socket()
    raw.bind((ATTACKER, 0))
    raw.settimeout(10)
    t0 = time.monotonic()
    raw.connect(("127.0.0.1", d.port))
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        s.sendall(SlowBodies(d.port, 1)._head())
        s.settimeout(1.0)
        answer, ended = b"", None
        # One byte a second until previewd answers and closes (bounded).
        while ended is None and time.monotonic() - t0 < TIMEOUT + MARGIN + 2:
            try:
                s.send(b" ")
            except OSError:
                pass
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                data = b""
            if data:
                answer += data
            else:
                ended = time.monotonic()
        assert ended is not None, "previewd did not cut the slow body off"
        print("a slow body over HTTPS was cut off after %.2f s" % (ended - t0))
        assert TIMEOUT - ROUNDING <= ended - t0 <= TIMEOUT + MARGIN
        assert answer.startswith(b"HTTP/1.1 408 "), answer
    finally:
        s.close()
