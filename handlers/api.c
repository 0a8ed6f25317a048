/*
 * api: environments as JSON.
 */
#include "handlers/api.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engines/engine.h"
#include "handlers/auth.h"
#include "handlers/page.h"
#include "lib/crypto.h"
#include "core/jobs.h"
#include "lib/log.h"
#include "lib/scrub.h"
#include "core/metrics.h"
#include "core/pooler.h"
#include "lib/watch.h"

static atomic_int api_waiters;

#define DB_URL_SIZE API_URL_SIZE

/* e's password, unsealed, into pw: 0 ok. Each URL of e is made from it,
 * so an answer opens it once. */
static int
env_password(const struct config *cfg, const struct env *e, char *pw,
    size_t pwsz)
{
	return crypto_open(cfg->server.secret_key, e->id, e->secret,
	    e->secret_len, pw, pwsz);
}

/* The URL of kind under key, or null (pw NULL: not shown). */
static void
add_url(cJSON *o, const struct config *cfg, const struct env *e,
    const char *pw, enum pooler_url kind, const char *key)
{
	char url[DB_URL_SIZE];

	if (pw != NULL && pooler_url(cfg, e, pw, kind, url, sizeof(url)) == 0)
		cJSON_AddStringToObject(o, key, url);
	else
		cJSON_AddNullToObject(o, key);
	crypto_wipe(url, sizeof(url));
}

void
api_add_time(cJSON *o, const char *key, int64_t t)
{
	char ts[RFC3339_LEN];

	if (t <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	time_rfc3339(t, ts);
	cJSON_AddStringToObject(o, key, ts);
}

void
api_add_text(cJSON *o, const char *key, const char *v)
{
	if (v == NULL || v[0] == '\0')
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddStringToObject(o, key, v);
}

void
api_add_connection(cJSON *o, const struct config *cfg, const struct env *e,
    bool with_url, const char *url_key)
{
	const struct engine_ops *ops = engine_find(e->engine);
	const struct engine_cfg *ecfg = config_engine(cfg, e->engine);
	char host[256], pw[CRYPTO_PASSWORD_LEN + 1];
	bool shown = with_url && env_status_shown(e) == ENV_READY &&
	    env_password(cfg, e, pw, sizeof(pw)) == 0;
	int port = 0;

	cJSON_AddStringToObject(o, "status",
	    env_status_name(env_status_shown(e)));
	add_url(o, cfg, e, shown ? pw : NULL, POOLER_DEFAULT, url_key);
	add_url(o, cfg, e, shown ? pw : NULL, POOLER_POOLED, "pooled_url");
	add_url(o, cfg, e, shown ? pw : NULL, POOLER_DIRECT, "direct_url");
	crypto_wipe(pw, sizeof(pw));
	if (ops != NULL && ecfg != NULL &&
	    engine_endpoint(ops, ecfg, host, sizeof(host), &port) == 0) {
		cJSON_AddStringToObject(o, "host", host);
		cJSON_AddNumberToObject(o, "port", port);
	} else {
		cJSON_AddNullToObject(o, "host");
		cJSON_AddNullToObject(o, "port");
	}
	cJSON_AddStringToObject(o, "database", e->db_name);
	cJSON_AddStringToObject(o, "user", e->role_name);
}

void
api_add_error(cJSON *o, const char *key, const char *error)
{
	char text[sizeof(((struct env *)0)->error)];

	str_copy(text, error, sizeof(text));
	(void)scrub_text(text, sizeof(text));
	api_add_text(o, key, text);
}

cJSON *
api_env_json(const struct config *cfg, const struct env *e, bool with_url)
{
	cJSON *o = cJSON_CreateObject();
	bool live = e->status != ENV_DELETED;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "id", e->id);
	cJSON_AddStringToObject(o, "provider", e->provider);
	cJSON_AddStringToObject(o, "repo", e->repo);
	cJSON_AddNumberToObject(o, "number", (double)e->number);
	cJSON_AddStringToObject(o, "name", e->name);
	cJSON_AddStringToObject(o, "engine", e->engine);
	api_add_connection(o, cfg, e, with_url, "database_url");
	api_add_text(o, "head_sha", e->head_sha);
	api_add_text(o, "migrations_tool", e->migrations_tool);
	api_add_text(o, "schema_from", e->schema_from);
	api_add_time(o, "created_at", e->created_at);
	api_add_time(o, "updated_at", e->updated_at);
	api_add_time(o, "expires_at", live && e->want_present ? e->expires_at :
	    0);
	api_add_error(o, "error", e->error);
	return o;
}

