/*
 * postgres: what the parts of the PostgreSQL engine share —
 * engines/postgres.c (the admin connection: the pool, claims, drops, the
 * sweep, and the postgres_ops table), engines/postgres_session.c
 * (sessions as an environment's own role: its SQL, the record of applied
 * migrations, cancels) and engines/postgres_clone.c (pool members copied
 * from a base database, and their hand-over at the claim). Nothing
 * outside engines/ includes it; everyone else goes through
 * engines/engine.h.
 */
#ifndef PREVIEWD_POSTGRES_H
#define PREVIEWD_POSTGRES_H

#include <libpq-fe.h>

#include "engines/engine.h"

/* What engines/postgres_clone.c (a pool member copied from a base and
 * its hand-over at the claim) takes from engines/postgres.c: */
/* Turn a failed result (or a broken connection) into ENGINE_RETRY or
 * ENGINE_FAIL, with the server's message in err. */
int pg_classify(struct engine *e, PGresult *res, char *err, size_t errlen);
/* Run one statement on the admin connection; params may be NULL. */
int pg_exec(struct engine *e, const char *sql, int nparams,
    const char *const *params, char *err, size_t errlen);
/* Run a script of statements (no parameters) as one transaction, PQexec's
 * implicit block or the one open already, rolled back on failure. */
int pg_script(struct engine *e, const char *sql, char *err, size_t errlen);
int pg_db_exists(struct engine *e, const char *db, bool *exists, char *err,
    size_t errlen);
/* A pool member as db_create makes it, empty (template_db NULL) or a copy
 * of template_db made with strategy (NULL: the server's default). */
int pg_member_make(struct engine *e, const char *db, const char *template_db,
    const char *strategy, const char *password, char *err, size_t errlen);
/* The other half of db_clone and db_adopt (see engine_ops). */
int pg_db_clone(struct engine *e, const char *base_db, const char *base_role,
    const char *db, const char *password, char *err, size_t errlen);
int pg_db_adopt(struct engine *e, const char *db, const char *from_role,
    const char *to_role, char *err, size_t errlen);

/* What engines/postgres_roles.c gives the others (see there why): */
/* In an open transaction: make the admin a member of role unless it may
 * act as role already; *granted says whether this did. A role that does
 * not exist is left alone. */
int pg_member_take(struct engine *e, const char *role, bool *granted,
    char *err, size_t errlen);
/* REVOKE role FROM CURRENT_USER, before the transaction's COMMIT. */
int pg_member_give_back(struct engine *e, const char *role, char *err,
    size_t errlen);
/* End a transaction: COMMIT when rc is ENGINE_OK (its result returned),
 * else ROLLBACK and rc. */
int pg_tx_end(struct engine *e, int rc, char *err, size_t errlen);
/* Before a drop, in one transaction: role (NULL: none; else it exists)
 * made NOLOGIN when nologin is set, its sessions anywhere and every
 * session in dbs (at most two) ended, dbs that previewd's roles own
 * handed to the admin, and every membership this took given back. */
int pg_release(struct engine *e, const char *role, bool nologin,
    const char *const *dbs, size_t ndbs, char *err, size_t errlen);
/* Once a process, on its first connection: give back the memberships in
 * previewd's roles an older previewd kept. */
void pg_tidy_once(struct engine *e);
/* engine_ops.role_limit. */
int pg_role_limit(struct engine *e, const char *role, int limit, char *err,
    size_t errlen);

/* libpq's notice processor: server notices to the log at debug level. */
void pg_notice(void *arg, const char *message);

/* The session half of postgres_ops (see engine_ops for each). */
int pg_session_open(const struct engine_cfg *cfg, const char *db,
    const char *role, const char *password, int64_t timeout_ms,
    void **session, char *err, size_t errlen);
int pg_session_run(void *session, const char *sql, size_t len, char *err,
    size_t errlen);
void pg_session_close(void *session);
void *pg_cancel_token(void *session);
int pg_cancel(const struct engine_cfg *cfg, void *token, char *err,
    size_t errlen);
void pg_cancel_free(void *token);
int pg_record_prepare(void *session, char *err, size_t errlen);
int pg_record_list(void *session, int (*fn)(const char *, const char *,
    void *), void *arg, char *err, size_t errlen);
int pg_record_apply(void *session, const struct engine_apply *a, char *err,
    size_t errlen);

#endif
