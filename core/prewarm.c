/*
 * prewarm: the pre-migrated pool (issue 15). A prewarmed repository has
 * a base: an environment of its own (number ENV_BASE_NUMBER) built at the
 * default branch's head like any other — claimed from the pool, migrated
 * with the repository's tool, seeded — and, once it is ready, copies of
 * it kept in the pool for the repository's pull requests.
 *
 * The "base" job (target "<provider>:<repo>") is enqueued when the head
 * moves (store/bases.c), when the base becomes ready
 * (core/lifecycle.c) and at start. Each run:
 *
 *   - makes the base follow the head (store_base_env_want): a new head
 *     migrates the base forward, as a push does to a pull request, and
 *     many pushes in a row coalesce, since the job and the base's own
 *     job each run for the newest head;
 *   - once the base is ready at the head, copies it until prewarm_size
 *     members of that commit are idle (engine_db_clone, which hands the
 *     copy to the member's own future role at once), so that the claim
 *     stays what it is for an empty member: a rename of the database and
 *     of its role;
 *   - then drops members of other commits (older heads) and members a
 *     crash left half made: a copy is made again, never finished.
 *
 * Copies are made while the base is quiet: the base's own migrations and
 * this job never run at the same time for one repository, because the
 * base's job runs only when the head moves and this one copies only a
 * base that is ready at the head (PostgreSQL also locks new connections
 * out of a template while it is copied).
 *
 * A claim takes a copy first (store_env_claim); the migrate step checks
 * that the copy's migrations are a prefix of the pull request's and
 * falls back to an empty database when they are not (core/migrate.c).
 */
#include "core/prewarm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base_head.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "lib/crypto.h"
#include "lib/fault.h"
#include "lib/log.h"
#include "lib/names.h"

#define PREWARM_MAX 20      /* the config's upper bound on prewarm_size */

/* What one run does to a base's members. */
struct members {
	const char *sha;                   /* the commit members should hold */
	char drop[PREWARM_MAX * 4][NAMES_SIZE];
	int ndrop;
	int idle;                          /* idle members of sha */
};

static int
sort_member(const char *db, const char *state, const char *sha, void *arg)
{
	struct members *m = arg;

	if (strcmp(state, "idle") == 0 && strcmp(sha, m->sha) == 0) {
		m->idle++;
		return 0;
	}
	/* Half made by a crash, or a copy of an older head. */
	if (m->ndrop == (int)ARRAY_SIZE(m->drop))
		return 1;
	str_copy(m->drop[m->ndrop++], db, NAMES_SIZE);
	return 0;
}

/* Drop member db and its role from the server, then forget it. */
static int
member_drop(struct worker *w, struct engine *eng, const char *db, char *err,
    size_t errlen)
{
	int rc;

	if ((rc = engine_drop_orphan(eng, false, db, err, errlen)) != ENGINE_OK)
		return rc;
	if (eng->ops->pool_roles &&
	    (rc = engine_drop_orphan(eng, true, db, err, errlen)) != ENGINE_OK)
		return rc;
	if (store_pool_remove(w->store, eng->ops->name, db) != 0) {
		str_copy(err, "cannot update the pool", errlen);
		return ENGINE_RETRY;
	}
	log_info("pool database %s dropped: a copy of another commit of its "
	    "base, or half made", db);
	return ENGINE_OK;
}

/* One more copy of base: recorded first (creating), then made, handed to
 * its own role and marked idle. */
static int
member_make(struct worker *w, struct engine *eng, const struct env *base,
    char *err, size_t errlen)
{
	char db[NAMES_SIZE], password[CRYPTO_PASSWORD_LEN + 1];
	unsigned char secret[POOL_SECRET_MAX];
	size_t len;
	int64_t started = mono_ms();
	int rc = ENGINE_RETRY;

	if (names_pool(db) != 0 ||
	    pool_secret_new(w->cfg, db, secret, &len) != 0 ||
	    store_pool_add_base(w->store, eng->ops->name, db, secret, len,
	    base->id, base->head_sha) != 0) {
		str_copy(err, "cannot record the pool database", errlen);
		goto out;
	}
	if (pool_secret_open(w->cfg, db, secret, len, password,
	    sizeof(password)) != 0) {
		str_copy(err, "cannot open the new member's password", errlen);
		goto out;
	}
	rc = engine_db_clone(eng, base->db_name, base->role_name, db,
	    password, err, errlen);
	crypto_wipe(password, sizeof(password));
	/* The copy's objects are the member's own role's already (or run
	 * as a user of its own, MySQL): the claim's rename hands them on. */
	if (rc != ENGINE_OK)
		goto out;
	fault_point("prewarm.after_copy");
	if (store_pool_ready(w->store, eng->ops->name, db) != 0) {
		str_copy(err, "cannot record the pool database", errlen);
		rc = ENGINE_RETRY;
		goto out;
	}
	metrics_prewarm_copied(eng->ops->name,
	    (double)(mono_ms() - started) / 1000);
	log_info("pool database %s ready: a copy of the base of %s at %.12s "
	    "(%lld ms)", db, base->repo, base->head_sha,
	    (long long)(mono_ms() - started));
out:
	crypto_wipe(secret, sizeof(secret));
	return rc;
}

/* The base was turned off (prewarm = none, or the section went): the
 * base goes, and its idle members with it. */
