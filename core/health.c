/*
 * health: the checker thread and the state it keeps.
 */
#include "core/health.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/pooler.h"
#include "engines/engine.h"
#include "lib/log.h"
#include "store/store.h"

#define ENGINES 3     /* at most this many engines are checked */

static pthread_t health_thread;
static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t health_cond;
static bool health_down, health_running;
static const struct config *health_cfg;

/* One thing previewd depends on, as last seen. */
struct component {
	const char *name;
	const char *kind;           /* "state", "engine", "forge" */
	bool configured;            /* engines: at the last check */
	bool known;                 /* checked (or called) at least once */
	bool up;
	char error[512];            /* scrubbed; "" when up */
	int64_t since;              /* when up last changed */
	int64_t checked_at;
};

/* All under health_lock. */
static struct component state_c = { "state", "state", true, false, false,
    "", 0, 0 };
static struct component engine_c[ENGINES];
static struct component forge_c[] = {
	{ "github", "forge", true, false, true, "", 0, 0 },
	{ "gitlab", "forge", true, false, true, "", 0, 0 },
	{ "vercel", "forge", true, false, true, "", 0, 0 },
};
static struct component pooler_c = { "pgbouncer", "pooler", false, false,
    false, "", 0, 0 };
static int64_t checked_at;

/* Note what a check or a call saw; a change of state is logged once. */
static void
record(struct component *c, bool up, const char *error)
{
	bool changed;

	pthread_mutex_lock(&health_lock);
	changed = c->known ? c->up != up : !up;
	if (!c->known || c->up != up)
		c->since = now_s();
	c->known = true;
	c->up = up;
	str_copy(c->error, up ? "" : error, sizeof(c->error));
	c->checked_at = now_s();
	pthread_mutex_unlock(&health_lock);
	/* error is scrubbed already; the log scrubs again all the same. */
	if (changed && up)
		log_info("health: %s %s answers again", c->kind, c->name);
	else if (changed)
		log_warnx("health: %s %s does not answer: %s", c->kind, c->name,
		    error);
}

static void
check_once(struct store **st, struct engine **engines)
{
	const struct config *cfg = config_current() ? config_current() :
	    health_cfg;
	char err[512];
	size_t i;

	if (*st == NULL && store_open(cfg->server.state_path, st, err,
	    sizeof(err)) != 0)
		*st = NULL;
	if (*st != NULL && store_ping(*st) == 0) {
		record(&state_c, true, "");
	} else {
		record(&state_c, false, "the state file does not answer");
		/* Reopened at the next check: the file may have been moved
		 * or its disk remounted. */
		store_close(*st);
		*st = NULL;
	}
	for (i = 0; i < ENGINES; i++) {
		const struct engine_ops *ops = engine_at(i);
		const struct engine_cfg *ecfg = ops ? config_engine(cfg,
		    ops->name) : NULL;

		pthread_mutex_lock(&health_lock);
		engine_c[i].name = ops ? ops->name : NULL;
		engine_c[i].kind = "engine";
		engine_c[i].configured = ecfg != NULL;
		pthread_mutex_unlock(&health_lock);
		if (ecfg == NULL)
			continue;
		/* A reload may have changed the server: a fresh handle. */
		if (engines[i] != NULL && engines[i]->cfg != ecfg) {
			engine_free(engines[i]);
			engines[i] = NULL;
		}
		if (engines[i] == NULL)
			engines[i] = engine_new(ops, ecfg);
		/* engine.c scrubs err (lib/scrub.h). */
		if (engines[i] != NULL && engine_ping(engines[i], err,
		    sizeof(err)) == ENGINE_OK)
			record(&engine_c[i], true, "");
		else
			record(&engine_c[i], false, engines[i] ? err :
			    "out of memory");
	}
	{
		bool configured, up;

		/* pgbouncer is looked at by its own thread (core/pooler.c). */
		pooler_health(&configured, &up, err, sizeof(err));
		pthread_mutex_lock(&health_lock);
		pooler_c.configured = configured;
		pthread_mutex_unlock(&health_lock);
		if (configured)
			record(&pooler_c, up, err);
	}
	pthread_mutex_lock(&health_lock);
	checked_at = now_s();
	pthread_mutex_unlock(&health_lock);
}

