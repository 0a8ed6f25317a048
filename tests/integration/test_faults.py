"""Nothing leaks, nothing is lost: crashes, outages, lost webhooks, strays,
out-of-order deliveries, shutdowns, reloads and state upgrades — each a
test, on PostgreSQL and on MariaDB where the server matters.

The promise checked throughout: every database previewd creates is
either an environment's, a pool member, or dropped; every accepted
webhook is acted on, across crashes; an outage delays work, loses none.
"""

import http.client
import json
import re
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import EngineUnderTest
from previewd import pr_payload, wait_until

REPO = "acme/shop"
TOKEN = "ghp_reconcile_token"


def env_now(d, number, repo=REPO):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (repo, number),
                              token=d.ci_token)
    assert status == 200, body
    return body


def ready(d, number, timeout=90):
    wait_until(lambda: env_now(d, number)["status"] == "ready", timeout=timeout,
               what="pull request %d ready" % number)
    return env_now(d, number)


def deleted(d, number, timeout=90):
    wait_until(lambda: env_now(d, number)["status"] == "deleted", timeout=timeout,
               what="pull request %d deleted" % number)
    return env_now(d, number)


def state_pool(d, state="idle"):
    conn = sqlite3.connect(d.config["server"]["state_path"])
    try:
        return sorted(r[0] for r in conn.execute(
            "SELECT db_name FROM pool WHERE state = ?", (state,)))
    finally:
        conn.close()


def only_the_pool_remains(engine, d):
    """The server holds the (idle) pool and nothing else of previewd's."""
    pool = state_pool(d)
    dbs = sorted(engine.databases())
    roles = sorted(engine.roles())
    want_roles = pool if engine.name == "postgres" else []
    return dbs == pool and roles == want_roles


def reaper_runs(d):
    """previewd_reaper_runs_total from /metrics."""
    status, _, body = d.request("GET", "/metrics")
    assert status == 200, body
    m = re.search(rb"^previewd_reaper_runs_total (\d+)$", body, re.M)
    assert m, body
    return int(m.group(1))


def fast_reaper(cfg, grace="1s"):
    cfg["reaper"] = {"interval": "1s", "orphan_grace": grace}
    return cfg


@pytest.mark.parametrize("point", ["pool.before_create@2", "pool.after_create@3",
                                   "claim.before@4", "claim.after@6"])
def test_kill9_during_a_burst_of_ten_then_restart(engine, previewd_factory, point):
    cfg = fast_reaper(engine.config(pool_size=3))
    d = previewd_factory(cfg)
    # The burst starts from a full pool, so that the N-th pass of a pool
    # point is a refill the burst caused, not the first fill.
    wait_until(lambda: len(state_pool(d)) == 3, what="the pool to fill")
    assert d.stop() == 0
    d.start(extra_env={"PREVIEWD_FAULTS": point.replace("@", "=kill@")})
    numbers = list(range(50, 60))
    for n in numbers:
        try:
            status, _, _ = d.github_webhook("pull_request", pr_payload("opened", n))
        except (ConnectionError, OSError, http.client.HTTPException):
            break                       # it died while answering
        assert status == 202 or not d.alive()
        if not d.alive():
            break
    wait_until(lambda: not d.alive(), timeout=60, what="previewd to die at %s" % point)
    d.expected_exit = True
    d.env = {}
    d.start()
    # Deliveries the dead daemon never acknowledged are redelivered, as
    # GitHub's "redeliver" would; acknowledged ones must not be needed.
    for n in numbers:
        if d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (REPO, n),
                      token=d.ci_token)[0] == 404:
            assert d.github_webhook("pull_request", pr_payload("opened", n))[0] == 202
    envs = [ready(d, n) for n in numbers]
    assert len({e["database"] for e in envs}) == 10
    for e in envs:
        assert engine.can_connect(e["database_url"])
    # Close them all; after a sweep the server holds the pool and nothing else.
    for n in numbers:
        d.github_webhook("pull_request", pr_payload("closed", n))
    for n in numbers:
        deleted(d, n)
    wait_until(lambda: only_the_pool_remains(engine, d), timeout=60,
               what="the server to hold only the pool (dbs %s, roles %s, pool %s)"
               % (engine.databases(), engine.roles(), state_pool(d)))


