"""Migrations and seeds from the pull request's own repository (through a
local stand-in for GitHub's contents API), from a folder, and from the
shipped blueprints — on PostgreSQL and on MariaDB.

What a user checks: the schema is there when the API says ready, the seed
ran once, a new push applies only what it adds, an edited migration
rebuilds the database, a broken one fails with the file and the server's
message, and forge outages delay but do not fail.
"""

import json

import pytest

from conftest import EngineUnderTest
from previewd import pr_payload, wait_until

REPO = "acme/shop"
TOKEN = "ghp_test_token_for_the_stub"
SHA1, SHA2, SHA3, SHA4 = ("1" * 40, "2" * 40, "3" * 40, "4" * 40)

INIT = """
CREATE TABLE customers (id integer PRIMARY KEY, email varchar(200) NOT NULL UNIQUE);
CREATE TABLE orders (id integer PRIMARY KEY,
                     customer_id integer NOT NULL REFERENCES customers (id),
                     note varchar(200));
"""
MORE = "CREATE INDEX orders_customer ON orders (customer_id);\n"
THIRD = "ALTER TABLE customers ADD COLUMN name varchar(100);\n"
SEED = "INSERT INTO customers (id, email) VALUES (1, 'ada@example.com'), (2, 'bob@example.com');\n"


def git_blob(text):
    """A file's git blob id, what `git hash-object` prints."""
    data = text.encode()
    return __import__("hashlib").sha1(b"blob %d\0" % len(data) + data).hexdigest()


def tree(*extra, seed=SEED):
    files = {
        "db/migrations/001_init.sql": INIT,
        "db/migrations/002_index.sql": MORE,
        "db/migrations/README.md": "not SQL: ignored",
        "db/migrations/notes.txt": "DROP TABLE customers;",
        "db/seed.sql": seed,
    }
    for path, text in extra:
        files[path] = text
    return files


def start(engine, forge, previewd_factory, **repo):
    forge.github_token = TOKEN
    cfg = engine.config(**dict({"migrations": "repo:db/migrations",
                                "seed": "repo:db/seed.sql"}, **repo))
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    return previewd_factory(cfg)


def push(d, action, number, sha):
    status, _, body = d.github_webhook("pull_request", pr_payload(action, number, sha=sha))
    assert status == 202, body


def env_now(d, number, wait=None):
    path = "/api/v1/repos/%s/pulls/%d/environment" % (REPO, number)
    if wait:
        path += "?wait=%d" % wait
    status, body = d.get_json(path, token=d.ci_token)
    assert status == 200, body
    return body


def settled(d, number, sha, timeout=60):
    """Wait until the environment is ready or failed at sha."""
    wait_until(lambda: (lambda e: e["status"] in ("ready", "failed") and e["head_sha"] == sha)(
        env_now(d, number)), timeout=timeout, what="the environment to settle at %s" % sha[:7])
    return env_now(d, number)


def rows(engine, url, sql):
    conn = engine.connect(url)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()
    finally:
        conn.close()


def tables(engine, url):
    if engine.name == "postgres":
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
    return [r[0] for r in rows(engine, url, sql)]


def records(engine, url):
    return [r[0] for r in rows(engine, url, "SELECT name FROM previewd_migrations ORDER BY name")]


