/*
 * Unit tests for lib/inert: text from a repository, made unable to act.
 *
 *   - inert_utf8 accepts exactly well-formed UTF-8 (RFC 3629);
 *   - the text log: line breaks and controls as \n \r \t \xNN, bytes
 *     that are not UTF-8 as \xNN, hidden characters as \uNNNN;
 *   - JSON: controls as \u00NN, invalid UTF-8 as U+FFFD;
 *   - Markdown code spans: the fence outgrows any run of backticks
 *     inside, padding where CommonMark strips it, no line break;
 *   - fenced code blocks: three backticks at least, longer than any run
 *     inside, line breaks kept, a carriage return shown;
 *   - a hostile migration file name from the integration test;
 *   - properties (tests/unit/inert_check.h) on 30,000 random strings
 *     made of what breaks escaping: backticks, line breaks, spaces,
 *     quotes, backslashes, C1 and bidirectional characters, cut and
 *     overlong UTF-8, random bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/inert.h"
#include "tests/unit/inert_check.h"

typedef int (*escape_fn)(const char *, struct buf *);

static void
expect(escape_fn fn, const char *in, const char *want)
{
	struct buf b;

	buf_init(&b, 1 << 16);
	assert_int_equal(fn(in, &b), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, want);
	buf_release(&b);
}

static void
test_utf8_accepts_exactly_well_formed(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		uint32_t cp;
	} ok[] = {
		{ "a", 1, 'a' },
		{ "\xc2\x80", 2, 0x80 },
		{ "\xc3\xa9", 2, 0xe9 },
		{ "\xe2\x80\xa8", 3, 0x2028 },
		{ "\xef\xbf\xbd", 3, 0xfffd },
		{ "\xf0\x9f\x98\x80", 4, 0x1f600 },
		{ "\xf4\x8f\xbf\xbf", 4, 0x10ffff },
	};
	static const char *const bad[] = {
		"\x80",              /* a continuation byte alone */
		"\xc0\xaf",          /* overlong '/' */
		"\xc1\xbf",
		"\xe0\x80\xaf",      /* overlong, three bytes */
		"\xed\xa0\x80",      /* a surrogate, U+D800 */
		"\xf4\x90\x80\x80",  /* beyond U+10FFFF */
		"\xf5\x80\x80\x80",
		"\xff",
		"\xc3",              /* cut short */
		"\xe2\x80",
		"\xe2\x28\xa1",      /* not a continuation */
	};
	uint32_t cp;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		assert_int_equal(inert_utf8(ok[i].s, strlen(ok[i].s), &cp),
		    ok[i].n);
		assert_int_equal(cp, ok[i].cp);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(inert_utf8(bad[i], strlen(bad[i]), &cp), 0);
	assert_int_equal(inert_utf8("", 0, &cp), 0);
}

static void
test_line_escapes_breaks_and_controls(void **state)
{
	(void)state;
	expect(inert_line, "plain text, é ✓", "plain text, é ✓");
	expect(inert_line, "a\nb\rc\td", "a\\nb\\rc\\td");
	expect(inert_line, "bell\a esc\x1b[31m del\x7f", "bell\\x07 "
	    "esc\\x1b[31m del\\x7f");
	/* Not UTF-8: the byte, for whoever debugs an encoding. */
	expect(inert_line, "cut \xc3 and \xff", "cut \\xc3 and \\xff");
	/* NEL, a line separator, a right-to-left override. */
	expect(inert_line, "\xc2\x85|\xe2\x80\xa8|\xe2\x80\xae", "\\u0085|"
	    "\\u2028|\\u202e");
	/* Backslashes stay: "\n" typed by someone is two characters. */
	expect(inert_line, "C:\\new", "C:\\new");
	expect(inert_line, "", "");
}

static void
test_json_escapes_and_replaces_invalid_utf8(void **state)
{
	(void)state;
	expect(inert_json, "quote \" backslash \\ tab\t", "quote \\\" "
	    "backslash \\\\ tab\\u0009");
	expect(inert_json, "a\nb\x7f", "a\\u000ab\\u007f");
	expect(inert_json, "bad \xff\xc3(", "bad \xef\xbf\xbd\xef\xbf\xbd(");
	expect(inert_json, "\xe2\x80\xa9 \xc3\xa9", "\\u2029 \xc3\xa9");
}

