/*
 * pooler: the entries, the files, the admin console and, in managed mode,
 * the pgbouncer process (see pooler.h).
 *
 * One lock guards everything here; it is held across a RELOAD (a few
 * milliseconds) so that two claims never interleave their writes of the
 * files. The admin console connection is opened when first needed and
 * again after any error.
 */
#include "core/pooler.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/pooler_reverify.h"
#include "engines/engine.h"
#include "engines/pgbouncer.h"
#include "lib/crypto.h"
#include "lib/dburl.h"
#include "lib/log.h"

#define RESTART_MAX_MS 30000     /* the longest wait between restarts */

static pthread_mutex_t pl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pl_cond;
static pthread_t pl_thread;
static bool pl_running;
static atomic_bool pl_down;           /* also read by pooler_reverify */
static bool pl_loaded;                 /* the entries read at start */
/* The configuration pgbouncer was started with, for the URLs: a reload
 * (SIGHUP) does not turn pgbouncer on or off, nor move it. Configurations
 * live until exit (lib/config.h), so the pointer stays good. */
static _Atomic(const struct config *) pl_started;

/* All under pl_lock. */
static const struct config *pl_cfg;    /* NULL: off */
static struct pgb_settings pl_set;
static char pl_admin_pw[CRYPTO_PASSWORD_LEN + 1];
static struct pgb_admin *pl_admin;
static struct pgb_entry *pl_entries;
static size_t pl_n, pl_cap;
static pid_t pl_pid;                   /* managed: the child, 0 if none */
static int64_t pl_restarts, pl_reload_at;
static bool pl_up, pl_known;           /* known: looked at once */
static char pl_error[512];
static struct pgb_pool *pl_pools;      /* the last SHOW POOLS */
static struct pgb_stats pl_stats;      /* the last SHOW STATS */
static size_t pl_npools, pl_pools_cap;

static bool
managed(void)
{
	return strcmp(pl_cfg->pgbouncer.mode, "managed") == 0;
}

bool
pooler_covers(const struct env *e)
{
	return atomic_load(&pl_started) != NULL &&
	    strcmp(e->engine, "postgres") == 0 &&
	    e->number != ENV_BASE_NUMBER;
}

static int
entry_find(const char *db)
{
	size_t i;

	for (i = 0; i < pl_n; i++)
		if (strcmp(pl_entries[i].db, db) == 0)
			return (int)i;
	return -1;
}

/* Fill entry for e; 0 ok, -1 when its names do not fit. */
static int
entry_make(const struct config *cfg, const struct env *e,
    const char *password, struct pgb_entry *out)
{
	const struct repo_cfg *repo = config_repo(cfg, e->repo);

	memset(out, 0, sizeof(*out));
	out->pool_size = (int)(repo != NULL && repo->pool_size > 0 ?
	    repo->pool_size : pl_set.default_pool_size);
	if (str_copy(out->owner, e->id, sizeof(out->owner)) != 0 ||
	    str_copy(out->db, e->db_name, sizeof(out->db)) != 0 ||
	    str_copy(out->role, e->role_name, sizeof(out->role)) != 0 ||
	    crypto_scram_verifier(password, out->verifier,
	    sizeof(out->verifier)) != 0)
		return -1;
	return 0;
}

