/*
 * Unit tests for core/tools_supabase.c: what previewd makes of a Supabase
 * CLI folder, without a database (tests/integration/test_tool_supabase.py
 * runs the real thing):
 *
 *   - which files are migrations (<digits>_<name>.sql right in the
 *     folder, as apps/cli-go/pkg/migration/list.go takes them) and their
 *     order, by file name as the CLI reads the folder, not by number; the
 *     old "<timestamp>_init.sql" first file skipped (shouldSkip); a
 *     version twice refused;
 *   - auto knows the folder by its path, .../supabase/migrations, after
 *     dbmate has looked inside its first file and declined;
 *   - the history row: version, name, and the statements as
 *     pkg/parser's SplitAndTrim cuts the file (dollar quotes, quotes,
 *     nested block comments, "--" comments, BEGIN ATOMIC bodies and
 *     parentheses in which ';' ends nothing; each statement trimmed of
 *     its ';' and white space; a file of none gives NULL), written as
 *     the text of a PostgreSQL text[].
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
		    "supabase/migrations/%s", names[i]);
	}
	src->n = n;
	if (n > 1)
		qsort(src->files, n, sizeof(*src->files), by_name);
}

static void
test_supabase_plan(void **state)
{
	static const char *const names[] = {
	    "20240102000000_orders.sql",
	    "2024010100000_short.sql",
	    "20240101000000_create_users.sql",
	    "notes.sql",
	    "20240103000000.sql",
	    "old/20200101000000_x.sql",
	    "1_.sql",
	    NULL };
	const struct tool *t = tool_find("supabase");
	struct source src;
	char err[300] = "";

	(void)state;
	assert_non_null(t);
	listing(&src, names);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(src.n, 4);
	/* By name, not by number: the 13-digit version, the smallest,
	 * between two of 14 digits. */
	assert_string_equal(src.files[0].name, "1_.sql");
	assert_string_equal(src.files[0].version, "1");
	assert_string_equal(src.files[1].name,
	    "20240101000000_create_users.sql");
	assert_string_equal(src.files[1].version, "20240101000000");
	assert_string_equal(src.files[2].name, "2024010100000_short.sql");
	assert_string_equal(src.files[2].version, "2024010100000");
	assert_string_equal(src.files[3].name, "20240102000000_orders.sql");
	assert_null(t->script);
	source_release(&src);
}

