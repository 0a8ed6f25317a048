/*
 * github: GitHub webhook deliveries.
 */
#include "handlers/github.h"

#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include "server/crypto.h"
#include "server/jobs.h"
#include "server/jscan.h"
#include "server/log.h"

/* The fields previewd reads from a pull_request delivery. */
enum {
	F_ACTION, F_NUMBER, F_REPO, F_HEAD_SHA, F_HEAD_REPO, F_UPDATED_AT,
	F_PRIVATE, F_INSTALLATION, F_COUNT
};

static const char *const field_paths[F_COUNT] = {
	[F_ACTION] = "action",
	[F_NUMBER] = "number",
	[F_REPO] = "repository.full_name",
	[F_HEAD_SHA] = "pull_request.head.sha",
	[F_HEAD_REPO] = "pull_request.head.repo.full_name",
	[F_UPDATED_AT] = "pull_request.updated_at",
	[F_PRIVATE] = "repository.private",
	[F_INSTALLATION] = "installation.id",
};

static const struct {
	const char *action;
	enum pr_op op;
} actions[] = {
	{ "opened", PR_OPEN },
	{ "reopened", PR_OPEN },
	{ "synchronize", PR_SYNC },
	{ "closed", PR_CLOSE },      /* merged or not */
};

/* Repository paths as the forges allow them: letters, digits, ".-_" and
 * "/" between owner, groups and name. */
static bool
repo_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || s[0] == '/' || s[n - 1] == '/' || strchr(s, '/') == NULL ||
	    strstr(s, "//") != NULL)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("._-/", *s) != NULL))
			return false;
	return true;
}

static bool
sha_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 7 || n > 64)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static bool
signature_ok(const struct request *req)
{
	const char *sig = http_header(req, "X-Hub-Signature-256");
	const char *secret = req->cfg->github.webhook_secret;

	if (sig == NULL || strncmp(sig, "sha256=", 7) != 0)
		return false;
	return crypto_hmac_hex_eq("sha256", secret, strlen(secret),
	    req->body.data, req->body.len, sig + 7, strlen(sig + 7));
}

static void
reply_status(struct request *req, int status, const char *result,
    const char *env_id)
{
	cJSON *root = cJSON_CreateObject();

	cJSON_AddStringToObject(root, "status", result);
	if (env_id != NULL && env_id[0] != '\0')
		cJSON_AddStringToObject(root, "environment", env_id);
	http_json(req, status, root);
}

