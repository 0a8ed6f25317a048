/*
 * Unit tests for lib/crypto: what the webhook handlers, the API and the
 * store rely on when they check signatures and tokens, mint passwords and
 * seal credentials.
 *
 *   - HMAC against published vectors (GitHub's webhook example, RFC 2202,
 *     RFC 4231), and every way a presented signature can be wrong;
 *   - tokens: length, alphabet, freshness, buffer boundaries;
 *   - token comparison: equal, unequal, prefixes, NULL and empty;
 *   - AES-256-GCM: round trip, and every tampering a thief could try
 *     (other key, other row, flipped bytes, truncation), buffer sizes;
 *   - hex encoding and decoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/crypto.h"

/* GitHub's documented example ("Validating webhook deliveries"). */
static const char gh_secret[] = "It's a Secret to Everybody";
static const char gh_body[] = "Hello, World!";
static const char gh_sig[] =
    "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

/* memmem is a GNU extension; the build is strict POSIX. */
static bool
mem_contains(const void *hay, size_t n, const void *needle, size_t m)
{
	size_t i;

	for (i = 0; m <= n && i <= n - m; i++)
		if (memcmp((const char *)hay + i, needle, m) == 0)
			return true;
	return false;
}

static bool
gh_check(const char *key, const char *body, const char *hex, size_t hexlen)
{
	return crypto_hmac_hex_eq("sha256", key, strlen(key), body,
	    strlen(body), hex, hexlen);
}

/* ---- HMAC ---- */

static void
test_hmac_github_vector_accepted(void **state)
{
	(void)state;
	assert_true(gh_check(gh_secret, gh_body, gh_sig, strlen(gh_sig)));
}

static void
test_hmac_every_flipped_hex_digit_rejected(void **state)
{
	char sig[sizeof(gh_sig)];
	size_t i;

	(void)state;
	for (i = 0; i < strlen(gh_sig); i++) {
		memcpy(sig, gh_sig, sizeof(sig));
		/* Another valid lower-case hex digit at position i. */
		sig[i] = sig[i] == '0' ? '1' : '0';
		if (gh_check(gh_secret, gh_body, sig, strlen(sig)))
			fail_msg("signature with digit %zu changed accepted", i);
	}
}

static void
test_hmac_malformed_signatures_rejected(void **state)
{
	char upper[sizeof(gh_sig)], longer[sizeof(gh_sig) + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(gh_sig); i++)
		upper[i] = (char)(gh_sig[i] >= 'a' && gh_sig[i] <= 'f' ?
		    gh_sig[i] - 'a' + 'A' : gh_sig[i]);
	snprintf(longer, sizeof(longer), "%s0", gh_sig);

	/* Truncated: the hex is a correct prefix. */
	assert_false(gh_check(gh_secret, gh_body, gh_sig, strlen(gh_sig) - 1));
	assert_false(gh_check(gh_secret, gh_body, gh_sig, 40));
	assert_false(gh_check(gh_secret, gh_body, gh_sig, 1));
	/* Empty. */
	assert_false(gh_check(gh_secret, gh_body, "", 0));
	assert_false(gh_check(gh_secret, gh_body, gh_sig, 0));
	/* Upper case: GitHub sends lower case; anything else is not its. */
	assert_false(gh_check(gh_secret, gh_body, upper, strlen(upper)));
	/* Correct signature followed by one more digit. */
	assert_false(gh_check(gh_secret, gh_body, longer, strlen(longer)));
	/* The header's "sha256=" prefix must be stripped by the caller. */
	assert_false(gh_check(gh_secret, gh_body,
	    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
	    71));
}

