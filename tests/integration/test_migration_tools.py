"""Migration tools (README "Migration tools"): a repository whose
migrations folder is golang-migrate's or dbmate's gets it applied as that
tool applies it, with the tool's own history table written as the tool
writes it, on PostgreSQL and on MariaDB.

Each project is small and looks real: three migrations whose versions are
1, 2 and 10, where 10 needs 2 (it alters the table 2 creates), so a byte
order of names (10 before 2) fails; and down files or sections that drop
what the up ones made, so running one shows. What a user checks:

  - the tables are there, the down parts are not applied, the
    environment's JSON says which tool it was (and the admin page);
  - the history table has the columns and types the tool itself creates
    and the rows it would have written: for golang-migrate the
    definition in its own source (database/postgres/postgres.go and
    database/mysql/mysql.go, ensureVersionTable: "version bigint not null
    primary key, dirty boolean not null"; golang-migrate is neither on
    npm nor in Debian); for dbmate the table the real dbmate binary
    (npm package dbmate, pinned in tests/tools/package-lock.json) creates
    in a scratch database;
  - a push adding a migration applies only it and moves the history;
  - the real `dbmate status` / `dbmate up`, run with the environment's
    DATABASE_URL on the same files, has nothing to apply;
  - auto detection, an explicit tool that does not match the folder, a
    failing file named by its path with its line in the file, an edited
    file rebuilding the database;
  - a dbmate "transaction:false" file cut short on PostgreSQL (killed
    between the file and its record) rebuilds the database instead of
    running the file again.
"""

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from previewd import pr_payload, wait_until

REPO = "acme/shop"
TOKEN = "ghp_tools_test_token"
SHA1, SHA2, SHA3 = "1" * 40, "2" * 40, "3" * 40
DBMATE = Path(__file__).resolve().parents[1] / "tools" / "node_modules" / ".bin" / "dbmate"

USERS = "CREATE TABLE users (id integer PRIMARY KEY, email varchar(200) NOT NULL UNIQUE);\n"
ORDERS = ("CREATE TABLE orders (id integer PRIMARY KEY,\n"
          "                     user_id integer NOT NULL REFERENCES users (id),\n"
          "                     total_cents integer NOT NULL);\n")
STATUS = "ALTER TABLE orders ADD COLUMN status varchar(20) NOT NULL DEFAULT 'new';\n"
INVOICES = ("CREATE TABLE invoices (id integer PRIMARY KEY,\n"
            "                       order_id integer NOT NULL REFERENCES orders (id));\n")
SEED = ("INSERT INTO users (id, email) VALUES (1, 'ada@example.com');\n"
        "INSERT INTO orders (id, user_id, total_cents) VALUES (1, 1, 1250);\n")


# ---- the projects ------------------------------------------------------------

def golang_migrate_tree(*extra):
    files = {
        "db/migrations/1_create_users.up.sql": USERS,
        "db/migrations/1_create_users.down.sql": "DROP TABLE users;\n",
        "db/migrations/2_create_orders.up.sql": ORDERS,
        "db/migrations/2_create_orders.down.sql": "DROP TABLE orders;\n",
        "db/migrations/10_add_order_status.up.sql": STATUS,
        "db/migrations/10_add_order_status.down.sql": "DROP TABLE orders;\n",
        "db/migrations/README.md": "Run with: migrate -path db/migrations up\n",
        "db/seed.sql": SEED,
    }
    files.update(extra)
    return files


def dbmate_file(up, down, options=""):
    return ("-- migrate:up%s\n%s\n-- migrate:down\n%s" % (options, up, down))


def dbmate_tree(*extra):
    files = {
        "db/migrations/1_create_users.sql": dbmate_file(USERS, "DROP TABLE users;\n"),
        "db/migrations/2_create_orders.sql": dbmate_file(ORDERS, "DROP TABLE orders;\n"),
        # A down that would undo far more than its up.
        "db/migrations/10_add_order_status.sql": dbmate_file(
            STATUS, "DROP TABLE orders;\nDROP TABLE users;\n"),
        "db/schema.sql": "-- dbmate's dump: not a migration\n",
        "db/seed.sql": SEED,
    }
    files.update(extra)
    return files


