"""The pull request's SQL cannot stall previewd, on PostgreSQL and MariaDB.

- More never-ending migrations than workers: another pull request is
  still claimed and ready at once, a closed one disappears in seconds
  (its running statement cancelled on the server), the pool refills.
- A migration past its migration_timeout ([server] or [repo:...]) is
  cancelled on the server and the environment ends `failed` naming the
  file and the timeout.
- A migration that floods previewd's record table with rows: previewd
  reads it with a bound and fails clearly, its memory stays flat.
"""

import os

import pytest

from previewd import pr_payload, wait_until

TOKEN = "ghp_slow_sql_token"
SHA1, SHA2 = "1" * 40, "2" * 40


def forever_sql(engine):
    if engine.name == "postgres":
        return "SELECT pg_sleep(3600);\n"
    return "DO SLEEP(3600);\n"


def sleep_sql(engine, seconds):
    if engine.name == "postgres":
        return "SELECT pg_sleep(%d);\n" % seconds
    return "DO SLEEP(%d);\n" % seconds


def base_config(engine, forge, pool_size=2, **shop):
    forge.github_token = TOKEN
    cfg = engine.config(pool_size=pool_size, **shop)
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    return cfg


def push(d, action, number, repo, sha=SHA1):
    status, _, body = d.github_webhook("pull_request",
                                       pr_payload(action, number, repo=repo, sha=sha))
    assert status == 202, body


def env_now(d, repo, number):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (repo, number),
                              token=d.ci_token)
    assert status == 200, body
    return body


def status_of(d, repo, number):
    return env_now(d, repo, number)["status"]


def sessions_of(engine, role, like):
    """How many of role's sessions run a statement matching like."""
    conn = engine.server.connect()
    try:
        cur = conn.cursor()
        if engine.name == "postgres":
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                        "AND state = 'active' AND query LIKE %s", (role, like))
        else:
            cur.execute("SELECT count(*) FROM information_schema.processlist "
                        "WHERE user = %s AND info LIKE %s", (role, like))
        return cur.fetchone()[0]
    finally:
        conn.close()


def role_of(d, repo, number):
    import sqlite3
    conn = sqlite3.connect(d.config["server"]["state_path"])
    try:
        row = conn.execute("SELECT role_name FROM environments WHERE repo = ? AND number = ?",
                           (repo, number)).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def idle_pool(d):
    import sqlite3
    conn = sqlite3.connect(d.config["server"]["state_path"])
    try:
        return conn.execute("SELECT COUNT(*) FROM pool WHERE state = 'idle'").fetchone()[0]
    finally:
        conn.close()


def sleep_pattern(engine):
    return "%pg_sleep%" if engine.name == "postgres" else "%SLEEP%"


def test_more_never_ending_migrations_than_workers(engine, forge, previewd_factory):
    # Two workers: one is the fast lane, one runs SQL. Two pull requests
    # whose migration never ends are one more than the SQL workers.
    forge.set_tree("acme/slow", SHA1, {"db/migrations/001_forever.sql":
                                       "CREATE TABLE t (id integer);\n" + forever_sql(engine)})
    cfg = base_config(engine, forge)
    cfg["repo:acme/slow"] = dict(cfg["repo:acme/shop"], migrations="repo:db/migrations")
    cfg["server"] = {"workers": "2"}
    d = previewd_factory(cfg)
    pattern = sleep_pattern(engine)
    push(d, "opened", 1, "acme/slow")
    push(d, "opened", 2, "acme/slow")
    wait_until(lambda: role_of(d, "acme/slow", 1) and role_of(d, "acme/slow", 2),
               what="both claims recorded")
    roles = {n: role_of(d, "acme/slow", n) for n in (1, 2)}
    wait_until(lambda: any(sessions_of(engine, r, pattern) for r in roles.values()),
               timeout=60, what="a never-ending migration to be running")
    running = next(n for n, r in roles.items() if sessions_of(engine, r, pattern))
    waiting = 3 - running
    assert status_of(d, "acme/slow", running) == "migrating"
    # The other was claimed too (the fast lane) and waits for a SQL worker.
    wait_until(lambda: status_of(d, "acme/slow", waiting) == "migrating", timeout=60,
               what="the second one claimed and waiting to migrate")

    # A pull request without migrations is claimed and ready meanwhile.
    push(d, "opened", 3, "acme/shop")
    wait_until(lambda: status_of(d, "acme/shop", 3) == "ready", timeout=60,
               what="acme/shop#3 ready beside the stuck migrations")
    # The pool the three claims emptied is refilled by the fast lane.
    wait_until(lambda: idle_pool(d) == 2, timeout=60, what="the pool to refill")

    # Closing the one whose statement runs cancels it on the server and
    # drops its database and role within seconds.
    gone = env_now(d, "acme/slow", running)
    push(d, "closed", running, "acme/slow")
    wait_until(lambda: status_of(d, "acme/slow", running) == "deleted", timeout=60,
               what="the running one deleted")
    assert gone["database"] not in engine.databases()
    assert gone["user"] not in engine.roles()
    wait_until(lambda: sessions_of(engine, roles[running], "%") == 0, timeout=10,
               what="no session of the deleted role left")
    # The other one now runs its own never-ending migration; close it too.
    wait_until(lambda: sessions_of(engine, roles[waiting], pattern) > 0, timeout=60,
               what="the second migration to start")
    push(d, "closed", waiting, "acme/slow")
    wait_until(lambda: status_of(d, "acme/slow", waiting) == "deleted", timeout=60,
               what="the second one deleted")
    wait_until(lambda: sessions_of(engine, roles[waiting], "%") == 0, timeout=10,
               what="no session of the second role left")
    assert status_of(d, "acme/shop", 3) == "ready"
    assert "cancelled on the server" in d.log()