static void
test_hmac_wrong_secret_or_body_rejected(void **state)
{
	(void)state;
	assert_false(gh_check("It's a secret to everybody", gh_body, gh_sig,
	    strlen(gh_sig)));
	assert_false(gh_check("", gh_body, gh_sig, strlen(gh_sig)));
	assert_false(gh_check(gh_secret, "Hello, World?", gh_sig,
	    strlen(gh_sig)));
	assert_false(gh_check(gh_secret, "Hello, World! ", gh_sig,
	    strlen(gh_sig)));
	/* The same signature under the other digest. */
	assert_false(crypto_hmac_hex_eq("sha1", gh_secret, strlen(gh_secret),
	    gh_body, strlen(gh_body), gh_sig, strlen(gh_sig)));
	assert_false(crypto_hmac_hex_eq("md5", gh_secret, strlen(gh_secret),
	    gh_body, strlen(gh_body), gh_sig, strlen(gh_sig)));
}

static void
test_hmac_known_vectors(void **state)
{
	static const struct {
		const char *digest;
		const char *key;
		const char *data;
		const char *hex;
	} cases[] = {
		/* RFC 2202 test case 2 */
		{ "sha1", "Jefe", "what do ya want for nothing?",
		  "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
		/* RFC 4231 test case 2 */
		{ "sha256", "Jefe", "what do ya want for nothing?",
		  "5bdcc146bf60754e6a042426089575c7"
		  "5a003f089d2739839dec58b964ec3843" },
		/* GitHub's example */
		{ "sha256", "It's a Secret to Everybody", "Hello, World!",
		  "757107ea0eb2509fc211221cce984b8a"
		  "37570b6d7586c22c46f4379c8b043e17" },
	};
	unsigned char mac[64];
	char hex[129];
	unsigned maclen;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		maclen = 0;
		assert_int_equal(crypto_hmac(cases[i].digest, cases[i].key,
		    strlen(cases[i].key), cases[i].data, strlen(cases[i].data),
		    mac, &maclen), 0);
		assert_int_equal(maclen, strlen(cases[i].hex) / 2);
		hex_encode(mac, maclen, hex);
		assert_string_equal(hex, cases[i].hex);
		assert_true(crypto_hmac_hex_eq(cases[i].digest, cases[i].key,
		    strlen(cases[i].key), cases[i].data, strlen(cases[i].data),
		    cases[i].hex, strlen(cases[i].hex)));
	}
}

static void
test_hmac_unknown_digest_fails(void **state)
{
	unsigned char mac[64];
	unsigned maclen = 0;

	(void)state;
	assert_int_equal(crypto_hmac("md5", "k", 1, "d", 1, mac, &maclen), -1);
	assert_int_equal(crypto_hmac("SHA256x", "k", 1, "d", 1, mac, &maclen),
	    -1);
	assert_int_equal(crypto_hmac("", "k", 1, "d", 1, mac, &maclen), -1);
}

/* ---- tokens ---- */

static bool
all_urlsafe(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

static void
test_token_length_and_alphabet(void **state)
{
	/* ceil(4n/3) characters of unpadded base64url. */
	static const struct {
		size_t nbytes, len;
	} cases[] = {
		{ 1, 2 }, { 2, 3 }, { 3, 4 }, { 4, 6 }, { 16, 22 },
		{ CRYPTO_PASSWORD_BYTES, CRYPTO_PASSWORD_LEN - 1 }, { 32, 43 },
		{ 48, 64 },
	};
	char out[128];
	size_t i;
	int round;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		/* Many rounds so that every alphabet position has a chance. */
		for (round = 0; round < 50; round++) {
			memset(out, 'X', sizeof(out));
			assert_int_equal(crypto_token(out, sizeof(out),
			    cases[i].nbytes), 0);
			assert_int_equal(strlen(out), cases[i].len);
			if (!all_urlsafe(out))
				fail_msg("token \"%s\" has a character outside "
				    "[A-Za-z0-9_-]", out);
		}
	}
}

static void
test_token_buffer_boundary(void **state)
{
	char out[64];

	(void)state;
	/* 32 bytes need 43 characters and the NUL. */
	memset(out, 'X', sizeof(out));
	assert_int_equal(crypto_token(out, 44, 32), 0);
	assert_int_equal(strlen(out), 43);
	assert_int_equal(crypto_token(out, CRYPTO_PASSWORD_LEN,
	    CRYPTO_PASSWORD_BYTES), 0);

	memset(out, 'X', sizeof(out));
	assert_int_equal(crypto_token(out, 43, 32), -1);
	/* Nothing was written past what it was given. */
	assert_int_equal(out[43], 'X');
	assert_int_equal(crypto_token(out, 0, 32), -1);
	assert_int_equal(crypto_token(out, 3, 3), -1);
	assert_int_equal(crypto_token(out, 5, 3), 0);
}

