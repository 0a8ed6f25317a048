/*
 * databases: a database per CI run.
 */
#include "handlers/databases.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "handlers/api.h"
#include "handlers/auth.h"
#include "lib/crypto.h"
#include "core/jobs.h"
#include "lib/log.h"
#include "core/metrics.h"
#include "core/source.h"

#define BODY_MAX 16384
#define KEY_MAX 255                /* Idempotency-Key */

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* The database's object; the connection string only when with_url and
 * the database is ready. */
static cJSON *
db_item(const struct config *cfg, const struct env *e, bool with_url)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "id", e->id);
	cJSON_AddStringToObject(o, "name", e->name);
	cJSON_AddStringToObject(o, "engine", e->engine);
	api_add_connection(o, cfg, e, with_url, "connection_string");
	api_add_text(o, "blueprint", e->blueprint);
	api_add_time(o, "created_at", e->created_at);
	api_add_time(o, "expires_at", e->want_present &&
	    e->status != ENV_DELETED ? e->expires_at : 0);
	api_add_error(o, "error", e->error);
	return o;
}

/* {"data": {...}}. */
static cJSON *
db_json(const struct config *cfg, const struct env *e, bool with_url)
{
	cJSON *root = cJSON_CreateObject(), *o = db_item(cfg, e, with_url);

	if (root == NULL || o == NULL) {
		cJSON_Delete(root);
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToObject(root, "data", o);
	return root;
}

/* The CI database named by id: 0 found, 1 none (or not a CI database). */
static int
get_db(struct request *req, struct env *e, void *arg)
{
	int rc = store_env_get(req->store, arg, e);

	if (rc == 0 && strcmp(e->provider, ENV_CI) != 0) {
		crypto_wipe(e, sizeof(*e));
		rc = 1;
	}
	return rc;
}

/* ?wait=true (DATABASES_WAIT_DEFAULT), false, or SECONDS; -1 with the
 * answer sent when it is none of those. */
static int
query_wait(struct request *req, int64_t *seconds)
{
	char v[32];

	*seconds = 0;
	if (http_query(req, "wait", v, sizeof(v)) != 0 ||
	    strcasecmp(v, "false") == 0)
		return 0;
	if (strcasecmp(v, "true") == 0 || v[0] == '\0') {
		*seconds = DATABASES_WAIT_DEFAULT;
		return 0;
	}
	if (parse_int64(v, 0, API_MAX_WAIT, seconds) == 0)
		return 0;
	http_error(req, 400, "bad_request", "wait must be true, false or a "
	    "number of seconds from 0 to %d", API_MAX_WAIT);
	return -1;
}

static bool
caller_ok(struct request *req)
{
	enum auth_level lvl = auth_bearer(req, NULL);

	if (lvl == AUTH_ADMIN || lvl == AUTH_CI)
		return true;
	auth_deny(req);
	return false;
}

/* Wait (up to seconds) for the database to settle, then answer. */
static void
answer_db(struct request *req, int status, const char *id, int64_t seconds,
    bool with_url)
{
	struct env e;
	int found;

	if (seconds > 0 && !api_wait_begin(req))
		return;
	found = api_env_await(req, get_db, (void *)(uintptr_t)id,
	    mono_ms() + seconds * 1000, &e);
	if (seconds > 0)
		api_wait_end();
	if (found < 0)
		http_error(req, 503, "unavailable", "state store unavailable");
	else if (found == 1)
		http_error(req, 404, "not_found", "no database \"%s\"", id);
	else
		http_json(req, status, db_json(req->cfg, &e, with_url));
	if (found == 0)
		crypto_wipe(&e, sizeof(e));
}

/* A string member: 0 absent (out ""), 1 a string (copied), -1 another
 * type or too long. */
static int
member(const cJSON *body, const char *key, char *out, size_t outsz)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

	out[0] = '\0';
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || str_copy(out, v->valuestring, outsz) != 0)
		return -1;
	return 1;
}

/* The request's fields, checked; on error the answer is sent and -1
 * returned. */
