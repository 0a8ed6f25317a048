"""A fleet's worth (issue 26): a database server holding more objects with
previewd's prefix than the orphan sweep once could (16,384), and forges
with more open pull requests on a repository, and more repositories,
than the reconciliation once read (1,000 and 256).

The sweep must still drop the orphans past their grace and keep
everything the state knows; the reconciliation must read every page of
an open list, ask for it again with each page's ETag (304: free on
GitHub), and give every repository its turn.
"""

import re
import secrets
import sqlite3
import time

import pytest

from previewd import pr_payload, wait_until
from test_faults import deleted, env_now, fast_reaper, ready
from test_gitlab_vercel import PROJECT, gitlab_daemon, gitlab_post, gl_env, mr_hook

REPO = "acme/shop"
TOKEN = "ghp_fleet_token"
BULK = 20500            # past the old cap of 16,384, and past 20,000
PASS = re.compile(r"sweep of (\w+): (\d+) databases and (\d+) roles listed, "
                  r"(\d+) sizes measured, in (\d+) ms")


def bulk_roles(engine, n, drop=False):
    """n roles (MariaDB: users) pvd_bulk_00001... made, or dropped, by
    previewd's own admin account, as strays a crash left would be, in
    batches (a server-side loop on PostgreSQL)."""
    conn = engine.server.connect(user="previewd")
    try:
        cur = conn.cursor()
        if engine.name == "postgres":
            # A transaction holds a lock per role dropped: 2,000 at a time.
            for k in range(1, n + 1, 2000):
                cur.execute("DO $$ BEGIN FOR i IN %d..%d LOOP EXECUTE format('%s %%I', "
                            "'pvd_bulk_' || lpad(i::text, 5, '0')); END LOOP; END $$"
                            % (k, min(n, k + 1999),
                               "DROP ROLE IF EXISTS" if drop else "CREATE ROLE"))
        else:
            names = ["'pvd_bulk_%05d'@'%%'" % i for i in range(1, n + 1)]
            for k in range(0, n, 500):
                cur.execute(("DROP USER IF EXISTS " if drop else "CREATE USER ")
                            + ", ".join(names[k:k + 500]))
    finally:
        conn.close()


def count_bulk(engine):
    conn = engine.server.connect()
    try:
        cur = conn.cursor()
        if engine.name == "postgres":
            cur.execute(r"SELECT count(*) FROM pg_roles WHERE rolname LIKE 'pvd\_bulk\_%'")
        else:
            cur.execute(r"SELECT count(*) FROM mysql.user WHERE User LIKE 'pvd\\_bulk\\_%'")
        return cur.fetchone()[0]
    finally:
        conn.close()


def make_stray(engine, database=None, role=None):
    conn = engine.server.connect(user="previewd")
    try:
        cur = conn.cursor()
        if database:
            cur.execute("CREATE DATABASE %s" % database)
        if role and engine.name == "postgres":
            cur.execute("CREATE ROLE %s" % role)
        elif role:
            cur.execute("CREATE USER '%s'@'%%' IDENTIFIED BY 'x'" % role)
    finally:
        conn.close()


def passes(d, engine):
    """(databases, roles, ms) of each sweep pass of engine logged so far."""
    return [(int(m.group(2)), int(m.group(3)), int(m.group(5)))
            for m in PASS.finditer(d.log()) if m.group(1) == engine]


