/*
 * gitlab: repository contents.
 */
#include "forges/gitlab.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/crypto.h"
#include "lib/log.h"

#define PAGE_SIZE 100
#define MAX_PAGES 20          /* 2,000 notes searched for ours */
/* 4,000 entries of a folder and its subfolders: past the 1,000-file cap
 * with a subfolder per file (Prisma's layout). */
#define TREE_PAGES 40

/* One call to GitLab's API, with extra (one more header line) unless
 * NULL. */
static enum forge_rc
gitlab_request_with(struct forge_call *call, const char *method,
    const char *url, const char *extra, const char *body, size_t max,
    struct http_response *res)
{
	const char *token = call->cfg->gitlab.token;
	char auth[1024];
	const char *headers[4] = { NULL, NULL, NULL, NULL };
	struct http_request req = { method, url, headers, body,
	    body ? strlen(body) : 0, max };
	int n = 0, rc;

	if (token != NULL && str_printf(auth, sizeof(auth), "PRIVATE-TOKEN: %s",
	    token) == 0)
		headers[n++] = auth;
	if (body != NULL)
		headers[n++] = "Content-Type: application/json";
	if (extra != NULL)
		headers[n++] = extra;
	rc = http_do(call->http, &req, res);
	crypto_wipe(auth, sizeof(auth));
	return http_classify(res, rc, "GitLab", call->attempts, &call->retry_ms,
	    call->error, sizeof(call->error));
}

static enum forge_rc
gitlab_request(struct forge_call *call, const char *method, const char *url,
    const char *body, size_t max, struct http_response *res)
{
	return gitlab_request_with(call, method, url, NULL, body, max, res);
}

