/*
 * Unit tests for core/tools_drizzle.c: a drizzle-kit folder as
 * drizzle-orm's migrator (drizzle-orm/src/migrator.ts, readMigrationFiles;
 * pg-core/dialect.ts and mysql-core/dialect.ts, migrate()) applies it,
 * without a database or a forge (tests/integration/test_tool_drizzle.py
 * runs the real thing, and the real drizzle-orm after it):
 *
 *   - the journal's order, not the names' (a journal naming 0002 before
 *     0001 runs them so), its "when" as each file's version, files it
 *     does not name left out; a tag without its file, a tag twice, a
 *     journal that is not JSON or has no entries, a "when" that is not a
 *     whole number of milliseconds, refused;
 *   - each "--> statement-breakpoint" blanked with the file's lines and
 *     length kept, a ";" put in only where the part before it leaves a
 *     statement open (MySQL refuses ";;"), through quotes, dollar-quoted
 *     bodies and comments;
 *   - a file that is not UTF-8 refused at its line;
 *   - the history row (hash, created_at) and the history tables as
 *     drizzle-orm's dialects create them;
 *   - auto picks drizzle by meta/_journal.json, before golang-migrate's
 *     *.up.sql; an explicit drizzle without a journal says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/tools.h"

static const char JOURNAL[] =
    "{\n"
    "  \"version\": \"7\",\n"
    "  \"dialect\": \"postgresql\",\n"
    "  \"entries\": [\n"
    "    {\n"
    "      \"idx\": 0,\n"
    "      \"version\": \"7\",\n"
    "      \"when\": 1718010000000,\n"
    "      \"tag\": \"0000_lame_hulk\",\n"
    "      \"breakpoints\": true\n"
    "    },\n"
    "    {\n"
    "      \"idx\": 1,\n"
    "      \"version\": \"7\",\n"
    "      \"when\": 1718020000000,\n"
    "      \"tag\": \"0002_sour_storm\",\n"
    "      \"breakpoints\": true\n"
    "    },\n"
    "    {\n"
    "      \"idx\": 2,\n"
    "      \"version\": \"7\",\n"
    "      \"when\": 1718030000000,\n"
    "      \"tag\": \"0001_brave_thor\",\n"
    "      \"breakpoints\": false\n"
    "    }\n"
    "  ]\n"
    "}";

/* A listing as source_migrations makes it: names in byte order. */
static void
listing(struct source *src, const char *const *names)
{
	size_t n = 0, i;

	while (names[n] != NULL)
		n++;
	memset(src, 0, sizeof(*src));
	src->files = calloc(n ? n : 1, sizeof(*src->files));
	assert_non_null(src->files);
	for (i = 0; i < n; i++) {
		str_copy(src->files[i].name, names[i], sizeof(src->files[i].name));
		snprintf(src->files[i].path, sizeof(src->files[i].path),
		    "db/drizzle/%s", names[i]);
	}
	src->n = n;
}

static const char *const FOLDER[] = { "0000_lame_hulk.sql",
    "0001_brave_thor.sql", "0002_sour_storm.sql", "0003_not_journaled.sql",
    "meta/_journal.json", NULL };

static int
plan(const char *const *names, const char *journal, struct source *src,
    char *err, size_t errlen)
{
	listing(src, names);
	err[0] = '\0';
	return tool_plan(tool_find("drizzle"), src, journal, strlen(journal),
	    err, errlen);
}