def test_a_sweep_past_the_old_cap_drops_only_orphans_past_their_grace(
        engine, previewd_factory):
    cfg = engine.config(pool_size=1)
    cfg["reaper"] = {"interval": "1s", "orphan_grace": "1h"}
    cfg["server"] = {"log_level": "debug"}      # each pass's duration
    d = previewd_factory(cfg)
    for n in (1, 2):
        assert d.github_webhook("pull_request", pr_payload("opened", n))[0] == 202
    envs = [ready(d, n) for n in (1, 2)]
    try:
        bulk_roles(engine, BULK)
        # Strays a previous run saw two hours ago (past the grace), and one
        # made now (within it).
        make_stray(engine, database="pvd_old_stray_a", role="pvd_old_stray_role")
        make_stray(engine, database="pvd_old_stray_b")
        make_stray(engine, database="pvd_young_stray")
        assert d.stop() == 0
        state = sqlite3.connect(d.config["server"]["state_path"])
        then = int(time.time()) - 7200
        state.executemany(
            "INSERT INTO orphans (engine, kind, name, first_seen, seen_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "first_seen = excluded.first_seen",
            [(engine.name, kind, name, then, then) for kind, name in (
                ("database", "pvd_old_stray_a"), ("database", "pvd_old_stray_b"),
                ("role", "pvd_old_stray_role"))])
        state.commit()
        state.close()
        d.start()
        wait_until(lambda: not {"pvd_old_stray_a", "pvd_old_stray_b"} &
                   set(engine.databases("pvd_old")), timeout=120,
                   what="the strays past their grace to be dropped")
        wait_until(lambda: "pvd_old_stray_role" not in engine.roles("pvd_old"), timeout=60,
                   what="the stray role past its grace to be dropped")
        # A whole pass over the server, after the drops.
        wait_until(lambda: any(r >= BULK for _, r, _ in passes(d, engine.name)[1:]),
                   timeout=120, what="a complete pass over %d roles" % BULK)
        log = d.log()
        assert "cannot compare the server with the state" not in log
        assert "orphan database pvd_old_stray_a dropped" in log
        assert "orphan role pvd_old_stray_role dropped" in log
        # Within the grace: kept, and remembered, every one of them.
        assert count_bulk(engine) == BULK
        assert "pvd_young_stray" in engine.databases("pvd_young")
        state = sqlite3.connect(d.config["server"]["state_path"])
        try:
            remembered = state.execute(
                "SELECT count(*) FROM orphans WHERE engine = ? AND first_seen > ?",
                (engine.name, then)).fetchone()[0]
        finally:
            state.close()
        assert remembered == BULK + 1
        # The log names a few new strays a pass (20; the roles appear over
        # several passes on MariaDB) and counts the rest.
        assert log.count("is unknown to previewd: dropping it if it still is in") < 500
        assert re.search(r"sweep of %s: \d+ more objects unknown to previewd" % engine.name,
                         log)
        # What the state knows is untouched.
        for n, env in zip((1, 2), envs):
            assert env_now(d, n)["status"] == "ready"
            assert env["database"] in engine.databases()
            assert env["user"] in engine.roles()
            assert engine.can_connect(env["database_url"])
    finally:
        bulk_roles(engine, BULK, drop=True)


def test_reconciliation_reads_every_page_and_asks_again_with_etags(
        pg, pg_config, forge, previewd_factory):
    forge.github_token = TOKEN
    cfg = fast_reaper({k: dict(v) for k, v in pg_config.items()})
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    # 250 open: pages of 100, 100 and 50, newest first (250..151, 150..51,
    # 50..1).
    forge.set_open_pulls(REPO, list(range(1, 251)))
    d = previewd_factory(cfg)
    kept, closed = (240, 150, 5), (300, 301)
    for n in kept + closed:
        assert d.github_webhook("pull_request", pr_payload("opened", n))[0] == 202
    for n in closed:
        assert "no close webhook arrived" in deleted(d, n)["error"]
    for n in kept:
        assert env_now(d, n)["status"] == "ready"

    # Every page read once is asked for again with its ETag, and is 304.
    def conditional_pages():
        return {r.query.get("page", "1") for r in forge.requests_to("GET", r"/pulls$")
                if r.status == 304 and "if-none-match" in r.headers}
    wait_until(lambda: conditional_pages() == {"1", "2", "3"}, timeout=30,
               what="every page answered 304 (got %s)" % conditional_pages())
    assert all(r.query.get("per_page") == "100" for r in forge.requests_to("GET", r"/pulls$"))

    # Pull request 150 closes, its webhook lost: pages 2 and 3 change.
    forge.clear_requests()
    forge.set_open_pulls(REPO, [n for n in range(1, 251) if n != 150])
    assert "no close webhook arrived" in deleted(d, 150)["error"]
    for n in (240, 5):
        assert env_now(d, n)["status"] == "ready"
    answered = {(r.query.get("page", "1"), r.status) for r in forge.requests_to("GET", r"/pulls$")}
    assert {("2", 200), ("3", 200)} <= answered, answered


