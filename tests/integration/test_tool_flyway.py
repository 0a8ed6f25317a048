"""Flyway (README "Migration tools", "flyway"): a repository whose
migrations folder is Flyway's gets it applied as `flyway migrate` applies
it, with flyway_schema_history written as Flyway writes it, on PostgreSQL
and on MariaDB.

The project is a small Maven/Spring Boot one, its migrations in
src/main/resources/db/migration (Flyway's default classpath:db/migration):
versions 1, 1.1 (V1_1), 1.5 (in a subfolder, v1/), 2 and 10, where 10
alters the table 2 creates, so a byte order of names (V10 before V2, and
V1_1 before V1__) fails; an undo file U2 (Flyway Teams only) and a file in
a hidden folder that would drop tables; a repeatable R__ view, run after
the versioned migrations and again when it changes. V2 has CRLF line
endings and V10 starts with a UTF-8 byte order mark, the two things
Flyway's checksum leaves out.

Flyway itself cannot run here: it is not in Debian (`apt-cache search
flyway` finds nothing), npm's `flyway` is an unrelated package and
`node-flywaydb` downloads the Flyway CLI from outside the registries this
machine reaches, as does Maven. So the history table is compared with the
definitions in Flyway's own source (github.com/flyway/flyway):
  - the table: getRawCreateScript of flyway-database-postgresql's
    PostgreSQLDatabase.java and of flyway-mysql's MySQLDatabase.java with
    MariaDBDatabase.java's getConstraintName (""), run as Flyway runs it
    in a scratch database and compared through the catalogs: columns,
    types, nullability, defaults, primary key and index;
  - the rows: JdbcTableSchemaHistory.doAddAppliedMigration with
    SchemaHistory.calculateInstalledRank (1, 2, ...), the version as
    MigrationVersion shows it ("1.1" for V1_1), the description
    (ResourceNameParser: "_" as " "), type "SQL", the script as
    FileSystemResource.getRelativePath gives it ("v1/V1_5__..."), the
    installing user (PostgreSQL's current_user; MySQL's
    SUBSTRING_INDEX(USER(),'@',1)), success true;
  - the checksum: ChecksumCalculator, computed here independently: CRC-32
    (zlib) over the lines as java.io.BufferedReader.readLine splits them,
    the first line's BOM dropped (BomFilter), as a signed int;
  - what `flyway validate` checks (MigrationInfoImpl.validate: each
    resolved migration applied, with the same type, checksum and
    description; a repeatable one's latest row with its current checksum)
    is checked against the files of each commit by flyway_validate below.
Also: the incremental push (a new migration alone, the changed repeatable
once more), an edited versioned migration rebuilding the database, a
failing migration named by its repository path with its line, two files
of one version, a placeholder, auto detection and an explicit tool that
does not match.
"""

import re
import zlib
from urllib.parse import unquote, urlsplit

from test_migration_tools import (push, query, query_none, records, settled, start)

REPO = "acme/shop"
SHA1, SHA2, SHA3 = "a" * 40, "b" * 40, "c" * 40
FOLDER = "src/main/resources/db/migration"
SEED_PATH = "src/test/resources/seed.sql"

USERS = b"CREATE TABLE users (id integer PRIMARY KEY, email varchar(200) NOT NULL UNIQUE);\n"
USER_NAME = b"ALTER TABLE users ADD COLUMN name varchar(100);\n"
USER_FLAGS = b"-- Soft-deleted users keep their orders.\nALTER TABLE users ADD COLUMN active integer NOT NULL DEFAULT 1;\n"
ORDERS = (b"CREATE TABLE orders (id integer PRIMARY KEY,\r\n"
          b"                     user_id integer NOT NULL REFERENCES users (id),\r\n"
          b"                     total_cents integer NOT NULL);\r\n")
STATUS = b"\xef\xbb\xbfALTER TABLE orders ADD COLUMN status varchar(20) NOT NULL DEFAULT 'new';\n"
INVOICES = (b"CREATE TABLE invoices (id integer PRIMARY KEY,\n"
            b"                       order_id integer NOT NULL REFERENCES orders (id));\n")
VIEW = (b"CREATE OR REPLACE VIEW order_totals AS\n"
        b"    SELECT user_id, SUM(total_cents) AS total_cents FROM orders GROUP BY user_id;\n")
