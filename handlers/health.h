/*
 * health: GET /healthz — the process is up and serving (no auth);
 * GET /readyz — the state store and every configured database server
 * answered at the last check (core/health.h): 200, else 503 with a JSON
 * body naming what is down.
 */
#ifndef PREVIEWD_HEALTH_H
#define PREVIEWD_HEALTH_H

#include "handlers/http.h"

int health_healthz(struct request *req);
int health_readyz(struct request *req);
/* GET /metrics: Prometheus text format, no auth (restrict it at the proxy
 * if it should not be public; it carries no secrets). */
int health_metrics(struct request *req);

#endif
