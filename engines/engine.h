/*
 * engine: one interface in front of each kind of database server.
 *
 * Nothing outside engines/ knows an SQL dialect. A struct engine is one
 * admin connection to one server, owned by one thread (a job worker or
 * the reaper); it connects lazily and reconnects after a failure.
 *
 * Every operation is idempotent — safe to repeat after a crash at any
 * point — and returns:
 *   ENGINE_OK     done;
 *   ENGINE_RETRY  the server is unreachable or busy: try again later;
 *   ENGINE_FAIL   the server refused for good (err says why).
 * err never contains a password: whatever a client library or a server
 * wrote into it is scrubbed (lib/scrub.h) on its way out of engine.c.
 */
#ifndef PREVIEWD_ENGINE_H
#define PREVIEWD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"
#include "lib/util.h"

enum engine_rc { ENGINE_OK = 0, ENGINE_RETRY = -1, ENGINE_FAIL = -2 };

/* The most rows record_list reads back from previewd_migrations: a
 * repository's migration files (source.h caps them at 1,000) and the
 * seed. More is not previewd's record, and fails. */
#define ENGINE_RECORD_MAX 1001

struct engine;

/*
 * One repository file (or the seed) as record_apply runs and records it.
 * The history statements are a migration tool's own table (core/tools.c
 * has them, per engine, as each tool's drivers write it): the one SQL
 * from outside engines/, handed over as data. Each may use $1 to $N,
 * which the engine binds to history_params[0..N) (parameters on
 * PostgreSQL, escaped literals on MySQL; a NULL is SQL's NULL). A
 * statement uses its parameters from $1 on without gaps, as PostgreSQL
 * must infer each one's type.
 */
struct engine_apply {
	const char *name;          /* its name in previewd_migrations */
	const char *checksum;      /* SHA-256 of the file, hex */
	const char *sql;           /* the script, NUL-terminated */
	size_t len;
	/* Run the script by itself, not in the transaction of its record
	 * (a dbmate file's "transaction:false", for statements PostgreSQL
	 * refuses in a transaction block). The record then follows the
	 * script, as it always does on MySQL, and a crash between the two
	 * leaves the script applied and unrecorded: the core keeps an intent
	 * for such a file, as for every file on MySQL. */
	bool outside_transaction;
	const char *const *history;   /* NULL, or NULL-terminated */
	const char *const *history_params;
	size_t history_nparams;
};

/* The highest $N in a history statement: how many parameters it takes. */
size_t engine_history_nparams(const char *stmt);

