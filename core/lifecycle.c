/*
 * lifecycle: one environment's steps — the claim, the teardown, the
 * state machine that picks the next step, and the lanes. The
 * repository's SQL (migrating, seeding) is core/migrate.c; both share
 * core/step.h.
 */
#include "core/lifecycle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/pool.h"
#include "core/pooler.h"
#include "core/step.h"
#include "lib/crypto.h"
#include "lib/fault.h"
#include "lib/log.h"
#include "lib/watch.h"

enum step
step_retry(struct run *r, int64_t delay_ms, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->o->error, sizeof(r->o->error), fmt, ap);
	va_end(ap);
	r->o->retry_ms = delay_ms;
	r->result = JOB_RETRY;
	return STEP_END;
}

/* Save the worker-owned columns and wake long polls. */
int
step_commit(struct run *r, struct env *e)
{
	if (store_env_save(r->w->store, e) != 0)
		return -1;
	watch_bump();
	return 0;
}

enum step
step_save(struct run *r, struct env *e)
{
	return step_commit(r, e) == 0 ? STEP_NEXT :
	    step_retry(r, 1000, "cannot save environment");
}

/* A transient note ("waiting for ...") goes once the wait is over; a
 * rebuild's note stays. */
void
step_clear_note(struct env *e)
{
	if (!str_starts(e->error, REBUILT_NOTE))
		e->error[0] = '\0';
}

/* Failed for good at the commit being applied: the database stays for
 * inspection; the next push retries. */
enum step
step_fail(struct run *r, struct env *e, const char *sha, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
	e->status = ENV_FAILED;
	str_copy(e->head_sha, sha, sizeof(e->head_sha));
	log_warnx("environment failed: %s", e->error);
	return step_save(r, e);
}

/* Keep the status, say why it waits, and try again later. */
enum step
step_wait(struct run *r, struct env *e, int64_t delay_ms, const char *why)
{
	snprintf(e->error, sizeof(e->error), "%s", why);
	(void)step_commit(r, e);
	return step_retry(r, delay_ms, "%s", why);
}

/* The environment's password, sealed under the row's id. */
static int
env_new_secret(struct run *r, struct env *e)
{
	char password[CRYPTO_PASSWORD_LEN];
	int rc;

	if (crypto_token(password, sizeof(password), CRYPTO_PASSWORD_BYTES) != 0)
		return -1;
	rc = crypto_seal(r->w->cfg->server.secret_key, e->id, password,
	    strlen(password), e->secret, sizeof(e->secret));
	e->secret_len = rc == 0 ? strlen(password) + CRYPTO_SEAL_OVERHEAD : 0;
	crypto_wipe(password, sizeof(password));
	return rc;
}

int
step_password(struct run *r, const struct env *e, char *out, size_t outsz)
{
	return crypto_open(r->w->cfg->server.secret_key, e->id, e->secret,
	    e->secret_len, out, outsz);
}

/* The repository's SQL sources; "none" when it has no section any more.
 * A CI database's are its blueprint's, if it asked for one. */
void
step_sources(struct run *r, const struct env *e, const char **migrations,
    const char **seed)
{
	const struct repo_cfg *rc;

	if (strcmp(e->provider, ENV_CI) == 0) {
		*migrations = *seed = "none";
		if (e->blueprint[0] != '\0' && str_printf(r->blueprint,
		    sizeof(r->blueprint), "blueprint:%s", e->blueprint) == 0)
			*migrations = *seed = r->blueprint;
		return;
	}
	rc = config_repo(r->w->cfg, e->repo);

	*migrations = rc && rc->migrations ? rc->migrations : "none";
	*seed = rc && rc->seed ? rc->seed : "none";
}

static bool
env_has_sql(struct run *r, const struct env *e)
{
	const char *m, *s;

	step_sources(r, e, &m, &s);
	return strcmp(m, "none") != 0 || strcmp(s, "none") != 0;
}

/* How long one file of e's SQL may run, in seconds: its repository's
 * migration_timeout, else the server's. */
