/*
 * github: repository contents.
 */
#include "forges/github.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server/crypto.h"

#define LIST_MAX ((size_t)16 << 20)

/* GitHub's standard headers plus accept; auth holds the Authorization
 * line and is wiped by the caller. */
static void
github_headers(const struct forge_call *call, const char *accept,
    char *auth, size_t authsz, const char *headers[5])
{
	const char *token = call->cfg->github.token;
	int n = 0;

	headers[n++] = accept;
	headers[n++] = "X-GitHub-Api-Version: 2022-11-28";
	if (token != NULL && str_printf(auth, authsz, "Authorization: Bearer %s",
	    token) == 0)
		headers[n++] = auth;
	headers[n] = NULL;
}

static int
contents_url(const struct forge_call *call, const char *repo,
    const char *path, const char *sha, char *url, size_t urlsz)
{
	char epath[2048], erepo[512];

	if (forge_escape_path(path, false, epath, sizeof(epath)) != 0 ||
	    forge_escape_path(repo, false, erepo, sizeof(erepo)) != 0)
		return -1;
	return str_printf(url, urlsz, "%s/repos/%s/contents/%s?ref=%s",
	    call->cfg->github.api_url, erepo, epath, sha);
}

static enum forge_rc
github_get(struct forge_call *call, const char *url, const char *accept,
    size_t max, struct http_response *res)
{
	char auth[1024];
	const char *headers[5];
	struct http_request req = { "GET", url, headers, NULL, 0, max };
	int rc;

	github_headers(call, accept, auth, sizeof(auth), headers);
	rc = http_do(call->http, &req, res);
	crypto_wipe(auth, sizeof(auth));
	return http_classify(res, rc, "GitHub", call->attempts, &call->retry_ms,
	    call->error, sizeof(call->error));
}

static int
entry_from_json(const cJSON *item, struct forge_entry *e)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(item, "path");

	if (!cJSON_IsString(type) || !cJSON_IsString(name) ||
	    !cJSON_IsString(path) ||
	    str_copy(e->name, name->valuestring, sizeof(e->name)) != 0 ||
	    str_copy(e->path, path->valuestring, sizeof(e->path)) != 0)
		return -1;
	e->is_file = strcmp(type->valuestring, "file") == 0;
	return 0;
}

enum forge_rc
github_list_dir(struct forge_call *call, const char *repo, const char *path,
    const char *sha, forge_entry_fn fn, void *arg)
{
	struct http_response res;
	struct forge_entry e;
	const cJSON *item;
	cJSON *json = NULL;
	char url[4096];
	enum forge_rc rc;

	if (contents_url(call, repo, path, sha, url, sizeof(url)) != 0) {
		str_copy(call->error, "repository path too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	rc = github_get(call, url, "Accept: application/vnd.github+json",
	    LIST_MAX, &res);
	if (rc != FORGE_OK)
		goto out;
	rc = FORGE_FAIL;
	json = cJSON_ParseWithLength(res.body.data, res.body.len);
	if (cJSON_IsObject(json)) {
		/* The path is a file: a list of one. */
		if (entry_from_json(json, &e) == 0) {
			fn(&e, arg);
			rc = FORGE_OK;
		}
	} else if (cJSON_IsArray(json)) {
		rc = FORGE_OK;
		cJSON_ArrayForEach(item, json) {
			if (entry_from_json(item, &e) != 0)
				continue;
			if (fn(&e, arg) != 0)
				break;
		}
	}
	if (rc != FORGE_OK)
		str_copy(call->error, "GitHub answered a folder listing previewd "
		    "cannot read", sizeof(call->error));
out:
	cJSON_Delete(json);
	http_response_release(&res);
	return rc;
}

enum forge_rc
github_read_file(struct forge_call *call, const char *repo, const char *path,
    const char *sha, size_t max, struct buf *out)
{
	struct http_response res;
	char url[4096];
	enum forge_rc rc;

	buf_reset(out);
	if (contents_url(call, repo, path, sha, url, sizeof(url)) != 0) {
		str_copy(call->error, "repository path too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	rc = github_get(call, url, "Accept: application/vnd.github.raw+json",
	    max, &res);
	if (rc == FORGE_OK && buf_add(out, res.body.data, res.body.len) != 0) {
		snprintf(call->error, sizeof(call->error), "\"%s\" is larger "
		    "than %zu bytes", path, max);
		rc = FORGE_FAIL;
	}
	http_response_release(&res);
	return rc;
}