def test_database_server_outage_during_provisioning(engine, previewd_factory):
    d = previewd_factory(engine.config(pool_size=0))
    wait_until(lambda: d.request("GET", "/readyz")[0] == 200, what="readyz 200")
    engine.server.stop_server()
    try:
        for n in (60, 61, 62):
            assert d.github_webhook("pull_request", pr_payload("opened", n))[0] == 202
        # Webhooks keep flowing: /readyz stays 200 and only names the
        # server down (test_readiness.py has the rest).
        wait_until(lambda: b'"%s":"down"' % engine.name.encode() in
                   d.request("GET", "/readyz")[2], what="readyz naming the server down")
        status, _, body = d.request("GET", "/readyz")
        assert status == 200 and b'"ready":true' in body, body
        wait_until(lambda: env_now(d, 60)["error"] is not None, what="the wait explained")
        env = env_now(d, 60)
        assert env["status"] == "provisioning"
        assert env["error"].startswith("waiting for %s: " % engine.name), env["error"]
        time.sleep(10)   # the outage itself lasts 10 s, as specified; not a sync
    finally:
        engine.server.start_server()
    for n in (60, 61, 62):
        assert engine.can_connect(ready(d, n, timeout=120)["database_url"])
    assert env_now(d, 60)["error"] is None
    wait_until(lambda: b'"%s":"ok"' % engine.name.encode() in d.request("GET", "/readyz")[2],
               what="readyz naming the server ok again")


def test_failed_deletes_are_retried_until_they_succeed(engine, previewd_factory):
    d = previewd_factory(engine.config())
    assert d.github_webhook("pull_request", pr_payload("opened", 63))[0] == 202
    env = ready(d, 63)
    engine.server.stop_server()
    try:
        d.github_webhook("pull_request", pr_payload("closed", 63))
        wait_until(lambda: "cannot drop" in d.log(), timeout=30, what="a failed drop")
        assert env_now(d, 63)["status"] == "deleting"
    finally:
        engine.server.start_server()
    deleted(d, 63, timeout=120)
    assert env["database"] not in engine.databases()
    assert env["user"] not in engine.roles()


def test_a_close_webhook_that_never_arrives(pg, pg_config, forge, previewd_factory):
    forge.github_token = TOKEN
    cfg = fast_reaper({k: dict(v) for k, v in pg_config.items()})
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    forge.set_open_pulls(REPO, [70, 71])
    d = previewd_factory(cfg)
    for n in (70, 71):
        assert d.github_webhook("pull_request", pr_payload("opened", n))[0] == 202
    gone, kept = ready(d, 70), ready(d, 71)
    # Pull request 70 is closed on GitHub; its close webhook is lost.
    forge.set_open_pulls(REPO, [71])
    gone = deleted(d, 70, timeout=60)
    assert "no close webhook arrived" in gone["error"]
    assert gone["database"] not in pg.databases()
    assert env_now(d, 71)["status"] == "ready" and kept["database"] in pg.databases()
    # Later lists come with If-None-Match and, unchanged, cost a 304.
    wait_until(lambda: any(r.status == 304 for r in forge.requests_to("GET", r"/pulls$")),
               timeout=30, what="a conditional request answered 304")
    conditional = [r for r in forge.requests_to("GET", r"/pulls$") if r.status == 304]
    assert all("if-none-match" in r.headers for r in conditional)


