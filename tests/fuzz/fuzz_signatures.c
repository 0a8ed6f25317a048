/*
 * fuzz_signatures: the signature and token checks every webhook goes
 * through, with fuzzed secret, id, timestamp, header and body.
 *
 * Input: control NUL secret NUL id NUL timestamp NUL header NUL body,
 * the body taking the rest (NULs included). control[0] picks the digest
 * (sha256 as GitHub, sha1 as Vercel), control[1..2] move "now" around the
 * timestamp, control[3] picks a hex digit to corrupt.
 *
 * Invariants:
 *   - crypto_hmac_hex_eq is true exactly when the presented hex is the
 *     lower-case hex of the HMAC computed here (so a signature computed
 *     here verifies, a corrupted or shortened one does not);
 *   - crypto_token_eq is true exactly when the two tokens are equal and
 *     the expected one is not empty;
 *   - hex_decode accepts exactly 2*outlen hex digits and re-encodes to
 *     their lower case;
 *   - crypto_base64_decode: what it accepts is standard base64 with
 *     padding and its length is that of the bytes written; measuring
 *     (out NULL) agrees with decoding; an out one byte short is refused;
 *     encode then decode gives the bytes back;
 *   - standard_webhook_ok is true exactly when the timestamp is within the
 *     tolerance and one space-separated candidate is "v1," followed by the
 *     base64 HMAC-SHA256 computed here over "{id}.{timestamp}.{body}" with
 *     the key crypto_base64_decode reads from the secret; adding that
 *     candidate to the header makes it verify.
 */
#include "tests/fuzz/fuzz.h"

#include <openssl/evp.h>

#include "handlers/gitlab.h"
#include "lib/crypto.h"
#include "lib/util.h"

enum { P_CONTROL, P_SECRET, P_ID, P_TS, P_HEADER, P_BODY, P_COUNT };

#define TOLERANCE 300
#define SPEC_NOW 1614265330   /* the Standard Webhooks spec's example */

static void
check_hmac(const struct fuzz_parts *p)
{
	const char *digest = fuzz_byte(p, P_CONTROL, 0) & 1 ? "sha1" : "sha256";
	const char *key = p->s[P_SECRET], *body = p->s[P_BODY];
	const char *hex = p->s[P_HEADER];
	size_t klen = p->len[P_SECRET], blen = p->len[P_BODY];
	size_t hlen = p->len[P_HEADER], wlen, k;
	unsigned char mac[EVP_MAX_MD_SIZE];
	char want[2 * EVP_MAX_MD_SIZE + 1];
	unsigned maclen = 0;
	bool got;

	FUZZ_CHECK(crypto_hmac(digest, key, klen, body, blen, mac, &maclen) == 0,
	    "crypto_hmac failed");
	hex_encode(mac, maclen, want);
	wlen = strlen(want);
	FUZZ_CHECK(wlen == 2 * (size_t)maclen, "hex_encode length");

	got = crypto_hmac_hex_eq(digest, key, klen, body, blen, hex, hlen);
	FUZZ_CHECK(got == (hlen == wlen && memcmp(hex, want, wlen) == 0),
	    "crypto_hmac_hex_eq(%s) said %d for a %zu-byte signature",
	    digest, got, hlen);
	FUZZ_CHECK(crypto_hmac_hex_eq(digest, key, klen, body, blen, want, wlen),
	    "a %s signature computed here does not verify", digest);
	FUZZ_CHECK(!crypto_hmac_hex_eq(digest, key, klen, body, blen, want,
	    wlen - 1), "a shortened signature verifies");
	k = fuzz_byte(p, P_CONTROL, 3) % wlen;
	want[k] = want[k] == '0' ? '1' : '0';
	FUZZ_CHECK(!crypto_hmac_hex_eq(digest, key, klen, body, blen, want, wlen),
	    "a signature with digit %zu changed verifies", k);
	FUZZ_CHECK(!crypto_hmac_hex_eq("md5", key, klen, body, blen, want, wlen),
	    "an unknown digest verifies");
}

