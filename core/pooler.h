/*
 * pooler: previewd's PgBouncer ([pgbouncer], issue 16) — pooled URLs for
 * applications, direct ones for migrations.
 *
 * Every PostgreSQL environment whose database exists gets a [databases]
 * entry before it is reported ready (pooler_add, from the claim) and loses
 * it before its database is dropped (pooler_remove, from the teardown).
 * The entries live here in memory, are rebuilt from the state store at
 * start-up, and are written to config_dir and reloaded on every change, so
 * after a crash or a restart the files say what the state says.
 *
 * In managed mode a thread of this module runs pgbouncer as a child,
 * restarts it when it dies (with backoff), and stops it at shutdown; in
 * both modes it reads SHOW POOLS every second for the health checks, the
 * admin page and the metrics. A change of [pgbouncer] takes effect at
 * previewd's next start.
 */
#ifndef PREVIEWD_POOLER_H
#define PREVIEWD_POOLER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "lib/config.h"
#include "lib/util.h"
#include "store/store.h"

/* Which URL of an environment. */
enum pooler_url {
	POOLER_DIRECT,     /* the server itself: migrations, pg_dump, psql */
	POOLER_POOLED,     /* through pgbouncer: the application */
	POOLER_DEFAULT,    /* database_url: [pgbouncer] database_url's pick */
};

/* Read the entries from the state store, write the files and, in managed
 * mode, start the thread that runs pgbouncer. Nothing when mode is off.
 * 0 ok, -1 with err. */
int pooler_start(const struct config *cfg, char *err, size_t errlen)
    MUST_CHECK;
void pooler_stop(void);

/* Whether e's URLs go through pgbouncer: it was started (as [pgbouncer]
 * said at previewd's start: a reload changes nothing here), and e is a
 * PostgreSQL environment. */
bool pooler_covers(const struct env *e);

/* Give e (with its plain password) its entry, rewrite the files, RELOAD,
 * and check that pgbouncer took it. Doing it again is harmless. 0 ok or
 * nothing to do, -1 with err when pgbouncer cannot be told yet (the
 * caller waits and tries again: the old configuration stays in force). */
int pooler_add(const struct config *cfg, const struct env *e,
    const char *password, char *err, size_t errlen) MUST_CHECK;

/* Drop e's connections on pgbouncer (KILL) and its entry, and reload.
 * What cannot be done now is logged, not returned: the server drops the
 * database next, which ends what pgbouncer still holds, and a restarted
 * pgbouncer reads files without the entry. */
void pooler_remove(const struct env *e);

/* e's URL of the given kind with password into out. 1 when e has no such
 * URL (pooled: pgbouncer is off or e is MySQL), 0 ok, -1 otherwise. The
 * pooled URL of a repository migrated with Prisma carries
 * "?pgbouncer=true" in transaction mode (Prisma then does not use named
 * prepared statements, which do not survive transaction pooling). */
int pooler_url(const struct config *cfg, const struct env *e,
    const char *password, enum pooler_url kind, char *out, size_t outsz)
    MUST_CHECK;

/* For the health checks: whether pgbouncer is configured, and whether
 * its admin console answered at the last look (err says why not). */
void pooler_health(bool *configured, bool *up, char *err, size_t errlen);

/* The state for the admin page and /api/v1/health's detail (the caller
 * owns it; NULL when off or out of memory):
 *   {"mode", "state": "running" | "starting" | "down", "pid" (managed),
 *    "restarts", "entries", "last_reload_at", "last_error",
 *    "clients", "waiting", "servers" (SHOW POOLS, now), "transactions",
 *    "queries", "wait_ms" (SHOW STATS, since pgbouncer started)}. */
cJSON *pooler_json(void);

/* Prometheus lines: per environment database, client and server
 * connections and waiting clients; pgbouncer's restarts and up. */
int pooler_metrics(struct buf *b) MUST_CHECK;

#endif