int64_t
step_sql_timeout(struct run *r, const struct env *e)
{
	const struct repo_cfg *rc = strcmp(e->provider, ENV_CI) == 0 ? NULL :
	    config_repo(r->w->cfg, e->repo);

	return rc != NULL && rc->migration_timeout > 0 ?
	    rc->migration_timeout : r->w->cfg->server.migration_timeout;
}

/* A rebuild starts by dropping the database (the role stays), then takes
 * a fresh one as a claim does: from the pool where the engine renames,
 * else created with the same name so the URL does not change. */
static enum step
step_reset(struct run *r, struct env *e, struct engine *eng)
{
	char err[512];
	int rc;

	rc = engine_db_drop(eng, e->db_name, e->role_name, err, sizeof(err));
	if (rc != ENGINE_OK)
		return step_retry(r, jobs_backoff(r->job->attempts),
		    "cannot drop %s for the rebuild yet: %s", e->db_name, err);
	e->reset_db = false;
	if (eng->ops->keeps_pool_name)
		return step_save(r, e);
	/* No reseal: the environment keeps its credentials; the member's
	 * own role is dropped by the claim. */
	if (store_env_claim(r->w->store, e, false, NULL, NULL, NULL) != 0)
		return step_retry(r, 1000, "cannot record the claim");
	return STEP_NEXT;
}

/* Over a cap: wait as "queued", holding nothing (not even the password
 * made for the claim), until a teardown frees a slot and wakes the queue
 * (store_env_wake_queued). No retry: the wake-up is the retry. */
static enum step
step_queue(struct run *r, struct env *e, const struct store_cap *cap)
{
	char why[sizeof(e->error)];

	crypto_wipe(e->secret, sizeof(e->secret));
	e->secret_len = 0;
	if (cap->by_repo)
		snprintf(why, sizeof(why), "queued: %s is at its "
		    "max_environments (%lld); it goes on, first come first "
		    "served, when one of its environments is deleted", e->repo,
		    (long long)cap->repo_max);
	else
		snprintf(why, sizeof(why), "queued: previewd is at [server] "
		    "max_environments (%lld); it goes on, first come first "
		    "served, when an environment is deleted",
		    (long long)cap->server_max);
	if (e->status == ENV_QUEUED && strcmp(e->error, why) == 0)
		return STEP_END;
	if (e->status != ENV_QUEUED)
		log_info("environment queued: %s", why);
	e->status = ENV_QUEUED;
	str_copy(e->error, why, sizeof(e->error));
	(void)step_commit(r, e);
	return STEP_END;
}

/* The "base" job of e's repository: it makes the base's copies. */
static int
refill_base(struct run *r, const struct env *e)
{
	char target[ENV_REPO_SIZE + 16];

	if (str_printf(target, sizeof(target), "%s:%s", e->provider,
	    e->repo) != 0)
		return -1;
	return store_job_enqueue(r->w->store, "base", target, 0);
}

/* The id of e's repository's base, into id, when the repository is
 * prewarmed and its base is ready: the claim takes a copy of it first. */
static const char *
prewarm_base(struct run *r, const struct env *e, char *id, size_t idsz)
{
	const struct repo_cfg *repo = config_repo(r->w->cfg, e->repo);
	struct env *base;
	const char *found = NULL;

	if (repo == NULL || repo->prewarm == NULL ||
	    strcmp(repo->prewarm, "base") != 0 ||
	    e->number == ENV_BASE_NUMBER || (base = malloc(sizeof(*base))) == NULL)
		return NULL;
	if (store_env_find_pr(r->w->store, e->provider, e->repo,
	    ENV_BASE_NUMBER, base) == 0 && base->want_present &&
	    strcmp(base->engine, e->engine) == 0 &&
	    str_copy(id, base->id, idsz) == 0)
		found = id;
	crypto_wipe(base, sizeof(*base));
	free(base);
	return found;
}