def index_migration(engine):
    """dbmate's transaction:false for what PostgreSQL refuses in a
    transaction block."""
    if engine.name == "postgres":
        up = "CREATE INDEX CONCURRENTLY orders_user ON orders (user_id);\n"
    else:
        up = "CREATE INDEX orders_user ON orders (user_id);\n"
    return ("db/migrations/11_index_orders.sql",
            dbmate_file(up, "DROP INDEX orders_user;\n", options=" transaction:false"))


# ---- helpers -------------------------------------------------------------------

def start(engine, forge, previewd_factory, repos=None, env=None, **repo):
    forge.github_token = TOKEN
    cfg = engine.config(**dict({"migrations": "repo:db/migrations",
                                "seed": "repo:db/seed.sql"}, **repo))
    for name, section in (repos or {}).items():
        cfg["repo:" + name] = dict({"engine": engine.name}, **section)
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    d = previewd_factory(cfg, start=False)
    d.start(extra_env=env)
    return d


def push(d, action, number, sha, repo=REPO):
    status, _, body = d.github_webhook("pull_request",
                                       pr_payload(action, number, repo=repo, sha=sha))
    assert status == 202, body


def env_now(d, number, repo=REPO):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (repo, number),
                              token=d.ci_token)
    assert status == 200, body
    return body


def settled(d, number, sha, repo=REPO, timeout=90):
    wait_until(lambda: (lambda e: e["status"] in ("ready", "failed") and
                        e["head_sha"] == sha)(env_now(d, number, repo)),
               timeout=timeout, what="pull request %d settled at %s" % (number, sha[:7]))
    return env_now(d, number, repo)


def query(engine, url, sql, args=None):
    conn = engine.connect(url)
    try:
        cur = conn.cursor()
        cur.execute(sql, args)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def tables(engine, url):
    if engine.name == "postgres":
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    else:
        sql = ("SELECT table_name FROM information_schema.tables "
               "WHERE table_schema = DATABASE() ORDER BY 1")
    return [r[0] for r in query(engine, url, sql)]


def columns(engine, url, table):
    return [r[0] for r in query(
        engine, url, "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "AND table_schema = " + ("current_schema()" if engine.name == "postgres" else
                                 "DATABASE()") + " ORDER BY ordinal_position", (table,))]


def records(engine, url):
    return [r[0] for r in query(engine, url, "SELECT name FROM previewd_migrations ORDER BY name")]


def definition(engine, conn):
    """schema_migrations of conn's database as information_schema
    describes it: each column's name, type, nullability and default, and
    the primary key's columns."""
    cur = conn.cursor()
    if engine.name == "postgres":
        cur.execute("SELECT column_name, data_type, character_maximum_length, is_nullable, "
                    "column_default FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = 'schema_migrations' "
                    "ORDER BY ordinal_position")
        cols = [tuple(r) for r in cur.fetchall()]
        cur.execute("SELECT kcu.column_name FROM information_schema.table_constraints tc "
                    "JOIN information_schema.key_column_usage kcu USING (constraint_schema, "
                    "constraint_name) WHERE tc.table_schema = current_schema() AND "
                    "tc.table_name = 'schema_migrations' AND tc.constraint_type = "
                    "'PRIMARY KEY'")
    else:
        cur.execute("SELECT column_name, column_type, is_nullable, column_default "
                    "FROM information_schema.columns WHERE table_schema = DATABASE() "
                    "AND table_name = 'schema_migrations' ORDER BY ordinal_position")
        cols = [tuple(r) for r in cur.fetchall()]
        cur.execute("SELECT column_name FROM information_schema.columns WHERE "
                    "table_schema = DATABASE() AND table_name = 'schema_migrations' "
                    "AND column_key = 'PRI'")
    key = [tuple(r) for r in cur.fetchall()]
    assert cols, "no schema_migrations table"
    return cols, key


def history_definition(engine, url):
    """definition() of the preview database, as its own role sees it."""
    conn = engine.connect(url)
    try:
        return definition(engine, conn)
    finally:
        conn.close()


