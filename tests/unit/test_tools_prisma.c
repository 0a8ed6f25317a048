/*
 * Unit tests for core/tools_prisma.c: what previewd makes of a Prisma
 * Migrate folder, without a database (the integration tests in
 * tests/integration/test_tool_prisma.py run the real thing):
 *
 *   - which files are migrations (each subfolder's migration.sql, nothing
 *     else: not migration_lock.toml, not a down.sql beside it, not a file
 *     deeper down) and their order, by folder names as prisma-engines
 *     sorted them ("init" before "init-2");
 *   - a subfolder without migration.sql refused, as `prisma migrate
 *     deploy` fails on it;
 *   - auto recognises the folder by migration_lock.toml or by its
 *     <name>/migration.sql files, and an explicit prisma on another
 *     folder says what it looked for;
 *   - a file of one statement runs outside previewd's transaction, as
 *     PostgreSQL runs Prisma's one simple query (CREATE INDEX
 *     CONCURRENTLY alone in its file), a file of several inside it;
 *   - the history row: a v4 UUID id, the file's SHA-256 as checksum, the
 *     folder's name (sql_migration_persistence.rs), and the table as
 *     create_migrations_table of postgres.rs and mysql.rs has it.
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

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct source_file *)a)->name,
	    ((const struct source_file *)b)->name);
}

/* A listing as source_migrations makes it: names under the folder in
 * byte order, paths in the repository. */
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
		str_copy(src->files[i].name, names[i],
		    sizeof(src->files[i].name));
		snprintf(src->files[i].path, sizeof(src->files[i].path),
		    "prisma/migrations/%s", names[i]);
	}
	src->n = n;
	if (n > 1)
		qsort(src->files, n, sizeof(*src->files), by_name);
}

static void
test_prisma_plan(void **state)
{
	static const char *const names[] = {
	    "migration_lock.toml",
	    "20240102000000_orders/migration.sql",
	    "20240102000000_orders/down.sql",
	    "init-2/migration.sql",
	    "20240101000000_init/migration.sql",
	    "init/migration.sql",
	    "20240101000000_init/extra/migration.sql",
	    "stray.sql",
	    NULL };
	const struct tool *t = tool_find("prisma");
	struct source src;
	char err[300] = "";

	(void)state;
	assert_non_null(t);
	listing(&src, names);
	/* The listing has "init-2/..." before "init/..." ('-' < '/'). */
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(src.n, 4);
	assert_string_equal(src.files[0].name,
	    "20240101000000_init/migration.sql");
	assert_string_equal(src.files[1].name,
	    "20240102000000_orders/migration.sql");
	assert_string_equal(src.files[2].name, "init/migration.sql");
	assert_string_equal(src.files[3].name, "init-2/migration.sql");
	assert_string_equal(src.files[2].path,
	    "prisma/migrations/init/migration.sql");
	assert_null(t->index);
	source_release(&src);
}

static void
test_prisma_folder_without_script(void **state)
{
	static const char *const names[] = {
	    "20240101000000_init/migration.sql",
	    "20240102000000_orders/down.sql",
	    NULL };
	static const char *const deeper[] = {
	    "20240101000000_init/migration.sql",
	    "20240103000000_x/sub/migration.sql",
	    NULL };
	const struct tool *t = tool_find("prisma");
	struct source src;
	char err[300] = "";

	(void)state;
	listing(&src, names);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "prisma/migrations/20240102000000_orders has "
	    "no migration.sql: prisma migrate deploy fails on such a folder "
	    "(\"Failed to read migration script\")");
	source_release(&src);
	listing(&src, deeper);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "prisma/migrations/20240103000000_x has no "
	    "migration.sql"));
	source_release(&src);
}

static void
test_prisma_detection(void **state)
{
	static const char *const lock_only[] = { "migration_lock.toml", NULL };
	static const char *const scripts[] = { "0_init/migration.sql", NULL };
	static const char *const gm[] = { "1_init.down.sql", "1_init.up.sql",
	    NULL };
	static const char *const plain[] = { "001_init.sql", "002_more.sql",
	    NULL };
	const struct tool *t = NULL;
	struct source src;
	char err[300] = "";
	size_t look = 0;

	(void)state;
	listing(&src, lock_only);
	assert_int_equal(tool_choose("auto", "prisma/migrations", &src, &t,
	    &look, err, sizeof(err)), 1);
	assert_string_equal(t->name, "prisma");
	source_release(&src);

	/* The folder's name does not matter, its contents do. */
	listing(&src, scripts);
	assert_int_equal(tool_choose("auto", "db/migrations", &src, &t, &look,
	    err, sizeof(err)), 1);
	assert_string_equal(t->name, "prisma");
	assert_int_equal(tool_choose("prisma", "db/migrations", &src, &t,
	    &look, err, sizeof(err)), 1);
	source_release(&src);

	listing(&src, gm);
	assert_int_equal(tool_choose("auto", "prisma/migrations", &src, &t,
	    &look, err, sizeof(err)), 1);
	assert_string_equal(t->name, "golang-migrate");
	source_release(&src);

	listing(&src, plain);
	assert_int_equal(tool_choose("prisma", "db/migrations", &src, &t,
	    &look, err, sizeof(err)), -1);
	assert_string_equal(err, "migrations_tool prisma: no "
	    "migration_lock.toml or <name>/migration.sql folders in "
	    "db/migrations (found 2 .sql files)");
	source_release(&src);
}