def test_a_database_made_by_hand_with_the_prefix_is_dropped(engine, previewd_factory):
    """Made with previewd's own admin account, as a crash between CREATE and
    the state file's commit leaves it (or an operator scripting with it)."""
    admin = engine.server.connect(user="previewd")
    try:
        cur = admin.cursor()
        cur.execute("CREATE DATABASE pvd_made_by_hand")
        if engine.name == "postgres":
            cur.execute("CREATE ROLE pvd_stray_role")
        else:
            cur.execute("CREATE USER 'pvd_stray_role'@'%' IDENTIFIED BY 'x'")
    finally:
        admin.close()
    conn = engine.server.connect()
    try:
        cur = conn.cursor()
        cur.execute("CREATE DATABASE myapp_keep_me")
        if engine.name == "postgres":
            cur.execute("CREATE ROLE myapp_role")
        else:
            cur.execute("CREATE USER 'myapp_role'@'%' IDENTIFIED BY 'x'")
    finally:
        conn.close()
    try:
        d = previewd_factory(fast_reaper(engine.config(pool_size=1), grace="3s"))
        wait_until(lambda: "pvd_made_by_hand" not in engine.databases(), timeout=60,
                   what="the stray database to be dropped")
        wait_until(lambda: "pvd_stray_role" not in engine.roles(), timeout=30,
                   what="the stray role to be dropped")
        log = d.log()
        assert "database pvd_made_by_hand on %s is unknown to previewd" % engine.name in log
        assert "orphan database pvd_made_by_hand dropped" in log
        # Names without the prefix are never touched.
        assert "myapp_keep_me" in engine.databases("myapp")
        assert "myapp_role" in engine.roles("myapp")
    finally:
        conn = engine.server.connect()
        try:
            cur = conn.cursor()
            cur.execute("DROP DATABASE IF EXISTS myapp_keep_me")
            if engine.name == "postgres":
                cur.execute("DROP ROLE IF EXISTS myapp_role")
            else:
                cur.execute("DROP USER IF EXISTS 'myapp_role'@'%'")
        finally:
            conn.close()


def test_an_idle_pool_database_dropped_by_hand_is_replaced(engine, previewd_factory):
    """The sweep notices a pool member gone from the server (dropped by
    hand, a restored backup), forgets it and the pool refills; a member
    made while the sweep runs is never taken for a vanished one."""
    d = previewd_factory(fast_reaper(engine.config(pool_size=3)))
    wait_until(lambda: len(state_pool(d)) == 3 and only_the_pool_remains(engine, d),
               what="the pool to fill")
    victim = state_pool(d)[0]
    conn = engine.server.connect()
    try:
        cur = conn.cursor()
        cur.execute("DROP DATABASE %s" % victim)
    finally:
        conn.close()
    wait_until(lambda: victim not in state_pool(d) and len(state_pool(d)) == 3
               and only_the_pool_remains(engine, d), timeout=30,
               what="the pool to forget %s and refill" % victim)
    log = d.log()
    assert "pool database %s is gone from %s: forgotten" % (victim, engine.name) in log
    # Only the one dropped by hand was ever taken for gone.
    assert log.count("is gone from") == 1, log


def test_what_previewd_may_not_drop_is_reported_once(pg, pg_config, previewd_factory):
    """A prefixed database a superuser made is beyond previewd's role: the
    sweep says so once and leaves it."""
    conn = pg.connect()
    try:
        conn.cursor().execute("CREATE DATABASE pvd_superusers")
    finally:
        conn.close()
    d = previewd_factory(fast_reaper({k: dict(v) for k, v in pg_config.items()}))
    wait_until(lambda: "cannot drop orphan database pvd_superusers" in d.log(),
               what="the report")
    # Later sweeps (proved by one dropping a stray previewd may drop) do
    # not say it again.
    admin = pg.connect(user="previewd")
    try:
        admin.cursor().execute("CREATE DATABASE pvd_later_stray")
    finally:
        admin.close()
    wait_until(lambda: "pvd_later_stray" not in pg.databases(), what="later sweeps")
    assert d.log().count("cannot drop orphan database pvd_superusers") == 1
    assert "pvd_superusers" in pg.databases()