static void
test_supabase_old_init_and_twice(void **state)
{
	static const char *const old[] = { "20211208000000_init.sql",
	    "20211210000000_users.sql", NULL };
	static const char *const recent[] = { "20211209000000_init.sql",
	    "20211210000000_users.sql", NULL };
	static const char *const second[] = { "1_a.sql",
	    "20201208000000_init.sql", NULL };
	static const char *const twice[] = { "20240101000000_a.sql",
	    "20240101000000_b.sql", NULL };
	const struct tool *t = tool_find("supabase");
	struct source src;
	char err[300] = "";

	(void)state;
	listing(&src, old);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(src.n, 1);
	assert_string_equal(src.files[0].name, "20211210000000_users.sql");
	source_release(&src);
	listing(&src, recent);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(src.n, 2);
	source_release(&src);
	/* Only as the folder's first entry. */
	listing(&src, second);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(src.n, 2);
	source_release(&src);
	listing(&src, twice);
	assert_int_equal(tool_plan(t, &src, NULL, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "two migrations of version 20240101000000: "
	    "supabase/migrations/20240101000000_a.sql and "
	    "supabase/migrations/20240101000000_b.sql");
	source_release(&src);
}

static void
test_supabase_detection(void **state)
{
	static const char *const names[] = { "20240101000000_users.sql",
	    "20240102000000_orders.sql", NULL };
	const struct tool *t = NULL;
	struct source src;
	char err[300] = "";
	size_t look = 99;

	(void)state;
	listing(&src, names);
	/* dbmate, earlier in auto's order, looks inside the first file. */
	assert_int_equal(tool_choose("auto", "supabase/migrations", &src, &t,
	    &look, err, sizeof(err)), 0);
	assert_string_equal(t->name, "dbmate");
	assert_int_equal(look, 0);
	assert_int_equal(tool_choose_content("auto", "supabase/migrations",
	    &src, look, "create table users (id int);\n", 29, &t, err,
	    sizeof(err)), 1);
	assert_string_equal(t->name, "supabase");
	assert_int_equal(tool_choose("auto", "apps/web/supabase/migrations/",
	    &src, &t, &look, err, sizeof(err)), 0);
	assert_int_equal(tool_choose_content("auto",
	    "apps/web/supabase/migrations/", &src, look, "select 1;\n", 10,
	    &t, err, sizeof(err)), 1);
	assert_string_equal(t->name, "supabase");
	/* Another path is not the CLI's. */
	assert_int_equal(tool_choose("auto", "mysupabase/migrations", &src, &t,
	    &look, err, sizeof(err)), 0);
	assert_int_equal(tool_choose_content("auto", "mysupabase/migrations",
	    &src, look, "select 1;\n", 10, &t, err, sizeof(err)), 1);
	assert_string_equal(t->name, "sql");
	assert_int_equal(tool_choose("supabase", "supabase/migrations", &src,
	    &t, &look, err, sizeof(err)), 1);
	assert_string_equal(t->name, "supabase");
	assert_int_equal(tool_choose("supabase", "db/migrations", &src, &t,
	    &look, err, sizeof(err)), -1);
	assert_string_equal(err, "migrations_tool supabase: no "
	    "supabase/migrations path in db/migrations (found 2 .sql files)");
	source_release(&src);
	/* PostgreSQL only. */
	assert_non_null(tool_history(tool_find("supabase"), "postgres"));
	assert_null(tool_history(tool_find("supabase"), "mysql"));
}

/* The history row of a file called name holding text: its values into
 * v (version, name, statements or "(null)"). */
static void
row(const char *name, const char *text, char v[3][2048])
{
	const struct tool *t = tool_find("supabase");
	struct source_file file;
	struct tool_file f;
	struct tool_params p;
	char err[300] = "", e[64];
	size_t i;

	memset(&file, 0, sizeof(file));
	str_copy(file.name, name, sizeof(file.name));
	assert_int_equal(t->version(name, file.version, e, sizeof(e)), 1);
	f.file = &file;
	f.data = text;
	f.len = strlen(text);
	f.sha256 = "";
	f.newest = "";
	assert_int_equal(tool_history_row(t, &f, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n, 3);
	for (i = 0; i < 3; i++)
		str_copy(v[i], p.v[i] != NULL ? p.v[i] : "(null)", 2048);
	tool_params_release(&p);
}

static void
test_supabase_row(void **state)
{
	char v[3][2048];

	(void)state;
	row("20240101000000_create_users.sql", "create table users (id int);\n"
	    "create table orders (id int);\n", v);
	assert_string_equal(v[0], "20240101000000");
	assert_string_equal(v[1], "create_users");
	assert_string_equal(v[2], "{\"create table users (id int)\","
	    "\"create table orders (id int)\"}");
	/* Nothing but white space and ';': no statements, NULL. */
	row("1_empty.sql", "", v);
	assert_string_equal(v[2], "(null)");
	row("1_empty.sql", " ;\n;\n\t", v);
	assert_string_equal(v[1], "empty");
	assert_string_equal(v[2], "(null)");
	/* The name is what lies between the digits' '_' and ".sql". */
	row("7_a.sql.sql", "select 1", v);
	assert_string_equal(v[1], "a.sql");
	assert_string_equal(v[2], "{\"select 1\"}");
}

/* What SplitAndTrim makes of text: the row's statements. */
static const char *
split(const char *text)
{
	static char v[3][2048];

	row("1_x.sql", text, v);
	return v[2];
}

static void
test_supabase_statements(void **state)
{
	(void)state;
	/* Comments stay with the statement after them; one after the last
	 * ';' is a statement of its own. */
	assert_string_equal(split("-- users\ncreate table u (id int);\n"
	    "-- the end\n"), "{\"-- users\ncreate table u (id int)\","
	    "\"-- the end\"}");
	assert_string_equal(split("-- a; b\nselect 1;"),
	    "{\"-- a; b\nselect 1\"}");
	/* Dollar quotes, tagged or not. */
	assert_string_equal(split("create function f() returns int as $$ "
	    "select 1; $$ language sql;\nselect 2;"),
	    "{\"create function f() returns int as $$ select 1; $$ language "
	    "sql\",\"select 2\"}");
	assert_string_equal(split("do $body$ begin perform 1; end $body$;"),
	    "{\"do $body$ begin perform 1; end $body$\"}");
	/* A parameter is no tag. */
	assert_string_equal(split("prepare p as select $1; select 2;"),
	    "{\"prepare p as select $1\",\"select 2\"}");
	/* Quotes: a doubled one stays inside; '"' and '\' are escaped in
	 * the array's text. */
	assert_string_equal(split("insert into t values ('a;''b');"
	    "select \"x;y\";"), "{\"insert into t values ('a;''b')\","
	    "\"select \\\"x;y\\\"\"}");
	assert_string_equal(split("select 'a\\b';"), "{\"select 'a\\\\b'\"}");
	/* Nested block comments. */
	assert_string_equal(split("/* a; /* b; */ c; */ select 1; select 2"),
	    "{\"/* a; /* b; */ c; */ select 1\",\"select 2\"}");
	/* A slash, a star, a slash: the block closes at once (state.go
	 * looks at the last two bytes). */
	assert_string_equal(split("/*/ a; b"), "{\"/*/ a\",\"b\"}");
	/* Parentheses and BEGIN ATOMIC bodies: ';' ends nothing there. */
	assert_string_equal(split("create rule r as on insert to t do also "
	    "(select 1; select 2); select 3;"), "{\"create rule r as on "
	    "insert to t do also (select 1; select 2)\",\"select 3\"}");
	assert_string_equal(split("create function g() returns int language "
	    "sql BEGIN\n  ATOMIC select 1; select 2; END; select 3;"),
	    "{\"create function g() returns int language sql BEGIN\n  ATOMIC "
	    "select 1; select 2; END\",\"select 3\"}");
	/* Not the word ATOMIC: no body. */
	assert_string_equal(split("select nonatomic; select 2;"),
	    "{\"select nonatomic\",\"select 2\"}");
	/* The first ')' closes every "(" open around it. */
	assert_string_equal(split("select ((1); 2); select 3"),
	    "{\"select ((1)\",\"2)\",\"select 3\"}");
	/* A '\' outside quotes escapes the next character. */
	assert_string_equal(split("select 1\\; select 2;"),
	    "{\"select 1\\\\; select 2\"}");
	/* A '-' alone is no comment. */
	assert_string_equal(split("select 2-1; select 3"),
	    "{\"select 2-1\",\"select 3\"}");
	/* White space of Unicode trimmed: NBSP (U+00A0), U+3000. */
	assert_string_equal(split("\xc2\xa0select 1;\xe3\x80\x80"),
	    "{\"select 1\"}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_supabase_plan),
		cmocka_unit_test(test_supabase_old_init_and_twice),
		cmocka_unit_test(test_supabase_detection),
		cmocka_unit_test(test_supabase_row),
		cmocka_unit_test(test_supabase_statements),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
