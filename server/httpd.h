/*
 * httpd: the HTTP front end — civetweb set-up, the route table and the
 * helpers handlers use to read requests and write answers.
 *
 * civetweb serves each connection on one of its worker threads; a handler
 * runs on that thread and gets a struct request with the thread's own
 * state-store connection. Handlers never talk to a database server or a
 * forge: they decide, record, enqueue and answer.
 */
#ifndef PREVIEWD_HTTPD_H
#define PREVIEWD_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "server/config.h"
#include "server/store.h"
#include "server/util.h"

struct mg_connection;
struct mg_request_info;

#define HTTP_MAX_CAPTURES 4

struct request {
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	const struct config *cfg;
	struct store *store;             /* borrowed by http_store, or NULL */
	const char *method;
	/* Path segments the route's {} and {+} matched, URL-decoded. */
	char cap[HTTP_MAX_CAPTURES][ENV_REPO_SIZE];
	int ncap;
	struct buf body;                 /* after http_read_body */
	size_t body_reserved;            /* share of the body budget held */
	int status;                      /* set by the reply helpers */
	/* Webhooks, for the metrics: the forge's event, and the outcome
	 * when the status alone does not say it (-1). */
	const char *event;
	int outcome;
};

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
bool httpd_draining(void);

/* Stop listening and wait for handlers to return (long polls are woken by
 * watch_shutdown first). */
void httpd_stop(void);

/* A state-store connection for this request, borrowed on first use from a
 * small cache shared by the HTTP threads and returned when the request
 * ends (or by http_store_release, before a long wait). NULL when the
 * store cannot be opened; the caller answers 503. */
struct store *http_store(struct request *req);
void http_store_release(struct request *req);

/* The client's address, for logs. */
const char *http_peer(const struct request *req);

/* A request header, NULL when absent. */
const char *http_header(const struct request *req, const char *name);

/* A query parameter, URL-decoded into out. 0 found, -1 absent or too long. */
int http_query(const struct request *req, const char *name, char *out,
    size_t outsz);

/* Read the body into req->body, at most max bytes. An oversized body is
 * refused from Content-Length before any of it is read. On failure the
 * answer (413 or 400) has been sent and -1 is returned. */
int http_read_body(struct request *req, size_t max) MUST_CHECK;

/* Answers. Each sends status, headers and body and records the status. */
void http_reply(struct request *req, int status, const char *content_type,
    const char *body, size_t len);
void http_reply_headers(struct request *req, int status,
    const char *content_type, const char *const *headers, const char *body,
    size_t len);
/* Sends json (compact) and frees it. */
void http_json(struct request *req, int status, cJSON *json);
/* {"error": {"code": code, "message": message}} */
void http_error(struct request *req, int status, const char *code,
    const char *fmt, ...) PRINTF_LIKE(4, 5);

#endif
