/*
 * admin: the page and its actions.
 */
#include "handlers/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>
#include <openssl/crypto.h>

#include "core/health.h"
#include "core/pooler.h"
#include "engines/engine.h"
#include "handlers/api.h"
#include "handlers/page.h"
#include "lib/crypto.h"
#include "core/jobs.h"
#include "lib/log.h"
#include "core/metrics.h"
#include "lib/scrub.h"
#include "lib/template.h"

/* The rendered page's ceiling. A page holds at most ADMIN_LIMIT_MAX
 * environments (about 12 kB each at worst: a 1 kB error escaped, long
 * repository names) and ADMIN_REPOS_MAX repositories in the filter,
 * whatever the size of the fleet. */
#define PAGE_MAX ((size_t)16 << 20)
#define ADMIN_LIMIT_MAX 500
#define ADMIN_REPOS_MAX 500
#define CSRF_LEN 32                 /* hex characters */

static struct template *admin_template;

int
admin_init(const struct config *cfg, char *err, size_t errlen)
{
	char path[4096];

	if (str_printf(path, sizeof(path), "%s/admin.html",
	    cfg->server.templates_dir) != 0) {
		snprintf(err, errlen, "templates_dir too long");
		return -1;
	}
	return template_load(path, TEMPLATE_HTML, &admin_template, err, errlen);
}

void
admin_release(void)
{
	template_free(admin_template);
	admin_template = NULL;
}

/* ---- who is asking ---- */

/* The Basic user name into user when the password is admin_token. */
static bool
basic_auth(const struct request *req, char *user, size_t usersz)
{
	const char *h = http_header(req, "Authorization");
	unsigned char decoded[512];
	const char *colon;
	size_t i, n;
	int len;
	bool ok;

	if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
		return false;
	for (h += 6; *h == ' '; h++)
		;
	if ((len = crypto_base64_decode(h, decoded, sizeof(decoded) - 1)) <= 0)
		return false;
	decoded[len] = '\0';
	colon = memchr(decoded, ':', (size_t)len);
	if (colon == NULL)
		return false;
	n = (size_t)(colon - (const char *)decoded);
	ok = crypto_token_eq(colon + 1, (size_t)len - n - 1,
	    req->cfg->server.admin_token);
	/* The name goes into log lines: printable ASCII, bounded. */
	if (n >= usersz)
		n = usersz - 1;
	for (i = 0; i < n; i++)
		user[i] = decoded[i] > ' ' && decoded[i] < 0x7f ?
		    (char)decoded[i] : '_';
	user[n] = '\0';
	if (n == 0)
		str_copy(user, "admin", usersz);
	crypto_wipe(decoded, sizeof(decoded));
	return ok;
}

static void
deny(struct request *req)
{
	static const char *const headers[] = {
		"WWW-Authenticate", "Basic realm=\"previewd\", charset=\"UTF-8\"",
		NULL,
	};
	static const char body[] = "previewd: log in with any user name and "
	    "the admin token as the password\n";

	http_reply_headers(req, 401, "text/plain; charset=utf-8", headers,
	    body, sizeof(body) - 1);
}

/* HMAC(secret_key, "csrf", user, day), hex: bound to the user, valid
 * today and tomorrow. */
static void
csrf_token(const struct config *cfg, const char *user, int64_t day,
    char out[CSRF_LEN + 1])
{
	unsigned char mac[64];
	unsigned maclen = 0;
	char msg[160], hex[129];

	snprintf(msg, sizeof(msg), "csrf\n%s\n%lld", user, (long long)day);
	if (crypto_hmac("sha256", cfg->server.secret_key, CRYPTO_KEY_LEN, msg,
	    strlen(msg), mac, &maclen) != 0)
		maclen = 0;
	hex_encode(mac, maclen, hex);
	str_copy(out, hex, CSRF_LEN + 1);
}

static bool
csrf_ok(const struct config *cfg, const char *user, const char *given)
{
	char want[CSRF_LEN + 1];
	int64_t day = now_s() / 86400;
	int d;

	if (strlen(given) != CSRF_LEN)
		return false;
	for (d = 0; d < 2; d++) {
		csrf_token(cfg, user, day - d, want);
		if (CRYPTO_memcmp(want, given, CSRF_LEN) == 0)
			return true;
	}
	return false;
}