/*
 * After the claim, how the environment's database is reached: the role's
 * own connection limit (the repository's connection_limit) and, with
 * [pgbouncer], its entry there, before anyone is told it is ready. A
 * pgbouncer that cannot take the entry now makes the claim wait, as a
 * server that does not answer would (ENGINE_RETRY with err).
 */
static int
step_connections(struct run *r, const struct env *e, struct engine *eng,
    const char *password, char *err, size_t errlen)
{
	const struct repo_cfg *repo = config_repo(r->w->cfg, e->repo);
	char why[512];
	int rc;

	if (repo != NULL && repo->connection_limit > 0 &&
	    e->number != ENV_BASE_NUMBER &&
	    (rc = engine_role_limit(eng, e->role_name,
	    (int)repo->connection_limit, err, errlen)) != ENGINE_OK)
		return rc;
	if (pooler_add(r->w->cfg, e, password, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "pgbouncer: %s", why);
		return ENGINE_RETRY;
	}
	return ENGINE_OK;
}

static enum step
step_provision(struct run *r, struct env *e)
{
	struct engine *eng = worker_engine(r->w, e->engine);
	char password[CRYPTO_PASSWORD_LEN + 1], err[512], base[ENV_ID_SIZE];
	bool fresh = false;
	int rc;

	if (eng == NULL)
		return step_fail(r, e, e->want_sha, "engine \"%s\" is not "
		    "configured", e->engine);
	if (e->reset_db)
		return step_reset(r, e, eng);

	/* Intent first: the password and the pool database taken are on
	 * disk before the server is touched, so a re-run repeats the same
	 * claim instead of leaking a second one. */
	if (e->secret_len == 0) {
		const struct repo_cfg *repo = config_repo(r->w->cfg, e->repo);
		struct store_cap cap = { r->w->cfg->server.max_environments,
		    repo != NULL ? repo->max_environments : 0, 0, false };
		struct store_reseal rs;

		/* A fresh password for the cold path; a pool member brings
		 * its own (already its role's, on PostgreSQL). */
		if (env_new_secret(r, e) != 0)
			return step_retry(r, 1000, "cannot make a password");
		pool_reseal_init(&rs, r->w->cfg);
		rc = store_env_claim(r->w->store, e, eng->ops->keeps_pool_name,
		    &rs, &cap, prewarm_base(r, e, base, sizeof(base)));
		if (rc == 1)
			return step_queue(r, e, &cap);
		if (rc != 0)
			return step_retry(r, 1000, "cannot record the claim");
		fresh = true;
		if (e->pool_db[0] != '\0' && strcmp(e->pool_db, e->db_name) == 0)
			log_info("claimed pool database %s", e->pool_db);
		else if (e->pool_db[0] != '\0')
			log_info("claimed pool database %s as %s", e->pool_db,
			    e->db_name);
		else
			log_info("pool for %s is empty: creating %s cold",
			    e->engine, e->db_name);
	}
	if (step_password(r, e, password, sizeof(password)) != 0)
		/* Only a changed secret_key does this: the row cannot be
		 * served, so it fails loudly instead of looping. */
		return step_fail(r, e, e->want_sha, "stored credentials do not "
		    "decrypt with the configured secret_key");

	fault_point("claim.before");
	rc = engine_claim(eng, e->pool_db, e->db_name, e->role_name, password,
	    err, sizeof(err));
	fault_point("claim.after");
	if (rc == ENGINE_OK)
		rc = step_connections(r, e, eng, password, err, sizeof(err));
	crypto_wipe(password, sizeof(password));

	if (rc == ENGINE_RETRY) {
		char why[700];

		snprintf(why, sizeof(why), "waiting for %s: %s", e->engine, err);
		return step_wait(r, e, jobs_backoff(r->job->attempts), why);
	}
	if (rc == ENGINE_FAIL)
		return step_fail(r, e, e->want_sha, "%s refused: %s", e->engine,
		    err);
	if (fresh) {
		metrics_claim(e->engine, e->pool_db[0] == '\0');
		metrics_schema_from(e->engine, str_starts(e->schema_from,
		    "base:"));
	}
	metrics_provisioned(e->engine, (double)(mono_ms() - r->started) / 1000);
	if (e->pool_db[0] != '\0') {
		if (store_pool_remove(r->w->store, e->engine, e->pool_db) != 0)
			return step_retry(r, 1000, "cannot update the pool");
		e->pool_db[0] = '\0';
		/* Refill only now: a CREATE DATABASE running beside the claim
		 * on a small server slows the claim down (measured: p50
		 * +3-6 ms). A copy of a base is refilled by its base's job. */
		if (str_starts(e->schema_from, "base:") ?
		    refill_base(r, e) == 0 :
		    store_job_enqueue(r->w->store, "pool", e->engine, 0) == 0)
			jobs_notify();
	}
	step_clear_note(e);
	if (env_has_sql(r, e)) {
		e->status = ENV_MIGRATING;
	} else {
		e->status = ENV_READY;
		str_copy(e->head_sha, e->want_sha, sizeof(e->head_sha));
	}
	if (step_commit(r, e) != 0)
		return step_retry(r, 1000, "cannot save environment");
	log_info("database %s claimed (%s, %lld ms in this run)", e->db_name,
	    fresh ? "new" : "resumed", (long long)(mono_ms() - r->started));
	return STEP_NEXT;
}

