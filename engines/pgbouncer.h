/*
 * pgbouncer: the connection pooler in front of PostgreSQL, as a tool
 * previewd drives — its two files, its admin console and its process.
 *
 * What goes into the files (which environments, with which pool sizes)
 * and when pgbouncer runs is core/pooler.c's business; this file knows
 * only pgbouncer's formats and protocol (pgbouncer's doc/config.md and
 * doc/usage.md, 1.18 as Debian 12 ships it):
 *
 * - pgbouncer.ini: a [databases] line per environment database,
 *   "name = host=H port=P dbname=name pool_size=N max_db_connections=N",
 *   and in managed mode the [pgbouncer] settings too (in external mode
 *   the operator's own pgbouncer.ini %includes ours);
 * - userlist.txt, the auth_file: "role" "SCRAM-SHA-256$..." per line,
 *   the verifier PostgreSQL has for the role, never a password. With the
 *   same verifier on both sides pgbouncer logs in to the server with the
 *   keys of the client's own SCRAM exchange, so it needs no password of
 *   its own and no auth_query as a superuser.
 *
 * Both are written to a temporary file and renamed over the old one, so
 * pgbouncer never reads half a file, with mode 0600 and owned by the user
 * pgbouncer runs as.
 */
#ifndef PREVIEWD_PGBOUNCER_H
#define PREVIEWD_PGBOUNCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/crypto.h"

#define PGB_NAME_SIZE 64

/* One environment database in [databases] (and its role in the
 * auth_file). */
struct pgb_entry {
	char db[PGB_NAME_SIZE];
	char role[PGB_NAME_SIZE];
	char verifier[CRYPTO_SCRAM_LEN];
	int pool_size;
	char owner[24];       /* the caller's: not written to the files */
};

/* What the files say besides the entries. */
struct pgb_settings {
	const char *dir;              /* config_dir */
	bool managed;                 /* write the [pgbouncer] section */
	char listen_host[256];
	int listen_port;
	char server_host[256];        /* PostgreSQL, as pgbouncer reaches it */
	int server_port;
	const char *pool_mode;
	int64_t default_pool_size;
	int64_t max_client_conn;
	const char *admin_user;
	char admin_verifier[CRYPTO_SCRAM_LEN];
	uid_t uid;                    /* owner of the files; (uid_t)-1: ours */
	gid_t gid;
};

/* Write pgbouncer.ini and userlist.txt into s->dir for n entries. A name
 * outside [a-z0-9_] (previewd's names never are) is refused rather than
 * written, since both files are parsed by pgbouncer. 0 ok, -1 with err. */
int pgbouncer_write(const struct pgb_settings *s, const struct pgb_entry *e,
    size_t n, char *err, size_t errlen) MUST_CHECK;

/* The admin console (the "pgbouncer" database: simple queries only). */
struct pgb_admin;

int pgbouncer_admin_open(const char *host, int port, const char *user,
    const char *password, struct pgb_admin **out, char *err, size_t errlen)
    MUST_CHECK;
void pgbouncer_admin_close(struct pgb_admin *a);

/* RELOAD. pgbouncer answers RELOAD even when it could not read the new
 * files (it keeps the old configuration and says so only in its log), so
 * callers check the outcome with pgbouncer_has_db. 0 ok, -1 with err
 * (the connection is then unusable: close it). */
int pgbouncer_reload(struct pgb_admin *a, char *err, size_t errlen)
    MUST_CHECK;

/* KILL db: drop every client and server connection of db now. A db
 * pgbouncer does not know is not an error. 0 ok, -1 with err. */
int pgbouncer_kill(struct pgb_admin *a, const char *db, char *err,
    size_t errlen) MUST_CHECK;

/* Whether db is in pgbouncer's running configuration (SHOW DATABASES).
 * 0 ok, -1 with err. */
int pgbouncer_has_db(struct pgb_admin *a, const char *db, bool *has,
    char *err, size_t errlen) MUST_CHECK;

/* One database's pools, summed over its users (SHOW POOLS). */
struct pgb_pool {
	char db[PGB_NAME_SIZE];
	int64_t cl_active, cl_waiting;
	int64_t sv_active, sv_idle, sv_used;
};

/* fn for each database in SHOW POOLS (the admin console's own excepted).
 * 0 ok, -1 with err. */
int pgbouncer_pools(struct pgb_admin *a,
    void (*fn)(const struct pgb_pool *p, void *arg), void *arg, char *err,
    size_t errlen) MUST_CHECK;

/* Totals over every database but the admin console's (SHOW STATS):
 * transactions and queries pooled since pgbouncer started, and the time
 * clients spent waiting for a server connection. */
struct pgb_stats {
	int64_t xacts, queries, wait_us;
};

int pgbouncer_stats(struct pgb_admin *a, struct pgb_stats *out, char *err,
    size_t errlen) MUST_CHECK;

/* Start binary on dir's pgbouncer.ini in the foreground, as uid/gid when
 * they are not -1 (pgbouncer refuses to run as root), with its standard
 * error on ours and no other descriptor of ours. It gets SIGTERM when the
 * calling thread ends. The pid, or -1 with err. */
pid_t pgbouncer_spawn(const char *binary, const char *dir, uid_t uid,
    gid_t gid, char *err, size_t errlen);

/* SIGTERM pid (a pgbouncer: it shuts down at once) and wait until it has
 * exited, reaping it when it is our child; SIGKILL after 5 s. */
void pgbouncer_stop(pid_t pid, bool child);

/* The pid in dir's pgbouncer.pid when that process is a pgbouncer still
 * running (one a killed previewd left behind), else 0. */
pid_t pgbouncer_leftover(const char *dir);

#endif
