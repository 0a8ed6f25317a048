/*
 * base_head: the default branch's head of prewarmed repositories, asked
 * of the forges.
 */
#include "core/base_head.h"

#include <stdio.h>
#include <string.h>

#include "forges/github.h"
#include "forges/gitlab.h"
#include "lib/log.h"

static const char *const providers[] = { "github", "gitlab" };

static bool
forge_configured(const struct config *cfg, const char *provider)
{
	return strcmp(provider, "gitlab") == 0 ? cfg->gitlab.configured :
	    cfg->github.configured;
}

int
base_head_enqueue(const struct config *cfg, struct store *st)
{
	char target[ENV_REPO_SIZE + 16];
	size_t i, p;
	int n = 0;

	for (i = 0; i < cfg->nrepos; i++) {
		const struct repo_cfg *r = &cfg->repos[i];

		if (strcmp(r->prewarm, "base") != 0 ||
		    strchr(r->pattern, '*') != NULL)
			continue;
		/* One name may be a repository on either forge: the one
		 * that does not have it answers 404. */
		for (p = 0; p < ARRAY_SIZE(providers); p++) {
			if (!forge_configured(cfg, providers[p]))
				continue;
			if (str_printf(target, sizeof(target), "%s:%s",
			    providers[p], r->pattern) != 0 ||
			    store_job_enqueue(st, "base_head", target, 0) != 0)
				return -1;
			n++;
		}
	}
	return n;
}

int
base_target_split(const char *target, char provider[16],
    char repo[ENV_REPO_SIZE])
{
	const char *colon = strchr(target, ':');

	if (colon == NULL || colon == target || colon - target >= 16 ||
	    colon[1] == '\0')
		return -1;
	memcpy(provider, target, (size_t)(colon - target));
	provider[colon - target] = '\0';
	return str_copy(repo, colon + 1, ENV_REPO_SIZE);
}

/* Whether a push was recorded while the forge was asked: it is at least
 * as new as the forge's answer, and wins. */
static bool
moved_meanwhile(int had, const struct base_head *before, int has,
    const struct base_head *now)
{
	if (has != 0)
		return false;
	return had != 0 || strcmp(before->sha, now->sha) != 0 ||
	    strcmp(before->branch, now->branch) != 0 ||
	    before->event_at != now->event_at;
}

enum job_result
base_head_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	char provider[16], repo[ENV_REPO_SIZE];
	const char *forge;
	const struct repo_cfg *rc;
	struct base_head before, now;
	struct forge_head head;
	struct forge_call call;
	enum forge_rc frc;
	bool gitlab;
	int had, has;

	if (base_target_split(j->target, provider, repo) != 0 ||
	    (strcmp(provider, "github") != 0 &&
	    strcmp(provider, "gitlab") != 0)) {
		log_warnx("base_head: target \"%s\" is not provider:repo",
		    j->target);
		return JOB_DONE;
	}
	gitlab = strcmp(provider, "gitlab") == 0;
	forge = gitlab ? "GitLab" : "GitHub";
	/* A reload may have taken the prewarming (or the forge) away. */
	rc = config_repo(w->cfg, repo);
	if (rc == NULL || strcmp(rc->prewarm, "base") != 0 ||
	    !forge_configured(w->cfg, provider)) {
		log_info("base of %s: no longer prewarmed on %s: not asked",
		    repo, forge);
		return JOB_DONE;
	}
	if ((had = store_base_get(w->store, provider, repo, &before)) < 0)
		goto store_down;

	memset(&call, 0, sizeof(call));
	call.http = worker_http(w);
	call.cfg = w->cfg;
	call.attempts = j->attempts;
	call.installation = had == 0 ? before.installation_id : 0;
	if (call.http == NULL) {
		o->retry_ms = jobs_backoff(j->attempts);
		str_copy(o->error, "out of memory", sizeof(o->error));
		return JOB_RETRY;
	}
	frc = gitlab ? gitlab_default_head(&call, repo, &head) :
	    github_default_head(&call, repo, &head);
	if (frc == FORGE_RETRY) {
		o->retry_ms = call.retry_ms;
		snprintf(o->error, sizeof(o->error), "asking %s for the "
		    "default branch of %s: %s", forge, repo, call.error);
		return JOB_RETRY;
	}
	if (frc == FORGE_NOT_FOUND) {
		/* Expected on the forge that does not have the repository,
		 * when both are configured. */
		if (forge_configured(w->cfg, gitlab ? "github" : "gitlab"))
			log_info("base of %s: not on %s (%s)", repo, forge,
			    call.error);
		else
			log_warnx("base of %s: %s does not have it, or its "
			    "token may not read it (%s); the head is learnt "
			    "from the next push", repo, forge, call.error);
		return JOB_DONE;
	}
	if (frc != FORGE_OK) {
		log_warnx("base of %s: cannot learn the default branch from "
		    "%s: %s; the head is learnt from the next push", repo,
		    forge, call.error);
		return JOB_DONE;
	}
	if ((has = store_base_get(w->store, provider, repo, &now)) < 0)
		goto store_down;
	if (moved_meanwhile(had, &before, has, &now)) {
		log_info("base of %s: a push arrived while %s was asked: "
		    "keeping %s at %.12s", repo, forge, now.branch, now.sha);
		return JOB_DONE;
	}
	if (store_base_set(w->store, provider, repo, head.api_target,
	    call.installation, head.branch, head.sha) != 0)
		goto store_down;
	log_info("base of %s: %s at %.12s (from %s)", repo, head.branch,
	    head.sha, forge);
	jobs_notify();
	return JOB_DONE;
store_down:
	o->retry_ms = jobs_backoff(j->attempts);
	str_copy(o->error, "the state store is unavailable", sizeof(o->error));
	return JOB_RETRY;
}
