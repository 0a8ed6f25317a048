/*
 * httpd: the HTTP server — civetweb set-up, TLS, the route table and the
 * dispatch of each request to its handler (handlers/).
 *
 * civetweb serves each connection on one of its worker threads; a handler
 * runs on that thread. Handlers never talk to a database server or a
 * forge: they decide, record, enqueue and answer.
 */
#ifndef PREVIEWD_HTTPD_H
#define PREVIEWD_HTTPD_H

#include <stddef.h>

#include "lib/config.h"

/* Initialise civetweb, once, before any thread starts; with TLS
 * configured, make OpenSSL available to it (server/tlsshim/). 0 ok, -1
 * with err. */
int httpd_init(const struct config *cfg, char *err, size_t errlen)
    MUST_CHECK;

/* Start serving cfg->server.listen. 0 ok, -1 with err. */
int httpd_start(const struct config *cfg, char *err, size_t errlen)
    MUST_CHECK;

/* Refuse new webhooks with 503 (shutting down); other routes still answer
 * until httpd_stop. */
void httpd_drain(void);

/* Stop listening and wait for handlers to return (long polls are woken by
 * watch_shutdown first). */
void httpd_stop(void);

#endif
