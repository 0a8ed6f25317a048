"""A pull request's environment, end to end through the real binary, on
PostgreSQL and on MariaDB.

Each test starts previewd against the session's real servers (PostgreSQL
with scram authentication and a non-superuser admin role; MariaDB with an
admin user holding only the privileges the README lists), sends signed
GitHub webhooks and checks what a user would check: the URL the API hands
out connects and writes, the database and its role or user disappear on
close, credentials do not leak.

On MySQL a claimed pool database keeps its pool name (MySQL cannot rename
a database), so "idle pool databases" are the pool-named ones no live
environment uses.
"""

import os
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import EngineUnderTest
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


def live_databases(d):
    status, body = d.get_json("/api/v1/environments", token=d.admin_token)
    assert status == 200
    return {e["database"] for e in body["data"] if e["status"] != "deleted"}


def idle_pool(eng, d):
    return sorted(set(eng.databases("pvd_pool_")) - live_databases(d))


def env_databases(eng):
    """Databases of previewd's that are not pool-named (PostgreSQL renames
    on claim; MySQL's cold path uses the pull request's name)."""
    return [db for db in eng.databases() if not db.startswith("pvd_pool_")]


def test_opened_ready_connects_writes_then_closed_drops(engine, previewd_factory):
    eng = engine
    d = previewd_factory(eng.config())
    wait_until(lambda: len(idle_pool(eng, d)) == 2, what="the pool to fill")
    pool_before = set(idle_pool(eng, d))

    open_pr(d, 7)
    env = ready_env(d, 7)
    assert env["name"] == "preview-pr-7"
    assert env["repo"] == REPO and env["number"] == 7 and env["provider"] == "github"
    assert env["engine"] == eng.name
    assert env["database"].startswith("pvd_") and len(env["database"]) <= 32
    assert env["user"].startswith("pvd_") and len(env["user"]) <= 32
    assert env["host"] == "127.0.0.1" and env["port"] == eng.server.port
    assert env["head_sha"] == pr_payload("opened", 7)["pull_request"]["head"]["sha"]
    assert env["error"] is None
    for key in ("created_at", "updated_at", "expires_at"):
        assert env[key].endswith("Z"), env
    # The claim took a pool database instead of creating one.
    assert len(pool_before - set(idle_pool(eng, d))) >= 1
    if eng.name == "mysql":
        assert env["database"] in pool_before

    url = env["database_url"]
    assert url.startswith(eng.scheme + "://%s:" % env["user"])
    assert url.endswith("@127.0.0.1:%d/%s" % (eng.server.port, env["database"]))
    conn = eng.connect(url)
    cur = conn.cursor()
    cur.execute("CREATE TABLE widgets (id integer PRIMARY KEY, name varchar(20))")
    cur.execute("INSERT INTO widgets VALUES (1, 'gear')")
    cur.execute("SELECT name FROM widgets")
    assert cur.fetchone()[0] == "gear"
    conn.close()

    # The engine's own command-line client takes the same credentials.
    assert eng.cli(url, "SELECT name FROM widgets") == "gear"

    # format=env is what CI appends to $GITHUB_ENV.
    status, hdrs, body = d.env_for(REPO, 7, fmt="env")
    assert status == 200 and hdrs["content-type"].startswith("text/plain")
    # Without [pgbouncer] the direct URL is the one URL, under the three
    # names ORMs and hosts use; there is no pooled URL.
    assert body.decode() == "DATABASE_URL=%s\nDIRECT_URL=%s\nDATABASE_URL_UNPOOLED=%s\n" % (
        url, url, url)
    assert env["direct_url"] == url and env["pooled_url"] is None

    # The pool is refilled in the background.
    wait_until(lambda: len(idle_pool(eng, d)) == 2, what="the pool to refill")

    status, _, _ = d.github_webhook("pull_request", pr_payload("closed", 7))
    assert status == 202
    gone = deleted_env(d, 7)
    assert gone["database_url"] is None and gone["expires_at"] is None
    assert env["database"] not in eng.databases()
    assert env["user"] not in eng.roles()
    eng.assert_refused(url)


def test_merged_drops_database_and_role(engine, previewd_factory):
    d = previewd_factory(engine.config())
    open_pr(d, 8)
    env = ready_env(d, 8)
    d.github_webhook("pull_request", pr_payload("closed", 8, merged=True))
    deleted_env(d, 8)
    assert env["database"] not in engine.databases()
    assert env["user"] not in engine.roles()


def test_sessions_are_ended_on_close(engine, previewd_factory):
    """An open session (a preview app holding a pool) does not block the drop."""
    d = previewd_factory(engine.config())
    open_pr(d, 24)
    env = ready_env(d, 24)
    conn = engine.connect(env["database_url"])
    d.github_webhook("pull_request", pr_payload("closed", 24))
    deleted_env(d, 24)
    assert env["database"] not in engine.databases()
    with pytest.raises(Exception):
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()


