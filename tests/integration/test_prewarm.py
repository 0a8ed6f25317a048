"""The pre-migrated pool (README "Pre-migrated pool", issue 15), on
PostgreSQL and MariaDB, through the real daemon and the forge stand-in.

A repository with `prewarm = base` gets a base: its default branch's
head, migrated and seeded, copied into the pool. What a user checks:

  - a pull request on the base's commit is ready from a copy
    ("schema_from": "base:<sha>") and holds exactly what the cold path
    builds for the same commit: tables, columns, indexes, rows, the
    migration record and the tool's history (compared with a second
    repository without prewarm, served the same files);
  - a pull request with one migration more gets only that one applied;
  - a pull request that edited a base migration, or lacks one the base
    has, is rebuilt from an empty database ("schema_from": "empty"), with
    the cold path's schema;
  - a push to the default branch moves the base: later pull requests get
    copies of the new head, and one claimed before keeps its schema;
  - previewd killed (SIGKILL, from outside) while a copy is half made
    leaves nothing behind once restarted: the half-made copy is dropped.
"""

import os
import re

import pytest

from previewd import pr_payload, wait_until

REPO = "acme/shop"
COLD = "acme/cold"             # the same files, without prewarm
TOKEN = "ghp_prewarm_test_token"
BASE1 = "b" * 40
BASE2 = "c" * 40
PR_SAME = "d" * 40
PR_MORE = "e" * 40
PR_EDIT = "f" * 40
PR_BEHIND = "a" * 40

USERS = "CREATE TABLE users (id integer PRIMARY KEY, email varchar(200) NOT NULL UNIQUE);\n"
ORDERS = ("CREATE TABLE orders (id integer PRIMARY KEY, user_id integer NOT NULL "
          "REFERENCES users (id), total_cents integer NOT NULL);\n"
          "CREATE INDEX orders_user ON orders (user_id);\n")
STATUS = "ALTER TABLE orders ADD COLUMN status varchar(20) NOT NULL DEFAULT 'new';\n"
INVOICES = "CREATE TABLE invoices (id integer PRIMARY KEY, order_id integer NOT NULL);\n"
SEED = ("INSERT INTO users (id, email) VALUES (1, 'ada@example.com'), (2, 'bob@example.com');\n"
        "INSERT INTO orders (id, user_id, total_cents) VALUES (1, 1, 1250);\n")


def tree(*extra, edit=None):
    files = {
        "db/migrations/001_users.sql": USERS,
        "db/migrations/002_orders.sql": ORDERS,
        "db/migrations/003_status.sql": STATUS,
        "db/seed.sql": SEED,
    }
    files.update(dict(extra))
    if edit:
        files.update(edit)
    return files


def start(engine, forge, previewd_factory, env=None, size=2):
    forge.github_token = TOKEN
    cfg = engine.config(migrations="repo:db/migrations", seed="repo:db/seed.sql",
                        prewarm="base", prewarm_size=str(size))
    cfg["repo:" + COLD] = {"engine": engine.name, "ttl": "72h",
                           "migrations": "repo:db/migrations", "seed": "repo:db/seed.sql"}
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    d = previewd_factory(cfg, start=False)
    d.start(extra_env=env)
    return d


def open_pr(d, number, sha, repo=REPO, action="opened"):
    status, _, body = d.github_webhook("pull_request",
                                       pr_payload(action, number, repo=repo, sha=sha))
    assert status == 202, body


def env_of(d, number, repo=REPO):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (repo, number),
                              token=d.ci_token)
    assert status == 200, body
    return body


def settled(d, number, sha, repo=REPO, timeout=120):
    return wait_until(lambda: (lambda e: e if e["status"] in ("ready", "failed") and
                               e["head_sha"] == sha else None)(env_of(d, number, repo)),
                      timeout=timeout, what="pull request %d at %s" % (number, sha[:7]))


def copies_ready(d, sha, n):
    """Wait until the log says n copies of the base at sha were made."""
    pat = "a copy of the base of %s at %s" % (REPO, sha[:12])
    wait_until(lambda: d.log().count(pat) >= n, timeout=120,
               what="%d copies of the base at %s" % (n, sha[:7]))


def metric(d, line_start):
    """The value of the metrics line that starts with line_start."""
    status, _, body = d.request("GET", "/metrics")
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