static int
entry_put(const struct pgb_entry *en)
{
	int i = entry_find(en->db);

	if (i >= 0) {
		pl_entries[i] = *en;
		return 0;
	}
	if (pl_n == pl_cap) {
		size_t cap = pl_cap ? pl_cap * 2 : 64;
		struct pgb_entry *n = realloc(pl_entries, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		pl_entries = n;
		pl_cap = cap;
	}
	pl_entries[pl_n++] = *en;
	return 0;
}

static void
admin_drop(void)
{
	pgbouncer_admin_close(pl_admin);
	pl_admin = NULL;
}

/* The admin console, opened if need be. 0 ok, -1 with err. */
static int
admin_get(char *err, size_t errlen)
{
	if (pl_admin != NULL)
		return 0;
	return pgbouncer_admin_open(pl_set.listen_host, pl_set.listen_port,
	    pl_set.admin_user, pl_admin_pw, &pl_admin, err, errlen);
}

/* Note what the last look at pgbouncer saw. */
static void
seen(bool up, const char *error)
{
	if (up != pl_up) {
		if (up)
			log_info("pgbouncer: admin console answers on %s:%d",
			    pl_set.listen_host, pl_set.listen_port);
		else
			log_warnx("pgbouncer: %s", error);
	}
	pl_up = up;
	pl_known = true;
	str_copy(pl_error, up ? "" : error, sizeof(pl_error));
}

/* Write the files from the entries and RELOAD; when db is given, check
 * that the running configuration has it (want) or not. Under pl_lock. */
static int
apply(const char *db, bool want, char *err, size_t errlen)
{
	bool has;

	if (pgbouncer_write(&pl_set, pl_entries, pl_n, err, errlen) != 0)
		goto fail;
	if (admin_get(err, errlen) != 0)
		goto fail;
	if (pgbouncer_reload(pl_admin, err, errlen) != 0) {
		admin_drop();
		goto fail;
	}
	pl_reload_at = now_s();
	if (db == NULL)
		return 0;
	if (pgbouncer_has_db(pl_admin, db, &has, err, errlen) != 0) {
		admin_drop();
		goto fail;
	}
	if (has != want) {
		/* pgbouncer answers RELOAD even when it could not read the
		 * files; its old configuration stays in force. */
		snprintf(err, errlen, "pgbouncer did not take the new "
		    "configuration in %s (its log says why): %s is still %s",
		    pl_set.dir, db, want ? "missing" : "there");
		str_copy(pl_error, err, sizeof(pl_error));
		return -1;
	}
	if (pl_up && pl_error[0] != '\0')
		pl_error[0] = '\0';
	return 0;
fail:
	str_copy(pl_error, err, sizeof(pl_error));
	return -1;
}

int
pooler_add(const struct config *cfg, const struct env *e,
    const char *password, char *err, size_t errlen)
{
	struct pgb_entry en;
	int rc;

	if (!pooler_covers(e))
		return 0;
	if (entry_make(cfg, e, password, &en) != 0) {
		snprintf(err, errlen, "cannot make pgbouncer's entry for %s",
		    e->db_name);
		return -1;
	}
	pthread_mutex_lock(&pl_lock);
	if (pl_cfg == NULL || !pl_loaded) {
		snprintf(err, errlen, "pgbouncer's entries are not read yet");
		rc = -1;
	} else if (entry_put(&en) != 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	} else {
		rc = apply(en.db, true, err, errlen);
	}
	pthread_mutex_unlock(&pl_lock);
	crypto_wipe(&en, sizeof(en));
	return rc;
}

void
pooler_remove(const struct env *e)
{
	char err[512];
	int i;

	if (!pooler_covers(e))
		return;
	pthread_mutex_lock(&pl_lock);
	if (pl_cfg == NULL || (i = entry_find(e->db_name)) < 0)
		goto out;   /* an entry still to be read at start is not added */
	/* Connections first: a client of a removed entry would keep its
	 * server connection until it disconnects. */
	if (admin_get(err, sizeof(err)) != 0 ||
	    pgbouncer_kill(pl_admin, e->db_name, err, sizeof(err)) != 0) {
		admin_drop();
		log_warnx("pgbouncer: cannot end the connections to %s: %s",
		    e->db_name, err);
	}
	crypto_wipe(&pl_entries[i], sizeof(pl_entries[i]));
	pl_entries[i] = pl_entries[--pl_n];
	if (apply(e->db_name, false, err, sizeof(err)) != 0)
		log_warnx("pgbouncer: %s stays in its running configuration "
		    "until the next reload: %s", e->db_name, err);
out:
	pthread_mutex_unlock(&pl_lock);
}

int
pooler_url(const struct config *cfg, const struct env *e,
    const char *password, enum pooler_url kind, char *out, size_t outsz)
{
	const struct engine_ops *ops = engine_find(e->engine);
	const struct engine_cfg *ecfg = config_engine(cfg, e->engine);
	const struct config *on = atomic_load(&pl_started);
	const struct repo_cfg *repo;
	const char *tool;
	char host[256];
	int port = 0;
	size_t len;

	if (ops == NULL || ecfg == NULL)
		return -1;
	if (kind == POOLER_DEFAULT)
		kind = pooler_covers(e) &&
		    strcmp(on->pgbouncer.database_url, "pooled") == 0 ?
		    POOLER_POOLED : POOLER_DIRECT;
	if (kind == POOLER_DIRECT)
		return engine_url(ops, ecfg, e->role_name, password, e->db_name,
		    out, outsz);
	if (!pooler_covers(e))
		return 1;
	if (dburl_hostport(on->pgbouncer.listen, host, sizeof(host),
	    &port) != 0 || (on->pgbouncer.public_host != NULL &&
	    dburl_hostport(on->pgbouncer.public_host, host, sizeof(host),
	    &port) != 0))
		return -1;
	if (dburl_build(ops->url_scheme, e->role_name, password, host, port,
	    e->db_name, out, outsz) != 0)
		return -1;
	repo = config_repo(cfg, e->repo);
	tool = e->migrations_tool[0] != '\0' ? e->migrations_tool :
	    repo != NULL ? repo->migrations_tool : "";
	len = strlen(out);
	if (strcmp(tool, "prisma") == 0 &&
	    strcmp(on->pgbouncer.pool_mode, "transaction") == 0 &&
	    str_copy(out + len, "?pgbouncer=true", outsz - len) != 0)
		return -1;
	return 0;
}

/* ---- start-up ---- */

struct load {
	const struct config *cfg;
	int failed;
};

/* Whether e has an entry: a live PostgreSQL environment that has
 * claimed its database. */
static bool
entry_wanted(const struct env *e)
{
	return pooler_covers(e) && e->secret_len > 0 &&
	    e->status != ENV_DELETING && e->status != ENV_DELETED &&
	    e->status != ENV_QUEUED && e->db_name[0] != '\0';
}

static int
load_one(const struct env *e, void *arg)
{
	struct load *l = arg;
	char pw[CRYPTO_PASSWORD_LEN + 1];
	struct pgb_entry en;

	if (!entry_wanted(e))
		return 0;
	if (crypto_open(l->cfg->server.secret_key, e->id, e->secret,
	    e->secret_len, pw, sizeof(pw)) != 0 ||
	    entry_make(l->cfg, e, pw, &en) != 0 || entry_put(&en) != 0)
		l->failed++;
	crypto_wipe(pw, sizeof(pw));
	crypto_wipe(&en, sizeof(en));
	return 0;
}

static int
settings_make(const struct config *cfg, char *err, size_t errlen)
{
	struct dburl u;
	unsigned char mac[64];
	unsigned len = 0;
	int rc = -1;

	memset(&pl_set, 0, sizeof(pl_set));
	pl_set.dir = cfg->pgbouncer.config_dir;
	pl_set.managed = strcmp(cfg->pgbouncer.mode, "managed") == 0;
	pl_set.pool_mode = cfg->pgbouncer.pool_mode;
	pl_set.default_pool_size = cfg->pgbouncer.default_pool_size;
	pl_set.max_client_conn = cfg->pgbouncer.max_client_conn;
	pl_set.admin_user = cfg->pgbouncer.admin_user;
	pl_set.uid = (uid_t)-1;
	pl_set.gid = (gid_t)-1;
	pl_set.listen_port = 6432;
	if (dburl_hostport(cfg->pgbouncer.listen, pl_set.listen_host,
	    sizeof(pl_set.listen_host), &pl_set.listen_port) != 0 ||
	    dburl_parse(cfg->postgres.admin_url, &u, err, errlen) != 0) {
		snprintf(err, errlen, "[pgbouncer] listen or [postgres] "
		    "admin_url does not parse");
		goto out;
	}
	str_copy(pl_set.server_host, u.host, sizeof(pl_set.server_host));
	pl_set.server_port = u.port ? u.port : 5432;
	/* pgbouncer refuses to run as root; its files are its own. */
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam(cfg->pgbouncer.user);

		if (pw == NULL || pw->pw_uid == 0) {
			snprintf(err, errlen, "[pgbouncer] user \"%s\": no such "
			    "user, or root (pgbouncer refuses to run as root)",
			    cfg->pgbouncer.user);
			goto out;
		}
		pl_set.uid = pw->pw_uid;
		pl_set.gid = pw->pw_gid;
	}
	/* The admin console's password is derived from secret_key: stable
	 * across restarts (an external pgbouncer keeps the auth_file it
	 * read), never stored. */
	if (crypto_hmac("sha256", cfg->server.secret_key, CRYPTO_KEY_LEN,
	    "pgbouncer admin console", 23, mac, &len) != 0)
		goto out;
	crypto_base64_encode(mac, 24, pl_admin_pw);
	if (crypto_scram_verifier(pl_admin_pw, pl_set.admin_verifier,
	    sizeof(pl_set.admin_verifier)) != 0)
		goto out;
	rc = 0;
out:
	crypto_wipe(mac, sizeof(mac));
	crypto_wipe(&u, sizeof(u));
	return rc;
}

