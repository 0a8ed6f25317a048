/*
 * Unit tests for lib/log: the lines operators and their log shippers
 * read.
 *
 *   - text: "TIMESTAMP LEVEL message key=value..." on one line;
 *   - json: one object per line, the context's key=value pairs as members,
 *     quotes, backslashes and control characters escaped, invalid UTF-8
 *     replaced with U+FFFD;
 *   - a value with a line break (a migration file's name) cannot start a
 *     line of its own: it shows as \n (lib/inert.h);
 *   - levels below the minimum print nothing;
 *   - a cleared context adds nothing.
 *
 * stderr is pointed at a temporary file for each test and read back.
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

#include "lib/log.h"

struct capture {
	FILE *file;
	int saved;
};

static int
setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->file = tmpfile()) == NULL)
		return -1;
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	if (c->saved < 0 || dup2(fileno(c->file), STDERR_FILENO) < 0)
		return -1;
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct capture *c = *state;

	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	fclose(c->file);
	free(c);
	log_context_clear();
	log_setup(LL_INFO, LOG_TEXT);
	return 0;
}

/* Everything written so far, from the start. */
static const char *
captured(struct capture *c)
{
	static char text[8192];
	size_t n;

	rewind(c->file);
	n = fread(text, 1, sizeof(text) - 1, c->file);
	text[n] = '\0';
	return text;
}

static void
test_text_line_has_level_message_and_context(void **state)
{
	struct capture *c = *state;
	const char *t;

	log_setup(LL_INFO, LOG_TEXT);
	log_context("env=%s repo=%s pr=%d", "env_0123456789abcdef", "acme/shop",
	    7);
	log_info("database %s claimed", "pvd_shop_1");
	t = captured(c);
	/* 2026-11-22T21:25:17.123Z info  database ... */
	assert_int_equal(strlen(t) > 25, 1);
	assert_int_equal(t[4], '-');
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[23], 'Z');
	assert_string_equal(t + 25, "info  database pvd_shop_1 claimed "
	    "env=env_0123456789abcdef repo=acme/shop pr=7\n");
}

static void
test_json_line_has_context_as_members(void **state)
{
	struct capture *c = *state;
	const char *t, *rest;

	log_setup(LL_INFO, LOG_JSON);
	log_context("delivery=%s repo=%s pr=%d", "d-1", "acme/shop", 42);
	log_warnx("quote \" backslash \\ tab\t end");
	t = captured(c);
	assert_true(strncmp(t, "{\"ts\":\"", 7) == 0);
	rest = strstr(t, "\",\"level\"");
	assert_non_null(rest);
	assert_string_equal(rest, "\",\"level\":\"warn\",\"msg\":\"quote \\\" "
	    "backslash \\\\ tab\\u0009 end\",\"delivery\":\"d-1\",\"repo\":"
	    "\"acme/shop\",\"pr\":\"42\"}\n");
}

static void
test_json_line_without_context(void **state)
{
	struct capture *c = *state;
	const char *rest;

	log_setup(LL_INFO, LOG_JSON);
	log_context("env=x");
	log_context_clear();
	log_errorx("plain");
	rest = strstr(captured(c), "\",\"level\"");
	assert_non_null(rest);
	assert_string_equal(rest, "\",\"level\":\"error\",\"msg\":\"plain\"}\n");
}

/* A migration file's name (chosen by whoever opens a pull request) with
 * a line break in it cannot forge a second line. */
static void
test_text_line_cannot_be_split_by_a_value(void **state)
{
	struct capture *c = *state;
	const char *t;

	log_setup(LL_INFO, LOG_TEXT);
	log_context("env=%s", "env_01\nforged=1");
	log_warnx("migration %s failed", "x.sql\n2026-01-01T00:00:00.000Z "
	    "error forged\r\x1b[2K\xe2\x80\xae\xff");
	t = captured(c);
	assert_int_equal(strchr(t, '\n'), t + strlen(t) - 1);
	assert_string_equal(t + 25, "warn  migration x.sql\\n2026-01-01T00:00:"
	    "00.000Z error forged\\r\\x1b[2K\\u202e\\xff failed "
	    "env=env_01\\nforged=1\n");
}

/* The JSON line stays one valid object: invalid UTF-8 (a database's
 * error in another encoding) becomes U+FFFD. */
static void
test_json_line_is_valid_utf8(void **state)
{
	struct capture *c = *state;
	const char *rest;

	log_setup(LL_INFO, LOG_JSON);
	log_warnx("bad \xff\xc3 del\x7f nl\n");
	rest = strstr(captured(c), "\",\"level\"");
	assert_non_null(rest);
	assert_string_equal(rest, "\",\"level\":\"warn\",\"msg\":\"bad "
	    "\xef\xbf\xbd\xef\xbf\xbd del\\u007f nl\\u000a\"}\n");
}

static void
test_below_minimum_prints_nothing(void **state)
{
	struct capture *c = *state;

	log_setup(LL_WARN, LOG_TEXT);
	log_debug("no");
	log_info("no");
	assert_string_equal(captured(c), "");
	log_warnx("yes");
	assert_non_null(strstr(captured(c), "warn  yes\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_text_line_has_level_message_and_context, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_line_has_context_as_members, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_line_without_context, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_text_line_cannot_be_split_by_a_value, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_json_line_is_valid_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_below_minimum_prints_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