static void
test_journal_order(void **state)
{
	struct source src;
	char err[400];

	(void)state;
	assert_int_equal(plan(FOLDER, JOURNAL, &src, err, sizeof(err)), 0);
	assert_int_equal(src.n, 3);
	assert_string_equal(src.files[0].name, "0000_lame_hulk.sql");
	assert_string_equal(src.files[0].path, "db/drizzle/0000_lame_hulk.sql");
	assert_string_equal(src.files[0].version, "1718010000000");
	assert_string_equal(src.files[1].name, "0002_sour_storm.sql");
	assert_string_equal(src.files[1].version, "1718020000000");
	assert_string_equal(src.files[2].name, "0001_brave_thor.sql");
	assert_string_equal(src.files[2].version, "1718030000000");
	assert_false(src.files[2].rerun);
	source_release(&src);

	/* An empty journal, as drizzle-kit starts one: nothing to run. */
	assert_int_equal(plan(FOLDER, "{\"version\":\"7\",\"dialect\":"
	    "\"postgresql\",\"entries\":[]}", &src, err, sizeof(err)), 0);
	assert_int_equal(src.n, 0);
	source_release(&src);
}

static void
test_journal_refusals(void **state)
{
	static const struct {
		const char *journal, *err;
	} cases[] = {
		{ "{\"entries\":[{\"when\":1,\"tag\":\"0000_lame_hulk\"},"
		  "{\"when\":2,\"tag\":\"0004_gone\"}]}",
		  "db/drizzle/meta/_journal.json: entry 1: No file "
		  "db/drizzle/0004_gone.sql found in db/drizzle folder "
		  "(drizzle-orm's migrator stops there too)" },
		{ "{\"entries\":[{\"when\":1,\"tag\":\"0000_lame_hulk\"},"
		  "{\"when\":2,\"tag\":\"0000_lame_hulk\"}]}",
		  "db/drizzle/meta/_journal.json: entry 1 names "
		  "0000_lame_hulk.sql, which an earlier entry names: previewd "
		  "applies a file once" },
		{ "{\"entries\":[{\"when\":1,\"tag\":\"0000_lame_hulk\",}]}",
		  "db/drizzle/meta/_journal.json is not valid JSON: "
		  "drizzle-orm's migrator stops on it too" },
		{ "\xef\xbb\xbf{\"entries\":[]}",
		  "db/drizzle/meta/_journal.json is not valid JSON: "
		  "drizzle-orm's migrator stops on it too" },
		{ "{\"version\":\"7\"}",
		  "db/drizzle/meta/_journal.json has no \"entries\" array: "
		  "drizzle-orm's migrator stops on it too" },
		{ "{\"entries\":[{\"when\":1}]}",
		  "db/drizzle/meta/_journal.json: entry 0: no \"tag\" string "
		  "naming its file" },
		{ "{\"entries\":[7]}",
		  "db/drizzle/meta/_journal.json: entry 0: no \"tag\" string "
		  "naming its file" },
		{ "{\"entries\":[{\"when\":\"1718010000000\",\"tag\":\"x\"}]}",
		  "db/drizzle/meta/_journal.json: entry 0: \"when\" of x is not "
		  "the milliseconds drizzle-kit writes there (a whole number "
		  "from 0 to 9007199254740991)" },
		{ "{\"entries\":[{\"when\":1.5,\"tag\":\"x\"}]}",
		  "db/drizzle/meta/_journal.json: entry 0: \"when\" of x is not "
		  "the milliseconds drizzle-kit writes there (a whole number "
		  "from 0 to 9007199254740991)" },
		{ "{\"entries\":[{\"when\":-1,\"tag\":\"x\"}]}",
		  "db/drizzle/meta/_journal.json: entry 0: \"when\" of x is not "
		  "the milliseconds drizzle-kit writes there (a whole number "
		  "from 0 to 9007199254740991)" },
		{ "{\"entries\":[{\"when\":9007199254740992,\"tag\":\"x\"}]}",
		  "db/drizzle/meta/_journal.json: entry 0: \"when\" of x is not "
		  "the milliseconds drizzle-kit writes there (a whole number "
		  "from 0 to 9007199254740991)" },
	};
	struct source src;
	char err[400];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(plan(FOLDER, cases[i].journal, &src, err,
		    sizeof(err)), -1);
		assert_string_equal(err, cases[i].err);
		source_release(&src);
	}
	/* The largest "when" a JavaScript number holds exactly is taken;
	 * a tag in a subfolder is found there, as readFileSync finds it. */
	{
		static const char *const sub[] = { "meta/_journal.json",
		    "old/0000_x.sql", NULL };

		assert_int_equal(plan(sub, "{\"entries\":[{\"when\":"
		    "9007199254740991,\"tag\":\"old/0000_x\"}]}", &src, err,
		    sizeof(err)), 0);
		assert_int_equal(src.n, 1);
		assert_string_equal(src.files[0].version, "9007199254740991");
		assert_string_equal(src.files[0].name, "old/0000_x.sql");
		source_release(&src);
	}
}