int
api_query_wait(const struct request *req, int64_t *seconds)
{
	char v[32];

	*seconds = 0;
	if (http_query(req, "wait", v, sizeof(v)) != 0)
		return 0;
	return parse_int64(v, 0, API_MAX_WAIT, seconds);
}

bool
api_wait_begin(struct request *req)
{
	static const char *const headers[] = { "Retry-After", "2", NULL };
	static const char body[] = "{\"error\":{\"code\":\"busy\",\"message\":"
	    "\"too many requests are waiting; retry shortly\"}}";

	if (atomic_fetch_add(&api_waiters, 1) < API_MAX_WAITERS)
		return true;
	atomic_fetch_sub(&api_waiters, 1);
	http_reply_headers(req, 503, "application/json", headers, body,
	    sizeof(body) - 1);
	return false;
}

void
api_wait_end(void)
{
	atomic_fetch_sub(&api_waiters, 1);
}

int
api_env_await(struct request *req, int (*get)(struct request *,
    struct env *, void *), void *arg, int64_t deadline, struct env *e)
{
	uint64_t gen;
	int found;

	/* The generation is taken before the read, so a change committed
	 * between the read and the wait is never missed. The store
	 * connection goes back to the cache while the request sleeps. */
	for (;;) {
		gen = watch_generation();
		found = http_store(req) == NULL ? -1 : get(req, e, arg);
		if (found < 0 || (found == 0 &&
		    env_status_settled(env_status_shown(e))) ||
		    mono_ms() >= deadline || watch_stopping())
			return found;
		if (found == 0)
			crypto_wipe(e, sizeof(*e));
		http_store_release(req);
		watch_wait(gen, deadline);
	}
}

struct pr_key {
	const char *provider, *repo;
	int64_t number;
};

static int
get_pr_env(struct request *req, struct env *e, void *arg)
{
	const struct pr_key *k = arg;

	return store_env_find_pr(req->store, k->provider, k->repo, k->number,
	    e);
}

int
api_pr_environment(struct request *req)
{
	const char *repo = req->cap[0];
	char provider[16] = "github", format[16] = "json", url[DB_URL_SIZE];
	struct env e;
	struct pr_key key;
	int64_t number, wait;
	int found;

	if (auth_bearer(req, repo) == AUTH_NONE) {
		auth_deny(req);
		return 0;
	}
	if (parse_int64(req->cap[1], 1, INT64_MAX / 2, &number) != 0) {
		http_error(req, 400, "bad_request", "pull request number must "
		    "be a positive integer");
		return 0;
	}
	if ((http_query(req, "provider", provider, sizeof(provider)) == 0 &&
	    strcmp(provider, "github") != 0 && strcmp(provider, "gitlab") != 0)) {
		http_error(req, 400, "bad_request", "provider must be github "
		    "or gitlab");
		return 0;
	}
	if (http_query(req, "format", format, sizeof(format)) == 0 &&
	    strcmp(format, "env") != 0 && strcmp(format, "json") != 0) {
		http_error(req, 400, "bad_request", "format must be json or env");
		return 0;
	}
	if (api_query_wait(req, &wait) != 0) {
		http_error(req, 400, "bad_request", "wait must be a number of "
		    "seconds from 0 to %d", API_MAX_WAIT);
		return 0;
	}
	if (wait > 0 && !api_wait_begin(req))
		return 0;
	key.provider = provider;
	key.repo = repo;
	key.number = number;
	found = api_env_await(req, get_pr_env, &key, mono_ms() + wait * 1000,
	    &e);
	if (wait > 0)
		api_wait_end();

	if (found < 0) {
		http_error(req, 503, "unavailable", "state store unavailable");
	} else if (found == 1) {
		http_error(req, 404, "not_found", "no environment for %s "
		    "pull request %s#%lld", provider, repo, (long long)number);
	} else if (strcmp(format, "env") == 0) {
		char line[3 * DB_URL_SIZE + 64], direct[DB_URL_SIZE];
		char pw[CRYPTO_PASSWORD_LEN + 1];

		/* DIRECT_URL is Prisma's name for the migrations' URL,
		 * DATABASE_URL_UNPOOLED Vercel's; without pgbouncer all
		 * three are the same. */
		if (env_status_shown(&e) == ENV_READY &&
		    env_password(req->cfg, &e, pw, sizeof(pw)) == 0 &&
		    pooler_url(req->cfg, &e, pw, POOLER_DEFAULT, url,
		    sizeof(url)) == 0 &&
		    pooler_url(req->cfg, &e, pw, POOLER_DIRECT, direct,
		    sizeof(direct)) == 0 &&
		    str_printf(line, sizeof(line), "DATABASE_URL=%s\n"
		    "DIRECT_URL=%s\nDATABASE_URL_UNPOOLED=%s\n", url, direct,
		    direct) == 0)
			http_reply(req, 200, "text/plain; charset=utf-8", line,
			    strlen(line));
		else
			http_error(req, 409, "not_ready", "environment %s is %s%s%s",
			    e.name, env_status_name(env_status_shown(&e)),
			    e.error[0] ? ": " : "", e.error);
		crypto_wipe(pw, sizeof(pw));
		crypto_wipe(line, sizeof(line));
		crypto_wipe(direct, sizeof(direct));
		crypto_wipe(url, sizeof(url));
	} else {
		http_json(req, 200, api_env_json(req->cfg, &e, true));
	}
	if (found == 0)
		crypto_wipe(&e, sizeof(e));
	return 0;
}

