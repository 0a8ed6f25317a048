/*
 * cursor: the opaque position a paged list hands its clients, so that
 * the next request goes on from where the last one stopped (keyset
 * paging: "after this row", never "skip N rows", which repeats or skips
 * rows whenever rows come or go between the requests).
 *
 * A position is a value of the column the list is ordered by and a
 * unique tie-breaker, the order it belongs to and a direction. Clients
 * see it as URL-safe base64 without padding (RFC 4648 section 5) of
 * "1<order><a|b>.<key>.<tie>": the leading version lets a later previewd
 * change what a position is and still refuse, rather than misread, an
 * old one. It is not secret and not signed: a forged one only moves
 * where a list starts.
 */
#ifndef PREVIEWD_CURSOR_H
#define PREVIEWD_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

/* Encoded, with its NUL: the text form is at most 1 + 2 + 2 * 21 bytes,
 * 60 base64 characters. */
#define CURSOR_SIZE 64

struct cursor {
	char order;          /* which order: a lower-case letter the list
	                        chooses ('c' creation, 'x' expiry) */
	bool before;         /* the rows before the position, else after */
	int64_t key;         /* the ordering column's value there */
	int64_t tie;         /* the unique tie-breaker there, >= 0 */
};

/* c's text into out. 0, or -1 (c out of range, out too small). */
int cursor_encode(const struct cursor *c, char *out, size_t outsz)
    MUST_CHECK;

/* A client's cursor back into *out. Only what cursor_encode writes is
 * accepted (one spelling per position): -1 for anything else, which the
 * caller answers 400. */
int cursor_decode(const char *s, struct cursor *out) MUST_CHECK;

#endif
