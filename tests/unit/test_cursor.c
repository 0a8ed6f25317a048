/*
 * Unit tests for lib/cursor: the opaque positions paged lists hand out.
 *
 *   - round trips at the edges of int64 (negative keys, a tie of 0 and
 *     of INT64_MAX), both directions, every order letter;
 *   - the text is URL-safe base64 without padding and fits CURSOR_SIZE;
 *   - what cursor_encode never writes is refused: empty, padding, the
 *     standard alphabet's + and /, a wrong version, order or direction,
 *     missing or extra fields, a negative tie, other spellings of the
 *     same numbers ("+1", "01", "-0"), stray bits in the last character,
 *     an embedded NUL, too long;
 *   - encode refuses what it cannot write back (a bad order, a negative
 *     tie, a small buffer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cursor.h"

/* URL-safe base64 without padding of s, as a client could forge it. */
static void
b64url(const char *s, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789-_";
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < n; i += 3) {
		v = (unsigned)(unsigned char)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = a[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

static void
test_round_trips(void **state)
{
	static const struct cursor cases[] = {
		{ 'c', false, 1732310717, 42 },
		{ 'x', true, 0, 0 },
		{ 'a', false, -1, 1 },
		{ 'z', true, INT64_MIN, INT64_MAX },
		{ 'c', false, INT64_MAX, 7 },
	};
	char text[CURSOR_SIZE];
	struct cursor back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cursor_encode(&cases[i], text, sizeof(text)),
		    0);
		assert_true(strlen(text) < CURSOR_SIZE);
		assert_int_equal(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(text));
		memset(&back, 0x5a, sizeof(back));
		assert_int_equal(cursor_decode(text, &back), 0);
		assert_int_equal(back.order, cases[i].order);
		assert_int_equal(back.before, cases[i].before);
		assert_true(back.key == cases[i].key);
		assert_true(back.tie == cases[i].tie);
	}
}

static void
test_known_text(void **state)
{
	struct cursor c = { 'c', false, 1732310717, 42 }, back;
	char text[CURSOR_SIZE], want[CURSOR_SIZE];

	(void)state;
	/* The documented plain form, so that a format change is a
	 * decision, not an accident. */
	b64url("1ca.1732310717.42", 17, want);
	assert_int_equal(cursor_encode(&c, text, sizeof(text)), 0);
	assert_string_equal(text, want);
	assert_int_equal(cursor_decode(want, &back), 0);
}

static void
test_refuses_what_encode_never_writes(void **state)
{
	static const char *const plain[] = {
		"2ca.1.2",           /* another version */
		"1Ca.1.2",           /* order not a lower-case letter */
		"1.a.1.2",
		"1cc.1.2",           /* direction neither a nor b */
		"1ca.1",             /* a field missing */
		"1ca..2",
		"1ca.1.",
		"1ca.1.2.3",         /* one too many */
		"1ca.1.-2",          /* a negative tie */
		"1ca.+1.2",          /* other spellings of the numbers */
		"1ca.01.2",
		"1ca.-0.2",
		"1ca.1.02",
		"1ca. 1.2",
		"1ca.1.2 ",
		"1ca.1x.2",
		"1ca.99999999999999999999.2",    /* past int64 */
		"",
	};
	struct cursor c;
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		b64url(plain[i], strlen(plain[i]), text);
		if (cursor_decode(text, &c) == 0)
			fail_msg("accepted %s (\"%s\")", text, plain[i]);
	}
	/* An embedded NUL. */
	b64url("1ca.1\0.2", 8, text);
	assert_int_equal(cursor_decode(text, &c), -1);
}

static void
test_refuses_bad_base64(void **state)
{
	struct cursor c = { 'c', false, 1732310717, 42 };
	char text[CURSOR_SIZE], bad[CURSOR_SIZE + 8];
	size_t n;

	(void)state;
	assert_int_equal(cursor_encode(&c, text, sizeof(text)), 0);
	n = strlen(text);
	/* Padding, the standard alphabet, blanks, a stray length. */
	snprintf(bad, sizeof(bad), "%s=", text);
	assert_int_equal(cursor_decode(bad, &c), -1);
	snprintf(bad, sizeof(bad), "%s", text);
	bad[1] = '+';
	assert_int_equal(cursor_decode(bad, &c), -1);
	bad[1] = '/';
	assert_int_equal(cursor_decode(bad, &c), -1);
	snprintf(bad, sizeof(bad), " %s", text);
	assert_int_equal(cursor_decode(bad, &c), -1);
	snprintf(bad, sizeof(bad), "%sA", text);
	assert_int_equal(cursor_decode(bad, &c), -1);
	/* Stray low bits in the last character decode to the same bytes:
	 * refused, one spelling per position. n is 23 (17 bytes), so the
	 * last character carries 2 bits the text does not use. */
	assert_int_equal(n % 4, 3);
	snprintf(bad, sizeof(bad), "%s", text);
	bad[n - 1] = bad[n - 1] == 'A' ? 'B' : bad[n - 1] ^ 1;
	assert_int_equal(cursor_decode(bad, &c), -1);
	/* Too long, even if well formed in itself. */
	memset(bad, 'A', CURSOR_SIZE);
	bad[CURSOR_SIZE] = '\0';
	assert_int_equal(cursor_decode(bad, &c), -1);
	assert_int_equal(cursor_decode("", &c), -1);
	assert_int_equal(cursor_decode("not a cursor", &c), -1);
}

static void
test_encode_refuses(void **state)
{
	struct cursor c = { 'C', false, 1, 2 };
	char text[CURSOR_SIZE];

	(void)state;
	assert_int_equal(cursor_encode(&c, text, sizeof(text)), -1);
	c.order = 'c';
	c.tie = -1;
	assert_int_equal(cursor_encode(&c, text, sizeof(text)), -1);
	c.tie = 2;
	assert_int_equal(cursor_encode(&c, text, 4), -1);
	assert_int_equal(cursor_encode(&c, text, sizeof(text)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_known_text),
		cmocka_unit_test(test_refuses_what_encode_never_writes),
		cmocka_unit_test(test_refuses_bad_base64),
		cmocka_unit_test(test_encode_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
