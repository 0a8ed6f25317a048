/*
 * lifecycle: one environment's steps.
 */
#include "core/lifecycle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/crypto.h"
#include "lib/fault.h"
#include "lib/log.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "core/source.h"
#include "lib/watch.h"

/* What a step did: go on with the next step, or end this run. */
enum step { STEP_NEXT, STEP_END };

struct run {
	struct worker *w;
	const struct job *job;
	struct job_outcome *o;
	enum job_result result;
	int64_t started;          /* mono_ms() when the run began */
	char blueprint[80];       /* a CI database's "blueprint:NAME" */
};

/* The note a rebuild leaves in the error column; it survives until the
 * next failure or rebuild, since the API has no other field for it. */
#define REBUILT_NOTE "rebuilt"

/* The record's name for the seed: no migration file is called this, since
 * migrations end in ".sql". */
#define SEED_RECORD "(seed)"

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

static enum step
step_save(struct run *r, struct env *e)
{
	return env_commit(r, e) == 0 ? STEP_NEXT :
	    step_retry(r, 1000, "cannot save environment");
}

/* A transient note ("waiting for ...") goes once the wait is over; a
 * rebuild's note stays. */
static void
clear_transient_error(struct env *e)
{
	if (!str_starts(e->error, REBUILT_NOTE))
		e->error[0] = '\0';
}

/* Failed for good at the commit being applied: the database stays for
 * inspection; the next push retries. */
static enum step
step_fail(struct run *r, struct env *e, const char *sha, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

static enum step
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
static enum step
step_wait(struct run *r, struct env *e, int64_t delay_ms, const char *why)
{
	snprintf(e->error, sizeof(e->error), "%s", why);
	(void)env_commit(r, e);
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

static int
env_password(struct run *r, const struct env *e, char *out, size_t outsz)
{
	return crypto_open(r->w->cfg->server.secret_key, e->id, e->secret,
	    e->secret_len, out, outsz);
}

/* The repository's SQL sources; "none" when it has no section any more.
 * A CI database's are its blueprint's, if it asked for one. */
static void
env_sources(struct run *r, const struct env *e, const char **migrations,
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

	env_sources(r, e, &m, &s);
	return strcmp(m, "none") != 0 || strcmp(s, "none") != 0;
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
	if (store_env_claim(r->w->store, e, false, NULL) != 0)
		return step_retry(r, 1000, "cannot record the claim");
	return STEP_NEXT;
}

static enum step
step_provision(struct run *r, struct env *e)
{
	struct engine *eng = worker_engine(r->w, e->engine);
	char password[CRYPTO_PASSWORD_LEN + 1], err[512];
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
		struct store_reseal rs;

		/* A fresh password for the cold path; a pool member brings
		 * its own (already its role's, on PostgreSQL). */
		if (env_new_secret(r, e) != 0)
			return step_retry(r, 1000, "cannot make a password");
		pool_reseal_init(&rs, r->w->cfg);
		if (store_env_claim(r->w->store, e, eng->ops->keeps_pool_name,
		    &rs) != 0)
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
	if (env_password(r, e, password, sizeof(password)) != 0)
		/* Only a changed secret_key does this: the row cannot be
		 * served, so it fails loudly instead of looping. */
		return step_fail(r, e, e->want_sha, "stored credentials do not "
		    "decrypt with the configured secret_key");

	fault_point("claim.before");
	rc = engine_claim(eng, e->pool_db, e->db_name, e->role_name, password,
	    err, sizeof(err));
	crypto_wipe(password, sizeof(password));
	fault_point("claim.after");

	if (rc == ENGINE_RETRY) {
		char why[700];

		snprintf(why, sizeof(why), "waiting for %s: %s", e->engine, err);
		return step_wait(r, e, jobs_backoff(r->job->attempts), why);
	}
	if (rc == ENGINE_FAIL)
		return step_fail(r, e, e->want_sha, "%s refused: %s", e->engine,
		    err);
	if (fresh)
		metrics_claim(e->engine, e->pool_db[0] == '\0');
	metrics_provisioned(e->engine, (double)(mono_ms() - r->started) / 1000);
	if (e->pool_db[0] != '\0') {
		if (store_pool_remove(r->w->store, e->engine, e->pool_db) != 0)
			return step_retry(r, 1000, "cannot update the pool");
		e->pool_db[0] = '\0';
		/* Refill only now: a CREATE DATABASE running beside the claim
		 * on a small server slows the claim down (measured: p50
		 * +3-6 ms). */
		if (store_job_enqueue(r->w->store, "pool", e->engine, 0) == 0)
			jobs_notify();
	}
	clear_transient_error(e);
	if (env_has_sql(r, e)) {
		e->status = ENV_MIGRATING;
	} else {
		e->status = ENV_READY;
		str_copy(e->head_sha, e->want_sha, sizeof(e->head_sha));
	}
	if (env_commit(r, e) != 0)
		return step_retry(r, 1000, "cannot save environment");
	log_info("database %s claimed (%s, %lld ms in this run)", e->db_name,
	    fresh ? "new" : "resumed", (long long)(mono_ms() - r->started));
	return STEP_NEXT;
}

/* ---- migrations and seed ---- */

struct applied {
	char (*names)[256];
	char (*sums)[65];
	size_t n, cap;
};

static int
on_applied(const char *name, const char *checksum, void *arg)
{
	struct applied *a = arg;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void *n1 = realloc(a->names, cap * sizeof(*a->names));
		void *n2;

		if (n1 == NULL)
			return 1;
		a->names = n1;
		if ((n2 = realloc(a->sums, cap * sizeof(*a->sums))) == NULL)
			return 1;
		a->sums = n2;
		a->cap = cap;
	}
	str_copy(a->names[a->n], name, sizeof(a->names[0]));
	str_copy(a->sums[a->n], checksum, sizeof(a->sums[0]));
	a->n++;
	return 0;
}

/* The checksum recorded for name, or NULL. */
static const char *
applied_sum(const struct applied *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->names[i], name) == 0)
			return a->sums[i];
	return NULL;
}