/* ---- the page ---- */

/* The web address of a pull request on its forge, from the API's. */
static void
pr_url(const struct config *cfg, const struct env *e, char *out, size_t outsz)
{
	char base[512];
	size_t n;

	if (strcmp(e->provider, "gitlab") == 0) {
		str_copy(base, cfg->gitlab.api_url ? cfg->gitlab.api_url :
		    "https://gitlab.com/api/v4", sizeof(base));
		n = strlen(base);
		if (n > 7 && strcmp(base + n - 7, "/api/v4") == 0)
			base[n - 7] = '\0';
		snprintf(out, outsz, "%s/%s/-/merge_requests/%lld", base,
		    e->repo, (long long)e->number);
		return;
	}
	str_copy(base, cfg->github.api_url ? cfg->github.api_url :
	    "https://api.github.com", sizeof(base));
	if (strcmp(base, "https://api.github.com") == 0)
		str_copy(base, "https://github.com", sizeof(base));
	n = strlen(base);
	if (n > 7 && strcmp(base + n - 7, "/api/v3") == 0)
		base[n - 7] = '\0';    /* GitHub Enterprise Server */
	snprintf(out, outsz, "%s/%s/pull/%lld", base, e->repo,
	    (long long)e->number);
}

static void
human_duration(int64_t s, char *out, size_t outsz)
{
	if (s <= 0)
		snprintf(out, outsz, "expired");
	else if (s >= 86400)
		snprintf(out, outsz, "%lldd %lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, outsz, "%lldh %lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(out, outsz, "%lldm", (long long)((s + 59) / 60));
}

static void
human_size(int64_t bytes, char *out, size_t outsz)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 0) {
		out[0] = '\0';
		return;
	}
	while (v >= 1000 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	snprintf(out, outsz, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

struct page {
	const struct config *cfg;
	cJSON *envs;
	bool backward;               /* rows come nearest first: prepend */
	int count;
	bool failed;
	struct env_pos first, last;  /* the page's rows, in the page's order */
};

static int
page_env(const struct env *e, const struct env_pos *pos, void *arg)
{
	struct page *p = arg;
	char buf[1024];
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL) {
		p->failed = true;
		return -1;
	}
	cJSON_AddStringToObject(o, "id", e->id);
	cJSON_AddStringToObject(o, "repo", e->repo);
	cJSON_AddNumberToObject(o, "number", (double)e->number);
	pr_url(p->cfg, e, buf, sizeof(buf));
	cJSON_AddStringToObject(o, "pr_url", buf);
	cJSON_AddStringToObject(o, "provider", e->provider);
	cJSON_AddStringToObject(o, "name", e->name);
	cJSON_AddStringToObject(o, "kind", strcmp(e->provider, ENV_CI) == 0 ?
	    "ci" : e->number == ENV_BASE_NUMBER ? "base" : "pr");
	cJSON_AddBoolToObject(o, "is_ci", strcmp(e->provider, ENV_CI) == 0);
	cJSON_AddBoolToObject(o, "is_base", e->number == ENV_BASE_NUMBER);
	cJSON_AddStringToObject(o, "engine", e->engine);
	cJSON_AddStringToObject(o, "status",
	    env_status_name(env_status_shown(e)));
	cJSON_AddBoolToObject(o, "failed", e->status == ENV_FAILED);
	str_copy(buf, e->error, sizeof(buf));
	(void)scrub_text(buf, sizeof(buf));
	cJSON_AddStringToObject(o, "error", buf);
	snprintf(buf, sizeof(buf), "%.12s", e->head_sha);
	cJSON_AddStringToObject(o, "head_sha_short", buf);
	api_add_time(o, "created_at", e->created_at);
	api_add_time(o, "activity_at", e->activity_at);
	api_add_time(o, "expires_at", e->expires_at);
	human_duration(e->want_present ? e->expires_at - now_s() : 0, buf,
	    sizeof(buf));
	cJSON_AddStringToObject(o, "expires_in", e->want_present ? buf : "going");
	human_size(e->size_bytes, buf, sizeof(buf));
	cJSON_AddStringToObject(o, "size", buf);
	cJSON_AddBoolToObject(o, "can_retry", e->status == ENV_FAILED &&
	    e->want_present);
	/* Asked to go: nothing left to extend or destroy. */
	cJSON_AddBoolToObject(o, "going", !e->want_present);
	cJSON_AddStringToObject(o, "database", e->db_name);
	cJSON_AddStringToObject(o, "db_user", e->role_name);
	cJSON_AddStringToObject(o, "migrations_tool", e->migrations_tool);
	cJSON_AddStringToObject(o, "schema_from", e->schema_from);
	/* A page read backward (the one before a position) comes nearest
	 * first: each row goes in front, so the page shows in the list's
	 * order. Inserting at 0 is the one cheap place in cJSON's list. */
	if (p->backward) {
		if (!cJSON_InsertItemInArray(p->envs, 0, o)) {
			cJSON_Delete(o);
			p->failed = true;
			return -1;
		}
		if (p->count == 0)
			p->last = *pos;
		p->first = *pos;
	} else {
		cJSON_AddItemToArray(p->envs, o);
		if (p->count == 0)
			p->first = *pos;
		p->last = *pos;
	}
	p->count++;
	return 0;
}

static int
any_row(const struct env *e, const struct env_pos *pos, void *arg)
{
	(void)e;
	(void)pos;
	*(bool *)arg = true;
	return 1;
}

/* Whether q's list has a row beyond pos (before it when backward): for
 * the link to the other side of the page. -1 when the store fails. */
static int
page_beyond(struct request *req, const struct env_query *base,
    const struct env_pos *pos, bool backward)
{
	struct env_query q = *base;
	bool found = false, more;

	q.from = pos;
	q.backward = backward;
	q.limit = 1;
	if (store_env_page(req->store, &q, any_row, &found, &more) != 0)
		return -1;
	return found;
}

/* data's "prev_url" or "next_url": the page before first or after last,
 * keeping the filters, the sort and the limit. */
static int
page_link(struct request *req, cJSON *data, const char *key, char order,
    const struct env_pos *pos, bool before)
{
	static const char *const drop[] = { "done", "env", NULL };
	struct cursor c = { order, before, pos->key, pos->row };
	char text[CURSOR_SIZE];
	struct buf url;
	int rc = -1;

	buf_init(&url, (size_t)256 << 10);
	if (cursor_encode(&c, text, sizeof(text)) != 0 ||
	    page_url(req, "/", drop, text, &url) != 0)
		goto out;
	cJSON_AddStringToObject(data, key, url.data);
	rc = 0;
out:
	buf_release(&url);
	return rc;
}

struct status_counts {
	cJSON *statuses;
	int64_t total;
};

static int
status_count(const char *status, int64_t n, void *arg)
{
	struct status_counts *sc = arg;
	cJSON *o;

	sc->total += n;
	cJSON_ArrayForEach(o, sc->statuses) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");

		if (strcmp(name->valuestring, status) == 0)
			cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(o,
			    "count"), (double)n);
	}
	return 0;
}

