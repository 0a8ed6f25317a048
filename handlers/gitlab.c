/*
 * gitlab: GitLab merge request hooks and push hooks.
 */
#include "handlers/gitlab.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "handlers/webhook.h"
#include "lib/crypto.h"
#include "lib/jscan.h"
#include "lib/log.h"

/* Standard Webhooks' replay window. */
#define SIGNATURE_TOLERANCE 300

enum {
	F_KIND, F_ACTION, F_IID, F_SHA, F_OLDREV, F_UPDATED_AT, F_SOURCE,
	F_TARGET, F_PROJECT_ID, F_PATH, F_VISIBILITY,
	/* a Push Hook's */
	F_REF, F_AFTER, F_CHECKOUT_SHA, F_DEFAULT_BRANCH, F_COUNT
};

static const char *const field_paths[F_COUNT] = {
	[F_KIND] = "object_kind",
	[F_ACTION] = "object_attributes.action",
	[F_IID] = "object_attributes.iid",
	[F_SHA] = "object_attributes.last_commit.id",
	[F_OLDREV] = "object_attributes.oldrev",
	[F_UPDATED_AT] = "object_attributes.updated_at",
	[F_SOURCE] = "object_attributes.source_project_id",
	[F_TARGET] = "object_attributes.target_project_id",
	[F_PROJECT_ID] = "project.id",
	[F_PATH] = "project.path_with_namespace",
	[F_VISIBILITY] = "project.visibility_level",
	[F_REF] = "ref",
	[F_AFTER] = "after",
	[F_CHECKOUT_SHA] = "checkout_sha",
	[F_DEFAULT_BRANCH] = "project.default_branch",
};

bool
standard_webhook_ok(const char *secret, const char *id, const char *timestamp,
    const char *body, size_t len, const char *header, int64_t now,
    int64_t tolerance)
{
	unsigned char key[256], mac[EVP_MAX_MD_SIZE];
	char want[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	const char *p = header;
	unsigned maclen = 0;
	int64_t ts;
	int keylen;
	bool ok = false;
	struct buf msg;

	if (secret == NULL || !str_starts(secret, "whsec_") || id == NULL ||
	    timestamp == NULL || header == NULL ||
	    parse_int64(timestamp, 0, INT64_MAX, &ts) != 0 ||
	    ts < now - tolerance || ts > now + tolerance)
		return false;
	if ((keylen = crypto_base64_decode(secret + 6, key, sizeof(key))) <= 0)
		return false;
	/* "id.timestamp.body": the id's length is the sender's choice. */
	buf_init(&msg, strlen(id) + strlen(timestamp) + 2 + len + 1);
	if (buf_printf(&msg, "%s.%s.", id, timestamp) != 0 ||
	    buf_add(&msg, body, len) != 0 ||
	    crypto_hmac("sha256", key, (size_t)keylen, msg.data, msg.len, mac,
	    &maclen) != 0)
		goto out;
	crypto_base64_encode(mac, maclen, want);
	/* Each candidate "v1,<sig>" is compared whole, in constant time. */
	while (*p != '\0') {
		const char *end = strchr(p, ' ');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > 3 && strncmp(p, "v1,", 3) == 0 && n - 3 == strlen(want) &&
		    CRYPTO_memcmp(p + 3, want, n - 3) == 0)
			ok = true;
		p += n;
		while (*p == ' ')
			p++;
	}
out:
	crypto_wipe(key, sizeof(key));
	buf_release(&msg);
	return ok;
}

static void
not_authentic(struct request *req)
{
	log_warnx("webhook gitlab: missing or wrong token or signature from %s",
	    http_peer(req));
	http_error(req, 401, "bad_signature", "missing or wrong "
	    "X-Gitlab-Token or webhook-signature");
}

/*
 * Before the body: the authentication the headers claim, as far as the
 * headers go. A token is compared whole (in constant time); a signature
 * needs the body, but its signing token, id and timestamp (within the
 * replay window) need not.
 */
