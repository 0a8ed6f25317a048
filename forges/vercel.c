/*
 * vercel: branch-scoped preview environment variables.
 */
#include "forges/vercel.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/crypto.h"

enum forge_rc
vercel_env_upsert(struct forge_call *call, const char *project,
    const char *team, const char *key, const char *value,
    const char *git_branch)
{
	char url[1024], eproject[256], eteam[256], auth[1024];
	const char *headers[] = { auth, "Content-Type: application/json", NULL };
	struct http_request req = { "POST", url, headers, NULL, 0, 1 << 20 };
	struct http_response res;
	cJSON *body = cJSON_CreateObject(), *target;
	char *json = NULL;
	enum forge_rc rc = FORGE_FAIL;
	int hrc;

	if (body == NULL || call->cfg->vercel.token == NULL ||
	    forge_escape_path(project, true, eproject, sizeof(eproject)) != 0 ||
	    forge_escape_path(team, true, eteam, sizeof(eteam)) != 0) {
		str_copy(call->error, "cannot build the Vercel request",
		    sizeof(call->error));
		goto out;
	}
	snprintf(url, sizeof(url), "%s/v10/projects/%s/env?upsert=true%s%s",
	    call->cfg->vercel.api_url, eproject, team[0] ? "&teamId=" : "",
	    eteam);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	    call->cfg->vercel.token);
	cJSON_AddStringToObject(body, "key", key);
	cJSON_AddStringToObject(body, "value", value);
	cJSON_AddStringToObject(body, "type", "encrypted");
	target = cJSON_AddArrayToObject(body, "target");
	cJSON_AddItemToArray(target, cJSON_CreateString("preview"));
	cJSON_AddStringToObject(body, "gitBranch", git_branch);
	if ((json = cJSON_PrintUnformatted(body)) == NULL)
		goto out;
	req.body = json;
	req.body_len = strlen(json);
	hrc = http_do(call->http, &req, &res);
	rc = http_classify(&res, hrc, "Vercel", call->attempts, &call->retry_ms,
	    call->error, sizeof(call->error));
	http_response_release(&res);
out:
	crypto_wipe(auth, sizeof(auth));
	if (json != NULL) {
		crypto_wipe(json, strlen(json));
		cJSON_free(json);
	}
	cJSON_Delete(body);     /* the value is in it: cJSON frees, not wipes */
	return rc;
}
