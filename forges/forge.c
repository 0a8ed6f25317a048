/*
 * forge: helpers the forge clients share.
 */
#include "forges/forge.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/crypto.h"
#include "lib/log.h"

enum forge_rc
forge_file_body(struct forge_call *call, enum forge_rc rc,
    struct http_response *res, const char *what, size_t max, struct buf *out)
{
	if (rc == FORGE_OK && buf_add(out, res->body.data, res->body.len) != 0) {
		snprintf(call->error, sizeof(call->error), "\"%s\" is larger "
		    "than %zu bytes", what, max);
		rc = FORGE_FAIL;
	}
	http_response_release(res);
	return rc;
}

bool
forge_blob_ok(const char *id)
{
	size_t n = strlen(id);

	return n >= 40 && n <= 64 && strspn(id, "0123456789abcdef") == n;
}

int
forge_escape_path(const char *path, bool slashes, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *path != '\0'; path++) {
		unsigned char c = (unsigned char)*path;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '~' || (c == '/' && !slashes);

		if (o + 4 > outsz)
			return -1;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int
forge_find_marked(const char *json, size_t len, const char *marker,
    const char *author, int64_t self, int64_t *id)
{
	cJSON *doc = cJSON_ParseWithLength(json, len);
	const cJSON *item, *body, *iid, *who, *whoid;
	int n = 0;

	cJSON_ArrayForEach(item, doc) {
		n++;
		body = cJSON_GetObjectItemCaseSensitive(item, "body");
		iid = cJSON_GetObjectItemCaseSensitive(item, "id");
		if (!cJSON_IsString(body) || !cJSON_IsNumber(iid) ||
		    strstr(body->valuestring, marker) == NULL)
			continue;
		who = cJSON_GetObjectItemCaseSensitive(item, author);
		whoid = cJSON_GetObjectItemCaseSensitive(who, "id");
		if (cJSON_IsNumber(whoid) && self > 0 &&
		    (int64_t)whoid->valuedouble == self) {
			*id = (int64_t)iid->valuedouble;
			break;
		}
		/* The id only: the body is someone else's text. */
		log_info("comment %lld carries previewd's marker but was written "
		    "by account %lld, not by previewd (%lld): left alone",
		    (long long)iid->valuedouble, cJSON_IsNumber(whoid) ?
		    (long long)whoid->valuedouble : -1LL, (long long)self);
	}
	cJSON_Delete(doc);
	return n;
}

bool
forge_url_under(const char *url, const char *api_url)
{
	size_t n = strlen(api_url);

	while (n > 0 && api_url[n - 1] == '/')
		n--;
	return n > 0 && strncmp(url, api_url, n) == 0 && (url[n] == '/' ||
	    url[n] == '?');
}

enum forge_rc
forge_page_numbers(struct forge_call *call, const struct http_response *res,
    const char *key, const char *what, struct forge_page *p)
{
	cJSON *doc = cJSON_ParseWithLength(res->body.data, res->body.len);
	const cJSON *item, *num;
	enum forge_rc rc = FORGE_FAIL;
	int64_t *v;
	int count;

	if (!cJSON_IsArray(doc)) {
		snprintf(call->error, sizeof(call->error), "%s answered a list "
		    "previewd cannot read", what);
		goto out;
	}
	count = cJSON_GetArraySize(doc);
	if (count > 0) {
		if ((v = realloc(p->numbers, (p->n + (size_t)count) *
		    sizeof(*v))) == NULL) {
			str_copy(call->error, "out of memory",
			    sizeof(call->error));
			goto out;
		}
		p->numbers = v;
	}
	cJSON_ArrayForEach(item, doc) {
		num = cJSON_GetObjectItemCaseSensitive(item, key);
		if (cJSON_IsNumber(num) && num->valuedouble >= 1 &&
		    num->valuedouble < 9007199254740992.0)
			p->numbers[p->n++] = (int64_t)num->valuedouble;
	}
	rc = FORGE_OK;
out:
	cJSON_Delete(doc);
	return rc;
}

enum forge_rc
forge_answer_string(struct forge_call *call, const struct http_response *res,
    const char *const *path, char *out, size_t outsz, const char *what)
{
	cJSON *doc = cJSON_ParseWithLength(res->body.data, res->body.len);
	const cJSON *v = doc;
	enum forge_rc rc = FORGE_FAIL;

	out[0] = '\0';
	for (; *path != NULL && v != NULL; path++)
		v = cJSON_GetObjectItemCaseSensitive(v, *path);
	if (cJSON_IsString(v) && v->valuestring[0] != '\0' &&
	    str_copy(out, v->valuestring, outsz) == 0)
		rc = FORGE_OK;
	else if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
	    v->valuedouble < 9007199254740992.0 &&
	    str_printf(out, outsz, "%lld", (long long)v->valuedouble) == 0)
		rc = FORGE_OK;
	else
		snprintf(call->error, sizeof(call->error), "%s: missing from "
		    "the answer, or not what previewd can read", what);
	cJSON_Delete(doc);
	return rc;
}

/* ---- who previewd is ---- */

#define IDENTITIES 8

static pthread_mutex_t identity_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char key[65];
	struct forge_identity who;
	int64_t fetched_at;
} identities[IDENTITIES];

void
forge_identity_key(const char *const *parts, char key[65])
{
	static const char salt[] = "previewd forge identity";
	unsigned char mac[64];
	unsigned maclen = 0;
	struct buf b;

	/* A keyed digest, so the cache holds nothing a token could be
	 * found from. */
	buf_init(&b, 64 * 1024);
	for (; *parts != NULL; parts++)
		if (buf_addstr(&b, *parts) != 0 || buf_addstr(&b, "\n") != 0)
			break;
	if (b.data == NULL || crypto_hmac("sha256", salt, sizeof(salt) - 1,
	    b.data, b.len, mac, &maclen) != 0)
		maclen = 0;
	hex_encode(mac, maclen, key);
	if (b.data != NULL)
		crypto_wipe(b.data, b.cap);
	buf_release(&b);
}

bool
forge_identity_get(const char *key, struct forge_identity *out)
{
	bool found = false;
	size_t i;

	if (key[0] == '\0')
		return false;
	pthread_mutex_lock(&identity_lock);
	for (i = 0; i < IDENTITIES && !found; i++) {
		if (strcmp(identities[i].key, key) == 0 &&
		    now_s() - identities[i].fetched_at < FORGE_IDENTITY_TTL) {
			*out = identities[i].who;
			found = true;
		}
	}
	pthread_mutex_unlock(&identity_lock);
	return found;
}

void
forge_identity_put(const char *key, const struct forge_identity *in)
{
	size_t i, slot = 0;

	if (key[0] == '\0')
		return;
	pthread_mutex_lock(&identity_lock);
	for (i = 0; i < IDENTITIES; i++) {
		if (strcmp(identities[i].key, key) == 0) {
			slot = i;
			break;
		}
		if (identities[i].fetched_at < identities[slot].fetched_at)
			slot = i;       /* the oldest goes */
	}
	str_copy(identities[slot].key, key, sizeof(identities[slot].key));
	identities[slot].who = *in;
	identities[slot].fetched_at = now_s();
	pthread_mutex_unlock(&identity_lock);
}
