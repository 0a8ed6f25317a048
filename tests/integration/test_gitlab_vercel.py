"""GitLab merge requests and Vercel preview deployments, with payloads in
the forges' documented formats, against the local API stand-in.

GitLab: open -> ready -> note posted -> new commits edit it -> merge drops
the database; both of GitLab's authentication schemes, and what they
refuse. Vercel: a preview deployment of a GitHub pull request shares that
pull request's environment and gets DATABASE_URL for its branch.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest

from previewd import pr_payload, wait_until

PROJECT = 4711
PATH = "grp/sub/shop"
GL_TOKEN = "glpat-notes-token"
HOOK_TOKEN = "gitlab-hook-token"
SIGNING = "whsec_" + base64.b64encode(b"k" * 32).decode()
VERCEL_SECRET = "vercel-hook-secret"
VERCEL_TOKEN = "vercel-api-token"


def mr_hook(action, iid, sha="da1560886d4f094c3e6c9ef40349f7d38b5d27d7", oldrev=None,
            visibility=20, source=PROJECT, updated_at=None):
    """A GitLab "Merge Request Hook" body, shaped as GitLab documents it."""
    now = updated_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    attrs = {
        "id": 90000 + iid, "iid": iid, "target_branch": "main",
        "source_branch": "feature-%d" % iid, "source_project_id": source,
        "target_project_id": PROJECT, "author_id": 51, "title": "MR %d" % iid,
        "created_at": "2026-11-01 10:00:00 UTC", "updated_at": now,
        "state": {"open": "opened", "reopen": "opened", "update": "opened",
                  "close": "closed", "merge": "merged"}.get(action, "opened"),
        "merge_status": "unchecked", "url": "https://gitlab.example.com/%s/-/merge_requests/%d"
        % (PATH, iid),
        "last_commit": {"id": sha, "message": "change", "timestamp": now,
                        "author": {"name": "Dev", "email": "dev@example.com"}},
        "action": action,
    }
    if oldrev is not None:
        attrs["oldrev"] = oldrev
    return {
        "object_kind": "merge_request", "event_type": "merge_request",
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "project": {"id": PROJECT, "name": "shop", "namespace": "grp/sub",
                    "path_with_namespace": PATH, "default_branch": "main",
                    "web_url": "https://gitlab.example.com/" + PATH,
                    "visibility_level": visibility},
        "repository": {"name": "shop", "url": "git@gitlab.example.com:%s.git" % PATH},
        "object_attributes": attrs,
        "labels": [], "changes": {},
    }


def gitlab_post(d, payload, token=HOOK_TOKEN, signing=None, ts=None, key=None,
                event="Merge Request Hook", headers=None, skew=0):
    """skew: seconds added to the signature's timestamp, taken when the
    request is made (a timestamp taken earlier drifts on a slow run)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = {"Content-Type": "application/json", "X-Gitlab-Event": event,
         "X-Gitlab-Webhook-UUID": str(uuid.uuid4()), "Idempotency-Key": str(uuid.uuid4())}
    if token is not None:
        h["X-Gitlab-Token"] = token
    if signing is not None:
        mid = "msg_" + uuid.uuid4().hex
        stamp = str(int(time.time()) + skew if ts is None else ts)
        secret = base64.b64decode(signing[len("whsec_"):])
        mac = hmac.new(key or secret, b"%s.%s.%s" % (mid.encode(), stamp.encode(), body),
                       hashlib.sha256).digest()
        h.update({"webhook-id": mid, "webhook-timestamp": stamp,
                  "webhook-signature": "v1," + base64.b64encode(mac).decode()})
    h.update(headers or {})
    return d.request("POST", "/webhooks/gitlab", body=body, headers=h)


def gitlab_daemon(pg_config, forge, previewd_factory, sections=None, **gitlab):
    forge.gitlab_token = GL_TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    del cfg["repo:acme/shop"]
    cfg["repo:grp/*"] = {}
    cfg["gitlab"] = dict({"api_url": forge.gitlab_url, "token": GL_TOKEN,
                          "webhook_token": HOOK_TOKEN}, **gitlab)
    cfg.update(sections or {})
    return previewd_factory(cfg)


def gl_env(d, iid, wait=None):
    path = "/api/v1/repos/%s/pulls/%d/environment?provider=gitlab" % (PATH, iid)
    if wait:
        path += "&wait=%d" % wait
    status, body = d.get_json(path, token=d.ci_token)
    assert status == 200, body
    return body


def notes_for(forge, iid):
    return [n for n in forge.notes.values() if n["iid"] == iid]


