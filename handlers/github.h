/*
 * github: POST /webhooks/github.
 *
 * Verifies X-Hub-Signature-256 (HMAC-SHA256 of the raw body with
 * [github] webhook_secret, constant time), then records pull_request
 * events (opened, reopened, synchronize, closed) with their delivery id
 * and enqueues the environment's job in one transaction, and answers 202.
 * push events are recorded the same way for repositories that prewarm
 * (webhook_push: the default branch's head). ping is 200; every other
 * event or action 204 with nothing stored.
 */
#ifndef PREVIEWD_GITHUB_H
#define PREVIEWD_GITHUB_H

#include "handlers/http.h"

int github_webhook(struct request *req);

#endif