static void
test_span_fence_outgrows_backticks(void **state)
{
	(void)state;
	expect(inert_md_span, "001_init.sql", "`001_init.sql`");
	expect(inert_md_span, "a`b", "``a`b``");
	expect(inert_md_span, "a``b```c", "````a``b```c````");
	/* A backtick or a space at an end would merge with the fence or
	 * be stripped: both ends get one space, which CommonMark strips. */
	expect(inert_md_span, "`x", "`` `x ``");
	expect(inert_md_span, "x ", "` x  `");
	expect(inert_md_span, "", "");
}

static void
test_span_has_no_line_break(void **state)
{
	(void)state;
	expect(inert_md_span, "a\n# Heading\r\n@octocat",
	    "`a\\n# Heading\\r\\n@octocat`");
	expect(inert_md_span, "tab\there \x01", "`tab\\there \\x01`");
	expect(inert_md_span, "\xff", "`\xef\xbf\xbd`");
}

static void
test_fence_keeps_lines_and_outgrows_backticks(void **state)
{
	(void)state;
	expect(inert_md_fence, "line 1\nline 2", "```\nline 1\nline 2\n```");
	expect(inert_md_fence, "ends\n", "```\nends\n```");
	expect(inert_md_fence, "", "```\n\n```");
	expect(inert_md_fence, "```\nnot the end\n````", "`````\n```\n"
	    "not the end\n````\n`````");
	expect(inert_md_fence, "cr\r# not a line\ttab", "```\ncr\\r# not a "
	    "line\ttab\n```");
}

/* The integration test's file name and the error that echoes it. */
static void
test_hostile_file_name(void **state)
{
	static const char name[] = "002_x\n# Heading [link](https://evil."
	    "example) @octocat ``` `.sql";
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 16);
	assert_int_equal(inert_md_span(name, &b), 0);
	assert_string_equal(b.data, "````002_x\\n# Heading [link](https://evil."
	    "example) @octocat ``` `.sql````");
	assert_null(inert_check(name));
	buf_release(&b);
}

/* A bounded buffer refuses and keeps what fitted. */
static void
test_full_buffer_refuses(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(inert_line("0123456789\n", &b), -1);
	assert_true(b.len <= 8);
	buf_release(&b);
	buf_init(&b, 8);
	assert_int_equal(inert_md_span("0123456789", &b), -1);
	buf_release(&b);
}

/* xorshift64*: the same strings on every run, so a failure repeats. */
static uint64_t
next_random(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

static void
test_random_strings_keep_the_promises(void **state)
{
	static const char *const pieces[] = {
		"`", "``", "```", "\n", "\r", "\r\n", "\t", " ", "\\", "\"",
		"#", "@octocat", "[l](https://x)", "<b>", "a", "é",
		"\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xae", "\xe2\x81\xa6",
		"\xef\xbf\xbd", "\xf0\x9f\x98\x80", "\xc3", "\xe2\x80",
		"\xc0\xaf", "\xed\xa0\x80", "\xff", "\x7f", "\x1b",
	};
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char s[512];
	int i;

	(void)state;
	for (i = 0; i < 30000; i++) {
		size_t len = 0, parts = next_random(&x) % 24, k;
		const char *why;

		for (k = 0; k < parts; k++) {
			uint64_t r = next_random(&x);
			const char *p;
			char one[2];

			if (r % 4 == 0) {
				/* any byte but NUL */
				one[0] = (char)(1 + (r >> 8) % 255);
				one[1] = '\0';
				p = one;
			} else {
				p = pieces[(r >> 8) % ARRAY_SIZE(pieces)];
			}
			if (len + strlen(p) >= sizeof(s))
				break;
			memcpy(s + len, p, strlen(p));
			len += strlen(p);
		}
		s[len] = '\0';
		why = inert_check(s);
		if (why != NULL)
			fail_msg("string %d (%zu bytes): %s", i, len, why);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_accepts_exactly_well_formed),
		cmocka_unit_test(test_line_escapes_breaks_and_controls),
		cmocka_unit_test(test_json_escapes_and_replaces_invalid_utf8),
		cmocka_unit_test(test_span_fence_outgrows_backticks),
		cmocka_unit_test(test_span_has_no_line_break),
		cmocka_unit_test(test_fence_keeps_lines_and_outgrows_backticks),
		cmocka_unit_test(test_hostile_file_name),
		cmocka_unit_test(test_full_buffer_refuses),
		cmocka_unit_test(test_random_strings_keep_the_promises),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
