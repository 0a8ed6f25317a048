/*
 * log: formatting and writing of log lines.
 */
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/scrub.h"

enum log_level log_level_min = LL_INFO;
static enum log_format log_fmt = LOG_TEXT;
static _Thread_local char log_ctx[256];

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
log_setup(enum log_level min, enum log_format format)
{
	log_level_min = min;
	log_fmt = format;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_context(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log_ctx, sizeof(log_ctx), fmt, ap);
	va_end(ap);
}

void
log_context_clear(void)
{
	log_ctx[0] = '\0';
}

static void
json_escape(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int rc;

		if (c == '"' || c == '\\')
			rc = buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			rc = buf_printf(b, "\\u%04x", c);
		else
			rc = buf_add(b, s, 1);
		if (rc != 0)
			return;
	}
}

/* The context "k=v k=v" as JSON members: ,"k":"v",... Keys come from
 * log_context's format strings, values never hold spaces (webhook.c
 * checks delivery ids; repositories and ids have their own charsets). */
static int
json_context(struct buf *b)
{
	const char *p = log_ctx, *eq, *end;
	int rc = 0;

	while (*p != '\0') {
		end = p + strcspn(p, " ");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && eq > p) {
			char value[sizeof(log_ctx)];

			snprintf(value, sizeof(value), "%.*s", (int)(end - eq - 1),
			    eq + 1);
			rc |= buf_printf(b, ",\"%.*s\":\"", (int)(eq - p), p);
			json_escape(b, value);
			rc |= buf_addstr(b, "\"");
		}
		p = *end == ' ' ? end + 1 : end;
	}
	return rc;
}

/* Build the whole line first and write it with one write(2), so lines
 * from different threads never interleave. */
static void
log_emit(enum log_level level, const char *msg, const char *suffix)
{
	char stamp[96];
	struct timeval tv;
	struct tm tm;
	struct buf b;
	int rc;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));

	buf_init(&b, 16384);
	if (log_fmt == LOG_JSON) {
		rc = buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"",
		    stamp, level_names[level]);
		json_escape(&b, msg);
		if (suffix != NULL) {
			rc |= buf_addstr(&b, ": ");
			json_escape(&b, suffix);
		}
		rc |= buf_addstr(&b, "\"");
		rc |= json_context(&b);
		rc |= buf_addstr(&b, "}\n");
	} else {
		rc = buf_printf(&b, "%s %-5s %s%s%s%s%s\n", stamp,
		    level_names[level], msg, suffix ? ": " : "",
		    suffix ? suffix : "", log_ctx[0] ? " " : "", log_ctx);
	}
	if (rc == 0 && b.len > 0) {
		ssize_t w = write(STDERR_FILENO, b.data, b.len);
		(void)w;
	}
	buf_release(&b);
}

static void
log_vwrite(enum log_level level, const char *suffix, const char *fmt,
    va_list ap)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* The last line of defence: a secret that reached a message by a
	 * path nobody scrubbed still never reaches the log. */
	(void)scrub_text(msg, sizeof(msg));
	log_emit(level, msg, suffix);
}

void
log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level < log_level_min)
		return;
	va_start(ap, fmt);
	log_vwrite(level, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	char ebuf[128];
	int saved = errno;
	va_list ap;

	/* The XSI strerror_r fills ebuf; it is thread-safe, strerror is not. */
	if (strerror_r(saved, ebuf, sizeof(ebuf)) != 0)
		snprintf(ebuf, sizeof(ebuf), "error %d", saved);
	va_start(ap, fmt);
	log_vwrite(LL_WARN, ebuf, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char ebuf[128];
	int saved = errno;
	va_list ap;

	if (strerror_r(saved, ebuf, sizeof(ebuf)) != 0)
		snprintf(ebuf, sizeof(ebuf), "error %d", saved);
	va_start(ap, fmt);
	log_vwrite(LL_ERROR, ebuf, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
