/*
 * gitlab: repository contents.
 */
#include "forges/gitlab.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server/crypto.h"

#define PAGE_SIZE 100
#define MAX_PAGES 20          /* 2,000 entries: past the 1,000-file cap */

static enum forge_rc
gitlab_get(struct forge_call *call, const char *url, size_t max,
    struct http_response *res)
{
	const char *token = call->cfg->gitlab.token;
	char auth[1024];
	const char *headers[2] = { NULL, NULL };
	struct http_request req = { "GET", url, headers, NULL, 0, max };
	int rc;

	if (token != NULL && str_printf(auth, sizeof(auth), "PRIVATE-TOKEN: %s",
	    token) == 0)
		headers[0] = auth;
	rc = http_do(call->http, &req, res);
	crypto_wipe(auth, sizeof(auth));
	return http_classify(res, rc, "GitLab", call->attempts, &call->retry_ms,
	    call->error, sizeof(call->error));
}

enum forge_rc
gitlab_list_dir(struct forge_call *call, const char *project,
    const char *path, const char *sha, forge_entry_fn fn, void *arg)
{
	char url[4096], epath[2048], eproject[512];
	struct http_response res;
	struct forge_entry e;
	const cJSON *item;
	enum forge_rc rc = FORGE_OK;
	int page, count;
	bool stop = false;

	if (forge_escape_path(path, true, epath, sizeof(epath)) != 0 ||
	    forge_escape_path(project, true, eproject, sizeof(eproject)) != 0) {
		str_copy(call->error, "repository path too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	for (page = 1; page <= MAX_PAGES && !stop; page++) {
		cJSON *json;

		if (str_printf(url, sizeof(url), "%s/projects/%s/repository/tree"
		    "?path=%s&ref=%s&per_page=%d&page=%d",
		    call->cfg->gitlab.api_url, eproject, epath, sha, PAGE_SIZE,
		    page) != 0) {
			str_copy(call->error, "URL too long", sizeof(call->error));
			return FORGE_FAIL;
		}
		rc = gitlab_get(call, url, (size_t)4 << 20, &res);
		if (rc != FORGE_OK) {
			http_response_release(&res);
			return rc;
		}
		json = cJSON_ParseWithLength(res.body.data, res.body.len);
		http_response_release(&res);
		if (!cJSON_IsArray(json)) {
			cJSON_Delete(json);
			str_copy(call->error, "GitLab answered a tree previewd "
			    "cannot read", sizeof(call->error));
			return FORGE_FAIL;
		}
		count = 0;
		cJSON_ArrayForEach(item, json) {
			const cJSON *type, *name, *p;

			count++;
			type = cJSON_GetObjectItemCaseSensitive(item, "type");
			name = cJSON_GetObjectItemCaseSensitive(item, "name");
			p = cJSON_GetObjectItemCaseSensitive(item, "path");
			if (!cJSON_IsString(type) || !cJSON_IsString(name) ||
			    !cJSON_IsString(p) ||
			    str_copy(e.name, name->valuestring, sizeof(e.name)) ||
			    str_copy(e.path, p->valuestring, sizeof(e.path)))
				continue;
			e.is_file = strcmp(type->valuestring, "blob") == 0;
			if (fn(&e, arg) != 0) {
				stop = true;
				break;
			}
		}
		cJSON_Delete(json);
		/* GitLab answers an empty list (not 404) for a missing
		 * path on some versions: the first page decides. */
		if (page == 1 && count == 0) {
			snprintf(call->error, sizeof(call->error), "GitLab has "
			    "no folder \"%s\" at %.12s", path, sha);
			return FORGE_NOT_FOUND;
		}
		if (count < PAGE_SIZE)
			break;
	}
	return FORGE_OK;
}

enum forge_rc
gitlab_read_file(struct forge_call *call, const char *project,
    const char *path, const char *sha, size_t max, struct buf *out)
{
	char url[4096], epath[2048], eproject[512];
	struct http_response res;
	enum forge_rc rc;

	buf_reset(out);
	if (forge_escape_path(path, true, epath, sizeof(epath)) != 0 ||
	    forge_escape_path(project, true, eproject, sizeof(eproject)) != 0 ||
	    str_printf(url, sizeof(url), "%s/projects/%s/repository/files/%s/"
	    "raw?ref=%s", call->cfg->gitlab.api_url, eproject, epath, sha) != 0) {
		str_copy(call->error, "repository path too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	rc = gitlab_get(call, url, max, &res);
	if (rc == FORGE_OK && buf_add(out, res.body.data, res.body.len) != 0) {
		snprintf(call->error, sizeof(call->error), "\"%s\" is larger "
		    "than %zu bytes", path, max);
		rc = FORGE_FAIL;
	}
	http_response_release(&res);
	return rc;
}
