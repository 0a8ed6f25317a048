/*
 * health: GET /healthz — the process is up and serving (no auth).
 */
#ifndef PREVIEWD_HEALTH_H
#define PREVIEWD_HEALTH_H

#include "server/httpd.h"

int health_healthz(struct request *req);

#endif