static void
test_prisma_history_row(void **state)
{
	static const char sum[] =
	    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
	const struct tool *t = tool_find("prisma");
	struct source_file file;
	struct tool_file f;
	struct tool_params a, b;
	char err[300] = "";
	size_t i;

	(void)state;
	memset(&file, 0, sizeof(file));
	str_copy(file.name, "20240102000000_orders/migration.sql",
	    sizeof(file.name));
	f.file = &file;
	f.data = "hello";
	f.len = 5;
	f.sha256 = sum;
	f.newest = "";
	assert_int_equal(tool_history_row(t, &f, &a, err, sizeof(err)), 0);
	assert_int_equal(tool_history_row(t, &f, &b, err, sizeof(err)), 0);
	assert_int_equal(a.n, 3);
	/* id: 8-4-4-4-12 lower-case hex, version 4, RFC 4122 variant. */
	assert_int_equal(strlen(a.v[0]), 36);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(a.v[0][i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", a.v[0][i]));
	}
	assert_int_equal(a.v[0][14], '4');
	assert_non_null(strchr("89ab", a.v[0][19]));
	assert_string_not_equal(a.v[0], b.v[0]);
	assert_string_equal(a.v[1], sum);
	assert_string_equal(a.v[2], "20240102000000_orders");
	tool_params_release(&a);
	tool_params_release(&b);
}

static void
test_prisma_history_tables(void **state)
{
	const struct tool *t = tool_find("prisma");
	const struct tool_history *pg = tool_history(t, "postgres"),
	    *my = tool_history(t, "mysql");

	(void)state;
	assert_non_null(pg);
	assert_non_null(my);
	assert_non_null(strstr(pg->create[0], "CREATE TABLE IF NOT EXISTS "
	    "_prisma_migrations ("));
	assert_non_null(strstr(pg->create[0], "started_at              "
	    "TIMESTAMPTZ NOT NULL DEFAULT now(),\n"));
	assert_non_null(strstr(pg->create[0], "applied_steps_count     "
	    "INTEGER NOT NULL DEFAULT 0\n"));
	assert_non_null(strstr(my->create[0], "applied_steps_count     "
	    "INTEGER UNSIGNED NOT NULL DEFAULT 0\n) DEFAULT CHARACTER SET "
	    "utf8mb4 COLLATE utf8mb4_unicode_ci"));
	/* One row per file: three values, the rest constant. */
	assert_non_null(strstr(pg->write[0], "VALUES ($1, $2, "
	    "clock_timestamp(), $3, NULL, NULL, now(), 1)"));
	assert_non_null(strstr(my->write[0], "VALUES ($1, $2, "
	    "UTC_TIMESTAMP(3), $3, NULL, NULL, UTC_TIMESTAMP(3), 1)"));
	assert_null(pg->write[1]);
}

/* Whether prisma runs text outside previewd's transaction. */
static bool
outside(const char *text)
{
	struct buf b;
	bool out = false;
	char err[100];

	buf_init(&b, 1 << 20);
	assert_int_equal(buf_addstr(&b, text), 0);
	assert_int_equal(tool_find("prisma")->script(&b, &out, err,
	    sizeof(err)), 0);
	/* The whole file runs. */
	assert_string_equal(b.data, text);
	buf_release(&b);
	return out;
}

static void
test_prisma_lone_statement(void **state)
{
	(void)state;
	/* One statement: PostgreSQL runs Prisma's simple query outside any
	 * transaction block, so previewd runs it outside its own. */
	assert_true(outside("-- CreateIndex\nCREATE INDEX CONCURRENTLY "
	    "\"orders_userId_idx\" ON \"orders\"(\"userId\");\n"));
	assert_true(outside("CREATE INDEX CONCURRENTLY i ON t (a);\n-- done\n"
	    "/* really; /* done */ */\n"));
	assert_true(outside("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; "
	    "SELECT 2; $$ LANGUAGE sql;"));
	assert_true(outside("ALTER TYPE \"Role\" ADD VALUE 'ADMIN'"));
	/* Several: one implicit transaction, as previewd's. */
	assert_false(outside("-- CreateTable\nCREATE TABLE a (id int);\n\n"
	    "-- CreateIndex\nCREATE INDEX i ON a (id);\n"));
	/* Nothing to run. */
	assert_false(outside(""));
	assert_false(outside("-- nothing\n/* at /* all */ */;\n"));
	assert_int_equal(tool_pg_statements("SELECT 1; SELECT 2; SELECT 3", 28),
	    2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prisma_plan),
		cmocka_unit_test(test_prisma_folder_without_script),
		cmocka_unit_test(test_prisma_detection),
		cmocka_unit_test(test_prisma_history_row),
		cmocka_unit_test(test_prisma_history_tables),
		cmocka_unit_test(test_prisma_lone_statement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
