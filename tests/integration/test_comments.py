"""The pull request's sticky comment, against the local GitHub stand-in.

What a reviewer sees: one comment, posted when the environment is ready,
edited as it changes; no password in a public repository; retried through
forge outages and rate limits; recreated when a human deletes it; posted
even when previewd crashed right before posting; and, for a GitHub App,
authenticated with an installation token got with a JWT the test checks.
"""

import sqlite3
import subprocess
import time

import pytest

from forge_stub import jwt_parts, rs256_valid
from previewd import pr_payload, wait_until

REPO = "acme/shop"
TOKEN = "ghp_comment_test_token"


def start(pg_config, forge, previewd_factory, env=None, github=None, repo=None, **server):
    forge.github_token = TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["github"] = dict({"api_url": forge.url, "token": TOKEN}, **(github or {}))
    cfg["repo:acme/shop"].update(repo or {})
    if server:
        cfg["server"] = server
    return previewd_factory(cfg, env=env)


def env_now(d, number):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (REPO, number),
                              token=d.ci_token)
    assert status == 200, body
    return body


def comments_for(forge, number):
    return [c for c in forge.comments.values() if c["number"] == number]


def one_comment(forge, number, containing, timeout=30):
    wait_until(lambda: len(comments_for(forge, number)) == 1 and
               containing in comments_for(forge, number)[0]["body"],
               timeout=timeout, what="one comment containing %r" % containing)
    return comments_for(forge, number)[0]


def open_pr(d, number, **kw):
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", number, **kw))
    assert status == 202, body


def test_one_comment_created_then_edited_on_each_change(pg, pg_config, forge, previewd_factory):
    d = start(pg_config, forge, previewd_factory)
    open_pr(d, 1, sha="a" * 40)
    c = one_comment(forge, 1, "is ready")
    env = env_now(d, 1)
    assert "`%s`" % env["database"] in c["body"]
    assert "`aaaaaaaaaaaa`" in c["body"]
    assert "<!-- previewd:%s " % env["id"] in c["body"]
    posts = forge.requests_to("POST", r"/repos/acme/shop/issues/1/comments$")
    assert len(posts) == 1
    r = posts[0]
    assert r.headers["authorization"] == "Bearer " + TOKEN
    assert r.headers["accept"] == "application/vnd.github+json"
    assert r.headers["x-github-api-version"] == "2022-11-28"
    assert r.headers["user-agent"].startswith("previewd/")

    d.github_webhook("pull_request", pr_payload("synchronize", 1, sha="b" * 40))
    one_comment(forge, 1, "`bbbbbbbbbbbb`")
    d.github_webhook("pull_request", pr_payload("closed", 1))
    c = one_comment(forge, 1, "was deleted")
    assert len(forge.requests_to("POST", r"/issues/1/comments$")) == 1
    assert len(forge.requests_to("PATCH", r"/issues/comments/%d$" % c["id"])) == 2


def test_public_repository_comment_has_no_password_private_has_the_url(
        pg, pg_config, forge, previewd_factory):
    d = start(pg_config, forge, previewd_factory)
    open_pr(d, 2, private=False)
    open_pr(d, 3, private=True)
    public = one_comment(forge, 2, "is ready")["body"]
    private = one_comment(forge, 3, "is ready")["body"]
    url2 = env_now(d, 2)["database_url"]
    url3 = env_now(d, 3)["database_url"]
    password2 = url2.split(":")[2].split("@")[0]
    assert password2 not in public and url2 not in public
    assert "MASKED" in public
    assert ('curl -fsS -H "Authorization: Bearer $PREVIEWD_CI_TOKEN" "%s/api/v1/repos/acme/shop'
            '/pulls/2/environment?format=env"' % d.config["server"]["public_url"]) in public
    assert "DATABASE_URL=%s" % url3 in private
    # The password appears in no log line either.
    assert password2 not in d.log()
    assert url3.split(":")[2].split("@")[0] not in d.log()


@pytest.mark.parametrize("policy,private,shown", [("never", True, False),
                                                   ("always", False, True)])
def test_comment_password_setting(pg, pg_config, forge, previewd_factory, policy, private,
                                  shown):
    d = start(pg_config, forge, previewd_factory, repo={"comment_password": policy})
    open_pr(d, 4, private=private)
    body = one_comment(forge, 4, "is ready")["body"]
    assert (env_now(d, 4)["database_url"] in body) == shown


@pytest.mark.parametrize("failures", [[502, 502], [500, 503, 504]],
                         ids=["two-502s", "500-503-504"])