struct repos {
	cJSON *list;
	const char *selected;
	bool found;
};

static int
repo_one(const char *repo, void *arg)
{
	struct repos *r = arg;
	cJSON *o = cJSON_CreateObject();
	bool sel = r->selected[0] != '\0' && strcasecmp(repo, r->selected) == 0;

	cJSON_AddStringToObject(o, "name", repo);
	cJSON_AddBoolToObject(o, "selected", sel);
	cJSON_AddItemToArray(r->list, o);
	r->found |= sel;
	return 0;
}

static cJSON *
page_pools(struct request *req)
{
	cJSON *pools = cJSON_CreateArray(), *o;
	int idle, creating, claims, cold;
	size_t i;

	for (i = 0; engine_at(i) != NULL; i++) {
		const char *name = engine_at(i)->name;
		const struct engine_cfg *ec = config_engine(req->cfg, name);

		if (ec == NULL)
			continue;
		if (store_pool_counts(req->store, name, &idle, &creating) != 0)
			idle = creating = 0;
		metrics_claims_last_hour(name, &claims, &cold);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "engine", name);
		cJSON_AddNumberToObject(o, "target", (double)ec->pool_size);
		cJSON_AddNumberToObject(o, "idle", idle);
		cJSON_AddNumberToObject(o, "creating", creating);
		cJSON_AddNumberToObject(o, "claims_hour", claims);
		cJSON_AddNumberToObject(o, "cold_hour", cold);
		cJSON_AddItemToArray(pools, o);
	}
	return pools;
}

