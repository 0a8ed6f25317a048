"""drizzle (README "Migration tools"): a drizzle-kit migrations folder is
applied as drizzle-orm's migrator applies it, and its history table written
as the migrator writes it, on PostgreSQL and MariaDB; then the real
drizzle-orm migrate() (npm drizzle-orm with pg and mysql2, pinned in
tests/tools/package-lock.json, run by tests/tools/drizzle-migrate.mjs),
given the environment's DATABASE_URL and the same folder, applies nothing.

The rules come from drizzle-orm's source (0.45): migrator.ts,
readMigrationFiles (meta/_journal.json's entries in order, <tag>.sql each,
split at "--> statement-breakpoint", hash = SHA-256 hex of the file's
text) and pg-core/dialect.ts and mysql-core/dialect.ts, migrate() (the
table drizzle.__drizzle_migrations, or __drizzle_migrations on MySQL; a
row (hash, created_at = the entry's "when") per file; an entry runs only
when its "when" is above the newest created_at).

The project looks like drizzle-kit's output (drizzle-kit/src/cli/commands/
migrate.ts, writeResult): 0000_<adjective>_<name>.sql files whose
statements are joined by "--> statement-breakpoint\n" (a CREATE TABLE ends
");\n", an ALTER TABLE ";" right before the marker), meta/_journal.json
(version "7", dialect, entries {idx, version, when, tag, breakpoints})
and meta/NNNN_snapshot.json files previewd never reads, plus a custom
migration written by hand (drizzle-kit generate --custom) whose first
statement has no ";" before its marker and whose second has a comment
after its ";" (MariaDB has no "-->" comment and refuses ";;"). drizzle
has no down migrations: what must not run is the seed kept in the same
folder, which the journal does not name. What a user checks:

  - the tables, the environment's migrations_tool, the records;
  - the history table's columns, types and keys equal to those the real
    drizzle-orm creates in a scratch database, and to migrate()'s CREATE
    TABLE as quoted; its rows (id, hash, created_at) equal to those the
    real drizzle-orm writes migrating a scratch database from empty;
  - the real migrate() on the preview database: no error, no statement
    between its BEGIN and COMMIT, the history rows and tables unchanged;
  - a push adding a migration applies only it, and the real drizzle then
    still applies nothing; so does a migration merged late with a "when"
    below the newest (drizzle itself would skip it: previewd applies it,
    and drizzle still has nothing to do);
  - a failing file named by its repository path with its line, the fix
    applied, an edited file rebuilding the database with the history
    rewritten;
  - auto detection by meta/_journal.json, the journal's order over the
    names' (drizzle-kit's prefix "none"), a tag without its file refused
    as the real drizzle-orm refuses it, an explicit drizzle on a folder
    without a journal.
"""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from test_migration_tools import (REPO, SHA1, SHA2, SHA3, admin_page, columns, push, query,
                                  query_none, records, settled, start, tables)

TOOLS = Path(__file__).resolve().parents[1] / "tools"
MIGRATE = TOOLS / "drizzle-migrate.mjs"
SCRATCH = "pvd_drizzle_reference"

WHEN = [1718012345678, 1718098765432, 1718200000123, 1718300000456]
# A migration generated on a branch before 0003 and merged after it.
LATE = 1718250000789


# ---- the project -----------------------------------------------------------------

def statements(*parts):
    """Statements joined as drizzle-kit joins them."""
    return "--> statement-breakpoint\n".join(parts)


def users_sql(engine):
    if engine.name == "postgres":
        return ('CREATE TABLE "users" (\n'
                '\t"id" serial PRIMARY KEY NOT NULL,\n'
                '\t"email" varchar(200) NOT NULL,\n'
                '\tCONSTRAINT "users_email_unique" UNIQUE("email")\n'
                ');\n')
    return ("CREATE TABLE `users` (\n"
            "\t`id` int AUTO_INCREMENT NOT NULL,\n"
            "\t`email` varchar(200) NOT NULL,\n"
            "\tCONSTRAINT `users_id` PRIMARY KEY(`id`),\n"
            "\tCONSTRAINT `users_email_unique` UNIQUE(`email`)\n"
            ");\n")


