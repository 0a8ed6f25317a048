/*
 * migrate: the repository's SQL in an environment — its migration files
 * in name order and the seed, each run as the environment's own role,
 * recorded in previewd_migrations, under a deadline (core/canceller.h),
 * and, where DDL is not transactional, with an intent before each file
 * (see intent_set). Steps of the "migrate" job; core/step.h has what it
 * shares with core/lifecycle.c.
 */
#include "core/step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/canceller.h"
#include "core/metrics.h"
#include "core/source.h"
#include "lib/crypto.h"
#include "lib/fault.h"
#include "lib/log.h"

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
	const struct engine_cfg *ecfg;
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
	s->ecfg = cfg;
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
	if (step_password(r, e, password, sizeof(password)) != 0)
		return step_fail(r, e, s->sha, "stored credentials do not "
		    "decrypt with the configured secret_key");
	/* The server's own limit comes 30 s after the canceller's, so the
	 * canceller's message is the one a user reads. */
	rc = engine_session_open(ops, cfg, e->db_name, e->role_name, password,
	    (step_sql_timeout(r, e) + 30) * 1000, &s->session, err, sizeof(err));
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
 * Run one file (or the seed) and record it, under the canceller: it is
 * cancelled on the server when its migration_timeout passes or when the
 * environment is closed meanwhile. *why says which, if either; without a
 * cancel token (out of memory) the file runs with only the server's own
 * limit.
 */
static int
sql_apply(struct run *r, const struct env *e, struct sql_run *s,
    const char *name, const char *sum, enum cancel_reason *why, char *err,
    size_t errlen)
{
	struct engine_cancel *c = engine_cancel_token(s->session);
	int rc;

	if (c != NULL)
		canceller_arm(r->w->index, c, s->ecfg, e->id,
		    mono_ms() + step_sql_timeout(r, e) * 1000);
	else
		log_warnx("no cancel token for %s: it runs without previewd's "
		    "deadline", name);
	rc = engine_record_apply(s->session, name, sum, s->file.data,
	    s->file.len, err, errlen);
	*why = c != NULL ? canceller_disarm(r->w->index) : CANCEL_NONE;
	engine_cancel_free(c);
	if (rc == ENGINE_OK)
		*why = CANCEL_NONE;
	return rc;
}

/* What a cancelled file becomes: failed with the reason when its time ran
 * out; when its environment is to go, the next step (the teardown). */
static enum step
sql_cancelled(struct run *r, struct env *e, const struct sql_run *s,
    const char *what, enum cancel_reason why)
{
	char limit[32];

	if (why == CANCEL_UNWANTED) {
		log_info("%s cancelled: the environment is to go", what);
		return STEP_NEXT;
	}
	format_duration(step_sql_timeout(r, e), limit, sizeof(limit));
	return step_fail(r, e, s->sha, "%s timed out after %s "
	    "(migration_timeout) and was cancelled on the server", what,
	    limit);
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
enum step
step_migrate(struct run *r, struct env *e)
{
	const char *migrations, *seed, *have;
	struct sql_run s;
	enum forge_rc frc;
	enum step step;
	char sum[65], err[512];
	size_t i, applied = 0;
	int64_t started = mono_ms();
	enum cancel_reason why;
	int rc;

	step_sources(r, e, &migrations, &seed);
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
		rc = sql_apply(r, e, &s, s.src.files[i].name, sum, &why, err,
		    sizeof(err));
		if (why != CANCEL_NONE) {
			char what[300];

			snprintf(what, sizeof(what), "migration %s",
			    s.src.files[i].name);
			step = sql_cancelled(r, e, &s, what, why);
			goto out;
		}
		if (rc == ENGINE_RETRY) {
			char wait[700];

			snprintf(wait, sizeof(wait), "waiting for %s: %s",
			    e->engine, err);
			step = step_wait(r, e, jobs_backoff(r->job->attempts),
			    wait);
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
	step_clear_note(e);
	e->applying[0] = '\0';
	e->status = strcmp(seed, "none") != 0 &&
	    applied_sum(&s.applied, SEED_RECORD) == NULL ? ENV_SEEDING :
	    ENV_READY;
	step = step_save(r, e);
out:
	sql_run_release(&s);
	return step;
}

enum step
step_seed(struct run *r, struct env *e)
{
	const char *migrations, *seed;
	struct sql_run s;
	enum forge_rc frc;
	enum step step;
	enum cancel_reason why;
	char sum[65], err[512];
	int rc;

	step_sources(r, e, &migrations, &seed);
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
		rc = sql_apply(r, e, &s, SEED_RECORD, sum, &why, err,
		    sizeof(err));
		if (why != CANCEL_NONE) {
			char what[300];

			snprintf(what, sizeof(what), "seed %s",
			    s.src.files[0].name);
			step = sql_cancelled(r, e, &s, what, why);
			goto out;
		}
		if (rc == ENGINE_RETRY) {
			char wait[700];

			snprintf(wait, sizeof(wait), "waiting for %s: %s",
			    e->engine, err);
			step = step_wait(r, e, jobs_backoff(r->job->attempts),
			    wait);
			goto out;
		}
		if (rc == ENGINE_FAIL) {
			step = step_fail(r, e, s.sha, "seed %s failed: %s",
			    s.src.files[0].name, err);
			goto out;
		}
		log_info("seed %s applied", s.src.files[0].name);
	}
	step_clear_note(e);
	e->applying[0] = '\0';
	e->status = ENV_READY;
	step = step_save(r, e);
out:
	sql_run_release(&s);
	return step;
}
