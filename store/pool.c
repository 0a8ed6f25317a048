/*
 * pool: the warm pool: members being created, idle and claimed; the claim
 * itself is one transaction.
 */
#include "store/sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/log.h"

int
store_pool_add(struct store *st, const char *engine, const char *db,
    const unsigned char *secret, size_t secret_len)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	/* The member's password is on disk before its role has it. */
	if (store_durable(st, true) != 0)
		return -1;
	if (store_prepare(st, "INSERT INTO pool (engine, db_name, state, "
	    "created_at, secret) VALUES (?1, ?2, 'creating', ?3, ?4)", &s) != 0)
		goto out;
	store_bind_text(s, 1, engine);
	store_bind_text(s, 2, db);
	sqlite3_bind_int64(s, 3, now_ms());
	if (secret != NULL && secret_len > 0)
		sqlite3_bind_blob(s, 4, secret, (int)secret_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, 4);
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, "add pool database");
	else
		rc = 0;
out:
	sqlite3_finalize(s);
	(void)store_durable(st, false);
	return rc;
}

int
store_pool_add_base(struct store *st, const char *engine, const char *db,
    const unsigned char *secret, size_t secret_len, const char *base_env,
    const char *sha)
{
	if (store_pool_add(st, engine, db, secret, secret_len) != 0)
		return -1;
	return store_stmt_exec(st, "mark pool database as a base's copy",
	    "UPDATE pool SET base_env = ?3, base_sha = ?4 WHERE engine = ?1 "
	    "AND db_name = ?2", "tttt", engine, db, base_env, sha) < 0 ? -1 : 0;
}

int
store_pool_each_base(struct store *st, const char *base_env,
    int (*fn)(const char *db, const char *state, const char *sha,
    void *arg), void *arg)
{
	sqlite3_stmt *s = NULL;
	char db[NAMES_SIZE], state[16], sha[ENV_SHA_SIZE];
	int step, rc = -1;

	if (store_prepare(st, "SELECT db_name, state, base_sha FROM pool "
	    "WHERE base_env = ?1 AND state != 'claimed' ORDER BY created_at",
	    &s) != 0)
		return -1;
	store_bind_text(s, 1, base_env);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		store_column_text(s, 0, db, sizeof(db));
		store_column_text(s, 1, state, sizeof(state));
		store_column_text(s, 2, sha, sizeof(sha));
		if (fn(db, state, sha, arg) != 0)
			break;
	}
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
	else
		store_log_error(st, "list a base's pool databases");
	sqlite3_finalize(s);
	return rc;
}

struct base_idle_cb {
	int (*fn)(const char *, const char *, const char *, int64_t, void *);
	void *arg;
};

static int
base_idle_row(sqlite3_stmt *s, void *arg)
{
	struct base_idle_cb *c = arg;

	return c->fn((const char *)sqlite3_column_text(s, 0),
	    (const char *)sqlite3_column_text(s, 1),
	    (const char *)sqlite3_column_text(s, 2),
	    sqlite3_column_int64(s, 3), c->arg);
}

int
store_pool_base_idle(struct store *st, int (*fn)(const char *provider,
    const char *repo, const char *engine, int64_t n, void *arg), void *arg)
{
	struct base_idle_cb c = { fn, arg };

	return store_each_row(st, "SELECT e.provider, e.repo, p.engine, "
	    "SUM(p.state = 'idle') FROM pool p JOIN environments e ON "
	    "e.id = p.base_env GROUP BY e.provider, e.repo, p.engine "
	    "ORDER BY 1, 2, 3", NULL, 0, base_idle_row, &c,
	    "count a base's copies");
}

int
store_pool_ready(struct store *st, const char *engine, const char *db)
{
	/* Milliseconds, so that claims take the oldest idle database even
	 * among several made in one second. */
	return store_stmt_exec(st, "mark pool database idle", "UPDATE pool SET "
	    "state = 'idle', created_at = ?3 WHERE engine = ?1 AND db_name = ?2 "
	    "AND state = 'creating'", "tti", engine, db, now_ms()) < 0 ? -1 : 0;
}

int
store_pool_remove(struct store *st, const char *engine, const char *db)
{
	return store_stmt_exec(st, "remove pool database", "DELETE FROM pool WHERE "
	    "engine = ?1 AND db_name = ?2", "tt", engine, db) < 0 ? -1 : 0;
}

