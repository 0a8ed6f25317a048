/*
 * Unit tests for core/tools: what each migration tool makes of a folder,
 * without a database or a forge (the integration tests in
 * tests/integration/test_migration_tools.py run the real thing):
 *
 *   - golang-migrate: which names are migrations, their numeric order
 *     (10 after 2), versions as numbers, a version too large for a bigint
 *     and a version twice refused;
 *   - dbmate: versions as written, the up block cut at "-- migrate:down"
 *     with its lines in place, "transaction:false", and dbmate's own
 *     parse errors;
 *   - auto detection and the errors of an explicit tool that does not
 *     match, or is not one previewd knows;
 *   - every tool of the table is a value migrations_tool accepts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cmocka.h>

#include "core/tools.h"
#include "lib/config.h"

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
		    "db/migrations/%s", names[i]);
	}
	src->n = n;
}

static void
test_golang_migrate_plan(void **state)
{
	static const char *const names[] = { "0010_orders.down.sql",
	    "0010_orders.up.sql", "1_init.down.sql", "1_init.up.sql",
	    "2_users.down.sql", "2_users.up.sql", "init.up.sql", "notes.sql",
	    NULL };
	const struct tool *t = tool_find("golang-migrate");
	struct source src;
	char err[300] = "";

	(void)state;
	listing(&src, names);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(src.n, 3);
	assert_string_equal(src.files[0].name, "1_init.up.sql");
	assert_string_equal(src.files[0].version, "1");
	assert_string_equal(src.files[1].name, "2_users.up.sql");
	assert_string_equal(src.files[2].name, "0010_orders.up.sql");
	assert_string_equal(src.files[2].version, "10");
	assert_null(t->script);                 /* the whole file runs */
	assert_true(t->history_newest);
	source_release(&src);
}

static void
test_golang_migrate_refusals(void **state)
{
	static const char *const big[] = { "9223372036854775808_x.up.sql",
	    NULL };
	static const char *const max[] = { "9223372036854775807_x.up.sql",
	    NULL };
	static const char *const twice[] = { "2_a.up.sql", "02_b.up.sql",
	    NULL };
	const struct tool *t = tool_find("golang-migrate");
	struct source src;
	char err[300] = "";

	(void)state;
	listing(&src, big);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "db/migrations/9223372036854775808_x.up.sql: "
	    "version 9223372036854775808 is larger than a bigint, which "
	    "golang-migrate's schema_migrations.version is");
	source_release(&src);
	listing(&src, max);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), 0);
	assert_string_equal(src.files[0].version, "9223372036854775807");
	source_release(&src);
	listing(&src, twice);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "two migrations of version 2: "
	    "db/migrations/02_b.up.sql and db/migrations/2_a.up.sql");
	source_release(&src);
}

static void
test_dbmate_plan(void **state)
{
	static const char *const names[] = { "10_orders.sql", "1_init.sql",
	    "20240102120000_x.sql", "2_users.sql", "schema.sql", NULL };
	const struct tool *t = tool_find("dbmate");
	struct source src;
	char err[300] = "";

	(void)state;
	listing(&src, names);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(src.n, 4);
	assert_string_equal(src.files[0].version, "1");
	assert_string_equal(src.files[1].version, "2");
	assert_string_equal(src.files[2].version, "10");
	assert_string_equal(src.files[3].version, "20240102120000");
	assert_false(t->history_newest);
	source_release(&src);
}

/* Run dbmate's cut on text: 0 with the script in out, or -1 with err. */
static int
cut(const char *text, char *out, size_t outsz, bool *outside, char *err,
    size_t errlen)
{
	struct buf b;
	int rc;

	buf_init(&b, 1 << 20);
	assert_int_equal(buf_addstr(&b, text), 0);
	*outside = false;
	rc = tool_find("dbmate")->script(&b, outside, err, errlen);
	if (rc == 0)
		str_copy(out, b.data, outsz);
	buf_release(&b);
	return rc;
}