struct list_ctx {
	const struct config *cfg;
	cJSON *data;
	bool with_url, failed;
	cJSON *(*item)(const struct config *, const struct env *, bool);
	struct env_pos last;         /* the page's last row */
};

static int
list_one(const struct env *e, const struct env_pos *pos, void *arg)
{
	struct list_ctx *c = arg;
	cJSON *o;

	if ((o = c->item(c->cfg, e, c->with_url)) == NULL) {
		c->failed = true;
		return -1;
	}
	cJSON_AddItemToArray(c->data, o);
	c->last = *pos;
	return 0;
}

void
api_list(struct request *req, bool ci, const char *path, cJSON *(*item)(
    const struct config *cfg, const struct env *e, bool with_url))
{
	enum auth_level lvl = auth_bearer(req, NULL);
	struct list_ctx c;
	struct page_args pa;
	struct env_query q;
	struct env_pos from;
	struct cursor next;
	struct buf link;
	const char *headers[3] = { NULL, NULL, NULL };
	char next_text[CURSOR_SIZE];
	cJSON *root = NULL;
	bool more = false;

	/* A query string percent-encoded again at worst triples. */
	buf_init(&link, (size_t)256 << 10);
	if (lvl != AUTH_ADMIN && lvl != AUTH_CI) {
		auth_deny(req);
		goto out;
	}
	/* Forward only, by creation: the order the list always had. */
	if (page_args(req, PAGE_LIMIT_MAX, "c", false, &pa) != 0)
		goto out;
	memset(&q, 0, sizeof(q));
	q.list = ci ? ENV_LIST_CI : ENV_LIST_PR;
	q.order = ENV_ORDER_CREATED;
	q.limit = pa.limit;
	if (pa.has_cursor) {
		from.key = pa.cursor.key;
		from.row = pa.cursor.tie;
		q.from = &from;
	}
	memset(&c, 0, sizeof(c));
	root = cJSON_CreateObject();
	c.cfg = req->cfg;
	c.data = cJSON_AddArrayToObject(root, "data");
	c.with_url = lvl == AUTH_ADMIN;
	c.item = item;
	if (c.data == NULL || http_store(req) == NULL ||
	    store_env_page(req->store, &q, list_one, &c, &more) != 0 ||
	    c.failed) {
		http_error(req, 503, "unavailable", "state store unavailable");
		goto out;
	}
	next_text[0] = '\0';
	if (more) {
		next.order = 'c';
		next.before = false;
		next.key = c.last.key;
		next.tie = c.last.row;
		if (cursor_encode(&next, next_text, sizeof(next_text)) != 0 ||
		    buf_addstr(&link, "<") != 0 ||
		    page_url(req, path, NULL, next_text, &link) != 0 ||
		    buf_printf(&link, ">; rel=\"next\"") != 0) {
			http_error(req, 500, "internal", "cannot build the "
			    "next page's address");
			goto out;
		}
		headers[0] = "Link";
		headers[1] = link.data;
	}
	api_add_text(root, "next_cursor", next_text);
	http_json_headers(req, 200, root, headers);
	root = NULL;
out:
	cJSON_Delete(root);
	buf_release(&link);
}

int
api_env_list(struct request *req)
{
	/* CI databases are listed under /api/v1/databases. */
	api_list(req, false, "/api/v1/environments", api_env_json);
	return 0;
}