/* drizzle's script of text: 0 with it in out (the same length), or -1
 * with err. */
static int
script(const char *text, char *out, size_t outsz, char *err, size_t errlen)
{
	struct buf b;
	bool outside = true;
	int rc;

	buf_init(&b, 1 << 20);
	assert_int_equal(buf_addstr(&b, text), 0);
	err[0] = '\0';
	rc = tool_find("drizzle")->script(&b, &outside, err, errlen);
	if (rc == 0) {
		assert_int_equal(b.len, strlen(text));
		assert_false(outside);
		str_copy(out, b.data, outsz);
	}
	buf_release(&b);
	return rc;
}

/* text with each "@" for a marker; want with "@" for 24 blanks and "!"
 * for ";" and 23 blanks. */
static void
expand(const char *text, char *out, size_t outsz)
{
	size_t n = 0;

	for (; *text != '\0' && n + 25 < outsz; text++) {
		if (*text == '@') {
			memcpy(out + n, "--> statement-breakpoint", 24);
			n += 24;
		} else if (*text == '#' && text[1] == '#') {
			/* "##": a blanked marker */
			memset(out + n, ' ', 24);
			n += 24;
			text++;
		} else if (*text == '!' && text[1] == '!') {
			out[n] = ';';
			memset(out + n + 1, ' ', 23);
			n += 24;
			text++;
		} else
			out[n++] = *text;
	}
	out[n] = '\0';
}

