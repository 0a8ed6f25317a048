/*
 * Unit tests for lib/scrub: secrets out of messages.
 *
 *   - each occurrence of a registered secret, and of a caller's extra one,
 *     becomes "[redacted]"; text without one is left exactly as it was;
 *   - the longest secret wins where two start at the same place (a
 *     password as written, "pw%41x", and decoded, "pwAx"), repeated and
 *     overlapping occurrences all go;
 *   - a start of a secret cut off by the end of the text goes too (error
 *     messages are cut to fit their buffers);
 *   - the result stays within the buffer, is cut rather than overflow,
 *     and the bytes after it are zeroed;
 *   - a new registry replaces the old one, short secrets are not
 *     registered, and scrubbing while another thread re-registers sees
 *     one registry or the other, never a mix or a freed one;
 *   - a property test: random texts with secrets embedded at random
 *     places (repeated, overlapping, cut off, and with the mask's own
 *     characters around them) into buffers of random sizes never keep a
 *     secret and never write past their size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "lib/scrub.h"

#define MASK SCRUB_MASK

static int
teardown(void **state)
{
	(void)state;
	scrub_release();
	return 0;
}

static void
reg(const char *a, const char *b)
{
	const char *v[] = { a, b };

	assert_int_equal(scrub_register(v, 2), 0);
}

/* scrub_text on a copy of in, in a buffer of size bytes; the result. */
static const char *
scrubbed(const char *in, size_t size)
{
	static char buf[1024];

	assert_true(size <= sizeof(buf));
	memset(buf, 'Z', sizeof(buf));
	snprintf(buf, size, "%s", in);
	(void)scrub_text(buf, size);
	return buf;
}

static void
test_registered_secret_masked(void **state)
{
	(void)state;
	reg("Wr0ngPassw0rd", NULL);
	assert_string_equal(scrubbed("invalid percent-encoded token: "
	    "\"Wr0ngPassw0rd\"", 200), "invalid percent-encoded token: \""
	    MASK "\"");
	assert_string_equal(scrubbed("Wr0ngPassw0rd Wr0ngPassw0rdWr0ngPassw0rd",
	    200), MASK " " MASK MASK);
}

