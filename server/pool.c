/*
 * pool: refilling the warm pool.
 */
#include "server/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/fault.h"
#include "server/log.h"
#include "server/names.h"

#define POOL_MAX 100     /* the config's upper bound on pool_size */

struct pending {
	char names[POOL_MAX][NAMES_SIZE];
	int n;
};

static int
collect(const char *db, void *arg)
{
	struct pending *p = arg;

	if (p->n == POOL_MAX)
		return 1;
	str_copy(p->names[p->n++], db, NAMES_SIZE);
	return 0;
}

static enum job_result
pool_retry(struct job_outcome *o, const struct job *j, const char *engine,
    const char *err)
{
	o->retry_ms = jobs_backoff(j->attempts);
	snprintf(o->error, sizeof(o->error), "%s: %s", engine, err);
	return JOB_RETRY;
}

/* Create db on the server and mark it idle; the row already exists. */
static int
pool_create(struct worker *w, struct engine *eng, const char *db, char *err,
    size_t errlen)
{
	int rc;

	fault_point("pool.before_create");
	rc = engine_db_create(eng, db, err, errlen);
	if (rc != ENGINE_OK)
		return rc;
	fault_point("pool.after_create");
	if (store_pool_ready(w->store, eng->ops->name, db) != 0) {
		str_copy(err, "cannot record pool database", errlen);
		return ENGINE_RETRY;
	}
	log_info("pool database %s ready on %s", db, eng->ops->name);
	return ENGINE_OK;
}

enum job_result
pool_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	const struct engine_cfg *cfg = config_engine(w->cfg, j->target);
	struct engine *eng = worker_engine(w, j->target);
	struct pending *p = NULL;
	char err[512], db[NAMES_SIZE];
	int idle, creating, i, rc;
	enum job_result res = JOB_DONE;

	if (cfg == NULL || eng == NULL)
		return JOB_DONE;   /* the engine is no longer configured */
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return pool_retry(o, j, j->target, "out of memory");

	/* First finish what a crash interrupted. */
	if (store_pool_each_creating(w->store, j->target, collect, p) != 0) {
		res = pool_retry(o, j, j->target, "cannot read the pool");
		goto out;
	}
	for (i = 0; i < p->n; i++) {
		rc = pool_create(w, eng, p->names[i], err, sizeof(err));
		if (rc != ENGINE_OK) {
			res = pool_retry(o, j, j->target, err);
			goto out;
		}
	}

	for (;;) {
		if (jobs_stopping()) {
			o->retry_ms = 0;
			str_copy(o->error, "shutting down", sizeof(o->error));
			res = JOB_RETRY;
			goto out;
		}
		if (store_pool_counts(w->store, j->target, &idle, &creating) != 0) {
			res = pool_retry(o, j, j->target, "cannot count the pool");
			goto out;
		}
		if (idle + creating >= cfg->pool_size)
			break;
		if (names_pool(db) != 0 ||
		    store_pool_add(w->store, j->target, db) != 0) {
			res = pool_retry(o, j, j->target,
			    "cannot record pool database");
			goto out;
		}
		rc = pool_create(w, eng, db, err, sizeof(err));
		if (rc != ENGINE_OK) {
			/* The row stays "creating": the next run finishes it
			 * (or the orphan sweep removes a half-made one). */
			res = pool_retry(o, j, j->target, err);
			goto out;
		}
	}
out:
	free(p);
	return res;
}