def test_repeated_delivery_and_second_opened_keep_one_environment(engine, previewd_factory):
    d = previewd_factory(engine.config())
    payload = pr_payload("opened", 9)
    status, _, _ = d.github_webhook("pull_request", payload, delivery="dup-1")
    assert status == 202
    status, _, again = d.github_webhook("pull_request", payload, delivery="dup-1")
    assert status == 200 and b"duplicate" in again
    env = ready_env(d, 9)

    assert d.github_webhook("pull_request", pr_payload("opened", 9))[0] == 202
    assert d.github_webhook("pull_request", pr_payload("reopened", 9))[0] == 202
    again = ready_env(d, 9)
    assert again["id"] == env["id"]
    assert again["database_url"] == env["database_url"]
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert [e["number"] for e in listing["data"]] == [9]
    assert live_databases(d) == {env["database"]}
    assert engine.env_roles() == [env["user"]]
    assert engine.can_connect(env["database_url"])


def test_synchronize_moves_head_sha(engine, previewd_factory):
    d = previewd_factory(engine.config())
    open_pr(d, 10, sha="a" * 40)
    env = ready_env(d, 10)
    assert env["head_sha"] == "a" * 40
    d.github_webhook("pull_request", pr_payload("synchronize", 10, sha="b" * 40))
    wait_until(lambda: env_now(d, 10)["head_sha"] == "b" * 40, what="head_sha to move")
    assert ready_env(d, 10)["database_url"] == env["database_url"]


def test_two_pull_requests_cannot_cross_connect(engine, previewd_factory):
    d = previewd_factory(engine.config())
    open_pr(d, 11)
    open_pr(d, 12)
    a, b = ready_env(d, 11), ready_env(d, 12)
    assert a["database"] != b["database"] and a["user"] != b["user"]
    assert a["database_url"] != b["database_url"]
    # A's credentials against B's database, and the reverse.
    a_on_b = a["database_url"].rsplit("/", 1)[0] + "/" + b["database"]
    b_on_a = b["database_url"].rsplit("/", 1)[0] + "/" + a["database"]
    for url in (a_on_b, b_on_a):
        err = engine.connect_error(url)
        assert err is not None and ("permission denied" in err or "Access denied" in err), err
    # Nor can they reach an idle pool database.
    wait_until(lambda: len(idle_pool(engine, d)) >= 1, what="an idle pool database")
    pool_url = a["database_url"].rsplit("/", 1)[0] + "/" + idle_pool(engine, d)[0]
    engine.assert_refused(pool_url)


def test_credentials_are_encrypted_at_rest_and_never_logged(engine, previewd_factory):
    d = previewd_factory(engine.config())
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
    # The server received a hash or verifier, never the password itself.
    conn = engine.server.connect()
    try:
        cur = conn.cursor()
        if engine.name == "postgres":
            cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (env["user"],))
            assert cur.fetchone()[0].startswith("SCRAM-SHA-256$")
        else:
            cur.execute("SELECT authentication_string FROM mysql.user WHERE user = %s",
                        (env["user"],))
            stored = cur.fetchone()[0]
            assert stored.startswith("*") and password not in stored
    finally:
        conn.close()


def test_ci_waits_before_the_webhook_arrives(engine, previewd_factory):
    d = previewd_factory(engine.config())
    result = {}

    def poll():
        result["answer"] = d.env_for(REPO, 15, wait=60, fmt="env")

    t = threading.Thread(target=poll)
    t.start()
    open_pr(d, 15)
    t.join(90)
    assert not t.is_alive()
    status, _, body = result["answer"]
    assert status == 200 and body.startswith(b"DATABASE_URL=" + engine.scheme.encode() + b"://")


def test_reopened_after_close_gets_a_new_database(engine, previewd_factory):
    d = previewd_factory(engine.config())
    open_pr(d, 18)
    first = ready_env(d, 18)
    d.github_webhook("pull_request", pr_payload("closed", 18))
    deleted_env(d, 18)
    d.github_webhook("pull_request", pr_payload("reopened", 18))
    second = ready_env(d, 18)
    assert second["id"] == first["id"]
    assert second["database_url"] != first["database_url"]   # a fresh password
    assert engine.can_connect(second["database_url"])
    engine.assert_refused(first["database_url"])


def test_cold_path_without_a_pool(engine, previewd_factory):
    d = previewd_factory(engine.config(pool_size=0))
    open_pr(d, 19)
    env = ready_env(d, 19)
    assert engine.databases("pvd_pool_") == []
    assert not env["database"].startswith("pvd_pool_")
    assert engine.can_connect(env["database_url"])
    assert "creating %s cold" % env["database"] in d.log()


