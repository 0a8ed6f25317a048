"""Push webhooks and the start-up lookup: each prewarmed repository's
default branch and its head (issue 15).

What an operator can check, and what these tests read: previewd's answer
to the delivery, its log lines ("base of acme/shop: main at 0123456789ab"
when a head is recorded, "base of acme/shop: building at 0123456789ab"
when the "base" job for it ran), the metrics, and the
state file itself, opened read-only (the table base_heads and the
deliveries).

GitHub: verified like pull_request deliveries (X-Hub-Signature-256),
deduplicated on X-GitHub-Delivery, ordered by repository.pushed_at.
GitLab: X-Gitlab-Token, deduplicated on Idempotency-Key, in arrival
order. At start (and on reload) previewd asks the forge stand-in for the
default branch of every [repo:...] section with prewarm = base that names
one repository, retrying while the forge answers 502.
"""

import base64
import json
import re
import signal
import sqlite3
import time
import uuid

from previewd import sign_github, wait_until

REPO = "acme/shop"
SHA0 = "0" * 39 + "a"                   # the head the forge knows at start
SHA1 = "1111111111111111111111111111111111111111"
SHA2 = "2222222222222222222222222222222222222222"
SHA3 = "3333333333333333333333333333333333333333"
ZERO = "0" * 40

GL_PROJECT = 4711
GL_PATH = "grp/sub/shop"
GL_TOKEN = "glpat-push-token"
HOOK_TOKEN = "gitlab-push-hook-token"


# ---- payloads, shaped as the forges document them -------------------------

def push_payload(ref="refs/heads/main", after=SHA1, repo=REPO, pushed_at=None,
                 default_branch="main", deleted=False, installation_id=None):
    """A GitHub `push` payload: ref, before/after, created/deleted/forced,
    commits, head_commit, repository (with pushed_at as Unix time, as push
    events write it), pusher, sender."""
    owner, name = repo.split("/", 1)
    now = int(time.time())
    commit = {"id": after, "tree_id": "f" * 40, "distinct": True,
              "message": "change", "timestamp": "2026-11-01T10:00:00Z",
              "url": "https://github.com/%s/commit/%s" % (repo, after),
              "author": {"name": "Dev", "email": "dev@example.com"},
              "committer": {"name": "Dev", "email": "dev@example.com"},
              "added": [], "removed": [], "modified": ["README.md"]}
    payload = {
        "ref": ref, "before": "9" * 40, "after": after,
        "created": False, "deleted": deleted, "forced": False, "base_ref": None,
        "compare": "https://github.com/%s/compare/999999999999...%s" % (repo, after[:12]),
        "commits": [] if deleted else [commit],
        "head_commit": None if deleted else commit,
        "repository": {
            "id": 1296269, "name": name, "full_name": repo, "private": False,
            "owner": {"name": owner, "login": owner},
            "html_url": "https://github.com/" + repo,
            "created_at": now - 86400, "updated_at": "2026-11-01T10:00:00Z",
            "pushed_at": now if pushed_at is None else pushed_at,
            "default_branch": default_branch, "master_branch": default_branch,
        },
        "pusher": {"name": "dev", "email": "dev@example.com"},
        "sender": {"login": "dev", "id": 1, "type": "User"},
    }
    if installation_id is not None:
        payload["installation"] = {"id": installation_id}
    return payload


def push_hook(ref="refs/heads/trunk", after=SHA1, path=GL_PATH,
              project_id=GL_PROJECT, default_branch="trunk"):
    """A GitLab "Push Hook" body."""
    deleted = after == ZERO
    commit = {"id": after, "message": "change", "title": "change",
              "timestamp": "2026-11-01T10:00:00+00:00",
              "url": "https://gitlab.example.com/%s/-/commit/%s" % (path, after),
              "author": {"name": "Dev", "email": "dev@example.com"},
              "added": [], "modified": ["README.md"], "removed": []}
    return {
        "object_kind": "push", "event_name": "push",
        "before": "9" * 40, "after": after, "ref": ref, "ref_protected": True,
        "checkout_sha": None if deleted else after,
        "user_id": 4, "user_name": "Dev", "user_username": "dev",
        "project_id": project_id,
        "project": {"id": project_id, "name": path.rsplit("/", 1)[-1],
                    "path_with_namespace": path, "default_branch": default_branch,
                    "web_url": "https://gitlab.example.com/" + path,
                    "visibility_level": 0},
        "commits": [] if deleted else [commit],
        "total_commits_count": 0 if deleted else 1,
        "repository": {"name": path.rsplit("/", 1)[-1],
                       "homepage": "https://gitlab.example.com/" + path},
    }