static void
test_tokens_differ(void **state)
{
	char a[64], b[64];

	(void)state;
	assert_int_equal(crypto_token(a, sizeof(a), 32), 0);
	assert_int_equal(crypto_token(b, sizeof(b), 32), 0);
	assert_string_not_equal(a, b);
}

static void
test_hex_token(void **state)
{
	char a[64], b[64];
	size_t i;

	(void)state;
	assert_int_equal(crypto_hex_token(a, 17, 8), 0);
	assert_int_equal(strlen(a), 16);
	for (i = 0; a[i] != '\0'; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	assert_int_equal(crypto_hex_token(b, sizeof(b), 8), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(crypto_hex_token(a, 16, 8), -1);
}

static void
test_random_fills(void **state)
{
	unsigned char a[32], b[32];

	(void)state;
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

/* ---- token comparison ---- */

static void
test_token_eq(void **state)
{
	static const char tok[] = "s3cr3t-t0ken_value";
	static const struct {
		const char *given;
		size_t len;
		const char *expected;
		bool eq;
	} cases[] = {
		{ "s3cr3t-t0ken_value", 18, tok, true },
		/* Only given_len bytes count: a header value is not
		 * NUL-terminated where it ends. */
		{ "s3cr3t-t0ken_valueXYZ", 18, tok, true },
		{ "s3cr3t-t0ken_valuf", 18, tok, false },
		{ "S3cr3t-t0ken_value", 18, tok, false },
		{ "s3cr3t-t0ken_valu", 17, tok, false },      /* prefix */
		{ "s3cr3t-t0ken_value", 17, tok, false },     /* prefix by len */
		{ "s3cr3t-t0ken_value ", 19, tok, false },    /* longer */
		{ "s3cr3t-t0ken_value\0", 19, tok, false },   /* trailing NUL */
		{ "", 0, tok, false },
		{ NULL, 0, tok, false },
		/* An empty or absent expected token never matches. */
		{ "", 0, "", false },
		{ "x", 1, "", false },
		{ "", 0, NULL, false },
		{ "x", 1, NULL, false },
		{ NULL, 0, NULL, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (crypto_token_eq(cases[i].given, cases[i].len,
		    cases[i].expected) != cases[i].eq)
			fail_msg("case %zu: given \"%s\" (%zu) expected \"%s\": "
			    "want %s", i, cases[i].given ? cases[i].given :
			    "(null)", cases[i].len, cases[i].expected ?
			    cases[i].expected : "(null)",
			    cases[i].eq ? "equal" : "unequal");
	}
}

/* ---- AES-256-GCM ---- */

struct seal_fixture {
	unsigned char key[CRYPTO_KEY_LEN];
	unsigned char other_key[CRYPTO_KEY_LEN];
	unsigned char sealed[256];
	size_t sealed_len;
};

static const char plain[] = "pA55w0rd-for-env_0123456789abcdef";
static const char aad[] = "env_0123456789abcdef";

static int
seal_setup(void **state)
{
	struct seal_fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || crypto_random(f->key, sizeof(f->key)) != 0 ||
	    crypto_random(f->other_key, sizeof(f->other_key)) != 0)
		return -1;
	f->sealed_len = strlen(plain) + CRYPTO_SEAL_OVERHEAD;
	if (crypto_seal(f->key, aad, plain, strlen(plain), f->sealed,
	    f->sealed_len) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
seal_teardown(void **state)
{
	free(*state);
	return 0;
}

static void
test_seal_open_round_trip(void **state)
{
	struct seal_fixture *f = *state;
	char out[256];

	memset(out, 'X', sizeof(out));
	/* The plaintext does not appear in the sealed bytes. */
	assert_false(mem_contains(f->sealed, f->sealed_len, plain, 8));
	assert_int_equal(crypto_open(f->key, aad, f->sealed, f->sealed_len,
	    out, strlen(plain) + 1), 0);
	assert_string_equal(out, plain);
}

static void
test_seal_binary_and_empty_plaintext(void **state)
{
	struct seal_fixture *f = *state;
	unsigned char bin[] = { 0, 1, 2, 0, 255, 0 };
	unsigned char sealed[64];
	char out[64];

	assert_int_equal(crypto_seal(f->key, aad, bin, sizeof(bin), sealed,
	    sizeof(bin) + CRYPTO_SEAL_OVERHEAD), 0);
	assert_int_equal(crypto_open(f->key, aad, sealed,
	    sizeof(bin) + CRYPTO_SEAL_OVERHEAD, out, sizeof(out)), 0);
	assert_memory_equal(out, bin, sizeof(bin));
	assert_int_equal(out[sizeof(bin)], '\0');

	assert_int_equal(crypto_seal(f->key, aad, "", 0, sealed,
	    CRYPTO_SEAL_OVERHEAD), 0);
	memset(out, 'X', sizeof(out));
	assert_int_equal(crypto_open(f->key, aad, sealed, CRYPTO_SEAL_OVERHEAD,
	    out, 1), 0);
	assert_string_equal(out, "");
}

/* Every tampering fails, and no unauthenticated plaintext is left in out. */
static void
assert_open_fails(const unsigned char *key, const char *a,
    const unsigned char *in, size_t inlen)
{
	char out[256];

	memset(out, 0, sizeof(out));
	assert_int_equal(crypto_open(key, a, in, inlen, out, sizeof(out)), -1);
	assert_false(mem_contains(out, sizeof(out), plain, 4));
}

static void
test_open_with_other_key_or_row_fails(void **state)
{
	struct seal_fixture *f = *state;

	assert_open_fails(f->other_key, aad, f->sealed, f->sealed_len);
	/* Copied to another row: the aad is that row's id. */
	assert_open_fails(f->key, "env_0123456789abcdee", f->sealed,
	    f->sealed_len);
	assert_open_fails(f->key, "env_0123456789abcde", f->sealed,
	    f->sealed_len);
	assert_open_fails(f->key, "", f->sealed, f->sealed_len);
}

static void
test_open_tampered_fails(void **state)
{
	struct seal_fixture *f = *state;
	unsigned char t[256];
	size_t i;

	/* Every byte: nonce (0..11), ciphertext, tag (last 16). */
	for (i = 0; i < f->sealed_len; i++) {
		memcpy(t, f->sealed, f->sealed_len);
		t[i] ^= 0x01;
		assert_open_fails(f->key, aad, t, f->sealed_len);
	}
	/* The tag's last bit, explicitly. */
	memcpy(t, f->sealed, f->sealed_len);
	t[f->sealed_len - 1] ^= 0x80;
	assert_open_fails(f->key, aad, t, f->sealed_len);
}

static void
test_open_truncated_fails(void **state)
{
	struct seal_fixture *f = *state;
	size_t n;

	for (n = 0; n < f->sealed_len; n++)
		assert_open_fails(f->key, aad, f->sealed, n);
}

static void
test_seals_differ(void **state)
{
	struct seal_fixture *f = *state;
	unsigned char again[256];

	assert_int_equal(crypto_seal(f->key, aad, plain, strlen(plain), again,
	    sizeof(again)), 0);
	/* A fresh nonce, so neither nonce nor ciphertext repeat. */
	assert_memory_not_equal(again, f->sealed, 12);
	assert_memory_not_equal(again + 12, f->sealed + 12,
	    f->sealed_len - 12);
}

static void
test_seal_open_buffer_boundaries(void **state)
{
	struct seal_fixture *f = *state;
	size_t len = strlen(plain);
	unsigned char sealed[256];
	char out[256];

	memset(sealed, 0xAA, sizeof(sealed));
	assert_int_equal(crypto_seal(f->key, aad, plain, len, sealed,
	    len + CRYPTO_SEAL_OVERHEAD - 1), -1);
	assert_int_equal(crypto_seal(f->key, aad, plain, len, sealed, 0), -1);
	assert_int_equal(crypto_seal(f->key, aad, plain, len, sealed,
	    len + CRYPTO_SEAL_OVERHEAD), 0);
	/* Nothing past len + overhead was touched. */
	assert_int_equal(sealed[len + CRYPTO_SEAL_OVERHEAD], 0xAA);

	memset(out, 'X', sizeof(out));
	assert_int_equal(crypto_open(f->key, aad, f->sealed, f->sealed_len,
	    out, len), -1);
	assert_int_equal(out[len], 'X');
	assert_int_equal(crypto_open(f->key, aad, f->sealed, f->sealed_len,
	    out, len + 1), 0);
	assert_string_equal(out, plain);
	assert_int_equal(out[len + 1], 'X');
}

/* ---- hex ---- */

static void
test_hex_round_trip(void **state)
{
	unsigned char all[256], back[256];
	char hex[513];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	hex_encode(all, sizeof(all), hex);
	assert_int_equal(strlen(hex), 512);
	assert_memory_equal(hex, "000102030405060708090a0b0c0d0e0f", 32);
	assert_string_equal(hex + 480, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
	assert_int_equal(hex_decode(hex, back, sizeof(back)), 0);
	assert_memory_equal(all, back, sizeof(all));

	hex_encode(all, 0, hex);
	assert_string_equal(hex, "");
}

static void
test_hex_decode_accepts_both_cases(void **state)
{
	unsigned char out[4];
	static const unsigned char want[] = { 0xde, 0xad, 0xbe, 0xef };

	(void)state;
	assert_int_equal(hex_decode("DEADBEEF", out, 4), 0);
	assert_memory_equal(out, want, 4);
	assert_int_equal(hex_decode("DeAdbEeF", out, 4), 0);
	assert_memory_equal(out, want, 4);
}

static void
test_hex_decode_bad_input(void **state)
{
	static const struct {
		const char *hex;
		size_t outlen;
	} bad[] = {
		{ "abc", 2 },          /* odd length */
		{ "abcdef", 2 },       /* too long */
		{ "ab", 2 },           /* too short */
		{ "", 1 },
		{ "zz", 1 },
		{ "0g", 1 },
		{ "g0", 1 },
		{ " a", 1 },
		{ "a ", 1 },
		{ "0x", 1 },
		{ "-1", 1 },
		{ "0x00", 2 },
		{ "\xc3\xa9", 1 },     /* "é" */
	};
	unsigned char out[8];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (hex_decode(bad[i].hex, out, bad[i].outlen) != -1)
			fail_msg("hex_decode(\"%s\", %zu) accepted", bad[i].hex,
			    bad[i].outlen);
}

/* Regression (make fuzz): "=" runs, "=" inside the text and trailing
 * blanks were accepted, and lengths miscounted ("QQ==\n\n\n\n" gave 3). */
static void
test_base64_decode_strict(void **state)
{
	static const char *const bad[] = {
		"AAAA====", "====", "Q=JDRA==", "QQ==\n\n\n\n", "QQ= =", "A===",
		"QUJD\n", " QUJD", "QU\tJD", "QUJ", "", "QUJD=A==",
	};
	unsigned char out[16];
	size_t i;

	(void)state;
	assert_int_equal(crypto_base64_decode("QQ==", out, sizeof(out)), 1);
	assert_int_equal(out[0], 'A');
	assert_int_equal(crypto_base64_decode("QUI=", out, sizeof(out)), 2);
	assert_int_equal(crypto_base64_decode("QUJD", out, sizeof(out)), 3);
	assert_int_equal(crypto_base64_decode("+/+/", out, sizeof(out)), 3);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		if (crypto_base64_decode(bad[i], out, sizeof(out)) != -1)
			fail_msg("crypto_base64_decode(\"%s\") accepted", bad[i]);
}

static void
test_wipe_overwrites(void **state)
{
	char secret[] = "hunter2-hunter2";
	char copy[sizeof(secret)];

	(void)state;
	memcpy(copy, secret, sizeof(secret));
	crypto_wipe(secret, sizeof(secret));
	assert_false(mem_contains(secret, sizeof(secret), "hunter2", 7));
	/* Only the given bytes. */
	crypto_wipe(copy, 3);
	assert_string_equal(copy + 3, "ter2-hunter2");
}

/*
 * The SCRAM-SHA-256 verifier PostgreSQL stores and pgbouncer's auth_file
 * holds. The expected value was computed with Python's hashlib and hmac
 * from RFC 5802's definitions (SaltedPassword = PBKDF2-HMAC-SHA-256,
 * StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey =
 * HMAC(SaltedPassword, "Server Key")) with the salt lib/crypto.h
 * describes; the integration tests show PostgreSQL and pgbouncer accept
 * what it makes.
 */
static void
test_scram_verifier(void **state)
{
	char v[CRYPTO_SCRAM_LEN], w[CRYPTO_SCRAM_LEN], small[40];

	(void)state;
	assert_int_equal(crypto_scram_verifier("correct horse battery staple",
	    v, sizeof(v)), 0);
	assert_string_equal(v, "SCRAM-SHA-256$4096:K0XNQXaaiB39PCfFFi5eIg==$"
	    "YFsVFLkBD5BwdtWADE6Rironczg8Z9Yr0/FWOEdGcSk=:"
	    "DejTadw/Pk1uIGO/ozKWxJsEShkoyYL8eQGMnlW/n5I=");
	/* Another password: another salt, another verifier. */
	assert_int_equal(crypto_scram_verifier("correct horse battery stapler",
	    w, sizeof(w)), 0);
	assert_int_not_equal(strncmp(v, w, 42), 0);
	/* Too small a buffer fails rather than truncating. */
	assert_int_equal(crypto_scram_verifier("x", small, sizeof(small)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmac_github_vector_accepted),
		cmocka_unit_test(test_hmac_every_flipped_hex_digit_rejected),
		cmocka_unit_test(test_hmac_malformed_signatures_rejected),
		cmocka_unit_test(test_hmac_wrong_secret_or_body_rejected),
		cmocka_unit_test(test_hmac_known_vectors),
		cmocka_unit_test(test_hmac_unknown_digest_fails),
		cmocka_unit_test(test_token_length_and_alphabet),
		cmocka_unit_test(test_token_buffer_boundary),
		cmocka_unit_test(test_tokens_differ),
		cmocka_unit_test(test_hex_token),
		cmocka_unit_test(test_random_fills),
		cmocka_unit_test(test_token_eq),
		cmocka_unit_test_setup_teardown(test_seal_open_round_trip,
		    seal_setup, seal_teardown),
		cmocka_unit_test_setup_teardown(test_seal_binary_and_empty_plaintext,
		    seal_setup, seal_teardown),
		cmocka_unit_test_setup_teardown(test_open_with_other_key_or_row_fails,
		    seal_setup, seal_teardown),
		cmocka_unit_test_setup_teardown(test_open_tampered_fails,
		    seal_setup, seal_teardown),
		cmocka_unit_test_setup_teardown(test_open_truncated_fails,
		    seal_setup, seal_teardown),
		cmocka_unit_test_setup_teardown(test_seals_differ,
		    seal_setup, seal_teardown),
		cmocka_unit_test_setup_teardown(test_seal_open_buffer_boundaries,
		    seal_setup, seal_teardown),
		cmocka_unit_test(test_hex_round_trip),
		cmocka_unit_test(test_hex_decode_accepts_both_cases),
		cmocka_unit_test(test_hex_decode_bad_input),
		cmocka_unit_test(test_base64_decode_strict),
		cmocka_unit_test(test_wipe_overwrites),
		cmocka_unit_test(test_scram_verifier),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