/* ---- teardown ---- */

/* Drop what the environment has on its server. Ends in deleted, or, when
 * the pull request was reopened meanwhile, in provisioning afresh. */
static enum step
step_teardown(struct run *r, struct env *e)
{
	struct engine *eng = worker_engine(r->w, e->engine);
	char err[512];
	int rc;

	if (e->status != ENV_DELETING) {
		e->status = ENV_DELETING;
		if (step_commit(r, e) != 0)
			return step_retry(r, 1000, "cannot save environment");
	}
	if (eng == NULL)
		return step_retry(r, 60000, "engine \"%s\" is not configured; "
		    "cannot drop %s", e->engine, e->db_name);
	/* pgbouncer lets go of the database first: its server connections
	 * would otherwise hold the drop up. */
	pooler_remove(e);
	fault_point("drop.before");
	rc = engine_drop(eng, e->db_name, e->pool_db, e->role_name, err,
	    sizeof(err));
	if (rc != ENGINE_OK) {
		/* Nothing may leak: a failed drop is retried for as long as
		 * it takes, whatever the reason. */
		metrics_delete_failed();
		return step_retry(r, jobs_backoff(r->job->attempts),
		    "cannot drop %s yet: %s", e->db_name, err);
	}
	fault_point("drop.after");
	if (e->pool_db[0] != '\0') {
		if (store_pool_remove(r->w->store, e->engine, e->pool_db) != 0)
			return step_retry(r, 1000, "cannot update the pool");
		e->pool_db[0] = '\0';
	}
	crypto_wipe(e->secret, sizeof(e->secret));
	e->secret_len = 0;
	e->reset_db = false;
	e->applying[0] = '\0';    /* whatever it was, it went with the drop */
	e->status = ENV_DELETED;
	if (step_commit(r, e) != 0)
		return step_retry(r, 1000, "cannot save environment");
	log_info("environment deleted: database %s and role %s dropped",
	    e->db_name, e->role_name);
	/* A slot is free: the oldest queued environment goes on. */
	if (store_env_wake_queued(r->w->store) == 0)
		jobs_notify();
	return STEP_NEXT;
}

/* A repository's base is ready at its commit: its copies can be made
 * (core/prewarm.c, the "base" job). */
static enum step
base_ready(struct run *r, struct env *e)
{
	if (refill_base(r, e) != 0)
		return step_retry(r, 1000, "cannot enqueue the base's copies");
	jobs_notify();
	return STEP_END;
}

