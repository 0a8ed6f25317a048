/*
 * github: GitHub webhook deliveries.
 */
#include "handlers/github.h"

#include <string.h>
#include <strings.h>

#include "handlers/webhook.h"
#include "lib/crypto.h"
#include "lib/jscan.h"
#include "lib/log.h"

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

static void
bad_signature(struct request *req)
{
	log_warnx("webhook github: missing or wrong X-Hub-Signature-256 from "
	    "%s", http_peer(req));
	http_error(req, 401, "bad_signature", "missing or wrong "
	    "X-Hub-Signature-256");
}

/* Before the body: a signature that could be right ("sha256=" and 64
 * lower-case hex digits, as GitHub writes it) and an event. Only the HMAC
 * needs the body. */
static int
headers_ok(struct request *req)
{
	const char *sig = http_header(req, "X-Hub-Signature-256");

	if (sig == NULL || !str_starts(sig, "sha256=") ||
	    !webhook_hex_ok(sig + 7, 64)) {
		bad_signature(req);
		return -1;
	}
	if (req->event == NULL) {
		http_error(req, 400, "bad_request", "missing X-GitHub-Event");
		return -1;
	}
	return 0;
}

static bool
signature_ok(const struct request *req)
{
	const char *sig = http_header(req, "X-Hub-Signature-256");
	const char *secret = req->cfg->github.webhook_secret;

	return crypto_hmac_hex_eq("sha256", secret, strlen(secret),
	    req->body.data, req->body.len, sig + 7, strlen(sig + 7));
}

int
github_webhook(struct request *req)
{
	struct jscan_field f[F_COUNT];
	char action[64], repo[ENV_REPO_SIZE], head_repo[ENV_REPO_SIZE];
	char sha[ENV_SHA_SIZE], updated[64];
	const char *event, *delivery;
	struct pr_event ev;
	long long number, installation;
	bool fork;
	size_t i;

	if (!req->cfg->github.configured) {
		http_error(req, 404, "not_configured", "GitHub webhooks are "
		    "not configured (no [github] section)");
		return 0;
	}
	/* The event names the delivery in the metrics even when it is
	 * refused; metrics map it onto a fixed set of labels. */
	event = http_header(req, "X-GitHub-Event");
	req->event = event;
	if (webhook_begin(req, "GitHub", headers_ok) != 0)
		return 0;
	if (!signature_ok(req)) {
		bad_signature(req);
		return 0;
	}

	delivery = http_header(req, "X-GitHub-Delivery");
	for (i = 0; i < F_COUNT; i++)
		f[i].path = field_paths[i];
	if (jscan_parse(req->body.data, req->body.len, f,
	    strcmp(event, "pull_request") == 0 ? F_COUNT : 0) != 0) {
		http_error(req, 400, "bad_json", "the body is not valid JSON");
		return 0;
	}
	if (strcmp(event, "ping") == 0) {
		log_info("webhook github: ping");
		http_reply(req, 200, "application/json", "{\"status\":\"pong\"}",
		    17);
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
	    !webhook_repo_ok(repo) || jscan_int64(&f[F_NUMBER], &number) != 0 ||
	    number <= 0 || number > WEBHOOK_NUMBER_MAX) {
		http_error(req, 400, "bad_payload", "pull_request payload needs "
		    "repository.full_name and number");
		return 0;
	}
	sha[0] = '\0';
	if (jscan_string(&f[F_HEAD_SHA], sha, sizeof(sha)) != 0 ||
	    !webhook_sha_ok(sha)) {
		if (ev.op != PR_CLOSE) {
			http_error(req, 400, "bad_payload", "pull_request "
			    "payload needs pull_request.head.sha");
			return 0;
		}
		sha[0] = '\0';
	}
	/* A head in a fork (or in a fork since deleted: no repo) is a fork. */
	fork = jscan_string(&f[F_HEAD_REPO], head_repo, sizeof(head_repo)) != 0 ||
	    strcasecmp(head_repo, repo) != 0;

	ev.provider = "github";
	ev.delivery = delivery;
	ev.event = event;
	ev.action = action;
	ev.repo = repo;
	ev.number = number;
	ev.head_sha = sha;
	if (jscan_string(&f[F_UPDATED_AT], updated, sizeof(updated)) != 0 ||
	    parse_rfc3339(updated, &ev.event_at) != 0)
		ev.event_at = now_s();
	/* Only an explicit "private": true shows the password in comments. */
	ev.private_repo = jscan_bool(&f[F_PRIVATE]) == 1;
	if (jscan_int64(&f[F_INSTALLATION], &installation) == 0 &&
	    installation > 0)
		ev.installation_id = installation;

	return webhook_apply(req, "github", &ev, fork);
}