/* config_dir exists and is pgbouncer's. */
static int
dir_make(char *err, size_t errlen)
{
	if (mkdir(pl_set.dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create [pgbouncer] config_dir %s: "
		    "%s", pl_set.dir, strerror(errno));
		return -1;
	}
	if (pl_set.uid != (uid_t)-1 &&
	    chown(pl_set.dir, pl_set.uid, pl_set.gid) != 0) {
		snprintf(err, errlen, "cannot give %s to uid %ld: %s",
		    pl_set.dir, (long)pl_set.uid, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the thread: the child (managed) and SHOW POOLS ---- */

static void
pools_add(const struct pgb_pool *p, void *arg)
{
	(void)arg;
	if (pl_npools == pl_pools_cap) {
		size_t cap = pl_pools_cap ? pl_pools_cap * 2 : 64;
		struct pgb_pool *n = realloc(pl_pools, cap * sizeof(*n));

		if (n == NULL)
			return;
		pl_pools = n;
		pl_pools_cap = cap;
	}
	pl_pools[pl_npools++] = *p;
}

static int
pool_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pgb_pool *)a)->db,
	    ((const struct pgb_pool *)b)->db);
}

/* Managed: the child exited? Start one when there is none and its
 * backoff has passed. Under pl_lock. */
static void
child_tend(int64_t *next_start, int64_t *failures)
{
	char err[512];
	int status;

	if (pl_pid > 0 && waitpid(pl_pid, &status, WNOHANG) == pl_pid) {
		char why[64];

		if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "killed by signal %d",
			    WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "exit status %d",
			    WEXITSTATUS(status));
		log_warnx("pgbouncer (pid %ld) ended: %s; starting it again",
		    (long)pl_pid, why);
		pl_pid = 0;
		pl_restarts++;
		admin_drop();
		/* Said above; the health check says it once more. */
		pl_up = false;
		pl_known = true;
		str_copy(pl_error, "pgbouncer ended; starting it again",
		    sizeof(pl_error));
		*next_start = mono_ms() + backoff_ms(*failures, RESTART_MAX_MS);
		(*failures)++;
	}
	if (pl_pid > 0 || mono_ms() < *next_start)
		return;
	/* Files first: a pgbouncer started on old files would serve
	 * entries that are gone. */
	if (pgbouncer_write(&pl_set, pl_entries, pl_n, err, sizeof(err)) != 0 ||
	    (pl_pid = pgbouncer_spawn(pl_cfg->pgbouncer.binary, pl_set.dir,
	    pl_set.uid, pl_set.gid, err, sizeof(err))) < 0) {
		pl_pid = 0;
		seen(false, err);
		*next_start = mono_ms() + backoff_ms(*failures, RESTART_MAX_MS);
		(*failures)++;
		return;
	}
	log_info("pgbouncer started (pid %ld), listening on %s:%d",
	    (long)pl_pid, pl_set.listen_host, pl_set.listen_port);
}

