/*
 * cursor: keyset positions to and from their opaque text.
 */
#include "lib/cursor.h"

#include <stdio.h>
#include <string.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The plain text: "1" (the format), order, 'a' or 'b', ".key.tie". */
#define PLAIN_MAX (3 + 2 * 21)

static int
b64_value(char c)
{
	const char *p = c != '\0' ? strchr(b64url, c) : NULL;

	return p == NULL ? -1 : (int)(p - b64url);
}

int
cursor_encode(const struct cursor *c, char *out, size_t outsz)
{
	char plain[PLAIN_MAX + 1];
	size_t n, i, o = 0;
	uint32_t v;
	int len;

	if (c->order < 'a' || c->order > 'z' || c->tie < 0)
		return -1;
	len = snprintf(plain, sizeof(plain), "1%c%c.%lld.%lld", c->order,
	    c->before ? 'b' : 'a', (long long)c->key, (long long)c->tie);
	if (len < 0 || (size_t)len >= sizeof(plain))
		return -1;
	n = (size_t)len;
	if ((n * 4 + 2) / 3 + 1 > outsz)
		return -1;
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)(unsigned char)plain[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)plain[i + 1] << 8;
		if (i + 2 < n)
			v |= (uint32_t)(unsigned char)plain[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = b64url[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
	return 0;
}

int
cursor_decode(const char *s, struct cursor *out)
{
	char plain[PLAIN_MAX + 2], again[CURSOR_SIZE], *dot1, *dot2;
	size_t n = strnlen(s, CURSOR_SIZE), i, o = 0, k;
	struct cursor c;
	uint32_t v;
	int d;

	if (n == 0 || n >= CURSOR_SIZE || n % 4 == 1)
		return -1;
	for (i = 0; i < n; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + k >= n) {
				v <<= 6;
				continue;
			}
			if ((d = b64_value(s[i + k])) < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		for (k = 0; k < 3 && i + k + 1 < n && o < PLAIN_MAX + 1; k++)
			plain[o++] = (char)(v >> (16 - 8 * k) & 0xff);
	}
	plain[o] = '\0';
	if (strlen(plain) != o || o < 7 || plain[0] != '1' ||
	    plain[1] < 'a' || plain[1] > 'z' ||
	    (plain[2] != 'a' && plain[2] != 'b') || plain[3] != '.')
		return -1;
	dot1 = plain + 3;
	if ((dot2 = strchr(dot1 + 1, '.')) == NULL)
		return -1;
	*dot2 = '\0';
	c.order = plain[1];
	c.before = plain[2] == 'b';
	if (parse_int64(dot1 + 1, INT64_MIN, INT64_MAX, &c.key) != 0 ||
	    parse_int64(dot2 + 1, 0, INT64_MAX, &c.tie) != 0)
		return -1;
	/* One spelling per position: "+1", "01", "-0" or stray low bits
	 * in the last character would decode to a position too; refusing
	 * them keeps a cursor a value a client can compare. */
	if (cursor_encode(&c, again, sizeof(again)) != 0 ||
	    strcmp(again, s) != 0)
		return -1;
	*out = c;
	return 0;
}