def test_5xx_answers_are_retried_with_backoff_until_success(pg, pg_config, forge,
                                                           previewd_factory, failures):
    for status in failures:
        forge.fail("POST", r"/issues/5/comments$", status, times=1)
    d = start(pg_config, forge, previewd_factory)
    open_pr(d, 5)
    one_comment(forge, 5, "is ready", timeout=60)
    # One attempt per injected answer, and one more that succeeded.
    posts = forge.requests_to("POST", r"/issues/5/comments$")
    assert [p.status for p in posts] == failures + [201]
    # Backed off, not hammered: 1 s, 2 s, 4 s ... each with 20 % jitter.
    gaps = [b.time - a.time for a, b in zip(posts, posts[1:])]
    assert all(gap >= 0.8 * 2 ** i for i, gap in enumerate(gaps)), gaps
    assert env_now(d, 5)["status"] == "ready"
    assert len(comments_for(forge, 5)) == 1


def test_429_retry_after_is_honoured(pg, pg_config, forge, previewd_factory):
    forge.fail("POST", r"/issues/6/comments$", 429, times=1, headers={"Retry-After": "2"})
    d = start(pg_config, forge, previewd_factory)
    open_pr(d, 6)
    one_comment(forge, 6, "is ready", timeout=60)
    posts = forge.requests_to("POST", r"/issues/6/comments$")
    assert [p.status for p in posts] == [429, 201]
    assert posts[1].time - posts[0].time >= 2.0


def test_rate_limit_spent_waits_for_the_reset(pg, pg_config, forge, previewd_factory):
    forge.rate_limit("POST", r"/issues/7/comments$", reset_in=3, times=1)
    d = start(pg_config, forge, previewd_factory)
    open_pr(d, 7)
    one_comment(forge, 7, "is ready", timeout=60)
    posts = forge.requests_to("POST", r"/issues/7/comments$")
    assert [p.status for p in posts] == [403, 201]
    # x-ratelimit-reset is whole seconds: at least 2 of the 3 have passed.
    assert posts[1].time - posts[0].time >= 2.0


def test_a_deleted_comment_is_recreated(pg, pg_config, forge, previewd_factory):
    d = start(pg_config, forge, previewd_factory)
    open_pr(d, 8, sha="c" * 40)
    first = one_comment(forge, 8, "is ready")
    forge.delete_comment(first["id"])
    d.github_webhook("pull_request", pr_payload("synchronize", 8, sha="d" * 40))
    again = one_comment(forge, 8, "`dddddddddddd`")
    assert again["id"] != first["id"]
    assert [r.status for r in forge.requests_to("PATCH", r"/comments/%d$" % first["id"])] == [404]


def test_kill9_before_posting_still_posts_after_restart(pg, pg_config, forge, previewd_factory):
    d = start(pg_config, forge, previewd_factory, env={"PREVIEWD_FAULTS": "notify.before_post=kill"})
    open_pr(d, 9)
    wait_until(lambda: not d.alive(), what="previewd to die before posting")
    d.expected_exit = True
    assert comments_for(forge, 9) == []
    d.env = {}
    d.start()
    one_comment(forge, 9, "is ready")
    assert len(forge.requests_to("POST", r"/issues/9/comments$")) == 1


def test_a_posted_comment_whose_id_was_lost_is_found_not_duplicated(
        pg, pg_config, forge, previewd_factory):
    """A crash between GitHub's 201 and recording the id must not make a
    second comment: previewd finds its own by the marker."""
    d = start(pg_config, forge, previewd_factory)
    open_pr(d, 10, sha="e" * 40)
    c = one_comment(forge, 10, "is ready")
    # Forget the id, as a crash right after the POST would have.
    conn = sqlite3.connect(d.config["server"]["state_path"])
    conn.execute("UPDATE environments SET comment_id = 0, comment_hash = ''")
    conn.commit()
    conn.close()
    d.github_webhook("pull_request", pr_payload("synchronize", 10, sha="f" * 40))
    again = one_comment(forge, 10, "`ffffffffffff`")
    assert again["id"] == c["id"]
    assert len(forge.requests_to("POST", r"/issues/10/comments$")) == 1


def test_failure_comment_names_the_file(pg, pg_config, forge, previewd_factory):
    forge.set_tree(REPO, "1" * 40, {"db/migrations/001_bad.sql": "CREATE TABLE x (id nope);"})
    d = start(pg_config, forge, previewd_factory, repo={"migrations": "repo:db/migrations"})
    open_pr(d, 11, sha="1" * 40)
    body = one_comment(forge, 11, "failed")["body"]
    assert "`001_bad.sql` failed at commit `111111111111`" in body
    assert 'type "nope" does not exist' in body


