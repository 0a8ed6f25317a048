/*
 * health: GET /healthz — the process is up and serving (no auth);
 * GET /readyz — previewd can accept work and record it durably (no auth):
 * 200, else 503 (the state store does not answer, or shutdown has begun);
 * its JSON names each component with its state, never an error text;
 * GET /api/v1/health — the same with each component's error text
 * (scrubbed) and the forges, for the admin token (core/health.h).
 */
#ifndef PREVIEWD_HEALTH_H
#define PREVIEWD_HEALTH_H

#include "handlers/http.h"

int health_healthz(struct request *req);
int health_readyz(struct request *req);
int health_api(struct request *req);
/* GET /metrics: Prometheus text format, no auth (restrict it at the proxy
 * if it should not be public; it carries no secrets). */
int health_metrics(struct request *req);

#endif