def test_the_grace_protects_what_is_not_yet_recorded(pg, pg_config, previewd_factory):
    """An unknown database younger than the grace is left alone."""
    conn = pg.connect(user="previewd")
    try:
        conn.cursor().execute("CREATE DATABASE pvd_just_made")
    finally:
        conn.close()
    d = previewd_factory(fast_reaper({k: dict(v) for k, v in pg_config.items()}, grace="1h"))
    wait_until(lambda: "pvd_just_made" in d.log(), what="the sweep to see it")
    assert ("database pvd_just_made on postgres is unknown to previewd: dropping it if it "
            "still is in 3600s") in d.log()
    # Sweeps go on (one a second here) and leave it alone.
    runs = reaper_runs(d)
    wait_until(lambda: reaper_runs(d) >= runs + 3, what="three more reaper passes")
    assert "pvd_just_made" in pg.databases()
    assert "orphan database pvd_just_made dropped" not in d.log()


def what_deliveries_made(d, engine):
    """Everything a delivery can create or change, as seen by the API, the
    state file and the database server."""
    conn = sqlite3.connect(d.config["server"]["state_path"])
    try:
        # size_bytes and size_at are the sweep's measurement (and when it
        # was taken), not a delivery's doing.
        cols = [r[1] for r in conn.execute("PRAGMA table_info(environments)")
                if r[1] not in ("size_bytes", "size_at")]
        envs = conn.execute("SELECT %s FROM environments ORDER BY id" % ", ".join(cols)).fetchall()
        jobs = conn.execute("SELECT kind, target, seq, attempts FROM jobs "
                            "WHERE kind IN ('env', 'notify') ORDER BY id").fetchall()
        deliveries = conn.execute("SELECT provider, id, env_id, result FROM deliveries "
                                  "ORDER BY provider, id").fetchall()
    finally:
        conn.close()
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert status == 200, listing
    return {
        "api": [(e["id"], e["number"], e["status"], e["head_sha"], e["database_url"])
                for e in listing["data"]],
        "environments": envs, "jobs": jobs, "deliveries": deliveries,
        "databases": sorted(engine.databases()), "roles": sorted(engine.roles()),
        "accepted in the log": d.log().count(" accepted env="),
    }


def test_duplicate_and_out_of_order_deliveries(engine, previewd_factory):
    d = previewd_factory(engine.config())
    # synchronize (newer) before opened (older): one environment, at the newer head.
    opened = pr_payload("opened", 80, sha="1" * 40)
    sync = pr_payload("synchronize", 80, sha="2" * 40)      # a later updated_at
    sent = [("d80-sync", sync, "accepted"), ("d80-opened", opened, "stale")]
    # A close that arrives before the open it follows: the open is stale
    # and nothing is created for 81.
    sent += [("d81-closed", pr_payload("closed", 81), "ignored"),
             ("d81-opened", pr_payload("opened", 81, updated_at="2020-01-01T00:00:00Z"),
              "stale")]
    for delivery, payload, result in sent:
        status, _, body = d.github_webhook("pull_request", payload, delivery=delivery)
        assert status == 202 and json.loads(body)["status"] == result, (delivery, body)
    env = ready(d, 80)
    assert env["head_sha"] == "2" * 40
    assert env_now(d, 81)["status"] == "deleted" and env_now(d, 81)["database"] not in \
        engine.databases()
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert [e["number"] for e in listing["data"]] == [80]
    assert engine.env_roles() == [env["user"]]

    # The same deliveries again, as the forge's "redeliver" sends them (same
    # ids): each is answered as a duplicate and nothing new comes of it.
    wait_until(lambda: len(state_pool(d)) == 2 and what_deliveries_made(d, engine)["jobs"] == [],
               what="the pool to refill and the jobs to finish")
    before = what_deliveries_made(d, engine)
    for delivery, payload, _ in sent:
        status, _, body = d.github_webhook("pull_request", payload, delivery=delivery)
        assert status == 200 and json.loads(body) == {"status": "duplicate"}, (delivery, body)
    assert d.log().count("duplicate delivery") == len(sent)
    assert what_deliveries_made(d, engine) == before
    assert ready(d, 80)["database_url"] == env["database_url"]
    assert what_deliveries_made(d, engine) == before