int
store_pool_forget_idle(struct store *st, const char *engine, const char *db)
{
	int n = store_stmt_exec(st, "forget pool database", "DELETE FROM pool WHERE "
	    "engine = ?1 AND db_name = ?2 AND state = 'idle'", "tt", engine, db);

	return n < 0 ? -1 : n > 0 ? 0 : 1;
}

int
store_pool_counts(struct store *st, const char *engine, int *idle,
    int *creating)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, "SELECT "
	    "COALESCE(SUM(state = 'idle'), 0), "
	    "COALESCE(SUM(state = 'creating'), 0) "
	    "FROM pool WHERE engine = ?1 AND base_env IS NULL", &s) != 0)
		return -1;
	store_bind_text(s, 1, engine);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*idle = sqlite3_column_int(s, 0);
		*creating = sqlite3_column_int(s, 1);
		rc = 0;
	} else {
		store_log_error(st, "count pool");
	}
	sqlite3_finalize(s);
	return rc;
}

/* fn for each (db_name, secret) row that sql (engine bound to ?1) reads. */
static int
each_secret(struct store *st, const char *sql, const char *engine,
    int (*fn)(const char *db, const unsigned char *secret, size_t len,
    void *arg), void *arg)
{
	sqlite3_stmt *s = NULL;
	char db[NAMES_SIZE];
	int step, rc = -1;

	if (store_prepare(st, sql, &s) != 0)
		return -1;
	store_bind_text(s, 1, engine);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		store_column_text(s, 0, db, sizeof(db));
		if (fn(db, sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1), arg) != 0)
			break;
	}
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
	else
		store_log_error(st, "list pool");
	sqlite3_finalize(s);
	return rc;
}

int
store_pool_each_creating(struct store *st, const char *engine,
    int (*fn)(const char *db, const unsigned char *secret, size_t len,
    void *arg), void *arg)
{
	return each_secret(st, "SELECT db_name, secret FROM pool WHERE "
	    "engine = ?1 AND state = 'creating' AND base_env IS NULL "
	    "ORDER BY created_at", engine, fn, arg);
}

int
store_pool_each_idle(struct store *st, const char *engine,
    int (*fn)(const char *db, const unsigned char *secret, size_t len,
    void *arg), void *arg)
{
	return each_secret(st, "SELECT db_name, secret FROM pool WHERE "
	    "engine = ?1 AND state = 'idle' AND secret IS NOT NULL "
	    "ORDER BY created_at", engine, fn, arg);
}

/* Inside the claim's transaction: whether e may take a slot. Counted in
 * the same transaction as the claim, so two workers cannot both take the
 * last one. First come, first served: the environments that arrived
 * before e (rowid order is arrival order) and still wait for a slot are
 * counted as if they held theirs, so a younger one never overtakes them
 * when workers race. 0 yes, 1 no (cap's out fields set), -1 error. */
static int
cap_check(struct store *st, const struct env *e, struct store_cap *cap)
{
	static const char sql[] =
	    "WITH me AS (SELECT rowid AS r FROM environments WHERE id = ?1), "
	    "t AS (SELECT provider = ?2 AND repo = ?3 AS mine, "
	    "  secret IS NOT NULL AS held FROM environments, me "
	    "  WHERE provider != ?4 AND number != 0 AND id != ?1 AND "
	    "  (secret IS NOT NULL OR "
	    "  (want_present = 1 AND status IN ('provisioning', 'queued') AND "
	    "  rowid < me.r))) "
	    "SELECT COUNT(*), COALESCE(SUM(mine), 0) FROM t";
	sqlite3_stmt *s = NULL;
	int64_t all, mine;
	int rc = -1;

	cap->by_repo = false;
	if (cap->repo_max <= 0 && cap->server_max <= 0)
		return 0;              /* no cap: nothing to count */
	if (store_prepare(st, sql, &s) != 0)
		return -1;
	store_bind_text(s, 1, e->id);
	store_bind_text(s, 2, e->provider);
	store_bind_text(s, 3, e->repo);
	store_bind_text(s, 4, ENV_CI);
	if (sqlite3_step(s) != SQLITE_ROW) {
		store_log_error(st, "count environments");
		goto out;
	}
	all = sqlite3_column_int64(s, 0);
	mine = sqlite3_column_int64(s, 1);
	rc = 0;
	cap->by_repo = false;
	if (cap->repo_max > 0 && mine >= cap->repo_max) {
		cap->held = mine;
		cap->by_repo = true;
		rc = 1;
	} else if (cap->server_max > 0 && all >= cap->server_max) {
		cap->held = all;
		rc = 1;
	}
out:
	sqlite3_finalize(s);
	return rc;
}

