/*
 * metrics: counters and histograms for GET /metrics (Prometheus text
 * format), and the recent claim history the admin page shows.
 *
 * Counters are atomics over small fixed label sets, so counting costs a
 * few nanoseconds on any thread; gauges (environments by status, pools,
 * the job queue) are read from the state store when scraped, the
 * engines' and forges' up gauges from core/health.h. No label ever
 * carries a token, a password, a URL or a repository name.
 */
#ifndef PREVIEWD_METRICS_H
#define PREVIEWD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/util.h"

struct store;
struct config;

enum metric_provider { MP_GITHUB, MP_GITLAB, MP_VERCEL, MP_PROVIDERS };

/* What became of a webhook delivery. */
enum metric_outcome {
	MO_ACCEPTED, MO_DUPLICATE, MO_STALE, MO_IGNORED, MO_BAD_SIGNATURE,
	MO_BAD_REQUEST, MO_TOO_LARGE, MO_UNAVAILABLE, MO_OUTCOMES
};

/* A webhook answered, by provider, event kind and outcome. event is
 * folded into "pull_request", "merge_request", "deployment", "push"
 * (GitHub's push, GitLab's Push Hook), "ping" or "other". */
void metrics_webhook(enum metric_provider p, const char *event,
    enum metric_outcome o);

/* A claim served from the pool or created cold, on engine. */
void metrics_claim(const char *engine, bool cold);
/* Claims and cold creates on engine during the last hour. */
void metrics_claims_last_hour(const char *engine, int *pool, int *cold);

/* Durations, in seconds. */
void metrics_provisioned(const char *engine, double seconds);
void metrics_migrated(const char *engine, double seconds);

/* The pre-migrated pool: a claim's schema, from a copy of the base or
 * an empty database; a copy that did not fit the pull request (rebuilt
 * from empty); a base ready at a new head, seconds after the head was
 * learnt; a copy made. */
void metrics_schema_from(const char *engine, bool base);
void metrics_prewarm_fallback(const char *engine);
void metrics_base_built(const char *engine, double seconds);
void metrics_prewarm_copied(const char *engine, double seconds);

/* The reaper and the deletes. reason: "ttl", "reconcile", "api", "close". */
void metrics_reaper_run(void);
void metrics_deletion(const char *reason);
void metrics_orphan_dropped(const char *engine);
void metrics_delete_failed(void);

/* A forge API call's outcome: "ok", "not_found", "retry", "rate_limited",
 * "failed"; forge: "GitHub", "GitLab", "Vercel" (any case, maybe with
 * more words); reason, scrubbed, "" for "ok". Counted, and passed to
 * core/health.h as the forge's state: "retry" (no answer, a timeout or a
 * 5xx) is down, any other outcome got an answer. The observer of
 * forges/http.h. */
void metrics_forge(const char *forge, const char *outcome, const char *reason);

/* The whole exposition into out. */
int metrics_render(struct store *st, const struct config *cfg,
    struct buf *out) MUST_CHECK;

#endif