/* One look at the admin console. Under pl_lock. */
static void
look(int64_t *failures)
{
	char err[512];

	pl_npools = 0;
	if (admin_get(err, sizeof(err)) != 0 ||
	    pgbouncer_pools(pl_admin, pools_add, NULL, err, sizeof(err)) != 0 ||
	    pgbouncer_stats(pl_admin, &pl_stats, err, sizeof(err)) != 0) {
		pl_npools = 0;
		admin_drop();
		/* A child just started is not listening yet: not news. */
		if (!managed() || pl_pid == 0 || pl_up)
			seen(false, err);
		return;
	}
	if (pl_npools > 0)
		qsort(pl_pools, pl_npools, sizeof(*pl_pools), pool_cmp);
	if (!pl_up) {
		/* Whatever changed while it was away is in the files; an
		 * external pgbouncer has not read them yet. */
		if (!managed() && apply(NULL, true, err, sizeof(err)) != 0)
			return;
		seen(true, "");
	}
	*failures = 0;
}

/* Read the entries from the state store and write the files: the
 * thread's first step, so that computing thousands of verifiers (1.5-3
 * ms each) holds up neither previewd's start nor its HTTP. 0 ok. Under
 * pl_lock. */
static int
load(void)
{
	struct store *st = NULL;
	struct load l = { pl_cfg, 0 };
	char err[512];
	pid_t old;
	int rc = -1;

	if (store_open(pl_cfg->server.state_path, &st, err, sizeof(err)) != 0)
		goto out;
	if (store_env_each(st, load_one, &l) != 0) {
		snprintf(err, sizeof(err), "cannot read the environments");
		goto out;
	}
	if (l.failed > 0)
		log_warnx("pgbouncer: %d environments have no entry: their "
		    "credentials do not decrypt with secret_key", l.failed);
	/* A pgbouncer a killed previewd left behind holds the port. */
	if (managed() && (old = pgbouncer_leftover(pl_set.dir)) > 0) {
		log_warnx("pgbouncer: stopping pid %ld, left from an earlier "
		    "run", (long)old);
		pgbouncer_stop(old, false);
	}
	if (pgbouncer_write(&pl_set, pl_entries, pl_n, err, sizeof(err)) != 0)
		goto out;
	log_info("pgbouncer (%s): %zu entries written to %s",
	    pl_cfg->pgbouncer.mode, pl_n, pl_set.dir);
	pl_loaded = true;
	rc = 0;
out:
	if (rc != 0)
		seen(false, err);
	store_close(st);
	return rc;
}