int
api_env_delete(struct request *req)
{
	struct env e;
	int rc;

	if (auth_bearer(req, NULL) != AUTH_ADMIN) {
		auth_deny(req);
		return 0;
	}
	rc = http_store(req) == NULL ? -1 : store_env_request_delete(req->store,
	    req->cap[0], "deleted through the API");
	if (rc < 0) {
		http_error(req, 503, "unavailable", "state store unavailable");
		return 0;
	}
	if (rc == 0) {
		jobs_notify();
		metrics_deletion("api");
		log_info("environment %s: delete requested through the API",
		    req->cap[0]);
	}
	if (store_env_get(req->store, req->cap[0], &e) != 0) {
		http_error(req, 404, "not_found", "no environment \"%s\"",
		    req->cap[0]);
		return 0;
	}
	http_json(req, 202, api_env_json(req->cfg, &e, false));
	crypto_wipe(&e, sizeof(e));
	return 0;
}

/* An action found nothing to change: 404 when there is no such
 * environment, else 409 saying why. */
static void
answer_unchanged(struct request *req, const char *id, const char *why)
{
	struct env e;
	int rc = store_env_get(req->store, id, &e);

	if (rc == 1)
		http_error(req, 404, "not_found", "no environment \"%s\"", id);
	else if (rc == 0)
		http_error(req, 409, "conflict", "%s is %s: %s", id,
		    env_status_name(e.status), why);
	else
		http_error(req, 503, "unavailable", "state store unavailable");
	crypto_wipe(&e, sizeof(e));
}

/* The environment's JSON answered with status, or 404/503. */
static void
answer_env(struct request *req, int status, const char *id)
{
	struct env e;
	int rc = store_env_get(req->store, id, &e);

	if (rc == 0)
		http_json(req, status, api_env_json(req->cfg, &e, false));
	else if (rc == 1)
		http_error(req, 404, "not_found", "no environment \"%s\"", id);
	else
		http_error(req, 503, "unavailable", "state store unavailable");
	crypto_wipe(&e, sizeof(e));
}

int
api_env_extend(struct request *req)
{
	const char *id = req->cap[0];
	int64_t seconds = 86400;
	const cJSON *ttl;
	cJSON *body = NULL;
	int rc;

	if (auth_bearer(req, NULL) != AUTH_ADMIN) {
		auth_deny(req);
		return 0;
	}
	if (http_read_body(req, 4096) != 0)
		return 0;
	if (req->body.len > 0) {
		body = cJSON_ParseWithLength(req->body.data, req->body.len);
		ttl = cJSON_GetObjectItemCaseSensitive(body, "ttl");
		if (body == NULL || (ttl != NULL && (!cJSON_IsString(ttl) ||
		    parse_duration(ttl->valuestring, &seconds) != 0 ||
		    seconds <= 0 || seconds > 30 * 86400))) {
			cJSON_Delete(body);
			http_error(req, 400, "bad_request", "expected {\"ttl\": "
			    "\"24h\"}: a duration from 1s to 30d");
			return 0;
		}
		cJSON_Delete(body);
	}
	if (!env_id_ok(id) || http_store(req) == NULL ||
	    (rc = store_env_extend(req->store, id, seconds)) < 0) {
		http_error(req, env_id_ok(id) ? 503 : 404, env_id_ok(id) ?
		    "unavailable" : "not_found", env_id_ok(id) ? "state store "
		    "unavailable" : "no such environment");
		return 0;
	}
	if (rc == 1) {
		answer_unchanged(req, id, "it is gone or going, nothing to "
		    "extend");
		return 0;
	}
	jobs_notify();
	log_info("environment %s: extended by %llds through the API", id,
	    (long long)seconds);
	answer_env(req, 200, id);
	return 0;
}

int
api_env_retry(struct request *req)
{
	const char *id = req->cap[0];
	int rc;

	if (auth_bearer(req, NULL) != AUTH_ADMIN) {
		auth_deny(req);
		return 0;
	}
	if (!env_id_ok(id)) {
		http_error(req, 404, "not_found", "no such environment");
		return 0;
	}
	if (http_store(req) == NULL ||
	    (rc = store_env_request_retry(req->store, id)) < 0) {
		http_error(req, 503, "unavailable", "state store unavailable");
		return 0;
	}
	if (rc == 1) {
		answer_unchanged(req, id, "only a failed environment is "
		    "retried");
		return 0;
	}
	jobs_notify();
	log_info("environment %s: retry requested through the API", id);
	answer_env(req, 202, id);
	return 0;
}
