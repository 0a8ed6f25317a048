/*
 * util: bounded strings and buffers, parsing, clocks.
 */
#include "lib/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
str_copy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

void
str_first_line(char *dst, const char *src, size_t size)
{
	size_t n = strcspn(src, "\n");

	if (size == 0)
		return;
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int
str_printf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

bool
str_starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int
parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static const struct {
	char unit;
	int64_t seconds;
} duration_units[] = {
	{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
};

int
parse_duration(const char *s, int64_t *seconds)
{
	int64_t n = 0;
	const char *p = s;
	size_t i;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (n > (INT64_MAX / 10) - 10)
			return -1;
		n = n * 10 + (*p++ - '0');
	}
	if (p[0] == '\0' || p[1] != '\0')
		return -1;
	for (i = 0; i < ARRAY_SIZE(duration_units); i++) {
		if (duration_units[i].unit != *p)
			continue;
		/* Ten years is far beyond any sensible TTL or interval and keeps
		 * every later addition to a timestamp far from overflow. */
		if (n > (int64_t)10 * 365 * 86400 / duration_units[i].seconds)
			return -1;
		*seconds = n * duration_units[i].seconds;
		return 0;
	}
	return -1;
}

void
format_duration(int64_t seconds, char *out, size_t size)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(duration_units); i++) {
		int64_t u = duration_units[i].seconds;

		if (seconds != 0 && seconds % u == 0) {
			snprintf(out, size, "%lld%c", (long long)(seconds / u),
			    duration_units[i].unit);
			return;
		}
	}
	snprintf(out, size, "%llds", (long long)seconds);
}

int64_t
backoff_ms(int64_t attempts, int64_t cap_ms)
{
	/* Jitter needs no CSPRNG: a per-thread xorshift seeded from the clock
	 * and the stack address (which differs per thread) will do. */
	static _Thread_local uint64_t x;
	int64_t ms = 1000;

	if (x == 0)
		x = (uint64_t)now_ms() ^ (uint64_t)(uintptr_t)&ms;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	while (attempts-- > 0 && ms < cap_ms)
		ms *= 2;
	if (ms > cap_ms)
		ms = cap_ms;
	return ms * 8 / 10 + (int64_t)(x % (uint64_t)(ms * 4 / 10 + 1));
}

int64_t
now_s(void)
{
	return now_ms() / 1000;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
time_rfc3339(int64_t t, char out[RFC3339_LEN])
{
	struct tm tm;
	time_t tt;

	/* RFC 3339 years have four digits: the bounds are written as they
	 * are, never a wrong date. */
	if (t < RFC3339_MIN)
		t = RFC3339_MIN;
	else if (t > RFC3339_MAX)
		t = RFC3339_MAX;
	tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL) {
		str_copy(out, "1970-01-01T00:00:00Z", RFC3339_LEN);
		return;
	}
	snprintf(out, RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
 * civil-from-days inverse), so parsing needs neither timegm nor TZ. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int
days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	while (n-- > 0) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (*(*p)++ - '0');
	}
	*out = v;
	return 0;
}

int
parse_rfc3339(const char *s, int64_t *out)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;

	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d) || (*p != 'T' && *p != 't' &&
	    *p != ' ') || (p++, digits(&p, 2, &h)) || *p++ != ':' ||
	    digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		return -1;
	*out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	/* An offset can carry 0000-01-01 or 9999-12-31 out of the years
	 * time_rfc3339 can write back. */
	if (*out < RFC3339_MIN || *out > RFC3339_MAX)
		return -1;
	return 0;
}

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int
buf_grow(struct buf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (more > b->max || b->len > b->max - more)
		return -1;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len) != 0)
		return -1;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_grow(b, (size_t)n) != 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}
