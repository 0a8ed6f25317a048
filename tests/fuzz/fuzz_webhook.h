/*
 * fuzz_webhook.h: what the three webhook targets check on the values a
 * handler extracted, before they would reach webhook_apply.
 *
 * Each target #includes its handler's .c file (handlers/github.c ...), so
 * it walks the handler's own field_paths table and calls its static
 * helpers (gitlab_time, token_ok): when a handler changes a path, the
 * target follows without a copy to keep in sync. Only the request side
 * (civetweb, the signature header, the store) is left out.
 */
#ifndef PREVIEWD_FUZZ_WEBHOOK_H
#define PREVIEWD_FUZZ_WEBHOOK_H

#include "tests/fuzz/fuzz.h"

#include "forges/forge.h"
#include "handlers/webhook.h"
#include "lib/names.h"
#include "store/store.h"
#include "lib/util.h"

/* forge_escape_path(s) must decode back to s and hold nothing but
 * unreserved characters, '%XX' and (unless slashes) '/'. */
static inline void
fuzz_check_escape(const char *s, bool slashes)
{
	size_t outsz = 3 * strlen(s) + 1, i, o = 0;
	char *out = malloc(outsz), *back = malloc(strlen(s) + 1);

	if (out == NULL || back == NULL)
		abort();
	FUZZ_CHECK(forge_escape_path(s, slashes, out, outsz) == 0,
	    "forge_escape_path refused \"%s\" with %zu bytes", s, outsz);
	for (i = 0; out[i] != '\0'; i++) {
		if (out[i] == '%') {
			unsigned v;

			FUZZ_CHECK(sscanf(out + i + 1, "%2x", &v) == 1 &&
			    strchr("0123456789ABCDEF", out[i + 1]) &&
			    strchr("0123456789ABCDEF", out[i + 2]),
			    "bad escape in \"%s\"", out);
			back[o++] = (char)v;
			i += 2;
			continue;
		}
		FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~", out[i]) != NULL ||
		    (out[i] == '/' && !slashes),
		    "\"%s\" escaped as \"%s\"", s, out);
		back[o++] = out[i];
	}
	back[o] = '\0';
	FUZZ_CHECK(strcmp(back, s) == 0, "\"%s\" escaped as \"%s\"", s, out);
	free(out);
	free(back);
}

/*
 * A repository webhook_repo_ok accepts goes into ENV_REPO_SIZE buffers,
 * through forge_escape_path into forge API URLs (forges/github.c:
 * "%s/repos/%s/issues/...") and through names_pr into database names: it
 * must fit, be OWNER/NAME of [A-Za-z0-9._-/], escape reversibly and name
 * a database. number is the pull request's.
 */
static inline void
fuzz_check_repo(const char *provider, const char *repo, long long number)
{
	char name[NAMES_SIZE];
	size_t n = strlen(repo), i;

	if (!webhook_repo_ok(repo))
		return;
	FUZZ_CHECK(n > 0 && n < ENV_REPO_SIZE, "accepted %zu bytes", n);
	FUZZ_CHECK(strchr(repo, '/') != NULL && repo[0] != '/' &&
	    repo[n - 1] != '/' && strstr(repo, "//") == NULL,
	    "accepted \"%s\": not OWNER/NAME", repo);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/", repo[i]) != NULL,
		    "accepted \"%s\" with byte 0x%02x", repo,
		    (unsigned char)repo[i]);
	fuzz_check_escape(repo, false);
	fuzz_check_escape(repo, true);
	/* Pull request numbers as forges hand them out (names_pr leaves 18
	 * characters for the number and the slug). */
	if (number > 0 && number < 1000000000000LL) {
		FUZZ_CHECK(names_pr(provider, repo, number, 0, name) == 0,
		    "names_pr refused \"%s\" #%lld", repo, number);
		FUZZ_CHECK(names_valid(name), "names_pr(\"%s\", %lld) gave "
		    "\"%s\", which names_valid refuses", repo, number, name);
	}
}

/* A commit id webhook_sha_ok accepts: lower-case hex, 7 to 64 digits. */
static inline void
fuzz_check_sha(const char *sha)
{
	size_t n = strlen(sha);

	if (!webhook_sha_ok(sha))
		return;
	FUZZ_CHECK(n >= 7 && n <= 64 && n < ENV_SHA_SIZE &&
	    strspn(sha, "0123456789abcdef") == n, "accepted sha \"%s\"", sha);
}

/* A time the handler parsed is one previewd can write back (the API
 * shows event times with time_rfc3339): no overflow on the way. */
static inline void
fuzz_check_time(int (*parse)(const char *, int64_t *), const char *s)
{
	int64_t t;
	char out[RFC3339_LEN];

	if (parse(s, &t) != 0)
		return;
	time_rfc3339(t, out);
	FUZZ_CHECK(strlen(out) < RFC3339_LEN, "time_rfc3339 overran");
}

#endif