def test_migrations_and_seed_at_open_then_only_new_ones(engine, forge, previewd_factory):
    forge.set_tree(REPO, SHA1, tree())
    forge.set_tree(REPO, SHA2, tree(("db/migrations/003_name.sql", THIRD)))
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 1, SHA1)
    env = env_now(d, 1, wait=60)
    assert env["status"] == "ready", env
    assert env["head_sha"] == SHA1
    url = env["database_url"]
    assert tables(engine, url) == ["customers", "orders", "previewd_migrations"]
    assert records(engine, url) == ["(seed)", "001_init.sql", "002_index.sql"]
    assert rows(engine, url, "SELECT COUNT(*) FROM customers")[0][0] == 2
    # Checksums are the files' SHA-256.
    import hashlib
    sums = dict(rows(engine, url, "SELECT name, checksum FROM previewd_migrations"))
    assert sums["001_init.sql"] == hashlib.sha256(INIT.encode()).hexdigest()
    # The tree was read in one request and each file by its blob, the way
    # GitHub documents it (git/trees?recursive=1, git/blobs with the raw
    # media type); the seed by its path at the commit.
    trees = forge.requests_to("GET", r"^/repos/acme/shop/git/trees/")
    assert [(r.path, r.query.get("recursive")) for r in trees] == \
        [("/repos/acme/shop/git/trees/" + SHA1, "1")]
    blobs = forge.requests_to("GET", r"^/repos/acme/shop/git/blobs/")
    assert sorted(r.path.rsplit("/", 1)[1] for r in blobs) == \
        sorted([git_blob(INIT), git_blob(MORE)])
    seed = forge.requests_to("GET", r"^/repos/acme/shop/contents/")
    assert [r.path for r in seed] == ["/repos/acme/shop/contents/db/seed.sql"]
    assert seed[0].query.get("ref") == SHA1
    reqs = trees + blobs + seed
    assert all(r.headers.get("authorization") == "Bearer " + TOKEN for r in reqs)
    assert all(r.headers.get("x-github-api-version") == "2022-11-28" for r in reqs)
    assert all(r.headers.get("user-agent", "").startswith("previewd/") for r in reqs)
    assert all(r.headers.get("accept") == "application/vnd.github.raw+json"
               for r in blobs + seed)

    # Data the developer adds survives a push that adds a migration.
    conn = engine.connect(url)
    conn.cursor().execute("INSERT INTO orders (id, customer_id, note) VALUES (10, 1, 'mine')")
    conn.close()
    push(d, "synchronize", 1, SHA2)
    env = settled(d, 1, SHA2)
    assert env["status"] == "ready" and env["error"] is None, env
    assert records(engine, url) == ["(seed)", "001_init.sql", "002_index.sql", "003_name.sql"]
    # The new commit's tree, and of its files only the new one: the others
    # are the same blobs, kept from the first read.
    assert len(forge.requests_to("GET", r"^/repos/acme/shop/git/trees/")) == 2
    blobs = forge.requests_to("GET", r"^/repos/acme/shop/git/blobs/")
    assert [r.path.rsplit("/", 1)[1] for r in blobs[2:]] == [git_blob(THIRD)]
    assert rows(engine, url, "SELECT COUNT(*) FROM customers")[0][0] == 2     # seed not re-run
    assert rows(engine, url, "SELECT note FROM orders WHERE id = 10")[0][0] == "mine"
    assert env["database_url"] == url


def test_edited_migration_rebuilds_with_the_same_credentials(engine, forge, previewd_factory):
    forge.set_tree(REPO, SHA1, tree())
    forge.set_tree(REPO, SHA2, tree(("db/migrations/002_index.sql",
                                     MORE + "CREATE TABLE audit (id integer PRIMARY KEY);\n")))
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 2, SHA1)
    url = env_now(d, 2, wait=60)["database_url"]
    conn = engine.connect(url)
    conn.cursor().execute("INSERT INTO orders (id, customer_id) VALUES (10, 1)")
    conn.close()

    push(d, "synchronize", 2, SHA2)
    env = settled(d, 2, SHA2)
    assert env["status"] == "ready", env
    assert env["error"].startswith("rebuilt at 222222222222: migration 002_index.sql was edited")
    assert env["database_url"] == url                    # same credentials, same database name
    assert "audit" in tables(engine, url)
    assert rows(engine, url, "SELECT COUNT(*) FROM orders")[0][0] == 0   # fresh database
    assert rows(engine, url, "SELECT COUNT(*) FROM customers")[0][0] == 2  # seeded again
    # Nothing leaked by the rebuild.
    d.github_webhook("pull_request", pr_payload("closed", 2))
    wait_until(lambda: env_now(d, 2)["status"] == "deleted", what="close")
    wait_until(lambda: engine.env_roles() == [], what="the role to go")
    assert [db for db in engine.databases() if not db.startswith("pvd_pool_")] == []