struct create_args {
	char name[64], engine[16], ttl[32], blueprint[64];
	bool engine_given, name_given;
	int64_t ttl_s;
};

static int
create_args(struct request *req, struct create_args *a)
{
	const struct config *cfg = req->cfg;
	cJSON *body = NULL;
	int rc = -1, has_engine, has_name;

	memset(a, 0, sizeof(*a));
	if (req->body.len > 0) {
		body = cJSON_ParseWithLength(req->body.data, req->body.len);
		if (body == NULL || !cJSON_IsObject(body)) {
			http_error(req, 400, "bad_json", "the body must be a "
			    "JSON object");
			goto out;
		}
	}
	if ((has_name = member(body, "name", a->name, sizeof(a->name))) < 0 ||
	    (has_name == 1 && !name_ok(a->name))) {
		http_error(req, 422, "invalid_name", "name must be 1 to 63 of "
		    "A-Z a-z 0-9 . _ -");
		goto out;
	}
	if ((has_engine = member(body, "engine", a->engine,
	    sizeof(a->engine))) < 0 || (has_engine == 1 &&
	    config_engine(cfg, a->engine) == NULL)) {
		http_error(req, 422, "unknown_engine", "engine must be one of "
		    "the configured servers:%s%s",
		    cfg->postgres.configured ? " postgres" : "",
		    cfg->mysql.configured ? " mysql" : "");
		goto out;
	}
	a->engine_given = has_engine == 1;
	if (has_engine == 0)
		str_copy(a->engine, cfg->postgres.configured ? "postgres" :
		    "mysql", sizeof(a->engine));
	a->ttl_s = 7200;
	if (member(body, "ttl", a->ttl, sizeof(a->ttl)) < 0 ||
	    (a->ttl[0] != '\0' && (parse_duration(a->ttl, &a->ttl_s) != 0 ||
	    a->ttl_s <= 0))) {
		http_error(req, 422, "invalid_ttl", "ttl must be a duration "
		    "such as \"30m\" or \"2h\"");
		goto out;
	}
	if (a->ttl_s > cfg->server.max_ttl)
		a->ttl_s = cfg->server.max_ttl;
	if (member(body, "blueprint", a->blueprint, sizeof(a->blueprint)) < 0 ||
	    (a->blueprint[0] != '\0' && !source_blueprint_exists(
	    cfg->server.templates_dir, a->blueprint, a->engine))) {
		http_error(req, 422, "unknown_blueprint", "no blueprint \"%s\" "
		    "for %s", a->blueprint, a->engine);
		goto out;
	}
	a->name_given = has_name == 1;
	if (!a->name_given)
		str_copy(a->name, "ci", sizeof(a->name));
	rc = 0;
out:
	cJSON_Delete(body);
	return rc;
}

/* Hex HMAC of what identifies a request: the caller's token (keys are
 * per token, and the token itself is never stored) or the fields. */
static int
keyed_hash(const struct config *cfg, const char *what, const char *data,
    size_t len, char out[65])
{
	unsigned char mac[64];
	unsigned maclen = 0;
	struct buf b;
	int rc;

	buf_init(&b, len + 64);
	rc = buf_printf(&b, "%s\n", what);
	if (rc == 0)
		rc = buf_add(&b, data, len);
	if (rc == 0)
		rc = crypto_hmac("sha256", cfg->server.secret_key,
		    CRYPTO_KEY_LEN, b.data, b.len, mac, &maclen);
	crypto_wipe(b.data, b.len);
	buf_release(&b);
	if (rc != 0 || maclen != 32)
		return -1;
	hex_encode(mac, maclen, out);
	return 0;
}

