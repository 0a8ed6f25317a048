/*
 * sweep: finding and dropping orphans, a page of names at a time.
 */
#include "reaper/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "lib/log.h"
#include "lib/names.h"

/* Names read from a server at a time: one range scan of its catalog and
 * one state transaction a page, however many objects the server holds
 * (a fleet's server may hold tens of thousands). */
#define SWEEP_PAGE 1000
/* Orphans whose drop is tried in one pass: a drop is a catalog write and
 * a DROP DATABASE removes files, so a mass of orphans (a state file
 * restored from an old backup) must not hold a worker for minutes; the
 * rest go in the passes after. */
#define SWEEP_DROPS 100
/* Databases measured in one pass, the least recently measured first:
 * pg_database_size walks a database's files, about a millisecond each,
 * and measuring them all held a worker 2.6 s at 3,000. */
#define SWEEP_SIZES 100
/* New orphans named in the log in one pass; the rest are counted. */
#define SWEEP_NAMED 20

/* A growable list of names; sorted where it is searched. */
struct names {
	char (*v)[NAMES_SIZE];
	size_t n, cap;
	bool nomem;
};

static int
names_add(const char *name, void *arg)
{
	struct names *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *v = realloc(l->v, cap * sizeof(*l->v));

		if (v == NULL) {
			l->nomem = true;
			return 1;
		}
		l->v = v;
		l->cap = cap;
	}
	str_copy(l->v[l->n++], name, NAMES_SIZE);
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The index of name in sorted l, or -1. */
static ssize_t
names_find(const struct names *l, const char *name)
{
	char (*m)[NAMES_SIZE];

	/* v is NULL while l is empty: bsearch wants an array even for zero
	 * elements. */
	if (l->n == 0 || (m = bsearch(name, l->v, l->n, sizeof(*l->v),
	    cmp_name)) == NULL)
		return -1;
	return m - l->v;
}

/* One sweep of one server. */
struct pass {
	struct worker *w;
	struct engine *eng;
	const char *engine;
	int64_t now;
	struct names idle;      /* idle pool members before the listing */
	bool *idle_seen;        /* ... and whether the listing had each */
	struct names page;      /* a page of the server's names */
	struct names known;     /* the state's names in the page's range */
	const char *unknown[SWEEP_PAGE];
	int64_t first[SWEEP_PAGE];
	bool failed_before[SWEEP_PAGE];
	size_t listed[2];       /* databases, roles */
	int tried, dropped, deferred, named, unnamed;
};

static int
on_pool(const char *db, const char *state, void *arg)
{
	return strcmp(state, "idle") == 0 ? names_add(db, arg) : 0;
}

static void
sweep_orphan(struct pass *p, bool role, const char *name, int64_t first,
    bool failed_before)
{
	const char *kind = role ? "role" : "database";
	int64_t grace = p->w->cfg->reaper.orphan_grace;
	char err[512];
	bool news = false;

	if (p->now - first < grace) {
		if (first != p->now)
			return;
		if (p->named++ < SWEEP_NAMED)
			log_info("%s %s on %s is unknown to previewd: dropping "
			    "it if it still is in %llds", kind, name, p->engine,
			    (long long)grace);
		else
			p->unnamed++;
		return;
	}
	/* A role may own a database this pass left for the next: its drop
	 * would fail for that alone. A drop refused before (not previewd's
	 * to drop) is quick and does not count, or a few of them would
	 * stop every other drop for good. */
	if ((role && p->deferred > 0) || (!failed_before &&
	    p->tried >= SWEEP_DROPS)) {
		p->deferred++;
		return;
	}
	if (!failed_before)
		p->tried++;
	if (engine_drop_orphan(p->eng, role, name, err, sizeof(err)) ==
	    ENGINE_OK) {
		log_warnx("orphan %s %s dropped from %s (unknown to previewd "
		    "for %llds)", kind, name, p->engine,
		    (long long)(p->now - first));
		p->dropped++;
		metrics_orphan_dropped(p->engine);
		if (store_orphan_forget(p->w->store, p->engine, role, name) != 0)
			log_warnx("sweep of %s: cannot forget orphan %s %s",
			    p->engine, kind, name);
		return;
	}
	/* Often a permission: an object a superuser made is not previewd's
	 * to drop. Said once, tried on. */
	if (store_orphan_drop_failed(p->w->store, p->engine, role, name,
	    &news) != 0 || news)
		log_warnx("cannot drop orphan %s %s on %s: %s (drop or rename it "
		    "by hand; previewd keeps trying quietly)", kind, name,
		    p->engine, err);
}