/* One step towards the desired state, chosen from the row as it is now. */
static enum step
step_next(struct run *r, struct env *e)
{
	if (!e->want_present)
		return e->status == ENV_DELETED ? STEP_END :
		    step_teardown(r, e);

	switch (e->status) {
	case ENV_DELETING:
		return step_teardown(r, e);
	case ENV_DELETED:
		/* Reopened: start over with a fresh claim and password (and,
		 * where the last claim kept a pool name, the own name). */
		e->status = ENV_PROVISIONING;
		str_copy(e->db_name, e->role_name, sizeof(e->db_name));
		e->secret_len = 0;
		e->head_sha[0] = '\0';
		e->error[0] = '\0';
		return step_save(r, e);
	case ENV_PROVISIONING:
	case ENV_QUEUED:
		return step_provision(r, e);
	case ENV_MIGRATING:
		return step_migrate(r, e);
	case ENV_SEEDING:
		return step_seed(r, e);
	case ENV_READY:
		if (strcmp(e->head_sha, e->want_sha) == 0)
			return e->number == ENV_BASE_NUMBER ? base_ready(r, e) :
			    STEP_END;
		/* A new head commit: apply what it adds. */
		if (!env_has_sql(r, e)) {
			str_copy(e->head_sha, e->want_sha, sizeof(e->head_sha));
			log_info("environment now at %.12s", e->head_sha);
		} else {
			e->status = ENV_MIGRATING;
		}
		return step_save(r, e);
	case ENV_FAILED:
		if (strcmp(e->head_sha, e->want_sha) == 0 &&
		    e->retried == e->retry_requested)
			return STEP_END;
		/* A new push, or a retry asked for, tries a failed environment
		 * again: the claim is idempotent, so this also finishes one
		 * that failed there. */
		e->retried = e->retry_requested;
		e->status = ENV_PROVISIONING;
		return step_save(r, e);
	}
	return STEP_END;
}

/* Whether e's next step runs the repository's SQL: the slow lane's. */
static bool
step_is_slow(const struct env *e)
{
	return e->want_present && (e->status == ENV_MIGRATING ||
	    e->status == ENV_SEEDING);
}

/*
 * The "env" job runs until the next step is the SQL, then hands the
 * environment to a "migrate" job (which no fast-lane worker takes) and
 * ends. The "migrate" job runs every step, fast ones included: a slow
 * worker is never in the way of a fast one.
 */
static enum job_result
lifecycle_lane(struct worker *w, const struct job *j, struct job_outcome *o,
    bool slow)
{
	struct run r = { w, j, o, JOB_DONE, mono_ms(), "", slow };
	struct env e;
	int rc;

	memset(&e, 0, sizeof(e));
	for (;;) {
		if (jobs_stopping()) {
			/* Leave the rest persisted for the next start. */
			o->retry_ms = 0;
			str_copy(o->error, "shutting down", sizeof(o->error));
			r.result = JOB_RETRY;
			break;
		}
		rc = store_env_get(w->store, j->target, &e);
		if (rc == 1)
			break;
		if (rc < 0) {
			(void)step_retry(&r, 1000, "cannot read environment");
			break;
		}
		log_context("env=%s repo=%s pr=%lld%s%s", e.id, e.repo,
		    (long long)e.number, e.last_delivery[0] ? " delivery=" : "",
		    e.last_delivery);
		if (!r.slow && step_is_slow(&e)) {
			if (store_job_enqueue(w->store, "migrate", e.id, 0) != 0) {
				(void)step_retry(&r, 1000, "cannot enqueue the "
				    "migrations");
				break;
			}
			jobs_notify();
			break;
		}
		if (step_next(&r, &e) == STEP_END)
			break;
	}
	crypto_wipe(&e, sizeof(e));
	return r.result;
}

enum job_result
lifecycle_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	return lifecycle_lane(w, j, o, false);
}

enum job_result
lifecycle_migrate_run(struct worker *w, const struct job *j,
    struct job_outcome *o)
{
	return lifecycle_lane(w, j, o, true);
}
