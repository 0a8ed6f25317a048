/*
 * store: the sqlite schema and every query previewd makes of it.
 *
 * All SQL is static text with bound parameters; nothing from a webhook is
 * ever pasted into a statement.
 */
#include "server/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "server/crypto.h"
#include "server/log.h"

struct store {
	sqlite3 *db;
};

static const char *const status_names[] = {
	[ENV_PROVISIONING] = "provisioning",
	[ENV_MIGRATING] = "migrating",
	[ENV_SEEDING] = "seeding",
	[ENV_READY] = "ready",
	[ENV_FAILED] = "failed",
	[ENV_DELETING] = "deleting",
	[ENV_DELETED] = "deleted",
};

const char *
env_status_name(enum env_status s)
{
	return (size_t)s < ARRAY_SIZE(status_names) ? status_names[s] : "unknown";
}

int
env_status_parse(const char *s, enum env_status *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(status_names); i++) {
		if (strcmp(status_names[i], s) == 0) {
			*out = (enum env_status)i;
			return 0;
		}
	}
	return -1;
}

bool
env_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 4 && n < ENV_ID_SIZE && strncmp(s, "env_", 4) == 0 &&
	    strspn(s + 4, "0123456789abcdef") == n - 4;
}

enum env_status
env_status_shown(const struct env *e)
{
	if (!e->want_present && e->status != ENV_DELETED)
		return ENV_DELETING;
	return e->status;
}

bool
env_status_settled(enum env_status s)
{
	return s == ENV_READY || s == ENV_FAILED || s == ENV_DELETED;
}

/*
 * Schema migrations: entry i upgrades a file at user_version i to i + 1.
 * Never edit a released entry; append a new one and bump
 * STORE_SCHEMA_VERSION.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the first release (GitHub and PostgreSQL). */
	"CREATE TABLE environments ("
	"  id TEXT PRIMARY KEY,"
	"  provider TEXT NOT NULL,"
	"  repo TEXT NOT NULL COLLATE NOCASE,"
	"  number INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  engine TEXT NOT NULL,"
	"  want_present INTEGER NOT NULL,"
	"  want_sha TEXT NOT NULL DEFAULT '',"
	"  event_at INTEGER NOT NULL,"
	"  activity_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  ttl INTEGER NOT NULL,"
	"  status TEXT NOT NULL,"
	"  head_sha TEXT NOT NULL DEFAULT '',"
	"  db_name TEXT NOT NULL,"
	"  role_name TEXT NOT NULL,"
	"  pool_db TEXT NOT NULL DEFAULT '',"
	"  secret BLOB,"
	"  error TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (provider, repo, number));"
	"CREATE UNIQUE INDEX environments_db ON environments (engine, db_name);"
	"CREATE INDEX environments_expiry ON environments (want_present, expires_at);"
	"CREATE TABLE pool ("
	"  engine TEXT NOT NULL,"
	"  db_name TEXT NOT NULL,"
	"  state TEXT NOT NULL,"       /* creating | idle | claimed */
	"  env_id TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (engine, db_name));"
	"CREATE TABLE deliveries ("
	"  provider TEXT NOT NULL,"
	"  id TEXT NOT NULL,"
	"  received_at INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  env_id TEXT,"
	"  result TEXT NOT NULL,"
	"  PRIMARY KEY (provider, id));"
	"CREATE INDEX deliveries_age ON deliveries (received_at);"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  seq INTEGER NOT NULL DEFAULT 1,"
	"  running INTEGER NOT NULL DEFAULT 0,"
	"  run_after INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (kind, target));"
	"CREATE INDEX jobs_due ON jobs (running, run_after);",

	/* 1 -> 2: GitLab and Vercel, migrations, comments, the reaper's
	 * memory. Existing environments keep working: their forge target
	 * is their repository, and pool members without a password get
	 * their role at the claim (the fallback the claim keeps). */
	"ALTER TABLE environments ADD COLUMN api_target TEXT NOT NULL DEFAULT '';"
	"UPDATE environments SET api_target = repo;"
	"ALTER TABLE environments ADD COLUMN private_repo INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE environments ADD COLUMN installation_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE environments ADD COLUMN reset_db INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE environments ADD COLUMN comment_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE environments ADD COLUMN comment_hash TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE environments ADD COLUMN retry_requested INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE environments ADD COLUMN retried INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE environments ADD COLUMN size_bytes INTEGER NOT NULL DEFAULT -1;"
	"ALTER TABLE environments ADD COLUMN last_delivery TEXT NOT NULL DEFAULT '';"
	/* A CI database's blueprint (POST /api/v1/databases). */
	"ALTER TABLE environments ADD COLUMN blueprint TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE idempotency ("    /* Idempotency-Key, per token */
	"  token_key TEXT NOT NULL,"    /* HMAC of the bearer token */
	"  key TEXT NOT NULL,"
	"  request_hash TEXT NOT NULL,"
	"  env_id TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (token_key, key));"
	"ALTER TABLE pool ADD COLUMN secret BLOB;"  /* its role's password */
	"CREATE TABLE vercel_links ("   /* Vercel projects deploying a PR */
	"  env_id TEXT NOT NULL,"
	"  project_id TEXT NOT NULL,"
	"  team_id TEXT NOT NULL DEFAULT '',"
	"  git_branch TEXT NOT NULL,"
	"  synced_hash TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (env_id, project_id));"
	"CREATE TABLE orphans ("        /* unknown objects on the servers */
	"  engine TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"         /* database | role */
	"  name TEXT NOT NULL,"
	"  first_seen INTEGER NOT NULL,"
	"  drop_failed INTEGER NOT NULL DEFAULT 0,"   /* reported once */
	"  PRIMARY KEY (engine, kind, name));"
	"CREATE TABLE reconcile ("      /* the forges' open pull request lists */
	"  target TEXT PRIMARY KEY,"
	"  etag TEXT NOT NULL DEFAULT '',"
	"  checked_at INTEGER NOT NULL DEFAULT 0);",
};

