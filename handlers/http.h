/*
 * http: what a handler sees of an HTTP request, and the helpers that read
 * it and answer it (handlers/http.c).
 *
 * Each request runs on one civetweb thread with a struct request of its
 * own; server/httpd.c fills it, calls the route's handler, then
 * http_request_end. This is the incoming side; forges/http.h is the
 * outgoing client.
 */
#ifndef PREVIEWD_HANDLERS_HTTP_H
#define PREVIEWD_HANDLERS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lib/config.h"
#include "lib/util.h"
#include "store/store.h"

struct mg_connection;
struct mg_request_info;

#define HTTP_MAX_CAPTURES 4

/* civetweb's worker threads (server/httpd.c): each request runs on one,
 * from its headers to its answer. */
#define HTTP_THREADS 128

struct request {
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	const struct config *cfg;
	struct store *store;             /* borrowed by http_store, or NULL */
	const char *method;
	/* Path segments the route's {} and {+} matched, URL-decoded. */
	char cap[HTTP_MAX_CAPTURES][ENV_REPO_SIZE];
	int ncap;
	/* mono_ms() when reading the request began: request_timeout counts
	 * from here (server/httpd.c says when that is). */
	int64_t started_ms;
	struct buf body;                 /* after http_read_body */
	bool body_done;                  /* read to its end by http_read_body */
	size_t body_reserved;            /* share of the body budget held */
	int status;                      /* set by the reply helpers */
	/* Webhooks, for the metrics: the forge's event, and the outcome
	 * when the status alone does not say it (-1). */
	const char *event;
	int outcome;
};

/* Shutdown has begun: webhooks are answered 503 from now on, other
 * routes still answer. Any thread. */
void http_drain(void);
bool http_draining(void);

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
 * refused from Content-Length before any of it is read; so is one beyond
 * the places for bodies being read (503 with Retry-After, handlers/
 * intake.h). The body must have arrived within [server] request_timeout
 * of started_ms, or the answer is 408 and the connection is closed. On
 * failure the answer (413, 503, 408 or 400) has been sent and -1 is
 * returned.
 *
 * An answer to a request whose body was not read to its end (refused
 * before it, cut off, or never read by its handler) closes the
 * connection: civetweb would otherwise read the rest of the body to
 * discard it, however slowly it came. */
int http_read_body(struct request *req, size_t max) MUST_CHECK;

/* Answers. Each sends status, headers and body and records the status. */
void http_reply(struct request *req, int status, const char *content_type,
    const char *body, size_t len);
void http_reply_headers(struct request *req, int status,
    const char *content_type, const char *const *headers, const char *body,
    size_t len);
/* Sends json (compact) and frees it. */
void http_json(struct request *req, int status, cJSON *json);
/* The same with headers (name, value pairs, NULL-terminated). */
void http_json_headers(struct request *req, int status, cJSON *json,
    const char *const *headers);
/* {"error": {"code": code, "message": message}} */
void http_error(struct request *req, int status, const char *code,
    const char *fmt, ...) PRINTF_LIKE(4, 5);

/* Close the connections idle in the cache http_store borrows from.
 * After the server has stopped, when no request runs. */
void http_store_cache_close(void);

/* Give back what the request held: its store connection, its share of
 * the body budget, its body. Called once by the dispatcher after the
 * handler returns. */
void http_request_end(struct request *req);

#endif