@pytest.mark.parametrize("where", ["server", "repo"])
def test_a_migration_past_its_timeout_fails_naming_the_file(engine, forge, previewd_factory,
                                                            where):
    forge.set_tree("acme/shop", SHA1, {
        "db/migrations/001_fast.sql": "CREATE TABLE a (id integer);\n",
        "db/migrations/002_slow.sql": "CREATE TABLE b (id integer);\n" + sleep_sql(engine, 120),
    })
    cfg = base_config(engine, forge, migrations="repo:db/migrations")
    if where == "server":
        cfg["server"] = {"migration_timeout": "2s"}
    else:
        cfg["server"] = {"migration_timeout": "1h"}
        cfg["repo:acme/shop"]["migration_timeout"] = "2s"
    d = previewd_factory(cfg)
    push(d, "opened", 5, "acme/shop")
    wait_until(lambda: status_of(d, "acme/shop", 5) == "failed", timeout=60,
               what="the environment to fail")
    env = env_now(d, "acme/shop", 5)
    assert env["error"] == ("migration 002_slow.sql timed out after 2s (migration_timeout) "
                            "and was cancelled on the server"), env
    # Nothing of it still runs on the server.
    wait_until(lambda: sessions_of(engine, env["user"], sleep_pattern(engine)) == 0,
               timeout=10, what="the statement to be gone from the server")


def peak_rss_kib(d):
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def flood_sql(engine, rows):
    if engine.name == "postgres":
        return ("INSERT INTO previewd_migrations (name, checksum) "
                "SELECT 'flood_' || g || repeat('x', 200), repeat('y', 64) "
                "FROM generate_series(1, %d) AS g;\n" % rows)
    return ("INSERT INTO previewd_migrations (name, checksum) "
            "SELECT CONCAT('flood_', seq, REPEAT('x', 200)), REPEAT('y', 64) "
            "FROM seq_1_to_%d;\n" % rows)


def test_a_flooded_migration_record_is_read_with_a_bound(engine, forge, previewd_factory):
    forge.set_tree("acme/shop", SHA1, {
        "db/migrations/001_flood.sql": flood_sql(engine, 300000),
        "db/seed.sql": "SELECT 1;\n",
    })
    cfg = base_config(engine, forge, migrations="repo:db/migrations", seed="repo:db/seed.sql")
    d = previewd_factory(cfg)
    wait_until(lambda: idle_pool(d) == 2, what="the pool to fill")
    before = peak_rss_kib(d)
    push(d, "opened", 6, "acme/shop")
    # The seed step reads the record back: 300,001 rows, past the bound.
    wait_until(lambda: status_of(d, "acme/shop", 6) == "failed", timeout=120,
               what="the environment to fail")
    env = env_now(d, "acme/shop", 6)
    assert "previewd_migrations holds more than 1001 rows" in env["error"], env
    # Reading all 300,000 rows took previewd from 18 MB to 226 MB. Under
    # AddressSanitizer the process starts bigger and keeps freed memory in
    # its quarantine (seen: +37 MB here), so there only the growth is
    # bounded, and more loosely.
    peak = peak_rss_kib(d)
    sanitized = bool(os.environ.get("ASAN_OPTIONS"))
    assert peak - before < (64 if sanitized else 32) * 1024, \
        "previewd grew from %d to %d KiB reading the record" % (before, peak)
    if not sanitized:
        assert peak < 64 * 1024, "previewd peaked at %d KiB reading the record" % peak
