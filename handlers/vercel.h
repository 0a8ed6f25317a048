/*
 * vercel: POST /webhooks/vercel — Vercel deployment events.
 *
 * x-vercel-signature is the lower-case hex HMAC-SHA1 of the raw body with
 * [vercel] webhook_secret (constant time). A deployment.created for a
 * preview (payload.target null or absent) of a GitHub pull request
 * (payload.deployment.meta.githubPrId and friends) ensures that pull
 * request's environment — the same one its GitHub webhook makes — and
 * links the Vercel project, which the notify job gives DATABASE_URL once
 * the environment is ready. Everything else is 204.
 */
#ifndef PREVIEWD_VERCEL_HOOK_H
#define PREVIEWD_VERCEL_HOOK_H

#include "handlers/http.h"

int vercel_webhook(struct request *req);

#endif