static void *
pooler_main(void *arg)
{
	int64_t next_start = 0, failures = 0, until, next_reverify = 0;
	bool reverified = false;
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&pl_lock);
	while (!pl_down) {
		if (pl_loaded && !reverified && mono_ms() >= next_reverify) {
			const struct config *cfg = pl_cfg;
			const char *dir = pl_set.dir;

			pthread_mutex_unlock(&pl_lock);
			reverified = pooler_reverify(cfg, dir, entry_wanted,
			    &pl_down) == 0;
			pthread_mutex_lock(&pl_lock);
			next_reverify = mono_ms() + 60000;
		}
		if (!pl_loaded && load() != 0) {
			/* The state store is busy or gone: again in a second. */
		} else if (managed()) {
			child_tend(&next_start, &failures);
		}
		if (pl_loaded)
			look(&failures);
		/* Every second; every 100 ms while a new child starts. */
		until = mono_ms() + (managed() && pl_pid > 0 && !pl_up ?
		    100 : 1000);
		ts.tv_sec = until / 1000;
		ts.tv_nsec = (until % 1000) * 1000000;
		while (!pl_down && mono_ms() < until)
			if (pthread_cond_timedwait(&pl_cond, &pl_lock, &ts) ==
			    ETIMEDOUT)
				break;
	}
	admin_drop();
	if (pl_pid > 0) {
		pgbouncer_stop(pl_pid, true);
		log_info("pgbouncer (pid %ld) stopped", (long)pl_pid);
		pl_pid = 0;
	}
	pthread_mutex_unlock(&pl_lock);
	return NULL;
}