def gitlab_post(d, payload, token=HOOK_TOKEN, key=None, event="Push Hook"):
    body = json.dumps(payload).encode()
    h = {"Content-Type": "application/json", "X-Gitlab-Event": event,
         "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
         "Idempotency-Key": key or str(uuid.uuid4())}
    if token is not None:
        h["X-Gitlab-Token"] = token
    return d.request("POST", "/webhooks/gitlab", body=body, headers=h)


# ---- what an operator can look at -------------------------------------------

def state(d, sql, *args):
    """Rows of a read-only query on the daemon's state file."""
    path = d.config["server"]["state_path"]
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def head(d, repo=REPO, provider="github"):
    """(branch, sha, api_target) recorded for repo, None when none."""
    rows = state(d, "SELECT branch, sha, api_target FROM base_heads "
                    "WHERE provider = ? AND repo = ?", provider, repo)
    return rows[0] if rows else None


def delivery(d, delivery_id):
    rows = state(d, "SELECT event, action, result FROM deliveries WHERE id = ?",
                 delivery_id)
    return rows[0] if rows else None


def webhook_count(d, provider, event, outcome):
    status, _, body = d.request("GET", "/metrics")
    assert status == 200
    m = re.search(r'^previewd_webhooks_total\{provider="%s",event="%s",outcome="%s"\} '
                  r'(\d+)$' % (provider, event, outcome), body.decode(), re.M)
    return int(m.group(1)) if m else 0


def counted(d, provider, event, outcome, n):
    """previewd_webhooks_total reaches n for those labels: a delivery is
    counted once its answer has been written, so a client may read the
    metrics a moment before the count moves."""
    seen = []

    def reached():
        seen.append(webhook_count(d, provider, event, outcome))
        return seen[-1] == n
    try:
        wait_until(reached, timeout=10, what="%s %s %s == %d" % (provider, event,
                                                                outcome, n))
    except AssertionError:
        raise AssertionError("previewd_webhooks_total{%s,%s,%s} is %s, not %d"
                             % (provider, event, outcome, seen[-1], n)) from None


def learnt(d, repo, branch, sha, forge="GitHub"):
    """The log line of a head learnt from the forge at start."""
    line = "base of %s: %s at %s (from %s)" % (repo, branch, sha[:12], forge)
    wait_until(lambda: line in d.log(), what=line)


def built(d, repo, sha):
    """The "base" job ran for that head: the base is built there
    (core/prewarm.c says so; test_prewarm.py checks what it builds)."""
    line = "base of %s: building at %s" % (repo, sha[:12])
    wait_until(lambda: line in d.log(), what=line)


def github_daemon(pg_config, forge, previewd_factory, sections=None, github=None,
                  **repo):
    forge.set_default_branch(REPO, "main", SHA0)
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["repo:" + REPO].update(dict({"prewarm": "base"}, **repo))
    cfg["github"] = dict({"api_url": forge.url}, **(github or {}))
    cfg.update(sections or {})
    return previewd_factory(cfg)


def send(d, payload, delivery_id=None, **kw):
    status, _, body = d.github_webhook("push", payload, delivery=delivery_id, **kw)
    return status, (json.loads(body) if body else None)


# ---- GitHub ------------------------------------------------------------------

def test_github_push_to_default_branch_is_recorded_and_builds(pg, pg_config, forge,
                                                              previewd_factory):
    d = github_daemon(pg_config, forge, previewd_factory)
    learnt(d, REPO, "main", SHA0)
    built(d, REPO, SHA0)
    assert head(d) == ("main", SHA0, REPO)

    status, body = send(d, push_payload(after=SHA1, pushed_at=int(time.time()) + 5,
                                        installation_id=77), "push-1")
    assert status == 202 and body == {"status": "accepted"}
    assert head(d) == ("main", SHA1, REPO)
    assert "webhook github: push accepted: base of acme/shop: main at %s" % SHA1[:12] \
        in d.log()
    built(d, REPO, SHA1)
    assert delivery(d, "push-1") == ("push", "refs/heads/main", "accepted")
    assert state(d, "SELECT installation_id FROM base_heads")[0][0] == 77
    counted(d, "github", "push", "accepted", 1)


