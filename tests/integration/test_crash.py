"""Crash-safe at every step, on PostgreSQL and on MariaDB: previewd killed
with SIGKILL in the middle of a migration file, in the middle of the seed,
between a file and its record, before and after the drop; restarted; and
checked for what a user checks: the environment ready with every file
applied once and the seed's rows once (or gone, database and role), the
URL working, nothing else of previewd's left on the server.

Two ways to kill: from outside (the test watches the server until the
environment's role is inside a file that sleeps, then kills previewd, as a
power cut or an OOM kill would) and at the named fault points
(PREVIEWD_FAULTS=point=kill, see tests/README.md).

MariaDB commits DDL statement by statement, so a file cut short leaves
its first statements behind; previewd records an intent before each file
and rebuilds the database from empty when it finds one unfinished (the
environment's `error` says so). PostgreSQL runs each file with its record
in one transaction, so the file simply runs again.
"""

import pytest

from previewd import pr_payload, wait_until

REPO = "acme/shop"
TOKEN = "ghp_crash_test_token"
SHA1, SHA2 = "1" * 40, "2" * 40

# Long enough for the test to see it and kill previewd; on PostgreSQL the
# killed backend holds its locks until the sleep ends, so the restarted
# run waits for it: keep it short.
SLEEP_S = 4


def sleep_sql(engine):
    if engine.name == "postgres":
        return "SELECT pg_sleep(%d);\n" % SLEEP_S
    return "DO SLEEP(%d);\n" % SLEEP_S


def migrations(engine, slow=None):
    """Three files; with slow=N the N-th sleeps between two tables."""
    files = {
        "db/migrations/001_one.sql":
            "CREATE TABLE t1 (id integer PRIMARY KEY);\n"
            "INSERT INTO t1 (id) VALUES (1);\n",
        "db/migrations/002_two.sql":
            "CREATE TABLE t2 (id integer PRIMARY KEY);\n"
            "INSERT INTO t2 (id) VALUES (1);\n"
            + (sleep_sql(engine) if slow == 2 else "")
            + "CREATE TABLE t2b (id integer PRIMARY KEY);\n",
        "db/migrations/003_three.sql":
            "CREATE TABLE t3 (id integer PRIMARY KEY);\n",
    }
    return files


def seed(engine, slow=False):
    return ("INSERT INTO t1 (id) VALUES (2);\n"
            + (sleep_sql(engine) if slow else "")
            + "INSERT INTO t1 (id) VALUES (3);\n")


def start(engine, forge, previewd_factory, env=None, pool_size=1):
    forge.github_token = TOKEN
    cfg = engine.config(pool_size=pool_size, migrations="repo:db/migrations",
                        seed="repo:db/seed.sql")
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    d = previewd_factory(cfg, start=False)
    d.start(extra_env=env)
    return d


def open_pr(d, number, sha=SHA1, action="opened"):
    status, _, body = d.github_webhook("pull_request", pr_payload(action, number, sha=sha))
    assert status == 202, body


def env_now(d, number):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (REPO, number),
                              token=d.ci_token)
    assert status == 200, body
    return body


def settled(d, number, sha=SHA1, timeout=90):
    wait_until(lambda: (lambda e: e["status"] in ("ready", "failed") and
                        e["head_sha"] == sha)(env_now(d, number)),
               timeout=timeout, what="pull request %d settled at %s" % (number, sha[:7]))
    return env_now(d, number)


def query(engine, url, sql):
    conn = engine.connect(url)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def role_is_sleeping(engine, role):
    """Whether a session of role is inside a sleep right now."""
    conn = engine.server.connect()
    try:
        cur = conn.cursor()
        if engine.name == "postgres":
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                        "AND state = 'active' AND query LIKE %s", (role, "%pg_sleep%"))
        else:
            cur.execute("SELECT count(*) FROM information_schema.processlist "
                        "WHERE user = %s AND info LIKE %s", (role, "%SLEEP%"))
        return cur.fetchone()[0] > 0
    finally:
        conn.close()


