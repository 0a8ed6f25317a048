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

#include "server/httpd.h"

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

#endif