_Static_assert(ARRAY_SIZE(migrations) == STORE_SCHEMA_VERSION,
    "one migration per schema version");

static void
store_log_error(struct store *st, const char *what)
{
	log_warnx("state store: %s: %s", what, sqlite3_errmsg(st->db));
}

static int
store_exec(struct store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("state store: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
store_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		store_log_error(st, "prepare");
		*stmt = NULL;
		return -1;
	}
	return 0;
}

/* BEGIN IMMEDIATE takes the write lock up front, so a transaction that
 * reads then writes never fails half-way with SQLITE_BUSY. */
static int
store_begin(struct store *st)
{
	return store_exec(st, "BEGIN IMMEDIATE");
}

static int
store_commit(struct store *st)
{
	return store_exec(st, "COMMIT");
}

static void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		(void)store_exec(st, "ROLLBACK");
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

/* Run one statement, binding ?1, ?2 ... from the arguments as types
 * says: 't' a string, 'i' an int64_t. The number of rows it changed, or
 * -1 (logged with what). */
static int
stmt_exec(struct store *st, const char *what, const char *sql,
    const char *types, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int i, rc = -1;

	if (store_prepare(st, sql, &s) != 0)
		return -1;
	va_start(ap, types);
	for (i = 0; types[i] != '\0'; i++) {
		if (types[i] == 't')
			bind_text(s, i + 1, va_arg(ap, const char *));
		else
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, what);
	else
		rc = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	return rc;
}

static void
column_text(sqlite3_stmt *s, int i, char *out, size_t size)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	str_copy(out, v ? (const char *)v : "", size);
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *st;
	int rc;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open \"%s\": %s", path,
		    st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	/* A webhook is answered 202 only once its job is on disk: FULL makes
	 * each commit durable against power loss too, at ~0.2 ms a commit on
	 * the machines we measured (BENCHMARKS.md). */
	sqlite3_busy_timeout(st->db, 10000);
	if (store_exec(st, "PRAGMA journal_mode = WAL") != 0 ||
	    store_exec(st, "PRAGMA synchronous = FULL") != 0 ||
	    store_exec(st, "PRAGMA foreign_keys = ON") != 0) {
		snprintf(err, errlen, "cannot set up \"%s\": %s", path,
		    sqlite3_errmsg(st->db));
		goto fail;
	}
	*out = st;
	return 0;
fail:
	sqlite3_close(st->db);
	free(st);
	return -1;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	free(st);
}

int
store_migrate(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int version, i, rc = -1;
	char pragma[64];

	if (store_begin(st) != 0) {
		snprintf(err, errlen, "cannot lock the state file: %s",
		    sqlite3_errmsg(st->db));
		return -1;
	}
	if (store_prepare(st, "PRAGMA user_version", &s) != 0 ||
	    sqlite3_step(s) != SQLITE_ROW) {
		snprintf(err, errlen, "cannot read the schema version: %s",
		    sqlite3_errmsg(st->db));
		goto out;
	}
	version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "the state file has schema version %d; "
		    "this previewd knows up to %d (was it written by a newer "
		    "previewd?)", version, STORE_SCHEMA_VERSION);
		goto out;
	}
	for (i = version; i < STORE_SCHEMA_VERSION; i++) {
		if (store_exec(st, migrations[i]) != 0) {
			snprintf(err, errlen, "upgrading the state file from "
			    "schema version %d failed: %s", i,
			    sqlite3_errmsg(st->db));
			goto out;
		}
		log_info("state file upgraded from schema version %d to %d",
		    i, i + 1);
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
	    STORE_SCHEMA_VERSION);
	if (store_exec(st, pragma) != 0 || store_commit(st) != 0) {
		snprintf(err, errlen, "cannot commit the schema: %s",
		    sqlite3_errmsg(st->db));
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	if (rc != 0)
		store_rollback(st);
	return rc;
}

