/*
 * sqlite: the state store's sqlite backend — opening a connection, the
 * schema and its upgrades, transactions and the statement helpers the
 * other files of store/ share (store/sqlite.h).
 *
 * All SQL is static text with bound parameters; nothing from a webhook is
 * ever pasted into a statement.
 */
#include "store/sqlite.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/crypto.h"
#include "lib/log.h"

static const char *const status_names[] = {
	[ENV_PROVISIONING] = "provisioning",
	[ENV_MIGRATING] = "migrating",
	[ENV_SEEDING] = "seeding",
	[ENV_READY] = "ready",
	[ENV_FAILED] = "failed",
	[ENV_DELETING] = "deleting",
	[ENV_DELETED] = "deleted",
	[ENV_QUEUED] = "queued",
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
	/* 2 -> 3: the intent before a repository's file runs on a server
	 * whose DDL is not transactional (MariaDB): a crash leaves it set. */
	"ALTER TABLE environments ADD COLUMN applying TEXT NOT NULL "
	"DEFAULT '';",
	/* 3 -> 4: a deletion by an admin or the TTL, remembered so that an
	 * older event (a captured webhook sent again) does not undo it. */
	"ALTER TABLE environments ADD COLUMN deleted_at INTEGER NOT NULL "
	"DEFAULT 0;"
	"ALTER TABLE environments ADD COLUMN deleted_why TEXT NOT NULL "
	"DEFAULT '';",
	/* 4 -> 5: the migration tool an environment's migrations were
	 * applied with (core/tools.c); '' until the next migration run. */
	"ALTER TABLE environments ADD COLUMN migrations_tool TEXT NOT NULL "
	"DEFAULT '';",
	/* 5 -> 6: each prewarmed repository's default branch and its head
	 * (store/bases.c), from the forge and from push webhooks. */
	"CREATE TABLE base_heads ("
	"  provider TEXT NOT NULL,"
	"  repo TEXT NOT NULL COLLATE NOCASE,"
	"  api_target TEXT NOT NULL DEFAULT '',"
	"  installation_id INTEGER NOT NULL DEFAULT 0,"
	"  branch TEXT NOT NULL,"
	"  sha TEXT NOT NULL,"
	"  event_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  PRIMARY KEY (provider, repo));",
	/* 6 -> 7: the pre-migrated pool. A member copied from a repository's
	 * base names the base's environment and the commit it holds (NULL:
	 * an empty member); an environment says what its schema came from. */
	"ALTER TABLE pool ADD COLUMN base_env TEXT;"
	"ALTER TABLE pool ADD COLUMN base_sha TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE environments ADD COLUMN schema_from TEXT NOT NULL "
	"DEFAULT '';",
	/* 7 -> 8: a fleet's worth of environments, objects and pull
	 * requests (issue 26). The lists a page at a time (store_env_page):
	 * each index ends in the rowid, the lists' tie-breaker, so a page is
	 * a walk from its cursor along the index, no sort of every
	 * environment. When each environment's size was last measured (a
	 * sweep measures a few, the oldest first) and when each orphan was
	 * last seen (a sweep that listed the whole server forgets the ones
	 * it did not see); each page of a repository's open pull request
	 * list as last read, so every page is asked for conditionally (it
	 * replaces the one ETag of a single-page list). */
	"CREATE INDEX IF NOT EXISTS environments_created ON environments "
	"(created_at);"
	"CREATE INDEX IF NOT EXISTS environments_expires ON environments "
	"(expires_at);"
	/* The admin page counts statuses and lists repositories: a walk
	 * of a covering index of the live rows, not of every row (2 KB
	 * each). */
	"CREATE INDEX IF NOT EXISTS environments_live ON environments "
	"(repo, status, want_present, provider, number) WHERE "
	"status != 'deleted';"
	"ALTER TABLE environments ADD COLUMN size_at INTEGER NOT NULL "
	"DEFAULT 0;"
	"ALTER TABLE orphans ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;"
	"DROP TABLE reconcile;"
	"CREATE TABLE reconcile_pages ("
	"  target TEXT NOT NULL,"
	"  page INTEGER NOT NULL,"
	"  url TEXT NOT NULL,"
	"  etag TEXT NOT NULL,"
	"  next TEXT NOT NULL,"
	"  numbers TEXT NOT NULL,"       /* "12,7,3" */
	"  read_at INTEGER NOT NULL,"
	"  PRIMARY KEY (target, page));",
};