VIEW2 = (b"CREATE OR REPLACE VIEW order_totals AS\n"
         b"    SELECT user_id, SUM(total_cents) AS total_cents, COUNT(*) AS orders\n"
         b"    FROM orders GROUP BY user_id;\n")
SEED = (b"INSERT INTO users (id, email) VALUES (1, 'ada@example.com');\n"
        b"INSERT INTO orders (id, user_id, total_cents) VALUES (1, 1, 1250);\n")
POM = b"""<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId>
  <artifactId>shop</artifactId>
  <version>1.0.0</version>
  <build>
    <plugins>
      <plugin>
        <groupId>org.flywaydb</groupId>
        <artifactId>flyway-maven-plugin</artifactId>
        <version>13.12.2</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def flyway_tree(**changes):
    """The project at a commit: {path under the folder: bytes}; a None
    value removes the file."""
    migrations = {
        "V1__create_users.sql": USERS,
        "V1_1__add_user_name.sql": USER_NAME,
        "v1/V1_5__add_user_flags.sql": USER_FLAGS,
        "V2__create_orders.sql": ORDERS,
        "V10__add_order_status.sql": STATUS,
        "R__order_totals_view.sql": VIEW,
        # Undo: only Flyway Teams runs it, and only on `flyway undo`.
        "U2__drop_orders.sql": b"DROP TABLE orders;\n",
        # Flyway's scanners skip hidden folders.
        ".archive/V11__drop_users.sql": b"DROP TABLE users;\n",
        "README.md": b"Applied by `mvn flyway:migrate`.\n",
    }
    migrations.update(changes)
    files = {FOLDER + "/" + k: v for k, v in migrations.items() if v is not None}
    files["pom.xml"] = POM
    files[SEED_PATH] = SEED
    return files


def start_flyway(engine, forge, previewd_factory, **repo):
    return start(engine, forge, previewd_factory,
                 **dict({"migrations": "repo:" + FOLDER, "seed": "repo:" + SEED_PATH}, **repo))


# ---- Flyway's rules, written afresh from its source -----------------------------

def flyway_checksum(data):
    """ChecksumCalculator.calculateChecksumForResource: the file read as
    UTF-8, line by line as BufferedReader.readLine splits (\\n, \\r,
    \\r\\n), BomFilter taking U+FEFF off the first line, each line's UTF-8
    bytes into one CRC-32, returned as a Java int."""
    text = data.decode("utf-8")
    lines = re.split("\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()                 # readLine gives no line after the last end
    crc = 0
    for i, line in enumerate(lines):
        if i == 0 and line.startswith("\ufeff"):
            line = line[1:]
        crc = zlib.crc32(line.encode("utf-8"), crc)
    return crc - (1 << 32) if crc >= (1 << 31) else crc


def parse_name(path):
    """ResourceNameParser on the file name (not its folders): (version as
    MigrationVersion shows it or None, description), or None when Flyway
    does not take the file (U undo, README, a hidden folder)."""
    if any(part.startswith(".") for part in path.split("/")[:-1]):
        return None
    m = re.fullmatch(r"V([0-9._]+?)__(.*)\.sql|R__(.*)\.sql", path.split("/")[-1])
    if not m:
        return None
    if m.group(1) is not None:
        return m.group(1).replace("_", "."), m.group(2).replace("_", " ")
    return None, m.group(3).replace("_", " ")


def version_key(v):
    """MigrationVersion.compareTo: parts as numbers, trailing zeros gone."""
    parts = [int(p) for p in v.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return parts


def resolved(tree):
    """SqlMigrationResolver + ResolvedMigrationComparator over a tree: in
    order, (version, description, script, checksum)."""
    out = []
    for path, data in tree.items():
        if not path.startswith(FOLDER + "/"):
            continue
        script = path[len(FOLDER) + 1:]
        parsed = parse_name(script)
        if parsed:
            out.append((parsed[0], parsed[1], script, flyway_checksum(data)))
    versioned = sorted((m for m in out if m[0] is not None), key=lambda m: version_key(m[0]))
    repeatable = sorted((m for m in out if m[0] is None), key=lambda m: m[1])
    return versioned + repeatable


def history(engine, url):
    return query(engine, url,
                 "SELECT installed_rank, version, description, type, script, checksum, "
                 "installed_by, installed_on, execution_time, success "
                 "FROM flyway_schema_history ORDER BY installed_rank")


def flyway_validate(engine, url, tree):
    """What `flyway validate` (MigrationInfoImpl.validate, with
    MigrationInfoServiceImpl's pairing) would say of the database against
    tree: [] when it passes. Versioned rows pair by version, repeatable
    ones by description, the latest row of each counting."""
    problems = []
    rows = history(engine, url)
    by_version = {tuple(version_key(r[1])): r for r in rows if r[1] is not None}
    latest_repeatable = {}
    for r in rows:
        if r[1] is None:
            latest_repeatable[r[2]] = r
    for version, description, script, checksum in resolved(tree):
        row = (by_version.get(tuple(version_key(version))) if version is not None
               else latest_repeatable.get(description))
        if row is None:
            problems.append("not applied: %s" % script)
            continue
        if row[3] != "SQL":
            problems.append("type mismatch: %s" % script)
        if row[5] != checksum and version is not None:
            problems.append("checksum mismatch: %s (%s applied, %s resolved)" % (
                script, row[5], checksum))
        if row[5] != checksum and version is None:
            problems.append("outdated repeatable migration: %s" % script)
        if row[2] != description:
            problems.append("description mismatch: %s" % script)
        if not row[9]:
            problems.append("failed: %s" % script)
    known = {tuple(version_key(m[0])) for m in resolved(tree) if m[0] is not None}
    for key, row in by_version.items():
        if key not in known:
            problems.append("applied, not resolved locally: %s" % row[1])
    return problems


def role_of(url):
    return unquote(urlsplit(url).username)


# ---- the table, as Flyway's source creates it -----------------------------------

# PostgreSQLDatabase.getRawCreateScript (no tablespace, no baseline), for
# table "public"."flyway_schema_history".
FLYWAY_POSTGRES_DDL = '''CREATE TABLE "public"."flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");'''

# MySQLDatabase.getRawCreateScript on MariaDB (MariaDBDatabase's
# getConstraintName is ""), for table `DB`.`flyway_schema_history`.
FLYWAY_MARIADB_DDL = '''CREATE TABLE `{db}`.`flyway_schema_history` (
    `installed_rank` INT NOT NULL,
    `version` VARCHAR(50),
    `description` VARCHAR(200) NOT NULL,
    `type` VARCHAR(20) NOT NULL,
    `script` VARCHAR(1000) NOT NULL,
    `checksum` INT,
    `installed_by` VARCHAR(100) NOT NULL,
    `installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    `execution_time` INT NOT NULL,
    `success` BOOL NOT NULL,
    CONSTRAINT  PRIMARY KEY (`installed_rank`)
);
CREATE INDEX `flyway_schema_history_s_idx` ON `{db}`.`flyway_schema_history` (`success`);'''


def definition(engine, conn):
    """flyway_schema_history as the catalogs describe it: columns (name,
    type, length, nullability, default), constraints and indexes."""
    cur = conn.cursor()
    if engine.name == "postgres":
        cur.execute("SELECT column_name, data_type, character_maximum_length, is_nullable, "
                    "column_default FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = 'flyway_schema_history' "
                    "ORDER BY ordinal_position")
        cols = [tuple(r) for r in cur.fetchall()]
        cur.execute("SELECT tc.constraint_name, tc.constraint_type, kcu.column_name "
                    "FROM information_schema.table_constraints tc "
                    "JOIN information_schema.key_column_usage kcu USING (constraint_schema, "
                    "constraint_name) WHERE tc.table_schema = current_schema() AND "
                    "tc.table_name = 'flyway_schema_history' ORDER BY 1, 3")
        keys = [tuple(r) for r in cur.fetchall()]
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                    "current_schema() AND tablename = 'flyway_schema_history' ORDER BY 1")
        indexes = [tuple(r) for r in cur.fetchall()]
    else:
        cur.execute("SELECT column_name, column_type, is_nullable, column_default "
                    "FROM information_schema.columns WHERE table_schema = DATABASE() "
                    "AND table_name = 'flyway_schema_history' ORDER BY ordinal_position")
        cols = [tuple(r) for r in cur.fetchall()]
        cur.execute("SELECT constraint_name, constraint_type FROM "
                    "information_schema.table_constraints WHERE table_schema = DATABASE() "
                    "AND table_name = 'flyway_schema_history' ORDER BY 1")
        keys = [tuple(r) for r in cur.fetchall()]
        cur.execute("SELECT index_name, column_name, non_unique, seq_in_index FROM "
                    "information_schema.statistics WHERE table_schema = DATABASE() AND "
                    "table_name = 'flyway_schema_history' ORDER BY 1, 4")
        indexes = [tuple(r) for r in cur.fetchall()]
    assert cols, "no flyway_schema_history table"
    return cols, keys, indexes


def reference_definition(engine):
    """definition() of the table Flyway's own script makes, in a scratch
    database that is dropped again."""
    name = "pvd_flyway_reference"
    admin = engine.server.connect()
    try:
        admin.cursor().execute("CREATE DATABASE %s" % name)
        if engine.name == "postgres":
            conn = engine.server.connect(dbname=name)
            ddl = FLYWAY_POSTGRES_DDL
        else:
            conn = engine.server.connect(db=name)
            ddl = FLYWAY_MARIADB_DDL.format(db=name)
        try:
            for stmt in ddl.split(";\n"):
                conn.cursor().execute(stmt.rstrip(";"))
            return definition(engine, conn)
        finally:
            conn.close()
    finally:
        admin.cursor().execute("DROP DATABASE %s%s" % (
            name, " WITH (FORCE)" if engine.name == "postgres" else ""))
        admin.close()


def base_tables(engine, url):
    if engine.name == "postgres":
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    else:
        sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = "
               "DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1")
    return [r[0] for r in query(engine, url, sql)]


def column_names(engine, url, table):
    return [r[0] for r in query(
        engine, url, "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "AND table_schema = " + ("current_schema()" if engine.name == "postgres" else
                                 "DATABASE()") + " ORDER BY ordinal_position", (table,))]


def expected_rows(tree, url, applied):
    """The rows Flyway would hold after applying `applied` (scripts, in
    the order they ran) of tree: rank, version, description, type,
    script, checksum, installed_by, success."""
    by_script = {m[2]: m for m in resolved(tree)}
    return [(rank, by_script[s][0], by_script[s][1], "SQL", s, by_script[s][3],
             role_of(url), True)
            for rank, s in enumerate(applied, start=1)]


def rows_as_flyway_reads(rows):
    """History rows without installed_on and execution_time (checked
    apart), success as a bool (MariaDB's BOOL is a tinyint)."""
    return [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[9])) for r in rows]