static void
check_script(const char *text, const char *want)
{
	char in[2048], out[2048], expect[2048], err[300];

	expand(text, in, sizeof(in));
	expand(want, expect, sizeof(expect));
	assert_int_equal(script(in, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, expect);
}

static void
test_breakpoints(void **state)
{
	(void)state;
	/* drizzle-kit's own output: a CREATE TABLE ends ");\n", an ALTER
	 * ";" right before the marker (writeResult joins statements with
	 * "--> statement-breakpoint\n"). */
	check_script("CREATE TABLE \"users\" (\n\t\"id\" serial PRIMARY KEY "
	    "NOT NULL\n);\n@\nALTER TABLE \"orders\" ADD CONSTRAINT \"fk\" "
	    "FOREIGN KEY (\"user_id\") REFERENCES \"public\".\"users\"(\"id\");"
	    "@\nCREATE INDEX \"i\" ON \"orders\" (\"user_id\");",
	    "CREATE TABLE \"users\" (\n\t\"id\" serial PRIMARY KEY "
	    "NOT NULL\n);\n##\nALTER TABLE \"orders\" ADD CONSTRAINT \"fk\" "
	    "FOREIGN KEY (\"user_id\") REFERENCES \"public\".\"users\"(\"id\");"
	    "##\nCREATE INDEX \"i\" ON \"orders\" (\"user_id\");");
	/* A statement the marker alone ends (drizzle sends it by itself). */
	check_script("CREATE TABLE a (id int)\n@\nCREATE TABLE b (id int)",
	    "CREATE TABLE a (id int)\n!!\nCREATE TABLE b (id int)");
	/* Comments after the ";": nothing left open. */
	check_script("SELECT 1; -- done\n/* really */\n# mysql's too\n@\n"
	    "SELECT 2;", "SELECT 1; -- done\n/* really */\n# mysql's too\n"
	    "##\nSELECT 2;");
	/* Empty parts: the file's start, two markers in a row. */
	check_script("@\nSELECT 1;\n@\n@\nSELECT 2;\n",
	    "##\nSELECT 1;\n##\n##\nSELECT 2;\n");
	/* ";" inside quotes, names and bodies does not end a statement. */
	check_script("INSERT INTO t VALUES ('a;'); INSERT INTO t VALUES "
	    "('it''s;')@", "INSERT INTO t VALUES ('a;'); INSERT INTO t "
	    "VALUES ('it''s;')!!");
	check_script("INSERT INTO t VALUES ('it\\'s;')@",
	    "INSERT INTO t VALUES ('it\\'s;')!!");
	check_script("SELECT \"a;\" FROM `b;`@", "SELECT \"a;\" FROM `b;`!!");
	check_script("DO $$ BEGIN\n ALTER TABLE t ADD x int;\nEXCEPTION\n "
	    "WHEN duplicate_object THEN null;\nEND $$;\n@\nSELECT 1;",
	    "DO $$ BEGIN\n ALTER TABLE t ADD x int;\nEXCEPTION\n "
	    "WHEN duplicate_object THEN null;\nEND $$;\n##\nSELECT 1;");
	check_script("DO $body$ BEGIN PERFORM 1; END $body$\n@",
	    "DO $body$ BEGIN PERFORM 1; END $body$\n!!");
	check_script("PREPARE p AS SELECT $1;@", "PREPARE p AS SELECT $1;##");
	check_script("SELECT a$b FROM t@", "SELECT a$b FROM t!!");
	check_script("SELECT 1; /* a /* nested; */ one; */@",
	    "SELECT 1; /* a /* nested; */ one; */##");
	/* MySQL's executable comments run. */
	check_script("SELECT 1;\n/*!40101 SET NAMES utf8 */\n@",
	    "SELECT 1;\n/*!40101 SET NAMES utf8 */\n!!");
	/* A marker inside a string: drizzle splits there all the same. */
	check_script("SELECT 'a@b';", "SELECT 'a!!b';");
	/* No marker at all, and an empty file. */
	check_script("SELECT 1;\nSELECT 2;\n", "SELECT 1;\nSELECT 2;\n");
	check_script("", "");
	/* "-->" alone is no marker. */
	check_script("SELECT 1 --> 2;\n", "SELECT 1 --> 2;\n");
}

static void
test_utf8(void **state)
{
	char out[256], err[300];

	(void)state;
	/* A byte-order mark, accents and an emoji are UTF-8. */
	assert_int_equal(script("\xef\xbb\xbf" "SELECT 'caf\xc3\xa9 "
	    "\xf0\x9f\x8d\xb0';\n", out, sizeof(out), err, sizeof(err)), 0);
	assert_int_equal(script("SELECT 1;\n-- Latin-1: caf\xe9\nSELECT 2;\n",
	    out, sizeof(out), err, sizeof(err)), -1);
	assert_string_equal(err, "line 2: not UTF-8: drizzle-orm reads a "
	    "migration as UTF-8 text and would run and hash U+FFFD in place "
	    "of byte 0xe9");
	/* An encoded surrogate, an overlong "/", above U+10FFFF, cut short. */
	assert_int_equal(script("\xed\xa0\x80", out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_int_equal(script("\xc0\xaf", out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_int_equal(script("\xf4\x90\x80\x80", out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_int_equal(script("a\n\nb\xe2\x82", out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "line 3: not UTF-8: drizzle-orm reads a "
	    "migration as UTF-8 text and would run and hash U+FFFD in place "
	    "of byte 0xe2");
}

static void
test_history(void **state)
{
	const struct tool *t = tool_find("drizzle");
	const struct tool_history *pg = tool_history(t, "postgres"),
	    *my = tool_history(t, "mysql");
	struct source_file file;
	struct tool_params p;
	struct tool_file f;
	char err[200];
	static const char sum[] =
	    "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

	(void)state;
	memset(&file, 0, sizeof(file));
	str_copy(file.name, "0000_lame_hulk.sql", sizeof(file.name));
	str_copy(file.version, "1718010000000", sizeof(file.version));
	memset(&f, 0, sizeof(f));
	f.file = &file;
	f.data = "x";
	f.len = 1;
	f.sha256 = sum;
	f.newest = "1718030000000";
	assert_int_equal(tool_history_row(t, &f, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n, 2);
	assert_string_equal(p.v[0], sum);
	/* Its own "when", whatever was applied before (a row per file). */
	assert_string_equal(p.v[1], "1718010000000");
	tool_params_release(&p);

	/* pg-core/dialect.ts and mysql-core/dialect.ts, migrate(). */
	assert_non_null(pg);
	assert_non_null(my);
	assert_string_equal(pg->create[0],
	    "CREATE SCHEMA IF NOT EXISTS \"drizzle\"");
	assert_string_equal(pg->create[1], "CREATE TABLE IF NOT EXISTS "
	    "\"drizzle\".\"__drizzle_migrations\" (id SERIAL PRIMARY KEY, "
	    "hash text NOT NULL, created_at bigint)");
	assert_null(pg->create[2]);
	assert_string_equal(pg->write[0], "insert into \"drizzle\"."
	    "\"__drizzle_migrations\" (\"hash\", \"created_at\") "
	    "values($1, $2)");
	assert_null(pg->write[1]);
	assert_string_equal(my->create[0], "create table if not exists "
	    "`__drizzle_migrations` (id serial primary key, hash text not "
	    "null, created_at bigint)");
	assert_string_equal(my->write[0], "insert into `__drizzle_migrations` "
	    "(`hash`, `created_at`) values($1, $2)");
	assert_null(tool_history(t, "oracle"));
}

static void
test_detection(void **state)
{
	static const char *const both[] = { "0000_x.sql", "1_init.up.sql",
	    "meta/_journal.json", NULL };
	static const char *const none[] = { "0000_x.sql", "0001_y.sql",
	    NULL };
	static const char *const journal_only[] = { "meta/_journal.json",
	    NULL };
	const struct tool *t = NULL;
	struct source src;
	char err[300] = "";
	size_t look = 99;

	(void)state;
	assert_true(tool_wants("meta/_journal.json"));
	assert_false(tool_wants("meta/0000_snapshot.json"));
	assert_false(tool_wants("_journal.json"));

	/* The journal is drizzle's, before golang-migrate's *.up.sql. */
	listing(&src, both);
	assert_int_equal(tool_choose("auto", "db/drizzle", &src, &t, &look,
	    err, sizeof(err)), 1);
	assert_string_equal(t->name, "drizzle");
	assert_int_equal(tool_choose("drizzle", "db/drizzle", &src, &t, &look,
	    err, sizeof(err)), 1);
	assert_string_equal(t->name, "drizzle");
	source_release(&src);

	listing(&src, none);
	assert_int_equal(tool_choose("drizzle", "db/drizzle", &src, &t, &look,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "migrations_tool drizzle: no "
	    "meta/_journal.json in db/drizzle (found 2 .sql files)");
	/* Without a journal auto goes on to dbmate's look inside. */
	assert_int_equal(tool_choose("auto", "db/drizzle", &src, &t, &look,
	    err, sizeof(err)), 0);
	assert_string_equal(t->name, "dbmate");
	source_release(&src);

	/* A journal and no file yet. */
	listing(&src, journal_only);
	assert_int_equal(tool_choose("auto", "db/drizzle", &src, &t, &look,
	    err, sizeof(err)), 1);
	assert_string_equal(t->name, "drizzle");
	source_release(&src);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_order),
		cmocka_unit_test(test_journal_refusals),
		cmocka_unit_test(test_breakpoints),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_detection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
