/*
 * fuzz_inert: lib/inert.c's four escapes (text log line, JSON string,
 * Markdown code span, fenced code block) on arbitrary bytes, checked
 * against what lib/inert.h promises (tests/unit/inert_check.h, shared
 * with the unit test's random strings): no line break, control or
 * hidden character where one could act, well-formed UTF-8 where a reader
 * needs it, JSON that decodes back to the value, a code span or block no
 * run of backticks inside can close, printable text unchanged, output
 * bounded by a multiple of the input.
 *
 * Input: the string, up to its first NUL (C strings are what callers
 * pass).
 */
#include "tests/fuzz/fuzz.h"

#include "lib/inert.h"
#include "tests/unit/inert_check.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	char *s;

	if (size > 4096)
		return 0;
	s = fuzz_strndup(data, size);
	why = inert_check(s);
	FUZZ_CHECK(why == NULL, "%s for %s", why, fuzz_show(s, strlen(s)));
	free(s);
	return 0;
}
