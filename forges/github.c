/*
 * github: repository contents.
 */
#include "forges/github.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "forges/github_app.h"
#include "lib/crypto.h"
#include "lib/log.h"

#define LIST_MAX ((size_t)16 << 20)
#define COMMENT_PAGES 10      /* 1,000 comments searched for our marker */

/* The Authorization line: the App's installation token when previewd is a
 * GitHub App and the webhook named the installation, else [github] token,
 * else none (public repositories can be read without). */
static enum forge_rc
github_auth(struct forge_call *call, char *auth, size_t authsz)
{
	char token[256];
	enum forge_rc rc;

	auth[0] = '\0';
	if (call->cfg->github.app_id != 0 && call->installation > 0) {
		rc = github_app_token(call, call->installation, token,
		    sizeof(token));
		if (rc == FORGE_OK)
			snprintf(auth, authsz, "Authorization: Bearer %s", token);
		crypto_wipe(token, sizeof(token));
		return rc;
	}
	if (call->cfg->github.token != NULL)
		snprintf(auth, authsz, "Authorization: Bearer %s",
		    call->cfg->github.token);
	return FORGE_OK;
}

/* One call to GitHub's API with its standard headers, and extra (one
 * more header line) unless NULL. */
static enum forge_rc
github_request_with(struct forge_call *call, const char *method,
    const char *url, const char *accept, const char *extra, const char *body,
    size_t max, struct http_response *res)
{
	char auth[1024];
	const char *headers[6];
	struct http_request req = { method, url, headers, body,
	    body ? strlen(body) : 0, max };
	enum forge_rc rc;
	int n = 0, hrc;

	memset(res, 0, sizeof(*res));
	if ((rc = github_auth(call, auth, sizeof(auth))) != FORGE_OK)
		return rc;
	headers[n++] = accept;
	headers[n++] = "X-GitHub-Api-Version: 2022-11-28";
	if (body != NULL)
		headers[n++] = "Content-Type: application/json";
	if (auth[0] != '\0')
		headers[n++] = auth;
	if (extra != NULL)
		headers[n++] = extra;
	headers[n] = NULL;
	hrc = http_do(call->http, &req, res);
	crypto_wipe(auth, sizeof(auth));
	return http_classify(res, hrc, "GitHub", call->attempts, &call->retry_ms,
	    call->error, sizeof(call->error));
}

static enum forge_rc
github_request(struct forge_call *call, const char *method, const char *url,
    const char *accept, const char *body, size_t max,
    struct http_response *res)
{
	return github_request_with(call, method, url, accept, NULL, body, max,
	    res);
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
	return github_request(call, "GET", url, accept, NULL, max, res);
}

static int
entry_from_json(const cJSON *item, struct forge_entry *e)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(item, "path");

	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(item, "sha");

	memset(e, 0, sizeof(*e));
	if (!cJSON_IsString(type) || !cJSON_IsString(name) ||
	    !cJSON_IsString(path) ||
	    str_copy(e->name, name->valuestring, sizeof(e->name)) != 0 ||
	    str_copy(e->path, path->valuestring, sizeof(e->path)) != 0)
		return -1;
	e->is_file = strcmp(type->valuestring, "file") == 0;
	/* A file's sha is its blob id. */
	if (e->is_file && cJSON_IsString(sha))
		str_copy(e->blob, sha->valuestring, sizeof(e->blob));
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
	return forge_file_body(call, rc, &res, path, max, out);
}

