/*
 * http: libcurl easy handles with bounded answers.
 */
#include "forges/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "lib/crypto.h"
#include "lib/scrub.h"

/* Forges recover from outages within minutes; waiting longer between
 * tries only delays the comment or the migration. */
#define FORGE_BACKOFF_CAP 300000

struct http_client {
	CURL *curl;
};

struct http_client *
http_client_new(void)
{
	struct http_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if ((c->curl = curl_easy_init()) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct http_response *res = arg;

	/* Returning less than given makes curl stop with an error: the
	 * answer was larger than the caller allows. */
	if (buf_add(&res->body, data, size * n) != 0) {
		res->too_large = true;
		return 0;
	}
	return size * n;
}

/* "Name: value\r\n" -> value, trimmed, into out when name matches. */
static bool
header_value(const char *line, size_t len, const char *name, char *out,
    size_t outsz)
{
	size_t n = strlen(name), vlen;
	const char *v;

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	for (v = line + n + 1; v < line + len && (*v == ' ' || *v == '\t'); v++)
		;
	for (vlen = (size_t)(line + len - v); vlen > 0 && (v[vlen - 1] == '\r' ||
	    v[vlen - 1] == '\n' || v[vlen - 1] == ' '); vlen--)
		;
	if (vlen >= outsz)
		vlen = outsz - 1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return true;
}

/* The URL of rel="next" in a Link header's value (RFC 8288:
 * `<url>; rel="next", <url>; rel="last"`), into out; false when there is
 * none. *bad when it does not fit. */
static bool
link_next(const char *v, size_t len, char *out, size_t outsz, bool *bad)
{
	const char *end = v + len, *url, *url_end, *p, *q;

	for (p = v; p < end; p = q + (q < end)) {
		if ((url = memchr(p, '<', (size_t)(end - p))) == NULL ||
		    (url_end = memchr(url, '>', (size_t)(end - url))) == NULL)
			return false;
		url++;
		/* This link's parameters run to the next comma. */
		if ((q = memchr(url_end, ',', (size_t)(end - url_end))) == NULL)
			q = end;
		for (p = url_end; p + 3 <= q; p++) {
			if (strncasecmp(p, "rel", 3) != 0)
				continue;
			for (p += 3; p < q && (*p == ' ' || *p == '='); p++)
				;
			if (p < q && *p == '"')
				p++;
			if (q - p >= 4 && strncasecmp(p, "next", 4) == 0 &&
			    (q - p == 4 || p[4] == '"' || p[4] == ' ' ||
			    p[4] == ';' || p[4] == '\r' || p[4] == '\n')) {
				if ((size_t)(url_end - url) >= outsz) {
					*bad = true;
					return false;
				}
				memcpy(out, url, (size_t)(url_end - url));
				out[url_end - url] = '\0';
				return true;
			}
			break;
		}
	}
	return false;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct http_response *res = arg;
	size_t len = size * n;
	char v[128];
	int64_t x;

	if (header_value(data, len, "Retry-After", v, sizeof(v)) &&
	    parse_int64(v, 0, 86400, &x) == 0)
		res->retry_after = x;
	else if (header_value(data, len, "X-RateLimit-Remaining", v, sizeof(v)) &&
	    parse_int64(v, 0, INT64_MAX, &x) == 0)
		res->ratelimit_remaining = x;
	else if (header_value(data, len, "X-RateLimit-Reset", v, sizeof(v)) &&
	    parse_int64(v, 0, INT64_MAX, &x) == 0)
		res->ratelimit_reset = x;
	else if (header_value(data, len, "ETag", v, sizeof(v)))
		str_copy(res->etag, v, sizeof(res->etag));
	else if (header_value(data, len, "X-Next-Page", v, sizeof(v)))
		res->next_page = parse_int64(v, 1, INT64_MAX, &x) == 0 ? x : 0;
	else if (len > 5 && strncasecmp(data, "Link:", 5) == 0)
		(void)link_next(data + 5, len - 5, res->link_next,
		    sizeof(res->link_next), &res->link_bad);
	return len;
}

int
http_do(struct http_client *c, const struct http_request *req,
    struct http_response *res)
{
	struct curl_slist *hdrs = NULL, *tmp;
	CURLcode cc;
	size_t i;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	buf_init(&res->body, req->max_response);
	res->retry_after = res->ratelimit_remaining = res->ratelimit_reset = -1;

	curl_easy_reset(c->curl);
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if ((tmp = curl_slist_append(hdrs, req->headers[i])) == NULL)
			goto out;
		hdrs = tmp;
	}
	/* An empty Expect: spares the 100-continue round trip on POSTs. */
	if ((tmp = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto out;
	hdrs = tmp;

	curl_easy_setopt(c->curl, CURLOPT_URL, req->url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	/* GitHub answers some raw-content requests with a redirect to its
	 * content host; curl drops Authorization on a host change. */
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c->curl, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, res);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, res);
	if (req->body != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
	}
	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK) {
		if (res->too_large)
			snprintf(res->error, sizeof(res->error), "the answer "
			    "is larger than %zu bytes", req->max_response);
		else
			str_copy(res->error, curl_easy_strerror(cc),
			    sizeof(res->error));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
	if (res->body.data == NULL)
		(void)buf_add(&res->body, "", 0);
	rc = 0;
out:
	curl_slist_free_all(hdrs);
	/* The headers carried a token: leave no copy on the easy handle. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	return rc;
}

void
http_response_release(struct http_response *res)
{
	buf_release(&res->body);
}

/* Set once by main before any thread starts, read by every worker. */
static http_observer_fn http_observer;

void
http_set_observer(http_observer_fn fn)
{
	http_observer = fn;
}

static enum forge_rc classify(const struct http_response *res, int rc,
    const char *what, int64_t attempts, int64_t *retry_ms, char *err,
    size_t errlen);

/* Every forge call passes here: the one place it is counted. */
enum forge_rc
http_classify(const struct http_response *res, int rc, const char *what,
    int64_t attempts, int64_t *retry_ms, char *err, size_t errlen)
{
	static const char *const names[] = {
		[FORGE_OK] = "ok", [FORGE_NOT_FOUND] = "not_found",
		[FORGE_RETRY] = "retry", [FORGE_FAIL] = "failed",
	};
	enum forge_rc out = classify(res, rc, what, attempts, retry_ms, err,
	    errlen);

	/* curl's reasons quote nothing secret today; the scrubber makes sure
	 * no future message does (lib/scrub.h). */
	if (out != FORGE_OK)
		(void)scrub_text(err, errlen);
	if (http_observer != NULL)
		http_observer(what, out == FORGE_RETRY && (res->status == 429 ||
		    res->status == 403) ? "rate_limited" : names[out],
		    out == FORGE_OK ? "" : err);
	return out;
}

static enum forge_rc
classify(const struct http_response *res, int rc, const char *what,
    int64_t attempts, int64_t *retry_ms, char *err, size_t errlen)
{
	long st = res->status;

	*retry_ms = 0;
	if (res->too_large) {
		snprintf(err, errlen, "%s: %s", what, res->error);
		return FORGE_FAIL;
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s unreachable: %s", what, res->error);
		*retry_ms = backoff_ms(attempts, FORGE_BACKOFF_CAP);
		return FORGE_RETRY;
	}
	if ((st >= 200 && st < 300) || st == 304)
		return FORGE_OK;
	if (st == 404) {
		snprintf(err, errlen, "%s answered 404 Not Found", what);
		return FORGE_NOT_FOUND;
	}
	/* GitHub signals both its primary and its secondary rate limits with
	 * 403 as well as 429: any 403 waits at least a minute. */
	if (st == 429 || st == 403) {
		int64_t wait_s = 60;

		if (res->retry_after >= 0)
			wait_s = res->retry_after;
		else if (res->ratelimit_remaining == 0 &&
		    res->ratelimit_reset > 0)
			wait_s = res->ratelimit_reset - now_s() + 1;
		else if (backoff_ms(attempts, FORGE_BACKOFF_CAP) / 1000 > wait_s)
			wait_s = backoff_ms(attempts, FORGE_BACKOFF_CAP) / 1000;
		if (wait_s < 1)
			wait_s = 1;
		snprintf(err, errlen, "%s answered %ld (rate limit or no "
		    "permission): retrying in %llds", what, st,
		    (long long)wait_s);
		*retry_ms = wait_s * 1000;
		return FORGE_RETRY;
	}
	if (st >= 500 || st == 408) {
		snprintf(err, errlen, "%s answered %ld", what, st);
		*retry_ms = backoff_ms(attempts, FORGE_BACKOFF_CAP);
		return FORGE_RETRY;
	}
	snprintf(err, errlen, "%s answered %ld", what, st);
	return FORGE_FAIL;
}