/* Inside the claim's transaction: take the member the claim wants, with
 * e->schema_from set. A copy of base_env's base first (its newest
 * commit's, then the oldest made), else an empty member. *s is left on
 * the member's row (db_name, secret), or done when there is none. */
static int
claim_member(struct store *st, struct env *e, const char *base_env,
    sqlite3_stmt **s)
{
	static const char take[] = "UPDATE pool SET state = 'claimed', "
	    "env_id = ?2 WHERE rowid = (SELECT rowid FROM pool WHERE "
	    "engine = ?1 AND state = 'idle' AND %s ORDER BY %s LIMIT 1) "
	    "RETURNING db_name, secret, base_sha";
	char sql[400];
	int step;

	str_copy(e->schema_from, "empty", sizeof(e->schema_from));
	if (base_env != NULL) {
		snprintf(sql, sizeof(sql), take, "base_env = ?3",
		    "base_sha = (SELECT base_sha FROM pool WHERE base_env = ?3 "
		    "ORDER BY created_at DESC LIMIT 1) DESC, created_at, rowid");
		if (store_prepare(st, sql, s) != 0)
			return -1;
		store_bind_text(*s, 1, e->engine);
		store_bind_text(*s, 2, e->id);
		store_bind_text(*s, 3, base_env);
		if ((step = sqlite3_step(*s)) == SQLITE_ROW) {
			snprintf(e->schema_from, sizeof(e->schema_from),
			    "base:%s", (const char *)sqlite3_column_text(*s, 2));
			return SQLITE_ROW;
		}
		sqlite3_finalize(*s);
		*s = NULL;
		if (step != SQLITE_DONE)
			return -1;
	}
	snprintf(sql, sizeof(sql), take, "base_env IS NULL",
	    "created_at, rowid");
	if (store_prepare(st, sql, s) != 0)
		return -1;
	store_bind_text(*s, 1, e->engine);
	store_bind_text(*s, 2, e->id);
	step = sqlite3_step(*s);
	return step == SQLITE_ROW || step == SQLITE_DONE ? step : -1;
}

int
store_env_claim(struct store *st, struct env *e, bool keep_pool_name,
    const struct store_reseal *rs, struct store_cap *cap,
    const char *base_env)
{
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	e->pool_db[0] = '\0';
	/* The environment's password, new or taken over from the member,
	 * is on disk before the server is asked to claim with it. */
	if (store_begin_durable(st) != 0)
		return -1;
	if (cap != NULL && strcmp(e->provider, ENV_CI) != 0 &&
	    e->number != ENV_BASE_NUMBER && (rc = cap_check(st, e, cap)) != 0)
		goto out;
	rc = -1;
	step = claim_member(st, e, base_env, &s);
	if (step == SQLITE_ROW) {
		const void *secret = sqlite3_column_blob(s, 1);
		int n = sqlite3_column_bytes(s, 1);

		store_column_text(s, 0, e->pool_db, sizeof(e->pool_db));
		if (keep_pool_name)
			str_copy(e->db_name, e->pool_db, sizeof(e->db_name));
		if (secret != NULL && n > 0 && rs != NULL &&
		    rs->fn(e->pool_db, secret, (size_t)n, e, rs->arg) != 0) {
			log_warnx("state store: cannot take over the password "
			    "of pool database %s", e->pool_db);
			goto out;
		}
	} else if (step != SQLITE_DONE) {
		store_log_error(st, "claim pool database");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (store_env_save(st, e) != 0 || store_commit(st) != 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(s);
	if (rc != 0) {
		store_rollback(st);
		e->pool_db[0] = '\0';
	}
	return rc;
}

int
store_env_wake_queued(struct store *st)
{
	sqlite3_stmt *s = NULL;
	char id[ENV_ID_SIZE];
	int rc = -1, step;

	if (store_begin(st) != 0)
		return -1;
	if (store_prepare(st, "SELECT id FROM environments WHERE status = "
	    "'queued' ORDER BY created_at, rowid", &s) != 0)
		goto out;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		store_column_text(s, 0, id, sizeof(id));
		if (store_job_insert(st, "env", id, 0) != 0)
			goto out;
	}
	if (step != SQLITE_DONE) {
		store_log_error(st, "list queued environments");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	rc = store_commit(st);
out:
	sqlite3_finalize(s);
	if (rc != 0)
		store_rollback(st);
	return rc;
}
