/*
 * fuzz_scrub: scrub_list and scrub_text (lib/scrub.h) on arbitrary text
 * and secrets.
 *
 * Input: control NUL secret NUL secret NUL secret NUL text. control[0]
 * picks the buffer size (1 to 256 bytes past the text's length, or less
 * than it: the text is then cut to fit first, as a message is), control[1]
 * whether the secrets go through the registry (scrub_register +
 * scrub_text) or the list (scrub_list).
 *
 * The text is scrubbed in a heap block of exactly the buffer's size, so
 * under AddressSanitizer a byte written past it is a finding.
 *
 * Invariants:
 *   - the result is NUL-terminated within the buffer and, when anything
 *     was masked, the bytes after it are zero;
 *   - no secret of SCRUB_MIN_LEN or more is in it, nor a start of one of
 *     SCRUB_MIN_LEN or more at its end;
 *   - a text with neither is left exactly as it was, and 0 is returned;
 *   - the registry and the list give the same result.
 */
#include "tests/fuzz/fuzz.h"

#include "lib/scrub.h"

enum { P_CONTROL, P_S1, P_S2, P_S3, P_TEXT, P_COUNT };

/* Whether text (len bytes) holds one of the secrets, or a start of one at
 * its end. */
static bool
dirty(const char *text, size_t len, char *const *sec, size_t n)
{
	size_t i, r, sl;

	for (i = 0; i < n; i++) {
		if ((sl = strlen(sec[i])) < SCRUB_MIN_LEN)
			continue;
		if (fuzz_contains(text, len, sec[i]))
			return true;
		for (r = SCRUB_MIN_LEN; r < sl && r <= len; r++)
			if (memcmp(text + len - r, sec[i], r) == 0)
				return true;
	}
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_parts p;
	const char *secrets[3];
	char *buf, *again, *in;
	size_t bufsz, len, i, n;

	fuzz_split(data, size, P_COUNT, &p);
	for (i = 0; i < 3; i++)
		secrets[i] = p.s[P_S1 + i];
	/* The text as it stands in the buffer: cut to bufsz - 1. */
	bufsz = fuzz_byte(&p, P_CONTROL, 0) & 1 ?
	    1 + fuzz_byte(&p, P_CONTROL, 0) / 2 :
	    p.len[P_TEXT] + 1 + fuzz_byte(&p, P_CONTROL, 0);
	in = fuzz_strndup(p.s[P_TEXT], strnlen(p.s[P_TEXT], bufsz - 1));
	len = strlen(in);
	buf = malloc(bufsz);
	if (buf == NULL)
		abort();
	memcpy(buf, in, len + 1);

	if (fuzz_byte(&p, P_CONTROL, 1) & 1) {
		FUZZ_CHECK(scrub_register(secrets, 3) == 0, "out of memory");
		n = scrub_text(buf, bufsz);
	} else {
		n = scrub_list(buf, bufsz, secrets, 3);
	}
	FUZZ_CHECK(strnlen(buf, bufsz) < bufsz, "not terminated within %zu",
	    bufsz);
	for (i = strlen(buf); n > 0 && i < bufsz; i++)
		FUZZ_CHECK(buf[i] == '\0', "byte %zu after the result is not "
		    "zeroed", i);
	FUZZ_CHECK(!dirty(buf, strlen(buf), p.s + P_S1, 3), "a secret left "
	    "in \"%s\" (from \"%s\")", fuzz_show(buf, strlen(buf)),
	    fuzz_show(in, len));
	if (!dirty(in, len, p.s + P_S1, 3))
		FUZZ_CHECK(n == 0 && strcmp(buf, in) == 0, "clean \"%s\" became "
		    "\"%s\"", fuzz_show(in, len), fuzz_show(buf, strlen(buf)));

	/* The registry and the list agree. */
	again = malloc(bufsz);
	if (again == NULL)
		abort();
	memcpy(again, in, len + 1);
	if (fuzz_byte(&p, P_CONTROL, 1) & 1) {
		(void)scrub_list(again, bufsz, secrets, 3);
	} else {
		FUZZ_CHECK(scrub_register(secrets, 3) == 0, "out of memory");
		(void)scrub_text(again, bufsz);
	}
	FUZZ_CHECK(strcmp(again, buf) == 0, "registry and list differ: \"%s\" "
	    "and \"%s\"", fuzz_show(buf, strlen(buf)),
	    fuzz_show(again, strlen(again)));
	scrub_release();
	free(again);
	free(buf);
	free(in);
	fuzz_parts_free(&p);
	return 0;
}
