/*
 * fuzz_gitlab_webhook: the GitLab "Merge Request Hook" body as
 * gitlab_webhook reads it, minus the request: jscan_parse with
 * handlers/gitlab.c's own field_paths, then every extraction the handler
 * makes: object_kind and action, oldrev, path_with_namespace through
 * webhook_repo_ok, iid and project id, last_commit.id through
 * webhook_sha_ok, visibility, source and target project ids, and
 * updated_at through the handler's own gitlab_time (RFC 3339 or GitLab's
 * older "2013-12-03 17:23:34 UTC").
 */
#include "handlers/gitlab.c"

#include "tests/fuzz/fuzz_webhook.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jscan_field f[F_COUNT];
	char kind[32], action[32], repo[ENV_REPO_SIZE], sha[ENV_SHA_SIZE];
	char updated[64], project[32], oldrev[ENV_SHA_SIZE];
	long long iid = 0, pid, source, target, visibility;
	size_t i;

	for (i = 0; i < F_COUNT; i++)
		f[i].path = field_paths[i];
	if (jscan_parse((const char *)data, size, f, F_COUNT) != 0)
		return 0;

	(void)jscan_string(&f[F_KIND], kind, sizeof(kind));
	(void)jscan_string(&f[F_ACTION], action, sizeof(action));
	(void)jscan_string(&f[F_OLDREV], oldrev, sizeof(oldrev));
	if (jscan_int64(&f[F_IID], &iid) != 0)
		iid = 0;
	if (jscan_string(&f[F_PATH], repo, sizeof(repo)) == 0)
		fuzz_check_repo("gitlab", repo, iid);
	if (jscan_int64(&f[F_PROJECT_ID], &pid) == 0) {
		FUZZ_CHECK(str_printf(project, sizeof(project), "%lld", pid) == 0,
		    "project id %lld does not fit", pid);
	}
	if (jscan_string(&f[F_SHA], sha, sizeof(sha)) == 0)
		fuzz_check_sha(sha);
	(void)jscan_int64(&f[F_VISIBILITY], &visibility);
	(void)jscan_int64(&f[F_SOURCE], &source);
	(void)jscan_int64(&f[F_TARGET], &target);
	if (jscan_string(&f[F_UPDATED_AT], updated, sizeof(updated)) == 0)
		fuzz_check_time(gitlab_time, updated);
	return 0;
}
