/*
 * http: the incoming side of HTTP as handlers see it — the request,
 * reading it (headers, query, a bounded body) and writing the answer in
 * one write; and the state-store connection a request borrows.
 *
 * server/httpd.c owns civetweb and the route table and calls these on
 * each request; forges/http.h is the other direction (previewd calling a
 * forge).
 */
#include "handlers/http.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include "handlers/intake.h"
#include "lib/log.h"

/* State-store connections idle between requests. Threads borrow one only
 * when a request needs the store (ignored webhooks and health checks do
 * not): a sqlite connection costs ~150 KB, and one per HTTP thread was
 * most of previewd's memory. */
#define STORE_CACHE_MAX 8
static pthread_mutex_t store_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *store_cache[STORE_CACHE_MAX];
static int store_cached;

/* Bodies are read whole before their signature can be checked, so the
 * bytes held by all requests at once are bounded: five 25 MiB uploads, or
 * thousands of ordinary webhooks. Past it, 503 and the sender retries. */
#define HTTP_BODY_BUDGET ((size_t)128 << 20)
static atomic_size_t body_bytes;

/* Set when shutdown begins: webhooks are refused from then on. */
static atomic_bool http_drain_flag;

void
http_drain(void)
{
	atomic_store(&http_drain_flag, true);
}

bool
http_draining(void)
{
	return atomic_load(&http_drain_flag);
}

/* ---- answers ---- */

/* Whether the request comes with a body: a Content-Length above 0, or
 * chunks (civetweb refuses any other Transfer-Encoding). */
static bool
has_body(const struct request *req)
{
	const char *te = mg_get_header(req->conn, "Transfer-Encoding");

	return req->ri->content_length > 0 || (te != NULL &&
	    strcasecmp(te, "chunked") == 0);
}

/* Whether the request came with a body that was not read to its end. */
static bool
body_unread(const struct request *req)
{
	return !req->body_done && has_body(req);
}

/* Whether civetweb keeps the connection open after this request: HTTP/1.1
 * unless the client said close, HTTP/1.0 only if it asked for keep-alive;
 * never when the body was not read (http_read_body says why). */
static bool
keeps_alive(const struct request *req)
{
	const char *c = mg_get_header(req->conn, "Connection");
	const char *v = req->ri->http_version;

	if (body_unread(req))
		return false;
	if (c != NULL && strcasecmp(c, "close") == 0)
		return false;
	if (v != NULL && strcmp(v, "1.1") == 0)
		return true;
	return c != NULL && strcasecmp(c, "keep-alive") == 0;
}

/*
 * The whole answer — status line, headers, body — goes out in one write.
 * civetweb's mg_response_header_* send every header line on its own,
 * which with TCP_NODELAY is a packet and a wake-up of the client per line
 * (7 sendto calls an answer, measured with strace under wrk).
 */
void
http_reply_headers(struct request *req, int status, const char *content_type,
    const char *const *headers, const char *body, size_t len)
{
	struct buf out;
	size_t i;
	int rc;

	req->status = status;
	if (body_unread(req))
		mg_disable_connection_keep_alive(req->conn);
	buf_init(&out, len + 4096);
	rc = buf_printf(&out, "HTTP/1.1 %d %s\r\n", status,
	    mg_get_response_code_text(req->conn, status));
	if (content_type != NULL)
		rc |= buf_printf(&out, "Content-Type: %s\r\n", content_type);
	rc |= buf_printf(&out, "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n", len);
	for (i = 0; headers != NULL && headers[i] != NULL; i += 2)
		rc |= buf_printf(&out, "%s: %s\r\n", headers[i], headers[i + 1]);
	rc |= buf_addstr(&out, keeps_alive(req) ? "\r\n" :
	    "Connection: close\r\n\r\n");
	if (len > 0 && strcmp(req->method, "HEAD") != 0)
		rc |= buf_add(&out, body, len);
	if (rc == 0)
		mg_write(req->conn, out.data, out.len);
	else
		log_warnx("http: cannot build a %d answer (out of memory)",
		    status);
	/* Answers can carry a database URL: leave no copy behind. */
	if (out.data != NULL)
		memset(out.data, 0, out.cap);
	buf_release(&out);
}