def scratch_definition(engine, database):
    """definition() of a scratch database, read as the server's superuser
    (root on MariaDB)."""
    if engine.name == "postgres":
        conn = engine.server.connect(dbname=database)
    else:
        conn = engine.server.connect(db=database)
    try:
        return definition(engine, conn)
    finally:
        conn.close()


def reference_definition(engine, ddl):
    """The definition ddl (a tool's own CREATE TABLE, quoted from its
    source) gives, in a scratch database that is dropped again."""
    name = "pvd_tool_reference"
    admin = engine.server.connect()
    try:
        admin.cursor().execute("CREATE DATABASE %s" % name)
        if engine.name == "postgres":
            conn = engine.server.connect(dbname=name)
        else:
            conn = engine.server.connect(db=name)
        try:
            conn.cursor().execute(ddl)
        finally:
            conn.close()
        return scratch_definition(engine, name)
    finally:
        admin.cursor().execute("DROP DATABASE %s%s" % (
            name, " WITH (FORCE)" if engine.name == "postgres" else ""))
        admin.close()


def query_none(engine, url, sql):
    conn = engine.connect(url)
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


def dbmate_url(engine, url, database=None):
    """A previewd (or admin) URL as dbmate takes it: its PostgreSQL driver
    asks for TLS unless told not to; MySQL's URL is the same."""
    u = urlsplit(url)
    path = "/" + database if database is not None else u.path
    query_s = "sslmode=disable" if engine.name == "postgres" else ""
    return urlunsplit((u.scheme, u.netloc, path, query_s, ""))


def run_dbmate(url, migrations_dir, *args):
    """The real dbmate; (exit code, stdout + stderr)."""
    if not DBMATE.exists():
        pytest.fail("dbmate is not installed: make integration runs npm ci in tests/tools "
                    "(tests/tools/package.json pins it)")
    out = subprocess.run([str(DBMATE), "--url", url, "--migrations-dir", str(migrations_dir),
                          "--no-dump-schema"] + list(args), capture_output=True, text=True,
                         timeout=60, cwd=str(migrations_dir),
                         env=dict(os.environ, DATABASE_URL=""))
    return out.returncode, out.stdout + out.stderr


