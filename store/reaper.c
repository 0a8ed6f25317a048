/*
 * reaper: the reaper's memory: the names previewd knows on each server, the
 * orphans it has seen, the sizes due for measuring, and the forges' open
 * pull-request lists, page by page with their ETags, that reconciliation
 * compares against.
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
store_known_names(struct store *st, const char *engine, const char *after,
    const char *upto, int (*fn)(const char *name, void *arg), void *arg)
{
	const char *params[3] = { engine, after, upto };
	struct name_cb c = { fn, arg };

	/* The range in each arm: the database names' one by the index on
	 * (engine, db_name). */
	return store_each_row(st,
	    "SELECT db_name FROM environments WHERE engine = ?1 AND "
	    "  (status != 'deleted' OR want_present = 1) AND "
	    "  db_name > ?2 AND db_name <= ?3 "
	    "UNION SELECT role_name FROM environments WHERE engine = ?1 AND "
	    "  (status != 'deleted' OR want_present = 1) AND "
	    "  role_name > ?2 AND role_name <= ?3 "
	    "UNION SELECT pool_db FROM environments WHERE engine = ?1 AND "
	    "  (status != 'deleted' OR want_present = 1) AND "
	    "  pool_db > ?2 AND pool_db <= ?3 "
	    "UNION SELECT db_name FROM pool WHERE engine = ?1 AND "
	    "  db_name > ?2 AND db_name <= ?3 "
	    "ORDER BY 1",
	    params, 3, known_row, &c, "list known names");
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
store_orphans_seen(struct store *st, const char *engine, bool role,
    const char *const *names, size_t n, int64_t now, int64_t *first_seen,
    bool *failed)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc = -1;

	if (n == 0)
		return 0;
	if (store_begin(st) != 0)
		return -1;
	if (store_prepare(st, "INSERT INTO orphans (engine, kind, name, "
	    "first_seen, seen_at) VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO "
	    "UPDATE SET seen_at = excluded.seen_at RETURNING first_seen, "
	    "drop_failed",
	    &s) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		sqlite3_reset(s);
		store_bind_text(s, 1, engine);
		store_bind_text(s, 2, role ? "role" : "database");
		store_bind_text(s, 3, names[i]);
		sqlite3_bind_int64(s, 4, now);
		if (sqlite3_step(s) != SQLITE_ROW)
			goto out;
		first_seen[i] = sqlite3_column_int64(s, 0);
		failed[i] = sqlite3_column_int(s, 1) != 0;
		if (sqlite3_step(s) != SQLITE_DONE)
			goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	rc = store_commit(st);
out:
	sqlite3_finalize(s);
	if (rc != 0) {
		store_log_error(st, "record orphans");
		store_rollback(st);
	}
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
store_orphan_forget(struct store *st, const char *engine, bool role,
    const char *name)
{
	return store_stmt_exec(st, "forget an orphan", "DELETE FROM orphans "
	    "WHERE engine = ?1 AND kind = ?2 AND name = ?3", "ttt", engine,
	    role ? "role" : "database", name) < 0 ? -1 : 0;
}

int
store_orphans_forget_unseen(struct store *st, const char *engine,
    int64_t before)
{
	return store_stmt_exec(st, "forget orphans", "DELETE FROM orphans "
	    "WHERE engine = ?1 AND seen_at < ?2", "ti", engine, before) < 0 ?
	    -1 : 0;
}

int
store_sizes_due(struct store *st, const char *engine, int limit,
    int (*fn)(const char *db, void *arg), void *arg)
{
	char lim[16];
	const char *params[2] = { engine, lim };
	struct name_cb c = { fn, arg };

	snprintf(lim, sizeof(lim), "%d", limit);
	return store_each_row(st, "SELECT db_name FROM environments WHERE "
	    "engine = ?1 AND status != 'deleted' AND db_name != '' "
	    "ORDER BY size_at, db_name LIMIT CAST(?2 AS INTEGER)", params, 2,
	    known_row, &c, "list sizes due");
}

int
store_sizes_record(struct store *st, const char *engine,
    const char *const *dbs, const int64_t *bytes, size_t n, int64_t now)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc = -1;

	if (n == 0)
		return 0;
	if (store_begin(st) != 0)
		return -1;
	if (store_prepare(st, "UPDATE environments SET size_at = ?4, "
	    "size_bytes = CASE WHEN ?3 >= 0 THEN ?3 ELSE size_bytes END "
	    "WHERE engine = ?1 AND db_name = ?2 AND status != 'deleted'",
	    &s) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		sqlite3_reset(s);
		store_bind_text(s, 1, engine);
		store_bind_text(s, 2, dbs[i]);
		sqlite3_bind_int64(s, 3, bytes[i]);
		sqlite3_bind_int64(s, 4, now);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	rc = store_commit(st);
out:
	sqlite3_finalize(s);
	if (rc != 0) {
		store_log_error(st, "record database sizes");
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

int
store_reconcile_targets_after(struct store *st, const char *provider,
    const char *repo, int limit, int (*fn)(const char *provider,
    const char *repo, const char *api_target, int64_t installation,
    void *arg), void *arg)
{
	char lim[16];
	const char *params[3] = { provider, repo, lim };
	struct target_cb c = { fn, arg };

	/* repo compares as its column does (NOCASE), as GROUP BY groups. */
	snprintf(lim, sizeof(lim), "%d", limit);
	return store_each_row(st, "SELECT provider, repo, MAX(api_target), "
	    "MAX(installation_id) FROM environments WHERE want_present = 1 "
	    "AND number > 0 AND provider IN ('github', 'gitlab') "
	    "AND (provider, repo) > (?1, ?2) "
	    "GROUP BY provider, repo ORDER BY provider, repo "
	    "LIMIT CAST(?3 AS INTEGER)", params, 3, target_row, &c,
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
store_reconcile_page(struct store *st, const char *target, int page,
    struct reconcile_page *out, struct buf *numbers)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int step, rc = -1;

	memset(out, 0, sizeof(*out));
	buf_reset(numbers);
	if (store_prepare(st, "SELECT url, etag, next, numbers FROM "
	    "reconcile_pages WHERE target = ?1 AND page = ?2", &s) != 0)
		return -1;
	store_bind_text(s, 1, target);
	sqlite3_bind_int(s, 2, page);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		store_column_text(s, 0, out->url, sizeof(out->url));
		store_column_text(s, 1, out->etag, sizeof(out->etag));
		store_column_text(s, 2, out->next, sizeof(out->next));
		v = sqlite3_column_text(s, 3);
		rc = buf_addstr(numbers, v ? (const char *)v : "") == 0 &&
		    buf_add(numbers, "", 0) == 0 ? 1 : -1;
	} else if (step == SQLITE_DONE) {
		rc = 0;
	} else {
		store_log_error(st, "read a page of open pull requests");
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_reconcile_set_page(struct store *st, const char *target, int page,
    const struct reconcile_page *in, const char *numbers)
{
	return store_stmt_exec(st, "record a page of open pull requests",
	    "INSERT INTO reconcile_pages (target, page, url, etag, next, "
	    "numbers, read_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	    "ON CONFLICT (target, page) DO UPDATE SET url = excluded.url, "
	    "etag = excluded.etag, next = excluded.next, numbers = "
	    "excluded.numbers, read_at = excluded.read_at", "titttti", target,
	    (int64_t)page, in->url, in->etag, in->next, numbers, now_s()) < 0 ?
	    -1 : 0;
}

int
store_reconcile_trim(struct store *st, const char *target, int pages)
{
	return store_stmt_exec(st, "forget pages of open pull requests",
	    "DELETE FROM reconcile_pages WHERE target = ?1 AND page > ?2", "ti",
	    target, (int64_t)pages) < 0 ? -1 : 0;
}
