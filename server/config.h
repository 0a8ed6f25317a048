/*
 * config: previewd.conf, an INI file read with libinih.
 *
 * Every key lives in one table (config.c, sorted by section and key) with
 * its type, default and whether it is required; check-docs verifies that
 * each appears in the README. A value "env:NAME" is read from the
 * environment, "file:PATH" from a file (trailing newlines trimmed),
 * anything else is taken literally.
 *
 * Loading reports every problem as "FILE:LINE: message" and applies
 * nothing when there is one: a struct config either is complete and valid
 * or does not exist. A loaded config is immutable; it is shared read-only
 * by all threads.
 */
#ifndef PREVIEWD_CONFIG_H
#define PREVIEWD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "server/crypto.h"
#include "server/util.h"

/* [postgres] and [mysql]: one database server each. */
struct engine_cfg {
	bool configured;
	int line;
	char *admin_url;      /* a role that may create databases and roles */
	char *public_host;    /* host[:port] written into handed-out URLs */
	int64_t pool_size;    /* idle databases kept ready */
};

/* [repo:OWNER/NAME] or [repo:OWNER/ *] (written without the space). */
struct repo_cfg {
	char *pattern;
	int line;
	char *engine;         /* "postgres" or "mysql"; default: postgres when
	                         configured, else mysql */
	int64_t ttl;          /* idle seconds before the environment is reaped */
	char *ci_token;       /* optional token that reads this repository only */
	char *forks;          /* "deny" or "allow" */
	char *migrations;     /* repo:PATH | dir:/abs | blueprint:NAME | none */
	char *seed;           /* repo:PATH | file:/abs | blueprint:NAME | none */
	char *comment_password; /* NULL: [server] comment_password */
};

struct config {
	char *path;
	struct {
		char *listen;
		char *public_url;
		char *state_path;
		unsigned char secret_key[CRYPTO_KEY_LEN];
		char *admin_token;
		char *ci_token;
		int64_t workers;
		char *log_level;
		char *log_format;
		char *templates_dir;
		char *comment_password;  /* private-only | never | always */
	} server;
	struct engine_cfg postgres;
	struct engine_cfg mysql;
	struct {
		bool configured;
		char *webhook_secret;
		char *token;
		char *api_url;
		int64_t app_id;          /* 0: no GitHub App */
		char *private_key_file;
	} github;
	struct {
		bool configured;
		char *token;
		char *api_url;
		char *webhook_token;     /* X-Gitlab-Token */
		char *signing_token;     /* whsec_...: Standard Webhooks */
	} gitlab;
	struct {
		bool configured;
		char *webhook_secret;
		char *token;
		char *api_url;
	} vercel;
	struct {
		int64_t interval;
	} reaper;
	struct repo_cfg *repos;
	size_t nrepos;
};

/* Load and validate path. On success *out owns a new config; on failure
 * every error is appended to errors, one "FILE:LINE: message" per line. */
int config_load(const char *path, struct config **out, struct buf *errors)
    MUST_CHECK;

void config_free(struct config *cfg);

/* The section for repo ("owner/name", nested groups allowed): an exact
 * match wins over the longest "prefix/ *" match; names compare without
 * case, as the forges do. NULL when the repository is not configured. */
const struct repo_cfg *config_repo(const struct config *cfg, const char *repo);

/* The [postgres] or [mysql] section by engine name, NULL when unknown or
 * not configured. */
const struct engine_cfg *config_engine(const struct config *cfg,
    const char *engine);

/* Key names, for the documentation check: calls fn for "section.key". */
void config_each_key(void (*fn)(const char *section, const char *key,
    void *arg), void *arg);

#endif
