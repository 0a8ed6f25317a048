/*
 * fuzz_rfc3339_duration: parse_rfc3339, parse_duration and parse_int64
 * (lib/util.h) on arbitrary strings, with their round trips.
 *
 * Input: a string (up to the first NUL; the bytes after it, if any, set
 * parse_int64's bounds).
 *
 * Invariants:
 *   - parse_rfc3339: what parses is written back by time_rfc3339 as a
 *     string of RFC3339_LEN - 1 characters that parses to the same
 *     instant (webhook times are stored and shown that way); the time is
 *     the same whether 'T' / 'Z' are upper or lower case;
 *   - parse_duration: what parses is 0 .. ten years, and format_duration
 *     writes it back as a string that parses to the same seconds;
 *   - parse_int64 accepts exactly "-?[0-9]+" within [min, max] and agrees
 *     with strtoll; what it returns, printed, parses back.
 */
#include "tests/fuzz/fuzz.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>

#include "lib/util.h"

static void
check_rfc3339(const char *s)
{
	char out[RFC3339_LEN], *lower;
	int64_t t, back = 0, t2;
	size_t i;

	if (parse_rfc3339(s, &t) != 0)
		return;
	time_rfc3339(t, out);
	FUZZ_CHECK(strlen(out) == RFC3339_LEN - 1 && parse_rfc3339(out,
	    &back) == 0 && back == t, "\"%s\" is %" PRId64 ", written back "
	    "as \"%s\" (%" PRId64 ")", fuzz_show(s, strlen(s)), t, out, back);

	lower = fuzz_strndup(s, strlen(s));
	for (i = 0; lower[i] != '\0'; i++)
		lower[i] = (char)tolower((unsigned char)lower[i]);
	FUZZ_CHECK(parse_rfc3339(lower, &t2) == 0 && t2 == t,
	    "\"%s\" and \"%s\" differ", s, lower);
	free(lower);
}

static void
check_duration(const char *s)
{
	char out[32];
	int64_t d, back = -1;

	if (parse_duration(s, &d) != 0)
		return;
	FUZZ_CHECK(d >= 0 && d <= (int64_t)10 * 365 * 86400,
	    "\"%s\" is %" PRId64 " seconds", s, d);
	format_duration(d, out, sizeof(out));
	FUZZ_CHECK(parse_duration(out, &back) == 0 && back == d,
	    "\"%s\" is %" PRId64 " s, written back as \"%s\" (%" PRId64 ")",
	    s, d, out, back);
}

static void
check_int64(const char *s, int64_t min, int64_t max)
{
	char out[32];
	int64_t v = 0, back = 0;
	long long ref;
	char *end;
	size_t digits = s[0] == '-' ? 1 : 0;
	bool syntax, want;
	int rc;

	rc = parse_int64(s, min, max, &v);
	syntax = s[digits] != '\0' &&
	    strspn(s + digits, "0123456789") == strlen(s + digits);
	errno = 0;
	ref = syntax ? strtoll(s, &end, 10) : 0;
	want = syntax && errno == 0 && ref >= min && ref <= max;
	FUZZ_CHECK((rc == 0) == want, "parse_int64(\"%s\", %" PRId64 ", %"
	    PRId64 ") = %d", s, min, max, rc);
	if (rc != 0)
		return;
	FUZZ_CHECK(v == ref, "parse_int64(\"%s\") = %" PRId64, s, v);
	snprintf(out, sizeof(out), "%" PRId64, v);
	FUZZ_CHECK(parse_int64(out, INT64_MIN, INT64_MAX, &back) == 0 &&
	    back == v, "%" PRId64 " written as \"%s\"", v, out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_parts p;
	int64_t a = 0, b = 0;
	size_t i;

	fuzz_split(data, size, 2, &p);
	check_rfc3339(p.s[0]);
	check_duration(p.s[0]);
	check_int64(p.s[0], INT64_MIN, INT64_MAX);
	if (p.len[1] >= 16) {
		for (i = 0; i < 8; i++) {
			a = (int64_t)((uint64_t)a << 8 | fuzz_byte(&p, 1, i));
			b = (int64_t)((uint64_t)b << 8 | fuzz_byte(&p, 1, 8 + i));
		}
		check_int64(p.s[0], a < b ? a : b, a < b ? b : a);
	}
	check_int64(p.s[0], 0, INT64_MAX);
	check_int64(p.s[0], 1, 65535);
	fuzz_parts_free(&p);
	return 0;
}