static enum forge_rc
gitlab_get(struct forge_call *call, const char *url, size_t max,
    struct http_response *res)
{
	return gitlab_request(call, "GET", url, NULL, max, res);
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
	for (page = 1; page <= TREE_PAGES && !stop; page++) {
		cJSON *json;

		if (str_printf(url, sizeof(url), "%s/projects/%s/repository/tree"
		    "?path=%s&ref=%s&recursive=true&per_page=%d&page=%d",
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
			const cJSON *type, *name, *p, *id, *mode;

			count++;
			type = cJSON_GetObjectItemCaseSensitive(item, "type");
			name = cJSON_GetObjectItemCaseSensitive(item, "name");
			p = cJSON_GetObjectItemCaseSensitive(item, "path");
			id = cJSON_GetObjectItemCaseSensitive(item, "id");
			mode = cJSON_GetObjectItemCaseSensitive(item, "mode");
			memset(&e, 0, sizeof(e));
			if (!cJSON_IsString(type) || !cJSON_IsString(name) ||
			    !cJSON_IsString(p) ||
			    str_copy(e.name, name->valuestring, sizeof(e.name)) ||
			    str_copy(e.path, p->valuestring, sizeof(e.path)) ||
			    (cJSON_IsString(id) && str_copy(e.blob,
			    id->valuestring, sizeof(e.blob))))
				continue;
			/* A symbolic link (mode 120000) is not a file to run. */
			e.is_file = strcmp(type->valuestring, "blob") == 0 &&
			    !(cJSON_IsString(mode) &&
			    strcmp(mode->valuestring, "120000") == 0);
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
			return FORGE_OK;
	}
	if (stop)
		return FORGE_OK;
	snprintf(call->error, sizeof(call->error), "folder \"%s\" holds more "
	    "than %d entries", path, TREE_PAGES * PAGE_SIZE);
	return FORGE_FAIL;
}

enum forge_rc
gitlab_read_blob(struct forge_call *call, const char *project,
    const char *id, size_t max, struct buf *out)
{
	char url[4096], eproject[512];
	struct http_response res;
	enum forge_rc rc;

	buf_reset(out);
	if (!forge_blob_ok(id) ||
	    forge_escape_path(project, true, eproject, sizeof(eproject)) != 0 ||
	    str_printf(url, sizeof(url), "%s/projects/%s/repository/blobs/%s/"
	    "raw", call->cfg->gitlab.api_url, eproject, id) != 0) {
		str_copy(call->error, "not a blob id", sizeof(call->error));
		return FORGE_FAIL;
	}
	rc = gitlab_get(call, url, max, &res);
	return forge_file_body(call, rc, &res, id, max, out);
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
	return forge_file_body(call, rc, &res, path, max, out);
}

/* ---- merge request notes ---- */

static char *
note_json(const char *body)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "body", body);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int
notes_url(const struct forge_call *call, const char *project, int64_t iid,
    char *url, size_t urlsz)
{
	char eproject[512];

	if (forge_escape_path(project, true, eproject, sizeof(eproject)) != 0)
		return -1;
	return str_printf(url, urlsz, "%s/projects/%s/merge_requests/%lld/notes",
	    call->cfg->gitlab.api_url, eproject, (long long)iid);
}

enum forge_rc
gitlab_identity(struct forge_call *call, struct forge_identity *who)
{
	const struct config *cfg = call->cfg;
	const char *parts[] = { "gitlab token", cfg->gitlab.api_url,
	    cfg->gitlab.token, NULL };
	struct http_response res;
	const cJSON *id, *name;
	cJSON *json = NULL;
	char key[65], url[1024];
	enum forge_rc rc;

	memset(who, 0, sizeof(*who));
	if (cfg->gitlab.token == NULL) {
		str_copy(call->error, "no [gitlab] token", sizeof(call->error));
		return FORGE_FAIL;
	}
	forge_identity_key(parts, key);
	if (forge_identity_get(key, who))
		return FORGE_OK;
	snprintf(url, sizeof(url), "%s/user", cfg->gitlab.api_url);
	rc = gitlab_get(call, url, 256 * 1024, &res);
	if (rc == FORGE_OK) {
		json = cJSON_ParseWithLength(res.body.data, res.body.len);
		id = cJSON_GetObjectItemCaseSensitive(json, "id");
		name = cJSON_GetObjectItemCaseSensitive(json, "username");
		if (cJSON_IsNumber(id) && id->valuedouble > 0 &&
		    cJSON_IsString(name) && str_copy(who->login,
		    name->valuestring, sizeof(who->login)) == 0) {
			who->id = (int64_t)id->valuedouble;
			forge_identity_put(key, who);
			log_info("gitlab: previewd comments as %s (id %lld)",
			    who->login, (long long)who->id);
		} else {
			str_copy(call->error, "GitLab answered no user id",
			    sizeof(call->error));
			rc = FORGE_FAIL;
		}
	}
	cJSON_Delete(json);
	http_response_release(&res);
	return rc;
}

enum forge_rc
gitlab_note_find(struct forge_call *call, const char *project, int64_t iid,
    const char *marker, int64_t *id)
{
	struct forge_identity self;
	char base[1024], url[1100];
	struct http_response res;
	enum forge_rc rc;
	int page, n;

	*id = 0;
	if (notes_url(call, project, iid, base, sizeof(base)) != 0)
		return FORGE_FAIL;
	rc = gitlab_identity(call, &self);
	if (rc == FORGE_RETRY)
		return rc;
	if (rc != FORGE_OK) {
		/* No note can be told to be previewd's own: a new one is
		 * safer than someone else's. */
		log_warnx("gitlab: cannot tell which notes are previewd's own "
		    "(%s): posting a new one", call->error);
		return FORGE_OK;
	}
	for (page = 1; page <= MAX_PAGES && *id == 0; page++) {
		snprintf(url, sizeof(url), "%s?per_page=%d&page=%d", base,
		    PAGE_SIZE, page);
		if ((rc = gitlab_get(call, url, (size_t)16 << 20, &res)) !=
		    FORGE_OK) {
			http_response_release(&res);
			return rc;
		}
		n = forge_find_marked(res.body.data, res.body.len, marker,
		    "author", self.id, id);
		http_response_release(&res);
		if (n < PAGE_SIZE)
			break;
	}
	return FORGE_OK;
}

enum forge_rc
gitlab_note_create(struct forge_call *call, const char *project, int64_t iid,
    const char *body, int64_t *id)
{
	struct http_response res;
	const cJSON *v;
	cJSON *json;
	char url[1024], *payload;
	enum forge_rc rc;

	if (notes_url(call, project, iid, url, sizeof(url)) != 0 ||
	    (payload = note_json(body)) == NULL)
		return FORGE_FAIL;
	rc = gitlab_request(call, "POST", url, payload, 1 << 20, &res);
	cJSON_free(payload);
	if (rc == FORGE_OK) {
		json = cJSON_ParseWithLength(res.body.data, res.body.len);
		v = cJSON_GetObjectItemCaseSensitive(json, "id");
		if (cJSON_IsNumber(v) && v->valuedouble > 0) {
			*id = (int64_t)v->valuedouble;
		} else {
			str_copy(call->error, "GitLab answered no note id",
			    sizeof(call->error));
			rc = FORGE_FAIL;
		}
		cJSON_Delete(json);
	}
	http_response_release(&res);
	return rc;
}

enum forge_rc
gitlab_note_update(struct forge_call *call, const char *project, int64_t iid,
    int64_t id, const char *body)
{
	struct http_response res;
	char base[1024], url[1100], *payload;
	enum forge_rc rc;

	if (notes_url(call, project, iid, base, sizeof(base)) != 0 ||
	    (payload = note_json(body)) == NULL)
		return FORGE_FAIL;
	snprintf(url, sizeof(url), "%s/%lld", base, (long long)id);
	rc = gitlab_request(call, "PUT", url, payload, 1 << 20, &res);
	cJSON_free(payload);
	http_response_release(&res);
	return rc;
}

/* ---- open merge requests ---- */

enum forge_rc
gitlab_open_merge_requests_page(struct forge_call *call, const char *project,
    struct forge_page *p)
{
	char eproject[512], inm[200];
	struct http_response res;
	enum forge_rc rc;