/* ---- the reaper's memory ---- */

/* Run sql (parameters ?1.. bound from texts) and hand each row's text
 * columns to fn. */
static int
each_row(struct store *st, const char *sql, const char *const *params,
    int nparams, int (*fn)(sqlite3_stmt *, void *), void *arg,
    const char *what)
{
	sqlite3_stmt *s = NULL;
	int i, step, rc = -1;

	if (store_prepare(st, sql, &s) != 0)
		return -1;
	for (i = 0; i < nparams; i++)
		bind_text(s, i + 1, params[i]);
	while ((step = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(s, arg) != 0)
			break;
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
	else
		store_log_error(st, what);
	sqlite3_finalize(s);
	return rc;
}

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

	return each_row(st,
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

	return each_row(st, "SELECT db_name, state FROM pool WHERE engine = ?1",
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
	bind_text(s, 1, engine);
	bind_text(s, 2, role ? "role" : "database");
	bind_text(s, 3, name);
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
	int n = stmt_exec(st, "record a failed drop", "UPDATE orphans SET "
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
	bind_text(s, 1, engine);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		const char *name = (const char *)sqlite3_column_text(s, 1);

		if (fn(strcmp(kind, "role") == 0, name, arg))
			continue;
		sqlite3_reset(del);
		bind_text(del, 1, engine);
		bind_text(del, 2, kind);
		bind_text(del, 3, name);
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

	return each_row(st, "SELECT provider, repo, MAX(api_target), "
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

	return each_row(st, "SELECT id, number, activity_at FROM environments "
	    "WHERE provider = ?1 AND repo = ?2 AND want_present = 1",
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
	bind_text(s, 1, target);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		column_text(s, 0, etag, etagsz);
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
	return stmt_exec(st, "record ETag", "INSERT INTO reconcile (target, "
	    "etag, checked_at) VALUES (?1, ?2, ?3) ON CONFLICT (target) DO "
	    "UPDATE SET etag = excluded.etag, checked_at = excluded.checked_at",
	    "tti", target, etag, now_s()) < 0 ? -1 : 0;
}

/* ---- jobs ---- */

/* The body of store_job_enqueue, for use inside a caller's transaction. */
static int
job_enqueue(struct store *st, const char *kind, const char *target,
    int64_t delay_ms)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st,
	    "INSERT INTO jobs (kind, target, run_after, created_at) "
	    "VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (kind, target) DO UPDATE SET seq = seq + 1, "
	    "run_after = MIN(run_after, excluded.run_after)", &s) != 0)
		return -1;
	bind_text(s, 1, kind);
	bind_text(s, 2, target);
	sqlite3_bind_int64(s, 3, now_ms() + delay_ms);
	sqlite3_bind_int64(s, 4, now_s());
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_log_error(st, "enqueue job");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

int
store_job_enqueue(struct store *st, const char *kind, const char *target,
    int64_t delay_ms)
{
	return job_enqueue(st, kind, target, delay_ms);
}

int
store_job_take(struct store *st, int64_t now, struct job *out,
    int64_t *next_ms)
{
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	*next_ms = INT64_MAX;
	if (store_prepare(st,
	    "UPDATE jobs SET running = 1 WHERE id = ("
	    "  SELECT id FROM jobs WHERE running = 0 AND run_after <= ?1 "
	    "  ORDER BY run_after, id LIMIT 1) "
	    "RETURNING id, kind, target, seq, attempts", &s) != 0)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		out->id = sqlite3_column_int64(s, 0);
		column_text(s, 1, out->kind, sizeof(out->kind));
		column_text(s, 2, out->target, sizeof(out->target));
		out->seq = sqlite3_column_int64(s, 3);
		out->attempts = sqlite3_column_int64(s, 4);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = 1;
	} else {
		store_log_error(st, "take job");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (store_prepare(st, "SELECT MIN(run_after) FROM jobs "
	    "WHERE running = 0", &s) != 0)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		*next_ms = sqlite3_column_int64(s, 0);
out:
	sqlite3_finalize(s);
	return rc;
}

int
store_job_done(struct store *st, const struct job *j)
{
	int n = stmt_exec(st, "finish job", "DELETE FROM jobs WHERE id = ?1 "
	    "AND seq = ?2", "ii", j->id, j->seq);

	if (n != 0)
		return n < 0 ? -1 : 0;
	/* Enqueued again while it ran: release it to run once more. */
	return stmt_exec(st, "finish job", "UPDATE jobs SET running = 0, "
	    "attempts = 0 WHERE id = ?1", "i", j->id) < 0 ? -1 : 0;
}

int
store_job_retry(struct store *st, const struct job *j, int64_t delay_ms,
    const char *error)
{
	return stmt_exec(st, "retry job", "UPDATE jobs SET running = 0, "
	    "attempts = attempts + 1, last_error = ?2, "
	    "run_after = CASE WHEN seq = ?3 THEN ?4 ELSE run_after END "
	    "WHERE id = ?1", "itii", j->id, error ? error : "", j->seq,
	    now_ms() + delay_ms) < 0 ? -1 : 0;
}

int
store_job_reset(struct store *st)
{
	return store_exec(st, "UPDATE jobs SET running = 0 WHERE running = 1");
}

int
store_job_count(struct store *st, int64_t *count)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, "SELECT COUNT(*) FROM jobs", &s) != 0)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*count = sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

/* ---- environments ---- */

#define ENV_COLUMNS \
	"id, provider, repo, number, name, engine, want_present, want_sha, " \
	"event_at, activity_at, expires_at, ttl, status, head_sha, db_name, " \
	"role_name, pool_db, secret, error, created_at, updated_at, " \
	"api_target, reset_db, private_repo, installation_id, comment_id, " \
	"comment_hash, retry_requested, retried, size_bytes, last_delivery, " \
	"blueprint"

static void
env_from_row(sqlite3_stmt *s, struct env *e)
{
	const void *secret;
	char status[32];
	int n;

	memset(e, 0, sizeof(*e));
	column_text(s, 0, e->id, sizeof(e->id));
	column_text(s, 1, e->provider, sizeof(e->provider));
	column_text(s, 2, e->repo, sizeof(e->repo));
	e->number = sqlite3_column_int64(s, 3);
	column_text(s, 4, e->name, sizeof(e->name));
	column_text(s, 5, e->engine, sizeof(e->engine));
	e->want_present = sqlite3_column_int(s, 6) != 0;
	column_text(s, 7, e->want_sha, sizeof(e->want_sha));
	e->event_at = sqlite3_column_int64(s, 8);
	e->activity_at = sqlite3_column_int64(s, 9);
	e->expires_at = sqlite3_column_int64(s, 10);
	e->ttl = sqlite3_column_int64(s, 11);
	column_text(s, 12, status, sizeof(status));
	if (env_status_parse(status, &e->status) != 0)
		e->status = ENV_FAILED;
	column_text(s, 13, e->head_sha, sizeof(e->head_sha));
	column_text(s, 14, e->db_name, sizeof(e->db_name));
	column_text(s, 15, e->role_name, sizeof(e->role_name));
	column_text(s, 16, e->pool_db, sizeof(e->pool_db));
	secret = sqlite3_column_blob(s, 17);
	n = sqlite3_column_bytes(s, 17);
	if (secret != NULL && n > 0 && (size_t)n <= sizeof(e->secret)) {
		memcpy(e->secret, secret, (size_t)n);
		e->secret_len = (size_t)n;
	}
	column_text(s, 18, e->error, sizeof(e->error));
	e->created_at = sqlite3_column_int64(s, 19);
	e->updated_at = sqlite3_column_int64(s, 20);
	column_text(s, 21, e->api_target, sizeof(e->api_target));
	e->reset_db = sqlite3_column_int(s, 22) != 0;
	e->private_repo = sqlite3_column_int(s, 23) != 0;
	e->installation_id = sqlite3_column_int64(s, 24);
	e->comment_id = sqlite3_column_int64(s, 25);
	column_text(s, 26, e->comment_hash, sizeof(e->comment_hash));
	e->retry_requested = sqlite3_column_int64(s, 27);
	e->retried = sqlite3_column_int64(s, 28);
	e->size_bytes = sqlite3_column_int64(s, 29);
	column_text(s, 30, e->last_delivery, sizeof(e->last_delivery));
	column_text(s, 31, e->blueprint, sizeof(e->blueprint));
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
	bind_text(s, 1, id);
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
	bind_text(s, 1, provider);
	bind_text(s, 2, repo);
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

/* What the pull request's comment shows changes when an environment
 * settles (ready, failed, deleted): the "notify" job, enqueued in the same
 * transaction as the change, so a crash cannot lose it. */
static bool
env_notifies(const struct env *e)
{
	/* A CI database has no pull request to comment on. */
	return (e->status == ENV_READY || e->status == ENV_FAILED ||
	    e->status == ENV_DELETED) && strcmp(e->provider, ENV_CI) != 0;
}

static int
env_update(struct store *st, const struct env *e)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, "UPDATE environments SET status = ?2, "
	    "head_sha = ?3, pool_db = ?4, secret = ?5, error = ?6, "
	    "updated_at = ?7, db_name = ?8, reset_db = ?9, retried = ?10 "
	    "WHERE id = ?1", &s) != 0)
		return -1;
	bind_text(s, 1, e->id);
	bind_text(s, 2, env_status_name(e->status));
	bind_text(s, 3, e->head_sha);
	bind_text(s, 4, e->pool_db);
	if (e->secret_len > 0)
		sqlite3_bind_blob(s, 5, e->secret, (int)e->secret_len,
		    SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, 5);
	bind_text(s, 6, e->error);
	sqlite3_bind_int64(s, 7, now_s());
	bind_text(s, 8, e->db_name);
	sqlite3_bind_int(s, 9, e->reset_db);
	sqlite3_bind_int64(s, 10, e->retried);
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
	if (env_update(st, e) != 0 || job_enqueue(st, "notify", e->id, 0) != 0 ||
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
	return stmt_exec(st, "record comment", "UPDATE environments SET "
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
	if (store_prepare(st, "UPDATE environments SET want_present = 0, "
	    "error = CASE WHEN status = 'failed' THEN error ELSE ?2 END, "
	    "updated_at = ?3 "
	    "WHERE id = ?1 AND (want_present = 1 OR status != 'deleted')",
	    &s) != 0)
		goto out;
	bind_text(s, 1, id);
	bind_text(s, 2, reason);
	sqlite3_bind_int64(s, 3, now_s());
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_log_error(st, "request delete");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		rc = 1;
		goto out;
	}
	if (job_enqueue(st, "env", id, 0) != 0 || store_commit(st) != 0)
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
	bind_text(s, 1, id);
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
	if ((job != NULL && job_enqueue(st, job, id, 0) != 0) ||
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
	return stmt_exec(st, "record a database's size", "UPDATE environments "
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

	return each_row(st, "SELECT engine, status, COUNT(*) FROM environments "
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
		column_text(s, 0, id, sizeof(id));
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
	if (stmt_exec(st, "prune links", "DELETE FROM vercel_links WHERE "
	    "env_id IN (SELECT id FROM environments WHERE status = 'deleted' "
	    "AND want_present = 0 AND updated_at < ?1)", "i", before) < 0 ||
	    stmt_exec(st, "prune environments", "DELETE FROM environments "
	    "WHERE status = 'deleted' AND want_present = 0 AND updated_at < ?1",
	    "i", before) < 0 ||
	    stmt_exec(st, "prune deliveries", "DELETE FROM deliveries WHERE "
	    "received_at < ?1", "i", before) < 0)
		return -1;
	return 0;
}

/* ---- webhooks ---- */

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
		bind_text(s, 1, ev->engine);
		bind_text(s, 2, db);
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

static int
env_insert(struct store *st, const struct pr_event *ev, const char *id,
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
	bind_text(s, 1, id);
	bind_text(s, 2, ev->provider);
	bind_text(s, 3, ev->repo);
	sqlite3_bind_int64(s, 4, ev->number);
	bind_text(s, 5, name);
	bind_text(s, 6, ev->engine);
	sqlite3_bind_int(s, 7, present);
	bind_text(s, 8, ev->head_sha ? ev->head_sha : "");
	sqlite3_bind_int64(s, 9, ev->event_at);
	sqlite3_bind_int64(s, 10, now);
	sqlite3_bind_int64(s, 11, now + ev->ttl);
	sqlite3_bind_int64(s, 12, ev->ttl);
	bind_text(s, 13, present ? "provisioning" : "deleted");
	bind_text(s, 14, db);
	bind_text(s, 15, ev->api_target ? ev->api_target : ev->repo);
	sqlite3_bind_int(s, 16, ev->private_repo);
	sqlite3_bind_int64(s, 17, ev->installation_id);
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, "insert environment");
	else
		rc = 0;
	sqlite3_finalize(s);
	return rc;
}

static int
env_apply(struct store *st, const struct pr_event *ev, const char *id)
{
	sqlite3_stmt *s = NULL;
	int64_t now = now_s();
	int rc = -1;

	if (ev->op == PR_CLOSE) {
		if (store_prepare(st, "UPDATE environments SET "
		    "want_present = 0, event_at = ?2, updated_at = ?3 "
		    "WHERE id = ?1", &s) != 0)
			return -1;
	} else {
		/* A deleted environment comes back (reopened): it starts
		 * over with a fresh claim and a fresh password. */
		if (store_prepare(st, "UPDATE environments SET "
		    "want_present = 1, want_sha = ?4, event_at = ?2, "
		    "activity_at = ?3, expires_at = ?3 + ?5, ttl = ?5, "
		    "updated_at = ?3, private_repo = ?6, "
		    "installation_id = CASE WHEN ?7 > 0 THEN ?7 "
		    "ELSE installation_id END, "
		    "error = CASE WHEN status = 'deleted' THEN '' ELSE error END, "
		    "secret = CASE WHEN status = 'deleted' THEN NULL ELSE secret END, "
		    "head_sha = CASE WHEN status = 'deleted' THEN '' ELSE head_sha END, "
		    "db_name = CASE WHEN status = 'deleted' THEN role_name ELSE db_name END, "
		    "status = CASE WHEN status = 'deleted' THEN 'provisioning' "
		    "ELSE status END WHERE id = ?1", &s) != 0)
			return -1;
		bind_text(s, 4, ev->head_sha ? ev->head_sha : "");
		sqlite3_bind_int64(s, 5, ev->ttl);
		sqlite3_bind_int(s, 6, ev->private_repo);
		sqlite3_bind_int64(s, 7, ev->installation_id);
	}
	bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, ev->event_at);
	sqlite3_bind_int64(s, 3, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, "update environment");
	else
		rc = 0;
	sqlite3_finalize(s);
	return rc;
}

static int
env_note_delivery(struct store *st, const char *id, const char *delivery)
{
	return stmt_exec(st, "record delivery id", "UPDATE environments SET "
	    "last_delivery = ?2 WHERE id = ?1", "tt", id, delivery) < 0 ? -1 : 0;
}

/* A Vercel project deploying the pull request gets DATABASE_URL from the
 * notify job; a new or changed link enqueues it. */
static int
vercel_link(struct store *st, const struct pr_event *ev, const char *env_id)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, "INSERT INTO vercel_links (env_id, project_id, "
	    "team_id, git_branch) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (env_id, project_id) DO UPDATE SET "
	    "team_id = excluded.team_id, git_branch = excluded.git_branch, "
	    "synced_hash = CASE WHEN git_branch = excluded.git_branch "
	    "THEN synced_hash ELSE '' END", &s) != 0)
		return -1;
	bind_text(s, 1, env_id);
	bind_text(s, 2, ev->vercel_project);
	bind_text(s, 3, ev->vercel_team ? ev->vercel_team : "");
	bind_text(s, 4, ev->git_branch ? ev->git_branch : "");
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, "link Vercel project");
	else
		rc = job_enqueue(st, "notify", env_id, 0);
	sqlite3_finalize(s);
	return rc;
}

