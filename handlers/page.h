/*
 * page: what every list read a page at a time shares: its ?limit= and
 * ?cursor= parameters, and the address of another page of it.
 *
 * The cursor is lib/cursor.h's opaque position: a list hands out the
 * position of its page's last row, and the next request starts after
 * it. The address of the next page keeps every other parameter the
 * request had (filters, the sort, the limit), so a client follows it
 * as it is, as GitHub's Link headers are followed.
 */
#ifndef PREVIEWD_PAGE_H
#define PREVIEWD_PAGE_H

#include "handlers/http.h"
#include "lib/cursor.h"

/* A list's length when the request says none, and the most it may ask
 * for: one page is what a request holds in memory. */
#define PAGE_LIMIT_DEFAULT 100
#define PAGE_LIMIT_MAX 1000

struct page_args {
	int64_t limit;
	bool has_cursor;
	struct cursor cursor;        /* when has_cursor */
};

/* ?limit= (1 to max; absent: PAGE_LIMIT_DEFAULT) and ?cursor= (one this
 * list handed out: its order one of the letters in orders, "before"
 * only when backward is allowed). A bad one is answered 400 with a JSON
 * error saying which, and -1 returned. */
int page_args(struct request *req, int64_t max, const char *orders,
    bool backward, struct page_args *out) MUST_CHECK;

/* path, then the request's query string without its cursor and the
 * parameters named in drop (NULL-terminated, or NULL), then
 * "cursor=<cursor>", appended to out. Bytes of the query that
 * are not safe between the <> of a Link header or in an HTML attribute
 * are percent-encoded. 0, or -1 when out is full. */
int page_url(const struct request *req, const char *path,
    const char *const *drop, const char *cursor, struct buf *out)
    MUST_CHECK;

#endif