def environment_role(d, number):
    """The role (user) of the pull request's environment, from the state
    file: it is recorded before the server is touched."""
    import sqlite3
    conn = sqlite3.connect(d.config["server"]["state_path"])
    try:
        row = conn.execute("SELECT role_name FROM environments WHERE repo = ? AND number = ?",
                           (REPO, number)).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def assert_whole(engine, d, env, rebuilt_file=None):
    """Ready, every file once, the seed's rows once, nothing else left."""
    assert env["status"] == "ready", env
    url = env["database_url"]
    assert engine.can_connect(url) is True
    assert query(engine, url, "SELECT name FROM previewd_migrations ORDER BY name") == [
        ("(seed)",), ("001_one.sql",), ("002_two.sql",), ("003_three.sql",)]
    assert query(engine, url, "SELECT id FROM t1 ORDER BY id") == [(1,), (2,), (3,)]
    assert query(engine, url, "SELECT id FROM t2 ORDER BY id") == [(1,)]
    query(engine, url, "SELECT count(*) FROM t2b")
    query(engine, url, "SELECT count(*) FROM t3")
    if rebuilt_file is not None:
        assert env["error"] is not None and env["error"].startswith("rebuilt at "), env
        assert rebuilt_file in env["error"] and "did not finish" in env["error"], env
        assert "rebuilding %s" % env["database"] in d.log()
    else:
        assert env["error"] is None, env
    # One database and one role for the pull request; the rest is the
    # pool (of one).
    wait_until(lambda: len(engine.databases()) == 2, what="the pool to refill")
    assert env["database"] in engine.databases()
    assert engine.env_roles() == [env["user"]]


# ---- killed from outside while the server runs the file ---------------------

def test_killed_while_a_migration_file_runs(engine, forge, previewd_factory):
    forge.set_tree(REPO, SHA1, dict(migrations(engine, slow=2),
                                    **{"db/seed.sql": seed(engine)}))
    d = start(engine, forge, previewd_factory)
    open_pr(d, 1)
    wait_until(lambda: environment_role(d, 1) is not None, what="the claim")
    role = environment_role(d, 1)
    wait_until(lambda: role_is_sleeping(engine, role), timeout=60,
               what="002_two.sql to be running")
    assert d.kill9() == -9
    d.start()
    env = settled(d, 1, timeout=120)
    assert_whole(engine, d, env,
                 rebuilt_file=None if engine.name == "postgres" else "002_two.sql")


def test_killed_while_the_seed_runs(engine, forge, previewd_factory):
    forge.set_tree(REPO, SHA1, dict(migrations(engine),
                                    **{"db/seed.sql": seed(engine, slow=True)}))
    d = start(engine, forge, previewd_factory)
    open_pr(d, 2)
    wait_until(lambda: environment_role(d, 2) is not None, what="the claim")
    role = environment_role(d, 2)
    wait_until(lambda: role_is_sleeping(engine, role), timeout=60,
               what="the seed to be running")
    assert d.kill9() == -9
    d.start()
    env = settled(d, 2, timeout=120)
    # The seed's first row had committed on MariaDB before the kill: it
    # must exist once, not twice, and the seed's last row once.
    assert_whole(engine, d, env,
                 rebuilt_file=None if engine.name == "postgres" else "the seed")


def test_killed_while_migrating_a_ready_environment_to_a_new_commit(engine, forge,
                                                                    previewd_factory):
    base = migrations(engine)
    forge.set_tree(REPO, SHA1, dict(base, **{"db/seed.sql": seed(engine)}))
    pushed = dict(base, **{"db/seed.sql": seed(engine),
                           "db/migrations/004_four.sql":
                               "CREATE TABLE t4 (id integer PRIMARY KEY);\n"
                               "INSERT INTO t4 (id) VALUES (1);\n" + sleep_sql(engine)
                               + "INSERT INTO t4 (id) VALUES (2);\n"})
    forge.set_tree(REPO, SHA2, pushed)
    d = start(engine, forge, previewd_factory)
    open_pr(d, 3)
    first = settled(d, 3)
    assert first["status"] == "ready", first
    open_pr(d, 3, sha=SHA2, action="synchronize")
    wait_until(lambda: role_is_sleeping(engine, first["user"]), timeout=60,
               what="004_four.sql to be running")
    assert d.kill9() == -9
    d.start()
    env = settled(d, 3, sha=SHA2, timeout=120)
    assert env["status"] == "ready", env
    assert env["database_url"] == first["database_url"]     # same credentials
    url = env["database_url"]
    assert query(engine, url, "SELECT name FROM previewd_migrations ORDER BY name") == [
        ("(seed)",), ("001_one.sql",), ("002_two.sql",), ("003_three.sql",),
        ("004_four.sql",)]
    assert query(engine, url, "SELECT id FROM t4 ORDER BY id") == [(1,), (2,)]
    assert query(engine, url, "SELECT id FROM t1 ORDER BY id") == [(1,), (2,), (3,)]
    if engine.name == "postgres":
        assert env["error"] is None, env
    else:
        assert env["error"].startswith("rebuilt at %s" % SHA2[:12]), env
        assert "migration 004_four.sql did not finish" in env["error"], env


