/*
 * vercel: Vercel deployment webhooks.
 */
#include "handlers/vercel.h"

#include <stdio.h>
#include <string.h>

#include "handlers/webhook.h"
#include "lib/crypto.h"
#include "lib/jscan.h"
#include "lib/log.h"

enum {
	F_ID, F_TYPE, F_CREATED, F_TARGET, F_PROJECT, F_TEAM, F_PR, F_ORG,
	F_REPO, F_REF, F_SHA, F_COUNT
};

static const char *const field_paths[F_COUNT] = {
	[F_ID] = "id",
	[F_TYPE] = "type",
	[F_CREATED] = "createdAt",
	[F_TARGET] = "payload.target",
	[F_PROJECT] = "payload.project.id",
	[F_TEAM] = "payload.team.id",
	[F_PR] = "payload.deployment.meta.githubPrId",
	[F_ORG] = "payload.deployment.meta.githubCommitOrg",
	[F_REPO] = "payload.deployment.meta.githubCommitRepo",
	[F_REF] = "payload.deployment.meta.githubCommitRef",
	[F_SHA] = "payload.deployment.meta.githubCommitSha",
};

static void
bad_signature(struct request *req)
{
	log_warnx("webhook vercel: missing or wrong x-vercel-signature from %s",
	    http_peer(req));
	http_error(req, 401, "bad_signature", "missing or wrong "
	    "x-vercel-signature");
}

/* Before the body: a signature that could be right (40 lower-case hex
 * digits, an HMAC-SHA1 as Vercel writes it). */
static int
headers_ok(struct request *req)
{
	const char *sig = http_header(req, "x-vercel-signature");

	if (sig == NULL || !webhook_hex_ok(sig, 40)) {
		bad_signature(req);
		return -1;
	}
	return 0;
}

static bool
signature_ok(const struct request *req)
{
	const char *sig = http_header(req, "x-vercel-signature");
	const char *secret = req->cfg->vercel.webhook_secret;

	return crypto_hmac_hex_eq("sha1", secret, strlen(secret),
	    req->body.data, req->body.len, sig, strlen(sig));
}

/* Ids and branch names as Vercel and git allow them: printable ASCII
 * without blanks, bounded. */
static bool
token_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int
vercel_webhook(struct request *req)
{
	struct jscan_field f[F_COUNT];
	char id[128], type[64], project[128], team[128], pr[32], org[128];
	char name[128], repo[ENV_REPO_SIZE], ref[256], sha[ENV_SHA_SIZE];
	long long created;
	int64_t number;
	struct pr_event ev;
	size_t i;

	if (!req->cfg->vercel.configured) {
		http_error(req, 404, "not_configured", "Vercel webhooks are not "
		    "configured (no [vercel] section)");
		return 0;
	}
	if (webhook_begin(req, "Vercel", headers_ok) != 0)
		return 0;
	if (!signature_ok(req)) {
		bad_signature(req);
		return 0;
	}
	for (i = 0; i < F_COUNT; i++)
		f[i].path = field_paths[i];
	if (jscan_parse(req->body.data, req->body.len, f, F_COUNT) != 0) {
		http_error(req, 400, "bad_json", "the body is not valid JSON");
		return 0;
	}
	/* Previews only: production (or any named target) never gets a
	 * preview database. */
	req->event = "deployment";
	if (jscan_string(&f[F_TYPE], type, sizeof(type)) != 0 ||
	    strcmp(type, "deployment.created") != 0 ||
	    (f[F_TARGET].type != JSCAN_MISSING &&
	    f[F_TARGET].type != JSCAN_NULL)) {
		http_reply(req, 204, NULL, NULL, 0);
		return 0;
	}
	if (jscan_string(&f[F_PR], pr, sizeof(pr)) != 0 ||
	    parse_int64(pr, 1, WEBHOOK_NUMBER_MAX, &number) != 0) {
		log_info("webhook vercel: a preview deployment of no GitHub pull "
		    "request: ignored");
		http_reply(req, 204, NULL, NULL, 0);
		return 0;
	}
	if (jscan_string(&f[F_ID], id, sizeof(id)) != 0 || !token_ok(id) ||
	    jscan_string(&f[F_PROJECT], project, sizeof(project)) != 0 ||
	    !token_ok(project) ||
	    jscan_string(&f[F_ORG], org, sizeof(org)) != 0 ||
	    jscan_string(&f[F_REPO], name, sizeof(name)) != 0 ||
	    str_printf(repo, sizeof(repo), "%s/%s", org, name) != 0 ||
	    !webhook_repo_ok(repo) ||
	    jscan_string(&f[F_REF], ref, sizeof(ref)) != 0 || !token_ok(ref) ||
	    jscan_string(&f[F_SHA], sha, sizeof(sha)) != 0 ||
	    !webhook_sha_ok(sha)) {
		http_error(req, 400, "bad_payload", "deployment.created needs id, "
		    "payload.project.id and payload.deployment.meta.githubPrId, "
		    "githubCommitOrg, githubCommitRepo, githubCommitRef and "
		    "githubCommitSha");
		return 0;
	}
	team[0] = '\0';
	if (f[F_TEAM].type == JSCAN_STRING &&
	    (jscan_string(&f[F_TEAM], team, sizeof(team)) != 0 ||
	    (team[0] != '\0' && !token_ok(team)))) {
		http_error(req, 400, "bad_payload", "bad payload.team.id");
		return 0;
	}

	/* The same environment the GitHub webhook makes: one pull request
	 * never gets two databases. */
	memset(&ev, 0, sizeof(ev));
	ev.op = PR_OPEN;
	ev.provider = "github";
	ev.delivery = id;
	ev.event = type;
	ev.action = "deployment.created";
	ev.repo = repo;
	ev.number = number;
	ev.head_sha = sha;
	ev.vercel_project = project;
	ev.vercel_team = team;
	ev.git_branch = ref;
	ev.event_at = jscan_int64(&f[F_CREATED], &created) == 0 && created > 0 ?
	    created / 1000 : now_s();
	return webhook_apply(req, "vercel", &ev, false);
}
