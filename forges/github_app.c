/*
 * github_app: JWTs and the installation-token cache.
 */
#include "forges/github_app.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <jwt.h>

#include "lib/crypto.h"
#include "lib/log.h"

#define CACHE_SIZE 64
#define EARLY_RENEW 300      /* seconds before expiry a token is renewed */

static pthread_mutex_t app_lock = PTHREAD_MUTEX_INITIALIZER;
static struct buf app_key;    /* the PEM, read on first use */
static struct {
	int64_t installation;
	char token[256];
	int64_t expires_at;
} cache[CACHE_SIZE];

/* The private key, read once. Caller holds app_lock. */
static int
key_load(const struct config *cfg)
{
	char chunk[4096];
	size_t n;
	FILE *fp;
	int rc = -1;

	if (app_key.len > 0)
		return 0;
	buf_init(&app_key, 64 * 1024);
	if ((fp = fopen(cfg->github.private_key_file, "r")) == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_add(&app_key, chunk, n) != 0)
			goto out;
	rc = ferror(fp) || app_key.len == 0 ? -1 : 0;
out:
	crypto_wipe(chunk, sizeof(chunk));
	fclose(fp);
	if (rc != 0) {
		if (app_key.data != NULL)
			crypto_wipe(app_key.data, app_key.cap);
		buf_release(&app_key);
	}
	return rc;
}

int
github_app_jwt(const struct config *cfg, char *out, size_t outsz)
{
	jwt_t *jwt = NULL;
	char *enc = NULL, iss[32];
	int64_t now = now_s();
	int rc = -1;

	pthread_mutex_lock(&app_lock);
	if (key_load(cfg) != 0) {
		log_warnx("github app: cannot read private_key_file \"%s\"",
		    cfg->github.private_key_file);
		goto out;
	}
	snprintf(iss, sizeof(iss), "%lld", (long long)cfg->github.app_id);
	if (jwt_new(&jwt) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)(now - 60)) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)(now + 9 * 60)) != 0 ||
	    jwt_add_grant(jwt, "iss", iss) != 0 ||
	    jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)app_key.data,
	    (int)app_key.len) != 0 || (enc = jwt_encode_str(jwt)) == NULL) {
		log_warnx("github app: cannot sign a JWT (is private_key_file an "
		    "RSA private key in PEM?)");
		goto out;
	}
	rc = str_copy(out, enc, outsz);
out:
	pthread_mutex_unlock(&app_lock);
	if (enc != NULL)
		free(enc);      /* libjwt 1.10 allocates with malloc */
	jwt_free(jwt);
	return rc;
}

/* A cached token still good for EARLY_RENEW seconds. Holds app_lock. */
static bool
cache_get(int64_t installation, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; i < CACHE_SIZE; i++)
		if (cache[i].installation == installation &&
		    cache[i].expires_at - EARLY_RENEW > now_s())
			return str_copy(out, cache[i].token, outsz) == 0;
	return false;
}

static void
cache_put(int64_t installation, const char *token, int64_t expires_at)
{
	size_t i, slot = 0;

	for (i = 0; i < CACHE_SIZE; i++) {
		if (cache[i].installation == installation) {
			slot = i;
			break;
		}
		if (cache[i].expires_at < cache[slot].expires_at)
			slot = i;     /* the one that expires first goes */
	}
	cache[slot].installation = installation;
	str_copy(cache[slot].token, token, sizeof(cache[slot].token));
	cache[slot].expires_at = expires_at;
}