struct engine_ops {
	const char *name;          /* "postgres": the config section too */
	const char *url_scheme;    /* scheme of handed-out URLs */
	int default_port;
	/* A claimed pool database keeps its name (MySQL cannot rename a
	 * database); otherwise the claim renames it to the environment's. */
	bool keeps_pool_name;
	/* Pool members come with their role (see db_create). */
	bool pool_roles;
	/* A repository's file and its record run in one transaction that a
	 * crash rolls back (PostgreSQL). Without it (MySQL, MariaDB: DDL
	 * commits statement by statement) a file cut short leaves part of
	 * itself behind, and the core rebuilds the database instead of
	 * running the file again (core/lifecycle.c). */
	bool ddl_transactional;
	int (*connect)(struct engine *e, char *err, size_t errlen);
	void (*disconnect)(struct engine *e);
	int (*ping)(struct engine *e, char *err, size_t errlen);
	/* Create database db, an idle pool member reachable by nobody. With
	 * pool_roles, also its future role — named db, NOLOGIN, with
	 * password — owning it, so that a claim need not create a role:
	 * PostgreSQL spends ~6 ms of server CPU on CREATE ROLE ... PASSWORD
	 * (it checks the verifier against an empty password), a rename
	 * takes 0.2 ms. */
	int (*db_create)(struct engine *e, const char *db, const char *password,
	    char *err, size_t errlen);
	/* Make db exist — renamed from pool_db when that exists (or, with
	 * keeps_pool_name, db is pool_db), else created — owned by or granted
	 * to login role role with password (with pool_roles: the pool
	 * member's role, renamed, whose password it already is). pool_db may
	 * be "". */
	int (*claim)(struct engine *e, const char *pool_db, const char *db,
	    const char *role, const char *password, char *err, size_t errlen);
	/* Set role's password again, as the verifier previewd computes
	 * (lib/crypto.h). NULL on engines whose verifier is the server's
	 * own business (no pgbouncer in front). */
	int (*role_password)(struct engine *e, const char *role,
	    const char *password, char *err, size_t errlen);
	/* Let login role role hold at most limit connections at once
	 * (PostgreSQL's CONNECTION LIMIT, MySQL's MAX_USER_CONNECTIONS). */
	int (*role_limit)(struct engine *e, const char *role, int limit,
	    char *err, size_t errlen);
	/* Close role's sessions, drop db, pool_db (if not "") and role (and
	 * pool_db's own role, with pool_roles). */
	int (*drop)(struct engine *e, const char *db, const char *pool_db,
	    const char *role, char *err, size_t errlen);
	/* A connection to db as role, for running a repository's SQL with
	 * the environment's own privileges. The server ends any statement of
	 * the session that runs longer than timeout_ms (statement_timeout,
	 * max_statement_time): the core cancels a file at its own deadline
	 * first (cancel below); this is the backstop for a previewd that is
	 * no longer there to do it. */
	int (*session_open)(const struct engine_cfg *cfg, const char *db,
	    const char *role, const char *password, int64_t timeout_ms,
	    void **session, char *err, size_t errlen);
	/* Cancel what a session runs, from another thread: cancel_token is
	 * called on the session's thread and returns what cancel needs (NULL
	 * when out of memory); cancel runs on any thread (with a connection
	 * of its own where the engine needs one) and makes the running
	 * statement fail at once; cancel_free releases the token on the
	 * session's thread. */
	void *(*cancel_token)(void *session);
	int (*cancel)(const struct engine_cfg *cfg, void *token, char *err,
	    size_t errlen);
	void (*cancel_free)(void *token);
	/* Run a script of one or more statements, parsed by the server.
	 * PostgreSQL runs it as one transaction (unless the script manages
	 * its own); MySQL commits each DDL statement as it goes. On failure
	 * err says where ("line N" / "statement N") and the server's
	 * message, and nothing after the failing statement ran. */
	int (*session_run)(void *session, const char *sql, size_t len,
	    char *err, size_t errlen);
	void (*session_close)(void *session);
	/* The record of applied migrations, a table previewd_migrations
	 * (name, checksum, applied_at) in the environment's database:
	 * create it if need be, list it, and apply one file and record it
	 * together with its history statements (struct engine_apply) — in
	 * one transaction on PostgreSQL; on MySQL DDL commits as it runs, so
	 * the history and the record follow the file, in a transaction of
	 * their own. Fault point "migrate.before_record": the file has run,
	 * its record not yet. */
	int (*record_prepare)(void *session, char *err, size_t errlen);
	int (*record_list)(void *session, int (*fn)(const char *name,
	    const char *checksum, void *arg), void *arg, char *err,
	    size_t errlen);
	int (*record_apply)(void *session, const struct engine_apply *a,
	    char *err, size_t errlen);
	/* Make pool member db a copy of database base_db (its schema, rows,
	 * sequences' positions, and every other object in it), otherwise as
	 * db_create leaves a member: reachable by nobody until claimed, with
	 * pool_roles its role named db, NOLOGIN, with password, owning it.
	 * Nothing in db answers to base_role (the base's owner) any more:
	 * its objects are the member's role's (PostgreSQL; without a
	 * password they stay base_role's until db_adopt) or run as a user
	 * of the member's own (MySQL), so base_role may go with its base
	 * while members live on. Idempotent: a crash anywhere is finished by
	 * calling it again with the same names. */
	int (*db_clone)(struct engine *e, const char *base_db,
	    const char *base_role, const char *db, const char *password,
	    char *err, size_t errlen);
	/* After the claim of a member db_clone made: every object in db that
	 * answers to from_role (the base's role) answers to to_role (the
	 * environment's), which can then alter and drop them, and nothing in
	 * db is left to from_role. After db_clone there is nothing left but
	 * to check (one query, or two REVOKEs): the claim stays fast; what a
	 * member copied otherwise holds is handed over here. Idempotent. */
	int (*db_adopt)(struct engine *e, const char *db, const char *from_role,
	    const char *to_role, char *err, size_t errlen);
	/* End the sessions in db and drop it; the role stays (a rebuild). */
	int (*db_drop)(struct engine *e, const char *db, const char *role,
	    char *err, size_t errlen);
	/* One page of previewd's databases (role false) or roles (users) on
	 * the server, for the orphan sweep: those whose name starts with
	 * previewd's prefix and sorts after `after` in byte order ("" for the
	 * first page), at most limit of them, in that order, so that the sweep
	 * can merge them with the state's names page by page however many
	 * there are. fn gets each name names_valid accepts and returns 0 to go
	 * on; *last gets the last name the page held, valid or not, where the
	 * next page starts ("" when the page was empty: the end). Objects
	 * previewd may not see are not listed (MySQL users without SELECT on
	 * mysql.user: an empty page). */
	int (*list)(struct engine *e, bool role, const char *after, int limit,
	    int (*fn)(const char *name, void *arg), void *arg, char *last,
	    size_t lastsz, char *err, size_t errlen);
	/* Drop one database or role nothing of previewd's refers to. */
	int (*drop_orphan)(struct engine *e, bool role, const char *name,
	    char *err, size_t errlen);
	/* The size in bytes of each database of dbs[0..n) that exists and
	 * previewd may measure, as the server counts it, for the admin page;
	 * fn returns 0 to go on. The sweep asks for a few at a time, oldest
	 * measurement first: measuring is what costs (a millisecond a
	 * database on PostgreSQL). */
	int (*sizes)(struct engine *e, const char *const *dbs, size_t n,
	    int (*fn)(const char *db, int64_t bytes, void *arg), void *arg,
	    char *err, size_t errlen);
};

