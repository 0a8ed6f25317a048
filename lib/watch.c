/*
 * watch: a generation counter under a mutex and a monotonic condvar.
 */
#include "lib/watch.h"

#include <pthread.h>
#include <time.h>

#include "lib/util.h"

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond;
static uint64_t watch_gen;
static bool watch_down;

void
watch_init(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&watch_cond, &attr);
	pthread_condattr_destroy(&attr);
}

uint64_t
watch_generation(void)
{
	uint64_t g;

	pthread_mutex_lock(&watch_lock);
	g = watch_gen;
	pthread_mutex_unlock(&watch_lock);
	return g;
}

void
watch_bump(void)
{
	pthread_mutex_lock(&watch_lock);
	watch_gen++;
	pthread_cond_broadcast(&watch_cond);
	pthread_mutex_unlock(&watch_lock);
}

uint64_t
watch_wait(uint64_t seen, int64_t deadline)
{
	struct timespec ts;
	uint64_t g;

	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (deadline % 1000) * 1000000;
	pthread_mutex_lock(&watch_lock);
	while (watch_gen == seen && !watch_down && mono_ms() < deadline)
		if (pthread_cond_timedwait(&watch_cond, &watch_lock, &ts) != 0)
			break;
	g = watch_gen;
	pthread_mutex_unlock(&watch_lock);
	return g;
}

void
watch_shutdown(void)
{
	pthread_mutex_lock(&watch_lock);
	watch_down = true;
	pthread_cond_broadcast(&watch_cond);
	pthread_mutex_unlock(&watch_lock);
}

bool
watch_stopping(void)
{
	bool down;

	pthread_mutex_lock(&watch_lock);
	down = watch_down;
	pthread_mutex_unlock(&watch_lock);
	return down;
}