def test_no_token_no_comment_and_the_database_is_still_ready(pg, pg_config, forge,
                                                             previewd_factory):
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["github"] = {"api_url": forge.url}
    d = previewd_factory(cfg)
    open_pr(d, 12)
    status, env = d.get_json("/api/v1/repos/%s/pulls/12/environment?wait=60" % REPO,
                             token=d.ci_token)
    assert env["status"] == "ready"
    assert forge.requests_to("*", r"/comments") == []


def test_forge_failure_never_blocks_the_database(pg, pg_config, forge, previewd_factory):
    forge.fail("*", r"/comments", 500, times=None)
    d = start(pg_config, forge, previewd_factory)
    open_pr(d, 13)
    status, env = d.get_json("/api/v1/repos/%s/pulls/13/environment?wait=60" % REPO,
                             token=d.ci_token)
    assert env["status"] == "ready"
    # The comment is retried, with growing pauses, while the forge fails.
    tries = forge.wait_for("*", r"/issues/13/comments$", count=3, timeout=30)
    assert all(r.status == 500 for r in tries)
    gaps = [b.time - a.time for a, b in zip(tries, tries[1:])]
    assert all(gap >= 0.8 * 2 ** i for i, gap in enumerate(gaps)), gaps
    wait_until(lambda: d.log().count("job will retry") >= 2 and
               "GitHub answered 500" in d.log(), what="the retries in the log")
    assert env_now(d, 13)["status"] == "ready" and env_now(d, 13)["error"] is None
    assert comments_for(forge, 13) == []


def test_a_refused_comment_is_not_retried_and_the_database_stays_ready(
        pg, pg_config, forge, previewd_factory):
    """422 (validation) is not an outage: one attempt, a warning in the log
    and a counted failure, then nothing more until the next change."""
    forge.fail("POST", r"/issues/15/comments$", 422, times=1)
    d = start(pg_config, forge, previewd_factory)
    open_pr(d, 15, sha="a" * 40)
    status, env = d.get_json("/api/v1/repos/%s/pulls/15/environment?wait=60" % REPO,
                             token=d.ci_token)
    assert env["status"] == "ready", env
    wait_until(lambda: "comment not posted: GitHub answered 422" in d.log(),
               what="the refusal in the log")
    # Done with, not rescheduled: no notify job is left waiting to run.
    conn = sqlite3.connect(d.config["server"]["state_path"])
    try:
        wait_until(lambda: conn.execute("SELECT COUNT(*) FROM jobs WHERE kind = 'notify'")
                   .fetchone()[0] == 0, what="the notify job to be finished")
    finally:
        conn.close()
    assert [p.status for p in forge.requests_to("POST", r"/issues/15/comments$")] == [422]
    assert d.log().count("comment not posted") == 1
    assert "job will retry" not in d.log()
    assert 'previewd_forge_requests_total{forge="github",outcome="failed"} 1\n' in \
        d.request("GET", "/metrics")[2].decode()
    assert env_now(d, 15)["status"] == "ready" and comments_for(forge, 15) == []
    # The next change tries again (the forge accepts it now).
    d.github_webhook("pull_request", pr_payload("synchronize", 15, sha="b" * 40))
    one_comment(forge, 15, "`bbbbbbbbbbbb`")
    assert [p.status for p in forge.requests_to("POST", r"/issues/15/comments$")] == [422, 201]


def test_github_app_installation_token(pg, pg_config, forge, previewd_factory, tmp_path):
    key = tmp_path / "app.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    pub = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout"], check=True,
                         capture_output=True, text=True).stdout
    forge.app_id = "424242"
    forge.app_public_key = pub
    forge.github_token = None
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["github"] = {"api_url": forge.url, "app_id": "424242", "private_key_file": str(key)}
    d = previewd_factory(cfg)
    before = time.time()
    open_pr(d, 14, installation_id=777)
    one_comment(forge, 14, "is ready")
    assert len(forge.app_jwts) == 1
    jwt = forge.app_jwts[0]
    assert jwt["installation_id"] == 777
    header, claims, signing_input, signature = jwt_parts(jwt["jwt"])
    assert rs256_valid(signing_input, signature, pub)
    assert header["alg"] == "RS256"
    assert claims["iss"] in ("424242", 424242)
    assert before - 61 - 2 <= claims["iat"] <= time.time() - 59
    assert claims["exp"] - claims["iat"] <= 600 + 60
    post = forge.requests_to("POST", r"/issues/14/comments$")[0]
    assert post.headers["authorization"] == "Bearer " + forge.app_tokens[777]
    # A second change reuses the cached installation token.
    d.github_webhook("pull_request", pr_payload("closed", 14, installation_id=777))
    one_comment(forge, 14, "was deleted")
    assert len(forge.app_jwts) == 1