/* pgbouncer's state and load, when previewd puts it in front of
 * PostgreSQL (core/pooler.h). */
static void
page_pgbouncer(cJSON *data)
{
	cJSON *p = pooler_json();
	const cJSON *st;

	if (p == NULL)
		return;
	st = cJSON_GetObjectItemCaseSensitive(p, "state");
	cJSON_AddBoolToObject(p, "down", !cJSON_IsString(st) ||
	    strcmp(st->valuestring, "running") != 0);
	cJSON_AddItemToObject(data, "pgbouncer", p);
}

/* What previewd depends on, as GET /api/v1/health shows it: the page
 * is behind the admin token too, so it shows the (scrubbed) errors. */
static void
page_health(cJSON *data)
{
	bool ready = false;
	cJSON *h = health_json(true, &ready), *list, *c;

	cJSON_AddBoolToObject(data, "ready", ready);
	list = h ? cJSON_DetachItemFromObjectCaseSensitive(h, "components") :
	    NULL;
	cJSON_ArrayForEach(c, list) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "state");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(c, "kind");
		bool state = cJSON_IsString(kind) &&
		    strcmp(kind->valuestring, "state") == 0;

		cJSON_AddBoolToObject(c, "down", cJSON_IsString(st) &&
		    strcmp(st->valuestring, "ok") != 0);
		cJSON_AddStringToObject(c, "label", state ? "state file" :
		    cJSON_IsString(name) ? name->valuestring : "");
		cJSON_AddStringToObject(c, "kind_label", state ? "" :
		    cJSON_IsString(kind) ? kind->valuestring : "");
	}
	cJSON_AddItemToObject(data, "health", list ? list :
	    cJSON_CreateArray());
	cJSON_Delete(h);
}

static void
page_flash(struct request *req, cJSON *data)
{
	char done[16], id[ENV_ID_SIZE], msg[200];

	if (http_query(req, "done", done, sizeof(done)) != 0 ||
	    http_query(req, "env", id, sizeof(id)) != 0)
		return;
	/* Built here from fixed words: a link cannot put its own text in
	 * the page. */
	if (strspn(id, "env_0123456789abcdef") != strlen(id))
		return;
	if (strcmp(done, "extend") == 0)
		snprintf(msg, sizeof(msg), "%s extended by 24 hours.", id);
	else if (strcmp(done, "destroy") == 0)
		snprintf(msg, sizeof(msg), "%s is being destroyed.", id);
	else if (strcmp(done, "retry") == 0)
		snprintf(msg, sizeof(msg), "%s is being retried.", id);
	else
		return;
	cJSON_AddStringToObject(data, "flash", msg);
}

/* The environments' part of the page: the filters' choices with their
 * counts, one page of rows and the links to the pages around it. On
 * failure the answer has been sent. */
