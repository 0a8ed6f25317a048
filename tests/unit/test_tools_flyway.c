/*
 * Unit tests for core/tools_flyway.c: what Flyway makes of a folder,
 * without a database or a forge (tests/integration/test_tool_flyway.py
 * runs the real thing). The expectations come from Flyway's own source
 * (github.com/flyway/flyway, flyway-core): MigrationVersion (1.10 after
 * 1.9, 10 after 2, "_" read as ".", 1.0 = 1), ResourceNameParser (V, R,
 * "__", .sql; U undo files and names that do not parse are not Flyway's
 * Community migrations; B baseline migrations are refused by previewd),
 * ResolvedMigrationComparator (repeatables after versioned ones, by
 * description), CompositeMigrationResolver (a version twice fails),
 * ChecksumCalculator (CRC-32 over the lines, BOM dropped, a signed int:
 * the numbers below are Python's zlib.crc32 over the lines, made signed),
 * AbbreviationUtils (descriptions past 200 characters).
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
#include "engines/engine.h"

#define FOLDER "src/main/resources/db/migration"

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
		    FOLDER "/%s", names[i]);
	}
	src->n = n;
}

static int
plan(const char *const *names, struct source *src, char *err,
    size_t errlen)
{
	listing(src, names);
	return tool_plan(&tool_flyway, src, NULL, 0, err, errlen);
}

static void
test_plan_order(void **state)
{
	static const char *const names[] = {
	    ".archive/V3__old.sql",          /* a hidden folder: skipped */
	    "R__Customer_totals.sql", "R__a-b.sql", "R__a_b.sql",
	    "README.sql",                    /* R, but not R__: not Flyway's */
	    "U2__drop_orders.sql",           /* undo: Flyway Teams only */
	    "V1.10__ten.sql", "V1.9__nine.sql", "V10__add_status.sql",
	    "V1_1__add_email_index.sql", "V1__create_users.sql",
	    "V2__create_orders.sql", "V2_add_thing.sql",  /* one "_": skipped */
	    "afterMigrate.sql",              /* a callback, not a migration */
	    "v1/V1_5__from_a_subfolder.sql", "notes.sql", NULL };
	static const struct {
		const char *name, *version;
	} want[] = {
		{ "V1__create_users.sql", "1" },
		{ "V1_1__add_email_index.sql", "1.1" },
		{ "v1/V1_5__from_a_subfolder.sql", "1.5" },
		{ "V1.9__nine.sql", "1.9" },
		{ "V1.10__ten.sql", "1.10" },
		{ "V2__create_orders.sql", "2" },
		{ "V10__add_status.sql", "10" },
		/* By description, '_' read as ' ': "Customer totals" (upper
		 * case first), "a b" (' ' < '-'), "a-b". */
		{ "R__Customer_totals.sql", "" },
		{ "R__a_b.sql", "" },
		{ "R__a-b.sql", "" },
	};
	struct source src;
	char err[300] = "";
	size_t i;

	(void)state;
	assert_int_equal(plan(names, &src, err, sizeof(err)), 0);
	assert_int_equal(src.n, ARRAY_SIZE(want));
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		assert_string_equal(src.files[i].name, want[i].name);
		assert_string_equal(src.files[i].version, want[i].version);
		/* Only repeatable migrations run again when they change. */
		assert_int_equal(src.files[i].rerun, want[i].version[0] == '\0');
	}
	source_release(&src);
}

static void
test_versions(void **state)
{
	static const char *const numbers[] = {
	    "V-1__below_zero.sql", "V0__zero.sql", "V007__seven.sql",
	    "V1.sql",                              /* no description */
	    "V18446744073709551616__past_64_bits.sql",
	    "V18446744073709551615__64_bits.sql", "V1.2.3__three.sql",
	    "V1.2.10__ten.sql", NULL };
	static const char *const order[] = { "V-1__below_zero.sql",
	    "V0__zero.sql", "V1.sql", "V1.2.3__three.sql", "V1.2.10__ten.sql",
	    "V007__seven.sql", "V18446744073709551615__64_bits.sql",
	    "V18446744073709551616__past_64_bits.sql" };
	/* Names whose version MigrationVersion refuses: not migrations. */
	static const char *const not_versions[] = { "V1..2__x.sql",
	    "V1.__x.sql", "V.1__x.sql", "V1a__x.sql", "V__x.sql",
	    "V1_init.sql", "V+__x.sql", "V1.-2__x.sql", "v1__lower_case.sql",
	    "V.sql", "R1__versioned_repeatable.sql", NULL };
	struct source src;
	char err[300] = "";
	size_t i;

	(void)state;
	assert_int_equal(plan(numbers, &src, err, sizeof(err)), 0);
	assert_int_equal(src.n, ARRAY_SIZE(order));
	for (i = 0; i < ARRAY_SIZE(order); i++)
		assert_string_equal(src.files[i].name, order[i]);
	assert_string_equal(src.files[2].version, "1");
	assert_string_equal(src.files[5].version, "007");   /* as written */
	source_release(&src);

	assert_int_equal(plan(not_versions, &src, err, sizeof(err)), 0);
	assert_int_equal(src.n, 0);
	source_release(&src);
}