def test_github_push_signature_and_duplicates(pg, pg_config, forge, previewd_factory):
    d = github_daemon(pg_config, forge, previewd_factory)
    learnt(d, REPO, "main", SHA0)
    payload = push_payload(after=SHA1, pushed_at=int(time.time()) + 5)
    body = json.dumps(payload).encode()
    for sig in (False, "sha256=" + "0" * 64, sign_github(body, "another secret")):
        status, _, resp = d.github_webhook("push", body, delivery="forged", signature=sig)
        assert status == 401, sig
        assert json.loads(resp)["error"]["code"] == "bad_signature"
    assert delivery(d, "forged") is None
    assert head(d) == ("main", SHA0, REPO)
    counted(d, "github", "push", "bad_signature", 3)

    assert send(d, payload, "dup-1") == (202, {"status": "accepted"})
    # Redelivered (same id), even with another body: nothing changes.
    status, body2 = send(d, push_payload(after=SHA2, pushed_at=int(time.time()) + 9),
                         "dup-1")
    assert status == 200 and body2 == {"status": "duplicate"}
    assert head(d) == ("main", SHA1, REPO)
    counted(d, "github", "push", "duplicate", 1)
    # A payload that is not a push previewd can read.
    bad = push_payload()
    del bad["repository"]["default_branch"]
    assert send(d, bad)[0] == 400
    assert send(d, push_payload(after="not-a-sha"))[0] == 400


def test_github_push_ignored_but_recorded(pg, pg_config, forge, previewd_factory):
    d = github_daemon(pg_config, forge, previewd_factory,
                      sections={"repo:acme/api": {}})
    learnt(d, REPO, "main", SHA0)
    later = int(time.time()) + 5

    status, body = send(d, push_payload(ref="refs/heads/feature/x", after=SHA1,
                                        pushed_at=later), "other-branch")
    assert status == 202 and body["status"] == "ignored"
    assert "refs/heads/feature/x is not the default branch (main)" in body["reason"]
    assert delivery(d, "other-branch") == ("push", "refs/heads/feature/x", "ignored")
    # Recorded, so deduplicated.
    assert send(d, push_payload(after=SHA1), "other-branch") == \
        (200, {"status": "duplicate"})

    status, body = send(d, push_payload(ref="refs/tags/v1.0", after=SHA1,
                                        pushed_at=later))
    assert status == 202 and body["status"] == "ignored"

    status, body = send(d, push_payload(after=ZERO, deleted=True, pushed_at=later),
                        "deleted")
    assert status == 202 and body["status"] == "ignored"
    assert "deleted refs/heads/main" in body["reason"]
    assert delivery(d, "deleted")[2] == "ignored"

    # A section without prewarm = base keeps no base.
    status, body = send(d, push_payload(repo="acme/api", after=SHA1, pushed_at=later),
                        "no-prewarm")
    assert status == 202 and body["status"] == "ignored"
    assert "prewarm = none" in body["reason"]
    assert head(d, "acme/api") is None

    assert head(d) == ("main", SHA0, REPO)
    counted(d, "github", "push", "ignored", 4)
    assert "webhook github: push ignored: refs/heads/feature/x is not the default " \
        "branch (main)" in d.log()


def test_github_older_push_is_stale(pg, pg_config, forge, previewd_factory):
    d = github_daemon(pg_config, forge, previewd_factory)
    learnt(d, REPO, "main", SHA0)
    t = int(time.time()) + 20
    assert send(d, push_payload(after=SHA2, pushed_at=t), "newer")[0] == 202
    # GitHub does not promise order: the push made before arrives after.
    status, body = send(d, push_payload(after=SHA1, pushed_at=t - 10), "older")
    assert status == 202 and body == {"status": "stale"}
    assert head(d) == ("main", SHA2, REPO)
    assert delivery(d, "older")[2] == "stale"
    built(d, REPO, SHA2)
    assert "building at %s" % SHA1[:12] not in d.log()
    counted(d, "github", "push", "stale", 1)
    # Much older: stale too.
    status, body = send(d, push_payload(after=SHA3, pushed_at=t - 3600))
    assert status == 202 and body["status"] == "stale"
    # Same second: arrival order.
    assert send(d, push_payload(after=SHA3, pushed_at=t))[1]["status"] == "accepted"
    assert head(d) == ("main", SHA3, REPO)


