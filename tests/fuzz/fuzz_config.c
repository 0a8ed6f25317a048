/*
 * fuzz_config: config_load on an arbitrary previewd.conf.
 *
 * The input is written to a fresh mkstemp file under $TMPDIR (or /tmp),
 * loaded and unlinked. The environment variables a config may name with
 * "env:" are set to fixed values first; the token-like ones carry the
 * marker "fuzz-secret-" so that a secret showing up in an error message
 * is caught.
 *
 * "file:PATH" values read arbitrary files, read-only. Reading a FIFO, a
 * terminal or /proc/kmsg would block the fuzzer, though, so this target is
 * linked with -Wl,--wrap=fopen and opens only regular files outside /proc,
 * /sys and /dev (anything else fails as if unreadable).
 *
 * Invariants, beyond "no sanitizer report, no leak":
 *   - on failure there is at least one error and every error line reads
 *     "FILE:LINE: message" (config.h); no error line holds a secret;
 *   - on success the config is complete: the required keys are set, the
 *     numbers are within their ranges, at least one database server is
 *     configured, every [repo:...] has an engine that is configured, and
 *     config_repo finds each repository section by its own pattern.
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <limits.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"

#define SECRET_MARK "fuzz-secret-"

static const struct {
	const char *name;
	const char *value;
} env[] = {
	{ "PREVIEWD_SECRET_KEY",
	  "f00dfacef00dfacef00dfacef00dfacef00dfacef00dfacef00dfacef00dface" },
	{ "PREVIEWD_ADMIN_TOKEN", SECRET_MARK "admin-91f3c0de5e" },
	{ "PREVIEWD_CI_TOKEN", SECRET_MARK "ci-5be0f1a9c3d7b" },
	{ "GITHUB_WEBHOOK_SECRET", SECRET_MARK "github-2c77" },
	{ "GITHUB_TOKEN", SECRET_MARK "ghtoken-8e01" },
	{ "GITLAB_TOKEN", SECRET_MARK "gltoken-44c2" },
	{ "GITLAB_WEBHOOK_TOKEN", SECRET_MARK "gitlab-0d4e" },
	{ "GITLAB_SIGNING_TOKEN", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" },
	{ "VERCEL_WEBHOOK_SECRET", SECRET_MARK "vercel-a1b9" },
	{ "VERCEL_TOKEN", SECRET_MARK "vctoken-19bd" },
	{ "PREVIEWD_PG_URL", "postgresql://previewd:" SECRET_MARK "pg-77aa@"
	  "db.internal:5432/postgres" },
	{ "PREVIEWD_MYSQL_URL", "mysql://root:" SECRET_MARK "my-3c0f@"
	  "mysql.internal:3306/" },
	/* An admin URL that does not parse: its error must not show it. */
	{ "PREVIEWD_BAD_URL", "postgresql://previewd:" SECRET_MARK "bad-5d1e@"
	  "db.internal:99999/postgres" },
	{ "PREVIEWD_EMPTY", "" },
};

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);

FILE *
__wrap_fopen(const char *path, const char *mode)
{
	char real[PATH_MAX];
	struct stat st;

	if (realpath(path, real) == NULL || stat(real, &st) != 0)
		return NULL;
	if (!S_ISREG(st.st_mode) || strncmp(real, "/proc/", 6) == 0 ||
	    strncmp(real, "/sys/", 5) == 0 || strncmp(real, "/dev/", 5) == 0) {
		errno = EACCES;
		return NULL;
	}
	return __real_fopen(real, mode);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (setenv(env[i].name, env[i].value, 1) != 0)
			abort();
	return 0;
}

static void
check_errors(const char *path, const struct buf *errors, bool mark_in_input)
{
	const char *line;
	size_t plen = strlen(path);

	FUZZ_CHECK(errors->len > 0 && errors->data != NULL,
	    "config_load failed without an error");
	for (line = errors->data; *line != '\0'; ) {
		const char *nl = strchr(line, '\n'), *p = line + plen;

		FUZZ_CHECK(nl != NULL, "error line without newline: \"%s\"", line);
		FUZZ_CHECK(strncmp(line, path, plen) == 0 && *p == ':' &&
		    p[1] >= '0' && p[1] <= '9',
		    "error line not \"FILE:LINE: message\": \"%.*s\"",
		    (int)(nl - line), line);
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
		FUZZ_CHECK(p[0] == ':' && p[1] == ' ', "error line not "
		    "\"FILE:LINE: message\": \"%.*s\"", (int)(nl - line), line);
		/* private_key_file is a path, which its error names. */
		FUZZ_CHECK(mark_in_input || !fuzz_contains(line,
		    (size_t)(nl - line), SECRET_MARK) || fuzz_contains(line,
		    (size_t)(nl - line), "\"private_key_file\""),
		    "a secret in an error: \"%.*s\"", (int)(nl - line), line);
		line = nl + 1;
	}
}

static void
check_engine(const char *name, const struct engine_cfg *e)
{
	if (!e->configured)
		return;
	FUZZ_CHECK(e->admin_url != NULL, "[%s] without admin_url", name);
	FUZZ_CHECK(e->pool_size >= 0 && e->pool_size <= 100,
	    "[%s] pool_size %lld", name, (long long)e->pool_size);
}

