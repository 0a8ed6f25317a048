/*
 * canceller: see canceller.h.
 */
#include "core/canceller.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "store/store.h"

/* How often an armed slot's environment is looked up in the store. */
#define CANCELLER_LOOKUP_MS 1000

struct slot {
	bool armed;
	bool busy;                  /* the thread is cancelling with c */
	enum cancel_reason reason;  /* decided; NONE until then */
	bool cancelled;             /* the server was told */
	struct engine_cancel *c;
	const struct engine_cfg *ecfg;
	char env_id[ENV_ID_SIZE];
	int64_t deadline;
	int64_t looked_up;          /* mono_ms() of the last store lookup */
};

static pthread_mutex_t canceller_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t canceller_cond;    /* wakes the thread; disarm waits */
static struct slot *slots;
static int nslots;
static bool canceller_down;
static bool canceller_running;
static pthread_t canceller_thread;

/* Whether env_id is still wanted; true when it cannot be told (the
 * deadline still holds). */
static bool
still_wanted(struct store *st, const char *env_id)
{
	struct env e;
	bool wanted;
	int rc;

	rc = store_env_get(st, env_id, &e);
	wanted = rc != 0 || e.want_present;
	crypto_wipe(&e, sizeof(e));
	return wanted;
}

/* One look at every slot: decide, then cancel outside the lock (a cancel
 * may open a connection), with the slot marked busy so that its worker's
 * disarm waits for it. */
static void
canceller_pass(struct store *st)
{
	int i;

	for (i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];
		struct engine_cancel *c;
		const struct engine_cfg *ecfg;
		char env_id[ENV_ID_SIZE], err[512];
		bool check;
		int64_t now = mono_ms();

		pthread_mutex_lock(&canceller_lock);
		if (!s->armed || s->cancelled) {
			pthread_mutex_unlock(&canceller_lock);
			continue;
		}
		if (s->reason == CANCEL_NONE && now >= s->deadline)
			s->reason = CANCEL_TIMEOUT;
		check = s->reason == CANCEL_NONE &&
		    now - s->looked_up >= CANCELLER_LOOKUP_MS;
		str_copy(env_id, s->env_id, sizeof(env_id));
		pthread_mutex_unlock(&canceller_lock);

		if (check) {
			bool wanted = still_wanted(st, env_id);

			pthread_mutex_lock(&canceller_lock);
			s->looked_up = now;
			if (s->armed && !wanted && s->reason == CANCEL_NONE &&
			    strcmp(s->env_id, env_id) == 0)
				s->reason = CANCEL_UNWANTED;
			pthread_mutex_unlock(&canceller_lock);
		}

		pthread_mutex_lock(&canceller_lock);
		if (!s->armed || s->cancelled || s->reason == CANCEL_NONE) {
			pthread_mutex_unlock(&canceller_lock);
			continue;
		}
		s->busy = true;
		c = s->c;
		ecfg = s->ecfg;
		pthread_mutex_unlock(&canceller_lock);

		if (engine_cancel(c, ecfg, err, sizeof(err)) == ENGINE_OK) {
			log_info("env=%s: %s: running statement cancelled on "
			    "the server", env_id, s->reason == CANCEL_TIMEOUT ?
			    "migration_timeout passed" : "no longer wanted");
			pthread_mutex_lock(&canceller_lock);
			s->cancelled = true;
		} else {
			/* Tried again at the next pass. */
			log_warnx("env=%s: cannot cancel the running statement "
			    "yet: %s", env_id, err);
			pthread_mutex_lock(&canceller_lock);
		}
		s->busy = false;
		pthread_cond_broadcast(&canceller_cond);
		pthread_mutex_unlock(&canceller_lock);
	}
}

static void *
canceller_main(void *arg)
{
	struct store *st = arg;
	struct timespec ts;
	int64_t until;

	pthread_mutex_lock(&canceller_lock);
	while (!canceller_down) {
		pthread_mutex_unlock(&canceller_lock);
		canceller_pass(st);
		pthread_mutex_lock(&canceller_lock);
		if (canceller_down)
			break;
		until = mono_ms() + CANCELLER_PERIOD_MS;
		ts.tv_sec = until / 1000;
		ts.tv_nsec = (until % 1000) * 1000000;
		pthread_cond_timedwait(&canceller_cond, &canceller_lock, &ts);
	}
	pthread_mutex_unlock(&canceller_lock);
	store_close(st);
	return NULL;
}

int
canceller_start(const struct config *cfg, int n, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	struct store *st = NULL;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&canceller_cond, &attr);
	pthread_condattr_destroy(&attr);

	if ((slots = calloc((size_t)n, sizeof(*slots))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	nslots = n;
	canceller_down = false;
	if (store_open(cfg->server.state_path, &st, err, errlen) != 0)
		goto fail;
	if (pthread_create(&canceller_thread, NULL, canceller_main, st) != 0) {
		snprintf(err, errlen, "cannot start the canceller thread");
		store_close(st);
		goto fail;
	}
	canceller_running = true;
	return 0;
fail:
	free(slots);
	slots = NULL;
	nslots = 0;
	return -1;
}

void
canceller_stop(void)
{
	if (!canceller_running)
		return;
	pthread_mutex_lock(&canceller_lock);
	canceller_down = true;
	pthread_cond_broadcast(&canceller_cond);
	pthread_mutex_unlock(&canceller_lock);
	pthread_join(canceller_thread, NULL);
	canceller_running = false;
	free(slots);
	slots = NULL;
	nslots = 0;
}

void
canceller_arm(int slot, struct engine_cancel *c, const struct engine_cfg *ecfg,
    const char *env_id, int64_t deadline)
{
	struct slot *s;

	if (slot < 0 || slot >= nslots)
		return;
	s = &slots[slot];
	pthread_mutex_lock(&canceller_lock);
	s->armed = true;
	s->busy = false;
	s->reason = CANCEL_NONE;
	s->cancelled = false;
	s->c = c;
	s->ecfg = ecfg;
	str_copy(s->env_id, env_id, sizeof(s->env_id));
	s->deadline = deadline;
	s->looked_up = mono_ms();
	pthread_mutex_unlock(&canceller_lock);
}

enum cancel_reason
canceller_disarm(int slot)
{
	enum cancel_reason why;
	struct slot *s;

	if (slot < 0 || slot >= nslots)
		return CANCEL_NONE;
	s = &slots[slot];
	pthread_mutex_lock(&canceller_lock);
	while (s->busy)
		pthread_cond_wait(&canceller_cond, &canceller_lock);
	why = s->cancelled ? s->reason : CANCEL_NONE;
	s->armed = false;
	s->c = NULL;
	pthread_mutex_unlock(&canceller_lock);
	return why;
}