static void
applied_release(struct applied *a)
{
	free(a->names);
	free(a->sums);
	memset(a, 0, sizeof(*a));
}

static void
sha256_hex(const struct buf *b, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (EVP_Digest(b->data, b->len, d, &n, EVP_sha256(), NULL) != 1)
		n = 0;
	hex_encode(d, n, out);
}

/* Everything one migrations or seed step holds, released in one place. */
struct sql_run {
	const struct engine_ops *ops;
	struct engine_session *session;
	struct forge_call call;
	struct source src;
	struct applied applied;
	struct buf file;
	char sha[ENV_SHA_SIZE];
};

static void
sql_run_release(struct sql_run *s)
{
	engine_session_close(s->session);
	source_release(&s->src);
	applied_release(&s->applied);
	buf_release(&s->file);
}

/* Open a session as the environment's role and read the record. */
static enum step
sql_run_open(struct run *r, struct env *e, struct sql_run *s)
{
	const struct engine_ops *ops = engine_find(e->engine);
	const struct engine_cfg *cfg = config_engine(r->w->cfg, e->engine);
	char password[CRYPTO_PASSWORD_LEN + 1], err[512], why[700];
	int rc;

	memset(s, 0, sizeof(*s));
	s->ops = ops;
	buf_init(&s->file, SOURCE_MAX_FILE);
	s->call.http = worker_http(r->w);
	s->call.cfg = r->w->cfg;
	s->call.attempts = r->job->attempts;
	str_copy(s->sha, e->want_sha, sizeof(s->sha));
	if (ops == NULL || cfg == NULL)
		return step_fail(r, e, s->sha, "engine \"%s\" is not configured",
		    e->engine);
	if (s->call.http == NULL)
		return step_retry(r, 1000, "out of memory");
	if (env_password(r, e, password, sizeof(password)) != 0)
		return step_fail(r, e, s->sha, "stored credentials do not "
		    "decrypt with the configured secret_key");
	rc = engine_session_open(ops, cfg, e->db_name, e->role_name, password,
	    &s->session, err, sizeof(err));
	crypto_wipe(password, sizeof(password));
	if (rc == ENGINE_OK && (rc = engine_record_prepare(s->session, err,
	    sizeof(err))) == ENGINE_OK)
		rc = engine_record_list(s->session, on_applied, &s->applied, err,
		    sizeof(err));
	if (rc == ENGINE_RETRY) {
		snprintf(why, sizeof(why), "waiting for %s: %s", e->engine, err);
		return step_wait(r, e, jobs_backoff(r->job->attempts), why);
	}
	if (rc == ENGINE_FAIL)
		return step_fail(r, e, s->sha, "cannot prepare %s for "
		    "migrations: %s", e->db_name, err);
	return STEP_NEXT;
}

/* A forge or disk outcome other than OK, as the step's result. */
static enum step
source_trouble(struct run *r, struct env *e, struct sql_run *s,
    enum forge_rc rc)
{
	if (rc == FORGE_RETRY)
		return step_wait(r, e, s->call.retry_ms, s->call.error);
	return step_fail(r, e, s->sha, "%s", s->call.error);
}

