/*
 * envs: the environments: reading, saving and changing one, the counts and
 * lists the API, the admin page and the reaper ask for.
 */
#include "store/sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/log.h"

#define ENV_COLUMNS \
	"id, provider, repo, number, name, engine, want_present, want_sha, " \
	"event_at, activity_at, expires_at, ttl, status, head_sha, db_name, " \
	"role_name, pool_db, secret, error, created_at, updated_at, " \
	"api_target, reset_db, private_repo, installation_id, comment_id, " \
	"comment_hash, retry_requested, retried, size_bytes, last_delivery, " \
	"blueprint, applying, deleted_at, deleted_why, migrations_tool, " \
	"schema_from"

static void
env_from_row(sqlite3_stmt *s, struct env *e)
{
	const void *secret;
	char status[32];
	int n;

	memset(e, 0, sizeof(*e));
	store_column_text(s, 0, e->id, sizeof(e->id));
	store_column_text(s, 1, e->provider, sizeof(e->provider));
	store_column_text(s, 2, e->repo, sizeof(e->repo));
	e->number = sqlite3_column_int64(s, 3);
	store_column_text(s, 4, e->name, sizeof(e->name));
	store_column_text(s, 5, e->engine, sizeof(e->engine));
	e->want_present = sqlite3_column_int(s, 6) != 0;
	store_column_text(s, 7, e->want_sha, sizeof(e->want_sha));
	e->event_at = sqlite3_column_int64(s, 8);
	e->activity_at = sqlite3_column_int64(s, 9);
	e->expires_at = sqlite3_column_int64(s, 10);
	e->ttl = sqlite3_column_int64(s, 11);
	store_column_text(s, 12, status, sizeof(status));
	if (env_status_parse(status, &e->status) != 0)
		e->status = ENV_FAILED;
	store_column_text(s, 13, e->head_sha, sizeof(e->head_sha));
	store_column_text(s, 14, e->db_name, sizeof(e->db_name));
	store_column_text(s, 15, e->role_name, sizeof(e->role_name));
	store_column_text(s, 16, e->pool_db, sizeof(e->pool_db));
	secret = sqlite3_column_blob(s, 17);
	n = sqlite3_column_bytes(s, 17);
	if (secret != NULL && n > 0 && (size_t)n <= sizeof(e->secret)) {
		memcpy(e->secret, secret, (size_t)n);
		e->secret_len = (size_t)n;
	}
	store_column_text(s, 18, e->error, sizeof(e->error));
	e->created_at = sqlite3_column_int64(s, 19);
	e->updated_at = sqlite3_column_int64(s, 20);
	store_column_text(s, 21, e->api_target, sizeof(e->api_target));
	e->reset_db = sqlite3_column_int(s, 22) != 0;
	e->private_repo = sqlite3_column_int(s, 23) != 0;
	e->installation_id = sqlite3_column_int64(s, 24);
	e->comment_id = sqlite3_column_int64(s, 25);
	store_column_text(s, 26, e->comment_hash, sizeof(e->comment_hash));
	e->retry_requested = sqlite3_column_int64(s, 27);
	e->retried = sqlite3_column_int64(s, 28);
	e->size_bytes = sqlite3_column_int64(s, 29);
	store_column_text(s, 30, e->last_delivery, sizeof(e->last_delivery));
	store_column_text(s, 31, e->blueprint, sizeof(e->blueprint));
	store_column_text(s, 32, e->applying, sizeof(e->applying));
	e->deleted_at = sqlite3_column_int64(s, 33);
	store_column_text(s, 34, e->deleted_why, sizeof(e->deleted_why));
	store_column_text(s, 35, e->migrations_tool,
	    sizeof(e->migrations_tool));
	store_column_text(s, 36, e->schema_from, sizeof(e->schema_from));
}

static int
env_query_one(struct store *st, sqlite3_stmt *s, struct env *out)
{
	int step = sqlite3_step(s);

	if (step == SQLITE_ROW) {
		env_from_row(s, out);
		return 0;
	}
	if (step == SQLITE_DONE)
		return 1;
	store_log_error(st, "read environment");
	return -1;
}

int
store_env_get(struct store *st, const char *id, struct env *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (store_prepare(st, "SELECT " ENV_COLUMNS " FROM environments "
	    "WHERE id = ?1", &s) != 0)
		return -1;
	store_bind_text(s, 1, id);
	rc = env_query_one(st, s, out);
	sqlite3_finalize(s);
	return rc;
}

