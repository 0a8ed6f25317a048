/*
 * names: sanitising repository names into identifiers.
 */
#include "lib/names.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/crypto.h"

/* The last path component of repo, lower-cased, with every run of other
 * characters turned into one '_', trimmed of '_' at both ends. */
static void
slug(const char *repo, char *out, size_t max)
{
	const char *base = strrchr(repo, '/');
	size_t n = 0;
	bool sep = false;

	for (base = base ? base + 1 : repo; *base != '\0' && n < max; base++) {
		char c = *base;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (sep && n > 0) {
				/* A separator only with a character after it. */
				if (n + 1 >= max)
					break;
				out[n++] = '_';
			}
			out[n++] = c;
			sep = false;
		} else {
			sep = true;
		}
	}
	out[n] = '\0';
}

int
names_pr(const char *provider, const char *repo, int64_t number,
    unsigned salt, char out[NAMES_SIZE])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	char key[600], hash[2 * EVP_MAX_MD_SIZE + 1], num[24], s[NAMES_SIZE];
	unsigned dlen = 0;
	size_t budget, i;

	if (number < 0 || str_printf(num, sizeof(num), "%lld",
	    (long long)number) != 0)
		return -1;
	/* Repositories differ only in case on no forge, so the hash is of
	 * the lower-cased name: events spelled differently meet one name. */
	if (str_printf(key, sizeof(key), "%s:%s:%u", provider, repo, salt) != 0)
		return -1;
	for (i = 0; key[i] != '\0'; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] = (char)(key[i] - 'A' + 'a');
	if (EVP_Digest(key, strlen(key), digest, &dlen, EVP_sha256(), NULL) != 1)
		return -1;
	hex_encode(digest, 4, hash);

	/* prefix + slug + '_' + 8 hex + '_' + digits <= 32 */
	budget = NAMES_MAX - strlen(NAMES_PREFIX) - 1 - 8 - 1 - strlen(num);
	if (budget > NAMES_MAX)
		return -1;
	slug(repo, s, budget);
	while (strlen(s) > 0 && s[strlen(s) - 1] == '_')
		s[strlen(s) - 1] = '\0';
	if (s[0] == '\0')
		str_copy(s, "r", sizeof(s));
	return str_printf(out, NAMES_SIZE, NAMES_PREFIX "%s_%s_%s", s, hash, num);
}

int
names_pool(char out[NAMES_SIZE])
{
	char hex[13];

	if (crypto_hex_token(hex, sizeof(hex), 6) != 0)
		return -1;
	return str_printf(out, NAMES_SIZE, NAMES_PREFIX "pool_%s", hex);
}

bool
names_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n > NAMES_MAX || !str_starts(s, NAMES_PREFIX) ||
	    n == strlen(NAMES_PREFIX))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}