void
http_reply(struct request *req, int status, const char *content_type,
    const char *body, size_t len)
{
	http_reply_headers(req, status, content_type, NULL, body, len);
}

void
http_json(struct request *req, int status, cJSON *json)
{
	http_json_headers(req, status, json, NULL);
}

void
http_json_headers(struct request *req, int status, cJSON *json,
    const char *const *headers)
{
	char *text = json ? cJSON_PrintUnformatted(json) : NULL;

	if (text == NULL) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\","
		    "\"message\":\"out of memory\"}}";

		http_reply(req, 500, "application/json", oom, sizeof(oom) - 1);
	} else {
		http_reply_headers(req, status, "application/json", headers,
		    text, strlen(text));
	}
	/* Answers can carry a database URL: leave no copy behind. */
	if (text != NULL) {
		memset(text, 0, strlen(text));
		cJSON_free(text);
	}
	cJSON_Delete(json);
}

void
http_error(struct request *req, int status, const char *code,
    const char *fmt, ...)
{
	cJSON *root = cJSON_CreateObject(), *err;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", msg);
	http_json(req, status, root);
}

/* ---- reading ---- */

const char *
http_peer(const struct request *req)
{
	return req->ri->remote_addr;
}

const char *
http_header(const struct request *req, const char *name)
{
	return mg_get_header(req->conn, name);
}

int
http_query(const struct request *req, const char *name, char *out,
    size_t outsz)
{
	const char *qs = req->ri->query_string;
	char tmp[1024];

	/* mg_get_var clears its output when the name is absent; callers
	 * keep their default in out, so decode into tmp first. */
	if (qs == NULL || outsz > sizeof(tmp) ||
	    mg_get_var(qs, strlen(qs), name, tmp, outsz) < 0)
		return -1;
	memcpy(out, tmp, strlen(tmp) + 1);
	return 0;
}

/* 408, and the connection closes (the body is unread). */
static void
reply_timeout(struct request *req)
{
	char limit[32];
	unsigned long held;

	format_duration(req->cfg->server.request_timeout, limit, sizeof(limit));
	if (intake_log_due(INTAKE_NOTE_TIMEOUT, &held))
		log_warnx("http: %s %s from %s: headers and body did not arrive "
		    "within %s (request_timeout): 408, connection closed "
		    "(%lu more since the last such line)", req->method,
		    req->ri->local_uri ? req->ri->local_uri : "?",
		    http_peer(req), limit, held);
	http_error(req, 408, "request_timeout", "the request did not arrive "
	    "within %s; the connection is closed", limit);
}

/* 503 at once: too many bodies are being read. */
static void
reply_full(struct request *req, enum intake_refusal why)
{
	char retry[24];
	const char *headers[] = { "Retry-After", retry, NULL };
	const char *whose = why == INTAKE_FULL_CLIENT ? "from this address " :
	    "";
	char body[256];
	unsigned long held;

	/* By then every body being read now has been read or cut off. */
	snprintf(retry, sizeof(retry), "%lld",
	    (long long)req->cfg->server.request_timeout);
	if (intake_log_due(INTAKE_NOTE_REFUSED, &held))
		log_warnx("http: %s %s from %s: 503, too many request bodies "
		    "%sbeing read at once (%d, %d per address; %lu more "
		    "refused since the last such line)", req->method,
		    req->ri->local_uri ? req->ri->local_uri : "?",
		    http_peer(req), whose, INTAKE_MAX, INTAKE_MAX_PER_CLIENT,
		    held);
	snprintf(body, sizeof(body), "{\"error\":{\"code\":\"busy\","
	    "\"message\":\"too many request bodies %sbeing read at once; "
	    "retry shortly\"}}", whose);
	http_reply_headers(req, 503, "application/json", headers, body,
	    strlen(body));
}

/*
 * The body, bounded three ways before a byte of it is read: its size from
 * Content-Length, a place among the bodies being read (intake.h), a share
 * of the body budget; then in time: everything must have arrived by
 * started_ms + request_timeout. mg_read blocks while bytes keep coming,
 * however slowly; past the deadline intake's watchdog shuts the read side
 * down, mg_read returns, and the deadline checked after each read turns
 * that into a 408.
 */
