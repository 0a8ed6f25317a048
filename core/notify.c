/*
 * notify: rendering and posting the pull request comment.
 */
#include "core/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/pooler.h"
#include "engines/engine.h"
#include "forges/github.h"
#include "forges/gitlab.h"
#include "forges/vercel.h"
#include "lib/crypto.h"
#include "lib/fault.h"
#include "lib/inert.h"
#include "lib/log.h"
#include "lib/template.h"

#define COMMENT_MAX ((size_t)60000)    /* GitHub's limit is 65,536 */

static struct template *comment_template;

int
notify_init(const struct config *cfg, char *err, size_t errlen)
{
	char path[4096];

	if (str_printf(path, sizeof(path), "%s/comment.md",
	    cfg->server.templates_dir) != 0) {
		snprintf(err, errlen, "templates_dir too long");
		return -1;
	}
	return template_load(path, TEMPLATE_MARKDOWN, &comment_template, err,
	    errlen);
}

void
notify_release(void)
{
	template_free(comment_template);
	comment_template = NULL;
}

/* Whether the comment may show the password (comment_password). */
static bool
password_shown(const struct config *cfg, const struct env *e)
{
	const struct repo_cfg *rc = config_repo(cfg, e->repo);
	const char *policy = rc && rc->comment_password ? rc->comment_password :
	    cfg->server.comment_password;

	if (strcmp(policy, "always") == 0)
		return true;
	if (strcmp(policy, "never") == 0)
		return false;
	return e->private_repo;
}

/*
 * What a repository controls (a file's name, the database's error, which
 * can echo the pull request's SQL) reaches the comment only as code: a
 * code span or a fenced block the value cannot close (lib/inert.h), since
 * code is the one place where GitHub and GitLab make no markup, links,
 * mentions or references. The older values (error_block, failed_file,
 * for templates written before) stay safe inside the plain fences and
 * backticks those templates put around them: no backtick, no line break
 * where a span cannot hold one, no control character, well-formed UTF-8.
 */
#define CODE_MAX ((size_t)8192)

static void
add_code(cJSON *d, const char *name, const char *s, bool fenced)
{
	struct buf b;

	buf_init(&b, CODE_MAX);
	if ((fenced ? inert_md_fence(s, &b) : inert_md_span(s, &b)) == 0)
		cJSON_AddStringToObject(d, name, b.data);
	buf_release(&b);
}

/* s for the inside of a ``` fence (lines) or of single backticks, into
 * out: escaped, and backticks made quotes. */
static void
legacy_code(const char *s, bool lines, char *out, size_t outsz)
{
	struct buf b;
	size_t i;

	buf_init(&b, outsz - 1);
	out[0] = '\0';
	/* Cut short (-1), b still holds what fitted, in whole characters. */
	if (inert_md_text(s, lines, &b) != 0 && b.data == NULL)
		return;
	str_copy(out, b.data, outsz);
	buf_release(&b);
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] == '`')
			out[i] = '\'';
}

/* "migration NAME failed: ..." and "seed NAME failed: ..." name a file. */
static void
failed_file(const char *error, char *out, size_t outsz)
{
	const char *start = NULL, *end;

	out[0] = '\0';
	if (str_starts(error, "migration "))
		start = error + 10;
	else if (str_starts(error, "seed "))
		start = error + 5;
	if (start == NULL || (end = strstr(start, " failed: ")) == NULL ||
	    (size_t)(end - start) >= outsz)
		return;
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = '\0';
}

