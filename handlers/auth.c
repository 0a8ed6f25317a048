/*
 * auth: bearer token checks.
 */
#include "handlers/auth.h"

#include <string.h>
#include <strings.h>

#include "lib/crypto.h"

enum auth_level
auth_bearer(const struct request *req, const char *repo)
{
	const char *h = http_header(req, "Authorization");
	const struct repo_cfg *rc;
	size_t n;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return AUTH_NONE;
	for (h += 7; *h == ' '; h++)
		;
	for (n = strlen(h); n > 0 && h[n - 1] == ' '; n--)
		;
	if (n == 0)
		return AUTH_NONE;
	if (crypto_token_eq(h, n, req->cfg->server.admin_token))
		return AUTH_ADMIN;
	if (crypto_token_eq(h, n, req->cfg->server.ci_token))
		return AUTH_CI;
	if (repo != NULL && (rc = config_repo(req->cfg, repo)) != NULL &&
	    crypto_token_eq(h, n, rc->ci_token))
		return AUTH_REPO;
	return AUTH_NONE;
}

void
auth_deny(struct request *req)
{
	static const char body[] = "{\"error\":{\"code\":\"unauthorized\","
	    "\"message\":\"a valid Authorization: Bearer token is required\"}}";
	static const char *const headers[] = {
		"WWW-Authenticate", "Bearer realm=\"previewd\"", NULL,
	};

	http_reply_headers(req, 401, "application/json", headers, body,
	    sizeof(body) - 1);
}