static void
test_refusals(void **state)
{
	static const char *const twice[] = { "V1__create_users.sql",
	    "sub/V1.0__again.sql", NULL };
	static const char *const padded[] = { "V01__a.sql", "V1__b.sql",
	    NULL };
	static const char *const same_description[] = { "R__my_view.sql",
	    "views/R__my view.sql", NULL };
	static const char *const baseline[] = { "B5__baseline.sql",
	    "V6__after.sql", NULL };
	char long_version[100];
	const char *const too_long[] = { long_version, NULL };
	struct source src;
	char err[400] = "";

	(void)state;
	assert_int_equal(plan(twice, &src, err, sizeof(err)), -1);
	assert_string_equal(err, "two migrations of version 1.0: " FOLDER
	    "/V1__create_users.sql and " FOLDER "/sub/V1.0__again.sql");
	source_release(&src);
	assert_int_equal(plan(padded, &src, err, sizeof(err)), -1);
	assert_string_equal(err, "two migrations of version 1: " FOLDER
	    "/V01__a.sql and " FOLDER "/V1__b.sql");
	source_release(&src);
	assert_int_equal(plan(same_description, &src, err, sizeof(err)), -1);
	assert_string_equal(err, "two repeatable migrations of description "
	    "\"my view\": " FOLDER "/R__my_view.sql and " FOLDER
	    "/views/R__my view.sql");
	source_release(&src);
	assert_int_equal(plan(baseline, &src, err, sizeof(err)), -1);
	assert_string_equal(err, FOLDER "/B5__baseline.sql: Flyway baseline "
	    "migrations (B<version>__<description>.sql) are not supported by "
	    "previewd");
	source_release(&src);
	/* flyway_schema_history.version is a VARCHAR(50). */
	snprintf(long_version, sizeof(long_version), "V1.%s__x.sql",
	    "1234567890123456789012345678901234567890123456789");
	assert_int_equal(plan(too_long, &src, err, sizeof(err)), -1);
	assert_string_equal(err, FOLDER "/V1.12345678901234567890123456789012"
	    "34567890123456789__x.sql: version of 51 characters: Flyway's "
	    "flyway_schema_history.version holds 50");
	source_release(&src);
}

/* The history row of file name with contents text. */
static int
row(const char *name, const char *version, const char *text, size_t len,
    struct tool_params *p, char *err, size_t errlen)
{
	struct source_file file;
	struct tool_file f;

	memset(&file, 0, sizeof(file));
	str_copy(file.name, name, sizeof(file.name));
	str_copy(file.version, version, sizeof(file.version));
	memset(&f, 0, sizeof(f));
	f.file = &file;
	f.data = text;
	f.len = len;
	f.sha256 = "";
	f.newest = "";
	return tool_history_row(&tool_flyway, &f, p, err, errlen);
}

static const char *
checksum_of(const char *text, size_t len)
{
	static char sum[16];
	struct tool_params p;
	char err[200];

	assert_int_equal(row("V1__x.sql", "1", text, len, &p, err,
	    sizeof(err)), 0);
	str_copy(sum, p.v[3], sizeof(sum));
	tool_params_release(&p);
	return sum;
}

#define CHECKSUM(s) checksum_of((s), sizeof(s) - 1)

