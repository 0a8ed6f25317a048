/*
 * health: whether previewd can do its work — the state store and every
 * configured database server — for GET /readyz.
 *
 * A thread of its own checks them every HEALTH_PERIOD_MS (with its own
 * store connection and engine handles) and keeps the result, so that a
 * load balancer polling /readyz never makes the request thread wait on a
 * database server, and a server that hangs costs one check, not one per
 * request.
 */
#ifndef PREVIEWD_HEALTH_CHECK_H
#define PREVIEWD_HEALTH_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

#define HEALTH_PERIOD_MS 1000

int health_start(const struct config *cfg, char *err, size_t errlen)
    MUST_CHECK;
void health_stop(void);

/* The last check as a JSON object {"ready": bool, "checked_at": RFC 3339,
 * "checks": {"state": "ok" | reason, "postgres": ...}} into out; true
 * when everything answered. */
bool health_report(struct buf *out);

/* Whether engine (by name) answered at the last check. */
bool health_engine_ok(const char *engine);

#endif