static void
test_dbmate_up_block(void **state)
{
	char out[512], err[300];
	bool outside;

	(void)state;
	assert_int_equal(cut("-- a comment\n\n-- migrate:up\nCREATE TABLE t "
	    "(id int);\n\n-- migrate:down\nDROP TABLE t;\n", out, sizeof(out),
	    &outside, err, sizeof(err)), 0);
	/* Cut at the down line: lines before it stay where they were. */
	assert_string_equal(out, "-- a comment\n\n-- migrate:up\nCREATE TABLE "
	    "t (id int);\n\n");
	assert_false(outside);
	assert_int_equal(cut("--migrate:up   transaction:false\nCREATE INDEX "
	    "CONCURRENTLY i ON t (id);\n--  migrate:down\nDROP INDEX i;\n",
	    out, sizeof(out), &outside, err, sizeof(err)), 0);
	assert_true(outside);
	assert_string_equal(out, "--migrate:up   transaction:false\nCREATE "
	    "INDEX CONCURRENTLY i ON t (id);\n");
	/* Only "false", as a pair of exactly two parts, and the last one. */
	assert_int_equal(cut("-- migrate:up transaction:true\nSELECT 1;\n"
	    "-- migrate:down\n", out, sizeof(out), &outside, err,
	    sizeof(err)), 0);
	assert_false(outside);
	assert_int_equal(cut("-- migrate:up transaction:false:x\nSELECT 1;\n"
	    "-- migrate:down\n", out, sizeof(out), &outside, err,
	    sizeof(err)), 0);
	assert_false(outside);
	assert_int_equal(cut("-- migrate:up transaction:false "
	    "transaction:true\nSELECT 1;\n-- migrate:down", out, sizeof(out),
	    &outside, err, sizeof(err)), 0);
	assert_false(outside);
	/* "-- migrate:upgrade" is no directive: the down line ends it. */
	assert_int_equal(cut("-- migrate:up\n-- migrate:upgrade\nSELECT 1;\n"
	    "-- migrate:down\nSELECT 2;\n", out, sizeof(out), &outside, err,
	    sizeof(err)), 0);
	assert_string_equal(out, "-- migrate:up\n-- migrate:upgrade\n"
	    "SELECT 1;\n");
}

static void
test_dbmate_refusals(void **state)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "CREATE TABLE t (id int);\n",
		  "dbmate requires each migration to define an up block with "
		  "'-- migrate:up'" },
		{ "-- migrate:up\nCREATE TABLE t (id int);\n",
		  "dbmate requires each migration to define a down block with "
		  "'-- migrate:down'" },
		{ "SET x = 1;\n-- migrate:up\nSELECT 1;\n-- migrate:down\n",
		  "dbmate does not support statements preceding the '-- "
		  "migrate:up' block" },
		{ "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n"
		  "-- migrate:down\n",
		  "dbmate requires every '-- migrate:down' to be preceded by a "
		  "'-- migrate:up'" },
		{ "-- migrate:up\nSELECT 1;\n-- migrate:down\n-- migrate:up\n"
		  "SELECT 2;\n-- migrate:down\n",
		  "more than one \"-- migrate:up\" section: previewd runs one "
		  "per file" },
		{ "", "dbmate requires each migration to define an up block "
		  "with '-- migrate:up'" },
	};
	char out[512], err[300];
	bool outside;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		err[0] = '\0';
		assert_int_equal(cut(cases[i].text, out, sizeof(out), &outside,
		    err, sizeof(err)), -1);
		assert_string_equal(err, cases[i].err);
	}
}

static void
test_auto_detection(void **state)
{
	static const char *const gm[] = { "1_init.down.sql", "1_init.up.sql",
	    NULL };
	static const char *const numbered[] = { "10_orders.sql",
	    "2_users.sql", "init.sql", NULL };
	static const char *const plain[] = { "init.sql", "more.sql", NULL };
	const struct tool *t = NULL;
	struct source src;
	char err[300] = "";
	size_t look = 99;

	(void)state;
	listing(&src, gm);
	assert_int_equal(tool_choose("auto", "db/migrations", &src, &t, &look,
	    err, sizeof(err)), 1);
	assert_string_equal(t->name, "golang-migrate");
	source_release(&src);

	/* Numbered files: the lowest version is the one to look inside. */
	listing(&src, numbered);
	assert_int_equal(tool_choose("auto", "db/migrations", &src, &t, &look,
	    err, sizeof(err)), 0);
	assert_int_equal(look, 1);
	assert_int_equal(tool_choose_content("auto", "db/migrations", &src, look,
	    "-- migrate:up\nSELECT 1;\n-- migrate:down\n", 40, &t, err,
	    sizeof(err)), 1);
	assert_string_equal(t->name, "dbmate");
	assert_int_equal(tool_choose_content("auto", "db/migrations", &src, look,
	    "CREATE TABLE t (id int);\n", 25, &t, err, sizeof(err)), 1);
	assert_string_equal(t->name, "sql");
	source_release(&src);

	listing(&src, plain);
	assert_int_equal(tool_choose("auto", "db/migrations", &src, &t, &look,
	    err, sizeof(err)), 1);
	assert_string_equal(t->name, "sql");
	source_release(&src);
}

