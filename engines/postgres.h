/*
 * postgres: what the two halves of the PostgreSQL engine share —
 * engines/postgres.c (the admin connection: the pool, claims, drops, the
 * sweep, and the postgres_ops table) and engines/postgres_session.c
 * (sessions as an environment's own role: its SQL, the record of applied
 * migrations, cancels). Nothing outside engines/ includes it; everyone
 * else goes through engines/engine.h.
 */
#ifndef PREVIEWD_POSTGRES_H
#define PREVIEWD_POSTGRES_H

#include "engines/engine.h"

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
