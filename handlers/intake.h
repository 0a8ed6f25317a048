/*
 * intake: the body phase of a request — from its headers to the end of its
 * body — bounded in numbers and in time, so that clients sending slowly
 * cannot take civetweb's threads from everyone else (handlers/intake.c
 * says how and why).
 *
 * http_read_body is the one caller: it enters before reading a body and
 * leaves when the body is read, refused or cut off. Requests that read no
 * body never enter.
 */
#ifndef PREVIEWD_INTAKE_H
#define PREVIEWD_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handlers/http.h"
#include "lib/util.h"

struct mg_request_info;

/* How many requests may be reading a body at once, overall (half of
 * civetweb's threads) and per client address (an IPv6 client is its /64);
 * intake.c says why. */
#define INTAKE_MAX (HTTP_THREADS / 2)
#define INTAKE_MAX_PER_CLIENT 16

/* Start the thread that cuts off bodies still arriving at their deadline,
 * before civetweb starts; stop it after civetweb has stopped. Start 0, or
 * -1 with the reason in err. From the main thread. */
int intake_start(char *err, size_t errlen) MUST_CHECK;
void intake_stop(void);

enum intake_refusal {
	INTAKE_FULL,             /* INTAKE_MAX bodies are being read */
	INTAKE_FULL_CLIENT,      /* the client has INTAKE_MAX_PER_CLIENT */
};

/* Take a place for the request ri (whose body is about to be read) until
 * deadline (mono_ms()): past it the read side of its connection is shut
 * down, so that a read blocked on it returns. The place, or -1 with the
 * reason in *why: answer 503 at once. Any HTTP thread. */
int intake_enter(const struct mg_request_info *ri, int64_t deadline,
    enum intake_refusal *why) MUST_CHECK;

/* Give the place back. True when its deadline cut the connection off
 * (nothing more can be read from it; an answer can still be sent). */
bool intake_leave(int place);

/* Whether a warning of this kind may be logged now: at most one line per
 * kind every 10 s, so that an attack does not flood the log. *held gets
 * how many were not logged since the last one. */
enum intake_note { INTAKE_NOTE_REFUSED, INTAKE_NOTE_TIMEOUT, INTAKE_NOTES };
bool intake_log_due(enum intake_note kind, unsigned long *held);

#endif