def query(engine, url, sql):
    conn = engine.connect(url)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def schema(engine, url):
    """What a schema dump shows, without names that differ by database:
    tables and columns (type, nullability, default), indexes, constraints,
    and every table's rows."""
    if engine.name == "postgres":
        cols = query(engine, url, "SELECT table_name, column_name, data_type, is_nullable, "
                     "column_default FROM information_schema.columns WHERE table_schema = "
                     "'public' ORDER BY 1, 2")
        idx = query(engine, url, "SELECT tablename, indexname, indexdef FROM pg_indexes "
                    "WHERE schemaname = 'public' ORDER BY 1, 2")
        cons = query(engine, url, "SELECT conrelid::regclass::text, conname, "
                     "pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = "
                     "'public'::regnamespace ORDER BY 1, 2")
    else:
        cols = query(engine, url, "SELECT table_name, column_name, column_type, is_nullable, "
                     "column_default FROM information_schema.columns WHERE table_schema = "
                     "DATABASE() ORDER BY 1, 2")
        idx = query(engine, url, "SELECT table_name, index_name, column_name, seq_in_index, "
                    "non_unique FROM information_schema.statistics WHERE table_schema = "
                    "DATABASE() ORDER BY 1, 2, 4")
        cons = query(engine, url, "SELECT table_name, constraint_name, constraint_type FROM "
                     "information_schema.table_constraints WHERE table_schema = DATABASE() "
                     "ORDER BY 1, 2")
    tables = sorted({c[0] for c in cols})
    rows = {t: query(engine, url, "SELECT * FROM %s ORDER BY 1" % t)
            for t in tables if t != "previewd_migrations"}
    record = query(engine, url, "SELECT name, checksum FROM previewd_migrations ORDER BY 1")
    return {"columns": cols, "indexes": idx, "constraints": cons, "rows": rows,
            "record": record}


def owners_ok(engine, env):
    """The environment's role owns what its database holds: it can drop a
    table the base created."""
    if engine.name != "postgres":
        return True
    owners = query(engine, env["database_url"], "SELECT DISTINCT tableowner FROM pg_tables "
                   "WHERE schemaname = 'public'")
    return owners == [(env["user"],)]


def test_a_copy_is_what_the_cold_path_builds(engine, forge, previewd_factory):
    for repo in (REPO, COLD):
        forge.set_tree(repo, BASE1, tree())
        forge.set_tree(repo, PR_SAME, tree())
        forge.set_tree(repo, PR_MORE, tree(("db/migrations/004_invoices.sql", INVOICES)))
    forge.set_default_branch(REPO, "main", BASE1)
    d = start(engine, forge, previewd_factory)
    copies_ready(d, BASE1, 2)

    open_pr(d, 1, PR_SAME)
    open_pr(d, 1, PR_SAME, repo=COLD)
    warm, cold = settled(d, 1, PR_SAME), settled(d, 1, PR_SAME, repo=COLD)
    assert warm["status"] == "ready" and cold["status"] == "ready", (warm, cold)
    assert warm["schema_from"] == "base:" + BASE1
    assert cold["schema_from"] == "empty"
    assert schema(engine, warm["database_url"]) == schema(engine, cold["database_url"])
    assert owners_ok(engine, warm)
    # The environment's role can change what the base made.
    conn = engine.connect(warm["database_url"])
    conn.cursor().execute("DROP TABLE orders")
    conn.close()
    # The base is no pull request: the API's list leaves it out.
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert status == 200 and all(e["number"] != 0 for e in listing["data"]), listing

    # One migration more: only it runs on the copy.
    open_pr(d, 2, PR_MORE)
    open_pr(d, 2, PR_MORE, repo=COLD)
    warm, cold = settled(d, 2, PR_MORE), settled(d, 2, PR_MORE, repo=COLD)
    assert warm["schema_from"] == "base:" + BASE1, warm
    assert re.search(r"migrations at %s: 1 applied, 3 already in place" % PR_MORE[:12],
                     d.log())
    w, c = schema(engine, warm["database_url"]), schema(engine, cold["database_url"])
    assert w["columns"] == c["columns"] and w["indexes"] == c["indexes"]
    assert w["record"] == c["record"]
    # What an operator's dashboard shows: two claims from copies, two
    # from empty databases (the other repository), the copies refilled.
    assert metric(d, 'previewd_claims_by_schema_total{engine="%s",schema_from="base"}'
                  % engine.name) == 2
    assert metric(d, 'previewd_claims_by_schema_total{engine="%s",schema_from="empty"}'
                  % engine.name) >= 2
    wait_until(lambda: metric(d, 'previewd_prewarm_idle{provider="github",repo="%s",'
                                 'engine="%s"}' % (REPO, engine.name)) == 2,
               timeout=60, what="the copies refilled")
    assert metric(d, 'previewd_base_build_duration_seconds_count{engine="%s"}'
                  % engine.name) == 1