def write_migrations(tree, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in tree.items():
        if path.startswith("db/migrations/"):
            (folder / path[len("db/migrations/"):]).write_text(text)
    return folder


def admin_page(d):
    import base64
    auth = base64.b64encode(("admin:%s" % d.admin_token).encode()).decode()
    status, _, body = d.request("GET", "/", headers={"Authorization": "Basic " + auth})
    assert status == 200
    return body.decode()


# ---- golang-migrate ------------------------------------------------------------

GM_POSTGRES_DDL = ("CREATE TABLE IF NOT EXISTS schema_migrations "
                   "(version bigint not null primary key, dirty boolean not null)")
GM_MYSQL_DDL = ("CREATE TABLE `schema_migrations` "
                "(version bigint not null primary key, dirty boolean not null)")


def test_golang_migrate_project(engine, forge, previewd_factory):
    forge.set_tree(REPO, SHA1, golang_migrate_tree())
    forge.set_tree(REPO, SHA2, golang_migrate_tree(
        ("db/migrations/11_create_invoices.up.sql", INVOICES),
        ("db/migrations/11_create_invoices.down.sql", "DROP TABLE users;\n")))
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 1, SHA1)
    env = settled(d, 1, SHA1)
    assert env["status"] == "ready", env
    assert env["migrations_tool"] == "golang-migrate"
    url = env["database_url"]
    assert tables(engine, url) == ["orders", "previewd_migrations", "schema_migrations",
                                   "users"]
    # 10 ran after 2 (it needs orders), and no down file ran.
    assert columns(engine, url, "orders") == ["id", "user_id", "total_cents", "status"]
    assert records(engine, url) == ["(seed)", "10_add_order_status.up.sql",
                                    "1_create_users.up.sql", "2_create_orders.up.sql"]
    assert query(engine, url, "SELECT status FROM orders") == [("new",)]
    # golang-migrate's table, exactly as its driver creates it, holding
    # one row: the newest version, not dirty.
    mine = history_definition(engine, url)
    assert mine == reference_definition(
        engine, GM_POSTGRES_DDL if engine.name == "postgres" else GM_MYSQL_DDL)
    if engine.name == "postgres":
        assert mine == ([("version", "bigint", None, "NO", None),
                         ("dirty", "boolean", None, "NO", None)], [("version",)])
    else:
        assert [c[:3] for c in mine[0]] == [("version", "bigint(20)", "NO"),
                                            ("dirty", "tinyint(1)", "NO")]
        assert mine[1] == [("version",)]
    assert query(engine, url, "SELECT version, dirty FROM schema_migrations") == [
        (10, False if engine.name == "postgres" else 0)]
    assert "<code class=\"migrations-tool\">golang-migrate</code>" in admin_page(d)

    # A push adding a migration: only it runs (the developer's row stays),
    # and the one row moves to it.
    query_none(engine, url, "INSERT INTO users (id, email) VALUES (2, 'mine@example.com')")
    push(d, "synchronize", 1, SHA2)
    env = settled(d, 1, SHA2)
    assert env["status"] == "ready" and env["error"] is None, env
    assert env["database_url"] == url
    assert records(engine, url) == ["(seed)", "10_add_order_status.up.sql",
                                    "11_create_invoices.up.sql", "1_create_users.up.sql",
                                    "2_create_orders.up.sql"]
    assert query(engine, url, "SELECT version, dirty FROM schema_migrations") == [
        (11, False if engine.name == "postgres" else 0)]
    assert query(engine, url, "SELECT id FROM users ORDER BY id") == [(1,), (2,)]
    assert "invoices" in tables(engine, url)


def test_golang_migrate_failure_names_the_path_then_an_edit_rebuilds(
        engine, forge, previewd_factory):
    broken = "CREATE TABLE widgets (id integer PRIMARY KEY);\nCREATE TABLE oops (id integr);\n"
    fixed = "CREATE TABLE widgets (id integer PRIMARY KEY);\n"
    forge.set_tree(REPO, SHA1, golang_migrate_tree(
        ("db/migrations/11_widgets.up.sql", broken),
        ("db/migrations/11_widgets.down.sql", "DROP TABLE widgets;\n")))
    forge.set_tree(REPO, SHA2, golang_migrate_tree(
        ("db/migrations/11_widgets.up.sql", fixed),
        ("db/migrations/11_widgets.down.sql", "DROP TABLE widgets;\n")))
    # An edited migration already applied: 2 gains a column.
    forge.set_tree(REPO, SHA3, golang_migrate_tree(
        ("db/migrations/2_create_orders.up.sql",
         ORDERS + "ALTER TABLE orders ADD COLUMN note varchar(100);\n"),
        ("db/migrations/11_widgets.up.sql", fixed),
        ("db/migrations/11_widgets.down.sql", "DROP TABLE widgets;\n")))
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 2, SHA1)
    env = settled(d, 2, SHA1)
    assert env["status"] == "failed", env
    assert env["migrations_tool"] == "golang-migrate"
    if engine.name == "postgres":
        assert env["error"] == ('migration db/migrations/11_widgets.up.sql failed: '
                                'line 2: type "integr" does not exist'), env
    else:
        assert env["error"].startswith("migration db/migrations/11_widgets.up.sql failed: "
                                       "statement 2: "), env
    push(d, "synchronize", 2, SHA2)
    env = settled(d, 2, SHA2)
    assert env["status"] == "ready", env
    url = env["database_url"]
    assert query(engine, url, "SELECT version, dirty FROM schema_migrations") == [
        (11, False if engine.name == "postgres" else 0)]

    push(d, "synchronize", 2, SHA3)
    env = settled(d, 2, SHA3)
    assert env["status"] == "ready", env
    assert env["error"].startswith("rebuilt at 333333333333: migration "
                                   "db/migrations/2_create_orders.up.sql was edited"), env
    assert env["database_url"] == url
    assert "note" in columns(engine, url, "orders")
    assert query(engine, url, "SELECT version, dirty FROM schema_migrations") == [
        (11, False if engine.name == "postgres" else 0)]
    assert query(engine, url, "SELECT count(*) FROM users") == [(1,)]     # seeded once


