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
 *
 * Reloading (SIGHUP): the main thread loads the file again; if it is
 * valid, config_install makes it the one in force (config_current), else
 * the old one stays. Threads pick up the current config at the start of
 * each request, job or reaper pass. Configs once in force are kept until
 * exit, since a thread may still be reading one.
 */
#ifndef PREVIEWD_CONFIG_H
#define PREVIEWD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/crypto.h"
#include "lib/util.h"

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
	char *migrations_tool; /* "auto" or a tool of core/tools.c's table */
	char *seed;           /* repo:PATH | file:/abs | blueprint:NAME | none */
	int64_t migration_timeout; /* seconds; 0: [server] migration_timeout */
	int64_t max_environments;  /* 0: only [server] max_environments */
	char *comment_password; /* NULL: [server] comment_password */
	/* Pre-migrated pool members (issue 15): "none" or "base" (keep
	 * prewarm_size members holding the default branch's migrations and
	 * seed). */
	char *prewarm;
	int64_t prewarm_size;
	/* With [pgbouncer]: server connections pgbouncer keeps for each of
	 * its environments (0: [pgbouncer] default_pool_size), and the
	 * roles' CONNECTION LIMIT for direct ones (0: none). */
	int64_t pool_size;
	int64_t connection_limit;
};

/* The shortest admin and CI token accepted: 24 characters of a random
 * token are beyond guessing, fewer may not be. */
#define CONFIG_TOKEN_MIN 24
/* Webhook secrets shorter than this load with a warning: the forge's UI
 * may limit what the operator can choose. */
#define CONFIG_WEBHOOK_SECRET_MIN 16

struct config {
	char *path;
	/* "FILE:LINE: warning: message" lines for what loads but should
	 * not stay so (a short webhook secret), NULL when none. Never
	 * holds a secret. */
	char *warnings;
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
		int64_t shutdown_timeout;
		/* The longest a migration file or the seed may run, seconds. */
		int64_t migration_timeout;
		/* Pull request environments holding a database at once
		 * (0: no cap); past it they wait as "queued". */
		int64_t max_environments;
		char *tls_cert;          /* PEM certificate (chain) */
		char *tls_key;           /* PEM private key */
		/* POST /api/v1/databases: the longest ttl granted and how
		 * many CI databases may live at once */
		int64_t max_ttl;
		int64_t max_databases;
		/* Seconds a request's headers and body may take to arrive */
		int64_t request_timeout;
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
		int64_t orphan_grace;
	} reaper;
	/* [pgbouncer] (core/pooler.h): "off", "managed" (previewd runs it)
	 * or "external" (previewd writes its files and drives its admin
	 * console). */
	struct {
		char *mode;
		char *listen;            /* host:port pgbouncer listens on */
		char *public_host;       /* host[:port] in pooled URLs */
		char *pool_mode;         /* transaction | session */
		int64_t default_pool_size;
		int64_t max_client_conn;
		char *binary;
		char *admin_user;
		char *config_dir;
		char *database_url;      /* pooled | direct */
		char *user;              /* run as, when previewd is root */
	} pgbouncer;
	struct repo_cfg *repos;
	size_t nrepos;
};

/* Load and validate path. On success *out owns a new config (whose
 * warnings the caller shows); on failure every error is appended to
 * errors, one "FILE:LINE: message" per line. Tokens (admin and CI, of
 * the server and of each repository) must be CONFIG_TOKEN_MIN characters
 * or longer and all differ; messages name keys, never values. */
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

/* The configuration in force (any thread), and making cfg it (main
 * thread; cfg is then owned here). Installing also makes cfg's secrets
 * the ones lib/scrub.h masks. */
const struct config *config_current(void);
void config_install(struct config *cfg);
/* Free every config ever installed: at exit, after all threads stop. */
void config_release_all(void);

/* Keys that only a restart can change (listen, state_path, workers,
 * templates_dir): copy their old values into fresh, logging a warning for
 * each that differs. */
void config_keep_fixed(struct config *fresh, const struct config *old);

/* Key names, for the documentation check: calls fn for "section.key". */
void config_each_key(void (*fn)(const char *section, const char *key,
    void *arg), void *arg);

#endif