def test_gitlab_merge_request_lifecycle(pg, pg_config, forge, previewd_factory):
    d = gitlab_daemon(pg_config, forge, previewd_factory)
    status, _, body = gitlab_post(d, mr_hook("open", 1, sha="a" * 40))
    assert status == 202, body
    env = gl_env(d, 1, wait=60)
    assert env["status"] == "ready" and env["provider"] == "gitlab"
    assert env["repo"] == PATH and env["head_sha"] == "a" * 40
    conn = __import__("psycopg2").connect(env["database_url"])
    conn.close()
    wait_until(lambda: len(notes_for(forge, 1)) == 1 and "is ready" in notes_for(forge, 1)[0]["body"],
               what="a note on the merge request")
    note = notes_for(forge, 1)[0]
    post = forge.requests_to("POST", r"/projects/%d/merge_requests/1/notes$" % PROJECT)[-1]
    assert post.headers["private-token"] == GL_TOKEN
    assert "provider=gitlab" in note["body"]          # the curl command
    # Public project: no password in the note.
    assert env["database_url"].split(":")[2].split("@")[0] not in note["body"]

    # An update without new commits (a title edit) changes nothing.
    status, _, _ = gitlab_post(d, mr_hook("update", 1, sha="a" * 40))
    assert status == 204
    # New commits: the same note is edited.
    status, _, _ = gitlab_post(d, mr_hook("update", 1, sha="b" * 40, oldrev="a" * 40))
    assert status == 202
    wait_until(lambda: "`bbbbbbbbbbbb`" in notes_for(forge, 1)[0]["body"], what="edit")
    assert len(notes_for(forge, 1)) == 1

    status, _, _ = gitlab_post(d, mr_hook("merge", 1, sha="b" * 40))
    assert status == 202
    wait_until(lambda: gl_env(d, 1)["status"] == "deleted", what="the merge to drop it")
    assert env["database"] not in pg.databases()
    assert env["user"] not in pg.roles()
    wait_until(lambda: "was deleted" in notes_for(forge, 1)[0]["body"], what="note update")


def test_gitlab_migrations_read_through_the_repository_api(pg, pg_config, forge,
                                                          previewd_factory):
    forge.set_gitlab_tree(PROJECT, "c" * 40, {
        "db/migrations/001_init.sql": "CREATE TABLE items (id integer PRIMARY KEY);",
        "db/migrations/002_more.sql": "INSERT INTO items VALUES (1), (2);",
        "db/seed.sql": "INSERT INTO items VALUES (3);",
    })
    forge.gitlab_token = GL_TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    del cfg["repo:acme/shop"]
    cfg["repo:grp/sub/shop"] = {"migrations": "repo:db/migrations", "seed": "repo:db/seed.sql"}
    cfg["gitlab"] = {"api_url": forge.gitlab_url, "token": GL_TOKEN, "webhook_token": HOOK_TOKEN}
    d = previewd_factory(cfg)
    assert gitlab_post(d, mr_hook("open", 2, sha="c" * 40))[0] == 202
    env = gl_env(d, 2, wait=60)
    assert env["status"] == "ready", env
    conn = __import__("psycopg2").connect(env["database_url"])
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM items")
    assert cur.fetchone()[0] == 3
    conn.close()
    # The folder in one recursive tree listing at the commit, its files by
    # their blob ids, the seed by its path at the commit.
    listing = forge.requests_to("GET", r"/repository/tree$")
    assert [(r.query["ref"], r.query["recursive"], r.query["path"]) for r in listing] == \
        [("c" * 40, "true", "db/migrations")]
    blobs = forge.requests_to("GET", r"/repository/blobs/[0-9a-f]{40}/raw$")
    seed = forge.requests_to("GET", r"/repository/files/db%2Fseed\.sql/raw$")
    assert blobs and seed and seed[0].query["ref"] == "c" * 40
    assert all(r.headers["private-token"] == GL_TOKEN for r in listing + blobs + seed)