/*
 * Recorded before, recorded after. On a server whose DDL is not
 * transactional (MariaDB, MySQL) a file commits statement by statement,
 * so a file cut short — previewd killed, the connection lost, a statement
 * that failed — leaves its first statements behind, and running it again
 * on top of them fails ("already exists") or doubles its rows. So the
 * file's name is saved in e->applying before it runs and cleared once it
 * is recorded in the database. PostgreSQL runs the file and its record in
 * one transaction that a crash rolls back: no intent is needed there.
 */
static int
intent_set(struct run *r, struct env *e, const struct sql_run *s,
    const char *name)
{
	if (s->ops->ddl_transactional)
		return 0;
	str_copy(e->applying, name, sizeof(e->applying));
	return store_env_save(r->w->store, e);
}

/*
 * At a step's start: an intent left set with no record of its file means
 * the file was cut short. The database is rebuilt from empty (same name,
 * same credentials) and migrated and seeded from the start, never patched
 * by running the file again. true when a rebuild was begun (*step is the
 * step's result); false to go on.
 */
static bool
intent_cut_short(struct run *r, struct env *e, const struct sql_run *s,
    enum step *step)
{
	char what[300];

	if (e->applying[0] == '\0')
		return false;
	if (s->ops->ddl_transactional ||
	    applied_sum(&s->applied, e->applying) != NULL) {
		/* Recorded before the stop, or rolled back with it. */
		e->applying[0] = '\0';
		return false;
	}
	if (strcmp(e->applying, SEED_RECORD) == 0)
		str_copy(what, "the seed", sizeof(what));
	else
		snprintf(what, sizeof(what), "migration %s", e->applying);
	log_warnx("%s did not finish and %s cannot undo what it did: "
	    "rebuilding %s", what, e->engine, e->db_name);
	snprintf(e->error, sizeof(e->error), REBUILT_NOTE " at %.12s: %s did "
	    "not finish (previewd stopped or lost the server while it ran, or "
	    "it failed part-way) and %s cannot undo what it had done, so the "
	    "database was rebuilt from empty and migrated from the start",
	    e->want_sha, what, e->engine);
	e->applying[0] = '\0';
	e->reset_db = true;
	e->status = ENV_PROVISIONING;
	*step = step_save(r, e);
	return true;
}

/*
 * Apply, in name order, the migration files not yet recorded. A file
 * whose checksum differs from its record was edited after it ran: the
 * database is rebuilt from scratch (same credentials). Between files the
 * desired state is reread, so a close or a newer push takes over.
 */
static enum step
step_migrate(struct run *r, struct env *e)
{
	const char *migrations, *seed, *have;
	struct sql_run s;
	enum forge_rc frc;
	enum step step;
	char sum[65], err[512];
	size_t i, applied = 0;
	int64_t started = mono_ms();
	int rc;

	env_sources(r, e, &migrations, &seed);
	if ((step = sql_run_open(r, e, &s)) != STEP_NEXT ||
	    r->result == JOB_RETRY || e->status == ENV_FAILED ||
	    intent_cut_short(r, e, &s, &step))
		goto out;
	frc = source_migrations(&s.call, e, migrations, s.sha, &s.src);
	if (frc != FORGE_OK) {
		step = source_trouble(r, e, &s, frc);
		goto out;
	}
	for (i = 0; i < s.src.n; i++) {
		struct env now;

		if (jobs_stopping()) {
			step = step_retry(r, 0, "shutting down");
			goto out;
		}
		if (store_env_get(r->w->store, e->id, &now) != 0 ||
		    !now.want_present || strcmp(now.want_sha, s.sha) != 0) {
			step = STEP_NEXT;   /* superseded: start over */
			goto out;
		}
		frc = source_read(&s.call, &s.src, i, &s.file);
		if (frc != FORGE_OK) {
			step = source_trouble(r, e, &s, frc);
			goto out;
		}
		sha256_hex(&s.file, sum);
		if ((have = applied_sum(&s.applied, s.src.files[i].name)) != NULL) {
			if (strcmp(have, sum) == 0)
				continue;
			log_warnx("migration %s changed since it was applied: "
			    "rebuilding %s", s.src.files[i].name, e->db_name);
			snprintf(e->error, sizeof(e->error), REBUILT_NOTE " at "
			    "%.12s: migration %s was edited after it was applied, "
			    "so the database was rebuilt from all migrations and "
			    "the seed", s.sha, s.src.files[i].name);
			e->reset_db = true;
			e->status = ENV_PROVISIONING;
			step = step_save(r, e);
			goto out;
		}
		fault_point("migrate.before_file");
		if (intent_set(r, e, &s, s.src.files[i].name) != 0) {
			step = step_retry(r, 1000, "cannot save environment");
			goto out;
		}
		rc = engine_record_apply(s.session, s.src.files[i].name, sum,
		    s.file.data, s.file.len, err, sizeof(err));
		if (rc == ENGINE_RETRY) {
			char why[700];

			snprintf(why, sizeof(why), "waiting for %s: %s",
			    e->engine, err);
			step = step_wait(r, e, jobs_backoff(r->job->attempts),
			    why);
			goto out;
		}
		if (rc == ENGINE_FAIL) {
			step = step_fail(r, e, s.sha, "migration %s failed: %s",
			    s.src.files[i].name, err);
			goto out;
		}
		applied++;
		log_info("migration %s applied", s.src.files[i].name);
	}
	log_info("migrations%s%.12s: %zu applied, %zu already in place",
	    s.sha[0] ? " at " : "", s.sha, applied, s.src.n - applied);
	metrics_migrated(e->engine, (double)(mono_ms() - started) / 1000);
	/* The seed runs once, after the first successful migration run. */
	str_copy(e->head_sha, s.sha, sizeof(e->head_sha));
	clear_transient_error(e);
	e->applying[0] = '\0';
	e->status = strcmp(seed, "none") != 0 &&
	    applied_sum(&s.applied, SEED_RECORD) == NULL ? ENV_SEEDING :
	    ENV_READY;
	step = step_save(r, e);
out:
	sql_run_release(&s);
	return step;
}