FIRST_ORDER = ["V1__create_users.sql", "V1_1__add_user_name.sql", "v1/V1_5__add_user_flags.sql",
               "V2__create_orders.sql", "V10__add_order_status.sql", "R__order_totals_view.sql"]


# ---- the tests ---------------------------------------------------------------------

def test_flyway_project(engine, forge, previewd_factory):
    first = flyway_tree()
    # A new migration in a new subfolder, and the repeatable view changed.
    second = flyway_tree(**{"v2/V11__create_invoices.sql": INVOICES,
                            "R__order_totals_view.sql": VIEW2})
    forge.set_tree(REPO, SHA1, first)
    forge.set_tree(REPO, SHA2, second)
    d = start_flyway(engine, forge, previewd_factory)
    push(d, "opened", 1, SHA1)
    env = settled(d, 1, SHA1)
    assert env["status"] == "ready", env
    assert env["migrations_tool"] == "flyway"
    url = env["database_url"]

    # Every versioned migration ran, in version order (10 after 2, 1.1
    # and the subfolder's 1.5 between 1 and 2); neither the undo file nor
    # the hidden folder's did; the view exists; the seed ran once.
    assert base_tables(engine, url) == ["flyway_schema_history", "orders",
                                        "previewd_migrations", "users"]
    assert column_names(engine, url, "users") == ["id", "email", "name", "active"]
    assert column_names(engine, url, "orders") == ["id", "user_id", "total_cents", "status"]
    assert column_names(engine, url, "order_totals") == ["user_id", "total_cents"]
    assert query(engine, url, "SELECT user_id, total_cents FROM order_totals") == [(1, 1250)]
    assert sorted(records(engine, url)) == sorted(["(seed)"] + FIRST_ORDER)

    # flyway_schema_history exactly as Flyway's script creates it.
    conn = engine.connect(url)
    try:
        mine = definition(engine, conn)
    finally:
        conn.close()
    assert mine == reference_definition(engine)
    if engine.name == "postgres":
        assert mine[0] == [
            ("installed_rank", "integer", None, "NO", None),
            ("version", "character varying", 50, "YES", None),
            ("description", "character varying", 200, "NO", None),
            ("type", "character varying", 20, "NO", None),
            ("script", "character varying", 1000, "NO", None),
            ("checksum", "integer", None, "YES", None),
            ("installed_by", "character varying", 100, "NO", None),
            ("installed_on", "timestamp without time zone", None, "NO", "now()"),
            ("execution_time", "integer", None, "NO", None),
            ("success", "boolean", None, "NO", None)]
        assert mine[1] == [("flyway_schema_history_pk", "PRIMARY KEY", "installed_rank")]
        assert [i[0] for i in mine[2]] == ["flyway_schema_history_pk",
                                           "flyway_schema_history_s_idx"]
    else:
        assert [c[:3] for c in mine[0]] == [
            ("installed_rank", "int(11)", "NO"), ("version", "varchar(50)", "YES"),
            ("description", "varchar(200)", "NO"), ("type", "varchar(20)", "NO"),
            ("script", "varchar(1000)", "NO"), ("checksum", "int(11)", "YES"),
            ("installed_by", "varchar(100)", "NO"), ("installed_on", "timestamp", "NO"),
            ("execution_time", "int(11)", "NO"), ("success", "tinyint(1)", "NO")]
        assert sorted(mine[2]) == [("PRIMARY", "installed_rank", 0, 1),
                                   ("flyway_schema_history_s_idx", "success", 1, 1)]

    # The rows Flyway writes, checksums computed here from the files (V2's
    # CRLF and V10's BOM left out as Flyway leaves them out).
    rows = history(engine, url)
    assert rows_as_flyway_reads(rows) == expected_rows(first, url, FIRST_ORDER)
    assert rows[3][5] == flyway_checksum(ORDERS.replace(b"\r\n", b"\n"))
    assert rows[4][5] == flyway_checksum(STATUS[3:])
    assert all(r[7] is not None and r[8] >= 0 for r in rows)
    assert flyway_validate(engine, url, first) == []

    # A push: the new migration runs alone, the changed view runs again
    # after it, and each gets a row; the view's first row stays, as
    # Flyway keeps it. The developer's own data stays.
    query_none(engine, url, "INSERT INTO users (id, email) VALUES (2, 'mine@example.com')")
    push(d, "synchronize", 1, SHA2)
    env = settled(d, 1, SHA2)
    assert env["status"] == "ready" and env["error"] is None, env
    assert env["database_url"] == url
    assert "invoices" in base_tables(engine, url)
    assert column_names(engine, url, "order_totals") == ["user_id", "total_cents", "orders"]
    assert query(engine, url, "SELECT id FROM users ORDER BY id") == [(1,), (2,)]
    rows = history(engine, url)
    assert len(rows) == 8
    assert rows_as_flyway_reads(rows[:6]) == expected_rows(first, url, FIRST_ORDER)
    assert rows_as_flyway_reads(rows[6:]) == expected_rows(
        second, url, FIRST_ORDER + ["v2/V11__create_invoices.sql",
                                    "R__order_totals_view.sql"])[6:]
    assert rows[7][5] == flyway_checksum(VIEW2) != rows[5][5]
    assert flyway_validate(engine, url, second) == []
    # Against the first commit's files the same database would not pass:
    # what flyway_validate checks can fail.
    assert flyway_validate(engine, url, first) == [
        "outdated repeatable migration: R__order_totals_view.sql",
        "applied, not resolved locally: 11"]