_Static_assert(ARRAY_SIZE(migrations) == STORE_SCHEMA_VERSION,
    "one migration per schema version");

void
store_log_error(struct store *st, const char *what)
{
	log_warnx("state store: %s: %s", what, sqlite3_errmsg(st->db));
}

int
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

int
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
int
store_begin(struct store *st)
{
	return store_exec(st, "BEGIN IMMEDIATE");
}

int
store_durable(struct store *st, bool on)
{
	if (!st->relaxed)
		return 0;
	return store_exec(st, on ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL");
}

int
store_begin_durable(struct store *st)
{
	if (store_durable(st, true) != 0)
		return -1;
	st->restore = st->relaxed;
	if (store_begin(st) != 0) {
		st->restore = false;
		(void)store_durable(st, false);
		return -1;
	}
	return 0;
}

int
store_commit(struct store *st)
{
	int rc = store_exec(st, "COMMIT");

	if (st->restore && sqlite3_get_autocommit(st->db)) {
		st->restore = false;
		(void)store_durable(st, false);
	}
	return rc;
}

void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		(void)store_exec(st, "ROLLBACK");
	if (st->restore) {
		st->restore = false;
		(void)store_durable(st, false);
	}
}

/*
 * A job worker's commits are not synced one by one. In WAL mode a commit
 * that is not synced is still atomic and survives previewd's own crash
 * (kill -9: the WAL is in the kernel's page cache); only a power loss or
 * a kernel crash can take the last ones back, and what they record (a
 * job taken or done, a status) is what re-running a job makes again: each
 * step is idempotent. What must not be taken back is synced all the same:
 * every commit of the HTTP threads (a webhook is answered 202 only once
 * it is on disk) and the worker's transactions that write a password the
 * database server gets next (store_begin_durable: a pool member's, the
 * claim's). A synced commit also syncs every commit before it, the WAL
 * being one file written in order.
 *
 * Measured with strace on a warm-pool claim (2 cores, ext4 on a virtio
 * disk): 7 fdatasync calls from the webhook to the ready answer, at 1 to
 * 2 ms each, against 3 ms of SQL on the database server.
 */
int
store_relax(struct store *st)
{
	st->relaxed = true;
	return store_durable(st, false);
}

void
store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

/* Run one statement, binding ?1, ?2 ... from the arguments as types
 * says: 't' a string, 'i' an int64_t. The number of rows it changed, or
 * -1 (logged with what). */
int
store_stmt_exec(struct store *st, const char *what, const char *sql,
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
			store_bind_text(s, i + 1, va_arg(ap, const char *));
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

void
store_column_text(sqlite3_stmt *s, int i, char *out, size_t size)
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

/* Run sql (parameters ?1.. bound from texts) and hand each row's text
 * columns to fn. */
int
store_each_row(struct store *st, const char *sql, const char *const *params,
    int nparams, int (*fn)(sqlite3_stmt *, void *), void *arg,
    const char *what)
{
	sqlite3_stmt *s = NULL;
	int i, step, rc = -1;

	if (store_prepare(st, sql, &s) != 0)
		return -1;
	for (i = 0; i < nparams; i++)
		store_bind_text(s, i + 1, params[i]);
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

int
store_ping(struct store *st)
{
	int64_t jobs;
	int rc;

	if (store_begin(st) != 0)
		return -1;
	rc = store_job_count(st, &jobs);
	store_rollback(st);
	return rc;
}