def test_github_push_without_section_is_204(pg, pg_config, forge, previewd_factory):
    d = github_daemon(pg_config, forge, previewd_factory)
    status, _, body = d.github_webhook("push", push_payload(repo="other/repo"),
                                       delivery="unknown-repo")
    assert status == 204 and body == b""
    assert delivery(d, "unknown-repo") is None
    assert head(d, "other/repo") is None
    assert "push ignored: no [repo:other/repo] section" in d.log()


def test_github_patterned_section_learns_from_first_push(pg, pg_config, forge,
                                                         previewd_factory):
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["repo:acme/*"] = {"prewarm": "base"}
    cfg["github"] = {"api_url": forge.url}
    d = previewd_factory(cfg)
    assert send(d, push_payload(repo="acme/tools", after=SHA1))[0] == 202
    assert head(d, "acme/tools") == ("main", SHA1, "acme/tools")
    built(d, "acme/tools", SHA1)
    # Nothing was asked of the forge for a wildcard section.
    assert forge.requests_to("GET", r"^/repos/") == []


def test_github_lookup_retried_through_an_outage(pg, pg_config, forge,
                                                 previewd_factory):
    forge.fail("GET", r"^/repos/acme/shop$", 502, times=2)
    forge.fail("GET", r"^/repos/acme/shop/branches/", 502, times=1)
    forge.github_token = "ghp_lookup"
    d = github_daemon(pg_config, forge, previewd_factory,
                      github={"token": "ghp_lookup"})
    learnt(d, REPO, "main", SHA0)
    repo_calls = forge.requests_to("GET", r"^/repos/acme/shop$")
    assert [r.status for r in repo_calls[:3]] == [502, 502, 200]
    branch_calls = forge.requests_to("GET", r"^/repos/acme/shop/branches/main$")
    assert [r.status for r in branch_calls[:2]] == [502, 200]
    assert all(r.headers.get("authorization") == "Bearer ghp_lookup"
               for r in repo_calls[2:] + branch_calls[1:])
    assert "GitHub answered 502" in d.log() and "job will retry" in d.log()
    assert head(d) == ("main", SHA0, REPO)


def test_github_lookup_on_reload(pg, pg_config, forge, previewd_factory):
    d = github_daemon(pg_config, forge, previewd_factory, prewarm="none")
    assert head(d) is None
    forge.set_default_branch(REPO, "develop", SHA2)
    d.config["repo:" + REPO]["prewarm"] = "base"
    d.write_config()
    d.send_signal(signal.SIGHUP)
    learnt(d, REPO, "develop", SHA2)
    assert head(d) == ("develop", SHA2, REPO)
    built(d, REPO, SHA2)
    # The new default branch decides what a push is.
    status, body = send(d, push_payload(after=SHA1, pushed_at=int(time.time()) + 5,
                                        default_branch="develop"))
    assert status == 202 and body["status"] == "ignored"


# ---- GitLab ------------------------------------------------------------------

def gitlab_daemon(pg_config, forge, previewd_factory, prewarm="base", sections=None):
    forge.gitlab_token = GL_TOKEN
    forge.set_gitlab_default_branch(GL_PROJECT, GL_PATH, "trunk", SHA0)
    cfg = {k: dict(v) for k, v in pg_config.items()}
    del cfg["repo:" + REPO]
    cfg["repo:" + GL_PATH] = {"prewarm": prewarm}
    # GitHub is configured too (the harness always does): the stand-in
    # answers 404 for the GitLab path there.
    cfg["github"] = {"api_url": forge.url}
    cfg["gitlab"] = {"api_url": forge.gitlab_url, "token": GL_TOKEN,
                     "webhook_token": HOOK_TOKEN}
    cfg.update(sections or {})
    return previewd_factory(cfg)


def test_gitlab_lookup_at_start_through_an_outage(pg, pg_config, forge,
                                                  previewd_factory):
    forge.fail("GET", r"/repository/branches/", 502, times=2)
    d = gitlab_daemon(pg_config, forge, previewd_factory)
    learnt(d, GL_PATH, "trunk", SHA0, forge="GitLab")
    assert head(d, GL_PATH, "gitlab") == ("trunk", SHA0, str(GL_PROJECT))
    built(d, GL_PATH, SHA0)
    project = forge.requests_to("GET", r"^/api/v4/projects/grp%2Fsub%2Fshop$")
    assert project and project[0].headers["private-token"] == GL_TOKEN
    branches = forge.requests_to("GET", r"^/api/v4/projects/4711/repository/branches/trunk$")
    assert [r.status for r in branches[:3]] == [502, 502, 200]
    # GitHub was asked too, and does not have it: noted, not retried.
    wait_until(lambda: "base of grp/sub/shop: not on GitHub" in d.log(),
               what="the GitHub lookup's 404")
    assert len(forge.requests_to("GET", r"^/repos/grp/sub")) == 1