def test_sigterm_during_a_burst_exits_in_bound_and_the_rest_completes(engine,
                                                                      previewd_factory):
    cfg = engine.config(pool_size=0)
    cfg["server"] = {"shutdown_timeout": "5s", "workers": "1"}
    d = previewd_factory(cfg)
    numbers = list(range(90, 100))
    for n in numbers:
        assert d.github_webhook("pull_request", pr_payload("opened", n))[0] == 202
    started = time.monotonic()
    code = d.stop(signal.SIGTERM, timeout=30)
    took = time.monotonic() - started
    assert code == 0 and took < 5 + 5, took
    d.start()
    for n in numbers:
        assert engine.can_connect(ready(d, n)["database_url"])


def test_draining_on_sigterm_refuses_new_webhooks(pg, pg_config, previewd_factory, tmp_path):
    """While previewd drains after SIGTERM (a worker held inside a step),
    every new webhook is answered 503 or refused: never a 202 that the
    next start does not act on.  A delivery that got its 202 before the
    signal landed must be acted on; one answered 503 must leave no trace,
    so that the forge's redelivery (same delivery id) is not a duplicate."""
    gate = tmp_path / "gate"
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["server"] = {"shutdown_timeout": "30s"}
    d = previewd_factory(cfg, env={"PREVIEWD_FAULTS": "claim.before=wait:%s" % gate})
    assert d.github_webhook("pull_request", pr_payload("opened", 101))[0] == 202
    wait_until(lambda: Path(str(gate) + ".reached").exists(), what="a step in progress")
    d.send_signal(signal.SIGTERM)
    sent = []           # (pull request number, delivery id, status or "refused")

    def deliver():
        n = 102 + len(sent)
        delivery = "drain-%d" % n
        try:
            status, _, body = d.github_webhook("pull_request", pr_payload("opened", n),
                                               delivery=delivery)
        except (OSError, http.client.HTTPException):
            status, body = "refused", b""
        if status == 503:
            assert json.loads(body)["error"]["code"] == "shutting_down", body
        sent.append((n, delivery, status))
        return status

    # Until the signal lands a delivery may still be accepted; from the
    # first 503 on, every one is refused.
    wait_until(lambda: deliver() == 503, what="a webhook answered 503 while draining")
    for _ in range(5):
        deliver()
    statuses = [s for _, _, s in sent]
    first = statuses.index(503)
    assert set(statuses[:first]) <= {202}, sent
    assert set(statuses[first:]) <= {503, "refused"}, sent
    assert "SIGTERM: shutting down" in d.log()
    accepted = [n for n, _, s in sent if s == 202]
    refused = [(n, delivery) for n, delivery, s in sent if s != 202]
    assert len(refused) >= 6
    gate.touch()
    assert d.stop() == 0
    d.env = {}
    d.start()
    # What was accepted is acted on: the held one and any 202 above.
    envs = [ready(d, n) for n in [101] + accepted]
    assert sorted(db for db in pg.databases("pvd_") if not db.startswith("pvd_pool_")) == \
        sorted(e["database"] for e in envs)
    # What was refused left nothing: no environment, no delivery recorded.
    conn = sqlite3.connect(d.config["server"]["state_path"])
    try:
        for n, delivery in refused:
            assert d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (REPO, n),
                              token=d.ci_token)[0] == 404, n
            assert conn.execute("SELECT COUNT(*) FROM environments WHERE number = ?",
                                (n,)).fetchone()[0] == 0, n
            assert conn.execute("SELECT COUNT(*) FROM deliveries WHERE id = ?",
                                (delivery,)).fetchone()[0] == 0, delivery
    finally:
        conn.close()
    # So the forge's redelivery, with the same id, is acted on now.
    n, delivery = refused[0]
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", n),
                                       delivery=delivery)
    assert status == 202 and json.loads(body)["status"] == "accepted", body
    assert EngineUnderTest("postgres", pg).can_connect(ready(d, n)["database_url"])