static void
test_explicit_tools(void **state)
{
	static const char *const plain[] = { "001_init.sql", "002_more.sql",
	    "003_last.sql", NULL };
	static const char *const unnumbered[] = { "init.sql", NULL };
	const struct tool *t = NULL;
	struct source src;
	char err[300] = "";
	size_t look = 99;

	(void)state;
	listing(&src, plain);
	assert_int_equal(tool_choose("golang-migrate", "db/migrations", &src,
	    &t, &look, err, sizeof(err)), -1);
	assert_string_equal(err, "migrations_tool golang-migrate: no *.up.sql "
	    "files in db/migrations (found 3 .sql files)");
	assert_int_equal(tool_choose("dbmate", "db/migrations", &src, &t,
	    &look, err, sizeof(err)), 0);
	assert_int_equal(look, 0);
	assert_int_equal(tool_choose_content("dbmate", "db/migrations", &src, look,
	    "CREATE TABLE t (id int);\n", 25, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "migrations_tool dbmate: no \"-- migrate:up\" "
	    "line in db/migrations/001_init.sql, its first migration (found 3 "
	    ".sql files)");
	assert_int_equal(tool_choose("sql", "db/migrations", &src, &t, &look,
	    err, sizeof(err)), 1);
	assert_string_equal(t->name, "sql");
	assert_int_equal(tool_choose("liquibase", "db/migrations", &src, &t,
	    &look, err, sizeof(err)), -1);
	assert_string_equal(err, "migrations_tool liquibase is not one "
	    "previewd knows");
	source_release(&src);

	listing(&src, unnumbered);
	assert_int_equal(tool_choose("dbmate", "db/migrations", &src, &t,
	    &look, err, sizeof(err)), -1);
	assert_string_equal(err, "migrations_tool dbmate: no "
	    "<version>_<name>.sql files in db/migrations (found 1 .sql file)");
	source_release(&src);

	/* An empty folder is any tool's. */
	listing(&src, unnumbered + 1);
	assert_int_equal(tool_choose("golang-migrate", "db/migrations", &src,
	    &t, &look, err, sizeof(err)), 1);
	assert_string_equal(t->name, "golang-migrate");
	source_release(&src);
}

static void
test_histories(void **state)
{
	const struct tool *gm = tool_find("golang-migrate"),
	    *dbmate = tool_find("dbmate");

	(void)state;
	assert_non_null(tool_history(gm, "postgres"));
	assert_non_null(tool_history(gm, "mysql"));
	assert_non_null(tool_history(dbmate, "postgres"));
	assert_non_null(tool_history(dbmate, "mysql"));
	assert_null(tool_history(tool_find("sql"), "postgres"));
	assert_null(tool_history(gm, "oracle"));
	assert_non_null(strstr(tool_history(gm, "postgres")->create[0],
	    "(version bigint not null primary key, dirty boolean not null)"));
	assert_non_null(strstr(tool_history(dbmate, "mysql")->create[0],
	    "(version varchar(128) primary key)"));
	assert_int_equal(tool_version_cmp("10", "9"), 1);
	assert_int_equal(tool_version_cmp("0009", "10"), -1);
	assert_int_equal(tool_version_cmp("007", "7"), 0);
}

/* Every tool in the table, and auto, is a value the configuration
 * accepts; nothing else is. */
static void
test_config_accepts_every_tool(void **state)
{
	char dir[] = "/tmp/test_tools.XXXXXX", path[64], text[512];
	struct config *cfg = NULL;
	struct buf errors;
	size_t i;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/previewd.conf", dir);
	buf_init(&errors, 1 << 16);
	for (i = 0; i == 0 || tool_at(i - 1) != NULL; i++) {
		const char *name = i == 0 ? "auto" : tool_at(i - 1)->name;

		snprintf(text, sizeof(text), "[server]\nsecret_key = "
		    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"
		    "1e1f\nadmin_token = adm-token-long-enough-for-24\n"
		    "[postgres]\nadmin_url = "
		    "postgresql://admin@db.internal/postgres\n[repo:acme/shop]\n"
		    "migrations_tool = %s\n", name);
		fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(text, fp);
		fclose(fp);
		buf_reset(&errors);
		assert_int_equal(config_load(path, &cfg, &errors), 0);
		assert_string_equal(cfg->repos[0].migrations_tool, name);
		config_free(cfg);
		cfg = NULL;
	}
	assert_int_equal(i, 8);     /* auto and the 7 tools */
	assert_null(tool_at(7));
	buf_release(&errors);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golang_migrate_plan),
		cmocka_unit_test(test_golang_migrate_refusals),
		cmocka_unit_test(test_dbmate_plan),
		cmocka_unit_test(test_dbmate_up_block),
		cmocka_unit_test(test_dbmate_refusals),
		cmocka_unit_test(test_auto_detection),
		cmocka_unit_test(test_explicit_tools),
		cmocka_unit_test(test_histories),
		cmocka_unit_test(test_config_accepts_every_tool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
