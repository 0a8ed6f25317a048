/*
 * jscan: one-pass strict JSON validation with path extraction; see jscan.h.
 *
 * How the path matching stays cheap. While a field is still being looked
 * for, its own raw/raw_len hold its progress: raw points at the next path
 * component to match (inside f->path) and raw_len counts the components
 * already matched, which is also the index in the container stack of the
 * only object where that next component can be. raw == NULL means the field
 * can no longer be found. Each object on the stack counts its "live"
 * fields, so the keys of an object that no path runs through (almost all of
 * them) are validated and skipped without a single comparison.
 *
 * Once a key completes a path, the field's type is set and raw points at
 * the value's first byte; raw_len (and, for strings, raw) are fixed up when
 * the value ends. A found field is recognised by type != JSCAN_MISSING and
 * never matches again, which gives first-occurrence-wins for free; a field
 * whose object closes without the next key is retired, so a later sibling
 * object at the same depth cannot pick it up.
 */
#include "lib/jscan.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

struct frame {
	const char *start;  /* the '{' or '[' */
	size_t live;        /* fields whose next component is a key of this object */
	size_t targets;     /* fields whose value is this whole container */
	int is_object;
};

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static int
hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int
utf8_put(unsigned cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * *pp points at a backslash inside a string body that ends at end. Decode
 * that one escape into out, move *pp past it and return the number of bytes
 * (1..4), or -1 when the escape is malformed or a lone/mismatched surrogate.
 * The scanner validates with this same function, so what the scan accepts
 * and what jscan_string and key matching decode can never drift apart.
 */
static int
unescape_one(const char **pp, const char *end, char out[4])
{
	const char *s = *pp + 1;
	unsigned cp, lo;

	if (s >= end)
		return -1;
	switch (*s) {
	case '"': case '\\': case '/':
		out[0] = *s;
		break;
	case 'b': out[0] = '\b'; break;
	case 'f': out[0] = '\f'; break;
	case 'n': out[0] = '\n'; break;
	case 'r': out[0] = '\r'; break;
	case 't': out[0] = '\t'; break;
	case 'u':
		if (end - s < 5 || hex4(s + 1, &cp) < 0)
			return -1;
		s += 4;  /* last hex digit */
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (end - s < 7 || s[1] != '\\' || s[2] != 'u' ||
			    hex4(s + 3, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			s += 6;
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			return -1;
		}
		*pp = s + 1;
		return utf8_put(cp, out);
	default:
		return -1;
	}
	*pp = s + 1;
	return 1;
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/*
 * Nonzero when any of the 8 bytes in x needs a closer look: '"', '\\', a
 * control byte (< 0x20) or a non-ASCII byte. Most of a webhook is long runs
 * of plain ASCII (URLs, SHAs), and testing 8 bytes per step roughly doubles
 * the scan speed over a byte loop. False positives only cost a detour
 * through the byte loop, which decides for itself.
 */
static uint64_t
swar_special(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"');
	uint64_t b = x ^ (ONES * '\\');

	return ((x - ONES * 0x20) | x | ((q - ONES) & ~q) | ((b - ONES) & ~b)) &
	    HIGHS;
}

static int
plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * s points just past an opening quote. Returns the position of the closing
 * quote, or NULL when the string is unterminated or invalid. *escaped is set
 * when the body holds a backslash.
 */
static const char *
scan_string(const char *s, const char *end, int *escaped)
{
	const unsigned char *u = (const unsigned char *)s;
	const unsigned char *e = (const unsigned char *)end;

	for (;;) {
		while (e - u >= 8) {
			uint64_t x;

			memcpy(&x, u, 8);
			if (swar_special(x))
				break;
			u += 8;
		}
		while (u < e && plain_byte(*u))
			u++;
		if (u >= e)
			return NULL;
		if (*u == '"')
			return (const char *)u;
		if (*u == '\\') {
			const char *t = (const char *)u;
			char tmp[4];

			if (unescape_one(&t, end, tmp) < 0)
				return NULL;
			u = (const unsigned char *)t;
			*escaped = 1;
		} else if (*u < 0x20) {
			return NULL;
		} else {
			/* UTF-8 per RFC 3629 table 3-7: the second byte's range
			 * depends on the lead byte, which is what rules out
			 * overlongs, encoded surrogates and > U+10FFFF. */
			unsigned char c = *u, lo = 0x80, hi = 0xBF;
			size_t n, i;

			if (c >= 0xC2 && c <= 0xDF) {
				n = 1;
			} else if (c >= 0xE0 && c <= 0xEF) {
				n = 2;
				if (c == 0xE0)
					lo = 0xA0;
				else if (c == 0xED)
					hi = 0x9F;
			} else if (c >= 0xF0 && c <= 0xF4) {
				n = 3;
				if (c == 0xF0)
					lo = 0x90;
				else if (c == 0xF4)
					hi = 0x8F;
			} else {
				return NULL;
			}
			if ((size_t)(e - u) <= n || u[1] < lo || u[1] > hi)
				return NULL;
			for (i = 2; i <= n; i++)
				if ((u[i] & 0xC0) != 0x80)
					return NULL;
			u += n + 1;
		}
	}
}

static int
is_digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* RFC 8259 number grammar; returns the end of the token or NULL. What may
 * follow the token is the caller's business ("01" fails there). */
static const char *
scan_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (!is_digit(p, end))
		return NULL;
	if (*p++ != '0')
		while (is_digit(p, end))
			p++;
	if (p < end && *p == '.') {
		p++;
		if (!is_digit(p, end))
			return NULL;
		while (is_digit(p, end))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, end))
			return NULL;
		while (is_digit(p, end))
			p++;
	}
	return p;
}

