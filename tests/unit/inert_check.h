/*
 * inert_check.h: what lib/inert.h promises, as checks on one input and
 * its outputs, shared by the unit test's random inputs
 * (tests/unit/test_inert.c) and the fuzzer's (tests/fuzz/fuzz_inert.c).
 *
 * inert_check(s) runs the four escapes on s and returns NULL when every
 * promise holds, else what broke:
 *   - line: no byte below 0x20, no DEL, well-formed UTF-8, no C1
 *     control, line separator or bidirectional control; at most 4 bytes
 *     per input byte;
 *   - json: a valid JSON string body (every escape well-formed, no raw
 *     quote or control), well-formed UTF-8; it decodes back to s exactly
 *     when s is well-formed UTF-8;
 *   - span: empty exactly for an empty s; else it opens and closes with
 *     the same run of N backticks, no run of N or more inside (so
 *     nothing closes it early), no control or line break inside, one
 *     space of padding on both ends or neither; for printable ASCII the
 *     inside, unpadded, is s;
 *   - fence: a first and a last line of the same N >= 3 backticks, no run
 *     of N or more in between, no control but \n and \t; for printable
 *     ASCII with line breaks the inside is s;
 * and each output is bounded by a multiple of the input.
 */
#ifndef PREVIEWD_INERT_CHECK_H
#define PREVIEWD_INERT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/inert.h"

/* Well-formed UTF-8 without the characters inert escapes as hidden. */
static inline const char *
inert_check_utf8(const char *s, size_t len, bool lines)
{
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = inert_utf8(s + i, len - i, &cp);
		if (n == 0)
			return "not well-formed UTF-8";
		if ((cp < 0x20 && !(lines && (cp == '\n' || cp == '\t'))) ||
		    cp == 0x7f)
			return "a control character";
		if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
		    cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
		    cp == 0x200f || cp == 0x061c)
			return "a hidden character";
		i += n;
	}
	return NULL;
}

static inline bool
inert_check_wellformed(const char *s, size_t len)
{
	size_t i = 0, n;
	uint32_t cp;

	for (; i < len; i += n)
		if ((n = inert_utf8(s + i, len - i, &cp)) == 0)
			return false;
	return true;
}

static inline size_t
inert_check_run(const char *s, size_t len)
{
	size_t i, run = 0, longest = 0;

	for (i = 0; i < len; i++) {
		run = s[i] == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	return longest;
}

static inline int
inert_check_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode the JSON string body j into out (at least len bytes); -1 when
 * it is not a valid one. Surrogate pairs never occur (inert escapes no
 * character above U+FFFF), so a lone \uD8xx is refused. */
static inline int
inert_check_json_decode(const char *j, size_t len, char *out, size_t *outlen)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char c = (unsigned char)j[i];

		if (c == '"' || c < 0x20)
			return -1;
		if (c != '\\') {
			out[o++] = (char)c;
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		switch (j[i + 1]) {
		case '"': case '\\': case '/':
			out[o++] = j[i + 1]; i += 2; break;
		case 'b': out[o++] = '\b'; i += 2; break;
		case 'f': out[o++] = '\f'; i += 2; break;
		case 'n': out[o++] = '\n'; i += 2; break;
		case 'r': out[o++] = '\r'; i += 2; break;
		case 't': out[o++] = '\t'; i += 2; break;
		case 'u': {
			uint32_t cp = 0;
			int k, h;

			if (i + 6 > len)
				return -1;
			for (k = 0; k < 4; k++) {
				if ((h = inert_check_hex(j[i + 2 + k])) < 0)
					return -1;
				cp = cp << 4 | (uint32_t)h;
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				return -1;
			if (cp < 0x80) {
				out[o++] = (char)cp;
			} else if (cp < 0x800) {
				out[o++] = (char)(0xc0 | cp >> 6);
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[o++] = (char)(0xe0 | cp >> 12);
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			}
			i += 6;
			break;
		}
		default:
			return -1;
		}
	}
	*outlen = o;
	return 0;
}

static inline bool
inert_check_printable(const char *s, bool lines)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 0x20 && *s < 0x7f) || (lines && *s == '\n')))
			return false;
	return true;
}