static void
test_text_without_secret_unchanged(void **state)
{
	char buf[64] = "connection refused";

	(void)state;
	reg("Wr0ngPassw0rd", "other-secret");
	assert_int_equal(scrub_text(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "connection refused");
	/* A start of a secret in the middle is no secret. */
	assert_string_equal(scrubbed("Wr0ng answer", 64), "Wr0ng answer");
	assert_int_equal(scrub_text(buf, 0), 0);
}

static void
test_written_and_decoded_forms(void **state)
{
	(void)state;
	reg("distinctive-A+", "distinctive-%41%2B");
	assert_string_equal(scrubbed("user \"distinctive-A+\" and token "
	    "\"distinctive-%41%2B\"", 200), "user \"" MASK "\" and token \""
	    MASK "\"");
	/* The longer wins where both start: nothing of it is left. */
	reg("abcd", "abcdefgh");
	assert_string_equal(scrubbed("xabcdefghx abcdx", 200),
	    "x" MASK "x " MASK "x");
}

static void
test_extra_secret(void **state)
{
	char buf[128] = "role pvd_x password s3cr3t-env-pw refused";

	(void)state;
	reg("Wr0ngPassw0rd", NULL);
	assert_int_equal(scrub_text_with(buf, sizeof(buf), "s3cr3t-env-pw"),
	    1);
	assert_string_equal(buf, "role pvd_x password " MASK " refused");
	/* The extra one is not remembered. */
	assert_string_equal(scrubbed("s3cr3t-env-pw", 64), "s3cr3t-env-pw");
	/* NULL and short extras are fine. */
	str_copy(buf, "abc", sizeof(buf));
	assert_int_equal(scrub_text_with(buf, sizeof(buf), NULL), 0);
	assert_int_equal(scrub_text_with(buf, sizeof(buf), "ab"), 0);
	assert_string_equal(buf, "abc");
}

static void
test_cut_off_secret_at_the_end(void **state)
{
	(void)state;
	reg("Wr0ngPassw0rd", NULL);
	/* A message cut inside the quoted password. */
	assert_string_equal(scrubbed("token: \"Wr0ngPa", 200),
	    "token: \"" MASK);
	/* Fewer than SCRUB_MIN_LEN characters of it say nothing. */
	assert_string_equal(scrubbed("token: \"Wr0", 200), "token: \"Wr0");
}

static void
test_short_secrets_not_registered(void **state)
{
	(void)state;
	reg("pw", "abc");
	assert_string_equal(scrubbed("pw abc", 64), "pw abc");
}

static void
test_bounded(void **state)
{
	char buf[40];
	size_t i;

	(void)state;
	reg("Wr0ngPassw0rd", "s3cr");
	/* Masks longer than what they replace: cut, not overflowed. */
	memset(buf, 'Z', sizeof(buf));
	str_copy(buf, "s3cr s3cr s3cr s3cr s3cr", 25);
	assert_true(scrub_text(buf, 25) > 0);
	assert_true(strlen(buf) < 25);
	assert_string_equal(buf, MASK " " MASK " ");
	for (i = strlen(buf); i < 25; i++)
		assert_int_equal(buf[i], '\0');
	for (i = 25; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'Z');
	/* A buffer too small for one mask: nothing of the secret stays. */
	str_copy(buf, "s3cr3t", 6);
	(void)scrub_text(buf, 6);
	assert_null(strstr(buf, "s3cr"));
	/* Not terminated within size: cut at size - 1 first. */
	memcpy(buf, "xxxxxxxxxxs3cr", 14);
	(void)scrub_text(buf, 14);
	assert_true(strlen(buf) < 14);
	assert_null(strstr(buf, "s3cr"));
}

static void
test_registry_replaced(void **state)
{
	(void)state;
	reg("first-secret", NULL);
	assert_string_equal(scrubbed("first-secret", 64), MASK);
	reg("second-secret", NULL);
	assert_string_equal(scrubbed("first-secret second-secret", 64),
	    "first-secret " MASK);
	scrub_release();
	assert_string_equal(scrubbed("second-secret", 64), "second-secret");
}

static void
test_secret_overlapping_the_mask(void **state)
{
	(void)state;
	/* Masking "ted]x" next to "]x" would spell it again. */
	reg("ted]x", NULL);
	assert_null(strstr(scrubbed("ted]xx ted]x]x", 200), "ted]x"));
	/* A secret inside the mask itself: nothing can be shown. */
	reg("redacted", NULL);
	assert_null(strstr(scrubbed("redacted!", 200), "redacted"));
}

static void
test_scrub_list(void **state)
{
	const char *v[] = { "alpha-secret", NULL, "xy", "beta-secret" };
	char buf[64] = "alpha-secret xy beta-secret";

	(void)state;
	assert_int_equal(scrub_list(buf, sizeof(buf), v, 4), 2);
	assert_string_equal(buf, MASK " xy " MASK);
}

/* ---- the property test ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64*: reproducible from the seed printed on failure. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

/* Small alphabets make repeats and overlaps likely; the mask's own
 * characters make a secret that borders a mask likely too. */
static void
random_text(char *out, size_t n, const char *alphabet)
{
	size_t i, k = strlen(alphabet);

	for (i = 0; i < n; i++)
		out[i] = alphabet[rnd((uint32_t)k)];
	out[n] = '\0';
}

static void
check_clean(const char *s, size_t size, char secrets[][24], size_t nsec,
    uint64_t seed, const char *in)
{
	size_t len = strlen(s), i, r;

	if (len >= size)
		fail_msg("seed %llx: result of %zu bytes in a buffer of %zu",
		    (unsigned long long)seed, len, size);
	for (i = 0; i < nsec; i++) {
		size_t sl = strlen(secrets[i]);

		if (sl < SCRUB_MIN_LEN)
			continue;
		if (strstr(s, secrets[i]) != NULL)
			fail_msg("seed %llx: \"%s\" left in \"%s\" (from \"%s\")",
			    (unsigned long long)seed, secrets[i], s, in);
		for (r = SCRUB_MIN_LEN; r < sl && r <= len; r++)
			if (memcmp(s + len - r, secrets[i], r) == 0)
				fail_msg("seed %llx: start of \"%s\" left at the "
				    "end of \"%s\"", (unsigned long long)seed,
				    secrets[i], s);
	}
}

static void
test_property_never_a_secret_left(void **state)
{
	static const char *const alphabets[] = {
		"ab", "abc%41", "x[redacted]", "Wr0ng%zz-\"'", "abcdefghij",
	};
	char secrets[3][24], in[600], buf[700];
	const char *v[3];
	int iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		uint64_t seed = rng;
		const char *alpha = alphabets[rnd(ARRAY_SIZE(alphabets))];
		size_t nsec = 1 + rnd(3), len = 0, size, i, guard;

		for (i = 0; i < nsec; i++) {
			random_text(secrets[i], 1 + rnd(20), alpha);
			v[i] = secrets[i];
		}
		/* Filler and secrets, the last one maybe cut off. */
		while (len < 400 && rnd(8) != 0) {
			char piece[24];
			size_t n;

			if (rnd(2) == 0) {
				random_text(piece, rnd(12), alpha);
			} else {
				str_copy(piece, secrets[rnd((uint32_t)nsec)],
				    sizeof(piece));
			}
			n = strlen(piece);
			memcpy(in + len, piece, n);
			len += n;
		}
		if (rnd(4) == 0 && len > 0)
			len -= rnd((uint32_t)(len < 10 ? len : 10));
		in[len] = '\0';
		size = 1 + rnd((uint32_t)(len + 40));
		guard = sizeof(buf) - size;
		memset(buf, 0x5A, sizeof(buf));
		str_copy(buf, in, size);
		(void)scrub_list(buf, size, v, nsec);
		check_clean(buf, size, secrets, nsec, seed, in);
		for (i = size; i < size + guard; i++)
			if ((unsigned char)buf[i] != 0x5A)
				fail_msg("seed %llx: wrote past %zu bytes",
				    (unsigned long long)seed, size);
		/* The registry path agrees with the list path. */
		if (rnd(8) == 0) {
			char again[700];

			assert_int_equal(scrub_register(v, nsec), 0);
			str_copy(again, in, size);
			(void)scrub_text(again, size);
			assert_string_equal(again, buf);
		}
	}
}

