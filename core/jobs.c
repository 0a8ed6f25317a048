/*
 * jobs: worker threads and the table of job kinds.
 */
#include "core/jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crypto.h"
#include "core/base_head.h"
#include "core/prewarm.h"
#include "core/canceller.h"
#include "core/lifecycle.h"
#include "lib/log.h"
#include "core/notify.h"
#include "core/pool.h"

/*
 * The job kinds. The core's own are here; the layers above add theirs with
 * jobs_register before the workers start (the reaper: "sweep", target an
 * engine name, and "reconcile", target provider:repo), so the core never
 * includes them. A handful of kinds, never one per environment.
 */
#define JOB_KINDS_MAX 12

static struct {
	const char *kind;
	job_fn run;
} job_kinds[JOB_KINDS_MAX] = {
	{ "env", lifecycle_run },     /* target: environment id */
	{ "migrate", lifecycle_migrate_run }, /* target: environment id */
	{ "pool", pool_run },         /* target: engine name */
	{ "notify", notify_run },     /* target: environment id */
	{ "base_head", base_head_run }, /* target: provider:repo */
	/* target: provider:repo; a stand-in until the pre-migrated pool's
	 * runner is built (issue 15) */
	{ "base", prewarm_run },
};
static size_t njob_kinds = 6;

/*
 * Lanes. A migration is the pull request's code and may take minutes;
 * claims, teardowns, pool refills and comments take milliseconds and must
 * never wait behind it. With two workers or more, worker 0 is the fast
 * lane: it takes only the kinds below, so however many slow migrations
 * run, an environment is still claimed, torn down and refilled at once.
 * The lifecycle hands an environment from "env" (fast steps) to "migrate"
 * (migrations and seed) and back; the two never run at once for one
 * environment (serial), so its steps stay in order.
 *
 * Copies of a base ("base": hundreds of milliseconds to seconds each) get
 * a worker of their own, one more than `workers`, and no other worker
 * takes them. In a shared lane a refill started by one claim held the
 * next prewarmed claim's migrate step (its fit check, a few milliseconds)
 * until the copy ended: measured with 2 workers, a 60-table base, a
 * prewarmed claim waited 300 ms behind a 235 ms copy. One copy at a time
 * also keeps the copies' I/O from crowding the server's other sessions.
 */
static const struct job_lane lane_fast = { "env,pool,notify,reconcile",
    NULL, "env,migrate" };
static const struct job_lane lane_any = { NULL, "base", "env,migrate" };
static const struct job_lane lane_copy = { "base", NULL, NULL };

int
jobs_register(const char *kind, job_fn run)
{
	size_t i;

	for (i = 0; i < njob_kinds; i++) {
		if (strcmp(job_kinds[i].kind, kind) == 0) {
			job_kinds[i].run = run;
			return 0;
		}
	}
	if (njob_kinds == ARRAY_SIZE(job_kinds))
		return -1;
	job_kinds[njob_kinds].kind = kind;
	job_kinds[njob_kinds].run = run;
	njob_kinds++;
	return 0;
}

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cond;
static pthread_cond_t jobs_exited;
static uint64_t jobs_gen;         /* bumped by every jobs_notify */
static bool jobs_down;
static int jobs_alive;            /* workers not yet returned */
static struct worker *workers;
static int nworkers;

bool
jobs_stopping(void)
{
	bool down;

	pthread_mutex_lock(&jobs_lock);
	down = jobs_down;
	pthread_mutex_unlock(&jobs_lock);
	return down;
}

void
jobs_notify(void)
{
	pthread_mutex_lock(&jobs_lock);
	jobs_gen++;
	pthread_cond_broadcast(&jobs_cond);
	pthread_mutex_unlock(&jobs_lock);
}

int64_t
jobs_backoff(int64_t attempts)
{
	return backoff_ms(attempts, 60000);
}

struct engine *
worker_engine(struct worker *w, const char *name)
{
	const struct engine_ops *ops = engine_find(name);
	const struct engine_cfg *cfg = config_engine(w->cfg, name);
	size_t i;

	if (ops == NULL || cfg == NULL)
		return NULL;
	for (i = 0; i < WORKER_ENGINES; i++) {
		if (w->engines[i] != NULL && w->engines[i]->ops == ops)
			return w->engines[i];
		if (w->engines[i] == NULL)
			return w->engines[i] = engine_new(ops, cfg);
	}
	return NULL;
}

struct http_client *
worker_http(struct worker *w)
{
	if (w->http == NULL)
		w->http = http_client_new();
	return w->http;
}

static job_fn
job_lookup(const char *kind)
{
	size_t i;

	for (i = 0; i < njob_kinds; i++)
		if (strcmp(job_kinds[i].kind, kind) == 0)
			return job_kinds[i].run;
	return NULL;
}

static void
job_run(struct worker *w, const struct job *j)
{
	struct job_outcome o;
	job_fn run = job_lookup(j->kind);
	enum job_result res;

	memset(&o, 0, sizeof(o));
	log_context("job=%s:%s", j->kind, j->target);
	if (run == NULL) {
		log_warnx("dropping job of unknown kind \"%s\"", j->kind);
		res = JOB_DONE;
	} else {
		res = run(w, j, &o);
	}
	if (res == JOB_DONE) {
		if (store_job_done(w->store, j) != 0)
			log_warnx("cannot mark job done; it will run again");
	} else {
		if (!jobs_stopping())
			log_info("job will retry in %lld ms (attempt %lld): %s",
			    (long long)o.retry_ms, (long long)j->attempts + 1,
			    o.error);
		if (store_job_retry(w->store, j, o.retry_ms, o.error) != 0)
			log_warnx("cannot reschedule job");
	}
	log_context_clear();
}

