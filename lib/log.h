/*
 * log: one line per event on stderr, for operators.
 *
 * Levels are checked before anything is formatted, so log_debug costs a
 * comparison when debug is off. A thread may set a context ("delivery=...
 * env=...") that is appended to each of its lines, so an environment's ids
 * follow it from the webhook to the job that acts on it.
 *
 * log_warn appends strerror(errno), log_warnx does not (OpenBSD's
 * convention); fatal/fatalx log and exit(1). Never pass a secret: callers
 * log names and ids, never passwords, tokens or URLs with credentials.
 * Each message is scrubbed (lib/scrub.h) all the same, in case one came
 * from a client library that quoted one.
 */
#ifndef PREVIEWD_LOG_H
#define PREVIEWD_LOG_H

#include "lib/util.h"

enum log_level { LL_DEBUG, LL_INFO, LL_WARN, LL_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

extern enum log_level log_level_min;

void log_setup(enum log_level min, enum log_format format);
int log_parse_level(const char *s, enum log_level *out) MUST_CHECK;

void log_write(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define log_debug(...) do { \
	if (log_level_min <= LL_DEBUG) log_write(LL_DEBUG, __VA_ARGS__); \
} while (0)
#define log_info(...) do { \
	if (log_level_min <= LL_INFO) log_write(LL_INFO, __VA_ARGS__); \
} while (0)
#define log_warnx(...) log_write(LL_WARN, __VA_ARGS__)
#define log_errorx(...) log_write(LL_ERROR, __VA_ARGS__)

void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
__attribute__((noreturn)) void fatal(const char *fmt, ...) PRINTF_LIKE(1, 2);
__attribute__((noreturn)) void fatalx(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Set or clear this thread's context (at most 255 bytes, truncated). */
void log_context(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_context_clear(void);

#endif
