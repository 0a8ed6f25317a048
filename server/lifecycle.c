/*
 * lifecycle: one environment's steps.
 */
#include "server/lifecycle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/crypto.h"
#include "server/fault.h"
#include "server/log.h"
#include "server/watch.h"

/* What a step did: go on with the next step, or end this run. */
enum step { STEP_NEXT, STEP_END };

struct run {
	struct worker *w;
	const struct job *job;
	struct job_outcome *o;
	enum job_result result;
	int64_t started;          /* mono_ms() when the run began */
};

static enum step
step_retry(struct run *r, int64_t delay_ms, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static enum step
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
static int
env_commit(struct run *r, struct env *e)
{
	if (store_env_save(r->w->store, e) != 0)
		return -1;
	watch_bump();
	return 0;
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

static enum step
step_provision(struct run *r, struct env *e)
{
	struct engine *eng = worker_engine(r->w, e->engine);
	char password[CRYPTO_PASSWORD_LEN + 1], err[512];
	bool fresh = false;
	int rc;

	if (eng == NULL) {
		e->status = ENV_FAILED;
		str_copy(e->head_sha, e->want_sha, sizeof(e->head_sha));
		snprintf(e->error, sizeof(e->error), "engine \"%s\" is not "
		    "configured", e->engine);
		log_warnx("environment failed: %s", e->error);
		return env_commit(r, e) == 0 ? STEP_NEXT :
		    step_retry(r, 1000, "cannot save environment");
	}

	/* Intent first: the password and the pool database taken are on
	 * disk before the server is touched, so a re-run repeats the same
	 * claim instead of leaking a second one. */
	if (e->secret_len == 0) {
		if (env_new_secret(r, e) != 0)
			return step_retry(r, 1000, "cannot make a password");
		if (store_env_claim(r->w->store, e,
		    eng->ops->keeps_pool_name) != 0)
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
		if (store_job_enqueue(r->w->store, "pool", e->engine, 0) == 0)
			jobs_notify();
	}
	if (crypto_open(r->w->cfg->server.secret_key, e->id, e->secret,
	    e->secret_len, password, sizeof(password)) != 0) {
		/* Only a changed secret_key does this: the row cannot be
		 * served, so it fails loudly instead of looping. */
		e->status = ENV_FAILED;
		str_copy(e->error, "stored credentials do not decrypt with the "
		    "configured secret_key", sizeof(e->error));
		log_warnx("environment failed: %s", e->error);
		return env_commit(r, e) == 0 ? STEP_NEXT :
		    step_retry(r, 1000, "cannot save environment");
	}

	fault_point("claim.before");
	rc = engine_claim(eng, e->pool_db, e->db_name, e->role_name, password,
	    err, sizeof(err));
	crypto_wipe(password, sizeof(password));
	fault_point("claim.after");

	if (rc == ENGINE_RETRY) {
		snprintf(e->error, sizeof(e->error), "waiting for %s: %s",
		    e->engine, err);
		(void)env_commit(r, e);
		return step_retry(r, jobs_backoff(r->job->attempts), "%s",
		    e->error);
	}
	if (rc == ENGINE_FAIL) {
		e->status = ENV_FAILED;
		str_copy(e->head_sha, e->want_sha, sizeof(e->head_sha));
		snprintf(e->error, sizeof(e->error), "%s refused: %s",
		    e->engine, err);
		log_warnx("environment failed: %s", e->error);
		return env_commit(r, e) == 0 ? STEP_NEXT :
		    step_retry(r, 1000, "cannot save environment");
	}
	if (e->pool_db[0] != '\0') {
		if (store_pool_remove(r->w->store, e->engine, e->pool_db) != 0)
			return step_retry(r, 1000, "cannot update the pool");
		e->pool_db[0] = '\0';
	}
	e->status = ENV_READY;
	str_copy(e->head_sha, e->want_sha, sizeof(e->head_sha));
	e->error[0] = '\0';
	if (env_commit(r, e) != 0)
		return step_retry(r, 1000, "cannot save environment");
	log_info("environment ready (%s, %lld ms in this run)",
	    fresh ? "new" : "resumed", (long long)(mono_ms() - r->started));
	return STEP_NEXT;
}

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
		if (env_commit(r, e) != 0)
			return step_retry(r, 1000, "cannot save environment");
	}
	if (eng == NULL)
		return step_retry(r, 60000, "engine \"%s\" is not configured; "
		    "cannot drop %s", e->engine, e->db_name);
	fault_point("drop.before");
	rc = engine_drop(eng, e->db_name, e->pool_db, e->role_name, err,
	    sizeof(err));
	if (rc != ENGINE_OK) {
		/* Nothing may leak: a failed drop is retried for as long as
		 * it takes, whatever the reason. */
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
	e->status = ENV_DELETED;
	if (env_commit(r, e) != 0)
		return step_retry(r, 1000, "cannot save environment");
	log_info("environment deleted: database and role %s dropped",
	    e->db_name);
	return STEP_NEXT;
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
		return env_commit(r, e) == 0 ? STEP_NEXT :
		    step_retry(r, 1000, "cannot save environment");
	case ENV_PROVISIONING:
	case ENV_MIGRATING:
	case ENV_SEEDING:
		return step_provision(r, e);
	case ENV_READY:
		if (strcmp(e->head_sha, e->want_sha) == 0)
			return STEP_END;
		/* A new head commit: nothing to apply to an empty database
		 * but the record of which commit it serves. */
		str_copy(e->head_sha, e->want_sha, sizeof(e->head_sha));
		log_info("environment now at %.12s", e->head_sha);
		return env_commit(r, e) == 0 ? STEP_NEXT :
		    step_retry(r, 1000, "cannot save environment");
	case ENV_FAILED:
		if (strcmp(e->head_sha, e->want_sha) == 0)
			return STEP_END;
		/* A new push retries a failed environment. */
		e->status = ENV_PROVISIONING;
		return env_commit(r, e) == 0 ? STEP_NEXT :
		    step_retry(r, 1000, "cannot save environment");
	}
	return STEP_END;
}

enum job_result
lifecycle_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	struct run r = { w, j, o, JOB_DONE, mono_ms() };
	struct env e;
	int rc;

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
		log_context("env=%s repo=%s pr=%lld", e.id, e.repo,
		    (long long)e.number);
		if (step_next(&r, &e) == STEP_END)
			break;
	}
	crypto_wipe(&e, sizeof(e));
	return r.result;
}