int
store_vercel_links(struct store *st, const char *env_id,
    int (*fn)(const char *project, const char *team, const char *branch,
    const char *synced_hash, void *arg), void *arg)
{
	sqlite3_stmt *s = NULL;
	char project[128], team[128], branch[256], hash[72];
	int step, rc = -1;

	if (store_prepare(st, "SELECT project_id, team_id, git_branch, "
	    "synced_hash FROM vercel_links WHERE env_id = ?1 ORDER BY "
	    "project_id", &s) != 0)
		return -1;
	bind_text(s, 1, env_id);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		column_text(s, 0, project, sizeof(project));
		column_text(s, 1, team, sizeof(team));
		column_text(s, 2, branch, sizeof(branch));
		column_text(s, 3, hash, sizeof(hash));
		if (fn(project, team, branch, hash, arg) != 0)
			break;
	}
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
	else
		store_log_error(st, "list Vercel links");
	sqlite3_finalize(s);
	return rc;
}

int
store_vercel_synced(struct store *st, const char *env_id, const char *project,
    const char *hash)
{
	return stmt_exec(st, "record Vercel sync", "UPDATE vercel_links SET "
	    "synced_hash = ?3 WHERE env_id = ?1 AND project_id = ?2", "ttt",
	    env_id, project, hash) < 0 ? -1 : 0;
}