int
store_env_find_pr(struct store *st, const char *provider, const char *repo,
    int64_t number, struct env *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (store_prepare(st, "SELECT " ENV_COLUMNS " FROM environments "
	    "WHERE provider = ?1 AND repo = ?2 AND number = ?3", &s) != 0)
		return -1;
	store_bind_text(s, 1, provider);
	store_bind_text(s, 2, repo);
	sqlite3_bind_int64(s, 3, number);
	rc = env_query_one(st, s, out);
	sqlite3_finalize(s);
	return rc;
}

int
store_env_each(struct store *st, int (*fn)(const struct env *, void *),
    void *arg)
{
	sqlite3_stmt *s = NULL;
	struct env *e;
	int step, rc = -1;

	if ((e = malloc(sizeof(*e))) == NULL)
		return -1;
	if (store_prepare(st, "SELECT " ENV_COLUMNS " FROM environments "
	    "WHERE status != 'deleted' ORDER BY created_at, rowid", &s) != 0)
		goto out;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		env_from_row(s, e);
		if (fn(e, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		store_log_error(st, "list environments");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	crypto_wipe(e, sizeof(*e));
	free(e);
	return rc;
}

/* ---- lists, a page at a time ---- */

/* The status clients see (env_status_shown), in SQL. */
#define SHOWN_STATUS "(CASE WHEN want_present = 0 AND status != 'deleted' " \
	"THEN 'deleting' ELSE status END)"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* Which rows a list holds (constants only). */
static const char *const list_where[] = {
	[ENV_LIST_PR] = " AND provider != '" ENV_CI "' AND number != "
	    STRINGIFY(ENV_BASE_NUMBER),
	[ENV_LIST_CI] = " AND provider = '" ENV_CI "' AND number != "
	    STRINGIFY(ENV_BASE_NUMBER),
	[ENV_LIST_ALL] = "",
};

/*
 * The page's statement, put together from the fixed fragments above and
 * below (no value ever goes into the text: the filters are parameters,
 * ?1 repo, ?2 status, ?3 and ?4 the position, ?5 the limit). Leaving
 * out the conditions not asked for, rather than writing "(?1 = '' OR
 * ...)", lets sqlite walk the order's index from the position on.
 */
static int
page_sql(const struct env_query *q, char *sql, size_t sqlsz)
{
	const char *col = q->order == ENV_ORDER_EXPIRES ? "expires_at" :
	    "created_at";
	const char *dir = q->backward ? "DESC" : "ASC";

	return str_printf(sql, sqlsz, "SELECT " ENV_COLUMNS ", %s, rowid "
	    "FROM environments WHERE status != 'deleted'%s%s%s%s%s%s "
	    "ORDER BY %s %s, rowid %s LIMIT ?5", col, list_where[q->list],
	    q->repo != NULL && q->repo[0] != '\0' ? " AND repo = ?1" : "",
	    q->status != NULL && q->status[0] != '\0' ?
	    " AND " SHOWN_STATUS " = ?2" : "",
	    q->from != NULL ? " AND (" : "", q->from != NULL ? col : "",
	    q->from == NULL ? "" : q->backward ? ", rowid) < (?3, ?4)" :
	    ", rowid) > (?3, ?4)", col, dir, dir);
}

int
store_env_page(struct store *st, const struct env_query *q,
    int (*fn)(const struct env *, const struct env_pos *, void *),
    void *arg, bool *more)
{
	sqlite3_stmt *s = NULL;
	struct env_pos pos;
	struct env *e;
	char sql[2048];
	int64_t n = 0;
	int step = SQLITE_DONE, rc = -1;

	*more = false;
	if (q->limit < 1 || (size_t)q->list >= ARRAY_SIZE(list_where) ||
	    (e = malloc(sizeof(*e))) == NULL)
		return -1;
	if (page_sql(q, sql, sizeof(sql)) != 0 ||
	    store_prepare(st, sql, &s) != 0)
		goto out;
	store_bind_text(s, 1, q->repo != NULL ? q->repo : "");
	store_bind_text(s, 2, q->status != NULL ? q->status : "");
	if (q->from != NULL) {
		sqlite3_bind_int64(s, 3, q->from->key);
		sqlite3_bind_int64(s, 4, q->from->row);
	}
	/* One row past the page says whether there is another page. */
	sqlite3_bind_int64(s, 5, q->limit < INT64_MAX ? q->limit + 1 :
	    q->limit);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == q->limit) {
			*more = true;
			break;
		}
		env_from_row(s, e);
		pos.key = sqlite3_column_int64(s, 37);
		pos.row = sqlite3_column_int64(s, 38);
		n++;
		if (fn(e, &pos, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		store_log_error(st, "list a page of environments");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	crypto_wipe(e, sizeof(*e));
	free(e);
	return rc;
}

struct status_counts_cb {
	int (*fn)(const char *, int64_t, void *);
	void *arg;
};

static int
status_count_row(sqlite3_stmt *s, void *arg)
{
	struct status_counts_cb *c = arg;

	return c->fn((const char *)sqlite3_column_text(s, 0),
	    sqlite3_column_int64(s, 1), c->arg);
}

int
store_env_status_counts(struct store *st, enum env_list list,
    const char *repo, int (*fn)(const char *status, int64_t n, void *arg),
    void *arg)
{
	struct status_counts_cb c = { fn, arg };
	const char *params[1] = { repo != NULL ? repo : "" };
	char sql[1024];

	if ((size_t)list >= ARRAY_SIZE(list_where) ||
	    str_printf(sql, sizeof(sql), "SELECT " SHOWN_STATUS ", COUNT(*) "
	    "FROM environments WHERE status != 'deleted'%s%s "
	    "GROUP BY 1 ORDER BY 1", list_where[list],
	    params[0][0] != '\0' ? " AND repo = ?1" : "") != 0)
		return -1;
	return store_each_row(st, sql, params, params[0][0] != '\0' ? 1 : 0,
	    status_count_row, &c, "count environments by status");
}

int
store_env_repos(struct store *st, int64_t limit,
    int (*fn)(const char *repo, void *arg), void *arg)
{
	sqlite3_stmt *s = NULL;
	int step, rc = -1;

	if (store_prepare(st, "SELECT DISTINCT repo FROM environments "
	    "WHERE status != 'deleted' ORDER BY repo LIMIT ?1", &s) != 0)
		return -1;
	sqlite3_bind_int64(s, 1, limit);
	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		if (fn((const char *)sqlite3_column_text(s, 0), arg) != 0)
			break;
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
	else
		store_log_error(st, "list repositories");
	sqlite3_finalize(s);
	return rc;
}

/* What the pull request's comment shows changes when an environment
 * settles (ready, failed, deleted): the "notify" job, enqueued in the same
 * transaction as the change, so a crash cannot lose it. */
static bool
env_notifies(const struct env *e)
{
	/* A CI database and a base have no pull request to comment on. */
	return (e->status == ENV_READY || e->status == ENV_FAILED ||
	    e->status == ENV_DELETED) && strcmp(e->provider, ENV_CI) != 0 &&
	    e->number != ENV_BASE_NUMBER;
}

static int
env_update(struct store *st, const struct env *e)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, "UPDATE environments SET status = ?2, "
	    "head_sha = ?3, pool_db = ?4, secret = ?5, error = ?6, "
	    "updated_at = ?7, db_name = ?8, reset_db = ?9, retried = ?10, "
	    "applying = ?11, migrations_tool = ?12, schema_from = ?13 "
	    "WHERE id = ?1", &s) != 0)
		return -1;
	store_bind_text(s, 1, e->id);
	store_bind_text(s, 2, env_status_name(e->status));
	store_bind_text(s, 3, e->head_sha);
	store_bind_text(s, 4, e->pool_db);
	if (e->secret_len > 0)
		sqlite3_bind_blob(s, 5, e->secret, (int)e->secret_len,
		    SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, 5);
	store_bind_text(s, 6, e->error);
	sqlite3_bind_int64(s, 7, now_s());
	store_bind_text(s, 8, e->db_name);
	sqlite3_bind_int(s, 9, e->reset_db);
	sqlite3_bind_int64(s, 10, e->retried);
	store_bind_text(s, 11, e->applying);
	store_bind_text(s, 12, e->migrations_tool);
	store_bind_text(s, 13, e->schema_from);
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, "save environment");
	else
		rc = 0;
	sqlite3_finalize(s);
	return rc;
}

