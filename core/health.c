/*
 * health: the readiness checker thread.
 */
#include "core/health.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "engines/engine.h"
#include "lib/log.h"
#include "store/store.h"

#define CHECKS 4     /* the state store and up to three engines */

static pthread_t health_thread;
static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t health_cond;
static bool health_down, health_running;
static const struct config *health_cfg;

static struct {
	char name[16];
	char problem[256];      /* "" when it answered */
} checks[CHECKS];
static int nchecks;
static int64_t checked_at;

static void
record(int i, const char *name, const char *problem)
{
	pthread_mutex_lock(&health_lock);
	str_copy(checks[i].name, name, sizeof(checks[i].name));
	str_copy(checks[i].problem, problem, sizeof(checks[i].problem));
	if (i + 1 > nchecks)
		nchecks = i + 1;
	pthread_mutex_unlock(&health_lock);
}

static void
check_once(struct store **st, struct engine **engines)
{
	const struct config *cfg = config_current() ? config_current() :
	    health_cfg;
	char err[256];
	int64_t jobs;
	size_t i;
	int n = 0;

	if (*st == NULL && store_open(cfg->server.state_path, st, err,
	    sizeof(err)) != 0)
		*st = NULL;
	record(n++, "state", *st != NULL && store_job_count(*st, &jobs) == 0 ?
	    "" : "the state file does not answer");
	for (i = 0; engine_at(i) != NULL && n < CHECKS; i++) {
		const struct engine_ops *ops = engine_at(i);
		const struct engine_cfg *ecfg = config_engine(cfg, ops->name);

		if (ecfg == NULL)
			continue;
		/* A reload may have changed the server: a fresh handle. */
		if (engines[i] != NULL && engines[i]->cfg != ecfg) {
			engine_free(engines[i]);
			engines[i] = NULL;
		}
		if (engines[i] == NULL)
			engines[i] = engine_new(ops, ecfg);
		if (engines[i] != NULL && engine_ping(engines[i], err,
		    sizeof(err)) == ENGINE_OK)
			record(n++, ops->name, "");
		else
			record(n++, ops->name, engines[i] ? err : "out of memory");
	}
	pthread_mutex_lock(&health_lock);
	nchecks = n;
	checked_at = now_s();
	pthread_mutex_unlock(&health_lock);
}

static void *
health_main(void *arg)
{
	struct engine *engines[CHECKS] = { NULL };
	struct store *st = NULL;
	struct timespec ts;
	int64_t until;
	size_t i;

	(void)arg;
	pthread_mutex_lock(&health_lock);
	while (!health_down) {
		pthread_mutex_unlock(&health_lock);
		check_once(&st, engines);
		pthread_mutex_lock(&health_lock);
		until = mono_ms() + HEALTH_PERIOD_MS;
		ts.tv_sec = until / 1000;
		ts.tv_nsec = (until % 1000) * 1000000;
		while (!health_down && mono_ms() < until)
			if (pthread_cond_timedwait(&health_cond, &health_lock,
			    &ts) != 0)
				break;
	}
	pthread_mutex_unlock(&health_lock);
	for (i = 0; i < CHECKS; i++)
		engine_free(engines[i]);
	store_close(st);
	return NULL;
}

int
health_start(const struct config *cfg, char *err, size_t errlen)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&health_cond, &attr);
	pthread_condattr_destroy(&attr);
	health_cfg = cfg;
	if (pthread_create(&health_thread, NULL, health_main, NULL) != 0) {
		snprintf(err, errlen, "cannot start the health thread");
		return -1;
	}
	health_running = true;
	return 0;
}

void
health_stop(void)
{
	if (!health_running)
		return;
	pthread_mutex_lock(&health_lock);
	health_down = true;
	pthread_cond_broadcast(&health_cond);
	pthread_mutex_unlock(&health_lock);
	pthread_join(health_thread, NULL);
	health_running = false;
}

bool
health_report(struct buf *out)
{
	cJSON *root = cJSON_CreateObject(), *c;
	char ts[RFC3339_LEN], *text;
	bool ready = true;
	int i;

	c = cJSON_AddObjectToObject(root, "checks");
	pthread_mutex_lock(&health_lock);
	for (i = 0; i < nchecks; i++) {
		cJSON_AddStringToObject(c, checks[i].name,
		    checks[i].problem[0] ? checks[i].problem : "ok");
		if (checks[i].problem[0] != '\0')
			ready = false;
	}
	if (checked_at == 0)
		ready = false;     /* not checked yet */
	time_rfc3339(checked_at, ts);
	pthread_mutex_unlock(&health_lock);
	cJSON_AddBoolToObject(root, "ready", ready);
	cJSON_AddStringToObject(root, "checked_at", ts);
	if ((text = cJSON_PrintUnformatted(root)) != NULL) {
		(void)buf_addstr(out, text);
		cJSON_free(text);
	}
	cJSON_Delete(root);
	return ready;
}

bool
health_engine_ok(const char *engine)
{
	bool ok = false;
	int i;

	pthread_mutex_lock(&health_lock);
	for (i = 0; i < nchecks; i++)
		if (strcmp(checks[i].name, engine) == 0)
			ok = checks[i].problem[0] == '\0';
	pthread_mutex_unlock(&health_lock);
	return ok;
}