def orders_sql(engine, extra=""):
    if engine.name == "postgres":
        return statements(
                        'CREATE TABLE "orders" (\n'
            '\t"id" serial PRIMARY KEY NOT NULL,\n'
            '\t"user_id" integer NOT NULL,\n'
            '\t"total_cents" integer NOT NULL%s\n'
            ');\n' % extra,
            'ALTER TABLE "orders" ADD CONSTRAINT "orders_user_id_users_id_fk" FOREIGN KEY '
            '("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE '
            'no action;',
            'CREATE INDEX "orders_user_id_idx" ON "orders" USING btree ("user_id");')
    return statements(
                "CREATE TABLE `orders` (\n"
        "\t`id` int AUTO_INCREMENT NOT NULL,\n"
        "\t`user_id` int NOT NULL,\n"
        "\t`total_cents` int NOT NULL%s,\n"
        "\tCONSTRAINT `orders_id` PRIMARY KEY(`id`)\n"
        ");\n" % extra,
        "ALTER TABLE `orders` ADD CONSTRAINT `orders_user_id_users_id_fk` FOREIGN KEY "
        "(`user_id`) REFERENCES `users`(`id`) ON DELETE no action ON UPDATE no action;",
        "CREATE INDEX `orders_user_id_idx` ON `orders` (`user_id`);")


# Written by hand after drizzle-kit generate --custom: the same on both
# engines.
CUSTOM = ("-- Custom SQL migration file, put your code below! --\n"
          "ALTER TABLE orders ADD COLUMN status varchar(20) NOT NULL DEFAULT 'new'\n"
          "--> statement-breakpoint\n"
          "UPDATE orders SET status = 'done' WHERE total_cents = 0; -- none yet\n"
          "--> statement-breakpoint\n"
          "CREATE INDEX orders_status_idx ON orders (status)\n")


def invoices_sql(engine):
    if engine.name == "postgres":
        return statements(
                        'CREATE TABLE "invoices" (\n'
            '\t"id" serial PRIMARY KEY NOT NULL,\n'
            '\t"order_id" integer NOT NULL\n'
            ');\n',
            'ALTER TABLE "invoices" ADD CONSTRAINT "invoices_order_id_orders_id_fk" FOREIGN '
            'KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE cascade ON UPDATE '
            'no action;')
    return statements(
                "CREATE TABLE `invoices` (\n"
        "\t`id` int AUTO_INCREMENT NOT NULL,\n"
        "\t`order_id` int NOT NULL,\n"
        "\tCONSTRAINT `invoices_id` PRIMARY KEY(`id`)\n"
        ");\n",
        "ALTER TABLE `invoices` ADD CONSTRAINT `invoices_order_id_orders_id_fk` FOREIGN KEY "
        "(`order_id`) REFERENCES `orders`(`id`) ON DELETE cascade ON UPDATE no action;")


LATE_SQL = "CREATE TABLE coupons (code varchar(20) PRIMARY KEY);\n"

SEED = ("INSERT INTO users (id, email) VALUES (1, 'ada@example.com');\n"
        "INSERT INTO orders (id, user_id, total_cents) VALUES (1, 1, 1250);\n")


def dialect(engine):
    return "postgresql" if engine.name == "postgres" else "mysql"


def journal(engine, tags, whens=WHEN):
    """meta/_journal.json as drizzle-kit writes it (JSON.stringify(journal,
    null, 2))."""
    version = "7" if engine.name == "postgres" else "5"
    return json.dumps({
        "version": version,
        "dialect": dialect(engine),
        "entries": [{"idx": i, "version": version, "when": whens[i], "tag": tag,
                     "breakpoints": True} for i, tag in enumerate(tags)],
    }, indent=2)


def snapshot(engine, i):
    """A meta/NNNN_snapshot.json, cut short: previewd never reads them."""
    return json.dumps({"id": "9d3c5a1e-0000-4000-8000-00000000000%d" % i,
                       "prevId": "00000000-0000-0000-0000-000000000000",
                       "version": "7", "dialect": dialect(engine), "tables": {},
                       "enums": {}, "schemas": {}, "_meta": {"columns": {}, "schemas": {},
                                                             "tables": {}}}, indent=2)