static void *
health_main(void *arg)
{
	struct engine *engines[ENGINES] = { NULL };
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
	for (i = 0; i < ENGINES; i++)
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

static void
add_time(cJSON *o, const char *key, int64_t t)
{
	char ts[RFC3339_LEN];

	if (t <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	time_rfc3339(t, ts);
	cJSON_AddStringToObject(o, key, ts);
}

static bool
forge_configured(const struct config *cfg, const char *name)
{
	if (cfg == NULL)
		return false;
	if (strcmp(name, "github") == 0)
		return cfg->github.configured;
	if (strcmp(name, "gitlab") == 0)
		return cfg->gitlab.configured;
	return cfg->vercel.configured;
}

/* Caller holds health_lock. A forge not called yet counts as up: nothing
 * says otherwise. */
static void
add_component(cJSON *checks, cJSON *list, const struct component *c)
{
	bool up = c->known ? c->up : strcmp(c->kind, "forge") == 0;
	cJSON *o;

	if (checks != NULL)
		cJSON_AddStringToObject(checks, c->name, up ? "ok" : "down");
	if (list == NULL || (o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "name", c->name);
	cJSON_AddStringToObject(o, "kind", c->kind);
	cJSON_AddStringToObject(o, "state", up ? "ok" : "down");
	if (up || c->error[0] == '\0')
		cJSON_AddNullToObject(o, "error");
	else
		cJSON_AddStringToObject(o, "error", c->error);
	add_time(o, "since", c->since);
	add_time(o, "checked_at", c->checked_at);
	cJSON_AddItemToArray(list, o);
}

cJSON *
health_json(bool detail, bool *ready)
{
	const struct config *cfg = config_current() ? config_current() :
	    health_cfg;
	cJSON *root = cJSON_CreateObject(), *checks, *list = NULL;
	size_t i;

	*ready = false;
	if (root == NULL)
		return NULL;
	pthread_mutex_lock(&health_lock);
	/* Before the first check nothing is known: not ready. */
	*ready = state_c.known && state_c.up;
	cJSON_AddBoolToObject(root, "ready", *ready);
	add_time(root, "checked_at", checked_at);
	checks = cJSON_AddObjectToObject(root, "checks");
	if (detail)
		list = cJSON_AddArrayToObject(root, "components");
	add_component(checks, list, &state_c);
	for (i = 0; i < ENGINES; i++)
		if (engine_c[i].name != NULL && engine_c[i].configured)
			add_component(checks, list, &engine_c[i]);
	if (pooler_c.configured && pooler_c.known)
		add_component(checks, list, &pooler_c);
	for (i = 0; detail && i < ARRAY_SIZE(forge_c); i++)
		if (forge_configured(cfg, forge_c[i].name))
			add_component(NULL, list, &forge_c[i]);
	pthread_mutex_unlock(&health_lock);
	if (detail) {
		cJSON *p = pooler_json();   /* NULL when pgbouncer is off */

		if (p != NULL)
			cJSON_AddItemToObject(root, "pgbouncer", p);
	}
	return root;
}

bool
health_engine_ok(const char *engine)
{
	bool ok = false;
	size_t i;

	pthread_mutex_lock(&health_lock);
	for (i = 0; i < ENGINES; i++)
		if (engine_c[i].name != NULL &&
		    strcmp(engine_c[i].name, engine) == 0)
			ok = engine_c[i].known && engine_c[i].up;
	pthread_mutex_unlock(&health_lock);
	return ok;
}

static struct component *
forge_find(const char *forge)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(forge_c); i++)
		if (strcmp(forge_c[i].name, forge) == 0)
			return &forge_c[i];
	return NULL;
}

void
health_forge_seen(const char *forge, bool up, const char *reason)
{
	struct component *c = forge_find(forge);

	if (c != NULL)
		record(c, up, reason);
}

bool
health_forge_ok(const char *forge)
{
	struct component *c = forge_find(forge);
	bool ok = true;

	if (c == NULL)
		return false;
	pthread_mutex_lock(&health_lock);
	if (c->known)
		ok = c->up;
	pthread_mutex_unlock(&health_lock);
	return ok;
}