# ---- dbmate ----------------------------------------------------------------------

def test_dbmate_project(engine, forge, previewd_factory, tmp_path):
    forge.set_tree(REPO, SHA1, dbmate_tree())
    pushed = dbmate_tree(index_migration(engine))
    forge.set_tree(REPO, SHA2, pushed)
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 3, SHA1)
    env = settled(d, 3, SHA1)
    assert env["status"] == "ready", env
    assert env["migrations_tool"] == "dbmate"
    url = env["database_url"]
    assert tables(engine, url) == ["orders", "previewd_migrations", "schema_migrations",
                                   "users"]
    assert columns(engine, url, "orders") == ["id", "user_id", "total_cents", "status"]
    assert query(engine, url, "SELECT count(*) FROM orders") == [(1,)]    # the seed's
    assert records(engine, url) == ["(seed)", "10_add_order_status.sql",
                                    "1_create_users.sql", "2_create_orders.sql"]
    assert sorted(query(engine, url, "SELECT version FROM schema_migrations")) == [
        ("1",), ("10",), ("2",)]

    # The table is the one the real dbmate creates: let it make its own in
    # a scratch database (up creates the database) and compare.
    scratch = tmp_path / "scratch"
    write_migrations({"db/migrations/1_noop.sql": "-- migrate:up\n-- migrate:down\n"}, scratch)
    code, out = run_dbmate(dbmate_url(engine, engine.server.admin_url,
                                      database="pvd_dbmate_reference"), scratch, "up")
    assert code == 0, out
    assert history_definition(engine, url) == scratch_definition(engine, "pvd_dbmate_reference")
    if engine.name == "postgres":
        assert history_definition(engine, url) == (
            [("version", "character varying", None, "NO", None)], [("version",)])
    else:
        assert [c[:3] for c in history_definition(engine, url)[0]] == [
            ("version", "varchar(128)", "NO")]

    # A push adding a migration: only it runs (the developer's row stays);
    # transaction:false lets PostgreSQL build the index concurrently,
    # outside a transaction.
    query_none(engine, url, "INSERT INTO users (id, email) VALUES (2, 'mine@example.com')")
    push(d, "synchronize", 3, SHA2)
    env = settled(d, 3, SHA2)
    assert env["status"] == "ready" and env["error"] is None, env
    assert sorted(query(engine, url, "SELECT version FROM schema_migrations")) == [
        ("1",), ("10",), ("11",), ("2",)]
    assert records(engine, url) == ["(seed)", "10_add_order_status.sql",
                                    "11_index_orders.sql", "1_create_users.sql",
                                    "2_create_orders.sql"]
    assert query(engine, url, "SELECT id FROM users ORDER BY id") == [(1,), (2,)]
    if engine.name == "postgres":
        assert query(engine, url, "SELECT indexname FROM pg_indexes WHERE tablename = "
                     "'orders' AND indexname = 'orders_user'") == [("orders_user",)]
    else:
        assert query(engine, url, "SELECT DISTINCT index_name FROM information_schema."
                     "statistics WHERE table_schema = DATABASE() AND table_name = 'orders' "
                     "AND index_name = 'orders_user'") == [("orders_user",)]

    # The app's CI runs the real dbmate on the same files: nothing to do.
    folder = write_migrations(pushed, tmp_path / "migrations")
    code, out = run_dbmate(dbmate_url(engine, url), folder, "status", "--exit-code")
    assert code == 0, out
    assert "Applied: 4" in out and "Pending: 0" in out, out
    code, out = run_dbmate(dbmate_url(engine, url), folder, "up")
    assert code == 0, out
    assert "Applying" not in out, out
    assert sorted(query(engine, url, "SELECT version FROM schema_migrations")) == [
        ("1",), ("10",), ("11",), ("2",)]


