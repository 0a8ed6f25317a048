/*
 * github_app: installation tokens for a GitHub App.
 *
 * previewd signs an RS256 JWT with libjwt (iat = now - 60 s against clock
 * drift, exp = now + 9 min, under GitHub's 10-minute limit; iss = app_id)
 * with the App's private key, exchanges it at
 * POST {api_url}/app/installations/{id}/access_tokens, and keeps each
 * installation's token until five minutes before it expires. The cache
 * and the key, read once from private_key_file, are shared by all
 * workers under one mutex.
 */
#ifndef PREVIEWD_GITHUB_APP_H
#define PREVIEWD_GITHUB_APP_H

#include "forges/forge.h"

/* The installation's token into out. */
enum forge_rc github_app_token(struct forge_call *call, int64_t installation,
    char *out, size_t outsz);

/* The App's slug, from GET /app with the App's JWT: its comments are
 * written by the account "<slug>[bot]". */
enum forge_rc github_app_slug(struct forge_call *call, char *out,
    size_t outsz);

/* A signed JWT for the App (for tests and the exchange). */
int github_app_jwt(const struct config *cfg, char *out, size_t outsz)
    MUST_CHECK;

#endif