static int
page_envs(struct request *req, cJSON *data, const char *repo,
    const char *status, bool by_expiry)
{
	static const char *const listed[] = { "queued", "provisioning",
	    "migrating", "seeding", "ready", "failed", "deleting" };
	const char order = by_expiry ? 'x' : 'c';
	struct page_args pa;
	struct env_query q;
	struct env_pos from;
	struct status_counts sc;
	struct repos rs;
	struct page p;
	cJSON *o;
	bool more = false;
	int prev, next;
	size_t i;

	if (page_args(req, ADMIN_LIMIT_MAX, by_expiry ? "x" : "c", true,
	    &pa) != 0)
		return -1;
	if (http_store(req) == NULL)
		goto unavailable;

	/* The status filter's choices, each with its count (of the
	 * repository chosen): one aggregate query. */
	sc.statuses = cJSON_AddArrayToObject(data, "statuses");
	sc.total = 0;
	for (i = 0; i < ARRAY_SIZE(listed); i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", listed[i]);
		cJSON_AddBoolToObject(o, "selected", strcmp(listed[i], status) == 0);
		cJSON_AddNumberToObject(o, "count", 0);
		cJSON_AddItemToArray(sc.statuses, o);
	}
	if (store_env_status_counts(req->store, ENV_LIST_ALL, repo,
	    status_count, &sc) != 0)
		goto unavailable;
	cJSON_AddNumberToObject(data, "total", (double)sc.total);

	rs.list = cJSON_AddArrayToObject(data, "repos");
	rs.selected = repo;
	rs.found = false;
	if (store_env_repos(req->store, ADMIN_REPOS_MAX, repo_one, &rs) != 0)
		goto unavailable;
	if (repo[0] != '\0' && !rs.found)
		(void)repo_one(repo, &rs);

	memset(&q, 0, sizeof(q));
	q.list = ENV_LIST_ALL;
	q.order = by_expiry ? ENV_ORDER_EXPIRES : ENV_ORDER_CREATED;
	q.repo = repo;
	q.status = status;
	q.limit = pa.limit;
	if (pa.has_cursor) {
		from.key = pa.cursor.key;
		from.row = pa.cursor.tie;
		q.from = &from;
		q.backward = pa.cursor.before;
	}
	memset(&p, 0, sizeof(p));
	p.cfg = req->cfg;
	p.backward = q.backward;
	p.envs = cJSON_AddArrayToObject(data, "environments");
	if (store_env_page(req->store, &q, page_env, &p, &more) != 0 ||
	    p.failed)
		goto unavailable;
	/* An empty page past a cursor still has a side to go back to. */
	if (p.count == 0 && pa.has_cursor)
		p.first = p.last = from;

	/* The other side of the page from the way it was read: asked of
	 * the store (one row), since rows come and go between requests. */
	if (q.backward) {
		prev = more;
		next = p.count > 0 || pa.has_cursor ? page_beyond(req, &q,
		    &p.last, false) : 0;
	} else {
		next = more;
		prev = pa.has_cursor ? page_beyond(req, &q, &p.first, true) : 0;
	}
	if (prev < 0 || next < 0)
		goto unavailable;
	if ((prev && page_link(req, data, "prev_url", order, &p.first,
	    true) != 0) || (next && page_link(req, data, "next_url", order,
	    &p.last, false) != 0)) {
		http_error(req, 500, "internal", "cannot build the address of "
		    "the next page");
		return -1;
	}
	cJSON_AddBoolToObject(data, "paged", prev || next);
	cJSON_AddNumberToObject(data, "shown", p.count);
	/* What the filters select, all pages together. */
	if (status[0] == '\0') {
		cJSON_AddNumberToObject(data, "count", (double)sc.total);
	} else {
		int64_t n = 0;

		cJSON_ArrayForEach(o, sc.statuses)
			if (strcmp(cJSON_GetObjectItemCaseSensitive(o, "name")->
			    valuestring, status) == 0)
				n = (int64_t)cJSON_GetObjectItemCaseSensitive(o,
				    "count")->valuedouble;
		cJSON_AddNumberToObject(data, "count", (double)n);
	}
	return 0;
unavailable:
	http_error(req, 503, "unavailable", "state store unavailable");
	return -1;
}