# ---- killed at the fault points ---------------------------------------------

@pytest.mark.parametrize("point", [
    "migrate.before_file@2",     # 001 applied and recorded, 002 about to run
    "migrate.before_record@2",   # 002 ran, its record not yet written
    "seed.before_file",          # migrations done, the seed about to run
    "migrate.before_record@4",   # the seed ran (record 4), its record not yet
])
def test_kill9_at_each_step_of_migrating_and_seeding(engine, forge, previewd_factory,
                                                     point):
    forge.set_tree(REPO, SHA1, dict(migrations(engine), **{"db/seed.sql": seed(engine)}))
    d = start(engine, forge, previewd_factory, env={"PREVIEWD_FAULTS":
                                                    point.replace("@", "=kill@")
                                                    if "@" in point else point + "=kill"})
    open_pr(d, 4)
    wait_until(lambda: not d.alive(), what="previewd to die at %s" % point)
    d.expected_exit = True
    d.start()
    env = settled(d, 4)
    cut_short = {"migrate.before_record@2": "002_two.sql",
                 "migrate.before_record@4": "the seed"}.get(point)
    assert_whole(engine, d, env,
                 rebuilt_file=cut_short if engine.name != "postgres" else None)


@pytest.mark.parametrize("point", ["drop.before", "drop.after"])
def test_kill9_around_the_drop_then_gone(engine, forge, previewd_factory, point):
    forge.set_tree(REPO, SHA1, dict(migrations(engine), **{"db/seed.sql": seed(engine)}))
    d = start(engine, forge, previewd_factory, env={"PREVIEWD_FAULTS": point + "=kill"})
    open_pr(d, 5)
    env = settled(d, 5)
    assert env["status"] == "ready", env
    open_pr(d, 5, action="closed")
    wait_until(lambda: not d.alive(), what="previewd to die at %s" % point)
    d.expected_exit = True
    d.start()
    wait_until(lambda: env_now(d, 5)["status"] == "deleted", timeout=60,
               what="the environment to be deleted")
    assert env["database"] not in engine.databases()
    assert env["user"] not in engine.roles()
    assert engine.can_connect(env["database_url"]) is not True
    # Nothing of previewd's is left but the pool.
    wait_until(lambda: len(engine.databases()) == 1, what="only the pool left")
    assert engine.env_roles() == []


# ---- a file that failed part-way, then fixed --------------------------------

def test_a_file_that_failed_part_way_is_rebuilt_when_fixed(engine, forge, previewd_factory):
    broken = dict(migrations(engine), **{"db/seed.sql": seed(engine)})
    broken["db/migrations/002_two.sql"] = (
        "CREATE TABLE t2 (id integer PRIMARY KEY);\n"
        "INSERT INTO t2 (id) VALUES (1);\n"
        "INSERT INTO no_such_table (id) VALUES (1);\n")
    fixed = dict(migrations(engine), **{"db/seed.sql": seed(engine)})
    forge.set_tree(REPO, SHA1, broken)
    forge.set_tree(REPO, SHA2, fixed)
    d = start(engine, forge, previewd_factory)
    open_pr(d, 6)
    failed = settled(d, 6)
    assert failed["status"] == "failed", failed
    assert "migration 002_two.sql failed" in failed["error"], failed
    # The fix is pushed: on MariaDB t2 and its row are still there from the
    # failed run; running 002 again on top would fail "already exists".
    open_pr(d, 6, sha=SHA2, action="synchronize")
    env = settled(d, 6, sha=SHA2)
    assert_whole(engine, d, env,
                 rebuilt_file=None if engine.name == "postgres" else "002_two.sql")