/* One page: the server's names after `after`, then the state's names in
 * the same range (read after the page: see store_known_names), merged.
 * *last: where the next page starts, "" after the last. 0, or -1 with o
 * filled in. */
static int
sweep_page(struct pass *p, const struct job *j, bool role, const char *after,
    char last[ENGINE_LIST_NAME], struct job_outcome *o)
{
	char err[512];
	size_t i, nu = 0;
	ssize_t k;
	int rc;

	p->page.n = p->known.n = 0;
	rc = engine_list(p->eng, role, after, SWEEP_PAGE, names_add, &p->page,
	    last, err, sizeof(err));
	if (rc != ENGINE_OK) {
		o->retry_ms = jobs_backoff(j->attempts);
		snprintf(o->error, sizeof(o->error), "cannot list %s: %s",
		    p->engine, err);
		return -1;
	}
	if (last[0] != '\0' && (p->page.nomem || store_known_names(
	    p->w->store, p->engine, after, last, names_add, &p->known) != 0 ||
	    p->known.nomem)) {
		o->retry_ms = 60000;
		str_copy(o->error, "cannot compare the server with the state",
		    sizeof(o->error));
		return -1;
	}
	for (i = 0; i < p->page.n && nu < SWEEP_PAGE; i++) {
		if (!role && (k = names_find(&p->idle, p->page.v[i])) >= 0)
			p->idle_seen[k] = true;
		if (names_find(&p->known, p->page.v[i]) < 0)
			p->unknown[nu++] = p->page.v[i];
	}
	p->listed[role] += p->page.n;
	if (store_orphans_seen(p->w->store, p->engine, role, p->unknown, nu,
	    p->now, p->first, p->failed_before) != 0) {
		o->retry_ms = 60000;
		str_copy(o->error, "cannot record orphans in the state",
		    sizeof(o->error));
		return -1;
	}
	for (i = 0; i < nu; i++)
		sweep_orphan(p, role, p->unknown[i], p->first[i],
		    p->failed_before[i]);
	return 0;
}

/* Idle pool members the listing did not have: dropped by hand, or a
 * restored server. (A member made after the pool was read is not among
 * them; a claimed one is marked claimed before it is renamed.) */
static void
forget_vanished(struct pass *p)
{
	size_t i;
	int forgot, gone = 0;

	for (i = 0; i < p->idle.n; i++) {
		if (p->idle_seen[i])
			continue;
		forgot = store_pool_forget_idle(p->w->store, p->engine,
		    p->idle.v[i]);
		if (forgot == 0) {
			log_warnx("pool database %s is gone from %s: forgotten",
			    p->idle.v[i], p->engine);
			gone++;
		} else if (forgot < 0) {
			log_warnx("pool database %s is gone from %s, and cannot "
			    "be forgotten now", p->idle.v[i], p->engine);
		}
	}
	if (gone > 0 && store_job_enqueue(p->w->store, "pool", p->engine,
	    0) == 0)
		jobs_notify();
}

struct sizes_ctx {
	const char *const *dbs;
	int64_t *bytes;
	size_t n;
};

static int
on_size(const char *db, int64_t bytes, void *arg)
{
	struct sizes_ctx *c = arg;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->dbs[i], db) == 0)
			c->bytes[i] = bytes;
	return 0;
}

/* The admin page shows each environment's size as of its last
 * measurement: a few a pass, the oldest first, never one per page view.
 * Returns how many were measured. */