def test_dbmate_failure_names_the_path_and_the_files_line(engine, forge, previewd_factory):
    broken = ("-- Orders get a discount.\n"
              "-- Written by hand; see the ticket.\n"
              "\n"
              "-- migrate:up\n"
              "ALTER TABLE orders ADD COLUMN discount_cents integer;\n"
              "ALTER TABLE orders ADD COLUMN oops integr;\n"
              "\n"
              "-- migrate:down\n"
              "ALTER TABLE orders DROP COLUMN discount_cents;\n")
    forge.set_tree(REPO, SHA1, dbmate_tree(("db/migrations/11_discounts.sql", broken)))
    d = start(engine, forge, previewd_factory)
    push(d, "opened", 4, SHA1)
    env = settled(d, 4, SHA1)
    assert env["status"] == "failed", env
    assert env["migrations_tool"] == "dbmate"
    if engine.name == "postgres":
        # Line 6 of the file, not of its up block.
        assert env["error"] == ('migration db/migrations/11_discounts.sql failed: '
                                'line 6: type "integr" does not exist'), env
    else:
        assert env["error"].startswith("migration db/migrations/11_discounts.sql failed: "
                                       "statement 2: "), env


def test_auto_detection_and_explicit_tools(engine, forge, previewd_factory):
    plain = {"db/migrations/001_users.sql": USERS,
             "db/migrations/002_orders.sql": ORDERS,
             "db/migrations/003_status.sql": STATUS}
    no_down = dbmate_tree(("db/migrations/12_audit.sql",
                           "-- migrate:up\nCREATE TABLE audit (id integer PRIMARY KEY);\n"))
    for repo, tree in (("acme/shop", plain), ("acme/plain", plain), ("acme/next", plain),
                       ("acme/dbm", no_down), ("acme/auto-gm", golang_migrate_tree())):
        forge.set_tree(repo, SHA1, tree)
    d = start(engine, forge, previewd_factory, migrations_tool="golang-migrate", seed="none",
              repos={"acme/plain": {"migrations": "repo:db/migrations"},
                     "acme/next": {"migrations": "repo:db/migrations",
                                   "migrations_tool": "prisma"},
                     "acme/dbm": {"migrations": "repo:db/migrations",
                                  "migrations_tool": "dbmate"},
                     "acme/auto-gm": {"migrations": "repo:db/migrations",
                                      "migrations_tool": "auto"}})
    for repo in ("acme/shop", "acme/plain", "acme/next", "acme/dbm", "acme/auto-gm"):
        push(d, "opened", 5, SHA1, repo=repo)

    # An explicit tool the folder does not match: what was found.
    env = settled(d, 5, SHA1)
    assert env["status"] == "failed", env
    assert env["error"] == ("migrations_tool golang-migrate: no *.up.sql files in "
                            "db/migrations (found 3 .sql files)"), env
    assert env["migrations_tool"] is None
    # auto on plain SQL files: sql, as before, and no history table.
    env = settled(d, 5, SHA1, repo="acme/plain")
    assert env["status"] == "ready", env["error"]
    assert env["migrations_tool"] == "sql"
    assert tables(engine, env["database_url"]) == ["orders", "previewd_migrations", "users"]
    # Another tool named that the folder does not match either.
    env = settled(d, 5, SHA1, repo="acme/next")
    assert env["status"] == "failed", env
    assert env["error"] == ("migrations_tool prisma: no migration_lock.toml or "
                            "<name>/migration.sql folders in db/migrations (found 3 .sql "
                            "files)"), env
    assert env["migrations_tool"] is None
    # dbmate's own rule, in its words, on the file by its path; the files
    # before it are applied and recorded in dbmate's table.
    env = settled(d, 5, SHA1, repo="acme/dbm")
    assert env["status"] == "failed", env
    assert env["error"] == ("migration db/migrations/12_audit.sql failed: dbmate requires "
                            "each migration to define a down block with '-- migrate:down'")
    assert env["migrations_tool"] == "dbmate"
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert status == 200
    # auto on *.up.sql files: golang-migrate.
    env = settled(d, 5, SHA1, repo="acme/auto-gm")
    assert env["status"] == "ready", env
    assert env["migrations_tool"] == "golang-migrate"
    assert query(engine, env["database_url"], "SELECT version FROM schema_migrations") == [(10,)]
    tools = {e["repo"]: e["migrations_tool"] for e in listing["data"]}
    assert tools["acme/dbm"] == "dbmate" and tools["acme/shop"] is None


