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

import psycopg2
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


# ---- a list that misses an open pull request --------------------------------
#
# A pull request that opens or closes while the pages are read shifts the
# later pages by one: the one at a page's edge is on neither page. The
# stub's hide_from_list does what the shift does; previewd must ask for the
# pull request on its own before it deletes anything.

def confirmed(forge, path_regex):
    """The numbers previewd asked for one by one, answered."""
    return [int(r.path.rsplit("/", 1)[1]) for r in forge.requests_to("GET", path_regex)
            if r.status is not None]


def test_an_open_pull_request_the_list_misses_keeps_its_database(
        pg, pg_config, forge, previewd_factory):
    forge.github_token = TOKEN
    cfg = fast_reaper({k: dict(v) for k, v in pg_config.items()})
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    # Pages of 100, newest first: 150..51, then 50..1. Pull request 51,
    # at the first page's edge, is open but on neither page.
    forge.set_open_pulls(REPO, list(range(1, 151)))
    forge.hide_from_list(REPO, 51)
    # 170 is closed, but GitHub answers 404 for it (a repository whose
    # credentials lost sight of it answers the same): no proof, kept.
    forge.fail("GET", r"/pulls/170$", 404, times=None)
    # 160 is closed; the first two times it is asked about, GitHub is down.
    forge.fail("GET", r"/pulls/160$", 502, times=2)
    d = previewd_factory(cfg)
    shifted, listed, gone, unknown = 51, 100, 160, 170
    for n in (shifted, listed, gone, unknown):
        assert d.github_webhook("pull_request", pr_payload("opened", n))[0] == 202
    kept = ready(d, shifted)
    # The user's data, which a wrong delete would lose.
    user_sql(kept, "CREATE TABLE orders (id int); INSERT INTO orders VALUES (42)")
    assert "no close webhook arrived" in deleted(d, gone)["error"]
    assert confirmed(forge, r"/pulls/160$").count(gone) >= 3
    # Several passes, each asking for 51 again and keeping it.
    wait_until(lambda: confirmed(forge, r"/pulls/51$").count(shifted) >= 3, timeout=60,
               what="pull request 51 confirmed open in three passes")
    wait_until(lambda: confirmed(forge, r"/pulls/170$").count(unknown) >= 2, timeout=60,
               what="pull request 170 asked about twice")
    log = d.log()
    assert re.search(r"#51 is open on GitHub though its list left it out \(a page "
                     r"shifted while it was read\): kept", log), log[-3000:]
    assert "GitHub answers 404 for #170 itself: kept" in log
    assert env_now(d, shifted)["status"] == "ready"
    assert user_sql(kept, "SELECT id FROM orders") == [(42,)]
    assert env_now(d, unknown)["status"] in ("ready", "provisioning")
    assert env_now(d, listed)["status"] in ("ready", "provisioning")
    # Only what the list left out is asked about, one request each.
    asked = set(confirmed(forge, r"^/repos/acme/shop/pulls/\d+$"))
    assert asked == {shifted, gone, unknown}, asked
    # Listed again, it is no longer asked about.
    forge.hide_from_list(REPO, shifted, hidden=False)
    forge.clear_requests()
    forge.wait_for("GET", r"/repos/acme/shop/pulls$", count=3)
    assert shifted not in confirmed(forge, r"/pulls/\d+$")
    assert env_now(d, shifted)["status"] == "ready"


def user_sql(env, sql):
    """Run sql in env's database as its user; the rows of a SELECT."""
    conn = psycopg2.connect(env["database_url"], connect_timeout=10)
    try:
        with conn, conn.cursor() as cur:       # commits
            cur.execute(sql)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def test_gitlab_an_open_merge_request_the_list_misses_is_kept(
        pg, pg_config, forge, previewd_factory):
    forge.set_open_merge_requests(PROJECT, list(range(1, 131)))   # 130..31, 30..1
    forge.hide_from_list(PROJECT, 31)
    d = gitlab_daemon(pg_config, forge, previewd_factory,
                      sections={"reaper": {"interval": "1s", "orphan_grace": "1s"}})
    for iid in (31, 125, 140):
        assert gitlab_post(d, mr_hook("open", iid))[0] == 202
    wait_until(lambda: gl_env(d, 140)["status"] == "deleted", timeout=90,
               what="merge request 140's environment to be deleted")
    assert "found by the reconciliation" in gl_env(d, 140)["error"]
    one = r"^/api/v4/projects/%d/merge_requests/\d+$" % PROJECT
    wait_until(lambda: confirmed(forge, one).count(31) >= 3, timeout=60,
               what="merge request 31 confirmed open in three passes")
    assert re.search(r"#31 is open on GitLab though its list left it out", d.log())
    kept = gl_env(d, 31, wait=60)
    assert kept["status"] == "ready"
    assert kept["database"] in pg.databases()
    assert gl_env(d, 125, wait=60)["status"] == "ready"
    assert set(confirmed(forge, one)) == {31, 140}