def test_broken_migration_fails_with_file_and_message_then_next_push_retries(
        engine, forge, previewd_factory):
    broken = "CREATE TABLE widgets (id integer PRIMARY KEY);\nCREATE TABLE oops (id integr);\n"
    forge.set_tree(REPO, SHA1, tree(("db/migrations/003_broken.sql", broken),
                                    ("db/migrations/004_after.sql", THIRD)))
    # The fix is the file as it should have been. On MySQL the broken
    # file's first statement stayed applied when the second failed (DDL is
    # not transactional there): previewd rebuilds rather than run the
    # fixed file on top of it.
    forge.set_tree(REPO, SHA2, tree(("db/migrations/003_broken.sql",
                                     "CREATE TABLE widgets (id integer PRIMARY KEY);\n"),
                                    ("db/migrations/004_after.sql", THIRD)))
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 3, SHA1)
    env = settled(d, 3, SHA1)
    assert env["status"] == "failed"
    assert env["error"].startswith("migration 003_broken.sql failed: "), env["error"]
    if engine.name == "postgres":
        assert "line 2: type \"integr\" does not exist" in env["error"]
    else:
        assert "statement 2:" in env["error"]
    assert env["database_url"] is None
    # The database stays for inspection (admins see it); 004 never ran.
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    admin_url = listing["data"][0]["database_url"]
    assert admin_url is None  # only ready environments hand out URLs
    assert env["database"] in engine.databases()
    # The next push retries: from where it stopped on PostgreSQL, from an
    # empty database on MySQL (the note says why).
    push(d, "synchronize", 3, SHA2)
    env = settled(d, 3, SHA2)
    assert env["status"] == "ready", env
    if engine.name == "postgres":
        assert env["error"] is None, env
    else:
        assert env["error"].startswith("rebuilt at %s: migration 003_broken.sql did not "
                                       "finish" % SHA2[:12]), env
    assert records(engine, env["database_url"])[-2:] == ["003_broken.sql", "004_after.sql"]
    assert rows(engine, env["database_url"], "SELECT COUNT(*) FROM customers")[0][0] == 2


def test_multi_statement_files_on_both_ends(engine, forge, previewd_factory):
    """Semicolons inside strings, comments and function bodies stay inside
    their statement; a failure mid-file stops there."""
    if engine.name == "postgres":
        tricky = """-- a comment; with a semicolon
CREATE TABLE notes (id integer PRIMARY KEY, body text);
INSERT INTO notes VALUES (1, 'a; b; c'), (2, 'it''s; fine');
/* a block comment;
   spanning lines; */
CREATE FUNCTION note_count() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT count(*) FROM notes);   -- ; inside the body
END;
$$;
"""
        count_sql = "SELECT note_count()"
    else:
        tricky = """-- a comment; with a semicolon
CREATE TABLE notes (id integer PRIMARY KEY, body text);
INSERT INTO notes VALUES (1, 'a; b; c'), (2, 'it''s; fine');
/* a block comment;
   spanning lines; */
CREATE TRIGGER notes_upper BEFORE INSERT ON notes FOR EACH ROW
BEGIN
  SET NEW.body = UPPER(NEW.body);  -- ; inside the body
  SET NEW.body = CONCAT(NEW.body, '!');
END;
INSERT INTO notes VALUES (3, 'x;y')
"""
        count_sql = "SELECT COUNT(*) FROM notes"
    failing = ("CREATE TABLE first_half (id integer PRIMARY KEY);\n"
               "INSERT INTO no_such_table VALUES (1);\n"
               "CREATE TABLE second_half (id integer PRIMARY KEY);\n")
    forge.set_tree(REPO, SHA1, tree(("db/migrations/003_tricky.sql", tricky)))
    forge.set_tree(REPO, SHA2, tree(("db/migrations/003_tricky.sql", tricky),
                                    ("db/migrations/004_fails.sql", failing)))
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 4, SHA1)
    env = env_now(d, 4, wait=60)
    assert env["status"] == "ready", env
    url = env["database_url"]
    bodies = [r[0] for r in rows(engine, url, "SELECT body FROM notes ORDER BY id")]
    assert bodies[:2] == ["a; b; c", "it's; fine"]
    if engine.name == "mysql":
        assert bodies[2] == "X;Y!"                 # the trigger's body ran whole
        assert rows(engine, url, count_sql)[0][0] == 3
    else:
        assert rows(engine, url, count_sql)[0][0] == 2

    push(d, "synchronize", 4, SHA2)
    env = settled(d, 4, SHA2)
    assert env["status"] == "failed" and "004_fails.sql" in env["error"]
    present = tables(engine, url)
    assert "second_half" not in present            # nothing after the failure ran
    if engine.name == "postgres":
        assert "first_half" not in present         # the file is one transaction
        assert "line 2:" in env["error"]
    else:
        assert "first_half" in present             # MySQL DDL commits as it runs
        assert "statement 2:" in env["error"]
    assert "004_fails.sql" not in records(engine, url)