static void
test_checksums(void **state)
{
	struct tool_params p;
	char err[200] = "";

	(void)state;
	assert_string_equal(CHECKSUM("CREATE TABLE users (id int);\n"),
	    "336540139");
	/* Line ends do not count, whichever they are; a leading byte order
	 * mark does not either; a negative int past 2^31. */
	assert_string_equal(CHECKSUM("CREATE TABLE users (id int);\nSELECT 1;"
	    "\n"), "-1682354195");
	assert_string_equal(CHECKSUM("CREATE TABLE users (id int);\r\nSELECT "
	    "1;\r\n"), "-1682354195");
	assert_string_equal(CHECKSUM("CREATE TABLE users (id int);\rSELECT 1;"
	    "\r"), "-1682354195");
	assert_string_equal(CHECKSUM("\xEF\xBB\xBF" "CREATE TABLE users (id "
	    "int);\nSELECT 1;\n"), "-1682354195");
	/* Only on the first line. */
	assert_string_equal(CHECKSUM("SELECT 1;\n\xEF\xBB\xBFSELECT 2;\n"),
	    "-737986772");
	assert_string_equal(CHECKSUM("SELECT 'caf\xC3\xA9';\n"), "987117724");
	assert_string_equal(CHECKSUM(""), "0");
	assert_string_equal(CHECKSUM("\n\n"), "0");

	/* Flyway reads files as UTF-8 and fails on anything else. */
	assert_int_equal(row("V1__x.sql", "1", "SELECT '\xE9';\n", 12, &p,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "not UTF-8, which Flyway reads it as: Flyway "
	    "fails to calculate its checksum");
	tool_params_release(&p);
	/* An overlong '/' is not UTF-8 either. */
	assert_int_equal(row("V1__x.sql", "1", "\xC0\xAF", 2, &p, err,
	    sizeof(err)), -1);
	tool_params_release(&p);
}

static void
test_rows(void **state)
{
	static const char text[] = "SELECT 2;\n";
	struct tool_params p;
	char err[200] = "", name[256], want[256];
	size_t i;

	(void)state;
	/* version (as shown: '.' for '_'), description (' ' for '_'),
	 * script (the path under the folder), checksum. */
	assert_int_equal(row("v1/V1_1__add_email_index.sql", "1.1", text,
	    sizeof(text) - 1, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n, 4);
	assert_string_equal(p.v[0], "1.1");
	assert_string_equal(p.v[1], "add email index");
	assert_string_equal(p.v[2], "v1/V1_1__add_email_index.sql");
	assert_string_equal(p.v[3], "798974111");
	tool_params_release(&p);

	/* A repeatable migration has no version: NULL. */
	assert_int_equal(row("R__order_totals.sql", "", text, sizeof(text) - 1,
	    &p, err, sizeof(err)), 0);
	assert_null(p.v[0]);
	assert_string_equal(p.v[1], "order totals");
	assert_string_equal(p.v[2], "R__order_totals.sql");
	tool_params_release(&p);

	/* No description: "". */
	assert_int_equal(row("V3.sql", "3", text, sizeof(text) - 1, &p, err,
	    sizeof(err)), 0);
	assert_string_equal(p.v[1], "");
	tool_params_release(&p);

	/* Past 200 characters: the first 197 and "...". */
	memset(want, 'a', 197);
	memcpy(want + 197, "...", 4);
	memcpy(name, "V4__", 4);
	memset(name + 4, 'a', 220);
	memcpy(name + 224, ".sql", 5);
	assert_int_equal(row(name, "4", text, sizeof(text) - 1, &p, err,
	    sizeof(err)), 0);
	assert_string_equal(p.v[1], want);
	tool_params_release(&p);
	/* 200 exactly stays: characters (UTF-16 units, as Java counts
	 * them), not bytes. */
	memset(name, 0, sizeof(name));
	memcpy(name, "V5__", 4);
	memset(name + 4, 'a', 190);
	for (i = 0; i < 10; i++)
		memcpy(name + 194 + 2 * i, "\xC3\xA9", 2);
	memcpy(name + 214, ".sql", 5);
	assert_int_equal(row(name, "5", text, sizeof(text) - 1, &p, err,
	    sizeof(err)), 0);
	assert_int_equal(strlen(p.v[1]), 210);
	tool_params_release(&p);
	/* One more: 191 a's and 6 of the 10 e's, then "...". */
	memmove(name + 5, name + 4, strlen(name + 4) + 1);
	assert_int_equal(row(name, "5", text, sizeof(text) - 1, &p, err,
	    sizeof(err)), 0);
	assert_int_equal(strlen(p.v[1]), 191 + 12 + 3);
	assert_true(tool_ends_with(p.v[1], "a\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
	    "\xC3\xA9\xC3\xA9..."));
	tool_params_release(&p);
	/* A character of two UTF-16 units cut in two: its first half, which
	 * the JDBC drivers send as '?'. */
	memset(name, 0, sizeof(name));
	memcpy(name, "V6__", 4);
	memset(name + 4, 'a', 196);
	memcpy(name + 200, "\xF0\x9F\x98\x80" "bbbbb.sql", 14);
	assert_int_equal(row(name, "6", text, sizeof(text) - 1, &p, err,
	    sizeof(err)), 0);
	assert_int_equal(strlen(p.v[1]), 196 + 1 + 3);
	assert_true(tool_ends_with(p.v[1], "aa?..."));
	tool_params_release(&p);
}

/* What runs of text: 0 with out, or -1 with err. */
static int
cut(const char *text, size_t len, char *out, size_t outsz, char *err,
    size_t errlen)
{
	struct buf b;
	bool outside = true;
	int rc;

	buf_init(&b, 1 << 20);
	assert_int_equal(buf_add(&b, text, len), 0);
	rc = tool_flyway.script(&b, &outside, err, errlen);
	assert_false(outside);
	if (rc == 0)
		snprintf(out, outsz, "%.*s", (int)b.len, b.data);
	buf_release(&b);
	return rc;
}

static void
test_script(void **state)
{
	static const char bom[] = "\xEF\xBB\xBF" "CREATE TABLE t (id int);\n"
	    "SELECT 1;\n";
	static const char dollars[] = "SELECT '$1', $$x$$;\n";
	static const char placeholder[] = "-- Grants for the app.\n"
	    "CREATE TABLE t (id int);\n"
	    "GRANT SELECT ON t TO ${app_user};\n";
	char out[200], err[200] = "";

	(void)state;
	/* All of the file runs; a byte order mark goes, lines stay. */
	assert_int_equal(cut(bom, sizeof(bom) - 1, out, sizeof(out), err,
	    sizeof(err)), 0);
	assert_string_equal(out, "CREATE TABLE t (id int);\nSELECT 1;\n");
	assert_int_equal(cut(dollars, sizeof(dollars) - 1, out, sizeof(out),
	    err, sizeof(err)), 0);
	assert_string_equal(out, "SELECT '$1', $$x$$;\n");
	assert_int_equal(cut(placeholder, sizeof(placeholder) - 1, out,
	    sizeof(out), err, sizeof(err)), -1);
	assert_string_equal(err, "line 3: ${app_user} is a Flyway placeholder, "
	    "which previewd does not replace");
}

static void
test_detection(void **state)
{
	static const char *const project[] = { "R__order_totals.sql",
	    "U2__drop_orders.sql", "V1__create_users.sql",
	    "V2__create_orders.sql", "v1/V1_1__add_index.sql", NULL };
	static const char *const only_repeatable[] = { "R__views.sql", NULL };
	static const char *const plain[] = { "001_users.sql", "002_orders.sql",
	    "003_status.sql", NULL };
	const struct tool *t = NULL;
	struct source src;
	char err[300] = "";
	size_t look = 99;

	(void)state;
	listing(&src, project);
	assert_int_equal(tool_choose("auto", FOLDER, &src, &t, &look, err,
	    sizeof(err)), 1);
	assert_ptr_equal(t, &tool_flyway);
	assert_int_equal(tool_choose("flyway", FOLDER, &src, &t, &look, err,
	    sizeof(err)), 1);
	assert_ptr_equal(t, &tool_flyway);
	assert_int_equal(tool_choose("golang-migrate", FOLDER, &src, &t, &look,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "migrations_tool golang-migrate: no *.up.sql "
	    "files in " FOLDER " (found 5 .sql files)");
	source_release(&src);

	/* auto goes by V names, as the issue says. */
	listing(&src, only_repeatable);
	assert_int_equal(tool_choose("auto", FOLDER, &src, &t, &look, err,
	    sizeof(err)), 1);
	assert_string_equal(t->name, "sql");
	source_release(&src);

	listing(&src, plain);
	assert_int_equal(tool_choose("flyway", "db/migrations", &src, &t,
	    &look, err, sizeof(err)), -1);
	assert_string_equal(err, "migrations_tool flyway: no V<version>__"
	    "<description>.sql files in db/migrations (found 3 .sql files)");
	source_release(&src);
}

static void
test_history(void **state)
{
	const struct tool_history *pg = tool_history(&tool_flyway, "postgres"),
	    *my = tool_history(&tool_flyway, "mysql");

	(void)state;
	assert_non_null(pg);
	assert_non_null(my);
	assert_non_null(strstr(pg->create[0], "CONSTRAINT "
	    "flyway_schema_history_pk PRIMARY KEY (installed_rank)"));
	assert_non_null(strstr(pg->create[1], "flyway_schema_history_s_idx"));
	assert_non_null(strstr(my->create[0], "`success` BOOL NOT NULL"));
	assert_int_equal(engine_history_nparams(pg->write[0]), 4);
	assert_int_equal(engine_history_nparams(my->write[0]), 4);
	assert_false(tool_flyway.history_newest);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_order),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_checksums),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_script),
		cmocka_unit_test(test_detection),
		cmocka_unit_test(test_history),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