int
databases_create(struct request *req)
{
	const char *key = http_header(req, "Idempotency-Key");
	const char *auth = http_header(req, "Authorization");
	struct create_args a;
	struct ci_request cr;
	enum ci_result res;
	char env_id[ENV_ID_SIZE], token_key[65], request_hash[65], fields[256];
	int64_t wait;
	size_t i;

	if (!caller_ok(req))
		return 0;
	if (query_wait(req, &wait) != 0)
		return 0;
	if (key != NULL) {
		for (i = 0; key[i] != '\0'; i++)
			if (key[i] < 0x21 || key[i] > 0x7e)
				break;
		if (i == 0 || key[i] != '\0' || i > KEY_MAX) {
			http_error(req, 400, "bad_request", "Idempotency-Key "
			    "must be 1 to %d printable characters", KEY_MAX);
			return 0;
		}
	}
	if (http_read_body(req, BODY_MAX) != 0 || create_args(req, &a) != 0)
		return 0;

	memset(&cr, 0, sizeof(cr));
	cr.name = a.name;
	cr.engine = a.engine;
	cr.ttl = a.ttl_s;
	cr.blueprint = a.blueprint;
	cr.max_databases = req->cfg->server.max_databases;
	if (key != NULL) {
		/* The request as asked, before defaults: "the same body",
		 * whatever the configuration says meanwhile. */
		snprintf(fields, sizeof(fields), "%s\n%s\n%s\n%s",
		    a.name_given ? a.name : "", a.engine_given ? a.engine : "",
		    a.ttl, a.blueprint);
		if (keyed_hash(req->cfg, "idempotency-token", auth,
		    strlen(auth), token_key) != 0 || keyed_hash(req->cfg,
		    "idempotency-request", fields, strlen(fields),
		    request_hash) != 0) {
			http_error(req, 500, "internal", "cannot hash the "
			    "request");
			return 0;
		}
		cr.key = key;
		cr.token_key = token_key;
		cr.request_hash = request_hash;
	}
	if (http_store(req) == NULL || store_ci_create(req->store, &cr, &res,
	    env_id) != 0) {
		http_error(req, 503, "unavailable", "cannot record the request; "
		    "retry it");
		return 0;
	}
	switch (res) {
	case CI_KEY_REUSED:
		http_error(req, 422, "idempotency_key_reused", "this "
		    "Idempotency-Key was used with a different request in the "
		    "last %d hours", IDEMPOTENCY_TTL / 3600);
		return 0;
	case CI_QUOTA:
		http_error(req, 429, "quota_exceeded", "%lld CI databases "
		    "exist, the most [server] max_databases allows; delete one "
		    "or wait for one to expire",
		    (long long)req->cfg->server.max_databases);
		return 0;
	case CI_CREATED:
		jobs_notify();
		log_info("CI database %s \"%s\" on %s requested (ttl %llds%s%s)",
		    env_id, a.name, a.engine, (long long)a.ttl_s,
		    a.blueprint[0] ? ", blueprint " : "", a.blueprint);
		break;
	case CI_REPLAYED:
		break;
	}
	answer_db(req, res == CI_CREATED ? 201 : 200, env_id, wait, true);
	return 0;
}

int
databases_list(struct request *req)
{
	api_list(req, true, "/api/v1/databases", db_item);
	return 0;
}

int
databases_get(struct request *req)
{
	int64_t wait;

	if (!caller_ok(req))
		return 0;
	if (query_wait(req, &wait) != 0)
		return 0;
	answer_db(req, 200, req->cap[0], wait, true);
	return 0;
}

int
databases_delete(struct request *req)
{
	const char *id = req->cap[0];
	struct env e;
	int rc;

	if (!caller_ok(req))
		return 0;
	if (http_store(req) == NULL || (rc = get_db(req, &e,
	    (void *)(uintptr_t)id)) < 0) {
		http_error(req, 503, "unavailable", "state store unavailable");
		return 0;
	}
	if (rc == 1) {
		http_error(req, 404, "not_found", "no database \"%s\"", id);
		return 0;
	}
	crypto_wipe(&e, sizeof(e));
	/* Deleting what is already going or gone is not an error. */
	rc = store_env_request_delete(req->store, id, "deleted through the "
	    "API");
	if (rc < 0) {
		http_error(req, 503, "unavailable", "state store unavailable");
		return 0;
	}
	if (rc == 0) {
		jobs_notify();
		metrics_deletion("api");
		log_info("CI database %s: delete requested", id);
	}
	answer_db(req, 202, id, 0, false);
	return 0;
}