def test_gitlab_push_hooks(pg, pg_config, forge, previewd_factory):
    d = gitlab_daemon(pg_config, forge, previewd_factory,
                      sections={"repo:grp/other": {}})
    learnt(d, GL_PATH, "trunk", SHA0, forge="GitLab")

    assert gitlab_post(d, push_hook(after=SHA1), token="wrong")[0] == 401
    assert gitlab_post(d, push_hook(after=SHA1), token=None)[0] == 401
    assert head(d, GL_PATH, "gitlab") == ("trunk", SHA0, str(GL_PROJECT))

    status, _, body = gitlab_post(d, push_hook(after=SHA1), key="gl-1")
    assert status == 202 and json.loads(body) == {"status": "accepted"}
    assert head(d, GL_PATH, "gitlab") == ("trunk", SHA1, str(GL_PROJECT))
    assert "webhook gitlab: push accepted: base of grp/sub/shop: trunk at %s" \
        % SHA1[:12] in d.log()
    built(d, GL_PATH, SHA1)
    # GitLab retries with the same Idempotency-Key.
    status, _, body = gitlab_post(d, push_hook(after=SHA2), key="gl-1")
    assert status == 200 and json.loads(body) == {"status": "duplicate"}
    assert head(d, GL_PATH, "gitlab")[1] == SHA1

    status, _, body = gitlab_post(d, push_hook(ref="refs/heads/feature", after=SHA2))
    assert status == 202 and json.loads(body)["status"] == "ignored"
    assert "not the default branch (trunk)" in json.loads(body)["reason"]
    status, _, body = gitlab_post(d, push_hook(after=ZERO), key="gl-del")
    assert status == 202 and json.loads(body)["status"] == "ignored"
    assert delivery(d, "gl-del") == ("Push Hook", "refs/heads/trunk", "ignored")
    status, _, body = gitlab_post(d, push_hook(path="grp/other", project_id=99,
                                               ref="refs/heads/trunk", after=SHA2))
    assert status == 202 and "prewarm = none" in json.loads(body)["reason"]
    assert gitlab_post(d, push_hook(path="else/where", after=SHA2))[0] == 204
    assert gitlab_post(d, {"object_kind": "push"})[0] == 400
    assert head(d, GL_PATH, "gitlab")[1] == SHA1

    # No push time: arrival order.
    assert gitlab_post(d, push_hook(after=SHA3))[0] == 202
    assert head(d, GL_PATH, "gitlab")[1] == SHA3
    counted(d, "gitlab", "push", "accepted", 2)
    # Three recorded as ignored, and the 204 (no section) counted so too.
    counted(d, "gitlab", "push", "ignored", 4)
    counted(d, "gitlab", "push", "duplicate", 1)


def test_gitlab_signed_push_hook(pg, pg_config, forge, previewd_factory):
    import hashlib
    import hmac
    signing = "whsec_" + base64.b64encode(b"p" * 32).decode()
    d = gitlab_daemon(pg_config, forge, previewd_factory)
    learnt(d, GL_PATH, "trunk", SHA0, forge="GitLab")
    d.config["gitlab"]["signing_token"] = signing
    d.write_config()
    d.restart()
    # The start-up lookup again, before the push (the stand-in's head
    # does not move with a push sent by hand).
    line = "base of %s: trunk at %s (from GitLab)" % (GL_PATH, SHA0[:12])
    wait_until(lambda: d.log().count(line) == 2, what="the second lookup")
    body = json.dumps(push_hook(after=SHA2)).encode()
    mid, stamp = "msg_" + uuid.uuid4().hex, str(int(time.time()))

    def post(key):
        mac = hmac.new(key, b"%s.%s.%s" % (mid.encode(), stamp.encode(), body),
                       hashlib.sha256).digest()
        return d.request("POST", "/webhooks/gitlab", body=body, headers={
            "Content-Type": "application/json", "X-Gitlab-Event": "Push Hook",
            "Idempotency-Key": str(uuid.uuid4()), "webhook-id": mid,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()})
    assert post(b"q" * 32)[0] == 401
    assert post(base64.b64decode(signing[6:]))[0] == 202
    assert head(d, GL_PATH, "gitlab")[1] == SHA2