def test_dbmate_transaction_false_cut_short_is_rebuilt(pg, forge, previewd_factory):
    """On PostgreSQL a transaction:false file runs outside its record's
    transaction: killed between the two, the file is applied and not
    recorded. previewd must not run it again on top of itself (CREATE
    INDEX: "already exists"); it rebuilds, as on MariaDB."""
    from conftest import EngineUnderTest
    engine = EngineUnderTest("postgres", pg)
    forge.set_tree(REPO, SHA1, dbmate_tree(index_migration(engine)))
    # Files 1, 2 and 10 are records 1 to 3; the index file is the 4th.
    d = start(engine, forge, previewd_factory, pool_size=1,
              env={"PREVIEWD_FAULTS": "migrate.before_record=kill@4"})
    push(d, "opened", 6, SHA1)
    wait_until(lambda: not d.alive(), what="previewd to die before the index's record")
    d.expected_exit = True
    d.start()
    env = settled(d, 6, SHA1)
    assert env["status"] == "ready", env
    assert env["error"].startswith("rebuilt at 111111111111: migration 11_index_orders.sql "
                                   "did not finish"), env
    assert "it ran outside a transaction" in env["error"], env
    url = env["database_url"]
    assert sorted(query(engine, url, "SELECT version FROM schema_migrations")) == [
        ("1",), ("10",), ("11",), ("2",)]
    assert records(engine, url) == ["(seed)", "10_add_order_status.sql",
                                    "11_index_orders.sql", "1_create_users.sql",
                                    "2_create_orders.sql"]
    assert query(engine, url, "SELECT count(*) FROM orders") == [(1,)]


def test_files_applied_as_another_tool_rebuild_once(engine, forge, previewd_factory):
    """A history is right only if its tool wrote it from the first file.
    An environment migrated as sql (made by an older previewd, or with
    migrations_tool = sql) whose repository is then applied as dbmate is
    rebuilt once, and then migrates incrementally."""
    import signal
    # Down sections that do nothing: as sql, the whole files run fine.
    harmless = {
        "db/migrations/1_create_users.sql": dbmate_file(USERS, "-- keep\n"),
        "db/migrations/2_create_orders.sql": dbmate_file(ORDERS, "-- keep\n"),
        "db/seed.sql": SEED,
    }
    forge.set_tree(REPO, SHA1, harmless)
    forge.set_tree(REPO, SHA2, dict(harmless, **{
        "db/migrations/10_add_order_status.sql": dbmate_file(STATUS, "-- keep\n")}))
    d = start(engine, forge, previewd_factory, migrations_tool="sql")
    push(d, "opened", 7, SHA1)
    env = settled(d, 7, SHA1)
    assert env["status"] == "ready" and env["migrations_tool"] == "sql", env
    url = env["database_url"]
    assert "schema_migrations" not in tables(engine, url)

    d.config["repo:acme/shop"]["migrations_tool"] = "auto"
    d.write_config()
    d.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload: configuration from" in d.log(), what="the reload")
    push(d, "synchronize", 7, SHA2)
    env = settled(d, 7, SHA2)
    assert env["status"] == "ready", env
    assert env["migrations_tool"] == "dbmate"
    assert env["error"] == ("rebuilt at 222222222222: the migrations are dbmate's now and "
                            "had been applied as sql, so the database was rebuilt from all "
                            "migrations and the seed with dbmate's history"), env
    assert env["database_url"] == url
    assert sorted(query(engine, url, "SELECT version FROM schema_migrations")) == [
        ("1",), ("10",), ("2",)]
    assert query(engine, url, "SELECT count(*) FROM users") == [(1,)]