int
github_webhook(struct request *req)
{
	struct jscan_field f[F_COUNT];
	char action[64], repo[ENV_REPO_SIZE], head_repo[ENV_REPO_SIZE];
	char sha[ENV_SHA_SIZE], updated[64], env_id[ENV_ID_SIZE];
	const char *event, *delivery;
	const struct repo_cfg *rc;
	struct pr_event ev;
	enum pr_result result;
	long long number, installation;
	size_t i;

	if (httpd_draining()) {
		http_error(req, 503, "shutting_down", "previewd is shutting "
		    "down; GitHub will show the delivery as failed, redeliver "
		    "it");
		return 0;
	}
	if (!req->cfg->github.configured) {
		http_error(req, 404, "not_configured", "GitHub webhooks are "
		    "not configured (no [github] section)");
		return 0;
	}
	if (http_read_body(req, GITHUB_MAX_BODY) != 0)
		return 0;
	if (!signature_ok(req)) {
		log_warnx("webhook github: missing or wrong X-Hub-Signature-256 "
		    "from %s", req->ri->remote_addr);
		http_error(req, 401, "bad_signature", "missing or wrong "
		    "X-Hub-Signature-256");
		return 0;
	}

	event = http_header(req, "X-GitHub-Event");
	delivery = http_header(req, "X-GitHub-Delivery");
	for (i = 0; i < F_COUNT; i++)
		f[i].path = field_paths[i];
	if (jscan_parse(req->body.data, req->body.len, f,
	    event && strcmp(event, "pull_request") == 0 ? F_COUNT : 0) != 0) {
		http_error(req, 400, "bad_json", "the body is not valid JSON");
		return 0;
	}
	if (event == NULL) {
		http_error(req, 400, "bad_request", "missing X-GitHub-Event");
		return 0;
	}
	if (strcmp(event, "ping") == 0) {
		log_info("webhook github: ping");
		reply_status(req, 200, "pong", NULL);
		return 0;
	}
	if (strcmp(event, "pull_request") != 0 ||
	    jscan_string(&f[F_ACTION], action, sizeof(action)) != 0) {
		http_reply(req, 204, NULL, NULL, 0);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(actions); i++)
		if (strcmp(actions[i].action, action) == 0)
			break;
	if (i == ARRAY_SIZE(actions)) {
		http_reply(req, 204, NULL, NULL, 0);
		return 0;
	}

	memset(&ev, 0, sizeof(ev));
	ev.op = actions[i].op;
	if (delivery == NULL || delivery[0] == '\0' || strlen(delivery) > 128) {
		http_error(req, 400, "bad_request", "missing or overlong "
		    "X-GitHub-Delivery");
		return 0;
	}
	if (jscan_string(&f[F_REPO], repo, sizeof(repo)) != 0 ||
	    !repo_name_ok(repo) || jscan_int64(&f[F_NUMBER], &number) != 0 ||
	    number <= 0) {
		http_error(req, 400, "bad_payload", "pull_request payload needs "
		    "repository.full_name and number");
		return 0;
	}
	sha[0] = '\0';
	if (jscan_string(&f[F_HEAD_SHA], sha, sizeof(sha)) != 0 ||
	    !sha_ok(sha)) {
		if (ev.op != PR_CLOSE) {
			http_error(req, 400, "bad_payload", "pull_request "
			    "payload needs pull_request.head.sha");
			return 0;
		}
		sha[0] = '\0';
	}
	log_context("delivery=%s repo=%s pr=%lld", delivery, repo, number);

	if ((rc = config_repo(req->cfg, repo)) == NULL) {
		log_info("webhook github: %s ignored: no [repo:%s] section",
		    action, repo);
		http_reply(req, 204, NULL, NULL, 0);
		goto out;
	}
	/* A fork's head (or one whose fork was deleted) runs code we did
	 * not review: by default it gets no database. */
	if (strcmp(rc->forks, "allow") != 0 && ev.op != PR_CLOSE &&
	    (jscan_string(&f[F_HEAD_REPO], head_repo, sizeof(head_repo)) != 0 ||
	    strcasecmp(head_repo, repo) != 0)) {
		log_info("webhook github: %s ignored: head is a fork and "
		    "[repo:%s] has forks = deny", action, rc->pattern);
		http_reply(req, 204, NULL, NULL, 0);
		goto out;
	}

	ev.provider = "github";
	ev.delivery = delivery;
	ev.event = event;
	ev.action = action;
	ev.repo = repo;
	ev.number = number;
	ev.head_sha = sha;
	ev.engine = rc->engine;
	ev.ttl = rc->ttl;
	if (jscan_string(&f[F_UPDATED_AT], updated, sizeof(updated)) != 0 ||
	    parse_rfc3339(updated, &ev.event_at) != 0)
		ev.event_at = now_s();
	/* Only an explicit "private": true shows the password in comments. */
	ev.private_repo = jscan_bool(&f[F_PRIVATE]) == 1;
	if (jscan_int64(&f[F_INSTALLATION], &installation) == 0 &&
	    installation > 0)
		ev.installation_id = installation;

	if (http_store(req) == NULL ||
	    store_pr_event(req->store, &ev, &result, env_id) != 0) {
		http_error(req, 503, "unavailable", "cannot record the "
		    "delivery; GitHub will show it as failed, redeliver it");
		goto out;
	}
	switch (result) {
	case PR_DUPLICATE:
		log_info("webhook github: %s: duplicate delivery", action);
		reply_status(req, 200, "duplicate", NULL);
		break;
	case PR_STALE:
		log_info("webhook github: %s: older than the last event "
		    "applied, recorded only", action);
		reply_status(req, 202, "stale", env_id);
		break;
	case PR_IGNORED:
		log_info("webhook github: %s: no environment to close", action);
		reply_status(req, 202, "ignored", env_id);
		break;
	case PR_ACCEPTED:
		jobs_notify();
		log_info("webhook github: %s accepted env=%s", action, env_id);
		reply_status(req, 202, "accepted", env_id);
		break;
	}
out:
	log_context_clear();
	return 0;
}