static enum job_result
prewarm_off(struct worker *w, struct env *base, struct job_outcome *o)
{
	struct engine *eng = worker_engine(w, base->engine);
	struct members *m;
	char err[512];
	int i;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto retry;
	m->sha = "\n";             /* no commit: every member is to go */
	if (eng == NULL || store_pool_each_base(w->store, base->id,
	    sort_member, m) != 0)
		goto retry;
	for (i = 0; i < m->ndrop; i++)
		if (member_drop(w, eng, m->drop[i], err, sizeof(err)) !=
		    ENGINE_OK)
			goto retry;
	free(m);
	if (base->want_present && store_env_request_delete(w->store, base->id,
	    "prewarm was turned off") < 0)
		return JOB_RETRY;
	if (base->want_present)
		log_info("base of %s goes: prewarm was turned off", base->repo);
	jobs_notify();
	return JOB_DONE;
retry:
	free(m);
	o->retry_ms = 5000;
	str_copy(o->error, "cannot drop the base's copies yet",
	    sizeof(o->error));
	return JOB_RETRY;
}

enum job_result
prewarm_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	char provider[16], repo[ENV_REPO_SIZE], id[ENV_ID_SIZE], err[512];
	const struct repo_cfg *rc;
	struct base_head head;
	struct members *m = NULL;
	struct engine *eng;
	struct env *base;
	enum job_result res = JOB_DONE;
	int has_base, found, i;

	if (base_target_split(j->target, provider, repo) != 0 ||
	    (base = calloc(1, sizeof(*base))) == NULL)
		return JOB_DONE;
	rc = config_repo(w->cfg, repo);
	has_base = store_env_find_pr(w->store, provider, repo,
	    ENV_BASE_NUMBER, base);
	if (has_base < 0)
		goto retry;
	if (rc == NULL || strcmp(rc->prewarm, "base") != 0) {
		res = has_base == 0 ? prewarm_off(w, base, o) : JOB_DONE;
		goto out;
	}
	if ((found = store_base_get(w->store, provider, repo, &head)) != 0) {
		if (found < 0)
			goto retry;
		goto out;                  /* no head learnt yet */
	}
	/* Follow the head: the base's own job migrates it there. */
	if (has_base != 0 || !base->want_present ||
	    strcmp(base->want_sha, head.sha) != 0 ||
	    strcmp(base->engine, rc->engine) != 0) {
		if (store_base_env_want(w->store, &head, rc->engine, id) != 0)
			goto retry;
		jobs_notify();
		log_info("base of %s: building at %.12s", repo, head.sha);
		goto out;
	}
	if (base->status != ENV_READY || strcmp(base->head_sha,
	    head.sha) != 0)
		goto out;                  /* lifecycle enqueues us at ready */
	if ((eng = worker_engine(w, base->engine)) == NULL ||
	    (m = calloc(1, sizeof(*m))) == NULL)
		goto retry;
	m->sha = base->head_sha;
	if (store_pool_each_base(w->store, base->id, sort_member, m) != 0)
		goto retry;
	/* The first copies of a head: its base is built. */
	if (m->idle == 0)
		metrics_base_built(base->engine, (double)(now_s() -
		    base->event_at));
	/* New copies first, then the old ones go: claims meanwhile take an
	 * older copy, which the migrate step brings forward or replaces. */
	for (i = m->idle; i < rc->prewarm_size; i++) {
		if (jobs_stopping())
			goto retry;
		if (member_make(w, eng, base, err, sizeof(err)) != ENGINE_OK)
			goto fail;
	}
	for (i = 0; i < m->ndrop; i++)
		if (member_drop(w, eng, m->drop[i], err, sizeof(err)) !=
		    ENGINE_OK)
			goto fail;
	goto out;
fail:
	log_warnx("base of %s: %s", repo, err);
	o->retry_ms = jobs_backoff(j->attempts);
	snprintf(o->error, sizeof(o->error), "%s: %s", base->engine, err);
	res = JOB_RETRY;
	goto out;
retry:
	o->retry_ms = jobs_backoff(j->attempts);
	str_copy(o->error, "cannot read or record the base", sizeof(o->error));
	res = JOB_RETRY;
out:
	free(m);
	crypto_wipe(base, sizeof(*base));
	free(base);
	return res;
}

/* The targets of every recorded head. */
struct targets {
	char (*t)[ENV_REPO_SIZE + 16];
	size_t n;
};

static int
collect_target(const struct base_head *h, void *arg)
{
	struct targets *ts = arg;
	void *p;

	if ((p = realloc(ts->t, (ts->n + 1) * sizeof(*ts->t))) == NULL)
		return 1;
	ts->t = p;
	if (str_printf(ts->t[ts->n], sizeof(ts->t[0]), "%s:%s", h->provider,
	    h->repo) == 0)
		ts->n++;
	return 0;
}

int
prewarm_enqueue_all(struct store *st)
{
	struct targets ts = { NULL, 0 };
	size_t i;
	int rc = 0;

	/* The listing holds a read: enqueue after it. */
	if (store_base_each(st, collect_target, &ts) != 0)
		rc = -1;
	for (i = 0; rc == 0 && i < ts.n; i++)
		if (store_job_enqueue(st, "base", ts.t[i], 0) != 0)
			rc = -1;
	free(ts.t);
	return rc;
}
