/*
 * reconcile: environments whose pull request closed without a webhook.
 */
#include "reaper/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forges/github.h"
#include "forges/gitlab.h"
#include "lib/log.h"
#include "core/metrics.h"


struct target {
	char provider[16], repo[ENV_REPO_SIZE], api[ENV_REPO_SIZE];
	int64_t installation;
	bool found;
};

static int
on_target(const char *provider, const char *repo, const char *api,
    int64_t installation, void *arg)
{
	struct target *t = arg;

	if (strcmp(t->provider, provider) != 0 || strcmp(t->repo, repo) != 0)
		return 0;
	str_copy(t->api, api[0] ? api : repo, sizeof(t->api));
	t->installation = installation;
	t->found = true;
	return 1;
}

struct closed {
	const struct forge_open *open;
	int64_t before;
	char ids[256][ENV_ID_SIZE];
	int n;
	int deferred;          /* closed, but within the grace */
};

static int
on_env(const char *id, int64_t number, int64_t activity_at, void *arg)
{
	struct closed *c = arg;
	int i;

	for (i = 0; i < c->open->n; i++)
		if (c->open->numbers[i] == number)
			return 0;
	if (activity_at >= c->before || c->n == (int)ARRAY_SIZE(c->ids))
		c->deferred++;
	else
		str_copy(c->ids[c->n++], id, ENV_ID_SIZE);
	return 0;
}

enum job_result
reconcile_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	struct target t;
	struct forge_call call;
	struct forge_open *open = NULL;
	struct closed *closed = NULL;
	const char *colon = strchr(j->target, ':');
	bool gitlab;
	enum forge_rc rc;
	enum job_result res = JOB_DONE;
	int64_t started = now_s();
	char reason[128];
	int i;

	memset(&t, 0, sizeof(t));
	if (colon == NULL || (size_t)(colon - j->target) >= sizeof(t.provider))
		return JOB_DONE;
	memcpy(t.provider, j->target, (size_t)(colon - j->target));
	str_copy(t.repo, colon + 1, sizeof(t.repo));
	gitlab = strcmp(t.provider, "gitlab") == 0;
	if (store_reconcile_targets(w->store, on_target, &t) != 0 || !t.found)
		return JOB_DONE;      /* nothing open there any more */
	if ((open = calloc(1, sizeof(*open))) == NULL ||
	    (closed = calloc(1, sizeof(*closed))) == NULL)
		goto out;

	memset(&call, 0, sizeof(call));
	call.http = worker_http(w);
	call.cfg = w->cfg;
	call.attempts = j->attempts;
	call.installation = t.installation;
	if (call.http == NULL)
		goto out;
	if (!gitlab && store_reconcile_etag(w->store, j->target, open->etag,
	    sizeof(open->etag)) != 0)
		open->etag[0] = '\0';
	rc = gitlab ? gitlab_open_merge_requests(&call, t.api, open) :
	    github_open_pulls(&call, t.api, open);
	if (rc == FORGE_RETRY) {
		o->retry_ms = call.retry_ms;
		str_copy(o->error, call.error, sizeof(o->error));
		res = JOB_RETRY;
		goto out;
	}
	if (rc != FORGE_OK) {
		log_warnx("reconcile %s: %s", j->target, call.error);
		goto out;
	}
	/* An unchanged list was acted on when it was last fetched; a list
	 * cut short cannot prove a pull request closed. */
	if (open->unchanged || !open->complete)
		goto out;
	closed->open = open;
	/* A list can lag a pull request opened moments ago, and a close
	 * webhook may still be on its way: act only on environments quiet
	 * for the orphan grace. */
	closed->before = started - w->cfg->reaper.orphan_grace;
	if (store_env_each_open(w->store, t.provider, t.repo, on_env,
	    closed) != 0)
		goto out;
	snprintf(reason, sizeof(reason), "closed on %s (no close webhook "
	    "arrived; found by the reconciliation)", gitlab ? "GitLab" :
	    "GitHub");
	for (i = 0; i < closed->n; i++) {
		if (store_env_request_delete(w->store, closed->ids[i],
		    reason) == 0) {
			log_warnx("environment %s of %s: the pull request is no "
			    "longer open: deleting", closed->ids[i], t.repo);
			metrics_deletion("reconcile");
			jobs_notify();
		}
	}
	/* The ETag stands for "everything on this list was acted on": not
	 * while a decision waits for the grace, or a 304 would hide it. */
	if (closed->deferred > 0)
		open->etag[0] = '\0';
	if (!gitlab && store_reconcile_set_etag(w->store, j->target,
	    open->etag) != 0)
		log_warnx("reconcile %s: cannot record the list's ETag",
		    j->target);
out:
	free(open);
	free(closed);
	return res;
}