static const char *const pr_result_names[] = {
	[PR_ACCEPTED] = "accepted", [PR_DUPLICATE] = "duplicate",
	[PR_STALE] = "stale", [PR_IGNORED] = "ignored",
};

int
store_pr_event(struct store *st, const struct pr_event *ev,
    enum pr_result *result, char env_id[ENV_ID_SIZE])
{
	sqlite3_stmt *s = NULL;
	struct env *cur = NULL;
	char hex[17];
	int rc = -1, found;

	env_id[0] = '\0';
	if (store_begin(st) != 0)
		return -1;
	if (store_prepare(st, "INSERT INTO deliveries (provider, id, "
	    "received_at, event, action, result) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "'pending') ON CONFLICT DO NOTHING", &s) != 0)
		goto out;
	bind_text(s, 1, ev->provider);
	bind_text(s, 2, ev->delivery);
	sqlite3_bind_int64(s, 3, now_s());
	bind_text(s, 4, ev->event);
	bind_text(s, 5, ev->action);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_log_error(st, "record delivery");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_changes(st->db) == 0) {
		*result = PR_DUPLICATE;
		store_rollback(st);
		return 0;
	}

	if ((cur = malloc(sizeof(*cur))) == NULL)
		goto out;
	found = store_env_find_pr(st, ev->provider, ev->repo, ev->number, cur);
	if (found < 0)
		goto out;
	if (found == 1) {
		if (crypto_hex_token(hex, sizeof(hex), 8) != 0 ||
		    str_printf(env_id, ENV_ID_SIZE, "env_%s", hex) != 0 ||
		    env_insert(st, ev, env_id, ev->op != PR_CLOSE, NULL) != 0)
			goto out;
		*result = ev->op == PR_CLOSE ? PR_IGNORED : PR_ACCEPTED;
	} else {
		str_copy(env_id, cur->id, ENV_ID_SIZE);
		/* Forges do not promise delivery order; the pull request's own
		 * updated_at does. Equal times apply in arrival order. */
		if (ev->event_at < cur->event_at)
			*result = PR_STALE;
		else if (ev->op == PR_CLOSE && !cur->want_present &&
		    cur->status == ENV_DELETED)
			*result = PR_IGNORED;
		else if (env_apply(st, ev, env_id) != 0)
			goto out;
		else
			*result = PR_ACCEPTED;
	}
	if (*result == PR_ACCEPTED && job_enqueue(st, "env", env_id, 0) != 0)
		goto out;
	/* The delivery that last moved the environment follows it into the
	 * job's log lines. */
	if (*result == PR_ACCEPTED && env_note_delivery(st, env_id,
	    ev->delivery) != 0)
		goto out;
	if (ev->vercel_project != NULL && *result != PR_IGNORED &&
	    vercel_link(st, ev, env_id) != 0)
		goto out;