static enum jscan_type
type_of(char c)
{
	switch (c) {
	case '"': return JSCAN_STRING;
	case 't': return JSCAN_TRUE;
	case 'f': return JSCAN_FALSE;
	case 'n': return JSCAN_NULL;
	case '{': return JSCAN_OBJECT;
	case '[': return JSCAN_ARRAY;
	default:  return JSCAN_NUMBER;  /* anything else fails the scan */
	}
}

/*
 * Does the decoded key k[0..klen) equal the path component at comp (which
 * ends at '.' or NUL)? Returns the end of the component, or NULL. A key that
 * decodes to something with '.' or U+0000 in it can never match.
 */
static const char *
key_matches(const char *k, size_t klen, int escaped, const char *comp)
{
	const char *ke = k + klen;
	size_t j = 0;

	while (k < ke) {
		char buf[4];
		int n, i;

		if (escaped && *k == '\\') {
			n = unescape_one(&k, ke, buf);
			if (n < 0)
				return NULL;
		} else {
			buf[0] = *k++;
			n = 1;
		}
		for (i = 0; i < n; i++, j++)
			if (comp[j] == '.' || comp[j] == '\0' || comp[j] != buf[i])
				return NULL;
	}
	return comp[j] == '.' || comp[j] == '\0' ? comp + j : NULL;
}

/*
 * The key k has just been read in the object at stack index idx, and its
 * value starts at value. Advance every field live in that object whose next
 * component is this key: it either ends here (the value is the target), goes
 * on into the value (only if that is an object), or is retired.
 */
static void
match_key(struct jscan_field *fields, size_t nfields, struct frame *fr,
    size_t idx, const char *k, size_t klen, int escaped, const char *value,
    size_t *descend, size_t *target)
{
	size_t i;

	for (i = 0; i < nfields && fr->live > 0; i++) {
		struct jscan_field *f = &fields[i];
		const char *ce;

		if (f->type != JSCAN_MISSING || f->raw == NULL || f->raw_len != idx)
			continue;
		ce = key_matches(k, klen, escaped, f->raw);
		if (ce == NULL)
			continue;
		fr->live--;
		if (*ce == '\0') {
			f->type = type_of(*value);
			f->raw = value;
			(*target)++;
		} else if (*value == '{') {
			f->raw = ce + 1;
			f->raw_len = idx + 1;
			(*descend)++;
		} else {
			f->raw = NULL;
		}
	}
}