static size_t
measure_sizes(struct pass *p)
{
	struct names due = { NULL, 0, 0, false };
	const char *dbs[SWEEP_SIZES];
	int64_t bytes[SWEEP_SIZES];
	struct sizes_ctx c = { dbs, bytes, 0 };
	char err[512];

	if (store_sizes_due(p->w->store, p->engine, SWEEP_SIZES, names_add,
	    &due) != 0 || due.nomem)
		goto out;
	for (c.n = 0; c.n < due.n && c.n < SWEEP_SIZES; c.n++) {
		dbs[c.n] = due.v[c.n];
		bytes[c.n] = -1;
	}
	if (engine_sizes(p->eng, dbs, c.n, on_size, &c, err, sizeof(err)) !=
	    ENGINE_OK) {
		log_warnx("sweep of %s: cannot measure database sizes: %s",
		    p->engine, err);
		c.n = 0;
		goto out;
	}
	if (store_sizes_record(p->w->store, p->engine, dbs, bytes, c.n,
	    p->now) != 0)
		log_warnx("sweep of %s: cannot record database sizes",
		    p->engine);
out:
	free(due.v);
	return c.n;
}

enum job_result
sweep_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	struct pass *p = NULL;
	char after[ENGINE_LIST_NAME], last[ENGINE_LIST_NAME];
	enum job_result res = JOB_RETRY;
	int64_t started = mono_ms(), took;
	size_t measured;
	int role;

	if (worker_engine(w, j->target) == NULL)
		return JOB_DONE;   /* the engine is no longer configured */
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		o->retry_ms = 60000;
		str_copy(o->error, "out of memory", sizeof(o->error));
		goto out;
	}
	p->w = w;
	p->eng = worker_engine(w, j->target);
	p->engine = j->target;
	p->now = now_s();
	/* The pool as the state has it, then the server, then the state's
	 * names: what previewd makes in between is known by the time it is
	 * compared, and not yet in the pool snapshot. */
	if (store_pool_each(w->store, j->target, on_pool, &p->idle) != 0 ||
	    p->idle.nomem)
		p->idle.n = 0;      /* nothing is taken for vanished */
	if (p->idle.n > 1)
		qsort(p->idle.v, p->idle.n, sizeof(*p->idle.v), cmp_name);
	if ((p->idle_seen = calloc(p->idle.n + 1, sizeof(bool))) == NULL) {
		o->retry_ms = 60000;
		str_copy(o->error, "out of memory", sizeof(o->error));
		goto out;
	}
	/* Databases first: a role that owns a database cannot be dropped
	 * before it. */
	for (role = 0; role < 2; role++) {
		after[0] = '\0';
		do {
			if (sweep_page(p, j, role, after, last, o) != 0)
				goto out;
			str_copy(after, last, sizeof(after));
		} while (last[0] != '\0');
	}
	/* The whole server was listed: a remembered orphan not seen in it is
	 * gone, or known now. */
	if (store_orphans_forget_unseen(w->store, j->target, p->now) != 0)
		log_warnx("sweep of %s: cannot update the orphan list",
		    j->target);
	forget_vanished(p);
	if (p->unnamed > 0)
		log_info("sweep of %s: %d more objects unknown to previewd, "
		    "dropped if they still are in %llds", j->target, p->unnamed,
		    (long long)w->cfg->reaper.orphan_grace);
	if (p->dropped > 0 || p->deferred > 0)
		log_info("sweep of %s: %d orphans dropped, %d left for the next "
		    "pass", j->target, p->dropped, p->deferred);
	measured = measure_sizes(p);
	took = mono_ms() - started;
	/* A pass holds a worker: say so when it is long. */
	if (took >= 1000)
		log_info("sweep of %s: %zu databases and %zu roles listed, %zu "
		    "sizes measured, in %lld ms", j->target, p->listed[0],
		    p->listed[1], measured, (long long)took);
	else
		log_debug("sweep of %s: %zu databases and %zu roles listed, %zu "
		    "sizes measured, in %lld ms", j->target, p->listed[0],
		    p->listed[1], measured, (long long)took);
	res = JOB_DONE;
out:
	if (p != NULL) {
		free(p->idle.v);
		free(p->idle_seen);
		free(p->page.v);
		free(p->known.v);
	}
	free(p);
	return res;
}