/* A tree entry: {path, type: blob|tree|commit, sha, ...}. */
static int
tree_entry(const cJSON *item, struct forge_entry *e)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
	const cJSON *path = cJSON_GetObjectItemCaseSensitive(item, "path");
	const cJSON *sha = cJSON_GetObjectItemCaseSensitive(item, "sha");
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(item, "mode");
	const char *base;

	if (!cJSON_IsString(type) || !cJSON_IsString(path) ||
	    !cJSON_IsString(sha) ||
	    str_copy(e->path, path->valuestring, sizeof(e->path)) != 0 ||
	    str_copy(e->blob, sha->valuestring, sizeof(e->blob)) != 0)
		return -1;
	base = strrchr(e->path, '/');
	if (str_copy(e->name, base != NULL ? base + 1 : e->path,
	    sizeof(e->name)) != 0)
		return -1;
	/* A symbolic link is a blob of mode 120000 holding its target's
	 * path: not a file to run (the contents API calls it "symlink"). */
	e->is_file = strcmp(type->valuestring, "blob") == 0 &&
	    !(cJSON_IsString(mode) && strcmp(mode->valuestring, "120000") == 0);
	return 0;
}

enum forge_rc
github_list_tree(struct forge_call *call, const char *repo, const char *sha,
    forge_entry_fn fn, void *arg, bool *truncated)
{
	struct http_response res;
	struct forge_entry e;
	const cJSON *tree, *item;
	cJSON *json = NULL;
	char url[4096], erepo[512];
	enum forge_rc rc;

	*truncated = false;
	if (forge_escape_path(repo, false, erepo, sizeof(erepo)) != 0 ||
	    str_printf(url, sizeof(url), "%s/repos/%s/git/trees/%s?recursive=1",
	    call->cfg->github.api_url, erepo, sha) != 0) {
		str_copy(call->error, "repository name too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	/* GitHub's own limit for a recursive tree is 7 MB. */
	rc = github_get(call, url, "Accept: application/vnd.github+json",
	    LIST_MAX, &res);
	if (rc != FORGE_OK)
		goto out;
	json = cJSON_ParseWithLength(res.body.data, res.body.len);
	tree = cJSON_GetObjectItemCaseSensitive(json, "tree");
	if (!cJSON_IsArray(tree)) {
		str_copy(call->error, "GitHub answered a tree previewd cannot "
		    "read", sizeof(call->error));
		rc = FORGE_FAIL;
		goto out;
	}
	*truncated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json,
	    "truncated"));
	cJSON_ArrayForEach(item, tree) {
		memset(&e, 0, sizeof(e));
		if (tree_entry(item, &e) == 0 && fn(&e, arg) != 0)
			break;
	}
out:
	cJSON_Delete(json);
	http_response_release(&res);
	return rc;
}

enum forge_rc
github_read_blob(struct forge_call *call, const char *repo, const char *id,
    size_t max, struct buf *out)
{
	struct http_response res;
	char url[4096], erepo[512];
	enum forge_rc rc;

	buf_reset(out);
	if (!forge_blob_ok(id) ||
	    forge_escape_path(repo, false, erepo, sizeof(erepo)) != 0 ||
	    str_printf(url, sizeof(url), "%s/repos/%s/git/blobs/%s",
	    call->cfg->github.api_url, erepo, id) != 0) {
		str_copy(call->error, "not a blob id", sizeof(call->error));
		return FORGE_FAIL;
	}
	rc = github_get(call, url, "Accept: application/vnd.github.raw+json",
	    max, &res);
	return forge_file_body(call, rc, &res, id, max, out);
}

/* ---- comments ---- */

static enum forge_rc
comment_id_from(struct forge_call *call, const struct http_response *res,
    int64_t *id)
{
	cJSON *json = cJSON_ParseWithLength(res->body.data, res->body.len);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, "id");
	enum forge_rc rc = FORGE_FAIL;

	/* Comment ids are past 2^32: a double holds them exactly to 2^53. */
	if (cJSON_IsNumber(v) && v->valuedouble > 0) {
		*id = (int64_t)v->valuedouble;
		rc = FORGE_OK;
	} else {
		str_copy(call->error, "GitHub answered no comment id",
		    sizeof(call->error));
	}
	cJSON_Delete(json);
	return rc;
}