/* The scalar [start, end) was a target: give its fields their extent. */
static void
finish_scalar(struct jscan_field *fields, size_t nfields, const char *start,
    const char *end, size_t n)
{
	size_t i;

	for (i = 0; i < nfields && n > 0; i++) {
		struct jscan_field *f = &fields[i];

		if (f->type == JSCAN_MISSING || f->raw != start)
			continue;
		if (f->type == JSCAN_STRING) {
			f->raw = start + 1;
			f->raw_len = (size_t)(end - start) - 2;
		} else {
			f->raw_len = (size_t)(end - start);
		}
		n--;
	}
}

/* The container that began at start and ends just before end has closed. */
static void
close_frame(struct jscan_field *fields, size_t nfields, const struct frame *fr,
    size_t idx, const char *end)
{
	size_t i, targets = fr->targets, live = fr->live;

	for (i = 0; i < nfields && (targets > 0 || live > 0); i++) {
		struct jscan_field *f = &fields[i];

		if (f->type == JSCAN_MISSING) {
			if (f->raw != NULL && f->raw_len == idx) {
				f->raw = NULL;
				live--;
			}
		} else if (f->raw == fr->start) {
			f->raw_len = (size_t)(end - fr->start);
			targets--;
		}
	}
}

int
jscan_parse(const char *doc, size_t len, struct jscan_field *fields,
    size_t nfields)
{
	struct frame stack[JSCAN_MAX_DEPTH];
	struct frame *fr = NULL;
	size_t depth = 0, i;
	size_t descend = 0;  /* fields going on into the value about to be read */
	size_t target = 0;   /* fields whose target is that value */
	const char *p, *end, *q, *k;
	int escaped, rc = -1;

	if (fields == NULL)
		nfields = 0;
	for (i = 0; i < nfields; i++) {
		fields[i].type = JSCAN_MISSING;
		fields[i].raw = fields[i].path;
		fields[i].raw_len = 0;
		if (fields[i].path != NULL)
			descend++;
	}
	if (doc == NULL)
		goto out;
	p = doc;
	end = doc + len;
	p = skip_ws(p, end);

value:
	if (p == end)
		goto out;
	switch (*p) {
	case '{':
	case '[':
		if (depth == JSCAN_MAX_DEPTH)
			goto out;
		fr = &stack[depth++];
		fr->start = p;
		fr->is_object = *p == '{';
		fr->live = fr->is_object ? descend : 0;
		fr->targets = target;
		descend = target = 0;
		p = skip_ws(p + 1, end);
		if (p == end)
			goto out;
		if (*p == (fr->is_object ? '}' : ']'))
			goto close;
		if (fr->is_object)
			goto key;
		goto value;
	case '"':
		escaped = 0;
		q = scan_string(p + 1, end, &escaped);
		if (q == NULL)
			goto out;
		q++;
		break;
	case 't':
		if (end - p < 4 || memcmp(p, "true", 4) != 0)
			goto out;
		q = p + 4;
		break;
	case 'f':
		if (end - p < 5 || memcmp(p, "false", 5) != 0)
			goto out;
		q = p + 5;
		break;
	case 'n':
		if (end - p < 4 || memcmp(p, "null", 4) != 0)
			goto out;
		q = p + 4;
		break;
	default:
		q = scan_number(p, end);
		if (q == NULL)
			goto out;
		break;
	}
	if (target > 0)
		finish_scalar(fields, nfields, p, q, target);
	descend = target = 0;
	p = q;

after_value:
	p = skip_ws(p, end);
	if (depth == 0) {
		if (p == end)
			rc = 0;
		goto out;
	}
	if (p == end)
		goto out;
	fr = &stack[depth - 1];
	if (*p == ',') {
		p = skip_ws(p + 1, end);
		if (fr->is_object)
			goto key;
		goto value;
	}
	if (*p != (fr->is_object ? '}' : ']'))
		goto out;

close:
	/* p is at the bracket closing stack[depth - 1], which fr points to */
	p++;
	if (fr->targets > 0 || fr->live > 0)
		close_frame(fields, nfields, fr, depth - 1, p);
	depth--;
	goto after_value;

key:
	if (p == end || *p != '"')
		goto out;
	k = p + 1;
	escaped = 0;
	q = scan_string(k, end, &escaped);
	if (q == NULL)
		goto out;
	p = skip_ws(q + 1, end);
	if (p == end || *p != ':')
		goto out;
	p = skip_ws(p + 1, end);
	if (p == end)
		goto out;
	if (fr->live > 0)
		match_key(fields, nfields, fr, depth - 1, k, (size_t)(q - k),
		    escaped, p, &descend, &target);
	goto value;

out:
	/* Scratch state must not leak out as if it were a value. */
	for (i = 0; i < nfields; i++) {
		if (fields[i].type == JSCAN_MISSING) {
			fields[i].raw = NULL;
			fields[i].raw_len = 0;
		}
	}
	return rc;
}