static void
check_token(const char *given, size_t glen, const char *expected)
{
	bool want = expected[0] != '\0' && glen == strlen(expected) &&
	    memcmp(given, expected, glen) == 0;

	FUZZ_CHECK(crypto_token_eq(given, glen, expected) == want,
	    "crypto_token_eq said %d", !want);
}

static void
check_hex(const char *hex)
{
	size_t n = strlen(hex), outlen = n / 2, i;
	unsigned char *out = malloc(outlen + 1);
	char *back = malloc(2 * outlen + 1);
	bool want = n % 2 == 0 && strspn(hex, "0123456789abcdefABCDEF") == n;
	int rc;

	if (out == NULL || back == NULL)
		abort();
	rc = hex_decode(hex, out, outlen);
	FUZZ_CHECK((rc == 0) == want, "hex_decode of %zu characters: %d", n, rc);
	if (rc == 0) {
		hex_encode(out, outlen, back);
		for (i = 0; i < n; i++)
			FUZZ_CHECK(back[i] == (hex[i] >= 'A' && hex[i] <= 'F' ?
			    hex[i] - 'A' + 'a' : hex[i]), "hex round trip");
	}
	FUZZ_CHECK(hex_decode(hex, out, outlen + 1) == -1,
	    "hex_decode accepted %zu digits for %zu bytes", n, outlen + 1);
	free(out);
	free(back);
}

/* s is what RFC 4648 section 4 calls base64, with padding: returns the
 * number of bytes it stands for, or -1. */
static int
b64_length(const char *s)
{
	size_t n = strlen(s), pad = 0, i;

	if (n == 0 || n % 4 != 0)
		return -1;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
			return -1;
	return (int)(n / 4 * 3 - pad);
}

static void
check_b64_decode(const char *s)
{
	int n = crypto_base64_decode(s, NULL, 0), m;
	unsigned char *out;

	if (n < 0)
		return;
	FUZZ_CHECK(n == b64_length(s), "crypto_base64_decode(\"%s\") = %d, "
	    "but that is %s", fuzz_show(s, strlen(s)), n, b64_length(s) < 0 ?
	    "not base64" : "another length");
	out = malloc(n > 0 ? (size_t)n : 1);
	if (out == NULL)
		abort();
	m = crypto_base64_decode(s, out, (size_t)n);
	FUZZ_CHECK(m == n, "measured %d, decoded %d", n, m);
	if (n > 0)
		FUZZ_CHECK(crypto_base64_decode(s, out, (size_t)n - 1) == -1,
		    "decoded %d bytes into %d", n, n - 1);
	free(out);
}

static void
check_b64_round_trip(const unsigned char *in, size_t len)
{
	char *enc;
	unsigned char *dec;

	/* decode refuses more than 4096 characters, 3072 bytes */
	if (len == 0 || len > 3072)
		return;
	enc = malloc(4 * ((len + 2) / 3) + 1);
	dec = malloc(len);
	if (enc == NULL || dec == NULL)
		abort();
	crypto_base64_encode(in, len, enc);
	FUZZ_CHECK(strlen(enc) == 4 * ((len + 2) / 3), "encoded length");
	FUZZ_CHECK(crypto_base64_decode(enc, dec, len) == (int)len &&
	    memcmp(dec, in, len) == 0, "base64 round trip of %zu bytes", len);
	free(enc);
	free(dec);
}

