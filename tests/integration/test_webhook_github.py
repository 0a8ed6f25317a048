"""POST /webhooks/github: what GitHub (or an attacker) sends, and what comes back.

Every refused or ignored delivery must leave nothing behind: no
environment, no database, no job.
"""

import http.client
import json
import sqlite3
from pathlib import Path

from previewd import pr_payload, sign_github

REPO = "acme/shop"


def nothing_created(d, pg):
    state = Path(d.config["server"]["state_path"])
    conn = sqlite3.connect(str(state))
    try:
        envs = conn.execute("SELECT COUNT(*) FROM environments").fetchone()[0]
        jobs = conn.execute("SELECT COUNT(*) FROM jobs WHERE kind = 'env'").fetchone()[0]
        deliveries = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
    finally:
        conn.close()
    others = [db for db in pg.databases("pvd_") if not db.startswith("pvd_pool_")]
    roles = [r for r in pg.roles("pvd_") if not r.startswith("pvd_pool_")]
    return envs == 0 and jobs == 0 and deliveries == 0 and others == [] and roles == []


def test_signature_is_required_and_checked(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    payload = pr_payload("opened", 1)
    body = json.dumps(payload).encode()
    for sig in (False, "", "sha256=", "sha256=" + "0" * 64,
                sign_github(body, "another secret"),
                sign_github(body, d.webhook_secret).upper().replace("SHA256=", "sha256="),
                sign_github(body, d.webhook_secret).replace("sha256=", "sha1="),
                sign_github(body, d.webhook_secret)[:-1]):
        status, _, resp = d.github_webhook("pull_request", body, signature=sig)
        assert status == 401, (sig, resp)
        assert json.loads(resp)["error"]["code"] == "bad_signature"
    # A signature over other bytes than those sent.
    status, _, _ = d.github_webhook("pull_request", body + b" ",
                                    signature=sign_github(body, d.webhook_secret))
    assert status == 401
    assert nothing_created(d, pg)
    assert "missing or wrong X-Hub-Signature-256" in d.log()


def test_authentic_but_not_json_is_400(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    for body in (b"not json", b'{"action": "opened"', b"", b'{"a":1} trailing',
                 b'{"action":"opened","number":01}'):
        status, _, resp = d.github_webhook("pull_request", body)
        assert status == 400, body
    # Valid JSON, but not a pull_request payload previewd can act on.
    for payload in ({"action": "opened"}, {"action": "opened", "number": 3},
                    {"action": "opened", "number": -1, "repository": {"full_name": REPO}}):
        status, _, _ = d.github_webhook("pull_request", payload)
        assert status == 400, payload
    assert nothing_created(d, pg)


def test_oversized_body_is_413_before_reading(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    # Announce 25 MiB + 1 and send nothing: previewd must answer from the
    # header alone, without waiting for (or buffering) the body.
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    try:
        conn.putrequest("POST", "/webhooks/github")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("X-GitHub-Event", "pull_request")
        conn.putheader("X-GitHub-Delivery", "big-1")
        conn.putheader("X-Hub-Signature-256", "sha256=" + "0" * 64)
        conn.putheader("Content-Length", str(25 * 1024 * 1024 + 1))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413
        assert json.loads(resp.read())["error"]["code"] == "too_large"
    finally:
        conn.close()
    assert nothing_created(d, pg)
    # previewd is still serving.
    assert d.request("GET", "/healthz")[0] == 200


def test_ping_is_200_and_other_events_or_actions_are_204(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    status, _, body = d.github_webhook("ping", {"zen": "Keep it logically awesome.",
                                                "hook_id": 1})
    assert status == 200
    # (push is read now, for prewarmed repositories: test_push_events.py.)
    for event, payload in (("create", {"ref": "main", "ref_type": "branch"}),
                           ("issues", {"action": "opened"}),
                           ("pull_request", pr_payload("labeled", 2)),
                           ("pull_request", pr_payload("edited", 2)),
                           ("pull_request", pr_payload("review_requested", 2))):
        status, _, body = d.github_webhook(event, payload)
        assert status == 204 and body == b"", (event, payload.get("action"))
    assert nothing_created(d, pg)


def test_unconfigured_repository_and_forks_are_acknowledged_and_ignored(
        pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    status, _, _ = d.github_webhook("pull_request", pr_payload("opened", 3, repo="someone/else"))
    assert status == 204
    status, _, _ = d.github_webhook("pull_request", pr_payload("opened", 4, fork=True))
    assert status == 204
    assert nothing_created(d, pg)
    assert "no [repo:someone/else] section" in d.log()
    assert "head is a fork" in d.log()


def test_forks_allow_serves_fork_pull_requests(pg, pg_config, previewd_factory):
    cfg = dict(pg_config)
    cfg["repo:acme/*"] = {"forks": "allow"}
    del cfg["repo:acme/shop"]
    d = previewd_factory(cfg)
    status, _, _ = d.github_webhook("pull_request", pr_payload("opened", 5, fork=True))
    assert status == 202
    status, env = d.get_json("/api/v1/repos/%s/pulls/5/environment?wait=60" % REPO,
                             token=d.ci_token)
    assert env["status"] == "ready"


def test_out_of_order_close_before_open_leaves_nothing(pg, pg_config, previewd_factory):
    """GitHub does not promise order: the close (newer) may arrive first."""
    d = previewd_factory(pg_config)
    opened = pr_payload("opened", 6)
    closed = pr_payload("closed", 6)          # later updated_at than opened
    assert d.github_webhook("pull_request", closed)[0] == 202
    status, _, body = d.github_webhook("pull_request", opened)
    assert status == 202 and b"stale" in body
    status, env = d.get_json("/api/v1/repos/%s/pulls/6/environment" % REPO, token=d.ci_token)
    assert env["status"] == "deleted"
    others = [db for db in pg.databases("pvd_") if not db.startswith("pvd_pool_")]
    assert others == []