def test_gitlab_reconciliation_follows_every_page(pg, pg_config, forge, previewd_factory):
    forge.set_open_merge_requests(PROJECT, list(range(1, 131)))   # pages of 100 and 30
    d = gitlab_daemon(pg_config, forge, previewd_factory,
                      sections={"reaper": {"interval": "1s", "orphan_grace": "1s"}})
    for iid in (3, 125, 140):
        assert gitlab_post(d, mr_hook("open", iid))[0] == 202
    wait_until(lambda: gl_env(d, 140)["status"] == "deleted", timeout=90,
               what="merge request 140's environment to be deleted")
    assert "found by the reconciliation" in gl_env(d, 140)["error"]
    for iid in (3, 125):
        assert gl_env(d, iid, wait=60)["status"] == "ready"
    path = r"/projects/%d/merge_requests$" % PROJECT

    def conditional_pages():
        return {r.query.get("page", "1") for r in forge.requests_to("GET", path)
                if r.status == 304 and "if-none-match" in r.headers}
    wait_until(lambda: conditional_pages() == {"1", "2"}, timeout=30,
               what="both pages answered 304 (got %s)" % conditional_pages())
    for iid in (3, 125):
        assert gl_env(d, iid)["status"] == "ready"


def test_every_repository_has_its_turn(pg, pg_config, forge, previewd_factory):
    """300 repositories with environments: more than a pass reconciles
    (256). The ones past the first 256 are reconciled too, in the passes
    after."""
    forge.github_token = TOKEN
    cfg = fast_reaper({k: dict(v) for k, v in pg_config.items()})
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    d = previewd_factory(cfg)
    assert d.stop() == 0
    repos = ["fleet/r%03d" % i for i in range(300)]
    for r in repos:
        forge.set_open_pulls(r, [1])
    forge.set_open_pulls(repos[-1], [])       # the last one's pull request closed
    now = int(time.time())
    # Environments as the state holds them (their databases need not
    # exist: the reconciliation asks only the forge).
    state = sqlite3.connect(d.config["server"]["state_path"])
    state.executemany(
        "INSERT INTO environments (id, provider, repo, number, name, engine, want_present, "
        "event_at, activity_at, expires_at, ttl, status, db_name, role_name, created_at, "
        "updated_at, api_target) VALUES (?, 'github', ?, 1, ?, 'postgres', 1, ?, ?, ?, "
        "259200, 'ready', ?, ?, ?, ?, ?)",
        [("env_" + secrets.token_hex(8), r, "pr-1", now - 3600, now - 3600, now + 86400,
          "pvd_fleet_%03d" % i, "pvd_fleet_%03d" % i, now - 3600, now - 3600, r)
         for i, r in enumerate(repos)])
    state.commit()
    state.close()
    d.start()

    def asked():
        return {r.path.split("/")[3] for r in forge.requests_to("GET", r"^/repos/fleet/[^/]+/pulls$")}
    wait_until(lambda: len(asked()) == 300, timeout=60,
               what="every repository reconciled (%d so far)" % len(asked()))

    def last_wanted():
        state = sqlite3.connect(d.config["server"]["state_path"])
        try:
            return state.execute("SELECT want_present, error FROM environments WHERE repo = ?",
                                 (repos[-1],)).fetchone()
        finally:
            state.close()
    wait_until(lambda: last_wanted()[0] == 0, timeout=30,
               what="the 300th repository's closed pull request acted on")
    assert "found by the reconciliation" in last_wanted()[1]