int
admin_page(struct request *req)
{
	char user[65], repo[ENV_REPO_SIZE] = "", status[16] = "", sort[16] =
	    "created", csrf[CSRF_LEN + 1], ts[RFC3339_LEN];
	struct buf out;
	cJSON *data = NULL;

	if (!basic_auth(req, user, sizeof(user))) {
		deny(req);
		return 0;
	}
	if (admin_template == NULL) {
		http_error(req, 500, "internal", "the admin page template is "
		    "not loaded");
		return 0;
	}
	buf_init(&out, PAGE_MAX);
	(void)http_query(req, "repo", repo, sizeof(repo));
	(void)http_query(req, "status", status, sizeof(status));
	(void)http_query(req, "sort", sort, sizeof(sort));
	if (strcmp(sort, "expires") != 0)
		str_copy(sort, "created", sizeof(sort));
	data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "user", user);
	csrf_token(req->cfg, user, now_s() / 86400, csrf);
	cJSON_AddStringToObject(data, "csrf", csrf);
	time_rfc3339(now_s(), ts);
	cJSON_AddStringToObject(data, "now", ts);
	cJSON_AddStringToObject(data, "filter_repo", repo);
	cJSON_AddStringToObject(data, "filter_status", status);
	cJSON_AddStringToObject(data, "sort", sort);
	cJSON_AddBoolToObject(data, "sort_expires", strcmp(sort, "expires") == 0);
	if (page_envs(req, data, repo, status, strcmp(sort, "expires") == 0) !=
	    0)
		goto out;
	cJSON_AddItemToObject(data, "pools", page_pools(req));
	page_pgbouncer(data);
	page_health(data);
	page_flash(req, data);
	if (template_render(admin_template, data, &out) != 0) {
		http_error(req, 500, "internal", "the page is too large");
		goto out;
	}
	{
		static const char *const headers[] = {
			"Content-Security-Policy", "default-src 'none'; "
			    "style-src 'unsafe-inline'; img-src data:; "
			    "form-action 'self'; frame-ancestors 'none'",
			"X-Frame-Options", "DENY",
			"Referrer-Policy", "no-referrer",
			NULL,
		};

		http_reply_headers(req, 200, "text/html; charset=utf-8", headers,
		    out.data, out.len);
	}
out:
	cJSON_Delete(data);
	buf_release(&out);
	return 0;
}

/* ---- the actions ---- */

int
admin_action(struct request *req)
{
	const char *id = req->cap[0], *action = req->cap[1];
	char user[65], csrf[64], location[128];
	const char *headers[3];
	int rc;

	if (!basic_auth(req, user, sizeof(user))) {
		deny(req);
		return 0;
	}
	/* The id goes into a header and the log: only an id's characters. */
	if (!env_id_ok(id)) {
		http_error(req, 404, "not_found", "no such environment");
		return 0;
	}
	if (http_read_body(req, 8192) != 0)
		return 0;
	if (mg_get_var(req->body.data, req->body.len, "csrf", csrf,
	    sizeof(csrf)) < 0 || !csrf_ok(req->cfg, user, csrf)) {
		log_warnx("admin %s: %s %s refused: missing or wrong CSRF token",
		    user, action, id);
		http_error(req, 403, "forbidden", "missing or wrong CSRF token: "
		    "reload the page and try again");
		return 0;
	}
	if (http_store(req) == NULL) {
		http_error(req, 503, "unavailable", "state store unavailable");
		return 0;
	}
	if (strcmp(action, "extend") == 0) {
		rc = store_env_extend(req->store, id, 86400);
	} else if (strcmp(action, "destroy") == 0) {
		char reason[128];

		snprintf(reason, sizeof(reason), "destroyed from the admin page "
		    "by %s", user);
		rc = store_env_request_delete(req->store, id, reason);
		if (rc == 0)
			metrics_deletion("api");
	} else if (strcmp(action, "retry") == 0) {
		rc = store_env_request_retry(req->store, id);
	} else {
		http_error(req, 404, "not_found", "no such action");
		return 0;
	}
	if (rc < 0) {
		http_error(req, 503, "unavailable", "state store unavailable");
		return 0;
	}
	if (rc == 1) {
		http_error(req, 409, "conflict", "%s cannot be %sed now (gone, "
		    "or not in a state that allows it)", id, action);
		return 0;
	}
	jobs_notify();
	log_info("admin %s: %s %s", user, action, id);
	snprintf(location, sizeof(location), "/?done=%s&env=%s", action, id);
	headers[0] = "Location";
	headers[1] = location;
	headers[2] = NULL;
	http_reply_headers(req, 303, "text/plain; charset=utf-8", headers,
	    "done\n", 5);
	return 0;
}