static int
headers_ok(struct request *req)
{
	const char *sig = http_header(req, "webhook-signature");
	const char *token = http_header(req, "X-Gitlab-Token");
	const char *ts = http_header(req, "webhook-timestamp");
	int64_t t, now = now_s();
	bool ok;

	if (sig != NULL)
		ok = req->cfg->gitlab.signing_token != NULL &&
		    http_header(req, "webhook-id") != NULL && ts != NULL &&
		    parse_int64(ts, 0, INT64_MAX, &t) == 0 &&
		    t >= now - SIGNATURE_TOLERANCE &&
		    t <= now + SIGNATURE_TOLERANCE;
	else
		ok = token != NULL && crypto_token_eq(token, strlen(token),
		    req->cfg->gitlab.webhook_token);
	if (!ok) {
		not_authentic(req);
		return -1;
	}
	return 0;
}

/* After the body: the signature, when the headers claim one (a token was
 * checked whole by headers_ok). */
static bool
authentic(const struct request *req)
{
	const char *sig = http_header(req, "webhook-signature");

	if (sig == NULL)
		return true;
	return standard_webhook_ok(req->cfg->gitlab.signing_token,
	    http_header(req, "webhook-id"),
	    http_header(req, "webhook-timestamp"), req->body.data,
	    req->body.len, sig, now_s(), SIGNATURE_TOLERANCE);
}

/* GitLab writes times as RFC 3339 or, in older hooks, "2013-12-03
 * 17:23:34 UTC". */
static int
gitlab_time(const char *s, int64_t *out)
{
	char t[64];
	size_t n = strlen(s);

	if (n > 4 && n < sizeof(t) && strcmp(s + n - 4, " UTC") == 0) {
		memcpy(t, s, n - 4);
		t[n - 4] = 'Z';
		t[n - 3] = '\0';
		return parse_rfc3339(t, out);
	}
	return parse_rfc3339(s, out);
}

/* GitLab repeats Idempotency-Key across its retries; older versions only
 * send the webhook's UUID. NULL (answered 400) when none is usable. */
static const char *
delivery_id(struct request *req)
{
	const char *delivery = http_header(req, "Idempotency-Key");

	if (delivery == NULL)
		delivery = http_header(req, "X-Gitlab-Webhook-UUID");
	if (delivery == NULL)
		delivery = http_header(req, "X-Gitlab-Event-UUID");
	if (delivery == NULL || delivery[0] == '\0' || strlen(delivery) > 128) {
		http_error(req, 400, "bad_request", "missing Idempotency-Key "
		    "or X-Gitlab-Webhook-UUID");
		return NULL;
	}
	return delivery;
}

/* Push Hook: the default branch's head, for a project that prewarms.
 * GitLab's push carries no time of its own: pushes apply in arrival
 * order. */
static int
gitlab_push(struct request *req, const char *event, struct jscan_field *f)
{
	char ref[1024], sha[ENV_SHA_SIZE], repo[ENV_REPO_SIZE], project[32];
	char branch[BASE_BRANCH_SIZE];
	const char *delivery;
	struct base_push ev;
	long long pid;

	if ((delivery = delivery_id(req)) == NULL)
		return 0;
	/* "after" is the branch's new head, all zeros for a deletion;
	 * checkout_sha when after is absent. */
	if (jscan_string(&f[F_AFTER], sha, sizeof(sha)) != 0 &&
	    jscan_string(&f[F_CHECKOUT_SHA], sha, sizeof(sha)) != 0)
		sha[0] = '\0';
	if (jscan_string(&f[F_PATH], repo, sizeof(repo)) != 0 ||
	    !webhook_repo_ok(repo) ||
	    jscan_int64(&f[F_PROJECT_ID], &pid) != 0 || pid <= 0 ||
	    jscan_string(&f[F_REF], ref, sizeof(ref)) != 0 || ref[0] == '\0' ||
	    !webhook_sha_ok(sha) ||
	    jscan_string(&f[F_DEFAULT_BRANCH], branch, sizeof(branch)) != 0 ||
	    !webhook_branch_ok(branch)) {
		http_error(req, 400, "bad_payload", "push hook needs ref, "
		    "after, project.path_with_namespace, project.id and "
		    "project.default_branch");
		return 0;
	}
	snprintf(project, sizeof(project), "%lld", pid);
	memset(&ev, 0, sizeof(ev));
	ev.provider = "gitlab";
	ev.delivery = delivery;
	ev.event = event;
	ev.ref = ref;
	ev.repo = repo;
	ev.api_target = project;
	ev.sha = sha;
	ev.event_at = now_s();
	return webhook_push(req, "gitlab", &ev, branch,
	    strspn(sha, "0") == strlen(sha));
}