static enum step
step_seed(struct run *r, struct env *e)
{
	const char *migrations, *seed;
	struct sql_run s;
	enum forge_rc frc;
	enum step step;
	char sum[65], err[512];
	int rc;

	env_sources(r, e, &migrations, &seed);
	if ((step = sql_run_open(r, e, &s)) != STEP_NEXT ||
	    r->result == JOB_RETRY || e->status == ENV_FAILED ||
	    intent_cut_short(r, e, &s, &step))
		goto out;
	/* Seed at the commit the migrations were applied at. */
	str_copy(s.sha, e->head_sha, sizeof(s.sha));
	if (strcmp(seed, "none") != 0 &&
	    applied_sum(&s.applied, SEED_RECORD) == NULL) {
		frc = source_seed(&s.call, e, seed, s.sha, &s.src);
		if (frc == FORGE_OK && s.src.n == 1)
			frc = source_read(&s.call, &s.src, 0, &s.file);
		if (frc == FORGE_NOT_FOUND)
			snprintf(s.call.error, sizeof(s.call.error), "seed %s "
			    "not found at %.12s", seed, s.sha);
		if (frc != FORGE_OK) {
			step = source_trouble(r, e, &s, frc);
			goto out;
		}
		sha256_hex(&s.file, sum);
		fault_point("seed.before_file");
		if (intent_set(r, e, &s, SEED_RECORD) != 0) {
			step = step_retry(r, 1000, "cannot save environment");
			goto out;
		}
		rc = engine_record_apply(s.session, SEED_RECORD, sum,
		    s.file.data, s.file.len, err, sizeof(err));
		if (rc == ENGINE_RETRY) {
			char why[700];

			snprintf(why, sizeof(why), "waiting for %s: %s",
			    e->engine, err);
			step = step_wait(r, e, jobs_backoff(r->job->attempts),
			    why);
			goto out;
		}
		if (rc == ENGINE_FAIL) {
			step = step_fail(r, e, s.sha, "seed %s failed: %s",
			    s.src.files[0].name, err);
			goto out;
		}
		log_info("seed %s applied", s.src.files[0].name);
	}
	clear_transient_error(e);
	e->applying[0] = '\0';
	e->status = ENV_READY;
	step = step_save(r, e);
out:
	sql_run_release(&s);
	return step;
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
	e->status = ENV_DELETED;
	if (env_commit(r, e) != 0)
		return step_retry(r, 1000, "cannot save environment");
	log_info("environment deleted: database %s and role %s dropped",
	    e->db_name, e->role_name);
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
		return step_save(r, e);
	case ENV_PROVISIONING:
		return step_provision(r, e);
	case ENV_MIGRATING:
		return step_migrate(r, e);
	case ENV_SEEDING:
		return step_seed(r, e);
	case ENV_READY:
		if (strcmp(e->head_sha, e->want_sha) == 0)
			return STEP_END;
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

enum job_result
lifecycle_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	struct run r = { w, j, o, JOB_DONE, mono_ms(), "" };
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
		if (step_next(&r, &e) == STEP_END)
			break;
	}
	crypto_wipe(&e, sizeof(e));
	return r.result;
}
