/*
 * webhook: the shared tail of the webhook handlers.
 */
#include "handlers/webhook.h"

#include <stdio.h>
#include <string.h>

#include "core/jobs.h"
#include "lib/log.h"
#include "core/metrics.h"

int
webhook_begin(struct request *req, const char *forge,
    webhook_headers_fn check_headers)
{
	if (http_draining()) {
		http_error(req, 503, "shutting_down", "previewd is shutting "
		    "down; %s will show the delivery as failed: redeliver it",
		    forge);
		return -1;
	}
	if (check_headers(req) != 0)
		return -1;
	return http_read_body(req, WEBHOOK_MAX_BODY);
}

bool
webhook_hex_ok(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

bool
webhook_repo_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= ENV_REPO_SIZE || s[0] == '/' || s[n - 1] == '/' ||
	    strchr(s, '/') == NULL || strstr(s, "//") != NULL)
		return false;
	if (strcmp(s, ".") == 0 || strncmp(s, "./", 2) == 0 ||
	    strcmp(s, "..") == 0 || strncmp(s, "../", 3) == 0 ||
	    strstr(s, "/./") != NULL || strstr(s, "/../") != NULL ||
	    (n >= 2 && strcmp(s + n - 2, "/.") == 0) ||
	    (n >= 3 && strcmp(s + n - 3, "/..") == 0))
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("._-/", *s) != NULL))
			return false;
	return true;
}

bool
webhook_sha_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 7 || n > 64)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static void
reply_status(struct request *req, int status, const char *result,
    const char *env_id, const char *reason)
{
	cJSON *root = cJSON_CreateObject();

	cJSON_AddStringToObject(root, "status", result);
	if (env_id != NULL && env_id[0] != '\0')
		cJSON_AddStringToObject(root, "environment", env_id);
	if (reason != NULL)
		cJSON_AddStringToObject(root, "reason", reason);
	http_json(req, status, root);
}

bool
webhook_branch_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= BASE_BRANCH_SIZE || strstr(s, "..") != NULL ||
	    strpbrk(s, " ~^:?*[\\") != NULL)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* The id goes into every log line about this change, as one key=value
 * token: forges send UUIDs or "evt_..." ids. false once answered 400. */