def test_sighup_reloads_and_a_broken_file_changes_nothing(pg, pg_config, previewd_factory):
    d = previewd_factory({k: dict(v) for k, v in pg_config.items()})
    assert d.github_webhook("pull_request", pr_payload("opened", 1, repo="acme/new"))[0] == 204
    # A valid change: a new repository is served after SIGHUP.
    d.config["repo:acme/new"] = {}
    d.write_config()
    d.send_signal(signal.SIGHUP)
    wait_until(lambda: "configuration from" in d.log(), what="the reload")
    assert d.github_webhook("pull_request", pr_payload("opened", 1, repo="acme/new"))[0] == 202
    # A broken file is reported with its line and changes nothing.
    text = Path(d.config_path).read_text()
    Path(d.config_path).write_text(text + "\n[bogus]\nkey = value\n")
    d.send_signal(signal.SIGHUP)
    wait_until(lambda: "is not valid; the configuration in force stays" in d.log(),
               what="the refused reload")
    assert "unknown section [bogus]" in d.log()
    assert d.github_webhook("pull_request", pr_payload("opened", 2, repo="acme/new"))[0] == 202
    # What only a restart can change is kept, with a warning.
    Path(d.config_path).write_text(text.replace("workers = 2", "workers = 3"))
    d.send_signal(signal.SIGHUP)
    wait_until(lambda: "[server] workers changed; it takes effect at the next restart"
               in d.log(), what="the warning")


def test_a_state_file_from_schema_version_1_is_upgraded(pg, pg_config, previewd_factory):
    d = previewd_factory({k: dict(v) for k, v in pg_config.items()})
    assert d.github_webhook("pull_request", pr_payload("opened", 110))[0] == 202
    env = ready(d, 110)
    assert d.stop() == 0
    # Turn the file back into what the first release wrote: the columns
    # and tables of version 2 removed, user_version 1.
    state = d.config["server"]["state_path"]
    conn = sqlite3.connect(state)
    for col in ("api_target", "private_repo", "installation_id", "reset_db", "comment_id",
                "comment_hash", "retry_requested", "retried", "size_bytes", "last_delivery",
                "blueprint", "applying", "deleted_at", "deleted_why", "migrations_tool",
                "schema_from", "size_at"):
        conn.execute("ALTER TABLE environments DROP COLUMN %s" % col)
    for col in ("secret", "base_env", "base_sha"):
        conn.execute("ALTER TABLE pool DROP COLUMN %s" % col)
    # Version 8 replaced version 2's reconcile table with reconcile_pages.
    for table in ("vercel_links", "orphans", "reconcile_pages", "idempotency", "base_heads"):
        conn.execute("DROP TABLE %s" % table)
    for index in ("environments_created", "environments_expires", "environments_live"):
        conn.execute("DROP INDEX %s" % index)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    d.start()
    assert "state file upgraded from schema version 1 to 2" in d.log()
    assert "state file upgraded from schema version 2 to 3" in d.log()
    assert "state file upgraded from schema version 3 to 4" in d.log()
    assert "state file upgraded from schema version 4 to 5" in d.log()
    assert "state file upgraded from schema version 5 to 6" in d.log()
    assert "state file upgraded from schema version 6 to 7" in d.log()
    assert "state file upgraded from schema version 7 to 8" in d.log()
    again = env_now(d, 110)
    assert again["id"] == env["id"] and again["database_url"] == env["database_url"]
    assert again["created_at"] == env["created_at"]
    assert EngineUnderTest("postgres", pg).can_connect(again["database_url"])
    # And it keeps working: a new pull request, a close.
    assert d.github_webhook("pull_request", pr_payload("opened", 111))[0] == 202
    ready(d, 111)
    d.github_webhook("pull_request", pr_payload("closed", 110))
    deleted(d, 110)
    conn = sqlite3.connect(state)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 8
    conn.close()


def test_a_state_file_from_a_newer_previewd_is_refused(pg, pg_config, previewd_factory):
    d = previewd_factory({k: dict(v) for k, v in pg_config.items()})
    assert d.stop() == 0
    conn = sqlite3.connect(d.config["server"]["state_path"])
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        d.start()
