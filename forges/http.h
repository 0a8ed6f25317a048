/*
 * http: the outgoing HTTP client every forge uses.
 *
 * One struct http_client (a libcurl easy handle, so connections are kept
 * alive between calls) per thread. Answers are read into a buffer with a
 * ceiling; the headers that decide retries (Retry-After, the rate-limit
 * pair), conditional requests (ETag) and pagination (Link's next,
 * X-Next-Page) are picked out as they arrive. http_classify turns an answer
 * into the one retry decision all forge calls share:
 *
 *   2xx, 304          FORGE_OK
 *   404               FORGE_NOT_FOUND
 *   429, 403          FORGE_RETRY after Retry-After, else at
 *                     x-ratelimit-reset when the limit is spent, else in
 *                     a minute
 *   5xx, no answer    FORGE_RETRY with exponential backoff
 *   other 4xx, an answer larger than allowed
 *                     FORGE_FAIL
 *
 * Nothing here logs a header or a body: they may carry tokens.
 */
#ifndef PREVIEWD_FORGES_HTTP_H
#define PREVIEWD_FORGES_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

enum forge_rc { FORGE_OK = 0, FORGE_NOT_FOUND, FORGE_RETRY, FORGE_FAIL };

struct http_client;

struct http_request {
	const char *method;             /* "GET", "POST", "PATCH", "PUT" */
	const char *url;
	const char *const *headers;     /* "Name: value", NULL-terminated */
	const char *body;               /* NULL for none */
	size_t body_len;
	size_t max_response;            /* larger answers fail */
};

struct http_response {
	long status;                    /* 0 when no answer came */
	struct buf body;
	int64_t retry_after;            /* seconds; -1 when absent */
	int64_t ratelimit_remaining;    /* -1 when absent */
	int64_t ratelimit_reset;        /* epoch seconds; -1 when absent */
	char etag[128];
	/* Where a paginated list goes on: the Link header's rel="next"
	 * (GitHub, GitLab) and X-Next-Page (GitLab); "" and 0 on the last
	 * page. link_bad: a Link header or its next URL too long to keep,
	 * so the caller cannot know whether there is a next page. */
	char link_next[1024];
	int64_t next_page;
	bool link_bad;
	bool too_large;                 /* the answer passed max_response */
	char error[256];                /* why no answer came */
};

/* Told the outcome of every classified forge call: what ("GitHub",
 * "GitLab", "Vercel", maybe with more words) and "ok", "not_found",
 * "retry", "rate_limited" or "failed", with the (scrubbed) reason, "" for
 * "ok". The core counts them and keeps the last one per forge for its
 * health (core/metrics.h) without the forges including it. Set once,
 * before any thread starts. */
typedef void (*http_observer_fn)(const char *what, const char *outcome,
    const char *reason);
void http_set_observer(http_observer_fn fn);

struct http_client *http_client_new(void);
void http_client_free(struct http_client *c);

/* Send req. 0 when an answer came (whatever its status), -1 when none did
 * (res->error says why). The caller releases res either way. */
int http_do(struct http_client *c, const struct http_request *req,
    struct http_response *res) MUST_CHECK;
void http_response_release(struct http_response *res);

/* The retry decision above. *retry_ms is set for FORGE_RETRY (attempts:
 * how many tries failed before, for the backoff); err gets a short reason
 * naming what (e.g. "GitHub"). */
enum forge_rc http_classify(const struct http_response *res, int rc,
    const char *what, int64_t attempts, int64_t *retry_ms, char *err,
    size_t errlen);

/* The User-Agent previewd sends. */
#define HTTP_USER_AGENT "previewd/" PREVIEWD_VERSION

#endif