	if (store_prepare(st, "UPDATE deliveries SET env_id = ?3, result = ?4 "
	    "WHERE provider = ?1 AND id = ?2", &s) != 0)
		goto out;
	bind_text(s, 1, ev->provider);
	bind_text(s, 2, ev->delivery);
	bind_text(s, 3, env_id);
	bind_text(s, 4, pr_result_names[*result]);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_log_error(st, "record delivery result");
		goto out;
	}
	if (store_commit(st) != 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(s);
	free(cur);
	if (rc != 0)
		store_rollback(st);
	return rc;
}

/* ---- CI databases ---- */

/* The key's record: 0 found (same request: *same), 1 none, -1 error. */
static int
idem_find(struct store *st, const struct ci_request *r, bool *same,
    char env_id[ENV_ID_SIZE])
{
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	if (store_prepare(st, "SELECT request_hash, env_id FROM idempotency "
	    "WHERE token_key = ?1 AND key = ?2 AND created_at >= ?3", &s) != 0)
		return -1;
	bind_text(s, 1, r->token_key);
	bind_text(s, 2, r->key);
	sqlite3_bind_int64(s, 3, now_s() - IDEMPOTENCY_TTL);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*same = strcmp((const char *)sqlite3_column_text(s, 0),
		    r->request_hash) == 0;
		column_text(s, 1, env_id, ENV_ID_SIZE);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = 1;
	} else {
		store_log_error(st, "look up Idempotency-Key");
	}
	sqlite3_finalize(s);
	return rc;
}