/* The values comment.md may use. */
static cJSON *
comment_data(const struct config *cfg, const struct env *e)
{
	const struct engine_ops *ops = engine_find(e->engine);
	const struct engine_cfg *ecfg = config_engine(cfg, e->engine);
	char host[256], url[1024], pw[CRYPTO_PASSWORD_LEN + 1], ts[RFC3339_LEN];
	char buf[2048], ttl[32];
	bool shown = password_shown(cfg, e);
	cJSON *d = cJSON_CreateObject();
	int port = 0;

	if (d == NULL)
		return NULL;
	cJSON_AddStringToObject(d, "id", e->id);
	cJSON_AddStringToObject(d, "name", e->name);
	cJSON_AddStringToObject(d, "repo", e->repo);
	cJSON_AddNumberToObject(d, "number", (double)e->number);
	cJSON_AddStringToObject(d, "provider", e->provider);
	cJSON_AddStringToObject(d, "engine", e->engine);
	cJSON_AddStringToObject(d, "status", env_status_name(e->status));
	cJSON_AddBoolToObject(d, "ready", e->status == ENV_READY);
	cJSON_AddBoolToObject(d, "failed", e->status == ENV_FAILED);
	cJSON_AddBoolToObject(d, "deleted", e->status == ENV_DELETED);
	cJSON_AddStringToObject(d, "database", e->db_name);
	cJSON_AddStringToObject(d, "user", e->role_name);
	cJSON_AddStringToObject(d, "head_sha", e->head_sha);
	snprintf(buf, sizeof(buf), "%.12s", e->head_sha);
	cJSON_AddStringToObject(d, "head_sha_short", buf);
	time_rfc3339(e->expires_at, ts);
	cJSON_AddStringToObject(d, "expires_at", ts);
	format_duration(e->ttl, ttl, sizeof(ttl));
	cJSON_AddStringToObject(d, "ttl", ttl);
	snprintf(buf, sizeof(buf), "%s/", cfg->server.public_url);
	cJSON_AddStringToObject(d, "admin_url", buf);

	if (ops != NULL && ecfg != NULL &&
	    engine_endpoint(ops, ecfg, host, sizeof(host), &port) == 0) {
		cJSON_AddStringToObject(d, "host", host);
		cJSON_AddNumberToObject(d, "port", port);
	}
	/* The URLs: whole, or with the password masked. With pgbouncer,
	 * database_url is its pick and pooled tells the template to show
	 * direct_url for migrations too. */
	cJSON_AddBoolToObject(d, "password_shown", shown);
	cJSON_AddBoolToObject(d, "pooled", pooler_covers(e));
	if (e->status == ENV_READY && ops != NULL && ecfg != NULL) {
		static const struct {
			enum pooler_url kind;
			const char *key;
		} urls[] = { { POOLER_DEFAULT, "database_url" },
		    { POOLER_POOLED, "pooled_url" },
		    { POOLER_DIRECT, "direct_url" } };
		size_t i;

		if (!shown || crypto_open(cfg->server.secret_key, e->id,
		    e->secret, e->secret_len, pw, sizeof(pw)) != 0)
			str_copy(pw, "MASKED", sizeof(pw));
		for (i = 0; i < ARRAY_SIZE(urls); i++)
			if (pooler_url(cfg, e, pw, urls[i].kind, url,
			    sizeof(url)) == 0)
				cJSON_AddStringToObject(d, urls[i].key, url);
		crypto_wipe(pw, sizeof(pw));
		crypto_wipe(url, sizeof(url));
	}
	snprintf(buf, sizeof(buf), "curl -fsS -H \"Authorization: Bearer "
	    "$PREVIEWD_CI_TOKEN\" \"%s/api/v1/repos/%s/pulls/%lld/environment"
	    "?format=env%s\"", cfg->server.public_url, e->repo,
	    (long long)e->number, strcmp(e->provider, "github") == 0 ? "" :
	    "&provider=gitlab");
	cJSON_AddStringToObject(d, "curl_command", buf);

	/* The error, for failures; a rebuild's note; a deletion's reason. */
	if (e->status == ENV_FAILED) {
		char file[sizeof(e->error)];

		cJSON_AddStringToObject(d, "error", e->error);
		add_code(d, "error_fenced", e->error, true);
		legacy_code(e->error, true, buf, sizeof(buf));
		cJSON_AddStringToObject(d, "error_block", buf);
		failed_file(e->error, file, sizeof(file));
		add_code(d, "failed_file_code", file, false);
		/* A name with a backtick never fitted the old single
		 * backticks: those templates say "At commit" instead. */
		if (strchr(file, '`') != NULL)
			file[0] = '\0';
		legacy_code(file, false, buf, sizeof(buf));
		cJSON_AddStringToObject(d, "failed_file", buf);
	} else if (e->status == ENV_READY) {
		cJSON_AddStringToObject(d, "note", e->error);
		add_code(d, "note_code", e->error, false);
	} else if (e->status == ENV_DELETED) {
		cJSON_AddStringToObject(d, "reason", e->error);
	}
	return d;
}

static void
sha256_hex(const char *s, size_t len, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (EVP_Digest(s, len, d, &n, EVP_sha256(), NULL) != 1)
		n = 0;
	hex_encode(d, n, out);
}

/* Can previewd speak to e's forge at all? */
static bool
forge_ready(const struct config *cfg, const struct env *e)
{
	if (strcmp(e->provider, "gitlab") == 0)
		return cfg->gitlab.token != NULL;
	return cfg->github.token != NULL ||
	    (cfg->github.app_id != 0 && e->installation_id > 0);
}

/* Post or edit the comment; *id in: the known comment (0: none), out:
 * the comment now holding body. */