def project(engine, *extra, edit=None, whens=WHEN):
    """The repository's files: drizzle/ as drizzle-kit left it, and extra
    migrations (tag, sql) appended to the journal."""
    migrations = [("0000_lame_hulk", users_sql(engine)),
                  ("0001_brave_thor", orders_sql(engine)),
                  ("0002_custom_order_status", CUSTOM)] + list(extra)
    if edit is not None:
        migrations = [(tag, edit.get(tag, sql)) for tag, sql in migrations]
    files = {"drizzle/%s.sql" % tag: sql for tag, sql in migrations}
    files["drizzle/meta/_journal.json"] = journal(engine, [t for t, _ in migrations], whens)
    for i in range(len(migrations)):
        files["drizzle/meta/%04d_snapshot.json" % i] = snapshot(engine, i)
    files["drizzle/seed.sql"] = SEED
    files["drizzle.config.ts"] = ("import { defineConfig } from 'drizzle-kit';\n"
                                  "export default defineConfig({ dialect: '%s', schema: "
                                  "'./src/db/schema.ts', out: './drizzle' });\n"
                                  % dialect(engine))
    return files


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def write_folder(files, folder, prefix="drizzle/"):
    """The migrations folder of a project's files, on disk, for the real
    drizzle-orm."""
    for path, text in files.items():
        if path.startswith(prefix):
            target = folder / path[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    return folder


# ---- the real drizzle-orm ------------------------------------------------------

def run_drizzle(url, folder):
    """drizzle-orm's migrate() on url with folder: (exit code, the queries
    it sent, stdout + stderr)."""
    if not (TOOLS / "node_modules" / "drizzle-orm").exists():
        pytest.fail("drizzle-orm is not installed: make integration runs npm install in "
                    "tests/tools (tests/tools/package.json pins it)")
    out = subprocess.run(["node", str(MIGRATE), str(folder)], capture_output=True, text=True,
                         timeout=60, cwd=str(TOOLS), env=dict(os.environ, DATABASE_URL=url))
    sent = [q.strip() for q in out.stdout.split("Query: ")[1:]]
    return out.returncode, sent, out.stdout + out.stderr


def assert_applied_nothing(sent, output):
    """The queries of a migrate() that found nothing to apply: its table,
    the newest row, and an empty transaction."""
    assert sent[-2:] == ["begin", "commit"], output
    assert not any(q.lower().startswith("insert") for q in sent), output
    assert len(sent) == (4 if sent[0].startswith("create table") else 5), output


def scratch_url(engine, database):
    """The server's superuser (root on MariaDB) on database."""
    s = engine.server
    if engine.name == "postgres":
        return "postgresql://%s:%s@%s:%d/%s" % (s.superuser, s.superuser_password, s.host,
                                                s.port, database)
    return "mysql://root:%s@%s:%d/%s" % (s.root_password, s.host, s.port, database)


def scratch_db(engine, database=SCRATCH):
    """A new empty database, dropped with previewd's at the test's end
    (its name has previewd's prefix)."""
    admin = engine.server.connect()
    try:
        admin.cursor().execute("CREATE DATABASE %s" % database)
    finally:
        admin.close()
    return scratch_url(engine, database)


def history_table(engine):
    return ("drizzle.__drizzle_migrations" if engine.name == "postgres"
            else "__drizzle_migrations")


def history_rows(engine, url):
    return query(engine, url, "SELECT id, hash, created_at FROM %s ORDER BY id"
                 % history_table(engine))


def history_definition(engine, url):
    """The history table as information_schema describes it: each column's
    name, type, nullability, default (and MySQL's extra), and its keys."""
    conn = engine.connect(url)
    try:
        cur = conn.cursor()
        if engine.name == "postgres":
            cur.execute("SELECT column_name, data_type, is_nullable, column_default "
                        "FROM information_schema.columns WHERE table_schema = 'drizzle' "
                        "AND table_name = '__drizzle_migrations' ORDER BY ordinal_position")
            cols = [tuple(r) for r in cur.fetchall()]
            cur.execute("SELECT tc.constraint_type, kcu.column_name FROM "
                        "information_schema.table_constraints tc JOIN "
                        "information_schema.key_column_usage kcu USING (constraint_schema, "
                        "constraint_name) WHERE tc.table_schema = 'drizzle' AND "
                        "tc.table_name = '__drizzle_migrations' ORDER BY 1, 2")
        else:
            cur.execute("SELECT column_name, column_type, is_nullable, column_default, extra "
                        "FROM information_schema.columns WHERE table_schema = DATABASE() "
                        "AND table_name = '__drizzle_migrations' ORDER BY ordinal_position")
            cols = [tuple(r) for r in cur.fetchall()]
            cur.execute("SELECT index_name, column_name, non_unique FROM "
                        "information_schema.statistics WHERE table_schema = DATABASE() AND "
                        "table_name = '__drizzle_migrations' ORDER BY 1, 2")
        keys = [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()
    assert cols, "no __drizzle_migrations table"
    return cols, keys


def app_tables(engine, url):
    return [t for t in tables(engine, url) if t not in ("previewd_migrations",
                                                        "__drizzle_migrations")]


def snapshot_of(engine, url):
    """What an unwanted migration run would change: the tables, their
    columns, the rows of users and orders."""
    return ({t: columns(engine, url, t) for t in app_tables(engine, url)},
            query(engine, url, "SELECT id, email FROM users ORDER BY id"),
            query(engine, url, "SELECT id, status FROM orders ORDER BY id"))


# ---- the tests -----------------------------------------------------------------

def test_drizzle_project(engine, forge, previewd_factory, tmp_path):
    first = project(engine)
    pushed = project(engine, ("0003_tidy_invoices", invoices_sql(engine)))
    late = project(engine, ("0003_tidy_invoices", invoices_sql(engine)),
                   ("0004_loud_coupons", LATE_SQL), whens=WHEN + [LATE])
    forge.set_tree(REPO, SHA1, first)
    forge.set_tree(REPO, SHA2, pushed)
    forge.set_tree(REPO, SHA3, late)
    d = start(engine, forge, previewd_factory, migrations="repo:drizzle",
              seed="repo:drizzle/seed.sql")
    push(d, "opened", 1, SHA1)
    env = settled(d, 1, SHA1)
    assert env["status"] == "ready", env
    assert env["migrations_tool"] == "drizzle"
    url = env["database_url"]
    assert app_tables(engine, url) == ["orders", "users"]
    if engine.name == "mysql":
        assert "__drizzle_migrations" in tables(engine, url)
    # The custom migration ran whole, in order; the seed (in the folder,
    # not in the journal) ran once, as the seed.
    assert columns(engine, url, "orders") == ["id", "user_id", "total_cents", "status"]
    assert query(engine, url, "SELECT id, status FROM orders") == [(1, "new")]
    assert records(engine, url) == ["(seed)", "0000_lame_hulk.sql", "0001_brave_thor.sql",
                                    "0002_custom_order_status.sql"]
    # migrate()'s rows: a row per file, its SHA-256, the journal's when.
    tags = ["0000_lame_hulk", "0001_brave_thor", "0002_custom_order_status"]
    mine = history_rows(engine, url)
    assert mine == [(i + 1, sha256(first["drizzle/%s.sql" % t]), WHEN[i])
                    for i, t in enumerate(tags)]
    assert "<code class=\"migrations-tool\">drizzle</code>" in admin_page(d)

    # The real drizzle-orm migrating a scratch database from empty: the
    # same table and the same rows.
    folder = write_folder(first, tmp_path / "first")
    code, sent, out = run_drizzle(scratch_db(engine), folder)
    assert code == 0, out
    assert any(q.startswith("insert into") for q in sent), out
    assert history_definition(engine, url) == history_definition(engine,
                                                                  scratch_url(engine, SCRATCH))
    assert history_rows(engine, scratch_url(engine, SCRATCH)) == mine
    assert snapshot_of(engine, scratch_url(engine, SCRATCH))[0] == snapshot_of(engine, url)[0]
    # ...which is migrate()'s CREATE TABLE: (id SERIAL PRIMARY KEY, hash
    # text NOT NULL, created_at bigint), in schema "drizzle" on PostgreSQL.
    cols, keys = history_definition(engine, url)
    if engine.name == "postgres":
        assert cols == [
            ("id", "integer", "NO",
             "nextval('drizzle.__drizzle_migrations_id_seq'::regclass)"),
            ("hash", "text", "NO", None),
            ("created_at", "bigint", "YES", None)]
        assert keys == [("PRIMARY KEY", "id")]
    else:
        # MySQL's serial: bigint unsigned not null auto_increment unique,
        # whose unique key MariaDB folds into the primary key.
        assert [c[:3] for c in cols] == [("id", "bigint(20) unsigned", "NO"),
                                         ("hash", "text", "NO"),
                                         ("created_at", "bigint(20)", "YES")]
        assert cols[0][4] == "auto_increment"
        assert keys == [("PRIMARY", "id", 0)]

    # The app's CI runs drizzle's migrator on the preview database: it
    # applies nothing and changes nothing.
    before = snapshot_of(engine, url)
    code, sent, out = run_drizzle(url, folder)
    assert code == 0, out
    assert_applied_nothing(sent, out)
    assert history_rows(engine, url) == mine
    assert snapshot_of(engine, url) == before

    # A push adding a migration: only it runs (the developer's row stays),
    # a row is added; drizzle afterwards again has nothing to do.
    query_none(engine, url, "INSERT INTO users (id, email) VALUES (2, 'mine@example.com')")
    push(d, "synchronize", 1, SHA2)
    env = settled(d, 1, SHA2)
    assert env["status"] == "ready" and env["error"] is None, env
    assert env["database_url"] == url
    assert app_tables(engine, url) == ["invoices", "orders", "users"]
    assert query(engine, url, "SELECT id FROM users ORDER BY id") == [(1,), (2,)]
    assert history_rows(engine, url) == mine + [
        (4, sha256(pushed["drizzle/0003_tidy_invoices.sql"]), WHEN[3])]
    before = snapshot_of(engine, url)
    code, sent, out = run_drizzle(url, write_folder(pushed, tmp_path / "pushed"))
    assert code == 0, out
    assert_applied_nothing(sent, out)
    assert len(history_rows(engine, url)) == 4
    assert snapshot_of(engine, url) == before

    # A migration merged late, its "when" below 0003's: drizzle would skip
    # it on this database for good (its when is not above the newest
    # created_at); previewd applies it, as a database migrated from empty
    # has it, and drizzle still finds nothing to apply.
    push(d, "synchronize", 1, SHA3)
    env = settled(d, 1, SHA3)
    assert env["status"] == "ready" and env["error"] is None, env
    assert "coupons" in app_tables(engine, url)
    assert history_rows(engine, url)[4:] == [
        (5, sha256(late["drizzle/0004_loud_coupons.sql"]), LATE)]
    before = snapshot_of(engine, url)
    code, sent, out = run_drizzle(url, write_folder(late, tmp_path / "late"))
    assert code == 0, out
    assert_applied_nothing(sent, out)
    assert len(history_rows(engine, url)) == 5
    assert snapshot_of(engine, url) == before


def test_drizzle_failure_names_the_path_then_an_edit_rebuilds(engine, forge, previewd_factory,
                                                              tmp_path):
    if engine.name == "postgres":
        broken = statements('CREATE TABLE "widgets" (\n\t"id" serial PRIMARY KEY '
                            'NOT NULL\n);\n', 'CREATE TABLE "oops" (\n\t"id" integr\n);\n')
        fixed = statements('CREATE TABLE "widgets" (\n\t"id" serial PRIMARY KEY '
                           'NOT NULL\n);\n')
    else:
        broken = statements("CREATE TABLE `widgets` (\n\t`id` int NOT NULL\n);\n",
                            "CREATE TABLE `oops` (\n\t`id` integr\n);\n")
        fixed = statements("CREATE TABLE `widgets` (\n\t`id` int NOT NULL\n);\n")
    forge.set_tree(REPO, SHA1, project(engine, ("0003_wide_widgets", broken)))
    forge.set_tree(REPO, SHA2, project(engine, ("0003_wide_widgets", fixed)))
    # An applied migration edited: orders gains a column.
    edited = project(engine, ("0003_wide_widgets", fixed), edit={
        "0001_brave_thor": orders_sql(engine, extra=",\n\t%s varchar(100)" % (
            '"note"' if engine.name == "postgres" else "`note`"))})
    forge.set_tree(REPO, SHA3, edited)
    d = start(engine, forge, previewd_factory, migrations="repo:drizzle",
              seed="repo:drizzle/seed.sql")
    push(d, "opened", 2, SHA1)
    env = settled(d, 2, SHA1)
    assert env["status"] == "failed", env
    assert env["migrations_tool"] == "drizzle"
    if engine.name == "postgres":
        # Line 6 of the file: the marker kept its line.
        assert env["error"] == ('migration drizzle/0003_wide_widgets.sql failed: '
                                'line 6: type "integr" does not exist'), env
    else:
        assert env["error"].startswith("migration drizzle/0003_wide_widgets.sql failed: "
                                       "statement 2: "), env

    push(d, "synchronize", 2, SHA2)
    env = settled(d, 2, SHA2)
    assert env["status"] == "ready", env
    url = env["database_url"]
    assert [r[2] for r in history_rows(engine, url)] == WHEN

    push(d, "synchronize", 2, SHA3)
    env = settled(d, 2, SHA3)
    assert env["status"] == "ready", env
    assert env["error"].startswith("rebuilt at 333333333333: migration "
                                   "drizzle/0001_brave_thor.sql was edited"), env
    assert env["database_url"] == url
    assert "note" in columns(engine, url, "orders")
    tags = ["0000_lame_hulk", "0001_brave_thor", "0002_custom_order_status",
            "0003_wide_widgets"]
    assert history_rows(engine, url) == [(i + 1, sha256(edited["drizzle/%s.sql" % t]),
                                          WHEN[i]) for i, t in enumerate(tags)]
    assert query(engine, url, "SELECT count(*) FROM users") == [(1,)]     # seeded once
    code, sent, out = run_drizzle(url, write_folder(edited, tmp_path / "edited"))
    assert code == 0, out
    assert_applied_nothing(sent, out)


def test_drizzle_detection_order_and_refusals(engine, forge, previewd_factory, tmp_path):
    # drizzle-kit's migrations.prefix "none": tags without numbers, so the
    # names' byte order (brave_thor, the orders, first) is not the
    # journal's (lame_hulk, the users, first).
    unnumbered = {
        "drizzle/lame_hulk.sql": users_sql(engine),
        "drizzle/brave_thor.sql": orders_sql(engine),
        "drizzle/meta/_journal.json": journal(engine, ["lame_hulk", "brave_thor"]),
        "drizzle/meta/0000_snapshot.json": snapshot(engine, 0),
    }
    # A journal naming a file the folder lacks (a pull request that lost
    # it in a merge).
    missing = dict(project(engine))
    missing["drizzle/meta/_journal.json"] = journal(
        engine, ["0000_lame_hulk", "0001_brave_thor", "0002_custom_order_status",
                 "0003_lost_file"])
    plain = {"drizzle/0000_users.sql": users_sql(engine),
             "drizzle/0001_orders.sql": orders_sql(engine)}
    for repo, tree in (("acme/shop", unnumbered), ("acme/missing", missing),
                       ("acme/plain", plain)):
        forge.set_tree(repo, SHA1, tree)
    d = start(engine, forge, previewd_factory, migrations="repo:drizzle", seed="none",
              repos={"acme/missing": {"migrations": "repo:drizzle"},
                     "acme/plain": {"migrations": "repo:drizzle",
                                    "migrations_tool": "drizzle"}})
    for repo in ("acme/shop", "acme/missing", "acme/plain"):
        push(d, "opened", 3, SHA1, repo=repo)

    env = settled(d, 3, SHA1)
    assert env["status"] == "ready", env
    assert env["migrations_tool"] == "drizzle"
    url = env["database_url"]
    assert app_tables(engine, url) == ["orders", "users"]
    assert history_rows(engine, url) == [
        (1, sha256(unnumbered["drizzle/lame_hulk.sql"]), WHEN[0]),
        (2, sha256(unnumbered["drizzle/brave_thor.sql"]), WHEN[1])]

    # The real drizzle-orm refuses the folder before running anything,
    # and so does previewd, in its words.
    env = settled(d, 3, SHA1, repo="acme/missing")
    assert env["status"] == "failed", env
    assert env["error"] == ("drizzle/meta/_journal.json: entry 3: No file "
                            "drizzle/0003_lost_file.sql found in drizzle folder "
                            "(drizzle-orm's migrator stops there too)"), env
    folder = write_folder(missing, tmp_path / "drizzle")
    code, sent, out = run_drizzle(scratch_db(engine), folder)
    assert code == 1, out
    assert "No file %s/0003_lost_file.sql found in %s folder" % (folder, folder) in out, out
    assert sent == [], out

    env = settled(d, 3, SHA1, repo="acme/plain")
    assert env["status"] == "failed", env
    assert env["error"] == ("migrations_tool drizzle: no meta/_journal.json in drizzle "
                            "(found 2 .sql files)"), env
    assert env["migrations_tool"] is None