static bool
delivery_ok(struct request *req, const char *delivery)
{
	if (strspn(delivery, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789._:-") != strlen(delivery)) {
		http_error(req, 400, "bad_request", "delivery id: expected "
		    "letters, digits and . _ : -");
		return false;
	}
	return true;
}

int
webhook_apply(struct request *req, const char *via, struct pr_event *ev,
    bool fork)
{
	const struct repo_cfg *rc;
	char env_id[ENV_ID_SIZE], when[RFC3339_LEN], reason[400];
	struct pr_deleted gone;
	enum pr_result result;

	if (!delivery_ok(req, ev->delivery))
		return 0;
	log_context("delivery=%s repo=%s pr=%lld", ev->delivery, ev->repo,
	    (long long)ev->number);
	if ((rc = config_repo(req->cfg, ev->repo)) == NULL) {
		log_info("webhook %s: %s ignored: no [repo:%s] section", via,
		    ev->action, ev->repo);
		http_reply(req, 204, NULL, NULL, 0);
		goto out;
	}
	/* A fork's head runs code nobody here reviewed: by default it gets
	 * no database. */
	if (fork && ev->op != PR_CLOSE && strcmp(rc->forks, "allow") != 0) {
		log_info("webhook %s: %s ignored: head is a fork and [repo:%s] "
		    "has forks = deny", via, ev->action, rc->pattern);
		http_reply(req, 204, NULL, NULL, 0);
		goto out;
	}
	ev->engine = rc->engine;
	ev->ttl = rc->ttl;
	if (http_store(req) == NULL ||
	    store_pr_event(req->store, ev, &result, env_id, &gone) != 0) {
		http_error(req, 503, "unavailable", "cannot record the "
		    "delivery; redeliver it");
		goto out;
	}
	req->outcome = result == PR_DUPLICATE ? MO_DUPLICATE : result ==
	    PR_STALE ? MO_STALE : result == PR_IGNORED ||
	    result == PR_DELETED ? MO_IGNORED : MO_ACCEPTED;
	if (result == PR_ACCEPTED && ev->op == PR_CLOSE)
		metrics_deletion("close");
	switch (result) {
	case PR_DUPLICATE:
		log_info("webhook %s: %s: duplicate delivery", via, ev->action);
		reply_status(req, 200, "duplicate", NULL, NULL);
		break;
	case PR_STALE:
		log_info("webhook %s: %s: older than the last event applied, "
		    "recorded only", via, ev->action);
		reply_status(req, 202, "stale", env_id, NULL);
		break;
	case PR_IGNORED:
		log_info("webhook %s: %s: no environment to close", via,
		    ev->action);
		reply_status(req, 202, "ignored", env_id, NULL);
		break;
	case PR_DELETED:
		time_rfc3339(gone.at, when);
		log_info("webhook %s: %s: not newer than the deletion at %s "
		    "(%s): ignored", via, ev->action, when, gone.why);
		snprintf(reason, sizeof(reason), "the environment was deleted "
		    "at %s (%s); events for this pull request not newer than "
		    "that are ignored: a new push or a reopen brings it back",
		    when, gone.why);
		reply_status(req, 202, "ignored", env_id, reason);
		break;
	case PR_ACCEPTED:
		jobs_notify();
		log_info("webhook %s: %s accepted env=%s", via, ev->action,
		    env_id);
		reply_status(req, 202, "accepted", env_id, NULL);
		break;
	}
out:
	log_context_clear();
	return 0;
}

/* Why a push changes no base, into reason ("" when it does). */
static void
push_ignored(const struct repo_cfg *rc, const struct base_push *ev,
    const char *default_branch, bool deleted, char *reason, size_t len)
{
	reason[0] = '\0';
	if (strcmp(rc->prewarm, "base") != 0)
		snprintf(reason, len, "[repo:%s] has prewarm = %s: no base to "
		    "keep", rc->pattern, rc->prewarm);
	else if (!str_starts(ev->ref, "refs/heads/") ||
	    strcmp(ev->ref + 11, default_branch) != 0)
		snprintf(reason, len, "%s is not the default branch (%s)",
		    ev->ref, default_branch);
	else if (deleted)
		snprintf(reason, len, "the push deleted %s", ev->ref);
}

int
webhook_push(struct request *req, const char *via, struct base_push *ev,
    const char *default_branch, bool deleted)
{
	const struct repo_cfg *rc;
	char reason[1400];
	enum pr_result result;

	if (!delivery_ok(req, ev->delivery))
		return 0;
	log_context("delivery=%s repo=%s", ev->delivery, ev->repo);
	if ((rc = config_repo(req->cfg, ev->repo)) == NULL) {
		log_info("webhook %s: push ignored: no [repo:%s] section", via,
		    ev->repo);
		http_reply(req, 204, NULL, NULL, 0);
		goto out;
	}
	push_ignored(rc, ev, default_branch, deleted, reason, sizeof(reason));
	ev->branch = default_branch;
	ev->ignore = reason[0] != '\0' ? reason : NULL;
	if (http_store(req) == NULL ||
	    store_base_push(req->store, ev, &result) != 0) {
		http_error(req, 503, "unavailable", "cannot record the "
		    "delivery; redeliver it");
		goto out;
	}
	req->outcome = result == PR_DUPLICATE ? MO_DUPLICATE : result ==
	    PR_STALE ? MO_STALE : result == PR_ACCEPTED ? MO_ACCEPTED :
	    MO_IGNORED;
	switch (result) {
	case PR_DUPLICATE:
		log_info("webhook %s: push: duplicate delivery", via);
		reply_status(req, 200, "duplicate", NULL, NULL);
		break;
	case PR_STALE:
		log_info("webhook %s: push to %s: older than the head "
		    "recorded, recorded only", via, ev->ref);
		reply_status(req, 202, "stale", NULL, NULL);
		break;
	case PR_ACCEPTED:
		jobs_notify();
		log_info("webhook %s: push accepted: base of %s: %s at %.12s",
		    via, ev->repo, ev->branch, ev->sha);
		reply_status(req, 202, "accepted", NULL, NULL);
		break;
	case PR_IGNORED:
	case PR_DELETED:
		log_info("webhook %s: push ignored: %s", via, reason);
		reply_status(req, 202, "ignored", NULL, reason);
		break;
	}
out:
	log_context_clear();
	return 0;
}
