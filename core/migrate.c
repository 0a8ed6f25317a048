/*
 * migrate: the repository's SQL in an environment — its migration files
 * in the order of their migration tool (core/tools.h lists the tools)
 * and the seed, each run as the environment's own role, recorded
 * in previewd_migrations together with the tool's own history table,
 * under a deadline (core/canceller.h), and, where a file does not run in
 * a transaction with its record, with an intent before it (see
 * intent_set). Steps of the "migrate" job; core/step.h has what it shares
 * with core/lifecycle.c.
 */
#include "core/step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/canceller.h"
#include "core/metrics.h"
#include "core/source.h"
#include "core/tools.h"
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
	/* The migration tool, its history table on this engine (NULL: none)
	 * and, for a one-row history, the newest version applied so far. */
	const struct tool *tool;
	const struct tool_history *history;
	char newest[SOURCE_VERSION_SIZE];
	/* The file file holds already: the one the tool's detection read. */
	char cached[sizeof(((struct source_file *)0)->path)];
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
    const struct engine_apply *a, enum cancel_reason *why, char *err,
    size_t errlen)
{
	struct engine_cancel *c = engine_cancel_token(s->session);
	int rc;

	if (c != NULL)
		canceller_arm(r->w->index, c, s->ecfg, e->id,
		    mono_ms() + step_sql_timeout(r, e) * 1000);
	else
		log_warnx("no cancel token for %s: it runs without previewd's "
		    "deadline", a->name);
	rc = engine_record_apply(s->session, a, err, errlen);
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

/* After one file (what: "migration NAME", "seed NAME"): true when the
 * step ends here — cancelled, waiting for the server, or failed — with
 * *step its result; false to go on. */
static bool
sql_ended(struct run *r, struct env *e, const struct sql_run *s,
    const char *what, int rc, enum cancel_reason why, const char *err,
    enum step *step)
{
	char wait[700];

	if (why != CANCEL_NONE) {
		*step = sql_cancelled(r, e, s, what, why);
		return true;
	}
	if (rc == ENGINE_RETRY) {
		snprintf(wait, sizeof(wait), "waiting for %s: %s", e->engine,
		    err);
		*step = step_wait(r, e, jobs_backoff(r->job->attempts), wait);
		return true;
	}
	if (rc == ENGINE_FAIL) {
		*step = step_fail(r, e, s->sha, "%s failed: %s", what, err);
		return true;
	}
	return false;
}

/*
 * Recorded before, recorded after. On a server whose DDL is not
 * transactional (MariaDB, MySQL) a file commits statement by statement,
 * so a file cut short — previewd killed, the connection lost, a statement
 * that failed — leaves its first statements behind, and running it again
 * on top of them fails ("already exists") or doubles its rows. So the
 * file's name is saved in e->applying before it runs and cleared once it
 * is recorded in the database. PostgreSQL runs the file and its record in
 * one transaction that a crash rolls back: no intent is needed there,
 * except for a file that runs outside a transaction (a dbmate file's
 * "transaction:false"), which is then in MariaDB's position.
 */
static int
intent_set(struct run *r, struct env *e, const struct sql_run *s,
    const char *name, bool outside)
{
	if (s->ops->ddl_transactional && !outside)
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
	char what[300], undo[80];

	if (e->applying[0] == '\0')
		return false;
	/* Only files that commit as they go leave an intent (intent_set). */
	if (applied_sum(&s->applied, e->applying) != NULL) {
		/* Recorded before the stop. */
		e->applying[0] = '\0';
		return false;
	}
	if (strcmp(e->applying, SEED_RECORD) == 0)
		str_copy(what, "the seed", sizeof(what));
	else
		snprintf(what, sizeof(what), "migration %s", e->applying);
	snprintf(undo, sizeof(undo), s->ops->ddl_transactional ? "it ran "
	    "outside a transaction" : "%s cannot undo what it had done",
	    e->engine);
	log_warnx("%s did not finish and %s: rebuilding %s", what, undo,
	    e->db_name);
	snprintf(e->error, sizeof(e->error), REBUILT_NOTE " at %.12s: %s did "
	    "not finish (previewd stopped or lost the server while it ran, or "
	    "it failed part-way) and %s, so the database was rebuilt from "
	    "empty and migrated from the start", e->want_sha, what, undo);
	e->applying[0] = '\0';
	e->reset_db = true;
	e->status = ENV_PROVISIONING;
	*step = step_save(r, e);
	return true;
}

/* migrations_tool for e: its repository's, "auto" for a CI database. */
static const char *
configured_tool(struct run *r, const struct env *e)
{
	const struct repo_cfg *rc = strcmp(e->provider, ENV_CI) == 0 ? NULL :
	    config_repo(r->w->cfg, e->repo);

	return rc != NULL && rc->migrations_tool != NULL ?
	    rc->migrations_tool : "auto";
}

/* How a message names file i: sql keeps the name it always gave; the
 * tools give the path in the repository, which a tool's user knows. */
static const char *
shown(const struct sql_run *s, size_t i)
{
	return strcmp(s->tool->name, "sql") == 0 ? s->src.files[i].name :
	    s->src.files[i].path;
}

/* Whether e is a copy of its repository's base not yet migrated to its
 * own commit: what it holds must still be checked against the pull
 * request (base_prefix). */
static bool
base_copy_fresh(const struct env *e)
{
	return str_starts(e->schema_from, "base:") && e->head_sha[0] == '\0';
}

/* The copy is not what the pull request's migrations make: rebuilt from
 * an empty database, as the cold path builds it, and said so in
 * schema_from. */
static enum step
base_fallback(struct run *r, struct env *e, const char *why)
{
	log_info("the copy of the base (%s) does not fit: %s; rebuilding %s "
	    "from an empty database", e->schema_from, why, e->db_name);
	metrics_prewarm_fallback(e->engine);
	str_copy(e->schema_from, "empty", sizeof(e->schema_from));
	e->reset_db = true;
	e->status = ENV_PROVISIONING;
	return step_save(r, e);
}

/* A copy of the base takes the base's migration tool when it is the one
 * the pull request's folder wants; otherwise the copy does not fit. true
 * to go on; false with *step the step's result. */
static bool
base_tool(struct run *r, struct env *e, const struct tool *t,
    enum step *step)
{
	struct env *base = calloc(1, sizeof(*base));
	char why[200];
	bool same;

	if (base == NULL) {
		*step = step_retry(r, 1000, "out of memory");
		return false;
	}
	same = store_env_find_pr(r->w->store, e->provider, e->repo,
	    ENV_BASE_NUMBER, base) == 0 &&
	    strcmp(base->migrations_tool, t->name) == 0;
	if (same)
		str_copy(e->migrations_tool, t->name,
		    sizeof(e->migrations_tool));
	else
		snprintf(why, sizeof(why), "the base's migrations were "
		    "applied as %s, the pull request's are %s's",
		    base->migrations_tool[0] ? base->migrations_tool : "sql",
		    t->name);
	crypto_wipe(base, sizeof(*base));
	free(base);
	if (!same)
		*step = base_fallback(r, e, why);
	return same;
}

/* The tool's history row for file i (whole, as read into s->file, with
 * checksum sum) into params. true, or false with err. */
static bool
history_row(const struct sql_run *s, size_t i, const char *sum,
    struct tool_params *params, char *err, size_t errlen)
{
	struct tool_file f;

	f.file = &s->src.files[i];
	f.data = s->file.data;
	f.len = s->file.len;
	f.sha256 = sum;
	f.newest = s->newest;
	return tool_history_row(s->tool, &f, params, err, errlen) == 0;
}

/* Read t's index file (drizzle's meta/_journal.json) into s->file, for
 * tool_plan. true to go on; false with *step the step's result. */
static bool
tool_index(struct run *r, struct env *e, struct sql_run *s,
    const struct tool *t, const char *folder, enum step *step)
{
	enum forge_rc frc;
	size_t i;

	for (i = 0; i < s->src.n; i++)
		if (strcmp(s->src.files[i].name, t->index) == 0)
			break;
	if (i == s->src.n) {
		*step = step_fail(r, e, s->sha, "migrations_tool %s: no %s in "
		    "%s", t->name, t->index, folder);
		return false;
	}
	if ((frc = source_read(&s->call, &s->src, i, &s->file)) != FORGE_OK) {
		*step = source_trouble(r, e, s, frc);
		return false;
	}
	return true;
}

/*
 * Pick the folder's migration tool (tool_choose: auto, or a check of the
 * configured one), keep its files in its order, remember it on the
 * environment and make its history table. A tool's history is right only
 * if that tool wrote it from the first file: when files are recorded
 * already under another tool (an environment from before, a changed
 * migrations_tool), the database is rebuilt. true to go on; false with
 * *step the step's result.
 */
static bool
tool_ready(struct run *r, struct env *e, struct sql_run *s,
    const char *spec, enum step *step)
{
	const char *configured = configured_tool(r, e), *folder;
	const struct tool *t = NULL;
	enum forge_rc frc;
	char err[1024];
	size_t i, look = 0;
	bool recorded = false;
	int rc;

	folder = str_starts(spec, "repo:") ? spec + 5 : str_starts(spec,
	    "dir:") ? spec + 4 : spec;
	rc = tool_choose(configured, folder, &s->src, &t, &look, err,
	    sizeof(err));
	if (rc == 0) {
		if ((frc = source_read(&s->call, &s->src, look,
		    &s->file)) != FORGE_OK) {
			*step = source_trouble(r, e, s, frc);
			return false;
		}
		str_copy(s->cached, s->src.files[look].path, sizeof(s->cached));
		rc = tool_choose_content(configured, folder, &s->src, look,
		    s->file.data, s->file.len, &t, err, sizeof(err));
	}
	if (rc < 0) {
		*step = step_fail(r, e, s->sha, "%s", err);
		return false;
	}
	if (t->index != NULL && !tool_index(r, e, s, t, folder, step))
		return false;
	if (tool_plan(t, &s->src, t->index != NULL ? s->file.data : NULL,
	    s->file.len, err, sizeof(err)) != 0) {
		*step = step_fail(r, e, s->sha, "%s", err);
		return false;
	}
	s->cached[0] = '\0';
	s->tool = t;
	s->history = tool_history(t, e->engine);
	if (t->history != NULL && s->history == NULL) {
		*step = step_fail(r, e, s->sha, "migrations_tool %s keeps no "
		    "history on %s in this previewd", t->name, e->engine);
		return false;
	}
	for (i = 0; i < s->src.n; i++) {
		if (applied_sum(&s->applied, s->src.files[i].name) == NULL)
			continue;
		recorded = true;
		if (tool_version_cmp(s->src.files[i].version, s->newest) > 0)
			str_copy(s->newest, s->src.files[i].version,
			    sizeof(s->newest));
	}
	/* A copy of the base was migrated by the base's tool. */
	if (base_copy_fresh(e) && e->migrations_tool[0] == '\0' &&
	    !base_tool(r, e, t, step))
		return false;
	if (strcmp(e->migrations_tool, t->name) != 0) {
		if (recorded && s->history != NULL) {
			log_warnx("migrations of %s applied as %s, now %s: "
			    "rebuilding it", e->db_name, e->migrations_tool[0] ?
			    e->migrations_tool : "sql", t->name);
			snprintf(e->error, sizeof(e->error), REBUILT_NOTE " at "
			    "%.12s: the migrations are %s's now and had been "
			    "applied as %s, so the database was rebuilt from "
			    "all migrations and the seed with %s's history",
			    s->sha, t->name, e->migrations_tool[0] ?
			    e->migrations_tool : "sql", t->name);
			e->reset_db = true;
			e->status = ENV_PROVISIONING;
		}
		log_info("migrations of %s: %s", e->db_name, t->name);
		str_copy(e->migrations_tool, t->name,
		    sizeof(e->migrations_tool));
		*step = step_save(r, e);
		if (*step != STEP_NEXT || e->reset_db)
			return false;
	}
	rc = ENGINE_OK;
	for (i = 0; s->history != NULL && s->history->create[i] != NULL &&
	    rc >= 0; i++)
		rc = engine_session_run(s->session, s->history->create[i],
		    strlen(s->history->create[i]), err, sizeof(err));
	if (rc < 0) {
		char why[1200];

		snprintf(why, sizeof(why), "waiting for %s: %s", e->engine, err);
		*step = rc == ENGINE_RETRY ? step_wait(r, e,
		    jobs_backoff(r->job->attempts), why) : step_fail(r, e,
		    s->sha, "cannot create %s's history table: %s", t->name,
		    err);
		return false;
	}
	return true;
}

/* File i's bytes into s->file, unless it holds them already. */
static enum forge_rc
migration_read(struct sql_run *s, size_t i)
{
	if (s->cached[0] != '\0' &&
	    strcmp(s->cached, s->src.files[i].path) == 0) {
		s->cached[0] = '\0';
		return FORGE_OK;
	}
	s->cached[0] = '\0';
	return source_read(&s->call, &s->src, i, &s->file);
}

/*
 * A copy of the base holds the base's migrations and seed. It fits the
 * pull request when those are the first of the pull request's own
 * migrations, in its order (each file's checksum is compared as the
 * files are read), none of them missing from the pull request, and the
 * seed is the pull request's seed. true when it fits (or needs no
 * check); false with *step the step's result.
 */
static bool
base_prefix(struct run *r, struct env *e, struct sql_run *s,
    const char *seed, enum step *step)
{
	char why[600], sum[65];
	const char *have;
	struct source seed_src;
	enum forge_rc frc;
	size_t i, recorded = 0, matched = 0;
	bool gap = false;

	for (i = 0; i < s->applied.n; i++)
		recorded += strcmp(s->applied.names[i], SEED_RECORD) != 0;
	for (i = 0; i < s->src.n; i++) {
		if (applied_sum(&s->applied, s->src.files[i].name) == NULL) {
			gap = true;
			continue;
		}
		if (gap) {
			snprintf(why, sizeof(why), "the base applied %s, which "
			    "comes after a migration it lacks", shown(s, i));
			*step = base_fallback(r, e, why);
			return false;
		}
		matched++;
	}
	if (matched != recorded) {
		*step = base_fallback(r, e, "the base has migrations the pull "
		    "request has not");
		return false;
	}
	if ((have = applied_sum(&s->applied, SEED_RECORD)) == NULL ||
	    strcmp(seed, "none") == 0)
		return true;
	frc = source_seed(&s->call, e, seed, s->sha, &seed_src);
	if (frc == FORGE_OK && seed_src.n == 1)
		frc = source_read(&s->call, &seed_src, 0, &s->file);
	source_release(&seed_src);
	s->cached[0] = '\0';
	if (frc != FORGE_OK) {
		*step = source_trouble(r, e, s, frc);
		return false;
	}
	sha256_hex(&s->file, sum);
	if (strcmp(sum, have) != 0) {
		*step = base_fallback(r, e, "the pull request's seed is not the "
		    "base's");
		return false;
	}
	return true;
}

/*
 * Apply, in the tool's order, the migration files not yet recorded. A
 * file whose checksum differs from its record was edited after it ran:
 * the database is rebuilt from scratch (same credentials). Between files
 * the desired state is reread, so a close or a newer push takes over.
 */
enum step
step_migrate(struct run *r, struct env *e)
{
	const char *migrations, *seed, *have;
	struct engine_apply a;
	struct tool_params params = { { NULL }, 0 };
	struct sql_run s;
	enum forge_rc frc;
	enum step step;
	char sum[65], err[512];
	size_t i, applied = 0;
	int64_t started = mono_ms();
	enum cancel_reason why;
	char what[1100];
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
	if (strcmp(migrations, "none") == 0)
		s.tool = tool_find("sql");
	else if (!tool_ready(r, e, &s, migrations, &step))
		goto out;
	if (base_copy_fresh(e) && !base_prefix(r, e, &s, seed, &step))
		goto out;
	for (i = 0; i < s.src.n; i++) {
		struct env now;

		if (jobs_stopping()) {
			step = step_retry(r, 0, "shutting down");
			goto out;
		}
		if ((frc = migration_read(&s, i)) != FORGE_OK) {
			step = source_trouble(r, e, &s, frc);
			goto out;
		}
		sha256_hex(&s.file, sum);
		if ((have = applied_sum(&s.applied, s.src.files[i].name)) != NULL &&
		    (strcmp(have, sum) == 0 || !s.src.files[i].rerun)) {
			if (strcmp(have, sum) == 0)
				continue;
			if (base_copy_fresh(e)) {
				snprintf(what, sizeof(what), "migration %s is "
				    "not the base's", shown(&s, i));
				step = base_fallback(r, e, what);
				goto out;
			}
			log_warnx("migration %s changed since it was applied: "
			    "rebuilding %s", shown(&s, i), e->db_name);
			snprintf(e->error, sizeof(e->error), REBUILT_NOTE " at "
			    "%.12s: migration %s was edited after it was applied, "
			    "so the database was rebuilt from all migrations and "
			    "the seed", s.sha, shown(&s, i));
			e->reset_db = true;
			e->status = ENV_PROVISIONING;
			step = step_save(r, e);
			goto out;
		}
		/* Reread before each file run, not each file looked at: a
		 * copy of a 600-table base checks 60 files in place. */
		if (store_env_get(r->w->store, e->id, &now) != 0 ||
		    !now.want_present || strcmp(now.want_sha, s.sha) != 0) {
			step = STEP_NEXT;   /* superseded: start over */
			goto out;
		}
		memset(&a, 0, sizeof(a));
		a.name = s.src.files[i].name;
		a.checksum = sum;
		if (s.history != NULL && !history_row(&s, i, sum, &params, err,
		    sizeof(err))) {
			step = step_fail(r, e, s.sha, "migration %s: %s",
			    shown(&s, i), err);
			goto out;
		}
		/* The checksum is the whole file's; the tool may run less. */
		if (s.tool->script != NULL && s.tool->script(&s.file,
		    &a.outside_transaction, err, sizeof(err)) != 0) {
			step = step_fail(r, e, s.sha, "migration %s failed: %s",
			    shown(&s, i), err);
			goto out;
		}
		a.sql = s.file.data;
		a.len = s.file.len;
		if (s.history != NULL) {
			a.history = s.history->write;
			a.history_params = (const char *const *)params.v;
			a.history_nparams = params.n;
		}
		fault_point("migrate.before_file");
		if (intent_set(r, e, &s, a.name, a.outside_transaction) != 0) {
			step = step_retry(r, 1000, "cannot save environment");
			goto out;
		}
		rc = sql_apply(r, e, &s, &a, &why, err, sizeof(err));
		snprintf(what, sizeof(what), "migration %s", shown(&s, i));
		if (sql_ended(r, e, &s, what, rc, why, err, &step))
			goto out;
		if (tool_version_cmp(s.src.files[i].version, s.newest) > 0)
			str_copy(s.newest, s.src.files[i].version,
			    sizeof(s.newest));
		tool_params_release(&params);
		applied++;
		log_info("migration %s applied", shown(&s, i));
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
	tool_params_release(&params);
	sql_run_release(&s);
	return step;
}

enum step
step_seed(struct run *r, struct env *e)
{
	const char *migrations, *seed;
	struct engine_apply a;
	struct sql_run s;
	enum forge_rc frc;
	enum step step;
	enum cancel_reason why;
	char what[1100];
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
		if (intent_set(r, e, &s, SEED_RECORD, false) != 0) {
			step = step_retry(r, 1000, "cannot save environment");
			goto out;
		}
		memset(&a, 0, sizeof(a));
		a.name = SEED_RECORD;
		a.checksum = sum;
		a.sql = s.file.data;
		a.len = s.file.len;
		rc = sql_apply(r, e, &s, &a, &why, err, sizeof(err));
		snprintf(what, sizeof(what), "seed %s", s.src.files[0].name);
		if (sql_ended(r, e, &s, what, rc, why, err, &step))
			goto out;
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
