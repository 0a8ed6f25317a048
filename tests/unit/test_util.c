/*
 * Unit tests for lib/util: the small pieces every module builds on.
 *
 *   - parse_duration / format_duration (config TTLs and intervals);
 *   - parse_int64 bounds and rejection of anything not a whole integer;
 *   - str_copy / str_printf truncation reporting (and no overrun);
 *   - time_rfc3339 / parse_rfc3339: known instants, fractions, offsets,
 *     leap years, round trips, and dates that do not exist;
 *   - struct buf: the maximum is enforced and a refused add leaves the
 *     buffer exactly as it was.
 *
 * Tests marked "Regression" pin bugs found and fixed; each names the input
 * that showed it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/util.h"

/* ---- durations ---- */

static void
test_parse_duration_valid(void **state)
{
	static const struct {
		const char *s;
		int64_t seconds;
	} cases[] = {
		{ "30s", 30 },
		{ "10m", 600 },
		{ "72h", 72 * 3600 },
		{ "2d", 2 * 86400 },
		{ "0s", 0 },
		{ "0m", 0 },
		{ "0d", 0 },
		{ "1s", 1 },
		{ "90s", 90 },
		{ "007m", 420 },
		{ "86400s", 86400 },
		/* The largest values config accepts must parse. */
		{ "365d", (int64_t)365 * 86400 },
		{ "8760h", (int64_t)365 * 86400 },
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		v = -12345;
		if (parse_duration(cases[i].s, &v) != 0)
			fail_msg("parse_duration(\"%s\") rejected", cases[i].s);
		if (v != cases[i].seconds)
			fail_msg("parse_duration(\"%s\") = %lld, want %lld",
			    cases[i].s, (long long)v,
			    (long long)cases[i].seconds);
	}
}

static void
test_parse_duration_invalid(void **state)
{
	static const char *const bad[] = {
		"", "h", "s", "5", "5x", "-1h", "+1h", "1h30m", " 5s", "5s ",
		"5 s", "5ms", "5sec", "1.5h", "0x10s", "5\n", "5s\n", "d5",
		"--1s", "1e3s",
		/* Overflow while reading the digits. */
		"9223372036854775808s", "99999999999999999999999s",
		"18446744073709551616s",
		/* Fits int64 as a number, overflows once multiplied. */
		"9223372036854775807d", "106751991167301d", "2562047788015216h",
		"153722867280912931m",
		/* Absurdly long: far beyond any TTL or interval. */
		"9223372036854775807s", "1000000000d",
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (parse_duration(bad[i], &v) == 0)
			fail_msg("parse_duration(\"%s\") accepted as %lld", bad[i],
			    (long long)v);
}

static void
test_format_duration(void **state)
{
	static const struct {
		int64_t seconds;
		const char *text;
	} cases[] = {
		{ 0, "0s" },
		{ 1, "1s" },
		{ 30, "30s" },
		{ 90, "90s" },
		{ 60, "1m" },
		{ 600, "10m" },
		{ 5400, "90m" },
		{ 3600, "1h" },
		{ 90000, "25h" },
		{ 86400, "1d" },
		{ 172800, "2d" },
		/* "Largest exact unit": 72h is 3d. (The header's own example
		 * says "72h"; see the report.) */
		{ 259200, "3d" },
		{ (int64_t)365 * 86400, "365d" },
	};
	char out[32];
	size_t i;
	int64_t back;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		format_duration(cases[i].seconds, out, sizeof(out));
		if (strcmp(out, cases[i].text) != 0)
			fail_msg("format_duration(%lld) = \"%s\", want \"%s\"",
			    (long long)cases[i].seconds, out, cases[i].text);
		/* What it prints parses back to the same value. */
		assert_int_equal(parse_duration(out, &back), 0);
		assert_int_equal(back, cases[i].seconds);
	}
}

static void
test_format_duration_is_bounded(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'X', sizeof(out));
	format_duration(123456789, out, 4);
	assert_int_equal(strlen(out), 3);
	assert_int_equal(out[4], 'X');
}

/* ---- integers ---- */

