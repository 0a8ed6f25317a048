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

/* The fields previewd reads from a push delivery. */
enum {
	P_REF, P_AFTER, P_DELETED, P_REPO, P_DEFAULT_BRANCH, P_PUSHED_AT,
	P_INSTALLATION, P_COUNT
};

static const char *const push_paths[P_COUNT] = {
	[P_REF] = "ref",
	[P_AFTER] = "after",
	[P_DELETED] = "deleted",
	[P_REPO] = "repository.full_name",
	[P_DEFAULT_BRANCH] = "repository.default_branch",
	[P_PUSHED_AT] = "repository.pushed_at",
	[P_INSTALLATION] = "installation.id",
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

static bool
delivery_usable(struct request *req, const char *delivery)
{
	if (delivery == NULL || delivery[0] == '\0' || strlen(delivery) > 128) {
		http_error(req, 400, "bad_request", "missing or overlong "
		    "X-GitHub-Delivery");
		return false;
	}
	return true;
}

/* A push payload's repository.pushed_at is a Unix time (other events
 * write that field as RFC 3339, accepted too); without it, arrival. */
static int64_t
pushed_at(const struct jscan_field *f)
{
	long long t;
	char s[64];
	int64_t at;

	if (jscan_int64(f, &t) == 0 && t > 0)
		return t;
	if (jscan_string(f, s, sizeof(s)) == 0 && parse_rfc3339(s, &at) == 0)
		return at;
	return now_s();
}

/* push: the default branch's head, for a repository that prewarms. */
static int
github_push(struct request *req, const char *event, const char *delivery)
{
	struct jscan_field f[P_COUNT];
	char ref[1024], sha[ENV_SHA_SIZE], repo[ENV_REPO_SIZE];
	char branch[BASE_BRANCH_SIZE];
	struct base_push ev;
	long long installation;
	bool deleted;
	size_t i;

	for (i = 0; i < P_COUNT; i++)
		f[i].path = push_paths[i];
	if (jscan_parse(req->body.data, req->body.len, f, P_COUNT) != 0) {
		http_error(req, 400, "bad_json", "the body is not valid JSON");
		return 0;
	}
	if (!delivery_usable(req, delivery))
		return 0;
	if (jscan_string(&f[P_REPO], repo, sizeof(repo)) != 0 ||
	    !webhook_repo_ok(repo) ||
	    jscan_string(&f[P_REF], ref, sizeof(ref)) != 0 || ref[0] == '\0' ||
	    jscan_string(&f[P_AFTER], sha, sizeof(sha)) != 0 ||
	    !webhook_sha_ok(sha) ||
	    jscan_string(&f[P_DEFAULT_BRANCH], branch, sizeof(branch)) != 0 ||
	    !webhook_branch_ok(branch)) {
		http_error(req, 400, "bad_payload", "push payload needs ref, "
		    "after, repository.full_name and "
		    "repository.default_branch");
		return 0;
	}
	/* A deleted branch's "after" is all zeros. */
	deleted = jscan_bool(&f[P_DELETED]) == 1 ||
	    strspn(sha, "0") == strlen(sha);

	memset(&ev, 0, sizeof(ev));
	ev.provider = "github";
	ev.delivery = delivery;
	ev.event = event;
	ev.ref = ref;
	ev.repo = repo;
	ev.sha = sha;
	ev.event_at = pushed_at(&f[P_PUSHED_AT]);
	if (jscan_int64(&f[P_INSTALLATION], &installation) == 0 &&
	    installation > 0)
		ev.installation_id = installation;
	return webhook_push(req, "github", &ev, branch, deleted);
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
	if (strcmp(event, "push") == 0)
		return github_push(req, event, delivery);
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
	if (!delivery_usable(req, delivery))
		return 0;
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
