/*
 * api: the JSON API under /api/v1 that CI jobs and admins use.
 *
 *   GET    /api/v1/repos/{repo}/pulls/{n}/environment  ci, repo or admin token
 *   GET    /api/v1/environments                         ci or admin token
 *   DELETE /api/v1/environments/{id}                    admin token
 *
 * The environment endpoint long-polls with ?wait=SECONDS: it answers as
 * soon as the status is ready, failed or deleted (woken through watch.h),
 * or when the wait is over.
 */
#ifndef PREVIEWD_API_H
#define PREVIEWD_API_H

#include "handlers/http.h"

/* How long one request may wait, and how many may wait at once: each
 * holds an HTTP thread, and webhooks must always find one free. */
#define API_MAX_WAIT 300
#define API_MAX_WAITERS 96

int api_pr_environment(struct request *req);
int api_env_list(struct request *req);
int api_env_delete(struct request *req);
/* POST /api/v1/environments/{id}/extend {"ttl": "24h"} and .../retry,
 * admin token. */
int api_env_extend(struct request *req);
int api_env_retry(struct request *req);

/* The JSON object of an environment; database_url only when with_url and
 * the environment is ready. Caller owns the result. */
cJSON *api_env_json(const struct config *cfg, const struct env *e,
    bool with_url);

/* Answer {"data": [...], "next_cursor": ...} for one page of the
 * environments not deleted that are CI databases (ci) or pull request
 * environments (!ci), oldest first, each as item makes it; with_url for
 * the admin token only, since one call listing every credential is an
 * admin's privilege. ?limit= and ?cursor= as handlers/page.h reads
 * them; when another page follows, next_cursor is its cursor and a Link
 * header (rel="next") its address under path, else next_cursor is
 * null and there is no Link. */
void api_list(struct request *req, bool ci, const char *path,
    cJSON *(*item)(const struct config *cfg, const struct env *e,
    bool with_url));

/* The members the environment and database answers share: "status" (as
 * clients see it), the URL under url_key (null unless with_url and
 * ready: the pooled one when [pgbouncer] database_url says so),
 * "pooled_url" (null also when there is no pgbouncer in front, as for
 * MySQL) and "direct_url" likewise, "host", "port", "database" and
 * "user". */
void api_add_connection(cJSON *o, const struct config *cfg,
    const struct env *e, bool with_url, const char *url_key);
/* An RFC 3339 time, or null for t <= 0; a string, or null when empty. */
void api_add_time(cJSON *o, const char *key, int64_t t);
void api_add_text(cJSON *o, const char *key, const char *v);
/* An environment's stored error text, scrubbed (lib/scrub.h) again on
 * its way out — a row may predate the scrubber — null when empty. */
void api_add_error(cJSON *o, const char *key, const char *error);

#define API_URL_SIZE 1024

/* A request about to long-poll takes a place among API_MAX_WAITERS:
 * false (and 503 with Retry-After answered) when there is none. */
bool api_wait_begin(struct request *req) MUST_CHECK;
void api_wait_end(void);

/* ?wait=SECONDS (0 to API_MAX_WAIT; absent: 0). -1 when malformed. */
int api_query_wait(const struct request *req, int64_t *seconds) MUST_CHECK;

/* Reread the environment until fn says it has settled, the deadline
 * (mono_ms()) passes or the daemon stops, sleeping on watch.h in between
 * with the store connection released. 0 found (in *e), 1 not found, -1
 * store unavailable. */
int api_env_await(struct request *req, int (*get)(struct request *,
    struct env *, void *), void *arg, int64_t deadline, struct env *e)
    MUST_CHECK;

#endif