static inline const char *
inert_check_span(const char *s, const struct buf *b)
{
	const char *d = b->data;
	size_t len = b->len, n, i, in;
	const char *why;

	if (s[0] == '\0')
		return len == 0 ? NULL : "span: output for an empty value";
	if (len == 0 || d == NULL)
		return "span: empty output";
	for (n = 0; n < len && d[n] == '`'; n++)
		;
	if (n == 0 || 2 * n >= len)
		return "span: no opening run or no content";
	for (i = 0; i < n; i++)
		if (d[len - 1 - i] != '`')
			return "span: not closed by the opening run";
	in = len - 2 * n;
	if (d[n] == '`' || d[len - n - 1] == '`')
		return "span: content touches the fence";
	if (inert_check_run(d + n, in) >= n)
		return "span: a run inside as long as the fence";
	if ((why = inert_check_utf8(d + n, in, false)) != NULL)
		return why;
	if ((d[n] == ' ') != (d[len - n - 1] == ' '))
		return "span: padded on one end only";
	if (inert_check_printable(s, false)) {
		bool pad = s[0] == '`' || s[0] == ' ' ||
		    s[strlen(s) - 1] == '`' || s[strlen(s) - 1] == ' ';
		size_t off = pad ? 1 : 0;

		if (in != strlen(s) + 2 * off ||
		    memcmp(d + n + off, s, strlen(s)) != 0)
			return "span: printable text changed";
	}
	if (len > 4 * strlen(s) + 2 * (strlen(s) + 1) + 2)
		return "span: longer than its bound";
	return NULL;
}

static inline const char *
inert_check_fence(const char *s, const struct buf *b)
{
	const char *d = b->data, *first, *last;
	size_t len = b->len, n, i, in;
	const char *why;

	if (d == NULL || (first = memchr(d, '\n', len)) == NULL)
		return "fence: no opening line";
	n = (size_t)(first - d);
	if (n < 3 || inert_check_run(d, n) != n)
		return "fence: opening line is not three backticks or more";
	last = d + len;
	while (last > first && last[-1] != '\n')
		last--;
	if (last <= first || (size_t)(d + len - last) != n ||
	    memcmp(last, d, n) != 0)
		return "fence: not closed by the opening fence";
	in = (size_t)(last - first - 1);   /* between, with the last \n */
	if (inert_check_run(first + 1, in) >= n)
		return "fence: a run inside as long as the fence";
	if ((why = inert_check_utf8(first + 1, in, true)) != NULL)
		return why;
	if (inert_check_printable(s, true)) {
		size_t sl = strlen(s);
		size_t want = sl + (sl == 0 || s[sl - 1] != '\n' ? 1 : 0);

		if (in != want || memcmp(first + 1, s, sl) != 0)
			return "fence: printable text changed";
	}
	for (i = 0; i < in; i++)
		if (first[1 + i] == '\r')
			return "fence: a carriage return inside";
	if (len > 4 * strlen(s) + 2 * (strlen(s) + 3) + 3)
		return "fence: longer than its bound";
	return NULL;
}

static inline const char *
inert_check(const char *s)
{
	static char decoded[1 << 16];
	struct buf b;
	const char *why = NULL;
	size_t sl = strlen(s), dl = 0;

	if (sl > sizeof(decoded) / 4)
		return NULL;       /* beyond what this check decodes */
	buf_init(&b, 1 << 20);
	if (inert_line(s, &b) != 0)
		why = "line: refused";
	else if ((why = inert_check_utf8(b.data, b.len, false)) != NULL)
		;
	else if (b.len > 4 * sl)
		why = "line: longer than its bound";

	buf_reset(&b);
	if (why == NULL && inert_json(s, &b) != 0)
		why = "json: refused";
	else if (why == NULL && inert_check_utf8(b.data, b.len, false) != NULL)
		why = "json: not well-formed UTF-8 or a raw control";
	else if (why == NULL && inert_check_json_decode(b.data, b.len, decoded,
	    &dl) != 0)
		why = "json: not a valid JSON string";
	else if (why == NULL && inert_check_wellformed(s, sl) &&
	    (dl != sl || memcmp(decoded, s, sl) != 0))
		why = "json: does not decode back to the value";

	buf_reset(&b);
	if (why == NULL && inert_md_span(s, &b) != 0)
		why = "span: refused";
	else if (why == NULL)
		why = inert_check_span(s, &b);

	buf_reset(&b);
	if (why == NULL && inert_md_fence(s, &b) != 0)
		why = "fence: refused";
	else if (why == NULL)
		why = inert_check_fence(s, &b);
	buf_release(&b);
	return why;
}

#endif