def test_forge_outage_is_retried_and_missing_folder_fails(engine, forge, previewd_factory):
    forge.set_tree(REPO, SHA1, tree())
    forge.fail("GET", r"/git/trees/", 502, times=None)
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 5, SHA1)
    # Meanwhile the API shows the step it waits in, and why.
    env = wait_until(lambda: (lambda e: e if e["error"] else None)(env_now(d, 5)),
                     what="the wait explained")
    # (No URL yet: CI must not get a database whose schema is half there.)
    assert env["status"] == "migrating" and env["database_url"] is None, env
    assert env["error"] == "GitHub answered 502", env
    forge.wait_for("GET", r"/git/trees/", count=2)
    assert env_now(d, 5)["status"] == "migrating"
    # The outage ends: the next try goes through, and the reason goes.
    forge.clear_scripts()
    env = env_now(d, 5, wait=90)
    assert env["status"] == "ready" and env["error"] is None, env
    listings = forge.requests_to("GET", r"/git/trees/")
    assert len(listings) >= 3 and listings[-1].status == 200
    assert all(r.status == 502 for r in listings[:-1]), listings
    assert records(engine, env["database_url"]) == ["(seed)", "001_init.sql", "002_index.sql"]

    # A folder that is not there at that commit is a clear failure.
    forge.set_tree(REPO, SHA2, {"db/other.sql": "SELECT 1;"})
    push(d, "synchronize", 5, SHA2)
    env = settled(d, 5, SHA2)
    assert env["status"] == "failed"
    assert env["error"] == ('migrations folder "db/migrations" not found in acme/shop at '
                            '222222222222'), env["error"]


def test_oversized_file_is_refused_with_the_cap(pg, forge, previewd_factory):
    engine = EngineUnderTest("postgres", pg)
    big = "-- " + "x" * (5 * 1024 * 1024) + "\n"
    forge.set_tree(REPO, SHA1, tree(("db/migrations/003_big.sql", big)))
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 6, SHA1)
    env = settled(d, 6, SHA1)
    assert env["status"] == "failed"
    assert "larger than 5242880 bytes" in env["error"], env["error"]