int
gitlab_webhook(struct request *req)
{
	struct jscan_field f[F_COUNT];
	char kind[32], action[32], repo[ENV_REPO_SIZE], sha[ENV_SHA_SIZE];
	char updated[64], project[32], oldrev[ENV_SHA_SIZE];
	const char *event, *delivery;
	long long iid, pid, source, target, visibility;
	struct pr_event ev;
	size_t i;

	if (!req->cfg->gitlab.configured || (req->cfg->gitlab.webhook_token ==
	    NULL && req->cfg->gitlab.signing_token == NULL)) {
		http_error(req, 404, "not_configured", "GitLab webhooks are not "
		    "configured ([gitlab] webhook_token or signing_token)");
		return 0;
	}
	/* As for GitHub: named in the metrics even when refused. */
	event = http_header(req, "X-Gitlab-Event");
	req->event = event;
	if (webhook_begin(req, "GitLab", headers_ok) != 0)
		return 0;
	if (!authentic(req)) {
		not_authentic(req);
		return 0;
	}
	for (i = 0; i < F_COUNT; i++)
		f[i].path = field_paths[i];
	if (jscan_parse(req->body.data, req->body.len, f, F_COUNT) != 0) {
		http_error(req, 400, "bad_json", "the body is not valid JSON");
		return 0;
	}
	if (event != NULL && strcmp(event, "Push Hook") == 0 &&
	    jscan_string(&f[F_KIND], kind, sizeof(kind)) == 0 &&
	    strcmp(kind, "push") == 0)
		return gitlab_push(req, event, f);
	if (event == NULL || strcmp(event, "Merge Request Hook") != 0 ||
	    jscan_string(&f[F_KIND], kind, sizeof(kind)) != 0 ||
	    strcmp(kind, "merge_request") != 0 ||
	    jscan_string(&f[F_ACTION], action, sizeof(action)) != 0) {
		http_reply(req, 204, NULL, NULL, 0);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	if (strcmp(action, "open") == 0 || strcmp(action, "reopen") == 0)
		ev.op = PR_OPEN;
	else if (strcmp(action, "close") == 0 || strcmp(action, "merge") == 0)
		ev.op = PR_CLOSE;
	else if (strcmp(action, "update") == 0 &&
	    jscan_string(&f[F_OLDREV], oldrev, sizeof(oldrev)) == 0 &&
	    oldrev[0] != '\0')
		ev.op = PR_SYNC;     /* an update that brought new commits */
	else {
		http_reply(req, 204, NULL, NULL, 0);
		return 0;
	}

	if ((delivery = delivery_id(req)) == NULL)
		return 0;
	if (jscan_string(&f[F_PATH], repo, sizeof(repo)) != 0 ||
	    !webhook_repo_ok(repo) || jscan_int64(&f[F_IID], &iid) != 0 ||
	    iid <= 0 || iid > WEBHOOK_NUMBER_MAX || jscan_int64(&f[F_PROJECT_ID], &pid) != 0 || pid <= 0) {
		http_error(req, 400, "bad_payload", "merge request hook needs "
		    "project.path_with_namespace, project.id and "
		    "object_attributes.iid");
		return 0;
	}
	if (jscan_string(&f[F_SHA], sha, sizeof(sha)) != 0 ||
	    !webhook_sha_ok(sha)) {
		if (ev.op != PR_CLOSE) {
			http_error(req, 400, "bad_payload", "merge request hook "
			    "needs object_attributes.last_commit.id");
			return 0;
		}
		sha[0] = '\0';
	}
	snprintf(project, sizeof(project), "%lld", pid);
	ev.provider = "gitlab";
	ev.delivery = delivery;
	ev.event = event;
	ev.action = action;
	ev.repo = repo;
	ev.number = iid;
	ev.head_sha = sha;
	ev.api_target = project;
	/* Only a private project (visibility level 0) shows passwords;
	 * "internal" is visible to every user of the instance. */
	ev.private_repo = jscan_int64(&f[F_VISIBILITY], &visibility) == 0 &&
	    visibility == 0;
	if (jscan_string(&f[F_UPDATED_AT], updated, sizeof(updated)) != 0 ||
	    gitlab_time(updated, &ev.event_at) != 0)
		ev.event_at = now_s();
	return webhook_apply(req, "gitlab", &ev,
	    jscan_int64(&f[F_SOURCE], &source) == 0 &&
	    jscan_int64(&f[F_TARGET], &target) == 0 && source != target);
}
