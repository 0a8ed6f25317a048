/*
 * sweep: finding and dropping orphans.
 */
#include "reaper/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "core/metrics.h"
#include "lib/names.h"

#define MAX_OBJECTS 20000

struct object {
	char name[NAMES_SIZE];
	bool role;
};

struct objects {
	struct object *v;
	size_t n, cap;
	bool full;
};

static int
on_object(bool role, const char *name, void *arg)
{
	struct objects *o = arg;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 256;
		struct object *v;

		if (cap > MAX_OBJECTS || (v = realloc(o->v, cap *
		    sizeof(*v))) == NULL) {
			o->full = true;
			return 1;
		}
		o->v = v;
		o->cap = cap;
	}
	str_copy(o->v[o->n].name, name, NAMES_SIZE);
	o->v[o->n++].role = role;
	return 0;
}

struct names_set {
	char (*v)[NAMES_SIZE];
	size_t n, cap;
	bool full;
};

static int
on_known(const char *name, void *arg)
{
	struct names_set *k = arg;

	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 256;
		void *v;

		if (cap > MAX_OBJECTS || (v = realloc(k->v, cap *
		    sizeof(*k->v))) == NULL) {
			k->full = true;
			return 1;
		}
		k->v = v;
		k->cap = cap;
	}
	str_copy(k->v[k->n++], name, NAMES_SIZE);
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool
known(const struct names_set *k, const char *name)
{
	/* v is NULL while nothing is known: bsearch and qsort want an
	 * array even for zero elements. */
	return k->n > 0 && bsearch(name, k->v, k->n, sizeof(*k->v), cmp_name) !=
	    NULL;
}

static bool
on_server(const struct objects *o, const char *name, bool role)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (o->v[i].role == role && strcmp(o->v[i].name, name) == 0)
			return true;
	return false;
}

struct keep_ctx {
	const struct objects *server;
	const struct names_set *known;
};

/* A remembered orphan stays remembered while it is on the server and
 * still unknown. */
static bool
keep_orphan(bool role, const char *name, void *arg)
{
	struct keep_ctx *c = arg;

	return on_server(c->server, name, role) && !known(c->known, name);
}

/* The idle pool members as the state had them before the server was
 * listed: one of them missing from that listing is really gone (a
 * member made after the snapshot is not in it; a claimed one is marked
 * claimed before it is renamed). */
struct pool_check {
	char idle[128][NAMES_SIZE];
	int nidle;
};

static int
on_pool(const char *db, const char *state, void *arg)
{
	struct pool_check *p = arg;

	if (strcmp(state, "idle") == 0 && p->nidle < (int)ARRAY_SIZE(p->idle))
		str_copy(p->idle[p->nidle++], db, NAMES_SIZE);
	return 0;
}

/* Databases first: a role that owns a database cannot be dropped before
 * it. */
static int
dbs_first(const void *a, const void *b)
{
	return (int)((const struct object *)a)->role -
	    (int)((const struct object *)b)->role;
}

struct sizes_ctx {
	struct store *st;
	const char *engine;
};

static int
on_size(const char *db, int64_t bytes, void *arg)
{
	struct sizes_ctx *c = arg;

	return store_env_set_size(c->st, c->engine, db, bytes) == 0 ? 0 : 1;
}

/* The admin page shows each environment's size as of the last sweep: one
 * query per server per pass, never one per page view. */
static void
measure_sizes(struct worker *w, struct engine *eng, const char *engine)
{
	struct sizes_ctx c = { w->store, engine };
	char err[512];

	if (engine_sizes(eng, on_size, &c, err, sizeof(err)) != ENGINE_OK)
		log_warnx("sweep of %s: cannot measure database sizes: %s",
		    engine, err);
}