def test_a_dump_that_empties_search_path_is_recorded(pg, forge, previewd_factory):
    """pg_dump's output, which teams commit as their first migration,
    begins with set_config('search_path', '', false): the session's path
    stays empty for what follows. previewd's record and the next file
    still work (the next file sees the empty path, as it would in the
    tool's own session: it qualifies its names, as dumps do)."""
    engine = EngineUnderTest("postgres", pg)
    dump = ("SET statement_timeout = 0;\n"
            "SELECT pg_catalog.set_config('search_path', '', false);\n"
            "CREATE TABLE public.customers (id integer PRIMARY KEY, email text);\n")
    forge.set_tree(REPO, SHA1, {
        "db/migrations/001_dump.sql": dump,
        "db/migrations/002_more.sql": "CREATE TABLE public.orders (id integer);\n",
        "db/seed.sql": "INSERT INTO public.customers VALUES (1, 'ada@example.com');\n"})
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 7, SHA1)
    env = settled(d, 7, SHA1)
    assert env["status"] == "ready", env["error"]
    assert records(engine, env["database_url"]) == ["(seed)", "001_dump.sql", "002_more.sql"]
    assert tables(engine, env["database_url"]) == ["customers", "orders", "previewd_migrations"]


def test_dir_and_file_sources(engine, previewd_factory, tmp_path):
    mig = tmp_path / "migrations"
    mig.mkdir()
    (mig / "002_index.sql").write_text(MORE)
    (mig / "001_init.sql").write_text(INIT)
    (mig / "zz_notes.md").write_text("ignored")
    (mig / "sub").mkdir()
    (mig / "sub" / "000_nested.sql").write_text("DROP TABLE customers;")
    seed = tmp_path / "seed.sql"
    seed.write_text(SEED)
    cfg = engine.config(migrations="dir:%s" % mig, seed="file:%s" % seed)
    d = previewd_factory(cfg)
    push(d, "opened", 7, SHA1)
    env = env_now(d, 7, wait=60)
    assert env["status"] == "ready", env
    assert records(engine, env["database_url"]) == ["(seed)", "001_init.sql", "002_index.sql"]
    assert rows(engine, env["database_url"], "SELECT COUNT(*) FROM customers")[0][0] == 2


def test_an_empty_migrations_folder_is_nothing_to_apply(pg_config, previewd_factory, tmp_path):
    """Regression (found under UBSan): no .sql file at all made the
    daemon sort a NULL array."""
    mig = tmp_path / "empty"
    mig.mkdir()
    (mig / "README.md").write_text("migrations go here")
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["repo:acme/shop"]["migrations"] = "dir:%s" % mig
    d = previewd_factory(cfg)
    push(d, "opened", 8, SHA1)
    env = env_now(d, 8, wait=60)
    assert env["status"] == "ready", env


BLUEPRINTS = ["saas", "ecommerce", "cms", "analytics"]


def test_every_blueprint_applies_on_its_engine(engine, previewd_factory):
    cfg = engine.config()
    del cfg["repo:acme/shop"]
    for name in BLUEPRINTS:
        cfg["repo:acme/%s" % name] = {"engine": engine.name, "migrations": "blueprint:" + name,
                                      "seed": "blueprint:" + name}
    d = previewd_factory(cfg)
    for i, name in enumerate(BLUEPRINTS):
        status, _, _ = d.github_webhook("pull_request",
                                        pr_payload("opened", 100 + i, repo="acme/" + name))
        assert status == 202
    for i, name in enumerate(BLUEPRINTS):
        status, env = d.get_json("/api/v1/repos/acme/%s/pulls/%d/environment?wait=120"
                                 % (name, 100 + i), token=d.ci_token)
        assert env["status"] == "ready", (name, env)
        got = tables(engine, env["database_url"])
        assert len(got) >= 5, (name, got)
        assert "(seed)" in records(engine, env["database_url"])
        # The seed put rows somewhere.
        counts = [rows(engine, env["database_url"], "SELECT COUNT(*) FROM %s" % t)[0][0]
                  for t in got if t != "previewd_migrations"]
        assert sum(counts) >= 5, (name, counts)


def test_unknown_blueprint_and_bad_sources_fail_check_config(previewd_factory, pg):
    engine = EngineUnderTest("postgres", pg)
    cfg = engine.config(migrations="blueprint:nope", seed="repo:/etc/passwd")
    d = previewd_factory(cfg, start=False)
    code, out = d.check_config()
    assert code == 1
    assert 'no blueprint "nope" for postgres' in out
    assert '"seed": expected none, or one of repo:' in out
