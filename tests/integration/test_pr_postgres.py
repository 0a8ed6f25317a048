"""A pull request's PostgreSQL environment, end to end through the real binary.

Each test starts previewd against the session's real PostgreSQL (scram
authentication, a non-superuser admin role with CREATEDB and CREATEROLE),
sends signed GitHub webhooks and checks what a user would check: the URL
the API hands out connects and writes, the database and role disappear on
close, credentials do not leak.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import psycopg2
import pytest

from previewd import pr_payload, wait_until

REPO = "acme/shop"


def open_pr(d, number, repo=REPO, **kw):
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", number, repo=repo, **kw))
    assert status == 202, body
    return body


def ready_env(d, number, repo=REPO, wait=60):
    status, body = d.get_json(
        "/api/v1/repos/%s/pulls/%d/environment?wait=%d" % (repo, number, wait), token=d.ci_token)
    assert status == 200, body
    assert body["status"] == "ready", body
    return body


def env_now(d, number, repo=REPO):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (repo, number),
                              token=d.ci_token)
    assert status == 200, body
    return body


def deleted_env(d, number, repo=REPO, timeout=60):
    """Poll until the environment says deleted (a long poll returns on
    ready as well, so it cannot wait for a delete by itself)."""
    wait_until(lambda: env_now(d, number, repo)["status"] == "deleted", timeout=timeout,
               what="pull request %d's environment to be deleted" % number)
    return env_now(d, number, repo)


def can_connect(url):
    try:
        conn = psycopg2.connect(url, connect_timeout=10)
    except psycopg2.OperationalError as e:
        return str(e)
    conn.close()
    return True


def pool_dbs(pg):
    return pg.databases("pvd_pool_")


def test_opened_ready_connects_writes_then_closed_drops(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    wait_until(lambda: len(pool_dbs(pg)) == 2, what="the pool to fill")
    pool_before = set(pool_dbs(pg))

    open_pr(d, 7)
    env = ready_env(d, 7)
    assert env["name"] == "preview-pr-7"
    assert env["repo"] == REPO and env["number"] == 7 and env["provider"] == "github"
    assert env["engine"] == "postgres"
    assert env["database"].startswith("pvd_") and len(env["database"]) <= 32
    assert env["host"] == "127.0.0.1" and env["port"] == pg.port
    assert env["head_sha"] and env["error"] is None
    for key in ("created_at", "updated_at", "expires_at"):
        assert env[key].endswith("Z"), env
    # The claim took a pool database (renamed) instead of creating one.
    assert len(set(pool_dbs(pg)) & pool_before) == 1

    url = env["database_url"]
    conn = psycopg2.connect(url, connect_timeout=10)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE widgets (id serial PRIMARY KEY, name text)")
        cur.execute("INSERT INTO widgets (name) VALUES ('gear') RETURNING id")
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT current_user, current_database()")
        assert cur.fetchone() == (env["user"], env["database"])
    conn.close()

    # psql takes the same URL.
    out = subprocess.run(["psql", url, "-Atc", "SELECT name FROM widgets"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "gear"

    # format=env is what CI appends to $GITHUB_ENV.
    status, hdrs, body = d.env_for(REPO, 7, fmt="env")
    assert status == 200 and hdrs["content-type"].startswith("text/plain")
    assert body.decode() == "DATABASE_URL=%s\n" % url

    # The pool is refilled in the background.
    wait_until(lambda: len(pool_dbs(pg)) == 2, what="the pool to refill")

    status, _, _ = d.github_webhook("pull_request", pr_payload("closed", 7))
    assert status == 202
    gone = deleted_env(d, 7)
    assert gone["database_url"] is None and gone["expires_at"] is None
    assert env["database"] not in pg.databases()
    assert env["user"] not in pg.roles()
    assert can_connect(url) is not True


def test_merged_drops_database_and_role(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    open_pr(d, 8)
    env = ready_env(d, 8)
    d.github_webhook("pull_request", pr_payload("closed", 8, merged=True))
    deleted_env(d, 8)
    assert env["database"] not in pg.databases()
    assert env["user"] not in pg.roles()


def test_repeated_delivery_and_second_opened_keep_one_environment(pg, pg_config,
                                                                   previewd_factory):
    d = previewd_factory(pg_config)
    payload = pr_payload("opened", 9)
    status, _, first = d.github_webhook("pull_request", payload, delivery="dup-1")
    assert status == 202
    status, _, again = d.github_webhook("pull_request", payload, delivery="dup-1")
    assert status == 200 and b"duplicate" in again
    env = ready_env(d, 9)

    status, _, _ = d.github_webhook("pull_request", pr_payload("opened", 9))
    assert status == 202
    status, _, _ = d.github_webhook("pull_request", pr_payload("reopened", 9))
    assert status == 202
    again = ready_env(d, 9)
    assert again["id"] == env["id"]
    assert again["database_url"] == env["database_url"]
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert [e["number"] for e in listing["data"]] == [9]
    assert len([db for db in pg.databases("pvd_") if not db.startswith("pvd_pool_")]) == 1
    assert can_connect(env["database_url"]) is True


def test_synchronize_moves_head_sha(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    open_pr(d, 10, sha="a" * 40)
    env = ready_env(d, 10)
    assert env["head_sha"] == "a" * 40
    d.github_webhook("pull_request", pr_payload("synchronize", 10, sha="b" * 40))
    wait_until(lambda: env_now(d, 10)["head_sha"] == "b" * 40, what="head_sha to move")
    assert ready_env(d, 10)["database_url"] == env["database_url"]


def test_two_pull_requests_cannot_cross_connect(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    open_pr(d, 11)
    open_pr(d, 12)
    a, b = ready_env(d, 11), ready_env(d, 12)
    assert a["database"] != b["database"] and a["user"] != b["user"]
    assert a["database_url"] != b["database_url"]
    # A's credentials against B's database, and the reverse.
    a_on_b = a["database_url"].rsplit("/", 1)[0] + "/" + b["database"]
    b_on_a = b["database_url"].rsplit("/", 1)[0] + "/" + a["database"]
    for url in (a_on_b, b_on_a):
        err = can_connect(url)
        assert err is not True and "permission denied" in err, err
    # Nor can they reach an idle pool database.
    wait_until(lambda: len(pool_dbs(pg)) >= 1, what="a pool database")
    pool_url = a["database_url"].rsplit("/", 1)[0] + "/" + pool_dbs(pg)[0]
    assert "permission denied" in can_connect(pool_url)


def test_credentials_are_encrypted_at_rest_and_never_logged(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config, env={})
    open_pr(d, 13)
    env = ready_env(d, 13)
    password = env["database_url"].split(":")[2].split("@")[0]
    assert len(password) >= 43
    state = Path(d.config["server"]["state_path"])
    blobs = b"".join(p.read_bytes() for p in state.parent.glob(state.name + "*"))
    assert password.encode() not in blobs
    assert password not in d.log()
    conn = sqlite3.connect(str(state))
    try:
        (secret,) = conn.execute("SELECT secret FROM environments").fetchone()
        assert secret is not None and password.encode() not in secret
    finally:
        conn.close()
    # PostgreSQL received a SCRAM verifier, never the password itself.
    with pg.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (env["user"],))
        assert cur.fetchone()[0].startswith("SCRAM-SHA-256$")


def test_url_round_trips_through_node_postgres(pg, pg_config, previewd_factory):
    node_modules = Path(__file__).resolve().parents[1] / "node" / "node_modules"
    if not (node_modules / "pg").is_dir():
        pytest.fail("node-postgres is not installed: make test runs npm ci in tests/node")
    d = previewd_factory(pg_config)
    open_pr(d, 14)
    env = ready_env(d, 14)
    script = ("const {Client} = require('pg');"
              "const c = new Client({connectionString: process.argv[1]});"
              "c.connect().then(() => c.query('SELECT current_user AS u'))"
              ".then(r => { console.log(r.rows[0].u); return c.end(); })"
              ".catch(e => { console.error(e.message); process.exit(1); });")
    out = subprocess.run(["node", "-e", script, env["database_url"]], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, NODE_PATH=str(node_modules)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == env["user"]


def test_ci_waits_before_the_webhook_arrives(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    result = {}

    def poll():
        result["answer"] = d.env_for(REPO, 15, wait=60, fmt="env")

    t = threading.Thread(target=poll)
    t.start()
    # The poller is parked on a missing environment; now the webhook comes.
    wait_until(lambda: d.get_json("/api/v1/environments", token=d.ci_token)[0] == 200,
               what="previewd to answer")
    open_pr(d, 15)
    t.join(90)
    assert not t.is_alive()
    status, _, body = result["answer"]
    assert status == 200 and body.startswith(b"DATABASE_URL=postgresql://")


def test_api_answers_and_auth(pg, pg_config, previewd_factory):
    cfg = dict(pg_config)
    cfg["repo:acme/other"] = {"ci_token": "other-repo-token"}
    d = previewd_factory(cfg)
    # Nothing yet: 404; no wait means no waiting.
    status, _, body = d.env_for(REPO, 16)
    assert status == 404 and b"not_found" in body
    status, _, _ = d.env_for(REPO, 16, wait=0)
    assert status == 404
    # Tokens.
    assert d.env_for(REPO, 16, token="")[0] == 401
    assert d.env_for(REPO, 16, token="wrong")[0] == 401
    status, hdrs, _ = d.env_for(REPO, 16, token="wrong")
    assert hdrs.get("www-authenticate", "").startswith("Bearer")
    assert d.env_for(REPO, 16, token=d.admin_token)[0] == 404
    assert d.env_for("acme/other", 16, token="other-repo-token")[0] == 404
    assert d.env_for(REPO, 16, token="other-repo-token")[0] == 401
    assert d.get_json("/api/v1/environments", token="other-repo-token")[0] == 401
    # Bad parameters.
    assert d.env_for(REPO, 16, wait=301)[0] == 400
    assert d.env_for(REPO, 16, wait="soon")[0] == 400
    assert d.env_for(REPO, 16, fmt="yaml")[0] == 400
    assert d.env_for(REPO, 16, provider="bitbucket")[0] == 400
    # GitLab's nested groups: the repository runs to the last /pulls/.
    status, body = d.get_json("/api/v1/repos/grp/sub/proj/pulls/3/environment?provider=gitlab",
                              token=d.ci_token)
    assert status == 404 and "grp/sub/proj" in body["error"]["message"]

    # While provisioning is held, format=env is 409 with the status.
    gate = Path(d.tmpdir) / "gate"
    d.stop()
    d.start(extra_env={"PREVIEWD_FAULTS": "claim.before=wait:%s" % gate})
    open_pr(d, 16)
    wait_until(lambda: Path(str(gate) + ".reached").exists(), what="claim to be reached")
    status, _, body = d.env_for(REPO, 16, fmt="env")
    assert status == 409 and b"provisioning" in body
    env = env_now(d, 16)
    assert env["status"] == "provisioning" and env["database_url"] is None
    gate.touch()
    assert ready_env(d, 16)["status"] == "ready"

    # The list: admin sees URLs, CI does not.
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert status == 200 and listing["data"][0]["database_url"].startswith("postgresql://")
    status, listing = d.get_json("/api/v1/environments", token=d.ci_token)
    assert status == 200 and listing["data"][0]["database_url"] is None


def test_delete_through_the_api(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    open_pr(d, 17)
    env = ready_env(d, 17)
    path = "/api/v1/environments/" + env["id"]
    assert d.request("DELETE", path, token=d.ci_token)[0] == 401
    status, _, _ = d.request("DELETE", path, token=d.admin_token)
    assert status == 202
    deleted_env(d, 17)
    assert env["database"] not in pg.databases()
    assert env["user"] not in pg.roles()
    # Idempotent; unknown ids are 404.
    assert d.request("DELETE", path, token=d.admin_token)[0] == 202
    assert d.request("DELETE", "/api/v1/environments/env_nope", token=d.admin_token)[0] == 404
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert listing["data"] == []


def test_reopened_after_close_gets_a_new_database(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    open_pr(d, 18)
    first = ready_env(d, 18)
    d.github_webhook("pull_request", pr_payload("closed", 18))
    deleted_env(d, 18)
    d.github_webhook("pull_request", pr_payload("reopened", 18))
    second = ready_env(d, 18)
    assert second["id"] == first["id"]
    assert second["database_url"] != first["database_url"]   # a fresh password
    assert can_connect(second["database_url"]) is True
    assert can_connect(first["database_url"]) is not True


def test_cold_path_without_a_pool(pg, pg_config, previewd_factory):
    cfg = dict(pg_config, postgres=dict(pg_config["postgres"], pool_size="0"))
    d = previewd_factory(cfg)
    open_pr(d, 19)
    env = ready_env(d, 19)
    assert pool_dbs(pg) == []
    assert can_connect(env["database_url"]) is True
    assert "creating %s cold" % env["database"] in d.log()


def test_ttl_expiry_reaps(pg, pg_config, previewd_factory):
    cfg = dict(pg_config)
    cfg["repo:acme/shop"] = {"ttl": "2s"}
    cfg["reaper"] = {"interval": "1s"}
    d = previewd_factory(cfg)
    open_pr(d, 20)
    env = ready_env(d, 20)
    gone = deleted_env(d, 20)
    assert "expired" in gone["error"]
    assert env["database"] not in pg.databases()
    assert env["user"] not in pg.roles()


def test_close_during_provisioning_leaves_nothing(pg, pg_config, previewd_factory, tmp_path):
    gate = tmp_path / "gate"
    d = previewd_factory(pg_config, env={"PREVIEWD_FAULTS": "claim.before=wait:%s" % gate})
    wait_until(lambda: len(pool_dbs(pg)) == 2, what="the pool to fill")
    open_pr(d, 21)
    # The worker has recorded its claim and stands just before the server.
    wait_until(lambda: Path(str(gate) + ".reached").exists(), what="claim to be reached")
    status, _, _ = d.github_webhook("pull_request", pr_payload("closed", 21))
    assert status == 202
    gate.touch()
    gone = deleted_env(d, 21)
    assert gone["database"] not in pg.databases()
    assert gone["user"] not in pg.roles()
    # Nothing of previewd's is left but the (refilled) pool.
    wait_until(lambda: len(pool_dbs(pg)) == 2, what="the pool to refill")
    assert pg.databases("pvd_") == pool_dbs(pg)
    assert pg.roles("pvd_") == []


@pytest.mark.parametrize("point", ["claim.before", "claim.after"])
def test_kill9_during_provisioning_then_restart_becomes_ready(pg, pg_config, previewd_factory,
                                                              point):
    d = previewd_factory(pg_config, start=False)
    d.start(extra_env={"PREVIEWD_FAULTS": "%s=kill" % point})
    wait_until(lambda: len(pool_dbs(pg)) == 2, what="the pool to fill")
    open_pr(d, 22)
    wait_until(lambda: not d.alive(), what="previewd to die at %s" % point)
    d.expected_exit = True
    d.start()
    env = ready_env(d, 22)
    assert can_connect(env["database_url"]) is True
    # Exactly one database for the pull request and no stray pool claims.
    wait_until(lambda: len(pool_dbs(pg)) == 2, what="the pool to refill")
    others = [db for db in pg.databases("pvd_") if not db.startswith("pvd_pool_")]
    assert others == [env["database"]]


def test_sigterm_exits_zero_and_work_resumes(pg, pg_config, previewd_factory, tmp_path):
    gate = tmp_path / "gate"
    d = previewd_factory(pg_config, env={"PREVIEWD_FAULTS": "claim.before=wait:%s" % gate})
    open_pr(d, 23)
    wait_until(lambda: Path(str(gate) + ".reached").exists(), what="claim to be reached")
    d.send_signal(signal.SIGTERM)
    gate.touch()
    assert d.stop() == 0
    d.env = {}
    d.start()
    assert ready_env(d, 23)["status"] == "ready"