static enum forge_rc
post(struct forge_call *call, const struct env *e, const char *body,
    int64_t *id)
{
	char marker[64];
	bool gitlab = strcmp(e->provider, "gitlab") == 0;
	const char *target = e->api_target[0] ? e->api_target : e->repo;
	enum forge_rc rc;

	/* A comment posted just before a crash, whose id was never stored,
	 * is found again by its marker rather than posted twice. */
	snprintf(marker, sizeof(marker), "<!-- previewd:%s ", e->id);
	if (*id == 0) {
		rc = gitlab ? gitlab_note_find(call, target, e->number, marker, id) :
		    github_comment_find(call, target, e->number, marker, id);
		if (rc != FORGE_OK)
			return rc;
	}
	if (*id != 0) {
		rc = gitlab ? gitlab_note_update(call, target, e->number, *id,
		    body) : github_comment_update(call, target, *id, body);
		if (rc != FORGE_NOT_FOUND)
			return rc;
		log_info("comment %lld was deleted on the forge: posting a new "
		    "one", (long long)*id);
		*id = 0;
	}
	return gitlab ? gitlab_note_create(call, target, e->number, body, id) :
	    github_comment_create(call, target, e->number, body, id);
}

/* A part's wish to run again, merged into the job's outcome: the
 * earliest retry wins. */
static void
want_retry(struct job_outcome *o, enum job_result *res, int64_t ms,
    const char *why)
{
	if (*res != JOB_RETRY || ms < o->retry_ms) {
		o->retry_ms = ms;
		str_copy(o->error, why, sizeof(o->error));
	}
	*res = JOB_RETRY;
}

static void
call_init(struct forge_call *call, struct worker *w, const struct job *j,
    const struct env *e)
{
	memset(call, 0, sizeof(*call));
	call->http = worker_http(w);
	call->cfg = w->cfg;
	call->attempts = j->attempts;
	call->installation = e->installation_id;
}

/* The pull request comment. */
static void
comment_sync(struct worker *w, const struct job *j, const struct env *e,
    struct job_outcome *o, enum job_result *res)
{
	struct forge_call call;
	struct buf body;
	cJSON *data = NULL;
	char hash[65];
	int64_t id;
	enum forge_rc rc;

	buf_init(&body, COMMENT_MAX);
	/* Only settled states are worth a comment; a deletion is worth one
	 * only where a comment already exists. */
	if (!(e->status == ENV_READY || e->status == ENV_FAILED ||
	    (e->status == ENV_DELETED && e->comment_id != 0)) || e->number <= 0 ||
	    comment_template == NULL || !forge_ready(w->cfg, e))
		goto out;
	if ((data = comment_data(w->cfg, e)) == NULL ||
	    template_render(comment_template, data, &body) != 0) {
		log_warnx("comment: cannot render (longer than %zu bytes?)",
		    COMMENT_MAX);
		goto out;
	}
	sha256_hex(body.data, body.len, hash);
	if (strcmp(hash, e->comment_hash) == 0)
		goto out;       /* what the comment says already */
	call_init(&call, w, j, e);
	if (call.http == NULL) {
		want_retry(o, res, 1000, "out of memory");
		goto out;
	}
	fault_point("notify.before_post");
	id = e->comment_id;
	rc = post(&call, e, body.data, &id);
	if (rc == FORGE_OK) {
		if (store_env_set_comment(w->store, e->id, id, hash) != 0)
			want_retry(o, res, 1000, "cannot record the comment");
		else
			log_info("comment %lld %s (%s)", (long long)id,
			    e->comment_id == id ? "updated" : "posted",
			    env_status_name(e->status));
	} else if (rc == FORGE_RETRY) {
		want_retry(o, res, call.retry_ms, call.error);
	} else {
		/* The forge refused for good (permissions, validation): the
		 * next change tries again; the database is not affected. */
		log_warnx("comment not posted: %s", call.error);
	}
out:
	cJSON_Delete(data);
	if (body.data != NULL)
		crypto_wipe(body.data, body.cap);
	buf_release(&body);
}

#define VERCEL_LINKS 16

struct links {
	struct {
		char project[128], team[128], branch[256], hash[72];
	} l[VERCEL_LINKS];
	int n;
};

static int
on_link(const char *project, const char *team, const char *branch,
    const char *hash, void *arg)
{
	struct links *ls = arg;

	if (ls->n == VERCEL_LINKS)
		return 1;
	str_copy(ls->l[ls->n].project, project, sizeof(ls->l[0].project));
	str_copy(ls->l[ls->n].team, team, sizeof(ls->l[0].team));
	str_copy(ls->l[ls->n].branch, branch, sizeof(ls->l[0].branch));
	str_copy(ls->l[ls->n].hash, hash, sizeof(ls->l[0].hash));
	ls->n++;
	return 0;
}