int
jscan_string(const struct jscan_field *f, char *out, size_t outsz)
{
	const char *s, *e;
	size_t o = 0;
	int rc = -1;

	if (out == NULL || outsz == 0)
		return -1;
	if (f == NULL || f->type != JSCAN_STRING || f->raw == NULL)
		goto out;
	s = f->raw;
	e = s + f->raw_len;
	while (s < e) {
		const char *bs = memchr(s, '\\', (size_t)(e - s));
		size_t run = (size_t)((bs != NULL ? bs : e) - s);
		char buf[4];
		int n;

		/* a run of bytes copied as they are */
		if (run >= outsz - o || memchr(s, '\0', run) != NULL)
			goto out;
		memcpy(out + o, s, run);
		o += run;
		s += run;
		if (bs == NULL)
			break;
		n = unescape_one(&s, e, buf);
		if (n < 0 || (n == 1 && buf[0] == '\0') || (size_t)n >= outsz - o)
			goto out;
		memcpy(out + o, buf, (size_t)n);
		o += (size_t)n;
	}
	out[o] = '\0';
	rc = 0;
out:
	if (rc != 0)
		out[0] = '\0';
	return rc;
}

int
jscan_int64(const struct jscan_field *f, long long *out)
{
	const unsigned long long max = (unsigned long long)LLONG_MAX;
	unsigned long long v = 0, limit;
	const char *s, *e;
	int neg = 0;

	if (f == NULL || out == NULL || f->type != JSCAN_NUMBER || f->raw == NULL)
		return -1;
	s = f->raw;
	e = s + f->raw_len;
	if (s < e && *s == '-') {
		neg = 1;
		s++;
	}
	if (s == e)
		return -1;
	/* |LLONG_MIN| is one more than LLONG_MAX */
	limit = neg ? max + 1 : max;
	for (; s < e; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -1;  /* '.', 'e' or 'E': not an integer */
		d = (unsigned)(*s - '0');
		if (v > (limit - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	/* negate without ever converting 2^63 to long long */
	*out = neg ? (v == 0 ? 0 : -(long long)(v - 1) - 1) : (long long)v;
	return 0;
}

int
jscan_bool(const struct jscan_field *f)
{
	if (f == NULL)
		return -1;
	if (f->type == JSCAN_TRUE)
		return 1;
	if (f->type == JSCAN_FALSE)
		return 0;
	return -1;
}
