/*
 * util: small pieces every module uses — bounded strings and buffers,
 * integer and duration parsing, clocks and RFC 3339 timestamps.
 *
 * Nothing here allocates except struct buf, which refuses to grow past the
 * maximum it was created with (curl's dynbuf is the model): every buffer
 * filled from the network or a file has a ceiling.
 */
#ifndef PREVIEWD_UTIL_H
#define PREVIEWD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define MUST_CHECK __attribute__((warn_unused_result))

/* Copy src into dst[size] always NUL-terminating. 0, or -1 when truncated. */
int str_copy(char *dst, const char *src, size_t size);

/* The first line of src (up to its first newline) into dst[size],
 * truncated to fit: servers' error messages say what matters first. */
void str_first_line(char *dst, const char *src, size_t size);

/* snprintf that reports truncation: 0, or -1 when out did not fit. */
int str_printf(char *out, size_t size, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* True when s starts with prefix. */
bool str_starts(const char *s, const char *prefix);

/* Parse a whole decimal integer in [min, max]. 0 ok, -1 otherwise. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out) MUST_CHECK;

/* Parse a duration such as "30s", "10m", "72h", "2d" into seconds.
 * A unit is required; 0 is allowed; at most ten years. 0 ok, -1
 * otherwise. */
int parse_duration(const char *s, int64_t *seconds) MUST_CHECK;

/* Format seconds back as the largest exact unit (259200 -> "3d",
 * 90 -> "90s"). */
void format_duration(int64_t seconds, char *out, size_t size);

/* Exponential backoff for the attempts-th retry: about 1 s, 2 s, 4 s ...
 * up to cap_ms, with +-20 % jitter so that many retries spread out. */
int64_t backoff_ms(int64_t attempts, int64_t cap_ms);

/* Wall clock in seconds / milliseconds since the epoch, and a monotonic
 * clock in milliseconds for deadlines. */
int64_t now_s(void);
int64_t now_ms(void);
int64_t mono_ms(void);

/* "2026-11-22T21:08:58Z" (UTC, thread-safe). out needs 21 bytes. */
#define RFC3339_LEN 21
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the instants with a
 * four-digit year, as both functions keep to. */
#define RFC3339_MIN (-62167219200LL)
#define RFC3339_MAX (253402300799LL)
void time_rfc3339(int64_t t, char out[RFC3339_LEN]);

/* Parse an RFC 3339 time: "2026-11-22T21:08:58Z", with an optional
 * fraction (ignored) and "Z" or a +hh:mm / -hh:mm offset; 't', 'z' and a
 * space for 'T' are accepted, and a leap second ":60". Days the month
 * does not have are refused. 0 ok, -1 otherwise. */
int parse_rfc3339(const char *s, int64_t *out) MUST_CHECK;

/* A growable byte buffer with a hard maximum. data is always
 * NUL-terminated (the NUL is not counted in len) once anything was added. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
/* 0 ok, -1 when the maximum would be exceeded or memory ran out (the
 * buffer is left as it was). */
/* Make room for more bytes (and the NUL) without adding them. */
int buf_grow(struct buf *b, size_t more);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

#endif
