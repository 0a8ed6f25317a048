/*
 * mysql: what the two halves of the MySQL / MariaDB engine share —
 * engines/mysql.c (the admin connection and the mysql_ops table),
 * engines/mysql_session.c (sessions as an environment's user) and
 * engines/mysql_clone.c (pool members copied from a base database, and
 * their hand-over at the claim).
 * Nothing outside engines/ includes it; everyone else goes through
 * engines/engine.h.
 */
#ifndef PREVIEWD_MYSQL_H
#define PREVIEWD_MYSQL_H

#include <mysql.h>

#include "engines/engine.h"

#define MY(e) ((MYSQL *)(e)->conn)

/* Open and close e's connection (the admin's, or a cancel's own). */
int my_connect(struct engine *e, char *err, size_t errlen);
void my_disconnect(struct engine *e);
/* The admin connection's last error into err: ENGINE_RETRY or
 * ENGINE_FAIL. */
int my_classify(struct engine *e, char *err, size_t errlen);
/* Run one statement on the admin connection, reading any rows. */
int my_exec(struct engine *e, const char *sql, char *err, size_t errlen);
/* ENGINE_FAIL, saying which, unless every non-empty name is one
 * previewd could have made (names_valid). */
int my_check_names(const char *a, const char *b, const char *c, char *err,
    size_t errlen);
/* `name` with '_' escaped, for the database part of GRANT. */
void my_grant_pattern(const char *db, char *out, size_t outsz);
int my_db_exists(struct engine *e, const char *db, bool *exists, char *err,
    size_t errlen);
/* " IDENTIFIED ..." for a user's password, into out. 0 ok. */
int my_identified(struct engine *e, const char *password, char *out,
    size_t outsz);
/* A session as role (see engine_ops.session_open), and a script on it. */
int my_session_open(const struct engine_cfg *cfg, const char *db,
    const char *role, const char *password, int64_t timeout_ms,
    void **session, char *err, size_t errlen);
int my_session_run(void *session, const char *sql, size_t len, char *err,
    size_t errlen);
/* engines/mysql_session.c, the rest of it (see engine_ops for each). */
void my_session_close(void *session);
void *my_cancel_token(void *session);
int my_cancel(const struct engine_cfg *cfg, void *token, char *err,
    size_t errlen);
void my_cancel_free(void *token);
int my_record_prepare(void *session, char *err, size_t errlen);
int my_record_list(void *session, int (*fn)(const char *, const char *,
    void *), void *arg, char *err, size_t errlen);
int my_record_apply(void *session, const struct engine_apply *a, char *err,
    size_t errlen);

/* engines/mysql_clone.c (see engine_ops for each). */
int my_db_clone(struct engine *e, const char *base_db, const char *base_role,
    const char *db, const char *password, char *err, size_t errlen);
int my_db_adopt(struct engine *e, const char *db, const char *from_role,
    const char *to_role, char *err, size_t errlen);

#endif