/* One integer from a query with up to one text parameter. */
static int
query_int(struct store *st, const char *sql, const char *param, int64_t *out,
    const char *what)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, sql, &s) != 0)
		return -1;
	if (param != NULL)
		bind_text(s, 1, param);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		store_log_error(st, what);
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_ci_create(struct store *st, const struct ci_request *r,
    enum ci_result *res, char env_id[ENV_ID_SIZE])
{
	struct pr_event ev;
	char hex[17];
	int64_t live, number;
	bool same = false, created = false;
	int rc = -1, found;

	env_id[0] = '\0';
	if (store_begin(st) != 0)
		return -1;
	if (r->key != NULL) {
		/* An expired record makes way for a new one. */
		if (stmt_exec(st, "expire Idempotency-Key", "DELETE FROM "
		    "idempotency WHERE token_key = ?1 AND key = ?2 AND "
		    "created_at < ?3", "tti", r->token_key, r->key,
		    now_s() - IDEMPOTENCY_TTL) < 0)
			goto out;
		if ((found = idem_find(st, r, &same, env_id)) < 0)
			goto out;
		if (found == 0) {
			*res = same ? CI_REPLAYED : CI_KEY_REUSED;
			if (!same)
				env_id[0] = '\0';
			rc = 0;
			goto out;     /* nothing written: rolled back */
		}
	}
	if (query_int(st, "SELECT COUNT(*) FROM environments WHERE provider = "
	    "?1 AND want_present = 1", ENV_CI, &live, "count CI databases") != 0)
		goto out;
	if (live >= r->max_databases) {
		*res = CI_QUOTA;
		rc = 0;
		goto out;
	}
	if (query_int(st, "SELECT COALESCE(MAX(number), 0) + 1 FROM "
	    "environments WHERE provider = ?1", ENV_CI, &number,
	    "number CI database") != 0)
		goto out;