static void
test_parse_int64_valid(void **state)
{
	static const struct {
		const char *s;
		int64_t min, max, want;
	} cases[] = {
		{ "0", 0, 10, 0 },
		{ "10", 0, 10, 10 },
		{ "1", 1, 64, 1 },
		{ "64", 1, 64, 64 },
		{ "-5", -5, 5, -5 },
		{ "42", INT64_MIN, INT64_MAX, 42 },
		{ "9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX },
		{ "-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN },
		{ "65535", 1, 65535, 65535 },
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		v = 777;
		if (parse_int64(cases[i].s, cases[i].min, cases[i].max, &v) != 0)
			fail_msg("parse_int64(\"%s\", %lld, %lld) rejected",
			    cases[i].s, (long long)cases[i].min,
			    (long long)cases[i].max);
		assert_int_equal(v, cases[i].want);
	}
}

static void
test_parse_int64_invalid(void **state)
{
	static const struct {
		const char *s;
		int64_t min, max;
	} cases[] = {
		{ "11", 0, 10 },                 /* max + 1 */
		{ "-1", 0, 10 },                 /* min - 1 */
		{ "0", 1, 64 },
		{ "65", 1, 64 },
		{ "65536", 1, 65535 },
		{ "9223372036854775808", INT64_MIN, INT64_MAX },
		{ "-9223372036854775809", INT64_MIN, INT64_MAX },
		{ "99999999999999999999", INT64_MIN, INT64_MAX },
		{ "", INT64_MIN, INT64_MAX },
		{ " 1", INT64_MIN, INT64_MAX },
		{ "1 ", INT64_MIN, INT64_MAX },
		{ "\t1", INT64_MIN, INT64_MAX },
		{ "1\n", INT64_MIN, INT64_MAX },
		{ "1.0", INT64_MIN, INT64_MAX },
		{ "1e3", INT64_MIN, INT64_MAX },
		{ "0x10", INT64_MIN, INT64_MAX },
		{ "abc", INT64_MIN, INT64_MAX },
		{ "4abc", INT64_MIN, INT64_MAX },
		{ "-", INT64_MIN, INT64_MAX },
		{ "--1", INT64_MIN, INT64_MAX },
		{ "- 1", INT64_MIN, INT64_MAX },
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (parse_int64(cases[i].s, cases[i].min, cases[i].max, &v) == 0)
			fail_msg("parse_int64(\"%s\", %lld, %lld) accepted as %lld",
			    cases[i].s, (long long)cases[i].min,
			    (long long)cases[i].max, (long long)v);
	assert_int_equal(parse_int64(NULL, 0, 10, &v), -1);
}

/* ---- strings ---- */

static void
test_str_copy(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'X', sizeof(out));
	assert_int_equal(str_copy(out, "abc", sizeof(out)), 0);
	assert_string_equal(out, "abc");

	/* Exactly fits with the NUL. */
	assert_int_equal(str_copy(out, "abcdefg", 8), 0);
	assert_string_equal(out, "abcdefg");

	/* One too long: truncated, terminated, reported, no overrun. */
	memset(out, 'X', sizeof(out));
	assert_int_equal(str_copy(out, "abcdefgh", 7), -1);
	assert_string_equal(out, "abcdef");
	assert_int_equal(out[7], 'X');

	memset(out, 'X', sizeof(out));
	assert_int_equal(str_copy(out, "abc", 1), -1);
	assert_string_equal(out, "");
	assert_int_equal(out[1], 'X');

	memset(out, 'X', sizeof(out));
	assert_int_equal(str_copy(out, "abc", 0), -1);
	assert_int_equal(out[0], 'X');

	assert_int_equal(str_copy(out, "", 1), 0);
	assert_string_equal(out, "");
}

static void
test_str_printf(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(str_printf(out, sizeof(out), "%d-%s", 42, "ab"), 0);
	assert_string_equal(out, "42-ab");
	assert_int_equal(str_printf(out, sizeof(out), "%s", "1234567"), 0);
	assert_string_equal(out, "1234567");

	memset(out, 'X', sizeof(out));
	assert_int_equal(str_printf(out, 6, "%s", "123456"), -1);
	assert_string_equal(out, "12345");
	assert_int_equal(out[6], 'X');

	assert_int_equal(str_printf(out, sizeof(out), "%s", ""), 0);
	assert_string_equal(out, "");
}

static void
test_str_starts(void **state)
{
	(void)state;
	assert_true(str_starts("pvd_shop", "pvd_"));
	assert_true(str_starts("pvd_", "pvd_"));
	assert_true(str_starts("anything", ""));
	assert_false(str_starts("pvd", "pvd_"));
	assert_false(str_starts("PVD_shop", "pvd_"));
	assert_false(str_starts("", "p"));
}

/* ---- clocks ---- */

static void
test_clocks_agree(void **state)
{
	int64_t ms1, s, ms2, m1, m2;

	(void)state;
	ms1 = now_ms();
	s = now_s();
	ms2 = now_ms();
	assert_true(ms1 / 1000 <= s && s <= ms2 / 1000);
	m1 = mono_ms();
	m2 = mono_ms();
	assert_true(m2 >= m1);
}

/* ---- RFC 3339 ---- */

static const struct {
	int64_t t;
	const char *text;
} instants[] = {
	{ 0, "1970-01-01T00:00:00Z" },
	{ 1700000000, "2023-11-14T22:13:20Z" },
	{ 1795381738, "2026-11-22T21:08:58Z" },
	{ 951782400, "2000-02-29T00:00:00Z" },           /* leap day, y%400 */
	{ 1709208000, "2024-02-29T12:00:00Z" },          /* leap day */
	{ 946684799, "1999-12-31T23:59:59Z" },
	{ 2147483648, "2038-01-19T03:14:08Z" },          /* past int32 */
	{ 4107542400, "2100-03-01T00:00:00Z" },          /* 2100 not leap */
	{ -1, "1969-12-31T23:59:59Z" },
	{ 253402300799, "9999-12-31T23:59:59Z" },
};

static void
test_time_rfc3339_known_instants(void **state)
{
	char out[RFC3339_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(instants); i++) {
		memset(out, 'X', sizeof(out));
		time_rfc3339(instants[i].t, out);
		if (strcmp(out, instants[i].text) != 0)
			fail_msg("time_rfc3339(%lld) = \"%s\", want \"%s\"",
			    (long long)instants[i].t, out, instants[i].text);
	}
}

/* Regression (make fuzz): years below 1000 were written without their
 * leading zeros, and instants past 9999 as 1970; neither parsed back. */
static void
test_rfc3339_four_digit_years_only(void **state)
{
	char out[RFC3339_LEN];
	int64_t t;

	(void)state;
	assert_int_equal(parse_rfc3339("0001-01-01T00:00:00Z", &t), 0);
	time_rfc3339(t, out);
	assert_string_equal(out, "0001-01-01T00:00:00Z");
	assert_int_equal(parse_rfc3339("0000-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, RFC3339_MIN);
	assert_int_equal(parse_rfc3339("9999-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, RFC3339_MAX);
	time_rfc3339(t, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	/* An offset that carries the instant out of four-digit years. */
	assert_int_equal(parse_rfc3339("9999-12-31T23:59:59-01:00", &t), -1);
	assert_int_equal(parse_rfc3339("0000-01-01T00:00:00+01:00", &t), -1);
	/* Out-of-range instants are written as the nearest bound. */
	time_rfc3339(RFC3339_MAX + 3600, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	time_rfc3339(INT64_MIN, out);
	assert_string_equal(out, "0000-01-01T00:00:00Z");
}

static void
test_parse_rfc3339_round_trip(void **state)
{
	char out[RFC3339_LEN];
	int64_t v, t;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(instants); i++) {
		if (parse_rfc3339(instants[i].text, &v) != 0)
			fail_msg("parse_rfc3339(\"%s\") rejected",
			    instants[i].text);
		assert_int_equal(v, instants[i].t);
	}
	/* Every day boundary across a leap year and a century non-leap. */
	for (t = 4102444800 - 3 * 86400; t < 4102444800 + 400 * 86400;
	    t += 86400 - 1) {
		time_rfc3339(t, out);
		assert_int_equal(parse_rfc3339(out, &v), 0);
		assert_int_equal(v, t);
	}
	for (t = 1704067200; t < 1704067200 + 367 * 86400; t += 86400) {
		time_rfc3339(t, out);
		assert_int_equal(parse_rfc3339(out, &v), 0);
		assert_int_equal(v, t);
	}
}

static void
test_parse_rfc3339_fractions_and_offsets(void **state)
{
	static const struct {
		const char *s;
		int64_t t;
	} cases[] = {
		{ "2026-11-22T21:08:58.123Z", 1795381738 },
		{ "2026-11-22T21:08:58.999999999Z", 1795381738 },
		{ "2026-11-22T21:08:58.0Z", 1795381738 },
		{ "2026-11-22T22:08:58+01:00", 1795381738 },
		{ "2026-11-22T22:08:58.5+01:00", 1795381738 },
		{ "2026-11-22T15:38:58-05:30", 1795381738 },
		{ "2026-11-22T21:08:58+00:00", 1795381738 },
		{ "2026-11-22T21:08:58-00:00", 1795381738 },
		{ "2026-11-22t21:08:58z", 1795381738 },
		/* The offset moves the date across midnight and a month. */
		{ "2024-03-01T00:30:00+01:00", 1709249400 },
		{ "2024-02-29T23:30:00-01:00", 1709253000 },
		{ "1970-01-01T01:00:00+01:00", 0 },
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (parse_rfc3339(cases[i].s, &v) != 0)
			fail_msg("parse_rfc3339(\"%s\") rejected", cases[i].s);
		if (v != cases[i].t)
			fail_msg("parse_rfc3339(\"%s\") = %lld, want %lld",
			    cases[i].s, (long long)v, (long long)cases[i].t);
	}
}

static void
test_parse_rfc3339_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"2026-11-22",
		"2026-11-22T21:08:58",          /* no zone */
		"2026-11-22T21:08Z",            /* no seconds */
		"2026-11-22T21:08:58ZZ",
		"2026-11-22T21:08:58Z ",
		" 2026-11-22T21:08:58Z",
		"2026-11-22X21:08:58Z",
		"2026/11/22T21:08:58Z",
		"26-11-22T21:08:58Z",
		"2026-1-22T21:08:58Z",
		"2026-11-2T21:08:58Z",
		"2026-11-22T1:08:58Z",
		"2026-11-22T21:08:58+0100",
		"2026-11-22T21:08:58+01",
		"2026-11-22T21:08:58+1:00",
		"2026-11-22T21:08:58 +01:00",
		"2026-11-22T21:08:58.Zx",
		"2026-11-22T21:08:58.123",
		"1795381738",
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (parse_rfc3339(bad[i], &v) == 0)
			fail_msg("parse_rfc3339(\"%s\") accepted as %lld", bad[i],
			    (long long)v);
}

static void
test_parse_rfc3339_out_of_range_fields(void **state)
{
	static const char *const bad[] = {
		"2026-00-10T00:00:00Z",
		"2026-13-10T00:00:00Z",
		"2026-01-00T00:00:00Z",
		"2026-01-32T00:00:00Z",
		"2026-01-10T24:00:00Z",
		"2026-01-10T23:60:00Z",
		"2026-01-10T23:59:61Z",
	};
	size_t i;
	int64_t v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (parse_rfc3339(bad[i], &v) == 0)
			fail_msg("parse_rfc3339(\"%s\") accepted as %lld", bad[i],
			    (long long)v);
}

/* How many of bad[] parse_rfc3339 accepts; each one is printed. */
static size_t
count_accepted(const char *const *bad, size_t n)
{
	size_t i, accepted = 0;
	int64_t v;

	for (i = 0; i < n; i++) {
		if (parse_rfc3339(bad[i], &v) == 0) {
			print_error("parse_rfc3339(\"%s\") accepted "
			    "as %lld\n", bad[i], (long long)v);
			accepted++;
		}
	}
	return accepted;
}

/*
 * Regression: parse_rfc3339 checks the day only against 31, so
 * days a month does not have are accepted and silently roll over into
 * the next month ("2023-02-29T00:00:00Z" parses as 2023-03-01). A
 * timestamp that does not exist must be rejected.
 */
static void
test_parse_rfc3339_rejects_days_the_month_lacks(void **state)
{
	static const char *const bad[] = {
		"2023-02-29T00:00:00Z",         /* 2023 is not a leap year */
		"1900-02-29T00:00:00Z",         /* century, not leap */
		"2100-02-29T00:00:00Z",
		"2024-02-30T00:00:00Z",
		"2024-02-31T00:00:00Z",
		"2024-04-31T00:00:00Z",
		"2024-06-31T00:00:00Z",
		"2024-09-31T00:00:00Z",
		"2024-11-31T00:00:00Z",
	};
	(void)state;
	assert_int_equal(count_accepted(bad, ARRAY_SIZE(bad)), 0);
}

/*
 * Regression (minor): RFC 3339 requires at least one digit after
 * the '.' of a fraction and an offset of at most 23:59; the parser takes
 * "21:08:58.Z" and "+99:99".
 */
static void
test_parse_rfc3339_rejects_bad_fraction_and_offset(void **state)
{
	static const char *const bad[] = {
		"2026-11-22T21:08:58.Z",
		"2026-11-22T21:08:58.+01:00",
		"2026-11-22T21:08:58+24:00",
		"2026-11-22T21:08:58+01:60",
		"2026-11-22T21:08:58+99:99",
	};
	(void)state;
	assert_int_equal(count_accepted(bad, ARRAY_SIZE(bad)), 0);
}

/* ---- struct buf ---- */

static void
test_buf_add_up_to_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_addstr(&b, "hello"), 0);
	assert_int_equal(buf_add(&b, "world", 5), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");

	/* One byte past the maximum: refused, nothing changed. */
	assert_int_equal(buf_add(&b, "!", 1), -1);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	assert_int_equal(buf_addstr(&b, "much more than fits"), -1);
	assert_string_equal(b.data, "helloworld");
	/* Adding nothing at the maximum is fine. */
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 10);
	buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_buf_refused_add_leaves_buffer_intact(void **state)
{
	struct buf b;
	char *before;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_addstr(&b, "abc"), 0);
	before = b.data;
	/* Larger than the whole maximum, and far larger (overflow). */
	assert_int_equal(buf_add(&b, "0123456789", 10), -1);
	assert_int_equal(buf_grow(&b, SIZE_MAX), -1);
	assert_int_equal(buf_grow(&b, SIZE_MAX - 2), -1);
	assert_int_equal(buf_add(&b, "123456", 6), -1);
	assert_ptr_equal(b.data, before);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	assert_int_equal(buf_add(&b, "12345", 5), 0);
	assert_string_equal(b.data, "abc12345");
	buf_release(&b);
}

static void
test_buf_binary_data_and_nul(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(buf_add(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);   /* NUL after len */
	buf_release(&b);
}

static void
test_buf_printf(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 12);
	assert_int_equal(buf_printf(&b, "%s:%d: ", "f", 12), 0);
	assert_string_equal(b.data, "f:12: ");
	assert_int_equal(buf_printf(&b, "%s", "123456"), 0);   /* exactly */
	assert_int_equal(b.len, 12);
	assert_string_equal(b.data, "f:12: 123456");
	assert_int_equal(buf_printf(&b, "%c", 'x'), -1);
	assert_int_equal(b.len, 12);
	assert_string_equal(b.data, "f:12: 123456");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_printf(&b, "%s", "0123456789abc"), -1);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_string_equal(b.data, "");
	buf_release(&b);
}

static void
test_buf_grow(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1000);
	assert_int_equal(buf_grow(&b, 600), 0);
	assert_int_equal(b.len, 0);
	assert_true(b.cap >= 601);
	assert_true(b.cap <= 1001);
	assert_int_equal(buf_grow(&b, 1000), 0);
	assert_true(b.cap >= 1001);
	assert_int_equal(buf_grow(&b, 1001), -1);
	assert_int_equal(buf_addstr(&b, "xyz"), 0);
	assert_int_equal(buf_grow(&b, 997), 0);
	assert_int_equal(buf_grow(&b, 998), -1);
	assert_string_equal(b.data, "xyz");
	buf_release(&b);
}

static void
test_buf_large_fill_in_chunks(void **state)
{
	struct buf b;
	char chunk[1000];
	size_t i;

	(void)state;
	memset(chunk, 'q', sizeof(chunk));
	buf_init(&b, 1 << 20);
	for (i = 0; i < (1 << 20) / sizeof(chunk); i++)
		assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, i * sizeof(chunk));
	assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), -1);
	assert_int_equal(buf_add(&b, chunk, (1 << 20) - b.len), 0);
	assert_int_equal(b.len, 1 << 20);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(buf_add(&b, "q", 1), -1);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration_valid),
		cmocka_unit_test(test_parse_duration_invalid),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_format_duration_is_bounded),
		cmocka_unit_test(test_parse_int64_valid),
		cmocka_unit_test(test_parse_int64_invalid),
		cmocka_unit_test(test_str_copy),
		cmocka_unit_test(test_str_printf),
		cmocka_unit_test(test_str_starts),
		cmocka_unit_test(test_clocks_agree),
		cmocka_unit_test(test_time_rfc3339_known_instants),
		cmocka_unit_test(test_rfc3339_four_digit_years_only),
		cmocka_unit_test(test_parse_rfc3339_round_trip),
		cmocka_unit_test(test_parse_rfc3339_fractions_and_offsets),
		cmocka_unit_test(test_parse_rfc3339_malformed),
		cmocka_unit_test(test_parse_rfc3339_out_of_range_fields),
		cmocka_unit_test(test_parse_rfc3339_rejects_days_the_month_lacks),
		cmocka_unit_test(test_parse_rfc3339_rejects_bad_fraction_and_offset),
		cmocka_unit_test(test_buf_add_up_to_max),
		cmocka_unit_test(test_buf_refused_add_leaves_buffer_intact),
		cmocka_unit_test(test_buf_binary_data_and_nul),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_grow),
		cmocka_unit_test(test_buf_large_fill_in_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
