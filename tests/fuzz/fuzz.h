/*
 * fuzz.h: what the libFuzzer targets under tests/fuzz share.
 *
 * A target gets arbitrary bytes. Those that need several strings (a
 * secret, an id, a body ...) split the input at NUL bytes with
 * fuzz_split; every part is copied into a heap block of exactly its
 * length plus the NUL, so under AddressSanitizer a read past a part's end
 * is a finding, not luck.
 *
 * An invariant that does not hold is a finding too: FUZZ_CHECK prints what
 * failed and aborts, which libFuzzer reports as a crash and saves the
 * input (see tests/fuzz/README.md for turning it into a regression).
 */
#ifndef PREVIEWD_FUZZ_H
#define PREVIEWD_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...) do {                                        \
	if (!(cond)) {                                                    \
		fprintf(stderr, "\nfuzz invariant failed at %s:%d: %s\n  ",   \
		    __FILE__, __LINE__, #cond);                           \
		fprintf(stderr, __VA_ARGS__);                             \
		fputc('\n', stderr);                                      \
		abort();                                                  \
	}                                                                 \
} while (0)

#define FUZZ_MAX_PARTS 8

struct fuzz_parts {
	char *s[FUZZ_MAX_PARTS];    /* NUL-terminated, never NULL */
	size_t len[FUZZ_MAX_PARTS]; /* bytes before the added NUL */
	size_t n;                   /* parts actually present in the input */
};

/* A heap copy of data[0..len) with a NUL after it: exactly len + 1 bytes.
 * Aborts when out of memory (libFuzzer's -rss_limit_mb comes first). */
static inline char *
fuzz_strndup(const void *data, size_t len)
{
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/*
 * Split data at NUL bytes into max parts (max <= FUZZ_MAX_PARTS). The last
 * part takes the rest of the input, NULs included, so it can stand for a
 * body; the others cannot contain NUL, as C strings cannot. Parts the
 * input does not reach are "". Release with fuzz_parts_free.
 */
static inline void
fuzz_split(const uint8_t *data, size_t size, size_t max, struct fuzz_parts *p)
{
	size_t i, off = 0;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < max; i++) {
		const uint8_t *nul = NULL;
		size_t n;

		if (off < size && i + 1 < max)
			nul = memchr(data + off, 0, size - off);
		n = off < size ? (nul ? (size_t)(nul - data) : size) - off : 0;
		p->s[i] = fuzz_strndup(data + off, n);
		p->len[i] = n;
		if (off < size)
			p->n = i + 1;
		off += n + (nul != NULL);
	}
}

static inline void
fuzz_parts_free(struct fuzz_parts *p)
{
	size_t i;

	for (i = 0; i < FUZZ_MAX_PARTS; i++)
		free(p->s[i]);
	memset(p, 0, sizeof(*p));
}

/* The i-th byte of a part, or 0 past its end: small fuzzed choices. */
static inline unsigned
fuzz_byte(const struct fuzz_parts *p, size_t part, size_t i)
{
	return i < p->len[part] ? (unsigned char)p->s[part][i] : 0;
}

/* Does s[0..n) contain the C string needle? (memmem without _GNU_SOURCE) */
static inline int
fuzz_contains(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;

	if (m == 0)
		return 1;
	for (i = 0; i + m <= n; i++)
		if (s[i] == needle[0] && memcmp(s + i, needle, m) == 0)
			return 1;
	return 0;
}

/* s[0..n) for a message: printable ASCII as it is, the rest as \xNN,
 * cut at 200 bytes. The result lives for the next seven calls, so one
 * message may show up to eight strings. */
static inline const char *
fuzz_show(const char *s, size_t n)
{
	static char bufs[8][4 * 200 + 4];
	static unsigned next;
	char *out = bufs[next++ % 8];
	size_t i, o = 0;

	for (i = 0; i < n && i < 200; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
		} else {
			snprintf(out + o, sizeof(bufs[0]) - o, "\\x%02x", c);
			o += 4;
		}
	}
	if (i < n)
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	out[o] = '\0';
	return out;
}

#endif
