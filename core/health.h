/*
 * health: the state of what previewd depends on — the state store, every
 * configured database server and forge — for GET /readyz, GET
 * /api/v1/health, the admin page and the metrics.
 *
 * A thread of its own checks the store and the database servers every
 * HEALTH_PERIOD_MS (with its own store connection and engine handles) and
 * keeps the result, so that a load balancer polling /readyz never makes
 * the request thread wait on a database server, and a server that hangs
 * costs one check, not one per request. Forges are not probed (that
 * would spend their rate limits): each forge call's outcome is reported
 * here (health_forge_seen, from the metrics' observer of forges/http.h).
 *
 * Readiness is whether previewd can accept work and record it durably:
 * the state store answered, including for its write lock. A database
 * server or a forge being down does not make previewd unready: webhooks
 * for it are recorded and their jobs wait with backoff, and a load
 * balancer that stopped sending them would lose exactly the events an
 * outage is meant to delay, not drop.
 */
#ifndef PREVIEWD_HEALTH_CHECK_H
#define PREVIEWD_HEALTH_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "lib/config.h"

#define HEALTH_PERIOD_MS 1000

int health_start(const struct config *cfg, char *err, size_t errlen)
    MUST_CHECK;
void health_stop(void);

/* The last check as JSON (the caller owns it):
 *   {"ready": bool, "checked_at": RFC 3339 or null,
 *    "checks": {"state": "ok" | "down", "postgres": "ok" | "down", ...}}
 * names and states only — /readyz has no token. With detail, for the
 * admin token, also
 *   "components": [{"name": "postgres", "kind": "state" | "engine" |
 *     "forge", "state": "ok" | "down", "error": text or null,
 *     "since": RFC 3339 or null, "checked_at": RFC 3339 or null}, ...]
 * with each error text as the client library, server or forge gave it,
 * scrubbed (lib/scrub.h); forges only when configured. *ready gets
 * "ready". NULL when out of memory. */
cJSON *health_json(bool detail, bool *ready);

/* Whether engine (by name) answered at the last check; false before the
 * first. */
bool health_engine_ok(const char *engine);

/* A forge call's outcome: forge is "github", "gitlab" or "vercel"; up
 * when it got an answer other than a 5xx or a timeout (429, 403, 404 and
 * other refusals are answers); reason, scrubbed, "" when it went well.
 * Any thread. */
void health_forge_seen(const char *forge, bool up, const char *reason);

/* Whether forge's latest call got an answer; true before its first. */
bool health_forge_ok(const char *forge);

#endif
