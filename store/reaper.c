/*
 * reaper: the reaper's memory: the names previewd knows on each server, the
 * orphans it has seen, and the forges' open pull-request lists (ETags)
 * reconciliation compares against.
 */
#include "store/sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/log.h"

struct name_cb {
	int (*fn)(const char *name, void *arg);
	void *arg;
};

static int
known_row(sqlite3_stmt *s, void *arg)
{
	struct name_cb *c = arg;
	const unsigned char *v = sqlite3_column_text(s, 0);

	return v != NULL && v[0] != '\0' ? c->fn((const char *)v, c->arg) : 0;
}

int
store_known_names(struct store *st, const char *engine,
    int (*fn)(const char *name, void *arg), void *arg)
{
	const char *params[1] = { engine };
	struct name_cb c = { fn, arg };

	return store_each_row(st,
	    "SELECT db_name FROM environments WHERE engine = ?1 AND "
	    "  (status != 'deleted' OR want_present = 1) "
	    "UNION SELECT role_name FROM environments WHERE engine = ?1 AND "
	    "  (status != 'deleted' OR want_present = 1) "
	    "UNION SELECT pool_db FROM environments WHERE engine = ?1 AND "
	    "  (status != 'deleted' OR want_present = 1) "
	    "UNION SELECT db_name FROM pool WHERE engine = ?1",
	    params, 1, known_row, &c, "list known names");
}

struct pool_cb {
	int (*fn)(const char *db, const char *state, void *arg);
	void *arg;
};

static int
pool_row(sqlite3_stmt *s, void *arg)
{
	struct pool_cb *c = arg;

	return c->fn((const char *)sqlite3_column_text(s, 0),
	    (const char *)sqlite3_column_text(s, 1), c->arg);
}

int
store_pool_each(struct store *st, const char *engine,
    int (*fn)(const char *db, const char *state, void *arg), void *arg)
{
	const char *params[1] = { engine };
	struct pool_cb c = { fn, arg };

	return store_each_row(st, "SELECT db_name, state FROM pool WHERE engine = ?1",
	    params, 1, pool_row, &c, "list pool");
}

int
store_orphan_seen(struct store *st, const char *engine, bool role,
    const char *name, int64_t now, int64_t *first_seen)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, "INSERT INTO orphans (engine, kind, name, "
	    "first_seen) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET "
	    "first_seen = first_seen RETURNING first_seen", &s) != 0)
		return -1;
	store_bind_text(s, 1, engine);
	store_bind_text(s, 2, role ? "role" : "database");
	store_bind_text(s, 3, name);
	sqlite3_bind_int64(s, 4, now);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*first_seen = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		store_log_error(st, "record orphan");
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_orphan_drop_failed(struct store *st, const char *engine, bool role,
    const char *name, bool *first)
{
	int n = store_stmt_exec(st, "record a failed drop", "UPDATE orphans SET "
	    "drop_failed = 1 WHERE engine = ?1 AND kind = ?2 AND name = ?3 AND "
	    "drop_failed = 0", "ttt", engine, role ? "role" : "database", name);

	*first = n > 0;
	return n < 0 ? -1 : 0;
}

int
store_orphans_keep(struct store *st, const char *engine,
    bool (*fn)(bool role, const char *name, void *arg), void *arg)
{
	sqlite3_stmt *s = NULL, *del = NULL;
	int step, rc = -1;

	if (store_begin(st) != 0)
		return -1;
	if (store_prepare(st, "SELECT kind, name FROM orphans WHERE "
	    "engine = ?1", &s) != 0 || store_prepare(st, "DELETE FROM orphans "
	    "WHERE engine = ?1 AND kind = ?2 AND name = ?3", &del) != 0)
		goto out;
	store_bind_text(s, 1, engine);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		const char *name = (const char *)sqlite3_column_text(s, 1);

		if (fn(strcmp(kind, "role") == 0, name, arg))
			continue;
		sqlite3_reset(del);
		store_bind_text(del, 1, engine);
		store_bind_text(del, 2, kind);
		store_bind_text(del, 3, name);
		if (sqlite3_step(del) != SQLITE_DONE)
			goto out;
	}
	if (step != SQLITE_DONE)
		goto out;
	sqlite3_finalize(s);
	s = NULL;
	rc = store_commit(st);
out:
	sqlite3_finalize(s);
	sqlite3_finalize(del);
	if (rc != 0) {
		store_log_error(st, "forget orphans");
		store_rollback(st);
	}
	return rc;
}

struct target_cb {
	int (*fn)(const char *, const char *, const char *, int64_t, void *);
	void *arg;
};

static int
target_row(sqlite3_stmt *s, void *arg)
{
	struct target_cb *c = arg;

	return c->fn((const char *)sqlite3_column_text(s, 0),
	    (const char *)sqlite3_column_text(s, 1),
	    (const char *)sqlite3_column_text(s, 2),
	    sqlite3_column_int64(s, 3), c->arg);
}

int
store_reconcile_targets(struct store *st, int (*fn)(const char *provider,
    const char *repo, const char *api_target, int64_t installation,
    void *arg), void *arg)
{
	struct target_cb c = { fn, arg };

	return store_each_row(st, "SELECT provider, repo, MAX(api_target), "
	    "MAX(installation_id) FROM environments WHERE want_present = 1 "
	    "AND number > 0 AND provider IN ('github', 'gitlab') "
	    "GROUP BY provider, repo", NULL, 0, target_row, &c,
	    "list repositories");
}

struct open_cb {
	int (*fn)(const char *, int64_t, int64_t, void *);
	void *arg;
};

static int
open_row(sqlite3_stmt *s, void *arg)
{
	struct open_cb *c = arg;

	return c->fn((const char *)sqlite3_column_text(s, 0),
	    sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2), c->arg);
}

int
store_env_each_open(struct store *st, const char *provider, const char *repo,
    int (*fn)(const char *id, int64_t number, int64_t activity_at, void *arg),
    void *arg)
{
	const char *params[2] = { provider, repo };
	struct open_cb c = { fn, arg };

	/* A repository's base is no pull request the forge lists. */
	return store_each_row(st, "SELECT id, number, activity_at FROM environments "
	    "WHERE provider = ?1 AND repo = ?2 AND want_present = 1 AND "
	    "number != 0",
	    params, 2, open_row, &c, "list open environments");
}

int
store_reconcile_etag(struct store *st, const char *target, char *etag,
    size_t etagsz)
{
	sqlite3_stmt *s = NULL;
	int step, rc = -1;

	etag[0] = '\0';
	if (store_prepare(st, "SELECT etag FROM reconcile WHERE target = ?1",
	    &s) != 0)
		return -1;
	store_bind_text(s, 1, target);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		store_column_text(s, 0, etag, etagsz);
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
	else
		store_log_error(st, "read ETag");
	sqlite3_finalize(s);
	return rc;
}

int
store_reconcile_set_etag(struct store *st, const char *target,
    const char *etag)
{
	return store_stmt_exec(st, "record ETag", "INSERT INTO reconcile (target, "
	    "etag, checked_at) VALUES (?1, ?2, ?3) ON CONFLICT (target) DO "
	    "UPDATE SET etag = excluded.etag, checked_at = excluded.checked_at",
	    "tti", target, etag, now_s()) < 0 ? -1 : 0;
}