	memset(&ev, 0, sizeof(ev));
	ev.provider = ENV_CI;
	ev.repo = ENV_CI;
	ev.number = number;
	ev.head_sha = "";
	ev.event_at = now_s();
	ev.engine = r->engine;
	ev.ttl = r->ttl;
	ev.api_target = "";
	if (crypto_hex_token(hex, sizeof(hex), 8) != 0 ||
	    str_printf(env_id, ENV_ID_SIZE, "env_%s", hex) != 0 ||
	    env_insert(st, &ev, env_id, true, r->name) != 0)
		goto out;
	if (stmt_exec(st, "record blueprint", "UPDATE environments SET "
	    "blueprint = ?2 WHERE id = ?1", "tt", env_id, r->blueprint) < 0 ||
	    (r->key != NULL && stmt_exec(st, "record Idempotency-Key", "INSERT "
	    "INTO idempotency (token_key, key, request_hash, env_id, created_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)", "tttti", r->token_key, r->key,
	    r->request_hash, env_id, now_s()) < 0) ||
	    job_enqueue(st, "env", env_id, 0) != 0)
		goto out;
	*res = CI_CREATED;
	created = true;
	rc = 0;
out:
	/* Only a creation writes; every other answer leaves nothing. */
	if (created && store_commit(st) != 0) {
		env_id[0] = '\0';
		rc = -1;
	}
	store_rollback(st);
	return rc;
}

int
store_idempotency_prune(struct store *st, int64_t before)
{
	return stmt_exec(st, "prune Idempotency-Keys", "DELETE FROM idempotency "
	    "WHERE created_at < ?1", "i", before) < 0 ? -1 : 0;
}

/* ---- the warm pool ---- */


int
store_pool_add(struct store *st, const char *engine, const char *db,
    const unsigned char *secret, size_t secret_len)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, "INSERT INTO pool (engine, db_name, state, "
	    "created_at, secret) VALUES (?1, ?2, 'creating', ?3, ?4)", &s) != 0)
		return -1;
	bind_text(s, 1, engine);
	bind_text(s, 2, db);
	sqlite3_bind_int64(s, 3, now_ms());
	if (secret != NULL && secret_len > 0)
		sqlite3_bind_blob(s, 4, secret, (int)secret_len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, 4);
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, "add pool database");
	else
		rc = 0;
	sqlite3_finalize(s);
	return rc;
}

int
store_pool_ready(struct store *st, const char *engine, const char *db)
{
	/* Milliseconds, so that claims take the oldest idle database even
	 * among several made in one second. */
	return stmt_exec(st, "mark pool database idle", "UPDATE pool SET "
	    "state = 'idle', created_at = ?3 WHERE engine = ?1 AND db_name = ?2 "
	    "AND state = 'creating'", "tti", engine, db, now_ms()) < 0 ? -1 : 0;
}

int
store_pool_remove(struct store *st, const char *engine, const char *db)
{
	return stmt_exec(st, "remove pool database", "DELETE FROM pool WHERE "
	    "engine = ?1 AND db_name = ?2", "tt", engine, db) < 0 ? -1 : 0;
}

int
store_pool_forget_idle(struct store *st, const char *engine, const char *db)
{
	int n = stmt_exec(st, "forget pool database", "DELETE FROM pool WHERE "
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
	    "FROM pool WHERE engine = ?1", &s) != 0)
		return -1;
	bind_text(s, 1, engine);
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

int
store_pool_each_creating(struct store *st, const char *engine,
    int (*fn)(const char *db, const unsigned char *secret, size_t len,
    void *arg), void *arg)
{
	sqlite3_stmt *s = NULL;
	char db[NAMES_SIZE];
	int step, rc = -1;

	if (store_prepare(st, "SELECT db_name, secret FROM pool WHERE "
	    "engine = ?1 AND state = 'creating' ORDER BY created_at", &s) != 0)
		return -1;
	bind_text(s, 1, engine);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		column_text(s, 0, db, sizeof(db));
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
store_env_claim(struct store *st, struct env *e, bool keep_pool_name,
    const struct store_reseal *rs)
{
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	e->pool_db[0] = '\0';
	if (store_begin(st) != 0)
		return -1;
	if (store_prepare(st, "UPDATE pool SET state = 'claimed', env_id = ?2 "
	    "WHERE rowid = (SELECT rowid FROM pool WHERE engine = ?1 AND "
	    "state = 'idle' ORDER BY created_at, rowid LIMIT 1) "
	    "RETURNING db_name, secret", &s) != 0)
		goto out;
	bind_text(s, 1, e->engine);
	bind_text(s, 2, e->id);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		const void *secret = sqlite3_column_blob(s, 1);
		int n = sqlite3_column_bytes(s, 1);

		column_text(s, 0, e->pool_db, sizeof(e->pool_db));
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
