/*
 * reaper: periodic decisions.
 */
#include "reaper/reaper.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engines/engine.h"
#include "core/jobs.h"
#include "lib/log.h"
#include "core/metrics.h"
#include "reaper/reconcile.h"
#include "reaper/sweep.h"
#include "store/store.h"

#define RETENTION (7 * 86400)

static pthread_t reaper_thread;
static pthread_mutex_t reaper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reaper_cond;
static bool reaper_down, reaper_running, reaper_now;
static const struct config *reaper_cfg;

/* Environments are collected first and deleted after the listing ends:
 * a write transaction may not start inside an open read on the same
 * connection. What does not fit is handled by the next pass. */
#define EXPIRE_BATCH 256

struct expired {
	char ids[EXPIRE_BATCH][ENV_ID_SIZE];
	int n;
};

static int
collect_expired(const char *id, void *arg)
{
	struct expired *x = arg;

	if (x->n == EXPIRE_BATCH)
		return 1;
	str_copy(x->ids[x->n++], id, ENV_ID_SIZE);
	return 0;
}

/* Repositories given a reconciliation in one pass, in turn: a fleet's
 * hundreds take a few passes, and every one has its turn (the position
 * is remembered from pass to pass). Collected before they are enqueued,
 * like the expired environments above. */
#define RECONCILE_PER_PASS 256

struct targets {
	const struct config *cfg;
	char v[RECONCILE_PER_PASS][ENV_REPO_SIZE + 16];
	int n, seen;
	/* The last repository of the pass; "" to start from the first. */
	char provider[16], repo[ENV_REPO_SIZE];
};

/* A reconciliation for each repository with open environments whose
 * forge previewd can ask. */
static int
collect_target(const char *provider, const char *repo, const char *api,
    int64_t installation, void *arg)
{
	struct targets *t = arg;
	const struct config *cfg = t->cfg;
	bool can;

	(void)api;
	t->seen++;
	str_copy(t->provider, provider, sizeof(t->provider));
	str_copy(t->repo, repo, sizeof(t->repo));
	if (strcmp(provider, "gitlab") == 0)
		can = cfg->gitlab.configured && cfg->gitlab.token != NULL;
	else
		can = cfg->github.configured && (cfg->github.token != NULL ||
		    (cfg->github.app_id != 0 && installation > 0));
	if (can && str_printf(t->v[t->n], sizeof(t->v[0]), "%s:%s", provider,
	    repo) == 0)
		t->n++;
	return 0;
}

static void
reaper_pass(const struct config *cfg, struct store *st)
{
	static struct expired x;     /* only the reaper thread runs passes */
	static struct targets targets;
	bool enqueued = false;
	int i;

	metrics_reaper_run();
	x.n = 0;
	if (store_env_expired(st, now_s(), collect_expired, &x) != 0)
		log_warnx("reaper: cannot list expired environments");
	for (i = 0; i < x.n; i++) {
		if (store_env_request_delete(st, x.ids[i], "expired: no pull "
		    "request activity within the repository's ttl") == 0) {
			log_info("environment %s expired: deleting", x.ids[i]);
			metrics_deletion("ttl");
			enqueued = true;
		}
	}
	/* Queued environments are woken by each teardown; this catches a
	 * wake-up lost to a crash, or a cap raised by a reload. */
	if (store_env_wake_queued(st) == 0)
		enqueued = true;
	for (i = 0; engine_at((size_t)i) != NULL; i++) {
		const char *name = engine_at((size_t)i)->name;

		if (config_engine(cfg, name) == NULL)
			continue;
		if (store_job_enqueue(st, "pool", name, 0) == 0)
			enqueued = true;
		if (store_job_enqueue(st, "sweep", name, 0) == 0)
			enqueued = true;
	}
	targets.cfg = cfg;
	targets.n = targets.seen = 0;
	if (store_reconcile_targets_after(st, targets.provider, targets.repo,
	    RECONCILE_PER_PASS, collect_target, &targets) != 0)
		log_warnx("reaper: cannot list repositories to reconcile");
	/* At the end of the list: the next pass starts again. */
	if (targets.seen < RECONCILE_PER_PASS)
		targets.provider[0] = targets.repo[0] = '\0';
	for (i = 0; i < targets.n; i++)
		if (store_job_enqueue(st, "reconcile", targets.v[i], 0) == 0)
			enqueued = true;
	if (store_prune(st, now_s() - RETENTION) != 0 ||
	    store_idempotency_prune(st, now_s() - IDEMPOTENCY_TTL) != 0)
		log_warnx("reaper: cannot prune old records");
	if (enqueued)
		jobs_notify();
}

static void *
reaper_main(void *arg)
{
	struct store *st = arg;
	const struct config *cfg;
	struct timespec ts;
	int64_t until;

	pthread_mutex_lock(&reaper_lock);
	while (!reaper_down) {
		pthread_mutex_unlock(&reaper_lock);
		cfg = config_current() != NULL ? config_current() : reaper_cfg;
		reaper_pass(cfg, st);
		pthread_mutex_lock(&reaper_lock);
		until = mono_ms() + cfg->reaper.interval * 1000;
		ts.tv_sec = until / 1000;
		ts.tv_nsec = (until % 1000) * 1000000;
		while (!reaper_down && !reaper_now && mono_ms() < until)
			if (pthread_cond_timedwait(&reaper_cond, &reaper_lock,
			    &ts) != 0)
				break;
		reaper_now = false;
	}
	pthread_mutex_unlock(&reaper_lock);
	store_close(st);
	return NULL;
}

int
reaper_init(char *err, size_t errlen)
{
	if (jobs_register("sweep", sweep_run) != 0 ||
	    jobs_register("reconcile", reconcile_run) != 0) {
		snprintf(err, errlen, "cannot register the reaper's jobs");
		return -1;
	}
	return 0;
}

int
reaper_start(const struct config *cfg, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	struct store *st;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&reaper_cond, &attr);
	pthread_condattr_destroy(&attr);

	reaper_cfg = cfg;
	if (store_open(cfg->server.state_path, &st, err, errlen) != 0)
		return -1;
	if (pthread_create(&reaper_thread, NULL, reaper_main, st) != 0) {
		snprintf(err, errlen, "cannot start the reaper thread");
		store_close(st);
		return -1;
	}
	reaper_running = true;
	return 0;
}

void
reaper_wake(void)
{
	pthread_mutex_lock(&reaper_lock);
	reaper_now = true;
	pthread_cond_broadcast(&reaper_cond);
	pthread_mutex_unlock(&reaper_lock);
}

void
reaper_stop(void)
{
	if (!reaper_running)
		return;
	pthread_mutex_lock(&reaper_lock);
	reaper_down = true;
	pthread_cond_broadcast(&reaper_cond);
	pthread_mutex_unlock(&reaper_lock);
	pthread_join(reaper_thread, NULL);
	reaper_running = false;
}