enum forge_rc
github_app_token(struct forge_call *call, int64_t installation, char *out,
    size_t outsz)
{
	char jwt[4096], auth[4200], url[1024];
	const char *headers[] = { auth, "Accept: application/vnd.github+json",
	    "X-GitHub-Api-Version: 2022-11-28", NULL };
	struct http_request req = { "POST", url, headers, "", 0, 64 * 1024 };
	struct http_response res;
	const cJSON *tok, *exp;
	cJSON *json = NULL;
	enum forge_rc rc;
	int64_t expires;
	int hrc;

	pthread_mutex_lock(&app_lock);
	if (cache_get(installation, out, outsz)) {
		pthread_mutex_unlock(&app_lock);
		return FORGE_OK;
	}
	pthread_mutex_unlock(&app_lock);

	if (github_app_jwt(call->cfg, jwt, sizeof(jwt)) != 0) {
		str_copy(call->error, "cannot sign the GitHub App's JWT",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", jwt);
	snprintf(url, sizeof(url), "%s/app/installations/%lld/access_tokens",
	    call->cfg->github.api_url, (long long)installation);
	hrc = http_do(call->http, &req, &res);
	crypto_wipe(auth, sizeof(auth));
	crypto_wipe(jwt, sizeof(jwt));
	rc = http_classify(&res, hrc, "GitHub (app token)", call->attempts,
	    &call->retry_ms, call->error, sizeof(call->error));
	if (rc != FORGE_OK)
		goto out;
	rc = FORGE_FAIL;
	json = cJSON_ParseWithLength(res.body.data, res.body.len);
	tok = cJSON_GetObjectItemCaseSensitive(json, "token");
	exp = cJSON_GetObjectItemCaseSensitive(json, "expires_at");
	if (!cJSON_IsString(tok) || str_copy(out, tok->valuestring, outsz) != 0) {
		str_copy(call->error, "GitHub answered no installation token",
		    sizeof(call->error));
		goto out;
	}
	if (!cJSON_IsString(exp) || parse_rfc3339(exp->valuestring,
	    &expires) != 0)
		expires = now_s() + 3600;    /* GitHub's documented lifetime */
	pthread_mutex_lock(&app_lock);
	cache_put(installation, out, expires);
	pthread_mutex_unlock(&app_lock);
	rc = FORGE_OK;
out:
	if (json != NULL && (tok = cJSON_GetObjectItemCaseSensitive(json,
	    "token")) != NULL && cJSON_IsString(tok))
		crypto_wipe(tok->valuestring, strlen(tok->valuestring));
	cJSON_Delete(json);
	if (res.body.data != NULL)
		crypto_wipe(res.body.data, res.body.cap);
	http_response_release(&res);
	return rc;
}

enum forge_rc
github_app_slug(struct forge_call *call, char *out, size_t outsz)
{
	char jwt[4096], auth[4200], url[1024];
	const char *headers[] = { auth, "Accept: application/vnd.github+json",
	    "X-GitHub-Api-Version: 2022-11-28", NULL };
	struct http_request req = { "GET", url, headers, NULL, 0, 256 * 1024 };
	struct http_response res;
	const cJSON *slug;
	cJSON *json = NULL;
	enum forge_rc rc;
	int hrc;

	if (github_app_jwt(call->cfg, jwt, sizeof(jwt)) != 0) {
		str_copy(call->error, "cannot sign the GitHub App's JWT",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", jwt);
	snprintf(url, sizeof(url), "%s/app", call->cfg->github.api_url);
	hrc = http_do(call->http, &req, &res);
	crypto_wipe(auth, sizeof(auth));
	crypto_wipe(jwt, sizeof(jwt));
	rc = http_classify(&res, hrc, "GitHub (app)", call->attempts,
	    &call->retry_ms, call->error, sizeof(call->error));
	if (rc != FORGE_OK)
		goto out;
	json = cJSON_ParseWithLength(res.body.data, res.body.len);
	slug = cJSON_GetObjectItemCaseSensitive(json, "slug");
	if (!cJSON_IsString(slug) || slug->valuestring[0] == '\0' ||
	    str_copy(out, slug->valuestring, outsz) != 0) {
		str_copy(call->error, "GitHub answered no App slug",
		    sizeof(call->error));
		rc = FORGE_FAIL;
	}
out:
	cJSON_Delete(json);
	http_response_release(&res);
	return rc;
}