int
pooler_start(const struct config *cfg, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int rc = -1;

	if (strcmp(cfg->pgbouncer.mode, "off") == 0)
		return 0;
	pthread_mutex_lock(&pl_lock);
	pl_cfg = cfg;
	if (settings_make(cfg, err, errlen) != 0 || dir_make(err, errlen) != 0)
		goto out;
	/* Said at start rather than as a claim that waits forever. */
	if (managed() && access(cfg->pgbouncer.binary, X_OK) != 0) {
		snprintf(err, errlen, "cannot run [pgbouncer] binary %s: %s (is "
		    "Debian's pgbouncer package installed?)",
		    cfg->pgbouncer.binary, strerror(errno));
		goto out;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pl_cond, &ca);
	pthread_condattr_destroy(&ca);
	pl_down = false;
	pl_loaded = false;
	if (pthread_create(&pl_thread, NULL, pooler_main, NULL) != 0) {
		snprintf(err, errlen, "cannot start the pgbouncer thread");
		goto out;
	}
	pl_running = true;
	atomic_store(&pl_started, cfg);
	rc = 0;
out:
	if (rc != 0)
		pl_cfg = NULL;
	pthread_mutex_unlock(&pl_lock);
	return rc;
}

void
pooler_stop(void)
{
	if (!pl_running)
		return;
	atomic_store(&pl_started, NULL);
	pthread_mutex_lock(&pl_lock);
	pl_down = true;
	pthread_cond_signal(&pl_cond);
	pthread_mutex_unlock(&pl_lock);
	pthread_join(pl_thread, NULL);
	pl_running = false;
	pthread_mutex_lock(&pl_lock);
	pl_cfg = NULL;
	if (pl_entries != NULL)
		crypto_wipe(pl_entries, pl_cap * sizeof(*pl_entries));
	free(pl_entries);
	free(pl_pools);
	pl_entries = NULL;
	pl_pools = NULL;
	pl_n = pl_cap = pl_npools = pl_pools_cap = 0;
	crypto_wipe(pl_admin_pw, sizeof(pl_admin_pw));
	pthread_mutex_unlock(&pl_lock);
}

/* ---- what it looks like ---- */

void
pooler_health(bool *configured, bool *up, char *err, size_t errlen)
{
	pthread_mutex_lock(&pl_lock);
	/* Not before the first look: a child still starting is no news. */
	*configured = pl_cfg != NULL && pl_known;
	*up = pl_up;
	str_copy(err, pl_up ? "" : pl_error[0] ? pl_error :
	    "not reached yet", errlen);
	pthread_mutex_unlock(&pl_lock);
}