def test_gitlab_authentication(pg, pg_config, forge, previewd_factory):
    d = gitlab_daemon(pg_config, forge, previewd_factory, signing_token=SIGNING)
    # Token and signature each work on their own.
    assert gitlab_post(d, mr_hook("open", 3))[0] == 202
    assert gitlab_post(d, mr_hook("open", 4), token=None, signing=SIGNING)[0] == 202
    # Refused, with nothing recorded.
    refused = [
        dict(token="wrong"),
        dict(token=""),
        dict(token=None),                                           # neither header
        dict(token=None, signing=SIGNING, key=b"x" * 32),            # wrong key
        dict(token=None, signing=SIGNING, skew=-330),   # stale (the limit is 300 s)
        dict(token=None, signing=SIGNING, skew=+330),               # future
        # Both headers: the signature the request claims must hold.
        dict(token=HOOK_TOKEN, signing=SIGNING, key=b"x" * 32),
    ]
    for i, kw in enumerate(refused):
        status, _, body = gitlab_post(d, mr_hook("open", 10 + i), **kw)
        assert status == 401, (kw, body)
        assert d.get_json("/api/v1/repos/%s/pulls/%d/environment?provider=gitlab"
                          % (PATH, 10 + i), token=d.ci_token)[0] == 404


def test_gitlab_only_signing_configured_refuses_tokens(pg, pg_config, forge, previewd_factory):
    d = gitlab_daemon(pg_config, forge, previewd_factory, webhook_token=None,
                      signing_token=SIGNING)
    assert gitlab_post(d, mr_hook("open", 20))[0] == 401
    assert gitlab_post(d, mr_hook("open", 20), token=None, signing=SIGNING)[0] == 202


def test_gitlab_deduplicates_on_idempotency_key_and_ignores_other_events(
        pg, pg_config, forge, previewd_factory):
    d = gitlab_daemon(pg_config, forge, previewd_factory)
    key = {"Idempotency-Key": "retry-me"}
    assert gitlab_post(d, mr_hook("open", 5), headers=key)[0] == 202
    status, _, body = gitlab_post(d, mr_hook("open", 5), headers=key)
    assert status == 200 and b"duplicate" in body
    # (Push hooks are read now: tests/integration/test_push_events.py.)
    assert gitlab_post(d, {"object_kind": "note"}, event="Note Hook")[0] == 204
    assert gitlab_post(d, mr_hook("approved", 5))[0] == 204
    assert gitlab_post(d, b"not json")[0] == 400
    # A merge request from a fork is not served by default.
    assert gitlab_post(d, mr_hook("open", 6, source=999))[0] == 204


def test_gitlab_a_close_hook_that_never_arrives(pg, pg_config, forge, previewd_factory):
    """Reconciliation, as for GitHub: a merge request missing from GitLab's
    list of opened ones (its close hook lost) is deleted; one still open
    is kept."""
    forge.set_open_merge_requests(PROJECT, [40, 41])
    d = gitlab_daemon(pg_config, forge, previewd_factory,
                      sections={"reaper": {"interval": "1s", "orphan_grace": "1s"}})
    for iid in (40, 41):
        assert gitlab_post(d, mr_hook("open", iid))[0] == 202
    gone, kept = gl_env(d, 40, wait=60), gl_env(d, 41, wait=60)
    assert gone["status"] == kept["status"] == "ready"
    wait_until(lambda: len(notes_for(forge, 40)) == 1, what="a note on merge request 40")
    # While both are open, a reconciliation changes nothing.
    seen = len(forge.requests_to("GET", r"/merge_requests$"))
    forge.wait_for("GET", r"/projects/%d/merge_requests$" % PROJECT, count=seen + 2)
    assert gl_env(d, 40)["status"] == gl_env(d, 41)["status"] == "ready"
    # Merge request 40 is closed on GitLab; its hook is lost.
    forge.set_open_merge_requests(PROJECT, [41])
    wait_until(lambda: gl_env(d, 40)["status"] == "deleted", timeout=60,
               what="merge request 40's environment to be deleted")
    assert gl_env(d, 40)["error"] == ("closed on GitLab (no close webhook arrived; found by "
                                      "the reconciliation)")
    assert gone["database"] not in pg.databases()
    assert gone["user"] not in pg.roles()
    wait_until(lambda: "was deleted" in notes_for(forge, 40)[0]["body"],
               what="the note to say so")
    assert gl_env(d, 41)["status"] == "ready"
    assert kept["database"] in pg.databases()
    # What it asked GitLab: the project's opened merge requests, with the token.
    lists = forge.requests_to("GET", r"/merge_requests$")
    assert {r.path for r in lists} == {"/api/v4/projects/%d/merge_requests" % PROJECT}
    assert all(r.query["state"] == "opened" and r.headers["private-token"] == GL_TOKEN
               for r in lists)


# ---- Vercel ----------------------------------------------------------------