int
store_env_save(struct store *st, const struct env *e)
{
	bool txn = env_notifies(e) && sqlite3_get_autocommit(st->db);

	if (!env_notifies(e))
		return env_update(st, e);
	if (txn && store_begin(st) != 0)
		return -1;
	if (env_update(st, e) != 0 || store_job_insert(st, "notify", e->id, 0) != 0 ||
	    (txn && store_commit(st) != 0)) {
		if (txn)
			store_rollback(st);
		return -1;
	}
	return 0;
}

int
store_env_set_comment(struct store *st, const char *id, int64_t comment_id,
    const char *hash)
{
	return store_stmt_exec(st, "record comment", "UPDATE environments SET "
	    "comment_id = ?2, comment_hash = ?3 WHERE id = ?1", "tit", id,
	    comment_id, hash) < 0 ? -1 : 0;
}

int
store_env_request_delete(struct store *st, const char *id, const char *reason)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_begin(st) != 0)
		return -1;
	/* The deletion's point in time is never before the last event
	 * applied: the forge's clock set that one, and an event as old
	 * must not undo the deletion either. */
	if (store_prepare(st, "UPDATE environments SET want_present = 0, "
	    "error = CASE WHEN status = 'failed' THEN error ELSE ?2 END, "
	    "deleted_at = MAX(event_at, ?3), deleted_why = ?2, "
	    "updated_at = ?3 "
	    "WHERE id = ?1 AND (want_present = 1 OR status != 'deleted')",
	    &s) != 0)
		goto out;
	store_bind_text(s, 1, id);
	store_bind_text(s, 2, reason);
	sqlite3_bind_int64(s, 3, now_s());
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_log_error(st, "request delete");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		rc = 1;
		goto out;
	}
	if (store_job_insert(st, "env", id, 0) != 0 || store_commit(st) != 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(s);
	if (rc != 0)
		store_rollback(st);
	return rc;
}

