/*
 * jscan: validate a JSON document strictly and pick out a few values from
 * it, in one pass, without allocating.
 *
 * Why not cJSON for webhooks: a GitHub or GitLab delivery is about 25 KB,
 * and previewd must take at least 15,000 of them a second on 2 cores, which
 * leaves about 130 us of CPU per request for everything (TLS, HMAC, the
 * database). cJSON takes about 110 us to parse such a payload on the target
 * machines (it builds a tree with a malloc per node), yet a handler needs
 * only 1 to 10 scalars ("action", "pull_request.head.sha", ...). jscan
 * walks the bytes once, checks the whole text against RFC 8259 as it goes,
 * and notes where the requested values are. On GitHub's pull_request
 * "opened" example (28.7 KB pretty-printed, 24.3 KB compact) with 8 paths,
 * hot cache, gcc 12 -O2, one core of a Xeon dev VM: about 2.0 GB/s, i.e.
 * 14 us and 11 us per document, where cJSON_Parse + cJSON_Delete took 55-60
 * us on the same machine.
 *
 * What "strict" means here: exactly one value with optional surrounding
 * space, tab, LF or CR; no comments, trailing commas, single quotes,
 * NaN/Infinity, leading zeros, "+1", "1.", ".5" or "1e"; in strings no raw
 * byte below 0x20, only the eight RFC escapes and \uXXXX, surrogate escapes
 * only as a high-low pair, and well-formed UTF-8 (no overlongs, no encoded
 * surrogates, nothing above U+10FFFF, no truncated sequences). A raw NUL
 * byte anywhere, or a byte-order mark before the value, makes the document
 * invalid (the escape \u0000 is valid JSON). Nesting deeper
 * than JSCAN_MAX_DEPTH arrays and objects is invalid. Numbers are checked
 * for syntax only: 1e400 is valid JSON, jscan_int64 is where range matters.
 *
 * Paths. A path is the object keys from the root joined by '.', so a key
 * that itself contains '.' cannot be named, and a path never descends into
 * an array ("labels.0.name" is always missing). Keys are compared after
 * unescaping ("\u0061ction" matches "action") and byte for byte, so case
 * matters; a key that decodes to something containing U+0000 matches no
 * path. When an object repeats a key, the first occurrence wins, at every
 * level of the path. That is what cJSON_GetObjectItemCaseSensitive does,
 * and previewd reads some payloads with cJSON as well: the two must never
 * disagree about what a webhook said. Plain cJSON_GetObjectItem does NOT
 * agree: it ignores case ({"Action":"x","action":"y"} gives "x" there, "y"
 * here), and cJSON cuts keys at U+0000 ("a\u0000b" reads as "a").
 *
 * Threads: no globals, no allocation; any thread may call any function as
 * long as the fields array it passes is its own.
 */
#ifndef PREVIEWD_JSCAN_H
#define PREVIEWD_JSCAN_H

#include <stddef.h>

enum jscan_type {
	JSCAN_MISSING = 0, JSCAN_STRING, JSCAN_NUMBER, JSCAN_TRUE,
	JSCAN_FALSE, JSCAN_NULL, JSCAN_OBJECT, JSCAN_ARRAY
};

struct jscan_field {
	/* in: object keys from the root joined by '.', e.g.
	 * "pull_request.head.sha". NULL is allowed and never matches. */
	const char *path;
	/* out: JSCAN_MISSING when the path is absent (raw is then NULL and
	 * raw_len 0). */
	enum jscan_type type;
	/* out: points into the document, so it lives as long as the document.
	 * Strings: the bytes between the quotes, still escaped (use
	 * jscan_string). Numbers, true, false, null: the token.
	 * Objects and arrays: the whole value including its brackets. */
	const char *raw;
	size_t raw_len;  /* out */
};

/* Arrays and objects may nest this deep; one more level is invalid. */
#define JSCAN_MAX_DEPTH 64

/*
 * Validate doc[0..len) as one JSON text (RFC 8259) and fill fields[] in the
 * same pass. doc need not be NUL-terminated; nothing at or past doc + len is
 * read. Only type, raw and raw_len of each field are written (they are used
 * as scratch during the scan), path is left alone.
 *
 * Returns 0 when the document is valid, -1 when it is not (then the fields
 * are unspecified and must not be used). Uses about 2 KB of stack.
 */
int jscan_parse(const char *doc, size_t len, struct jscan_field *fields,
    size_t nfields) __attribute__((warn_unused_result));

/*
 * Decode a JSCAN_STRING field, filled by a successful jscan_parse, into out
 * as NUL-terminated UTF-8. Returns 0, or -1 when the field is not a string,
 * the decoded value does not fit in outsz bytes including the NUL, or it
 * contains U+0000: C code is never handed a string that strlen would cut
 * short. On -1, out is the empty string (when outsz > 0).
 */
int jscan_string(const struct jscan_field *f, char *out, size_t outsz)
    __attribute__((warn_unused_result));

/*
 * A JSCAN_NUMBER that is an integer (no fraction, no exponent, so "1.0" and
 * "1e3" are refused) within long long. "-0" gives 0. Returns 0, or -1
 * otherwise with *out untouched.
 */
int jscan_int64(const struct jscan_field *f, long long *out)
    __attribute__((warn_unused_result));

/* JSCAN_TRUE -> 1, JSCAN_FALSE -> 0, anything else (also missing) -> -1. */
int jscan_bool(const struct jscan_field *f);

#endif
