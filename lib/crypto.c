/*
 * crypto: OpenSSL behind a small, hard-to-misuse interface.
 */
#include "lib/crypto.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

int
crypto_random(void *buf, size_t n)
{
	if (n > (size_t)INT32_MAX)
		return -1;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

int
crypto_token(char *out, size_t outsz, size_t nbytes)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[64];
	size_t i, o = 0;

	if (nbytes > sizeof(raw) || outsz < (nbytes * 4 + 2) / 3 + 1 ||
	    crypto_random(raw, nbytes) != 0)
		return -1;
	for (i = 0; i < nbytes; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16;
		size_t rem = nbytes - i;

		if (rem > 1)
			v |= (uint32_t)raw[i + 1] << 8;
		if (rem > 2)
			v |= raw[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		if (rem > 1)
			out[o++] = alphabet[(v >> 6) & 63];
		if (rem > 2)
			out[o++] = alphabet[v & 63];
	}
	out[o] = '\0';
	crypto_wipe(raw, sizeof(raw));
	return 0;
}

int
crypto_hex_token(char *out, size_t outsz, size_t nbytes)
{
	unsigned char raw[64];

	if (nbytes > sizeof(raw) || outsz < nbytes * 2 + 1 ||
	    crypto_random(raw, nbytes) != 0)
		return -1;
	hex_encode(raw, nbytes, out);
	return 0;
}

bool
crypto_token_eq(const char *given, size_t given_len, const char *expected)
{
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	unsigned alen = 0, blen = 0;

	if (expected == NULL || expected[0] == '\0' || given == NULL)
		return false;
	if (EVP_Digest(given, given_len, a, &alen, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(expected, strlen(expected), b, &blen, EVP_sha256(),
	    NULL) != 1)
		return false;
	return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

int
crypto_hmac(const char *digest, const void *key, size_t keylen,
    const void *data, size_t len, unsigned char *out, unsigned *outlen)
{
	const EVP_MD *md;

	if (strcmp(digest, "sha256") == 0)
		md = EVP_sha256();
	else if (strcmp(digest, "sha1") == 0)
		md = EVP_sha1();
	else
		return -1;
	if (keylen > (size_t)INT32_MAX)
		return -1;
	return HMAC(md, key, (int)keylen, data, len, out, outlen) != NULL ?
	    0 : -1;
}

bool
crypto_hmac_hex_eq(const char *digest, const void *key, size_t keylen,
    const void *data, size_t len, const char *hex, size_t hexlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char want[2 * EVP_MAX_MD_SIZE + 1];
	unsigned maclen = 0;

	if (crypto_hmac(digest, key, keylen, data, len, mac, &maclen) != 0)
		return false;
	hex_encode(mac, maclen, want);
	/* The length of a correct signature is public (it is the digest's);
	 * only the content must be compared in constant time. */
	return hexlen == 2 * (size_t)maclen &&
	    CRYPTO_memcmp(want, hex, hexlen) == 0;
}

void
crypto_base64_encode(const unsigned char *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

int
crypto_base64_decode(const char *in, unsigned char *out, size_t outsz)
{
	size_t n = strlen(in), pad = 0, i;
	unsigned char *tmp;
	int len;

	if (n == 0 || n % 4 != 0 || n > 4096)
		return -1;
	/* The alphabet, then at most two "=" that end the text: nothing
	 * else (EVP_DecodeBlock alone lets "=" runs and blanks through). */
	for (i = 0; i < n; i++) {
		char c = in[i];

		if (((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/') && pad == 0)
			continue;
		if (c == '=' && i + 2 >= n) {
			pad++;
			continue;
		}
		return -1;
	}
	if ((tmp = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	/* EVP_DecodeBlock counts padding as zero bytes. */
	len = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (len >= 0)
		len -= (int)pad;
	if (len < 0 || (out != NULL && (size_t)len > outsz)) {
		len = -1;
	} else if (out != NULL) {
		memcpy(out, tmp, (size_t)len);
	}
	crypto_wipe(tmp, n / 4 * 3 + 1);
	free(tmp);
	return len;
}

void
hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *hex, unsigned char *out, size_t outlen)
{
	size_t i;

	if (strlen(hex) != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const char *aad,
    const void *plaintext, size_t len, unsigned char *out, size_t outsz)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *nonce = out, *ct = out + 12;
	int n = 0, rc = -1;

	if (len > (size_t)INT32_MAX - 64 || outsz < len + CRYPTO_SEAL_OVERHEAD)
		return -1;
	/* A fresh random 96-bit nonce per seal: the number of seals under
	 * one key stays far below the 2^32 that random nonces allow. */
	if (crypto_random(nonce, 12) != 0)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(ctx, ct, &n, plaintext, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ct + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, ct + len) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const char *aad,
    const unsigned char *in, size_t inlen, char *out, size_t outsz)
{
	EVP_CIPHER_CTX *ctx = NULL;
	size_t len;
	int n = 0, rc = -1;

	if (inlen < CRYPTO_SEAL_OVERHEAD || inlen > (size_t)INT32_MAX)
		return -1;
	len = inlen - CRYPTO_SEAL_OVERHEAD;
	if (outsz < len + 1)
		return -1;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, in) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)out, &n, in + 12,
	    (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
	    (void *)(in + 12 + len)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &n) != 1) {
		crypto_wipe(out, outsz);
		goto out;
	}
	out[len] = '\0';
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

#define SCRAM_ITERATIONS 4096    /* PostgreSQL's scram_iterations default */
#define SCRAM_SALT_LEN 16

static int scram_make(const char *password, char *out, size_t outsz);

/*
 * The last SCRAM_MEMO verifiers made, by SHA-256 of the password. A
 * verifier costs 4096 rounds of HMAC (1.5-3 ms here), and the same one is
 * asked for twice: when a pool member's role gets its password, and when
 * the claim that takes it gives pgbouncer its entry. The digest of a
 * 256-bit random password gives nothing away that the verifier does not.
 */
#define SCRAM_MEMO 64

static struct {
	unsigned char digest[32];
	char verifier[CRYPTO_SCRAM_LEN];
	bool used;
} scram_memo[SCRAM_MEMO];
static unsigned scram_next;
static pthread_mutex_t scram_lock = PTHREAD_MUTEX_INITIALIZER;

static bool
memo_find(const unsigned char digest[32], char *out, size_t outsz)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&scram_lock);
	for (i = 0; i < SCRAM_MEMO && !found; i++)
		if (scram_memo[i].used &&
		    CRYPTO_memcmp(scram_memo[i].digest, digest, 32) == 0)
			found = str_copy(out, scram_memo[i].verifier,
			    outsz) == 0;
	pthread_mutex_unlock(&scram_lock);
	return found;
}

static void
memo_add(const unsigned char digest[32], const char *verifier)
{
	pthread_mutex_lock(&scram_lock);
	memcpy(scram_memo[scram_next].digest, digest, 32);
	(void)str_copy(scram_memo[scram_next].verifier, verifier,
	    sizeof(scram_memo[scram_next].verifier));
	scram_memo[scram_next].used = true;
	scram_next = (scram_next + 1) % SCRAM_MEMO;
	pthread_mutex_unlock(&scram_lock);
}

int
crypto_scram_verifier(const char *password, char *out, size_t outsz)
{
	unsigned char digest[32];

	if (EVP_Digest(password, strlen(password), digest, NULL, EVP_sha256(),
	    NULL) != 1)
		return -1;
	if (memo_find(digest, out, outsz))
		return 0;
	if (scram_make(password, out, outsz) != 0)
		return -1;
	memo_add(digest, out);
	return 0;
}

static int
scram_make(const char *password, char *out, size_t outsz)
{
	static const char salt_key[] = "previewd scram salt v1";
	unsigned char mac[64], salted[32], client[32], stored[32], server[32];
	char salt64[4 * ((SCRAM_SALT_LEN + 2) / 3) + 1], stored64[45],
	    server64[45];
	unsigned len = 0;
	int rc = -1;

	if (crypto_hmac("sha256", salt_key, sizeof(salt_key) - 1, password,
	    strlen(password), mac, &len) != 0 ||
	    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), mac,
	    SCRAM_SALT_LEN, SCRAM_ITERATIONS, EVP_sha256(), sizeof(salted),
	    salted) != 1 ||
	    crypto_hmac("sha256", salted, sizeof(salted), "Client Key", 10,
	    client, &len) != 0 ||
	    EVP_Digest(client, sizeof(client), stored, NULL, EVP_sha256(),
	    NULL) != 1 ||
	    crypto_hmac("sha256", salted, sizeof(salted), "Server Key", 10,
	    server, &len) != 0)
		goto out;
	crypto_base64_encode(mac, SCRAM_SALT_LEN, salt64);
	crypto_base64_encode(stored, sizeof(stored), stored64);
	crypto_base64_encode(server, sizeof(server), server64);
	rc = str_printf(out, outsz, "SCRAM-SHA-256$%d:%s$%s:%s",
	    SCRAM_ITERATIONS, salt64, stored64, server64);
out:
	crypto_wipe(salted, sizeof(salted));
	crypto_wipe(client, sizeof(client));
	return rc;
}

void
crypto_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}
