/*
 * fuzz_github_webhook: the GitHub pull_request delivery as github_webhook
 * reads it, minus the request (civetweb, X-Hub-Signature-256, the store):
 * jscan_parse with handlers/github.c's own field_paths on the body, then
 * every extraction the handler makes, each on its own so that one missing
 * field does not hide the others: the action against its table,
 * webhook_repo_ok on repository.full_name and the head repository,
 * webhook_sha_ok on the head sha, parse_rfc3339 on updated_at, the
 * number, private flag and installation id.
 */
#include "handlers/github.c"

#include "tests/fuzz/fuzz_webhook.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jscan_field f[F_COUNT];
	char action[64], repo[ENV_REPO_SIZE], head_repo[ENV_REPO_SIZE];
	char sha[ENV_SHA_SIZE], updated[64];
	long long number = 0, installation;
	size_t i;

	for (i = 0; i < F_COUNT; i++)
		f[i].path = field_paths[i];
	if (jscan_parse((const char *)data, size, f, F_COUNT) != 0)
		return 0;

	if (jscan_string(&f[F_ACTION], action, sizeof(action)) == 0) {
		for (i = 0; i < ARRAY_SIZE(actions); i++)
			if (strcmp(actions[i].action, action) == 0)
				break;
		FUZZ_CHECK(i == ARRAY_SIZE(actions) ||
		    (actions[i].op == PR_OPEN || actions[i].op == PR_SYNC ||
		    actions[i].op == PR_CLOSE), "action table");
	}
	if (jscan_int64(&f[F_NUMBER], &number) != 0)
		number = 0;
	if (jscan_string(&f[F_REPO], repo, sizeof(repo)) == 0)
		fuzz_check_repo("github", repo, number);
	else
		repo[0] = '\0';
	if (jscan_string(&f[F_HEAD_SHA], sha, sizeof(sha)) == 0)
		fuzz_check_sha(sha);
	if (jscan_string(&f[F_HEAD_REPO], head_repo, sizeof(head_repo)) == 0) {
		fuzz_check_repo("github", head_repo, number);
		(void)strcasecmp(head_repo, repo);
	}
	if (jscan_string(&f[F_UPDATED_AT], updated, sizeof(updated)) == 0)
		fuzz_check_time(parse_rfc3339, updated);
	(void)jscan_bool(&f[F_PRIVATE]);
	(void)jscan_int64(&f[F_INSTALLATION], &installation);
	return 0;
}