/* DATABASE_URL for the Vercel projects that deploy the pull request,
 * scoped to the branch's preview deployments; with pgbouncer that is the
 * pooled URL, and DATABASE_URL_UNPOOLED (the name Vercel's own database
 * integrations use) the direct one. */
static void
vercel_sync(struct worker *w, const struct job *j, const struct env *e,
    struct job_outcome *o, enum job_result *res)
{
	const struct engine_ops *ops = engine_find(e->engine);
	const struct engine_cfg *ecfg = config_engine(w->cfg, e->engine);
	char pw[CRYPTO_PASSWORD_LEN + 1], url[1024], direct[1024], hash[65];
	bool pooled = pooler_covers(e);
	struct forge_call call;
	struct links *ls = NULL;
	struct buf b;
	enum forge_rc rc;
	int i;

	buf_init(&b, 2048);
	if (e->status != ENV_READY || !w->cfg->vercel.configured ||
	    w->cfg->vercel.token == NULL || ops == NULL || ecfg == NULL)
		goto out;
	if ((ls = calloc(1, sizeof(*ls))) == NULL ||
	    store_vercel_links(w->store, e->id, on_link, ls) != 0) {
		want_retry(o, res, 1000, "cannot read the Vercel links");
		goto out;
	}
	if (ls->n == 0)
		goto out;
	/* The application's URL: pooled, with pgbouncer on. */
	if (crypto_open(w->cfg->server.secret_key, e->id, e->secret,
	    e->secret_len, pw, sizeof(pw)) != 0 ||
	    pooler_url(w->cfg, e, pw, POOLER_DEFAULT, url, sizeof(url)) != 0 ||
	    pooler_url(w->cfg, e, pw, POOLER_DIRECT, direct, sizeof(direct)) != 0)
		goto out;
	call_init(&call, w, j, e);
	for (i = 0; i < ls->n && call.http != NULL; i++) {
		buf_reset(&b);
		/* Without pgbouncer the hash is what it always was: links
		 * synced before are not sent again. */
		if (buf_printf(&b, "%s\n%s", url, ls->l[i].branch) != 0 ||
		    (pooled && buf_printf(&b, "\n%s", direct) != 0))
			continue;
		sha256_hex(b.data, b.len, hash);
		if (strcmp(hash, ls->l[i].hash) == 0)
			continue;
		rc = vercel_env_upsert(&call, ls->l[i].project, ls->l[i].team,
		    "DATABASE_URL", url, ls->l[i].branch);
		if (rc == FORGE_OK && pooled)
			rc = vercel_env_upsert(&call, ls->l[i].project,
			    ls->l[i].team, "DATABASE_URL_UNPOOLED", direct,
			    ls->l[i].branch);
		if (rc == FORGE_OK) {
			if (store_vercel_synced(w->store, e->id,
			    ls->l[i].project, hash) != 0)
				want_retry(o, res, 1000, "cannot record the "
				    "Vercel variable");
			else
				log_info("vercel: DATABASE_URL%s set on project "
				    "%s for preview builds of %s", pooled ?
				    " and DATABASE_URL_UNPOOLED" : "",
				    ls->l[i].project, ls->l[i].branch);
		} else if (rc == FORGE_RETRY) {
			want_retry(o, res, call.retry_ms, call.error);
		} else {
			log_warnx("vercel: DATABASE_URL not set on project %s: "
			    "%s", ls->l[i].project, call.error);
		}
	}
out:
	crypto_wipe(pw, sizeof(pw));
	crypto_wipe(url, sizeof(url));
	crypto_wipe(direct, sizeof(direct));
	if (b.data != NULL)
		crypto_wipe(b.data, b.cap);
	buf_release(&b);
	free(ls);
}

enum job_result
notify_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	enum job_result res = JOB_DONE;
	struct env e;

	if (store_env_get(w->store, j->target, &e) != 0)
		return JOB_DONE;
	log_context("env=%s repo=%s pr=%lld", e.id, e.repo,
	    (long long)e.number);
	/* Each part checks what it last delivered, so the one that succeeded
	 * does nothing when the other asks for a retry. */
	comment_sync(w, j, &e, o, &res);
	vercel_sync(w, j, &e, o, &res);
	crypto_wipe(&e, sizeof(e));
	return res;
}
