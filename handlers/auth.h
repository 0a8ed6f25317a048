/*
 * auth: who is asking — bearer tokens for the API.
 *
 * Tokens are compared with crypto_token_eq (constant time, length hidden).
 * A repository's own ci_token reads that repository only.
 */
#ifndef PREVIEWD_AUTH_H
#define PREVIEWD_AUTH_H

#include "handlers/http.h"

enum auth_level {
	AUTH_NONE,       /* no or wrong token */
	AUTH_REPO,       /* the ci_token of the repository asked about */
	AUTH_CI,         /* [server] ci_token */
	AUTH_ADMIN,      /* [server] admin_token */
};

/* The level of the request's "Authorization: Bearer" token. repo is the
 * repository the request is about, or NULL. */
enum auth_level auth_bearer(const struct request *req, const char *repo);

/* Answer 401 with a Bearer challenge. */
void auth_deny(struct request *req);

#endif
