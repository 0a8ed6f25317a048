/*
 * fuzz_vercel_webhook: the Vercel deployment event as vercel_webhook
 * reads it, minus the request: jscan_parse with handlers/vercel.c's own
 * field_paths, then every extraction the handler makes: type and target,
 * githubPrId through parse_int64, id / project / ref / team through the
 * handler's token_ok, "org/repo" through webhook_repo_ok, the sha through
 * webhook_sha_ok, and createdAt.
 */
#include "handlers/vercel.c"

#include "tests/fuzz/fuzz_webhook.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jscan_field f[F_COUNT];
	char id[128], type[64], project[128], team[128], pr[32], org[128];
	char name[128], repo[ENV_REPO_SIZE], ref[256], sha[ENV_SHA_SIZE];
	long long created;
	int64_t number = 0;
	size_t i;

	for (i = 0; i < F_COUNT; i++)
		f[i].path = field_paths[i];
	if (jscan_parse((const char *)data, size, f, F_COUNT) != 0)
		return 0;

	(void)jscan_string(&f[F_TYPE], type, sizeof(type));
	(void)(f[F_TARGET].type != JSCAN_MISSING &&
	    f[F_TARGET].type != JSCAN_NULL);
	if (jscan_string(&f[F_PR], pr, sizeof(pr)) != 0 ||
	    parse_int64(pr, 1, INT64_MAX / 2, &number) != 0)
		number = 0;
	if (jscan_string(&f[F_ID], id, sizeof(id)) == 0)
		(void)token_ok(id);
	if (jscan_string(&f[F_PROJECT], project, sizeof(project)) == 0 &&
	    token_ok(project))
		fuzz_check_escape(project, true);   /* as forges/vercel.c */
	if (jscan_string(&f[F_ORG], org, sizeof(org)) == 0 &&
	    jscan_string(&f[F_REPO], name, sizeof(name)) == 0 &&
	    str_printf(repo, sizeof(repo), "%s/%s", org, name) == 0)
		fuzz_check_repo("github", repo, number);
	if (jscan_string(&f[F_REF], ref, sizeof(ref)) == 0)
		(void)token_ok(ref);
	if (jscan_string(&f[F_SHA], sha, sizeof(sha)) == 0)
		fuzz_check_sha(sha);
	if (f[F_TEAM].type == JSCAN_STRING &&
	    jscan_string(&f[F_TEAM], team, sizeof(team)) == 0 &&
	    team[0] != '\0' && token_ok(team))
		fuzz_check_escape(team, true);
	if (jscan_int64(&f[F_CREATED], &created) == 0 && created > 0)
		(void)(created / 1000);
	return 0;
}
