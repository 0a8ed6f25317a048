/*
 * fault: parsing PREVIEWD_FAULTS and acting at the points.
 */
#include "lib/fault.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

static char *faults;    /* a private copy of PREVIEWD_FAULTS, or NULL */

/* How often each point was reached, for kill@N. */
static pthread_mutex_t hits_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[64];
	int64_t hits;
} hits[32];

static int64_t
hit(const char *name)
{
	int64_t n = 0;
	size_t i;

	pthread_mutex_lock(&hits_lock);
	for (i = 0; i < ARRAY_SIZE(hits); i++) {
		if (hits[i].name[0] == '\0')
			str_copy(hits[i].name, name, sizeof(hits[i].name));
		if (strcmp(hits[i].name, name) == 0) {
			n = ++hits[i].hits;
			break;
		}
	}
	pthread_mutex_unlock(&hits_lock);
	return n;
}

void
fault_init(void)
{
	const char *v = getenv("PREVIEWD_FAULTS");

	if (v != NULL && *v != '\0') {
		faults = strdup(v);
		log_warnx("fault injection is on: PREVIEWD_FAULTS=%s", v);
	}
}

/* The action configured for name, copied into action; 0 if found. */
static int
fault_lookup(const char *name, char *action, size_t size)
{
	size_t n = strlen(name);
	const char *p = faults;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			if (len - n - 1 >= size)
				return -1;
			memcpy(action, p + n + 1, len - n - 1);
			action[len - n - 1] = '\0';
			return 0;
		}
		p = end ? end + 1 : NULL;
	}
	return -1;
}

void
fault_point(const char *name)
{
	char action[512], reached[600];
	int64_t deadline;
	int fd;

	if (faults == NULL || fault_lookup(name, action, sizeof(action)) != 0)
		return;
	if (str_starts(action, "kill@")) {
		int64_t at;

		if (parse_int64(action + 5, 1, INT64_MAX, &at) != 0 ||
		    hit(name) != at)
			return;
		str_copy(action, "kill", sizeof(action));
	}
	log_warnx("fault point %s: %s", name, action);
	if (strcmp(action, "kill") == 0) {
		kill(getpid(), SIGKILL);
		pause();
	}
	if (strncmp(action, "wait:", 5) != 0)
		return;
	if (str_printf(reached, sizeof(reached), "%s.reached", action + 5) == 0 &&
	    (fd = open(reached, O_WRONLY | O_CREAT, 0600)) >= 0)
		close(fd);
	deadline = mono_ms() + 60000;
	while (access(action + 5, F_OK) != 0 && mono_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000000 };

		nanosleep(&ts, NULL);
	}
}