/* After a reload, drop the engine handles made from the old config: the
 * next use reconnects with the new one. */
static void
worker_refresh(struct worker *w)
{
	const struct config *cur = config_current();
	size_t i;

	if (cur == NULL || cur == w->cfg)
		return;
	for (i = 0; i < WORKER_ENGINES; i++) {
		engine_free(w->engines[i]);
		w->engines[i] = NULL;
	}
	w->cfg = cur;
}

/* The last worker copies bases; of the others, worker 0 is the fast
 * lane when there are two or more. */
static const struct job_lane *
worker_lane(const struct worker *w)
{
	if (w->index == nworkers - 1)
		return &lane_copy;
	if (w->index == 0 && nworkers > 2)
		return &lane_fast;
	return &lane_any;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct job j;
	int64_t next;
	uint64_t gen;
	int rc;

	while (!jobs_stopping()) {
		worker_refresh(w);
		pthread_mutex_lock(&jobs_lock);
		gen = jobs_gen;
		pthread_mutex_unlock(&jobs_lock);

		rc = store_job_take_lane(w->store, now_ms(), worker_lane(w),
		    &j, &next);
		if (rc == 0) {
			job_run(w, &j);
			/* A job of its target may have waited for this one
			 * (serial kinds): let the others look again. */
			jobs_notify();
			continue;
		}
		if (rc < 0)
			next = now_ms() + 1000;   /* the store is unwell: pause */

		/* Sleep until the next job is due or one is enqueued; the
		 * generation check closes the window between take and wait. */
		pthread_mutex_lock(&jobs_lock);
		if (jobs_gen == gen && !jobs_down) {
			int64_t wait_ms = next == INT64_MAX ? 60000 :
			    next - now_ms();
			struct timespec ts;
			int64_t until;

			if (wait_ms > 60000)
				wait_ms = 60000;
			if (wait_ms > 0) {
				until = mono_ms() + wait_ms;
				ts.tv_sec = until / 1000;
				ts.tv_nsec = (until % 1000) * 1000000;
				pthread_cond_timedwait(&jobs_cond, &jobs_lock,
				    &ts);
			}
		}
		pthread_mutex_unlock(&jobs_lock);
	}
	pthread_mutex_lock(&jobs_lock);
	jobs_alive--;
	pthread_cond_broadcast(&jobs_exited);
	pthread_mutex_unlock(&jobs_lock);
	return NULL;
}

static void
worker_release(struct worker *w)
{
	size_t i;

	for (i = 0; i < WORKER_ENGINES; i++)
		engine_free(w->engines[i]);
	http_client_free(w->http);
	store_close(w->store);
	memset(w, 0, sizeof(*w));
}

int
jobs_start(const struct config *cfg, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	int i;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&jobs_cond, &attr);
	pthread_cond_init(&jobs_exited, &attr);
	pthread_condattr_destroy(&attr);

	nworkers = (int)cfg->server.workers + 1;      /* + the copy lane */
	if ((workers = calloc((size_t)nworkers, sizeof(*workers))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (canceller_start(cfg, nworkers, err, errlen) != 0) {
		free(workers);
		workers = NULL;
		nworkers = 0;
		return -1;
	}
	for (i = 0; i < nworkers; i++) {
		struct worker *w = &workers[i];

		w->index = i;
		w->cfg = cfg;
		if (store_open(cfg->server.state_path, &w->store, err,
		    errlen) != 0)
			goto fail;
		if (store_relax(w->store) != 0) {
			snprintf(err, errlen, "cannot set up the state store");
			store_close(w->store);
			w->store = NULL;
			goto fail;
		}
		pthread_mutex_lock(&jobs_lock);
		jobs_alive++;
		pthread_mutex_unlock(&jobs_lock);
		if ((errno = pthread_create(&w->thread, NULL, worker_main,
		    w)) != 0) {
			pthread_mutex_lock(&jobs_lock);
			jobs_alive--;
			pthread_mutex_unlock(&jobs_lock);
			snprintf(err, errlen, "cannot start worker thread");
			store_close(w->store);
			w->store = NULL;
			goto fail;
		}
	}
	return 0;
fail:
	nworkers = i;
	(void)jobs_stop(INT64_MAX / 4);
	return -1;
}

bool
jobs_stop(int64_t timeout_ms)
{
	int64_t until = mono_ms() + timeout_ms;
	struct timespec ts;
	int i, alive;

	ts.tv_sec = until / 1000;
	ts.tv_nsec = (until % 1000) * 1000000;
	pthread_mutex_lock(&jobs_lock);
	jobs_down = true;
	pthread_cond_broadcast(&jobs_cond);
	while (jobs_alive > 0 && mono_ms() < until)
		if (pthread_cond_timedwait(&jobs_exited, &jobs_lock, &ts) != 0)
			break;
	alive = jobs_alive;
	pthread_mutex_unlock(&jobs_lock);
	if (alive > 0) {
		/* A step still runs (a server that does not answer, say). Its
		 * job is in the state file and runs again at the next start;
		 * the threads are left to the process's exit. */
		log_warnx("%d job step%s still running after %lld ms; they run "
		    "again at the next start", alive, alive == 1 ? "" : "s",
		    (long long)timeout_ms);
		return false;
	}
	for (i = 0; i < nworkers; i++) {
		pthread_join(workers[i].thread, NULL);
		worker_release(&workers[i]);
	}
	canceller_stop();
	free(workers);
	workers = NULL;
	nworkers = 0;
	return true;
}
