/*
 * databases: a database per CI run, under /api/v1/databases.
 *
 *   POST   /api/v1/databases[?wait=true|SECONDS]   ci or admin token
 *   GET    /api/v1/databases                       ci or admin token
 *   GET    /api/v1/databases/{id}                  ci or admin token
 *   DELETE /api/v1/databases/{id}                  ci or admin token
 *
 * A CI database is an environment of provider ENV_CI (store.h): it comes
 * from the same warm pool, is made by the same job, expires through the
 * same reaper and shows on the admin page. POST honours Idempotency-Key:
 * the same key from the same token with the same request gets the same
 * database (200), with another request 422; keys last IDEMPOTENCY_TTL.
 * Answers are {"data": {...}}, errors {"error": {"code", "message"}}.
 */
#ifndef PREVIEWD_DATABASES_H
#define PREVIEWD_DATABASES_H

#include "handlers/http.h"

/* wait=true waits this long at most (a cold create with a blueprint can
 * take seconds; the pool answers in milliseconds). */
#define DATABASES_WAIT_DEFAULT 120

int databases_create(struct request *req);
int databases_list(struct request *req);
int databases_get(struct request *req);
int databases_delete(struct request *req);

#endif
