/*
 * inert: one walk over the characters of a string, four ways to write
 * what must not act.
 */
#include "lib/inert.h"

#include <stdbool.h>
#include <string.h>

enum kind {
	K_LINE,     /* a text log line */
	K_JSON,     /* inside a JSON string */
	K_SPAN,     /* inside a Markdown code span */
	K_BLOCK,    /* inside a fenced code block: \n and \t stay */
};

size_t
inert_utf8(const char *str, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t c, min;
	size_t n, i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;       /* a continuation byte, 0xc0/0xc1, 0xf5.. */
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Characters that are printable in no useful sense: C1 controls (some
 * terminals act on them, U+0085 is a line break to some readers), the
 * line and paragraph separators, and the bidirectional controls that
 * make a viewer show text in another order than it is ("Trojan Source",
 * CVE-2021-42574). */
static bool
hidden(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e ||
	    c == 0x200f || c == 0x2028 || c == 0x2029 ||
	    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

static int
add_control(enum kind k, unsigned char c, struct buf *out)
{
	if (k == K_JSON)
		return buf_printf(out, "\\u%04x", c);
	if (c == '\n')
		return buf_addstr(out, "\\n");
	if (c == '\r')
		return buf_addstr(out, "\\r");
	if (c == '\t')
		return buf_addstr(out, "\\t");
	return buf_printf(out, "\\x%02x", c);
}

static int
inert_text(enum kind k, const char *s, struct buf *out)
{
	size_t len = strlen(s), n;
	uint32_t cp;
	int rc = 0;

	/* The empty string still makes out a string. */
	if (buf_add(out, "", 0) != 0)
		return -1;
	while (len > 0 && rc == 0) {
		unsigned char c = (unsigned char)*s;

		n = inert_utf8(s, len, &cp);
		if (n == 0) {
			/* The text log keeps the byte, for whoever debugs
			 * an encoding; everywhere else a reader (JSON, the
			 * forge's API) wants well-formed UTF-8. */
			rc = k == K_LINE ? buf_printf(out, "\\x%02x", c) :
			    buf_addstr(out, "\xef\xbf\xbd");
			n = 1;
		} else if (cp < 0x20 || cp == 0x7f) {
			if (k == K_BLOCK && (c == '\n' || c == '\t'))
				rc = buf_add(out, s, 1);
			else
				rc = add_control(k, c, out);
		} else if (hidden(cp)) {
			rc = buf_printf(out, "\\u%04x", (unsigned)cp);
		} else if (k == K_JSON && (c == '"' || c == '\\')) {
			rc = buf_printf(out, "\\%c", c);
		} else {
			rc = buf_add(out, s, n);
		}
		s += n;
		len -= n;
	}
	return rc;
}

int
inert_line(const char *s, struct buf *out)
{
	return inert_text(K_LINE, s, out);
}

int
inert_json(const char *s, struct buf *out)
{
	return inert_text(K_JSON, s, out);
}

int
inert_md_text(const char *s, bool lines, struct buf *out)
{
	return inert_text(lines ? K_BLOCK : K_SPAN, s, out);
}

static size_t
longest_backticks(const char *s, size_t len)
{
	size_t i, run = 0, longest = 0;

	for (i = 0; i < len; i++) {
		run = s[i] == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	return longest;
}

static int
add_run(struct buf *out, char c, size_t n)
{
	int rc = 0;

	while (n-- > 0 && rc == 0)
		rc = buf_add(out, &c, 1);
	return rc;
}

int
inert_md_span(const char *s, struct buf *out)
{
	struct buf body;
	size_t fence;
	bool pad;
	int rc = -1;

	buf_init(&body, out->max);
	if (inert_text(K_SPAN, s, &body) != 0)
		goto out;
	if (body.len == 0) {
		rc = buf_add(out, "", 0);
		goto out;
	}
	fence = longest_backticks(body.data, body.len) + 1;
	pad = body.data[0] == '`' || body.data[0] == ' ' ||
	    body.data[body.len - 1] == '`' || body.data[body.len - 1] == ' ';
	if (add_run(out, '`', fence) != 0 || (pad && buf_addstr(out, " ")) ||
	    buf_add(out, body.data, body.len) != 0 ||
	    (pad && buf_addstr(out, " ")) || add_run(out, '`', fence) != 0)
		goto out;
	rc = 0;
out:
	buf_release(&body);
	return rc;
}

int
inert_md_fence(const char *s, struct buf *out)
{
	struct buf body;
	size_t fence;
	int rc = -1;

	buf_init(&body, out->max);
	if (inert_text(K_BLOCK, s, &body) != 0)
		goto out;
	fence = longest_backticks(body.data, body.len) + 1;
	if (fence < 3)
		fence = 3;
	/* The value's last line break, if any, is the one before the
	 * closing fence. */
	if (add_run(out, '`', fence) != 0 || buf_addstr(out, "\n") != 0 ||
	    buf_add(out, body.data, body.len) != 0 ||
	    ((body.len == 0 || body.data[body.len - 1] != '\n') &&
	    buf_addstr(out, "\n") != 0) || add_run(out, '`', fence) != 0)
		goto out;
	rc = 0;
out:
	buf_release(&body);
	return rc;
}