	p->unchanged = false;
	p->next[0] = '\0';
	if (forge_escape_path(project, true, eproject, sizeof(eproject)) != 0 ||
	    (p->url[0] == '\0' && str_printf(p->url, sizeof(p->url),
	    "%s/projects/%s/merge_requests?state=opened&per_page=%d",
	    call->cfg->gitlab.api_url, eproject, FORGE_PER_PAGE) != 0)) {
		str_copy(call->error, "project path too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	if (!forge_url_under(p->url, call->cfg->gitlab.api_url)) {
		str_copy(call->error, "a page of GitLab's merge request list is "
		    "not under [gitlab] api_url", sizeof(call->error));
		return FORGE_FAIL;
	}
	inm[0] = '\0';
	if (p->etag[0] != '\0')
		(void)str_printf(inm, sizeof(inm), "If-None-Match: %s", p->etag);
	rc = gitlab_request_with(call, "GET", p->url, inm[0] ? inm : NULL, NULL,
	    (size_t)16 << 20, &res);
	if (rc == FORGE_OK && res.status == 304) {
		p->unchanged = true;
	} else if (rc == FORGE_OK) {
		/* X-Next-Page names the next page of the same query; the URL
		 * is previewd's own. */
		if (res.next_page > 0 && str_printf(p->next, sizeof(p->next),
		    "%s/projects/%s/merge_requests?state=opened&per_page=%d&"
		    "page=%lld", call->cfg->gitlab.api_url, eproject,
		    FORGE_PER_PAGE,
		    (long long)res.next_page) != 0) {
			str_copy(call->error, "project path too long",
			    sizeof(call->error));
			rc = FORGE_FAIL;
		} else {
			str_copy(p->etag, res.etag, sizeof(p->etag));
			rc = forge_page_numbers(call, &res, "iid",
			    "GitLab's merge request list", p);
		}
	}
	http_response_release(&res);
	return rc;
}

/* A merge request's own answer carries its description, up to 1,000,000
 * characters: as much as a page of the list is allowed. */
#define MERGE_REQUEST_MAX ((size_t)16 << 20)

enum forge_rc
gitlab_merge_request_closed(struct forge_call *call, const char *project,
    int64_t iid, bool *closed)
{
	static const char *const state_key[] = { "state", NULL };
	char url[1024], eproject[512], state[32];
	struct http_response res;
	enum forge_rc rc;

	*closed = false;
	if (forge_escape_path(project, true, eproject, sizeof(eproject)) != 0 ||
	    str_printf(url, sizeof(url), "%s/projects/%s/merge_requests/%lld",
	    call->cfg->gitlab.api_url, eproject, (long long)iid) != 0) {
		str_copy(call->error, "project path too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	rc = gitlab_get(call, url, MERGE_REQUEST_MAX, &res);
	if (rc == FORGE_OK)
		rc = forge_answer_string(call, &res, state_key, state,
		    sizeof(state), "GitLab's merge request state");
	http_response_release(&res);
	if (rc != FORGE_OK)
		return rc;
	/* "locked" is a merge under way: still open until it ends. Any state
	 * GitLab does not document proves nothing. */
	if (strcmp(state, "closed") == 0 || strcmp(state, "merged") == 0) {
		*closed = true;
	} else if (strcmp(state, "opened") != 0 &&
	    strcmp(state, "locked") != 0) {
		snprintf(call->error, sizeof(call->error), "GitLab answered a "
		    "merge request state previewd does not know (\"%s\")",
		    state);
		rc = FORGE_FAIL;
	}
	return rc;
}

/* ---- the default branch's head ---- */

enum forge_rc
gitlab_default_head(struct forge_call *call, const char *project,
    struct forge_head *head)
{
	static const char *const branch_key[] = { "default_branch", NULL };
	static const char *const id_key[] = { "id", NULL };
	static const char *const sha_key[] = { "commit", "id", NULL };
	char url[2048], eproject[800], ebranch[1024];
	struct http_response res;
	enum forge_rc rc;

	memset(head, 0, sizeof(*head));
	if (forge_escape_path(project, true, eproject, sizeof(eproject)) != 0) {
		str_copy(call->error, "project path too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	snprintf(url, sizeof(url), "%s/projects/%s", call->cfg->gitlab.api_url,
	    eproject);
	rc = gitlab_get(call, url, 1 << 20, &res);
	if (rc == FORGE_OK)
		rc = forge_answer_string(call, &res, id_key, head->api_target,
		    sizeof(head->api_target), "GitLab's project id");
	if (rc == FORGE_OK && strspn(head->api_target, "0123456789") !=
	    strlen(head->api_target)) {
		str_copy(call->error, "GitLab answered a project id previewd "
		    "cannot read", sizeof(call->error));
		rc = FORGE_FAIL;
	}
	/* An empty project has no default branch (null). */
	if (rc == FORGE_OK)
		rc = forge_answer_string(call, &res, branch_key, head->branch,
		    sizeof(head->branch), "GitLab's project default_branch");
	http_response_release(&res);
	if (rc != FORGE_OK)
		return rc;
	if (forge_escape_path(head->branch, true, ebranch,
	    sizeof(ebranch)) != 0) {
		str_copy(call->error, "branch name too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	snprintf(url, sizeof(url), "%s/projects/%s/repository/branches/%s",
	    call->cfg->gitlab.api_url, head->api_target, ebranch);
	rc = gitlab_get(call, url, 1 << 20, &res);
	if (rc == FORGE_OK)
		rc = forge_answer_string(call, &res, sha_key, head->sha,
		    sizeof(head->sha), "GitLab's branch commit.id");
	http_response_release(&res);
	if (rc == FORGE_OK && !forge_blob_ok(head->sha)) {
		str_copy(call->error, "GitLab answered a commit id previewd "
		    "cannot read", sizeof(call->error));
		rc = FORGE_FAIL;
	}
	return rc;
}
