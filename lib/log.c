/*
 * log: formatting and writing of log lines.
 */
#include "lib/log.h"

#include "lib/inert.h"

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
			char key[sizeof(log_ctx)], value[sizeof(log_ctx)];

			snprintf(key, sizeof(key), "%.*s", (int)(eq - p), p);
			snprintf(value, sizeof(value), "%.*s", (int)(end - eq - 1),
			    eq + 1);
			rc |= buf_addstr(b, ",\"");
			rc |= inert_json(key, b);
			rc |= buf_addstr(b, "\":\"");
			rc |= inert_json(value, b);
			rc |= buf_addstr(b, "\"");
		}
		p = *end == ' ' ? end + 1 : end;
	}
	return rc;
}

/*
 * Build the whole line first and write it with one write(2), so lines
 * from different threads never interleave. This is the one place every
 * line is written, so it is where text from outside (a migration file's
 * name, a database's error echoing a pull request's SQL) is made inert:
 * no caller can forget, and no value can start a forged line. The buffer
 * holds the worst case: every byte of the message (4 KiB), the suffix
 * and the context escaped to six.
 */
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

	buf_init(&b, 64 * 1024);
	if (log_fmt == LOG_JSON) {
		rc = buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"",
		    stamp, level_names[level]);
		rc |= inert_json(msg, &b);
		if (suffix != NULL) {
			rc |= buf_addstr(&b, ": ");
			rc |= inert_json(suffix, &b);
		}
		rc |= buf_addstr(&b, "\"");
		rc |= json_context(&b);
		rc |= buf_addstr(&b, "}\n");
	} else {
		rc = buf_printf(&b, "%s %-5s ", stamp, level_names[level]);
		rc |= inert_line(msg, &b);
		if (suffix != NULL) {
			rc |= buf_addstr(&b, ": ");
			rc |= inert_line(suffix, &b);
		}
		if (log_ctx[0] != '\0') {
			rc |= buf_addstr(&b, " ");
			rc |= inert_line(log_ctx, &b);
		}
		rc |= buf_addstr(&b, "\n");
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
