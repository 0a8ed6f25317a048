/*
 * crypto: everything previewd does with secrets, in one place.
 *
 * - random tokens and passwords from the CSPRNG (RAND_bytes);
 * - HMAC signatures checked in constant time (CRYPTO_memcmp);
 * - token comparison that leaks neither content nor length;
 * - AES-256-GCM sealing of stored credentials, bound to the row they
 *   belong to by the associated data, so a ciphertext copied to another
 *   row does not decrypt.
 *
 * All functions are thread-safe.
 */
#ifndef PREVIEWD_CRYPTO_H
#define PREVIEWD_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define CRYPTO_KEY_LEN 32
/* Sealed size: 12-byte nonce + ciphertext + 16-byte tag. */
#define CRYPTO_SEAL_OVERHEAD (12 + 16)
/* Passwords are 32 random bytes: 43 URL-safe base64 characters. */
#define CRYPTO_PASSWORD_BYTES 32
#define CRYPTO_PASSWORD_LEN 44

int crypto_random(void *buf, size_t n) MUST_CHECK;

/* URL-safe base64 without padding (RFC 4648 section 5) of nbytes (at
 * most 64) random bytes into out (needs ceil(4*nbytes/3)+1 bytes). 0 ok,
 * -1 otherwise. */
int crypto_token(char *out, size_t outsz, size_t nbytes) MUST_CHECK;

/* A random lower-case hex string of 2*nbytes characters. */
int crypto_hex_token(char *out, size_t outsz, size_t nbytes) MUST_CHECK;

/* Compare a presented token with the expected one without leaking either's
 * content or length through timing: both are hashed, the digests compared
 * with CRYPTO_memcmp. A NULL or empty expected token never matches. */
bool crypto_token_eq(const char *given, size_t given_len, const char *expected);

/* HMAC of data with key using digest "sha256" or "sha1". out must hold 64
 * bytes; *outlen receives the length. 0 ok, -1 otherwise. */
int crypto_hmac(const char *digest, const void *key, size_t keylen,
    const void *data, size_t len, unsigned char *out, unsigned *outlen)
    MUST_CHECK;

/* True when hex (hexlen characters, lower-case as GitHub and Vercel send
 * it) is the HMAC of data; constant time in the signature's content. */
bool crypto_hmac_hex_eq(const char *digest, const void *key, size_t keylen,
    const void *data, size_t len, const char *hex, size_t hexlen);

/* Standard base64 (RFC 4648 section 4, with padding). encode needs
 * 4*ceil(len/3)+1 bytes. decode returns the decoded length, or -1 for
 * malformed input or a too-small out; out NULL only measures. */
void crypto_base64_encode(const unsigned char *in, size_t len, char *out);
int crypto_base64_decode(const char *in, unsigned char *out, size_t outsz);

void hex_encode(const unsigned char *in, size_t len, char *out);
/* Decode exactly outlen bytes from 2*outlen hex digits of either case.
 * 0 ok, -1 otherwise. */
int hex_decode(const char *hex, unsigned char *out, size_t outlen) MUST_CHECK;

/* Seal plaintext with AES-256-GCM under key; aad binds it to its owner.
 * out needs len + CRYPTO_SEAL_OVERHEAD bytes. 0 ok, -1 otherwise. */
int crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const char *aad,
    const void *plaintext, size_t len, unsigned char *out, size_t outsz)
    MUST_CHECK;

/* Open what crypto_seal made. out needs inlen - CRYPTO_SEAL_OVERHEAD + 1
 * bytes and is NUL-terminated. -1 when the key, aad or data do not match;
 * out is then wiped, so no unauthenticated plaintext is left in it. */
int crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const char *aad,
    const unsigned char *in, size_t inlen, char *out, size_t outsz)
    MUST_CHECK;

/* The SCRAM-SHA-256 verifier of password (RFC 5802, RFC 7677) in the form
 * PostgreSQL keeps in pg_authid and pgbouncer reads from its auth_file:
 * "SCRAM-SHA-256$4096:salt$StoredKey:ServerKey", base64 each. The salt is
 * derived from the password rather than drawn at random, so the verifier
 * previewd sets on the server can be computed again from the sealed
 * password for pgbouncer's auth_file without storing a second secret;
 * passwords are CRYPTO_PASSWORD_BYTES of randomness, so each still has a
 * salt of its own. out needs CRYPTO_SCRAM_LEN bytes. 0 ok, -1 otherwise. */
#define CRYPTO_SCRAM_LEN 160
int crypto_scram_verifier(const char *password, char *out, size_t outsz)
    MUST_CHECK;

/* Overwrite a secret in memory (the compiler may not elide it). */
void crypto_wipe(void *p, size_t len);

#endif