/* One statement on one environment by id, plus an optional job, in one
 * transaction. 0 done, 1 no such row (or no change), -1 error. */
static int
env_change(struct store *st, const char *sql, const char *id, int64_t arg,
    const char *job)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_begin(st) != 0)
		return -1;
	if (store_prepare(st, sql, &s) != 0)
		goto out;
	store_bind_text(s, 1, id);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, arg);
	if (sqlite3_bind_parameter_count(s) >= 3)
		sqlite3_bind_int64(s, 3, now_s());
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_log_error(st, "change environment");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		rc = 1;
		goto out;
	}
	if ((job != NULL && store_job_insert(st, job, id, 0) != 0) ||
	    store_commit(st) != 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(s);
	if (rc != 0)
		store_rollback(st);
	return rc;
}

int
store_env_extend(struct store *st, const char *id, int64_t seconds)
{
	/* From the later of now and the current expiry: extending never
	 * shortens. The comment shows the new expiry. */
	return env_change(st, "UPDATE environments SET expires_at = "
	    "MAX(expires_at, ?3) + ?2, activity_at = ?3, updated_at = ?3 "
	    "WHERE id = ?1 AND want_present = 1", id, seconds, "notify");
}

int
store_env_request_retry(struct store *st, const char *id)
{
	return env_change(st, "UPDATE environments SET retry_requested = "
	    "retry_requested + 1, updated_at = ?3 WHERE id = ?1 AND "
	    "want_present = 1 AND status = 'failed'", id, 0, "env");
}

int
store_env_set_size(struct store *st, const char *engine, const char *db,
    int64_t bytes)
{
	return store_stmt_exec(st, "record a database's size", "UPDATE environments "
	    "SET size_bytes = ?3 WHERE engine = ?1 AND db_name = ?2 AND "
	    "status != 'deleted'", "tti", engine, db, bytes) < 0 ? -1 : 0;
}

struct counts_cb {
	int (*fn)(const char *, const char *, int64_t, void *);
	void *arg;
};

static int
count_row(sqlite3_stmt *s, void *arg)
{
	struct counts_cb *c = arg;

	return c->fn((const char *)sqlite3_column_text(s, 0),
	    (const char *)sqlite3_column_text(s, 1), sqlite3_column_int64(s, 2),
	    c->arg);
}

int
store_env_counts(struct store *st, int (*fn)(const char *engine,
    const char *status, int64_t n, void *arg), void *arg)
{
	struct counts_cb c = { fn, arg };

	return store_each_row(st, "SELECT engine, status, COUNT(*) FROM environments "
	    "WHERE status != 'deleted' GROUP BY engine, status ORDER BY 1, 2",
	    NULL, 0, count_row, &c, "count environments");
}