static void
test_property_clean_text_untouched(void **state)
{
	const char *v[] = { "Wr0ngPassw0rd", "distinctive-%41" };
	char in[300], buf[300];
	int iter;

	(void)state;
	for (iter = 0; iter < 5000; iter++) {
		random_text(in, rnd(250), "abcdefghijklmnopqrstuvwxyz \"%:");
		str_copy(buf, in, sizeof(buf));
		assert_int_equal(scrub_list(buf, sizeof(buf), v, 2), 0);
		assert_string_equal(buf, in);
	}
}

/* ---- threads ---- */

static atomic_int stop_threads;

static void *
scrubber(void *arg)
{
	long bad = 0;

	(void)arg;
	while (!atomic_load(&stop_threads)) {
		char buf[128] = "one-secret-aaaa two-secret-bbbb";

		(void)scrub_text(buf, sizeof(buf));
		/* One registry or the other: one of the two may remain. */
		if (strstr(buf, "one-secret-aaaa") != NULL &&
		    strstr(buf, "two-secret-bbbb") != NULL)
			bad++;
	}
	return (void *)bad;
}

static void
test_reregister_while_scrubbing(void **state)
{
	pthread_t t[4];
	void *bad;
	int i, k;

	(void)state;
	reg("one-secret-aaaa", "two-secret-bbbb");
	atomic_store(&stop_threads, 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, scrubber, NULL), 0);
	for (k = 0; k < 2000; k++)
		reg(k % 2 ? "one-secret-aaaa" : "two-secret-bbbb", NULL);
	atomic_store(&stop_threads, 1);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((long)bad, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_registered_secret_masked,
		    teardown),
		cmocka_unit_test_teardown(test_text_without_secret_unchanged,
		    teardown),
		cmocka_unit_test_teardown(test_written_and_decoded_forms,
		    teardown),
		cmocka_unit_test_teardown(test_extra_secret, teardown),
		cmocka_unit_test_teardown(test_cut_off_secret_at_the_end,
		    teardown),
		cmocka_unit_test_teardown(test_short_secrets_not_registered,
		    teardown),
		cmocka_unit_test_teardown(test_bounded, teardown),
		cmocka_unit_test_teardown(test_registry_replaced, teardown),
		cmocka_unit_test_teardown(test_secret_overlapping_the_mask,
		    teardown),
		cmocka_unit_test_teardown(test_scrub_list, teardown),
		cmocka_unit_test_teardown(test_property_never_a_secret_left,
		    teardown),
		cmocka_unit_test_teardown(test_property_clean_text_untouched,
		    teardown),
		cmocka_unit_test_teardown(test_reregister_while_scrubbing,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