def deployment_event(number, sha="e" * 40, ref="feature-x", target=None, kind="deployment.created",
                     team="team_abc"):
    """Vercel's webhook envelope {id, type, createdAt, payload}."""
    payload = {
        "deployment": {"id": "dpl_" + uuid.uuid4().hex[:20], "url": "shop-git-x.vercel.app",
                       "name": "shop",
                       "meta": {"githubCommitOrg": "acme", "githubCommitRepo": "shop",
                                "githubCommitRef": ref, "githubCommitSha": sha,
                                "githubPrId": str(number), "githubDeployment": "1"}},
        "project": {"id": "prj_shop123"},
        "links": {"deployment": "https://vercel.com/acme/shop/x"},
        "name": "shop", "plan": "pro", "regions": ["iad1"],
        "url": "shop-git-x.vercel.app", "target": target,
    }
    if team is not None:
        payload["team"] = {"id": team}
    return {"id": "evt_" + uuid.uuid4().hex, "type": kind,
            "createdAt": int(time.time() * 1000), "payload": payload}


def vercel_post(d, event, secret=VERCEL_SECRET):
    body = json.dumps(event).encode()
    sig = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return d.request("POST", "/webhooks/vercel", body=body,
                     headers={"Content-Type": "application/json", "x-vercel-signature": sig})


def vercel_daemon(pg_config, forge, previewd_factory):
    forge.vercel_token = VERCEL_TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["vercel"] = {"webhook_secret": VERCEL_SECRET, "token": VERCEL_TOKEN,
                     "api_url": forge.vercel_url}
    return previewd_factory(cfg)


def test_vercel_preview_gets_database_url_for_its_branch(pg, pg_config, forge, previewd_factory):
    d = vercel_daemon(pg_config, forge, previewd_factory)
    status, _, body = vercel_post(d, deployment_event(30))
    assert status == 202, body
    status, env = d.get_json("/api/v1/repos/acme/shop/pulls/30/environment?wait=60",
                             token=d.ci_token)
    assert env["status"] == "ready" and env["provider"] == "github"
    wait_until(lambda: forge.vercel_env, what="the Vercel variable")
    sent = forge.vercel_env[0]
    assert sent["project"] == "prj_shop123"
    assert sent["team_id"] == "team_abc" and sent["upsert"]
    assert sent["body"] == {"key": "DATABASE_URL", "value": env["database_url"],
                            "type": "encrypted", "target": ["preview"],
                            "gitBranch": "feature-x"}
    post = forge.requests_to("POST", r"^/v10/projects/prj_shop123/env$")[0]
    assert post.headers["authorization"] == "Bearer " + VERCEL_TOKEN
    # The GitHub close drops it.
    d.github_webhook("pull_request", pr_payload("closed", 30))
    wait_until(lambda: d.get_json("/api/v1/repos/acme/shop/pulls/30/environment",
                                  token=d.ci_token)[1]["status"] == "deleted", what="close")
    assert env["database"] not in pg.databases()


def test_vercel_and_github_events_share_one_environment(pg, pg_config, forge, previewd_factory):
    d = vercel_daemon(pg_config, forge, previewd_factory)
    sha = "f" * 40
    assert d.github_webhook("pull_request", pr_payload("opened", 31, sha=sha))[0] == 202
    status, env = d.get_json("/api/v1/repos/acme/shop/pulls/31/environment?wait=60",
                             token=d.ci_token)
    assert vercel_post(d, deployment_event(31, sha=sha))[0] == 202
    wait_until(lambda: forge.vercel_env, what="the Vercel variable")
    assert forge.vercel_env[0]["body"]["value"] == env["database_url"]
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert [e["id"] for e in listing["data"]] == [env["id"]]
    assert len([db for db in pg.databases("pvd_") if not db.startswith("pvd_pool_")]) == 1


def test_vercel_refuses_and_ignores(pg, pg_config, forge, previewd_factory):
    d = vercel_daemon(pg_config, forge, previewd_factory)
    assert vercel_post(d, deployment_event(32), secret="wrong")[0] == 401
    status, _, _ = d.request("POST", "/webhooks/vercel", body=b"{}",
                             headers={"Content-Type": "application/json"})
    assert status == 401
    assert vercel_post(d, deployment_event(32, target="production"))[0] == 204
    assert vercel_post(d, deployment_event(32, kind="deployment.succeeded"))[0] == 204
    no_pr = deployment_event(32)
    del no_pr["payload"]["deployment"]["meta"]["githubPrId"]
    assert vercel_post(d, no_pr)[0] == 204
    assert d.get_json("/api/v1/repos/acme/shop/pulls/32/environment",
                      token=d.ci_token)[0] == 404
    assert forge.vercel_env == []