int
store_env_expired(struct store *st, int64_t now,
    int (*fn)(const char *id, void *), void *arg)
{
	sqlite3_stmt *s = NULL;
	char id[ENV_ID_SIZE];
	int step, rc = -1;

	if (store_prepare(st, "SELECT id FROM environments "
	    "WHERE want_present = 1 AND expires_at <= ?1", &s) != 0)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		store_column_text(s, 0, id, sizeof(id));
		if (fn(id, arg) != 0)
			break;
	}
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
	else
		store_log_error(st, "list expired environments");
	sqlite3_finalize(s);
	return rc;
}

int
store_prune(struct store *st, int64_t before)
{
	if (store_stmt_exec(st, "prune links", "DELETE FROM vercel_links WHERE "
	    "env_id IN (SELECT id FROM environments WHERE status = 'deleted' "
	    "AND want_present = 0 AND updated_at < ?1)", "i", before) < 0 ||
	    store_stmt_exec(st, "prune environments", "DELETE FROM environments "
	    "WHERE status = 'deleted' AND want_present = 0 AND updated_at < ?1",
	    "i", before) < 0 ||
	    store_stmt_exec(st, "prune deliveries", "DELETE FROM deliveries WHERE "
	    "received_at < ?1", "i", before) < 0)
		return -1;
	return 0;
}

/* Physical names for a new environment, unique on its server: the hash
 * in the name makes a clash between repositories all but impossible, and
 * a clash that does happen moves to the next salt. */
static int
env_pick_names(struct store *st, const struct pr_event *ev, char *db)
{
	sqlite3_stmt *s = NULL;
	unsigned salt;
	int rc = -1, step;

	if (store_prepare(st, "SELECT 1 FROM environments "
	    "WHERE engine = ?1 AND db_name = ?2", &s) != 0)
		return -1;
	for (salt = 0; salt < 16; salt++) {
		if (names_pr(ev->provider, ev->repo, ev->number, salt, db) != 0)
			break;
		sqlite3_reset(s);
		store_bind_text(s, 1, ev->engine);
		store_bind_text(s, 2, db);
		step = sqlite3_step(s);
		if (step == SQLITE_DONE) {
			rc = 0;
			break;
		}
		if (step != SQLITE_ROW) {
			store_log_error(st, "check names");
			break;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_env_insert(struct store *st, const struct pr_event *ev, const char *id,
    bool present, const char *given_name)
{
	sqlite3_stmt *s = NULL;
	char db[NAMES_SIZE], name[48];
	int64_t now = now_s();
	int rc = -1;

	if (env_pick_names(st, ev, db) != 0 || (given_name != NULL ?
	    str_copy(name, given_name, sizeof(name)) :
	    str_printf(name, sizeof(name), "preview-pr-%lld",
	    (long long)ev->number)) != 0)
		return -1;
	if (store_prepare(st, "INSERT INTO environments (id, provider, repo, "
	    "number, name, engine, want_present, want_sha, event_at, "
	    "activity_at, expires_at, ttl, status, db_name, role_name, "
	    "created_at, updated_at, api_target, private_repo, "
	    "installation_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	    "?11, ?12, ?13, ?14, ?14, ?10, ?10, ?15, ?16, ?17)", &s) != 0)
		return -1;
	store_bind_text(s, 1, id);
	store_bind_text(s, 2, ev->provider);
	store_bind_text(s, 3, ev->repo);
	sqlite3_bind_int64(s, 4, ev->number);
	store_bind_text(s, 5, name);
	store_bind_text(s, 6, ev->engine);
	sqlite3_bind_int(s, 7, present);
	store_bind_text(s, 8, ev->head_sha ? ev->head_sha : "");
	sqlite3_bind_int64(s, 9, ev->event_at);
	sqlite3_bind_int64(s, 10, now);
	sqlite3_bind_int64(s, 11, now + ev->ttl);
	sqlite3_bind_int64(s, 12, ev->ttl);
	store_bind_text(s, 13, present ? "provisioning" : "deleted");
	store_bind_text(s, 14, db);
	store_bind_text(s, 15, ev->api_target ? ev->api_target : ev->repo);
	sqlite3_bind_int(s, 16, ev->private_repo);
	sqlite3_bind_int64(s, 17, ev->installation_id);
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, "insert environment");
	else
		rc = 0;
	sqlite3_finalize(s);
	return rc;
}