def test_flyway_edit_rebuilds_and_failures_name_the_file(engine, forge, previewd_factory):
    broken = (b"-- Discounts, see the ticket.\n"
              b"ALTER TABLE orders ADD COLUMN discount_cents integer;\n"
              b"ALTER TABLE orders ADD COLUMN oops integr;\n")
    fixed = b"-- Discounts, see the ticket.\nALTER TABLE orders ADD COLUMN discount_cents integer;\n"
    edited = ORDERS + b"ALTER TABLE orders ADD COLUMN note varchar(100);\r\n"
    forge.set_tree(REPO, SHA1, flyway_tree(**{"V12__discounts.sql": broken}))
    forge.set_tree(REPO, SHA2, flyway_tree(**{"V12__discounts.sql": fixed}))
    third = flyway_tree(**{"V12__discounts.sql": fixed, "V2__create_orders.sql": edited})
    forge.set_tree(REPO, SHA3, third)
    d = start_flyway(engine, forge, previewd_factory)
    push(d, "opened", 2, SHA1)
    env = settled(d, 2, SHA1)
    assert env["status"] == "failed", env
    assert env["migrations_tool"] == "flyway"
    if engine.name == "postgres":
        assert env["error"] == ("migration %s/V12__discounts.sql failed: line 3: "
                                'type "integr" does not exist' % FOLDER), env
    else:
        assert env["error"].startswith("migration %s/V12__discounts.sql failed: "
                                       "statement 2: " % FOLDER), env

    push(d, "synchronize", 2, SHA2)
    env = settled(d, 2, SHA2)
    assert env["status"] == "ready", env
    url = env["database_url"]
    order = FIRST_ORDER[:5] + ["V12__discounts.sql", "R__order_totals_view.sql"]
    tree = flyway_tree(**{"V12__discounts.sql": fixed})
    assert [r[4] for r in history(engine, url)] == order
    assert flyway_validate(engine, url, tree) == []

    # An applied versioned migration edited: rebuilt from empty, the
    # history written anew from rank 1.
    push(d, "synchronize", 2, SHA3)
    env = settled(d, 2, SHA3)
    assert env["status"] == "ready", env
    assert env["error"].startswith("rebuilt at cccccccccccc: migration "
                                   "%s/V2__create_orders.sql was edited" % FOLDER), env
    assert env["database_url"] == url
    assert "note" in column_names(engine, url, "orders")
    assert rows_as_flyway_reads(history(engine, url)) == expected_rows(third, url, order)
    assert flyway_validate(engine, url, third) == []
    assert query(engine, url, "SELECT count(*) FROM users") == [(1,)]     # seeded once