/* Is "v1," want one of the space-separated candidates of header? */
static bool
has_candidate(const char *header, const char *want)
{
	const char *p = header;
	size_t wl = strlen(want);

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == 3 + wl && strncmp(p, "v1,", 3) == 0 &&
		    memcmp(p + 3, want, wl) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static void
check_standard_webhook(const struct fuzz_parts *p)
{
	const char *secret = p->s[P_SECRET], *id = p->s[P_ID];
	const char *ts = p->s[P_TS], *header = p->s[P_HEADER];
	const char *body = p->s[P_BODY];
	size_t blen = p->len[P_BODY];
	int16_t delta = (int16_t)(fuzz_byte(p, P_CONTROL, 1) |
	    fuzz_byte(p, P_CONTROL, 2) << 8);
	unsigned char key[256], mac[EVP_MAX_MD_SIZE];
	char want[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1], *msg, *h2;
	int64_t tsv = -1, now = SPEC_NOW;
	unsigned maclen = 0;
	size_t mlen, il = strlen(id), tl = strlen(ts);
	int keylen = -1;
	bool ok, expect_sig;

	/* "now" is a clock: near the timestamp, never near INT64_MAX. */
	if (parse_int64(ts, 0, INT64_MAX, &tsv) == 0 && tsv < ((int64_t)1 << 62))
		now = tsv + delta;
	ok = standard_webhook_ok(secret, id, ts, body, blen, header, now,
	    TOLERANCE);

	if (strncmp(secret, "whsec_", 6) == 0)
		keylen = crypto_base64_decode(secret + 6, key, sizeof(key));
	if (keylen <= 0 || parse_int64(ts, 0, INT64_MAX, &tsv) != 0 ||
	    tsv < now - TOLERANCE || tsv > now + TOLERANCE) {
		FUZZ_CHECK(!ok, "verified without a usable key or timestamp");
		return;
	}

	mlen = il + 1 + tl + 1 + blen;
	msg = malloc(mlen);
	if (msg == NULL)
		abort();
	memcpy(msg, id, il);
	msg[il] = '.';
	memcpy(msg + il + 1, ts, tl);
	msg[il + 1 + tl] = '.';
	memcpy(msg + il + tl + 2, body, blen);
	FUZZ_CHECK(crypto_hmac("sha256", key, (size_t)keylen, msg, mlen, mac,
	    &maclen) == 0, "crypto_hmac");
	crypto_base64_encode(mac, maclen, want);
	free(msg);

	expect_sig = has_candidate(header, want);
	FUZZ_CHECK(ok == expect_sig, "standard_webhook_ok said %d, the header "
	    "%s the signature computed here (id %zu bytes, timestamp %zu, "
	    "body %zu)", ok, expect_sig ? "holds" : "lacks", il, tl, blen);

	/* The same header with the right signature added must verify. */
	mlen = strlen(header) + 4 + strlen(want) + 1;
	if ((h2 = malloc(mlen)) == NULL)
		abort();
	snprintf(h2, mlen, "%s v1,%s", header, want);
	FUZZ_CHECK(standard_webhook_ok(secret, id, ts, body, blen, h2, now,
	    TOLERANCE), "a signature computed here does not verify (id %zu "
	    "bytes, timestamp %zu, body %zu, key %d)", il, tl, blen, keylen);
	free(h2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_parts p;

	fuzz_split(data, size, P_COUNT, &p);

	check_hmac(&p);
	check_token(p.s[P_HEADER], p.len[P_HEADER], p.s[P_SECRET]);
	check_token(p.s[P_BODY], p.len[P_BODY], p.s[P_SECRET]);
	check_token(p.s[P_SECRET], p.len[P_SECRET], p.s[P_SECRET]);
	check_hex(p.s[P_HEADER]);
	check_hex(p.s[P_ID]);
	check_b64_decode(p.s[P_HEADER]);
	check_b64_decode(p.s[P_SECRET]);
	if (strncmp(p.s[P_SECRET], "whsec_", 6) == 0)
		check_b64_decode(p.s[P_SECRET] + 6);
	check_b64_round_trip((const unsigned char *)p.s[P_BODY], p.len[P_BODY]);
	check_standard_webhook(&p);

	fuzz_parts_free(&p);
	return 0;
}