/* A string, or null when empty. */
static void
add_text(cJSON *o, const char *key, const char *v)
{
	if (v[0] != '\0')
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

cJSON *
pooler_json(void)
{
	int64_t clients = 0, waiting = 0, servers = 0;
	char ts[RFC3339_LEN];
	cJSON *o;
	size_t i;

	pthread_mutex_lock(&pl_lock);
	if (pl_cfg == NULL || (o = cJSON_CreateObject()) == NULL) {
		pthread_mutex_unlock(&pl_lock);
		return NULL;
	}
	for (i = 0; i < pl_npools; i++) {
		clients += pl_pools[i].cl_active;
		waiting += pl_pools[i].cl_waiting;
		servers += pl_pools[i].sv_active + pl_pools[i].sv_idle +
		    pl_pools[i].sv_used;
	}
	cJSON_AddStringToObject(o, "mode", pl_cfg->pgbouncer.mode);
	cJSON_AddStringToObject(o, "state", pl_up ? "running" :
	    managed() && pl_pid > 0 ? "starting" : "down");
	if (managed() && pl_pid > 0)
		cJSON_AddNumberToObject(o, "pid", (double)pl_pid);
	else
		cJSON_AddNullToObject(o, "pid");
	cJSON_AddStringToObject(o, "listen", pl_cfg->pgbouncer.listen);
	cJSON_AddStringToObject(o, "pool_mode", pl_cfg->pgbouncer.pool_mode);
	cJSON_AddNumberToObject(o, "restarts", (double)pl_restarts);
	cJSON_AddNumberToObject(o, "entries", (double)pl_n);
	time_rfc3339(pl_reload_at, ts);
	add_text(o, "last_reload_at", pl_reload_at > 0 ? ts : "");
	add_text(o, "last_error", pl_error);
	cJSON_AddNumberToObject(o, "clients", (double)clients);
	cJSON_AddNumberToObject(o, "waiting", (double)waiting);
	cJSON_AddNumberToObject(o, "servers", (double)servers);
	cJSON_AddNumberToObject(o, "transactions", (double)pl_stats.xacts);
	cJSON_AddNumberToObject(o, "queries", (double)pl_stats.queries);
	cJSON_AddNumberToObject(o, "wait_ms", (double)(pl_stats.wait_us / 1000));
	pthread_mutex_unlock(&pl_lock);
	return o;
}

/* The last SHOW POOLS row of db, or NULL: pl_pools is sorted by name. */
static const struct pgb_pool *
pool_of(const char *db)
{
	size_t lo = 0, hi = pl_npools;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(pl_pools[mid].db, db);

		if (c == 0)
			return &pl_pools[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* One series per environment, by its id (a database's name holds part of
 * its repository's, which no label may), 0 until pgbouncer has a pool
 * for it (it makes one at the first client). */
static int
metric_each(struct buf *b, const char *name, const char *help, int what)
{
	const struct pgb_pool *p;
	int64_t v;
	size_t i;
	int rc;

	rc = buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (i = 0; i < pl_n; i++) {
		p = pool_of(pl_entries[i].db);
		v = p == NULL ? 0 : what == 0 ? p->cl_active :
		    what == 1 ? p->cl_waiting :
		    p->sv_active + p->sv_idle + p->sv_used;
		rc |= buf_printf(b, "%s{environment=\"%s\"} %lld\n", name,
		    pl_entries[i].owner, (long long)v);
	}
	return rc;
}

int
pooler_metrics(struct buf *b)
{
	int rc = 0;

	pthread_mutex_lock(&pl_lock);
	if (pl_cfg == NULL)
		goto out;
	rc |= buf_printf(b, "# HELP previewd_pgbouncer_up Whether pgbouncer's "
	    "admin console answered at the last look.\n"
	    "# TYPE previewd_pgbouncer_up gauge\n"
	    "previewd_pgbouncer_up %d\n"
	    "# HELP previewd_pgbouncer_restarts_total Times previewd started "
	    "pgbouncer again after it ended.\n"
	    "# TYPE previewd_pgbouncer_restarts_total counter\n"
	    "previewd_pgbouncer_restarts_total %lld\n",
	    pl_up ? 1 : 0, (long long)pl_restarts);
	rc |= metric_each(b, "previewd_pgbouncer_client_connections",
	    "Clients connected through pgbouncer, per environment.",
	    0);
	rc |= metric_each(b, "previewd_pgbouncer_waiting_clients",
	    "Clients waiting for a server connection, per environment.", 1);
	rc |= metric_each(b, "previewd_pgbouncer_server_connections",
	    "Server connections pgbouncer holds, per environment.", 2);
out:
	pthread_mutex_unlock(&pl_lock);
	return rc != 0 ? -1 : 0;
}