def test_flyway_refusals_detection_and_explicit_tools(engine, forge, previewd_factory):
    twice = flyway_tree(**{"v2/V1.0__again.sql": b"SELECT 1;\n"})
    placeholder = flyway_tree(**{"V11__grants.sql":
                                 b"CREATE TABLE audit (id integer);\n"
                                 b"GRANT SELECT ON audit TO ${reporting_user};\n"})
    for repo, tree in (("acme/shop", flyway_tree()), ("acme/twice", twice),
                       ("acme/placeholder", placeholder), ("acme/auto", flyway_tree())):
        forge.set_tree(repo, SHA1, tree)
    section = {"migrations": "repo:" + FOLDER, "seed": "none"}
    d = start_flyway(engine, forge, previewd_factory, migrations_tool="dbmate", seed="none",
                     repos={"acme/twice": dict(section, migrations_tool="flyway"),
                            "acme/placeholder": section,
                            "acme/auto": dict(section, migrations_tool="auto")})
    for repo in ("acme/shop", "acme/twice", "acme/placeholder", "acme/auto"):
        push(d, "opened", 3, SHA1, repo=repo)

    # An explicit tool the folder does not match: what was found (every
    # *.sql file, the undo and hidden ones too).
    env = settled(d, 3, SHA1)
    assert env["status"] == "failed", env
    assert env["error"] == ("migrations_tool dbmate: no <version>_<name>.sql files in "
                            "%s (found 8 .sql files)" % FOLDER), env
    assert env["migrations_tool"] is None
    # Two files of one version fail, as they fail Flyway, before any runs.
    env = settled(d, 3, SHA1, repo="acme/twice")
    assert env["status"] == "failed", env
    assert env["error"] == ("two migrations of version 1.0: %s/V1__create_users.sql and "
                            "%s/v2/V1.0__again.sql" % (FOLDER, FOLDER)), env
    assert env["migrations_tool"] is None
    # A placeholder Flyway would fill from its configuration.
    env = settled(d, 3, SHA1, repo="acme/placeholder")
    assert env["status"] == "failed", env
    assert env["migrations_tool"] == "flyway"
    assert env["error"] == ("migration %s/V11__grants.sql failed: line 2: ${reporting_user} "
                            "is a Flyway placeholder, which previewd does not replace"
                            % FOLDER), env
    # auto on V<version>__ names: flyway.
    env = settled(d, 3, SHA1, repo="acme/auto")
    assert env["status"] == "ready", env
    assert env["migrations_tool"] == "flyway"
    assert [r[4] for r in history(engine, env["database_url"])] == FIRST_ORDER