def test_a_copy_that_does_not_fit_falls_back(engine, forge, previewd_factory):
    edited = {"db/migrations/002_orders.sql": ORDERS + "-- reviewed\n"}
    for repo in (REPO, COLD):
        forge.set_tree(repo, BASE1, tree())
        forge.set_tree(repo, PR_EDIT, tree(edit=edited))
        behind = tree()
        del behind["db/migrations/003_status.sql"]
        forge.set_tree(repo, PR_BEHIND, behind)
    forge.set_default_branch(REPO, "main", BASE1)
    d = start(engine, forge, previewd_factory)
    copies_ready(d, BASE1, 2)

    for number, sha in ((3, PR_EDIT), (4, PR_BEHIND)):
        open_pr(d, number, sha)
        open_pr(d, number, sha, repo=COLD)
        warm, cold = settled(d, number, sha), settled(d, number, sha, repo=COLD)
        assert warm["status"] == "ready", warm["error"]
        assert warm["schema_from"] == "empty", warm
        assert schema(engine, warm["database_url"]) == schema(engine, cold["database_url"])
    assert "does not fit: migration 002_orders.sql is not the base's" in d.log()
    assert "does not fit: the base has migrations the pull request has not" in d.log()
    assert metric(d, 'previewd_prewarm_fallbacks_total{engine="%s"}' % engine.name) == 2


def test_a_push_moves_the_base_and_spares_claimed_copies(engine, forge, previewd_factory):
    forge.set_tree(REPO, BASE1, tree())
    forge.set_tree(REPO, BASE2, tree(("db/migrations/004_invoices.sql", INVOICES)))
    forge.set_tree(REPO, PR_MORE, tree(("db/migrations/004_invoices.sql", INVOICES)))
    forge.set_default_branch(REPO, "main", BASE1)
    d = start(engine, forge, previewd_factory)
    copies_ready(d, BASE1, 2)
    open_pr(d, 5, BASE1)
    before = settled(d, 5, BASE1)
    assert before["schema_from"] == "base:" + BASE1
    kept = schema(engine, before["database_url"])

    # The default branch moves (a push webhook): the base follows.
    body = {"ref": "refs/heads/main", "before": BASE1, "after": BASE2, "deleted": False,
            "repository": {"full_name": REPO, "default_branch": "main",
                           "pushed_at": 2000000000, "private": False}}
    status, _, answer = d.github_webhook("push", body)
    assert status == 202, answer
    copies_ready(d, BASE2, 2)
    open_pr(d, 6, PR_MORE)
    after = settled(d, 6, PR_MORE)
    assert after["schema_from"] == "base:" + BASE2, after
    assert "invoices" in {c[0] for c in schema(engine, after["database_url"])["columns"]}
    # Claimed before the push: untouched.
    assert schema(engine, before["database_url"]) == kept
    # The copies of the old head are gone from the server.
    wait_until(lambda: d.log().count("a copy of another commit of its base") >= 1,
               timeout=60, what="the old copies dropped")


def test_killed_while_copying_leaves_nothing_behind(engine, forge, previewd_factory, tmp_path):
    forge.set_tree(REPO, BASE1, tree())
    forge.set_default_branch(REPO, "main", BASE1)
    gate = str(tmp_path / "copy")
    d = start(engine, forge, previewd_factory, size=1,
              env={"PREVIEWD_FAULTS": "prewarm.after_copy=wait:" + gate})
    wait_until(lambda: os.path.exists(gate + ".reached"), timeout=120,
               what="a copy made, not yet recorded")
    half = re.findall(r"pool database (\S+) ready: a copy", d.log())
    assert half == []
    before = set(engine.server.databases("pvd_"))
    assert d.kill9() == -9
    d.restart(extra_env={"PREVIEWD_FAULTS": ""})
    copies_ready(d, BASE1, 1)
    made = re.findall(r"pool database (\S+) ready: a copy", d.log())
    assert len(made) == 1
    # The copy the crash cut short is gone; the new one is there.
    wait_until(lambda: "half made" in d.log(), timeout=60, what="the half-made copy dropped")
    after = set(engine.server.databases("pvd_"))
    half_made = [db for db in before - after]
    assert half_made, (before, after)
    assert made[0] in after