enum job_result
sweep_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	struct engine *eng = worker_engine(w, j->target);
	struct objects server = { NULL, 0, 0, false };
	struct names_set kn = { NULL, 0, 0, false };
	struct pool_check *pool = NULL;
	struct keep_ctx keep;
	char err[512];
	int64_t now = now_s(), first;
	enum job_result res = JOB_DONE;
	size_t i;
	int rc, dropped = 0, gone = 0;

	if (eng == NULL)
		return JOB_DONE;   /* the engine is no longer configured */
	/* The pool as the state has it, then the server, then the state's
	 * names: what previewd makes in between is known by the time it is
	 * compared, and not yet in the pool snapshot. */
	if ((pool = calloc(1, sizeof(*pool))) != NULL &&
	    store_pool_each(w->store, j->target, on_pool, pool) != 0)
		pool->nidle = 0;
	rc = engine_list(eng, on_object, &server, err, sizeof(err));
	if (rc != ENGINE_OK) {
		o->retry_ms = jobs_backoff(j->attempts);
		snprintf(o->error, sizeof(o->error), "cannot list %s: %s",
		    j->target, err);
		res = JOB_RETRY;
		goto out;
	}
	if (store_known_names(w->store, j->target, on_known, &kn) != 0 ||
	    server.full || kn.full) {
		o->retry_ms = 60000;
		str_copy(o->error, "cannot compare the server with the state",
		    sizeof(o->error));
		res = JOB_RETRY;
		goto out;
	}
	if (kn.n > 1)
		qsort(kn.v, kn.n, sizeof(*kn.v), cmp_name);
	if (server.n > 1)
		qsort(server.v, server.n, sizeof(*server.v), dbs_first);

	/* Pool members that vanished (dropped by hand, a restored server). */
	for (rc = 0; pool != NULL && rc < pool->nidle; rc++) {
		int forgot;

		if (on_server(&server, pool->idle[rc], false))
			continue;
		forgot = store_pool_forget_idle(w->store, j->target,
		    pool->idle[rc]);
		if (forgot == 0) {
			log_warnx("pool database %s is gone from %s: "
			    "forgotten", pool->idle[rc], j->target);
			gone++;
		} else if (forgot < 0) {
			log_warnx("pool database %s is gone from %s, and "
			    "cannot be forgotten now", pool->idle[rc],
			    j->target);
		}
	}
	if (gone > 0 && store_job_enqueue(w->store, "pool", j->target, 0) == 0)
		jobs_notify();

	for (i = 0; i < server.n; i++) {
		const struct object *obj = &server.v[i];

		if (known(&kn, obj->name))
			continue;
		if (store_orphan_seen(w->store, j->target, obj->role, obj->name,
		    now, &first) != 0)
			continue;
		if (now - first < w->cfg->reaper.orphan_grace) {
			if (first == now)
				log_info("%s %s on %s is unknown to previewd: "
				    "dropping it if it still is in %llds",
				    obj->role ? "role" : "database", obj->name,
				    j->target,
				    (long long)w->cfg->reaper.orphan_grace);
			continue;
		}
		rc = engine_drop_orphan(eng, obj->role, obj->name, err,
		    sizeof(err));
		if (rc == ENGINE_OK) {
			log_warnx("orphan %s %s dropped from %s (unknown to "
			    "previewd for %llds)", obj->role ? "role" :
			    "database", obj->name, j->target,
			    (long long)(now - first));
			dropped++;
			metrics_orphan_dropped(j->target);
			server.v[i].name[0] = '\0';   /* no longer there */
		} else {
			bool news = false;

			/* Often a permission: an object a superuser made is
			 * not previewd's to drop. Said once, tried on. */
			if (store_orphan_drop_failed(w->store, j->target,
			    obj->role, obj->name, &news) != 0 || news)
				log_warnx("cannot drop orphan %s %s on %s: %s "
				    "(drop or rename it by hand; previewd keeps "
				    "trying quietly)", obj->role ? "role" :
				    "database", obj->name, j->target, err);
		}
	}
	keep.server = &server;
	keep.known = &kn;
	if (store_orphans_keep(w->store, j->target, keep_orphan, &keep) != 0)
		log_warnx("sweep of %s: cannot update the orphan list",
		    j->target);
	if (dropped > 0)
		log_info("sweep of %s: %d orphans dropped", j->target, dropped);
	measure_sizes(w, eng, j->target);
out:
	free(pool);
	free(server.v);
	free(kn.v);
	return res;
}