struct engine {
	const struct engine_ops *ops;
	const struct engine_cfg *cfg;
	void *conn;                /* the driver's handle, NULL when closed */
};

/* The engine named name ("postgres", "mysql"), NULL when previewd has
 * none. */
const struct engine_ops *engine_find(const char *name);

/* Every engine previewd has, in order; NULL after the last. */
const struct engine_ops *engine_at(size_t i);

/* A handle for cfg; connects on first use. NULL when out of memory. */
struct engine *engine_new(const struct engine_ops *ops,
    const struct engine_cfg *cfg);
void engine_free(struct engine *e);

int engine_ping(struct engine *e, char *err, size_t errlen) MUST_CHECK;
int engine_db_create(struct engine *e, const char *db, const char *password,
    char *err, size_t errlen) MUST_CHECK;
int engine_claim(struct engine *e, const char *pool_db, const char *db,
    const char *role, const char *password, char *err, size_t errlen)
    MUST_CHECK;
int engine_role_limit(struct engine *e, const char *role, int limit,
    char *err, size_t errlen) MUST_CHECK;
/* ENGINE_OK without a word on engines without role_password. */
int engine_role_password(struct engine *e, const char *role,
    const char *password, char *err, size_t errlen) MUST_CHECK;
int engine_drop(struct engine *e, const char *db, const char *pool_db,
    const char *role, char *err, size_t errlen) MUST_CHECK;

/* A session as an environment's own role (see engine_ops). */
struct engine_session;
int engine_session_open(const struct engine_ops *ops,
    const struct engine_cfg *cfg, const char *db, const char *role,
    const char *password, int64_t timeout_ms, struct engine_session **out,
    char *err, size_t errlen) MUST_CHECK;
/* A token that cancels what s runs (see engine_ops.cancel_token): made
 * and freed by s's thread, used by any. NULL when out of memory. */
struct engine_cancel;
struct engine_cancel *engine_cancel_token(struct engine_session *s);
int engine_cancel(struct engine_cancel *c, const struct engine_cfg *cfg,
    char *err, size_t errlen) MUST_CHECK;
void engine_cancel_free(struct engine_cancel *c);
int engine_session_run(struct engine_session *s, const char *sql, size_t len,
    char *err, size_t errlen) MUST_CHECK;
void engine_session_close(struct engine_session *s);
int engine_record_prepare(struct engine_session *s, char *err, size_t errlen)
    MUST_CHECK;
int engine_record_list(struct engine_session *s, int (*fn)(const char *name,
    const char *checksum, void *arg), void *arg, char *err, size_t errlen)
    MUST_CHECK;
int engine_record_apply(struct engine_session *s,
    const struct engine_apply *a, char *err, size_t errlen) MUST_CHECK;
int engine_db_drop(struct engine *e, const char *db, const char *role,
    char *err, size_t errlen) MUST_CHECK;
/* A pool member copied from a base database, and its hand-over to the
 * environment's role after the claim (see engine_ops). */
int engine_db_clone(struct engine *e, const char *base_db,
    const char *base_role, const char *db, const char *password, char *err,
    size_t errlen) MUST_CHECK;
int engine_db_adopt(struct engine *e, const char *db, const char *from_role,
    const char *to_role, char *err, size_t errlen) MUST_CHECK;
/* The longest name a page of engine_list may end on (an identifier of
 * any engine, prefixed or not, fits). */
#define ENGINE_LIST_NAME 256
int engine_list(struct engine *e, bool role, const char *after, int limit,
    int (*fn)(const char *name, void *arg), void *arg,
    char last[ENGINE_LIST_NAME], char *err, size_t errlen) MUST_CHECK;
int engine_drop_orphan(struct engine *e, bool role, const char *name,
    char *err, size_t errlen) MUST_CHECK;
int engine_sizes(struct engine *e, const char *const *dbs, size_t n,
    int (*fn)(const char *db, int64_t bytes, void *arg), void *arg,
    char *err, size_t errlen) MUST_CHECK;

/* Host and port clients use: public_host when set, else admin_url's. */
int engine_endpoint(const struct engine_ops *ops, const struct engine_cfg *cfg,
    char *host, size_t hostsz, int *port) MUST_CHECK;

/* The URL handed to a user: scheme://role:password@host:port/db. */
int engine_url(const struct engine_ops *ops, const struct engine_cfg *cfg,
    const char *role, const char *password, const char *db, char *out,
    size_t outsz) MUST_CHECK;

extern const struct engine_ops postgres_ops;
extern const struct engine_ops mysql_ops;

#endif