static char *
comment_json(const char *body)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "body", body);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* A user object's id and login (GET /user, GET /users/{login}). */
static enum forge_rc
identity_from(struct forge_call *call, const struct http_response *res,
    struct forge_identity *who)
{
	cJSON *json = cJSON_ParseWithLength(res->body.data, res->body.len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(json, "id");
	const cJSON *login = cJSON_GetObjectItemCaseSensitive(json, "login");
	enum forge_rc rc = FORGE_FAIL;

	if (cJSON_IsNumber(id) && id->valuedouble > 0 &&
	    cJSON_IsString(login) && str_copy(who->login, login->valuestring,
	    sizeof(who->login)) == 0) {
		who->id = (int64_t)id->valuedouble;
		rc = FORGE_OK;
	} else {
		str_copy(call->error, "GitHub answered no user id",
		    sizeof(call->error));
	}
	cJSON_Delete(json);
	return rc;
}

enum forge_rc
github_identity(struct forge_call *call, struct forge_identity *who)
{
	const struct config *cfg = call->cfg;
	bool app = cfg->github.app_id != 0 && call->installation > 0;
	char key[65], appid[32], slug[200], login[256], elogin[800];
	char url[1200];
	const char *app_parts[] = { "github app", cfg->github.api_url, appid,
	    cfg->github.private_key_file, NULL };
	const char *token_parts[] = { "github token", cfg->github.api_url,
	    cfg->github.token, NULL };
	struct http_response res;
	enum forge_rc rc;

	memset(who, 0, sizeof(*who));
	snprintf(appid, sizeof(appid), "%lld", (long long)cfg->github.app_id);
	if (!app && cfg->github.token == NULL) {
		str_copy(call->error, "no [github] token or App to be",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	forge_identity_key(app ? app_parts : token_parts, key);
	if (forge_identity_get(key, who))
		return FORGE_OK;
	/* An App writes as its bot account, "<slug>[bot]", which GET /user
	 * does not answer for an installation token; a token writes as its
	 * user. */
	if (app) {
		if ((rc = github_app_slug(call, slug, sizeof(slug))) != FORGE_OK)
			return rc;
		if (str_printf(login, sizeof(login), "%s[bot]", slug) != 0 ||
		    forge_escape_path(login, true, elogin, sizeof(elogin)) != 0) {
			str_copy(call->error, "GitHub answered an App slug too "
			    "long", sizeof(call->error));
			return FORGE_FAIL;
		}
		snprintf(url, sizeof(url), "%s/users/%s", cfg->github.api_url,
		    elogin);
	} else {
		snprintf(url, sizeof(url), "%s/user", cfg->github.api_url);
	}
	rc = github_get(call, url, "Accept: application/vnd.github+json",
	    256 * 1024, &res);
	if (rc == FORGE_OK)
		rc = identity_from(call, &res, who);
	http_response_release(&res);
	if (rc == FORGE_OK) {
		forge_identity_put(key, who);
		log_info("github: previewd comments as %s (id %lld)", who->login,
		    (long long)who->id);
	}
	return rc;
}

enum forge_rc
github_comment_find(struct forge_call *call, const char *repo, int64_t number,
    const char *marker, int64_t *id)
{
	struct forge_identity self;
	struct http_response res;
	char url[1024], erepo[512];
	enum forge_rc rc = FORGE_OK;
	int page, n;

	*id = 0;
	if (forge_escape_path(repo, false, erepo, sizeof(erepo)) != 0)
		return FORGE_FAIL;
	rc = github_identity(call, &self);
	if (rc == FORGE_RETRY)
		return rc;
	if (rc != FORGE_OK) {
		/* No comment can be told to be previewd's own: a new one
		 * is safer than someone else's. */
		log_warnx("github: cannot tell which comments are previewd's "
		    "own (%s): posting a new one", call->error);
		return FORGE_OK;
	}
	for (page = 1; page <= COMMENT_PAGES && *id == 0; page++) {
		snprintf(url, sizeof(url), "%s/repos/%s/issues/%lld/comments"
		    "?per_page=100&page=%d", call->cfg->github.api_url, erepo,
		    (long long)number, page);
		rc = github_get(call, url, "Accept: application/vnd.github+json",
		    LIST_MAX, &res);
		if (rc != FORGE_OK) {
			http_response_release(&res);
			return rc;
		}
		n = forge_find_marked(res.body.data, res.body.len, marker,
		    "user", self.id, id);
		http_response_release(&res);
		if (n < 100)
			break;
	}
	return FORGE_OK;
}

enum forge_rc
github_comment_create(struct forge_call *call, const char *repo,
    int64_t number, const char *body, int64_t *id)
{
	struct http_response res;
	char url[1024], erepo[512], *json;
	enum forge_rc rc;

	if (forge_escape_path(repo, false, erepo, sizeof(erepo)) != 0 ||
	    (json = comment_json(body)) == NULL)
		return FORGE_FAIL;
	snprintf(url, sizeof(url), "%s/repos/%s/issues/%lld/comments",
	    call->cfg->github.api_url, erepo, (long long)number);
	rc = github_request(call, "POST", url,
	    "Accept: application/vnd.github+json", json, 1 << 20, &res);
	if (rc == FORGE_OK)
		rc = comment_id_from(call, &res, id);
	cJSON_free(json);
	http_response_release(&res);
	return rc;
}

enum forge_rc
github_comment_update(struct forge_call *call, const char *repo, int64_t id,
    const char *body)
{
	struct http_response res;
	char url[1024], erepo[512], *json;
	enum forge_rc rc;

	if (forge_escape_path(repo, false, erepo, sizeof(erepo)) != 0 ||
	    (json = comment_json(body)) == NULL)
		return FORGE_FAIL;
	snprintf(url, sizeof(url), "%s/repos/%s/issues/comments/%lld",
	    call->cfg->github.api_url, erepo, (long long)id);
	rc = github_request(call, "PATCH", url,
	    "Accept: application/vnd.github+json", json, 1 << 20, &res);
	cJSON_free(json);
	http_response_release(&res);
	return rc;
}

/* ---- open pull requests ---- */

enum forge_rc
github_open_pulls_page(struct forge_call *call, const char *repo,
    struct forge_page *p)
{
	char erepo[512], inm[200];
	struct http_response res;
	enum forge_rc rc;

	p->unchanged = false;
	p->next[0] = '\0';
	if (p->url[0] == '\0' && (forge_escape_path(repo, false, erepo,
	    sizeof(erepo)) != 0 || str_printf(p->url, sizeof(p->url),
	    "%s/repos/%s/pulls?state=open&per_page=%d",
	    call->cfg->github.api_url, erepo, FORGE_PER_PAGE) != 0)) {
		str_copy(call->error, "repository name too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	if (!forge_url_under(p->url, call->cfg->github.api_url)) {
		str_copy(call->error, "a page of GitHub's pull request list is "
		    "not under [github] api_url", sizeof(call->error));
		return FORGE_FAIL;
	}
	inm[0] = '\0';
	if (p->etag[0] != '\0')
		(void)str_printf(inm, sizeof(inm), "If-None-Match: %s", p->etag);
	rc = github_request_with(call, "GET", p->url,
	    "Accept: application/vnd.github+json", inm[0] ? inm : NULL, NULL,
	    LIST_MAX, &res);
	if (rc == FORGE_OK && res.status == 304) {
		p->unchanged = true;
	} else if (rc == FORGE_OK) {
		/* Without a readable next link the list's end is unknown, and
		 * a pull request past it would look closed. */
		if (res.link_bad || (res.link_next[0] != '\0' &&
		    !forge_url_under(res.link_next, call->cfg->github.api_url))) {
			str_copy(call->error, "GitHub's next page of pull "
			    "requests is not one previewd can follow",
			    sizeof(call->error));
			rc = FORGE_FAIL;
		} else {
			str_copy(p->next, res.link_next, sizeof(p->next));
			str_copy(p->etag, res.etag, sizeof(p->etag));
			rc = forge_page_numbers(call, &res, "number",
			    "GitHub's pull request list", p);
		}
	}
	http_response_release(&res);
	return rc;
}

/* A pull request's own answer carries its body (up to 65,536 characters,
 * each at most six bytes escaped) and a few hundred fields besides. */
#define PULL_MAX ((size_t)4 << 20)

enum forge_rc
github_pull_closed(struct forge_call *call, const char *repo, int64_t number,
    bool *closed)
{
	static const char *const state_key[] = { "state", NULL };
	char url[1024], erepo[512], state[32];
	struct http_response res;
	enum forge_rc rc;

	*closed = false;
	if (forge_escape_path(repo, false, erepo, sizeof(erepo)) != 0 ||
	    str_printf(url, sizeof(url), "%s/repos/%s/pulls/%lld",
	    call->cfg->github.api_url, erepo, (long long)number) != 0) {
		str_copy(call->error, "repository name too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	rc = github_get(call, url, "Accept: application/vnd.github+json",
	    PULL_MAX, &res);
	if (rc == FORGE_OK)
		rc = forge_answer_string(call, &res, state_key, state,
		    sizeof(state), "GitHub's pull request state");
	http_response_release(&res);
	if (rc != FORGE_OK)
		return rc;
	/* A merged pull request is "closed" too ("merged" says which). Any
	 * state but the two documented ones proves nothing. */
	if (strcmp(state, "closed") == 0) {
		*closed = true;
	} else if (strcmp(state, "open") != 0) {
		snprintf(call->error, sizeof(call->error), "GitHub answered a "
		    "pull request state previewd does not know (\"%s\")",
		    state);
		rc = FORGE_FAIL;
	}
	return rc;
}

/* ---- the default branch's head ---- */

enum forge_rc
github_default_head(struct forge_call *call, const char *repo,
    struct forge_head *head)
{
	static const char *const branch_key[] = { "default_branch", NULL };
	static const char *const sha_key[] = { "commit", "sha", NULL };
	char url[2048], erepo[512], ebranch[1024];
	struct http_response res;
	enum forge_rc rc;

	memset(head, 0, sizeof(*head));
	if (forge_escape_path(repo, false, erepo, sizeof(erepo)) != 0 ||
	    str_copy(head->api_target, repo, sizeof(head->api_target)) != 0) {
		str_copy(call->error, "repository name too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	snprintf(url, sizeof(url), "%s/repos/%s", call->cfg->github.api_url,
	    erepo);
	rc = github_get(call, url, "Accept: application/vnd.github+json",
	    1 << 20, &res);
	if (rc == FORGE_OK)
		rc = forge_answer_string(call, &res, branch_key, head->branch,
		    sizeof(head->branch), "GitHub's repository default_branch");
	http_response_release(&res);
	if (rc != FORGE_OK)
		return rc;
	/* A branch may hold slashes ("release/2.x"): one segment. */
	if (forge_escape_path(head->branch, true, ebranch,
	    sizeof(ebranch)) != 0) {
		str_copy(call->error, "branch name too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	snprintf(url, sizeof(url), "%s/repos/%s/branches/%s",
	    call->cfg->github.api_url, erepo, ebranch);
	rc = github_get(call, url, "Accept: application/vnd.github+json",
	    1 << 20, &res);
	if (rc == FORGE_OK)
		rc = forge_answer_string(call, &res, sha_key, head->sha,
		    sizeof(head->sha), "GitHub's branch commit.sha");
	http_response_release(&res);
	if (rc == FORGE_OK && !forge_blob_ok(head->sha)) {
		str_copy(call->error, "GitHub answered a commit id previewd "
		    "cannot read", sizeof(call->error));
		rc = FORGE_FAIL;
	}
	return rc;
}
