/*
 * page: ?limit=, ?cursor= and the address of another page.
 */
#include "handlers/page.h"

#include <string.h>
#include <strings.h>

#include <civetweb.h>

/* A query parameter into out: 0 there, 1 absent, -1 too long for out
 * (http_query says -1 for both, and a limit of 40 digits is wrong, not
 * absent). */
static int
query(const struct request *req, const char *name, char *out, size_t outsz)
{
	const char *qs = req->ri->query_string;
	int n;

	if (qs == NULL)
		return 1;
	n = mg_get_var(qs, strlen(qs), name, out, outsz);
	return n >= 0 ? 0 : n == -1 ? 1 : -1;
}

int
page_args(struct request *req, int64_t max, const char *orders,
    bool backward, struct page_args *out)
{
	char v[CURSOR_SIZE];
	int rc;

	memset(out, 0, sizeof(*out));
	out->limit = PAGE_LIMIT_DEFAULT;
	if ((rc = query(req, "limit", v, 32)) < 0 || (rc == 0 &&
	    parse_int64(v, 1, max, &out->limit) != 0)) {
		http_error(req, 400, "bad_limit", "limit must be a whole "
		    "number from 1 to %lld", (long long)max);
		return -1;
	}
	if ((rc = query(req, "cursor", v, sizeof(v))) == 1)
		return 0;
	if (rc < 0 || cursor_decode(v, &out->cursor) != 0 ||
	    strchr(orders, out->cursor.order) == NULL ||
	    (out->cursor.before && !backward)) {
		http_error(req, 400, "bad_cursor", "cursor is not one this "
		    "list handed out: pass next_cursor (or follow the Link "
		    "header) as it is, with the same filters and sort");
		return -1;
	}
	out->has_cursor = true;
	return 0;
}

/* Whether the query's name (raw, up to '=' or '&') is name or one of
 * drop's; civetweb's own lookup compares names without case too. */
static bool
dropped(const char *p, size_t n, const char *const *drop)
{
	size_t i;

	if (n == 6 && strncasecmp(p, "cursor", 6) == 0)
		return true;
	for (i = 0; drop != NULL && drop[i] != NULL; i++)
		if (strlen(drop[i]) == n && strncasecmp(p, drop[i], n) == 0)
			return true;
	return false;
}

int
page_url(const struct request *req, const char *path,
    const char *const *drop, const char *cursor, struct buf *out)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$'()*+,;=:@/?";
	const char *qs = req->ri->query_string, *p, *end, *eq;
	size_t n, i;
	int rc;

	rc = buf_addstr(out, path);
	rc |= buf_addstr(out, "?");
	for (p = qs; rc == 0 && p != NULL && *p != '\0'; p = end) {
		end = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(end - p));
		n = (size_t)((eq != NULL ? eq : end) - p);
		if (end > p && !dropped(p, n, drop)) {
			for (i = 0; rc == 0 && p + i < end; i++) {
				unsigned char c = (unsigned char)p[i];

				if (c != '\0' && strchr(safe, c) != NULL)
					rc = buf_add(out, p + i, 1);
				else
					rc = buf_printf(out, "%%%02X", c);
			}
			rc |= buf_addstr(out, "&");
		}
		if (*end == '&')
			end++;
	}
	if (rc == 0)
		rc = buf_printf(out, "cursor=%s", cursor);
	return rc == 0 ? 0 : -1;
}
