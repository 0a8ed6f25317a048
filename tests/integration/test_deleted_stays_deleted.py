"""A deleted environment stays deleted.

A webhook's signature covers its body and nothing else: whoever captured
a signed `opened` delivery can send it again under a new delivery id,
and it passes the signature check and the deduplication. After an admin
deleted the environment (DELETE /api/v1/environments/{id}) or its TTL
expired it, such a replay must not bring it back: its pull request
`updated_at` is not newer than the deletion, so it is answered
202 {"status": "ignored", "reason": ...} and creates nothing (no
environment, no job, no database or role). A genuinely newer event (a
reopen, a new push) brings the environment back as before.
"""

import datetime
import json
import sqlite3
import uuid

from previewd import pr_payload, wait_until
from test_gitlab_vercel import GL_TOKEN, HOOK_TOKEN, PATH, gitlab_post, mr_hook

REPO = "acme/shop"


def env_json(d, number, wait=None, provider=None, repo=REPO):
    status, _, body = d.env_for(repo, number, wait=wait, provider=provider)
    assert status == 200, body
    return json.loads(body)


def state(d, sql, *args):
    conn = sqlite3.connect(d.config["server"]["state_path"])
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def env_jobs(d, env_id):
    return state(d, "SELECT kind FROM jobs WHERE target = ? AND kind = 'env'", env_id)


def server_has(pg, env):
    return env["database"] in pg.databases() or env["user"] in pg.roles()


def send(d, body, event="pull_request"):
    status, _, resp = d.github_webhook(event, body, delivery=str(uuid.uuid4()))
    return status, json.loads(resp) if resp else None


def deleted_then_replayed(d, pg, number, body, env, how):
    """env was deleted (how: "api" or "ttl"): replay body, check nothing
    comes of it."""
    gone = wait_until(lambda: env_json(d, number)["status"] == "deleted" and
                      not server_has(pg, env) and not env_jobs(d, env["id"]) and
                      env_json(d, number), timeout=60,
                      what="the environment to be deleted and its database dropped")
    assert ("expired" if how == "ttl" else "deleted through the API") in gone["error"]

    status, answer = send(d, body)
    assert status == 202, answer
    assert answer["status"] == "ignored", answer
    assert answer["environment"] == env["id"]
    assert "deleted" in answer["reason"] and "ignored" in answer["reason"], answer
    assert ("expired" if how == "ttl" else "deleted through the API") in answer["reason"]

    # Nothing created: the row stays deleted, no job, nothing on the server.
    now = env_json(d, number)
    assert now["status"] == "deleted" and now["id"] == env["id"], now
    assert env_jobs(d, env["id"]) == []
    assert not server_has(pg, env)
    assert state(d, "SELECT want_present FROM environments WHERE id = ?",
                 env["id"]) == [(0,)]
    assert state(d, "SELECT COUNT(*) FROM environments") == [(1,)]
    assert state(d, "SELECT result FROM deliveries ORDER BY received_at DESC, rowid DESC "
                 "LIMIT 1") == [("ignored",)]
    assert "not newer than the deletion" in d.log()


def test_replayed_open_after_admin_delete_is_ignored(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    body = json.dumps(pr_payload("opened", 61)).encode()
    status, answer = send(d, body)
    assert status == 202 and answer["status"] == "accepted", answer
    env = env_json(d, 61, wait=60)
    assert env["status"] == "ready", env
    assert env["database"] in pg.databases()

    status, _, resp = d.request("DELETE", "/api/v1/environments/%s" % env["id"],
                                token=d.admin_token)
    assert status == 202, resp
    deleted_then_replayed(d, pg, 61, body, env, "api")

    # A reopen (a newer updated_at) brings it back, with a database.
    status, answer = send(d, json.dumps(pr_payload("reopened", 61)).encode())
    assert status == 202 and answer["status"] == "accepted", answer
    back = env_json(d, 61, wait=60)
    assert back["status"] == "ready" and back["id"] == env["id"], back
    assert back["database"] in pg.databases()


def test_replayed_open_after_ttl_expiry_is_ignored(pg, pg_config, previewd_factory):
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["repo:acme/shop"]["ttl"] = "2s"
    cfg["reaper"] = {"interval": "1s"}
    d = previewd_factory(cfg)
    body = json.dumps(pr_payload("opened", 62)).encode()
    status, answer = send(d, body)
    assert status == 202, answer
    env = env_json(d, 62, wait=60)
    assert env["status"] == "ready", env
    deleted_then_replayed(d, pg, 62, body, env, "ttl")

    # A new push brings it back: wanted again, and claimed again (with a
    # 2 s TTL it may well expire again right after).
    status, answer = send(d, json.dumps(pr_payload("synchronize", 62, sha="9" * 40)).encode())
    assert status == 202 and answer["status"] == "accepted", answer
    assert state(d, "SELECT want_present, deleted_at FROM environments WHERE id = ?",
                 env["id"]) == [(1, 0)]
    wait_until(lambda: d.log().count("database %s claimed" % env["database"]) == 2,
               timeout=60, what="the environment to be claimed again")


def test_gitlab_replayed_open_after_admin_delete_is_ignored(pg, pg_config, forge,
                                                            previewd_factory):
    forge.gitlab_token = GL_TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    del cfg["repo:acme/shop"]
    cfg["repo:grp/*"] = {}
    cfg["gitlab"] = {"api_url": forge.gitlab_url, "token": GL_TOKEN,
                     "webhook_token": HOOK_TOKEN}
    d = previewd_factory(cfg)
    body = json.dumps(mr_hook("open", 63, sha="a" * 40)).encode()
    status, _, resp = gitlab_post(d, body)
    assert status == 202, resp
    env = env_json(d, 63, wait=60, provider="gitlab", repo=PATH)
    assert env["status"] == "ready", env
    status, _, resp = d.request("DELETE", "/api/v1/environments/%s" % env["id"],
                                token=d.admin_token)
    assert status == 202, resp
    wait_until(lambda: env_json(d, 63, provider="gitlab", repo=PATH)["status"] == "deleted"
               and not server_has(pg, env), timeout=60, what="the deletion")

    status, _, resp = gitlab_post(d, body)          # a new X-Gitlab-Webhook-UUID
    answer = json.loads(resp)
    assert status == 202 and answer["status"] == "ignored", answer
    assert "deleted through the API" in answer["reason"]
    assert env_jobs(d, env["id"]) == []
    assert env_json(d, 63, provider="gitlab", repo=PATH)["status"] == "deleted"
    assert not server_has(pg, env)

    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30))
    status, _, resp = gitlab_post(d, mr_hook("reopen", 63, sha="b" * 40,
                                             updated_at=later.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert status == 202 and json.loads(resp)["status"] == "accepted", resp
    back = env_json(d, 63, wait=60, provider="gitlab", repo=PATH)
    assert back["status"] == "ready" and back["head_sha"] == "b" * 40, back