def test_pool_refills_after_claims(engine, previewd_factory):
    d = previewd_factory(engine.config(pool_size=3))
    wait_until(lambda: len(idle_pool(engine, d)) == 3, what="the pool to fill")
    for n in (31, 32, 33, 34):
        open_pr(d, n)
    envs = [ready_env(d, n) for n in (31, 32, 33, 34)]
    assert len({e["database"] for e in envs}) == 4
    wait_until(lambda: len(idle_pool(engine, d)) == 3, what="the pool to refill")
    assert "pool database" in d.log()


def test_ttl_expiry_reaps(engine, previewd_factory):
    cfg = engine.config(ttl="2s")
    cfg["reaper"] = {"interval": "1s"}
    d = previewd_factory(cfg)
    open_pr(d, 20)
    env = ready_env(d, 20)
    gone = deleted_env(d, 20)
    assert "expired" in gone["error"]
    assert env["database"] not in engine.databases()
    assert env["user"] not in engine.roles()


def test_close_during_provisioning_leaves_nothing(engine, previewd_factory, tmp_path):
    gate = tmp_path / "gate"
    d = previewd_factory(engine.config(),
                         env={"PREVIEWD_FAULTS": "claim.before=wait:%s" % gate})
    wait_until(lambda: len(idle_pool(engine, d)) == 2, what="the pool to fill")
    open_pr(d, 21)
    # The worker has recorded its claim and stands just before the server.
    wait_until(lambda: Path(str(gate) + ".reached").exists(), what="claim to be reached")
    status, _, _ = d.github_webhook("pull_request", pr_payload("closed", 21))
    assert status == 202
    gate.touch()
    gone = deleted_env(d, 21)
    assert gone["database"] not in engine.databases()
    assert gone["user"] not in engine.roles()
    # Nothing of previewd's is left but the (refilled) pool.
    wait_until(lambda: len(idle_pool(engine, d)) == 2, what="the pool to refill")
    assert engine.databases() == idle_pool(engine, d)
    assert engine.env_roles() == []


@pytest.mark.parametrize("point", ["claim.before", "claim.after"])
def test_kill9_during_provisioning_then_restart_becomes_ready(engine, previewd_factory, point):
    d = previewd_factory(engine.config(), start=False)
    d.start(extra_env={"PREVIEWD_FAULTS": "%s=kill" % point})
    wait_until(lambda: len(idle_pool(engine, d)) == 2, what="the pool to fill")
    open_pr(d, 22)
    wait_until(lambda: not d.alive(), what="previewd to die at %s" % point)
    d.expected_exit = True
    d.start()
    env = ready_env(d, 22)
    assert engine.can_connect(env["database_url"])
    # Exactly one database for the pull request, one user, no stray claims.
    wait_until(lambda: len(idle_pool(engine, d)) == 2, what="the pool to refill")
    assert live_databases(d) == {env["database"]}
    assert sorted(engine.databases()) == sorted(idle_pool(engine, d) + [env["database"]])
    assert engine.env_roles() == [env["user"]]


def test_sigterm_exits_zero_and_work_resumes(engine, previewd_factory, tmp_path):
    gate = tmp_path / "gate"
    d = previewd_factory(engine.config(),
                         env={"PREVIEWD_FAULTS": "claim.before=wait:%s" % gate})
    open_pr(d, 23)
    wait_until(lambda: Path(str(gate) + ".reached").exists(), what="claim to be reached")
    d.send_signal(signal.SIGTERM)
    gate.touch()
    assert d.stop() == 0
    d.env = {}
    d.start()
    assert ready_env(d, 23)["status"] == "ready"


# ---- one engine --------------------------------------------------------------

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


def test_postgres_role_owns_its_database_and_nothing_else(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    open_pr(d, 25)
    env = ready_env(d, 25)
    conn = pg.connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                    "WHERE r.rolname = %s", (env["user"],))
        assert [r[0] for r in cur.fetchall()] == [env["database"]]
        cur.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles "
                    "WHERE rolname = %s", (env["user"],))
        assert cur.fetchone() == (False, False, False, True)
        cur.execute("SELECT has_database_privilege('public', %s, 'CONNECT')",
                    (env["database"],))
        assert cur.fetchone()[0] is False
    finally:
        conn.close()


def test_mysql_user_is_granted_its_database_only(mariadb, previewd_factory):
    engine = EngineUnderTest("mysql", mariadb)
    d = previewd_factory(engine.config())
    open_pr(d, 26)
    env = ready_env(d, 26)
    conn = engine.connect(env["database_url"])
    try:
        cur = conn.cursor()
        cur.execute("SHOW GRANTS")
        grants = [r[0] for r in cur.fetchall()]
        cur.execute("SHOW DATABASES")
        visible = {r[0] for r in cur.fetchall()}
    finally:
        conn.close()
    assert any("GRANT USAGE ON *.*" in g for g in grants), grants
    on_dbs = [g for g in grants if "ALL PRIVILEGES" in g]
    assert len(on_dbs) == 1 and env["database"].replace("_", "\\_") in on_dbs[0], grants
    assert visible == {"information_schema", env["database"]}