int
http_read_body(struct request *req, size_t max)
{
	long long clen = req->ri->content_length;
	int64_t deadline = req->started_ms +
	    req->cfg->server.request_timeout * 1000;
	struct buf *b = &req->body;
	enum intake_refusal why;
	char chunk[16384];
	int n = 0, place = -1, rc = -1;
	bool cut = false, late = false;

	buf_init(b, max);
	if (clen > (long long)max) {
		http_error(req, 413, "too_large", "request body is larger than "
		    "%zu bytes", max);
		return -1;
	}
	if (!has_body(req)) {
		/* Nothing to wait for: no place taken. */
		req->body_done = true;
		if (buf_grow(b, 0) != 0) {
			http_error(req, 500, "internal", "out of memory");
			return -1;
		}
		b->data[0] = '\0';
		return 0;
	}
	if (mono_ms() >= deadline) {
		/* The headers took all the time there was. */
		reply_timeout(req);
		return -1;
	}
	if ((place = intake_enter(req->ri, deadline, &why)) < 0) {
		reply_full(req, why);
		return -1;
	}
	req->body_reserved = clen >= 0 ? (size_t)clen : max;
	if (atomic_fetch_add(&body_bytes, req->body_reserved) +
	    req->body_reserved > HTTP_BODY_BUDGET) {
		http_error(req, 503, "busy", "too many large requests at once; "
		    "retry shortly");
		goto out;
	}
	if (buf_grow(b, clen > 0 ? (size_t)clen : 0) != 0) {
		http_error(req, 500, "internal", "out of memory");
		goto out;
	}
	if (clen >= 0) {
		/* The announced size, read straight into place. */
		while (b->len < (size_t)clen && !late && (n = mg_read(req->conn,
		    b->data + b->len, (size_t)clen - b->len)) > 0) {
			b->len += (size_t)n;
			late = mono_ms() >= deadline;
		}
		b->data[b->len] = '\0';
	} else {
		while (!late && (n = mg_read(req->conn, chunk,
		    sizeof(chunk))) > 0) {
			if (buf_add(b, chunk, (size_t)n) != 0) {
				http_error(req, 413, "too_large", "request body "
				    "is larger than %zu bytes", max);
				goto out;
			}
			late = mono_ms() >= deadline;
		}
	}
	cut = intake_leave(place);
	place = -1;
	if (clen >= 0 ? b->len == (size_t)clen : n == 0) {
		/* All of it, if only just in time. */
		req->body_done = true;
		rc = 0;
	} else if (cut || late || mono_ms() >= deadline) {
		reply_timeout(req);
	} else {
		http_error(req, 400, "bad_request", "incomplete request body");
	}
out:
	if (place >= 0)
		(void)intake_leave(place);
	return rc;
}

/* ---- the store cache ---- */

struct store *
http_store(struct request *req)
{
	char err[256];

	if (req->store != NULL)
		return req->store;
	pthread_mutex_lock(&store_cache_lock);
	if (store_cached > 0)
		req->store = store_cache[--store_cached];
	pthread_mutex_unlock(&store_cache_lock);
	if (req->store == NULL && store_open(req->cfg->server.state_path,
	    &req->store, err, sizeof(err)) != 0) {
		log_warnx("%s", err);
		req->store = NULL;
	}
	return req->store;
}

void
http_store_release(struct request *req)
{
	if (req->store == NULL)
		return;
	pthread_mutex_lock(&store_cache_lock);
	if (store_cached < STORE_CACHE_MAX) {
		store_cache[store_cached++] = req->store;
		req->store = NULL;
	}
	pthread_mutex_unlock(&store_cache_lock);
	store_close(req->store);     /* the cache was full */
	req->store = NULL;
}

void
http_store_cache_close(void)
{
	pthread_mutex_lock(&store_cache_lock);
	while (store_cached > 0)
		store_close(store_cache[--store_cached]);
	pthread_mutex_unlock(&store_cache_lock);
}

void
http_request_end(struct request *req)
{
	http_store_release(req);
	atomic_fetch_sub(&body_bytes, req->body_reserved);
	req->body_reserved = 0;
	buf_release(&req->body);
}