static void
check_config(const char *path, const struct config *c)
{
	size_t i;

	FUZZ_CHECK(c->path != NULL && strcmp(c->path, path) == 0, "path");
	FUZZ_CHECK(c->server.listen != NULL && c->server.public_url != NULL &&
	    c->server.state_path != NULL && c->server.admin_token != NULL &&
	    c->server.log_level != NULL && c->server.log_format != NULL &&
	    c->server.templates_dir != NULL &&
	    c->server.comment_password != NULL, "[server] incomplete");
	FUZZ_CHECK(c->server.workers >= 1 && c->server.workers <= 64,
	    "workers %lld", (long long)c->server.workers);
	FUZZ_CHECK(c->reaper.interval >= 1 && c->reaper.interval <= 86400,
	    "reaper interval %lld", (long long)c->reaper.interval);
	FUZZ_CHECK(c->postgres.configured || c->mysql.configured,
	    "no database server");
	check_engine("postgres", &c->postgres);
	check_engine("mysql", &c->mysql);
	FUZZ_CHECK(!c->github.configured || (c->github.webhook_secret != NULL &&
	    c->github.api_url != NULL && c->github.app_id >= 0), "[github]");
	FUZZ_CHECK(!c->vercel.configured || (c->vercel.webhook_secret != NULL &&
	    c->vercel.api_url != NULL), "[vercel]");
	FUZZ_CHECK(!c->gitlab.configured || c->gitlab.signing_token == NULL ||
	    strncmp(c->gitlab.signing_token, "whsec_", 6) == 0,
	    "[gitlab] signing_token");

	/* Tokens: long enough, all different; warnings show no secret. */
	FUZZ_CHECK(strlen(c->server.admin_token) >= CONFIG_TOKEN_MIN,
	    "short admin_token loaded");
	FUZZ_CHECK(c->server.ci_token == NULL ||
	    (strlen(c->server.ci_token) >= CONFIG_TOKEN_MIN &&
	    strcmp(c->server.ci_token, c->server.admin_token) != 0),
	    "ci_token short or equal to admin_token");
	for (i = 0; i < c->nrepos; i++)
		FUZZ_CHECK(c->repos[i].ci_token == NULL ||
		    (strlen(c->repos[i].ci_token) >= CONFIG_TOKEN_MIN &&
		    strcmp(c->repos[i].ci_token, c->server.admin_token) != 0),
		    "[repo:%s] ci_token short or equal to admin_token",
		    c->repos[i].pattern);
	FUZZ_CHECK(c->warnings == NULL || strstr(c->warnings, SECRET_MARK) ==
	    NULL, "a secret in the warnings:\n%s", c->warnings);

	for (i = 0; i < c->nrepos; i++) {
		const struct repo_cfg *r = &c->repos[i];
		const struct repo_cfg *found;
		size_t n;

		FUZZ_CHECK(r->pattern != NULL && r->engine != NULL &&
		    r->forks != NULL && r->migrations != NULL && r->seed != NULL,
		    "[repo:...] %zu incomplete", i);
		FUZZ_CHECK(config_engine(c, r->engine) != NULL,
		    "[repo:%s] engine \"%s\" not configured", r->pattern,
		    r->engine);
		FUZZ_CHECK(r->ttl >= 1 && r->ttl <= (int64_t)365 * 86400,
		    "[repo:%s] ttl %lld", r->pattern, (long long)r->ttl);
		n = strlen(r->pattern);
		if (n > 0 && r->pattern[n - 1] == '*') {
			char *repo = fuzz_strndup(r->pattern, n);

			repo[n - 1] = 'x';     /* owner/x under owner/ * */
			found = config_repo(c, repo);
			FUZZ_CHECK(found != NULL, "[repo:%s] does not match \"%s\"",
			    r->pattern, repo);
			free(repo);
		} else {
			found = config_repo(c, r->pattern);
			FUZZ_CHECK(found == r, "config_repo(\"%s\") gave [repo:%s]",
			    r->pattern, found ? found->pattern : "(none)");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	char path[PATH_MAX];
	struct config *cfg = NULL;
	struct buf errors;
	size_t off = 0;
	int fd;

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (str_printf(path, sizeof(path), "%s/previewd-fuzz-config-XXXXXX",
	    tmp) != 0 || (fd = mkstemp(path)) < 0)
		abort();
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	close(fd);

	buf_init(&errors, 1 << 20);
	if (config_load(path, &cfg, &errors) == 0) {
		FUZZ_CHECK(cfg != NULL, "config_load succeeded without a config");
		FUZZ_CHECK(errors.len == 0, "succeeded with errors:\n%s",
		    errors.data);
		check_config(path, cfg);
		config_free(cfg);
	} else {
		FUZZ_CHECK(cfg == NULL, "config_load failed but set *out");
		check_errors(path, &errors, fuzz_contains((const char *)data,
		    size, SECRET_MARK));
	}
	buf_release(&errors);
	unlink(path);
	return 0;
}
