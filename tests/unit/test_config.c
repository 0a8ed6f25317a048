/*
 * Unit tests for lib/config: loading previewd.conf as an operator
 * writes it, and the errors an operator reads when it is wrong.
 *
 *   - a file setting every key of the table loads, each value landing in
 *     struct config (durations in seconds, secret_key as bytes); the test
 *     checks the file really covers every key config_each_key reports;
 *   - defaults for omitted keys, public_url derived from listen;
 *   - env:NAME and file:PATH values;
 *   - each kind of error reported as "FILE:LINE: " at the right line
 *     (the offending line of each sample is marked with a ";<-" comment),
 *     several errors all reported, nothing returned on error, and no
 *     secret value in any message;
 *   - lines longer than inih's default 200 characters;
 *   - config_repo matching and config_engine;
 *   - admin and CI tokens (server and repository) shorter than 24
 *     characters or equal to another are errors naming the keys, also
 *     when they come from file: or env:; a short webhook secret is a
 *     warning; an admin URL with a bad percent-escape is an error that
 *     does not show it; config_install registers the secrets that
 *     lib/scrub.h masks.
 *
 * Each test writes its files into its own mkdtemp directory, removed by
 * the teardown. Environment variables are set and unset by the test that
 * uses them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <limits.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/scrub.h"

#define KEY64 "000102030405060708090a0b0c0d0e0f" \
              "101112131415161718191a1b1c1d1e1f"
/* Tokens long enough for config_validate (CONFIG_TOKEN_MIN). */
#define ADMIN_TOK "adm-token-0123456789abcdef"
#define CI_TOK "ci-token-0123456789abcdefgh"
#define REPO_TOK "repo-ci-0123456789abcdefghi"
/* A valid [server] (lines 1-3) and [postgres] (2 lines). */
#define SERVER "[server]\nsecret_key = " KEY64 "\nadmin_token = " ADMIN_TOK "\n"
#define PG "[postgres]\nadmin_url = postgresql://admin@db.internal/postgres\n"

struct fx {
	char dir[PATH_MAX];
	char path[PATH_MAX];     /* the config file */
	struct buf errors;
	struct config *cfg;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_config.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/previewd.conf", f->dir);
	buf_init(&f->errors, 1 << 20);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	struct dirent *de;
	char p[PATH_MAX + 256];
	DIR *d;

	config_free(f->cfg);
	buf_release(&f->errors);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Write name in the test's directory; returns its path (static). */
static const char *
write_aux(struct fx *f, const char *name, const char *text)
{
	static char p[PATH_MAX + 256];

	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	write_file(p, text, strlen(text));
	return p;
}

static int
load(struct fx *f, const char *text)
{
	config_free(f->cfg);
	f->cfg = NULL;
	buf_reset(&f->errors);
	write_file(f->path, text, strlen(text));
	return config_load(f->path, &f->cfg, &f->errors);
}

static void
load_ok(struct fx *f, const char *text)
{
	if (load(f, text) != 0)
		fail_msg("config did not load:\n%s\nerrors:\n%s", text,
		    f->errors.data ? f->errors.data : "(none)");
	assert_non_null(f->cfg);
	assert_true(f->errors.len == 0);
}

static size_t
error_lines(const struct fx *f)
{
	size_t i, n = 0;

	for (i = 0; i < f->errors.len; i++)
		if (f->errors.data[i] == '\n')
			n++;
	return n;
}

/* Some error line reads "PATH:LINE: ...what...". */
static bool
has_error(const struct fx *f, int line, const char *what)
{
	char prefix[PATH_MAX + 32];
	const char *p = f->errors.data, *nl;

	if (p == NULL)
		return false;
	snprintf(prefix, sizeof(prefix), "%s:%d: ", f->path, line);
	for (; *p != '\0'; p = nl + 1) {
		char one[4096];
		size_t n;

		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		n = (size_t)(nl - p) < sizeof(one) - 1 ? (size_t)(nl - p) :
		    sizeof(one) - 1;
		memcpy(one, p, n);
		one[n] = '\0';
		if (str_starts(one, prefix) && strstr(one, what) != NULL)
			return true;
		if (*nl == '\0')
			break;
	}
	return false;
}

static void
assert_error(const struct fx *f, int line, const char *what)
{
	if (!has_error(f, line, what))
		fail_msg("no error \"%s:%d: ...%s...\"; errors were:\n%s",
		    f->path, line, what, f->errors.data ? f->errors.data :
		    "(none)");
}

/* The 1-based line of text holding the ";<-" marker. */
static int
marked_line(const char *text)
{
	const char *m = strstr(text, ";<-"), *p;
	int line = 1;

	assert_non_null(m);
	for (p = text; p < m; p++)
		if (*p == '\n')
			line++;
	return line;
}

/* ---- a complete, valid file ---- */

/* A previewd.conf setting every key. The line numbers noted on the right
 * are asserted below: a new [server] key replaces a line (a blank one,
 * or the first comment line), it is not inserted. */
static const char full_text[] =
    "[server]\n"
    "max_environments = 150\n"
    "listen = 0.0.0.0:9090\n"
    "public_url = https://previews.example.com\n"
    "state_path = /srv/previewd/state.db\n"
    "secret_key = " KEY64 "\n"
    "admin_token = " ADMIN_TOK "\n"
    "ci_token = " CI_TOK "\n"
    "workers = 8\n"
    "log_level = debug\n"
    "log_format = json\n"
    "templates_dir = /usr/share/previewd/templates\n"
    "comment_password = never\n"
    "shutdown_timeout = 45s\n"
    "tls_cert = /dev/null\n"
    "tls_key = /dev/null\n"
    "max_ttl = 12h\n"
    "max_databases = 20\n"
    "migration_timeout = 5m\n"
    "request_timeout = 12s\n"
    "[postgres]\n"                                               /* 21 */
    "admin_url = postgresql://admin:pw%40x@db.internal:5432/postgres\n"
    "public_host = db.example.com:6432\n"
    "pool_size = 5\n"
    "[github]\n"
    "api_url = https://github.example.com/api/v3\n"
    "token = ghp_token\n"
    "webhook_secret = whsec\n"
    "app_id = 12345\n"
    "private_key_file = /dev/null\n"
    "\n"
    "[reaper]\n"
    "interval = 10m\n"
    "orphan_grace = 15m\n"
    "\n"
    "[repo:acme/shop]\n"                                         /* 36 */
    "engine = postgres\n"
    "ttl = 2d\n"
    "ci_token = " REPO_TOK "\n"
    "forks = allow\n"
    "prewarm = base\n"
    "[mysql]\n"                                                  /* 42 */
    "admin_url = mysql://root:pw@mysql.internal:3306/mysql\n"
    "public_host = mysql.example.com:3307\n"
    "pool_size = 3\n"
    "\n"
    "[repo:acme/api]\n"                                          /* 47 */
    "engine = mysql\n"
    "migrations = dir:/srv/migrations\n"
    "seed = file:/srv/seed.sql\n"
    "migration_timeout = 90s\n"
    "comment_password = always\n"
    "max_environments = 30\n"
    "migrations_tool = dbmate\n"
    "prewarm_size = 0\n"
    "pool_size = 4\n"
    "connection_limit = 12\n"
    "[gitlab]\n"
    "api_url = https://gitlab.example.com/api/v4\n"
    "token = glpat-token\n"
    "webhook_token = gl-hook\n"
    "signing_token = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
    "\n"
    "[vercel]\n"
    "webhook_secret = v-secret\n"
    "token = v-token\n"
    "api_url = https://vercel.example.com\n"
    "[pgbouncer]\n"
    "mode = managed\n"
    "listen = 127.0.0.1:7432\n"
    "public_host = pool.example.com:6432\n"
    "pool_mode = session\n"
    "default_pool_size = 7\n"
    "max_client_conn = 500\n"
    "binary = /opt/pgbouncer/bin/pgbouncer\n"
    "admin_user = pgb_admin\n"
    "config_dir = /srv/previewd/pgbouncer\n"
    "database_url = direct\n"
    "user = postgres\n";

static void
test_full_file_loads_every_value(void **state)
{
	struct fx *f = *state;
	const struct config *c;
	size_t i;

	load_ok(f, full_text);
	c = f->cfg;
	assert_string_equal(c->path, f->path);
	assert_string_equal(c->server.listen, "0.0.0.0:9090");
	assert_string_equal(c->server.public_url, "https://previews.example.com");
	assert_string_equal(c->server.state_path, "/srv/previewd/state.db");
	for (i = 0; i < CRYPTO_KEY_LEN; i++)
		assert_int_equal(c->server.secret_key[i], i);
	assert_string_equal(c->server.admin_token, ADMIN_TOK);
	assert_string_equal(c->server.ci_token, CI_TOK);
	assert_int_equal(c->server.workers, 8);
	assert_string_equal(c->server.log_level, "debug");
	assert_string_equal(c->server.log_format, "json");
	assert_string_equal(c->server.tls_cert, "/dev/null");
	assert_string_equal(c->server.tls_key, "/dev/null");
	assert_int_equal(c->server.max_ttl, 12 * 3600);
	assert_int_equal(c->server.max_databases, 20);
	assert_int_equal(c->server.migration_timeout, 300);
	assert_int_equal(c->server.max_environments, 150);
	assert_int_equal(c->server.request_timeout, 12);

	assert_true(c->postgres.configured);
	assert_int_equal(c->postgres.line, 21);
	assert_string_equal(c->postgres.admin_url,
	    "postgresql://admin:pw%40x@db.internal:5432/postgres");
	assert_string_equal(c->postgres.public_host, "db.example.com:6432");
	assert_int_equal(c->postgres.pool_size, 5);

	assert_true(c->github.configured);
	assert_string_equal(c->github.api_url,
	    "https://github.example.com/api/v3");
	assert_string_equal(c->github.token, "ghp_token");
	assert_string_equal(c->github.webhook_secret, "whsec");

	assert_int_equal(c->reaper.interval, 600);
	assert_int_equal(c->reaper.orphan_grace, 900);
	assert_int_equal(c->server.shutdown_timeout, 45);

	assert_true(c->mysql.configured);
	assert_int_equal(c->mysql.line, 42);
	assert_string_equal(c->mysql.admin_url,
	    "mysql://root:pw@mysql.internal:3306/mysql");
	assert_string_equal(c->mysql.public_host, "mysql.example.com:3307");
	assert_int_equal(c->mysql.pool_size, 3);

	assert_int_equal(c->nrepos, 2);
	assert_string_equal(c->repos[0].pattern, "acme/shop");
	assert_int_equal(c->repos[0].line, 36);
	assert_string_equal(c->repos[0].engine, "postgres");
	assert_int_equal(c->repos[0].ttl, 2 * 86400);
	assert_string_equal(c->repos[0].ci_token, REPO_TOK);
	assert_string_equal(c->repos[0].forks, "allow");
	assert_string_equal(c->repos[1].pattern, "acme/api");
	assert_int_equal(c->repos[1].line, 47);
	assert_int_equal(c->repos[1].migration_timeout, 90);
	assert_int_equal(c->repos[1].pool_size, 4);
	assert_int_equal(c->repos[1].connection_limit, 12);
	assert_int_equal(c->repos[0].pool_size, 0);
	assert_int_equal(c->repos[0].connection_limit, 0);
	assert_string_equal(c->pgbouncer.mode, "managed");
	assert_string_equal(c->pgbouncer.listen, "127.0.0.1:7432");
	assert_string_equal(c->pgbouncer.public_host, "pool.example.com:6432");
	assert_string_equal(c->pgbouncer.pool_mode, "session");
	assert_int_equal(c->pgbouncer.default_pool_size, 7);
	assert_int_equal(c->pgbouncer.max_client_conn, 500);
	assert_string_equal(c->pgbouncer.binary, "/opt/pgbouncer/bin/pgbouncer");
	assert_string_equal(c->pgbouncer.admin_user, "pgb_admin");
	assert_string_equal(c->pgbouncer.config_dir, "/srv/previewd/pgbouncer");
	assert_string_equal(c->pgbouncer.database_url, "direct");
	assert_string_equal(c->pgbouncer.user, "postgres");
	assert_int_equal(c->repos[1].max_environments, 30);
	assert_int_equal(c->repos[0].migration_timeout, 0);   /* the server's */
	assert_string_equal(c->repos[1].engine, "mysql");
	assert_int_equal(c->repos[1].ttl, 72 * 3600);
	assert_string_equal(c->repos[1].forks, "deny");
	assert_string_equal(c->repos[0].migrations, "none");
	assert_string_equal(c->repos[0].seed, "none");
	assert_string_equal(c->repos[1].migrations, "dir:/srv/migrations");
	assert_string_equal(c->repos[0].migrations_tool, "auto");
	assert_string_equal(c->repos[1].migrations_tool, "dbmate");
	/* file: here names the seed; it is not read as the value. */
	assert_string_equal(c->repos[1].seed, "file:/srv/seed.sql");
	assert_string_equal(c->server.templates_dir,
	    "/usr/share/previewd/templates");
	assert_true(c->gitlab.configured);
	assert_string_equal(c->gitlab.api_url,
	    "https://gitlab.example.com/api/v4");
	assert_string_equal(c->gitlab.token, "glpat-token");
	assert_string_equal(c->gitlab.webhook_token, "gl-hook");
	assert_string_equal(c->gitlab.signing_token,
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
	assert_true(c->vercel.configured);
	assert_string_equal(c->vercel.webhook_secret, "v-secret");
	assert_string_equal(c->vercel.token, "v-token");
	assert_string_equal(c->vercel.api_url, "https://vercel.example.com");
	assert_string_equal(c->server.comment_password, "never");
	assert_null(c->repos[0].comment_password);
	assert_string_equal(c->repos[1].comment_password, "always");
	assert_string_equal(c->repos[0].prewarm, "base");
	assert_int_equal(c->repos[0].prewarm_size, 2);
	assert_string_equal(c->repos[1].prewarm, "none");
	assert_int_equal(c->repos[1].prewarm_size, 0);
	assert_int_equal(c->github.app_id, 12345);
	assert_string_equal(c->github.private_key_file, "/dev/null");
}

struct key_list {
	char keys[64][64];
	size_t n;
};

static void
collect_key(const char *section, const char *key, void *arg)
{
	struct key_list *l = arg;

	assert_true(l->n < ARRAY_SIZE(l->keys));
	snprintf(l->keys[l->n++], sizeof(l->keys[0]), "%s.%s", section, key);
}

/* The full file above must set every key in config.c's table, so that a
 * key added there without a test shows up here. */
static void
test_full_file_covers_every_key(void **state)
{
	struct key_list table = { .n = 0 };
	char set[96][64], line[256], section[64] = "";
	size_t nset = 0, i, j;
	const char *p = full_text;

	(void)state;
	config_each_key(collect_key, &table);
	assert_true(table.n >= 20);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p);

		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (line[0] == '[') {
			*strchr(line, ']') = '\0';
			snprintf(section, sizeof(section), "%s",
			    str_starts(line + 1, "repo:") ? "repo" : line + 1);
		} else if (strchr(line, '=') != NULL) {
			*strchr(line, ' ') = '\0';
			snprintf(set[nset++], sizeof(set[0]), "%s.%s", section,
			    line);
		}
	}
	for (i = 0; i < table.n; i++) {
		for (j = 0; j < nset; j++)
			if (strcmp(table.keys[i], set[j]) == 0)
				break;
		if (j == nset)
			fail_msg("key %s is not set by the full test file",
			    table.keys[i]);
	}
	for (j = 0; j < nset; j++) {
		for (i = 0; i < table.n; i++)
			if (strcmp(table.keys[i], set[j]) == 0)
				break;
		if (i == table.n)
			fail_msg("the full test file sets %s, which is not in "
			    "the table", set[j]);
	}
}

static void
test_defaults_for_omitted_keys(void **state)
{
	struct fx *f = *state;
	const struct config *c;

	load_ok(f, SERVER PG "[github]\nwebhook_secret = s\n[repo:acme/*]\n");
	c = f->cfg;
	assert_string_equal(c->server.listen, "127.0.0.1:8080");
	assert_string_equal(c->server.public_url, "http://127.0.0.1:8080");
	assert_string_equal(c->server.state_path, "/var/lib/previewd/state.db");
	assert_int_equal(c->server.workers, 4);
	assert_int_equal(c->server.max_ttl, 24 * 3600);
	assert_int_equal(c->server.max_databases, 50);
	assert_int_equal(c->server.request_timeout, 30);
	assert_string_equal(c->server.log_level, "info");
	assert_string_equal(c->server.log_format, "text");
	assert_null(c->server.ci_token);
	assert_int_equal(c->postgres.pool_size, 2);
	assert_null(c->postgres.public_host);
	assert_false(c->mysql.configured);
	assert_string_equal(c->github.api_url, "https://api.github.com");
	assert_null(c->github.token);
	assert_int_equal(c->reaper.interval, 30);
	assert_int_equal(c->nrepos, 1);
	assert_string_equal(c->repos[0].pattern, "acme/*");
	assert_string_equal(c->repos[0].engine, "postgres");
	assert_int_equal(c->repos[0].ttl, 72 * 3600);
	assert_string_equal(c->repos[0].forks, "deny");
	assert_null(c->repos[0].ci_token);
	assert_string_equal(c->repos[0].prewarm, "none");
	assert_int_equal(c->repos[0].prewarm_size, 2);
	assert_string_equal(c->pgbouncer.mode, "off");
	assert_string_equal(c->pgbouncer.listen, "127.0.0.1:6432");
	assert_null(c->pgbouncer.public_host);
	assert_string_equal(c->pgbouncer.pool_mode, "transaction");
	assert_int_equal(c->pgbouncer.default_pool_size, 5);
	assert_int_equal(c->pgbouncer.max_client_conn, 2000);
	assert_string_equal(c->pgbouncer.binary, "/usr/sbin/pgbouncer");
	assert_string_equal(c->pgbouncer.admin_user, "previewd_pgb");
	assert_string_equal(c->pgbouncer.config_dir,
	    "/var/lib/previewd/pgbouncer");
	assert_string_equal(c->pgbouncer.database_url, "pooled");
	assert_string_equal(c->pgbouncer.user, "nobody");
}

static void
test_public_url_derived_from_listen(void **state)
{
	struct fx *f = *state;

	load_ok(f, SERVER "listen = 10.1.2.3:9000\n" PG);
	assert_string_equal(f->cfg->server.public_url, "http://10.1.2.3:9000");
	load_ok(f, SERVER "listen = [::1]:9000\n" PG);
	assert_string_equal(f->cfg->server.public_url, "http://[::1]:9000");
	/* Serving TLS, the derived address is https. */
	load_ok(f, SERVER "listen = 10.1.2.3:9443\ntls_cert = /dev/null\n"
	    "tls_key = /dev/null\n" PG);
	assert_string_equal(f->cfg->server.public_url, "https://10.1.2.3:9443");
	/* Set explicitly, it is kept as written. */
	load_ok(f, SERVER "listen = [::1]:9000\npublic_url = https://p.example\n"
	    PG);
	assert_string_equal(f->cfg->server.public_url, "https://p.example");
}

static void
test_crlf_and_blanks(void **state)
{
	struct fx *f = *state;

	load_ok(f, "\r\n; comment\r\n# comment\r\n  [server]  \r\n"
	    "secret_key = " KEY64 "\r\n"
	    "admin_token =   spaced-token-0123456789abcd   \r\n"
	    "\t workers=6\r\n"
	    "[postgres]\r\nadmin_url = postgresql://a@h/db\r\n");
	assert_string_equal(f->cfg->server.admin_token,
	    "spaced-token-0123456789abcd");
	assert_int_equal(f->cfg->server.workers, 6);
	assert_string_equal(f->cfg->postgres.admin_url, "postgresql://a@h/db");
}

/*
 * Regression: libinih skips a UTF-8 byte order mark at the
 * start of the file (INI_ALLOW_BOM), but config's own line reader does
 * not, so a file saved with a BOM (Windows editors) fails with "syntax
 * error" on line 1 and its first section is never opened.
 */
static void
test_utf8_bom_accepted(void **state)
{
	struct fx *f = *state;

	if (load(f, "\xef\xbb\xbf" SERVER PG) != 0)
		fail_msg("a file starting with a UTF-8 BOM is "
		    "rejected:\n%s", f->errors.data);
	assert_string_equal(f->cfg->server.admin_token, ADMIN_TOK);
}

/* ---- env: and file: ---- */

static void
test_env_and_file_values(void **state)
{
	struct fx *f = *state;
	const char *tok, *whs, *multi;
	char text[4096];

	assert_int_equal(setenv("PVD_TEST_ADMIN_TOKEN",
	    "from-env-0123456789abcdefgh", 1), 0);
	assert_int_equal(setenv("PVD_TEST_SECRET_KEY", KEY64, 1), 0);
	tok = strdup(write_aux(f, "token", "from-file-0123456789abcdefg\n"));
	whs = strdup(write_aux(f, "whsec", "crlf-secret\r\n\r\n"));
	multi = strdup(write_aux(f, "multi", "line1\nline2\n"));
	snprintf(text, sizeof(text),
	    "[server]\n"
	    "secret_key = env:PVD_TEST_SECRET_KEY\n"
	    "admin_token = env:PVD_TEST_ADMIN_TOKEN\n"
	    "ci_token = file:%s\n"
	    "state_path = envy:literal\n"
	    PG
	    "[github]\n"
	    "webhook_secret = file:%s\n"
	    "token = file:%s\n",
	    tok, whs, multi);
	load_ok(f, text);
	unsetenv("PVD_TEST_ADMIN_TOKEN");
	unsetenv("PVD_TEST_SECRET_KEY");

	assert_string_equal(f->cfg->server.admin_token,
	    "from-env-0123456789abcdefgh");
	assert_int_equal(f->cfg->server.secret_key[0], 0x00);
	assert_int_equal(f->cfg->server.secret_key[31], 0x1f);
	assert_string_equal(f->cfg->server.ci_token,
	    "from-file-0123456789abcdefg");
	assert_string_equal(f->cfg->server.state_path, "envy:literal");
	assert_string_equal(f->cfg->github.webhook_secret, "crlf-secret");
	/* Only trailing newlines go. */
	assert_string_equal(f->cfg->github.token, "line1\nline2");
	free((void *)tok);
	free((void *)whs);
	free((void *)multi);
}

/*
 * Regression (security): a required secret that resolves to the
 * empty string is accepted. With "webhook_secret =" every webhook is
 * checked against HMAC-SHA256 under an empty key, which anyone can
 * compute, so anyone can create and delete environments. An empty
 * admin_token silently locks the API instead. Each should be an error at
 * its line, however the empty value arrives (literal, env:, file:).
 */
static void
test_empty_required_secret_rejected(void **state)
{
	struct fx *f = *state;
	char text[2048];
	const char *empty;
	static const char *const forms[] = {
		"", "env:PVD_TEST_EMPTY_SECRET", "file:%s",
	};
	static const char *const keys[] = { "webhook_secret", "admin_token" };
	size_t i, k, loaded = 0;

	assert_int_equal(setenv("PVD_TEST_EMPTY_SECRET", "", 1), 0);
	empty = strdup(write_aux(f, "empty", "\n"));
	for (k = 0; k < ARRAY_SIZE(keys); k++) {
		for (i = 0; i < ARRAY_SIZE(forms); i++) {
			char value[PATH_MAX + 16];

			snprintf(value, sizeof(value), forms[i], empty);
			snprintf(text, sizeof(text),
			    "[server]\nsecret_key = " KEY64 "\n"
			    "admin_token = %s\n" PG
			    "[github]\nwebhook_secret = %s\n",
			    k == 1 ? value : ADMIN_TOK, k == 0 ? value :
			    "whsec");
			if (load(f, text) == 0) {
				print_error("%s = \"%s\" loads as "
				    "an empty secret\n", keys[k], value);
				loaded++;
				continue;
			}
			/* admin_token is line 3, webhook_secret line 7. */
			assert_error(f, k == 1 ? 3 : 7, keys[k]);
		}
	}
	unsetenv("PVD_TEST_EMPTY_SECRET");
	free((void *)empty);
	assert_int_equal(loaded, 0);
}

/*
 * Regression (security): "file:PATH" where PATH opens but cannot
 * be read (a directory, e.g. a mistyped secrets mount) gives "" instead of
 * an error, because read errors are not checked after the fread loop.
 */
static void
test_unreadable_file_value_rejected(void **state)
{
	struct fx *f = *state;
	char text[2048];

	snprintf(text, sizeof(text),
	    SERVER PG "[github]\nwebhook_secret = file:%s ;<-\n", f->dir);
	if (load(f, text) == 0)
		fail_msg("webhook_secret = file:%s (a directory) "
		    "loads as \"%s\"", f->dir, f->cfg->github.webhook_secret);
	assert_error(f, marked_line(text), "webhook_secret");
}

static void
test_env_unset_names_the_variable(void **state)
{
	struct fx *f = *state;
	static const char text[] =
	    "[server]\nsecret_key = " KEY64 "\n"
	    "admin_token = env:PVD_TEST_SURELY_UNSET_1 ;<-\n" PG;

	unsetenv("PVD_TEST_SURELY_UNSET_1");
	assert_int_equal(load(f, text), -1);
	assert_null(f->cfg);
	assert_int_equal(error_lines(f), 1);
	assert_error(f, marked_line(text), "PVD_TEST_SURELY_UNSET_1");
	assert_error(f, marked_line(text), "admin_token");
}

/* ---- one error each, at the right line ---- */

static const struct {
	const char *what;
	const char *text;
	const char *message;
} one_error[] = {
	{ "unknown section",
	  SERVER PG "[bogus] ;<-\nx = 1\n", "unknown section [bogus]" },
	{ "section names are case-sensitive",
	  SERVER PG "[Reaper] ;<-\n", "unknown section [Reaper]" },
	{ "plain [repo]",
	  SERVER PG "[repo] ;<-\n", "unknown section [repo]" },
	{ "unknown key",
	  SERVER "colour = blue ;<-\n" PG, "unknown key \"colour\" in [server]" },
	{ "unknown key in a repo section",
	  SERVER PG "[repo:acme/shop]\nttl = 1d\nbranch = main ;<-\n",
	  "unknown key \"branch\"" },
	{ "a key of another section",
	  SERVER "pool_size = 3 ;<-\n" PG, "unknown key \"pool_size\"" },
	{ "duplicate key",
	  SERVER "admin_token = again ;<-\n" PG,
	  "duplicate key \"admin_token\", first set at line 3" },
	{ "duplicate key in a repo section",
	  SERVER PG "[repo:a/b]\nttl = 1d\nttl = 2d ;<-\n",
	  "duplicate key \"ttl\", first set at line 7" },
	{ "duplicate section",
	  SERVER PG "[server] ;<-\n", "duplicate section [server]" },
	{ "duplicate repo section, other case",
	  SERVER PG "[repo:acme/shop]\n[repo:ACME/Shop] ;<-\n",
	  "duplicate section" },
	{ "bad integer",
	  SERVER "workers = many ;<-\n" PG,
	  "\"workers\": expected an integer" },
	{ "integer below minimum",
	  SERVER "workers = 0 ;<-\n" PG, "\"workers\": expected an integer" },
	{ "integer above maximum",
	  SERVER "workers = 65 ;<-\n" PG, "\"workers\": expected an integer" },
	{ "integer with a unit",
	  SERVER PG "pool_size = 5s ;<-\n", "\"pool_size\": expected an integer" },
	{ "negative integer",
	  SERVER PG "pool_size = -1 ;<-\n", "\"pool_size\": expected an integer" },
	{ "bad duration",
	  SERVER PG "[reaper]\ninterval = 5x ;<-\n",
	  "\"interval\"" },
	{ "duration without unit",
	  SERVER PG "[reaper]\ninterval = 30 ;<-\n", "\"interval\"" },
	{ "duration below minimum",
	  SERVER PG "[reaper]\ninterval = 0s ;<-\n", "\"interval\"" },
	{ "duration above maximum",
	  SERVER PG "[reaper]\ninterval = 2d ;<-\n", "\"interval\"" },
	{ "repo ttl above maximum",
	  SERVER PG "[repo:acme/shop]\nttl = 366d ;<-\n", "\"ttl\"" },
	{ "short secret_key",
	  "[server]\nsecret_key = 0011 ;<-\nadmin_token = " ADMIN_TOK "\n" PG,
	  "\"secret_key\"" },
	{ "secret_key not hex",
	  "[server]\nsecret_key = zz0102030405060708090a0b0c0d0e0f"
	  "101112131415161718191a1b1c1d1e1f ;<-\nadmin_token = " ADMIN_TOK "\n"
	  PG,
	  "\"secret_key\"" },
	{ "secret_key too long",
	  "[server]\nsecret_key = " KEY64 "00 ;<-\nadmin_token = " ADMIN_TOK
	  "\n" PG,
	  "\"secret_key\"" },
	{ "bad enum",
	  SERVER "log_level = verbose ;<-\n" PG,
	  "\"log_level\"" },
	{ "enum is case-sensitive",
	  SERVER "log_level = INFO ;<-\n" PG, "\"log_level\"" },
	{ "enum prefix",
	  SERVER "log_format = tex ;<-\n" PG, "\"log_format\"" },
	{ "unknown migrations_tool",
	  SERVER PG "[repo:acme/shop]\nmigrations_tool = liquibase ;<-\n",
	  "\"migrations_tool\": expected auto, sql, prisma, drizzle, "
	  "golang-migrate, dbmate, flyway or supabase" },
	{ "unknown prewarm",
	  SERVER PG "[repo:acme/shop]\nprewarm = schema ;<-\n",
	  "\"prewarm\": expected none or base" },
	{ "prewarm_size above maximum",
	  SERVER PG "[repo:acme/shop]\nprewarm = base\nprewarm_size = 21 ;<-\n",
	  "\"prewarm_size\": expected an integer from 0 to 20" },
	{ "negative prewarm_size",
	  SERVER PG "[repo:acme/shop]\nprewarm_size = -1 ;<-\n",
	  "\"prewarm_size\": expected an integer from 0 to 20" },
	{ "bad forks",
	  SERVER PG "[repo:acme/shop]\nforks = maybe ;<-\n",
	  "\"forks\"" },
	{ "unknown engine",
	  SERVER PG "[repo:acme/shop]\nengine = oracle ;<-\n",
	  "\"engine\"" },
	{ "listen without port",
	  SERVER "listen = localhost ;<-\n" PG, "\"listen\"" },
	{ "listen with bare IPv6",
	  SERVER "listen = ::1:8080 ;<-\n" PG, "\"listen\"" },
	{ "listen port 0",
	  SERVER "listen = 127.0.0.1:0 ;<-\n" PG, "\"listen\"" },
	{ "listen port too large",
	  SERVER "listen = 127.0.0.1:70000 ;<-\n" PG, "\"listen\"" },
	{ "admin_url with a MySQL scheme",
	  SERVER "[postgres]\nadmin_url = mysql://u@h/db ;<-\n",
	  "\"admin_url\"" },
	{ "[mysql] admin_url with a PostgreSQL scheme",
	  SERVER "[mysql]\nadmin_url = postgresql://u@h/db ;<-\n", "\"admin_url\"" },
	{ "admin_url with an http scheme",
	  SERVER "[postgres]\nadmin_url = http://h/db ;<-\n", "\"admin_url\"" },
	{ "admin_url not a URL",
	  SERVER "[postgres]\nadmin_url = db.internal:5432 ;<-\n",
	  "\"admin_url\"" },
	{ "public_url not http",
	  SERVER "public_url = ftp://files.example.com ;<-\n" PG,
	  "\"public_url\"" },
	{ "api_url without scheme",
	  SERVER PG "[github]\nwebhook_secret = s\napi_url = api.github.com ;<-\n",
	  "\"api_url\"" },
	{ "public_host bare IPv6",
	  SERVER PG "public_host = ::1 ;<-\n",
	  "\"public_host\"" },
	{ "syntax error",
	  SERVER "this line is not ini ;<-\n" PG, "syntax error" },
	{ "section header without ]",
	  SERVER PG "[repo:acme/shop ;<-\n", "syntax error" },
	{ "key outside any section",
	  "workers = 4 ;<-\n" SERVER PG, "outside any section" },
	{ "repo pattern without a name",
	  SERVER PG "[repo:acme] ;<-\n", "bad repository pattern" },
	{ "repo pattern with an inner *",
	  SERVER PG "[repo:acme/*/x] ;<-\n", "bad repository pattern" },
	{ "repo pattern with an empty segment",
	  SERVER PG "[repo:acme//x] ;<-\n", "bad repository pattern" },
	{ "repo pattern * owner",
	  SERVER PG "[repo:*/x] ;<-\n", "bad repository pattern" },
	{ "missing required key in [postgres]",
	  SERVER "[postgres] ;<-\npool_size = 3\n",
	  "[postgres] needs \"admin_url\"" },
	{ "missing required key in [mysql]",
	  SERVER "[mysql] ;<-\npool_size = 3\n", "[mysql] needs \"admin_url\"" },
	{ "repo engine without its section",
	  SERVER PG "[repo:acme/shop]\nengine = mysql ;<-\n",
	  "which has no [mysql] section" },
	{ "repo engine without its section (mysql only)",
	  SERVER "[mysql]\nadmin_url = mysql://r@h/m\n"
	  "[repo:acme/shop]\nengine = postgres ;<-\n",
	  "which has no [postgres] section" },
	{ "missing admin_token",
	  "; header\n\n[server] ;<-\nsecret_key = " KEY64 "\n" PG,
	  "[server] needs \"admin_token\"" },
	{ "missing secret_key",
	  "\n[server] ;<-\nadmin_token = " ADMIN_TOK "\n" PG,
	  "[server] needs \"secret_key\"" },
	{ "missing webhook_secret",
	  SERVER PG "\n[github] ;<-\ntoken = t\n",
	  "[github] needs \"webhook_secret\"" },
	{ "env: without a name",
	  SERVER PG "[github]\nwebhook_secret = env: ;<-\n",
	  "\"webhook_secret\"" },
	{ "file: that does not exist",
	  SERVER PG "[github]\n"
	  "webhook_secret = file:/nonexistent-previewd-test/secret ;<-\n",
	  "cannot read \"/nonexistent-previewd-test/secret\"" },
};

static void
test_each_error_at_its_line(void **state)
{
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(one_error); i++) {
		int line = marked_line(one_error[i].text);

		struct config *c = (struct config *)f;   /* a sentinel */
		int rc;

		buf_reset(&f->errors);
		write_file(f->path, one_error[i].text,
		    strlen(one_error[i].text));
		rc = config_load(f->path, &c, &f->errors);
		if (c != (struct config *)f)
			f->cfg = c;     /* for the teardown */
		if (rc != -1)
			fail_msg("%s: loaded", one_error[i].what);
		if (c != NULL)
			fail_msg("%s: a config was returned with the error",
			    one_error[i].what);
		if (!has_error(f, line, one_error[i].message))
			fail_msg("%s: no error \"%s:%d: ...%s...\"; errors "
			    "were:\n%s", one_error[i].what, f->path, line,
			    one_error[i].message, f->errors.data ?
			    f->errors.data : "(none)");
		if (error_lines(f) != 1)
			fail_msg("%s: want 1 error, got:\n%s", one_error[i].what,
			    f->errors.data);
	}
}

static void
test_missing_server_section(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, PG), -1);
	assert_null(f->cfg);
	assert_error(f, 1, "missing [server] section");
	assert_error(f, 1, "[server] needs \"secret_key\"");
	assert_error(f, 1, "[server] needs \"admin_token\"");
	assert_int_equal(error_lines(f), 3);
}

/* [pgbouncer] pools PostgreSQL only, writes its names into pgbouncer's
 * files as they are, and needs config_dir in full. */
static void
test_pgbouncer_checks(void **state)
{
	struct fx *f = *state;
	static const char mysql_only[] =
	    SERVER
	    "[mysql]\nadmin_url = mysql://root@db.internal/\n"
	    "[pgbouncer] ;<-\n"
	    "mode = managed\n";
	static const char bad_names[] =
	    SERVER PG
	    "[pgbouncer] ;<-\n"
	    "mode = external\n"
	    "admin_user = Admin User\n"
	    "config_dir = var/lib/pgb\n";
	static const char off[] =
	    SERVER
	    "[mysql]\nadmin_url = mysql://root@db.internal/\n"
	    "[pgbouncer]\n"
	    "admin_user = Admin User\n";

	assert_int_equal(load(f, mysql_only), -1);
	assert_error(f, marked_line(mysql_only), "[pgbouncer] mode = managed "
	    "needs a [postgres] section");
	assert_int_equal(load(f, bad_names), -1);
	assert_error(f, marked_line(bad_names), "\"admin_user\": expected 1 "
	    "to 63 of a-z, 0-9 and _");
	assert_error(f, marked_line(bad_names), "\"config_dir\": expected an "
	    "absolute path");
	/* Off, nothing of it is looked at. */
	load_ok(f, off);
}

static void
test_no_database_server(void **state)
{
	struct fx *f = *state;
	static const char text[] =
	    SERVER
	    "[repo:acme/shop]\n"
	    "engine = postgres ;<-\n"
	    "[repo:acme/*]\n";            /* line 6: engine by default */

	assert_int_equal(load(f, text), -1);
	assert_null(f->cfg);
	assert_error(f, 1, "no database server configured");
	assert_error(f, marked_line(text),
	    "uses engine \"postgres\", which has no [postgres] section");
	assert_error(f, 6, "uses engine \"postgres\"");
	assert_int_equal(error_lines(f), 3);
}

static void
test_empty_file(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, ""), -1);
	assert_null(f->cfg);
	assert_error(f, 1, "missing [server] section");
	assert_error(f, 1, "no database server configured");
}

static void
test_missing_file(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/nope.conf", f->dir);
	assert_int_equal(config_load(p, &f->cfg, &f->errors), -1);
	assert_null(f->cfg);
	assert_non_null(f->errors.data);
	assert_true(str_starts(f->errors.data, p));
	assert_non_null(strstr(f->errors.data, "cannot open"));
}

static void
test_all_errors_reported(void **state)
{
	struct fx *f = *state;
	static const char text[] =
	    "[server]\n"                                  /* 1 */
	    "secret_key = 1234\n"                         /* 2: bad key */
	    "workers = lots\n"                            /* 3: bad int */
	    "admin_token = " ADMIN_TOK "\n"                /* 4 */
	    "nonsense\n"                                  /* 5: syntax */
	    "color = red\n"                               /* 6: unknown */
	    "[postgres]\n"                                /* 7: no admin_url */
	    "pool_size = 1000\n"                          /* 8: too big */
	    "[reaper]\n"                                  /* 9 */
	    "interval = soon\n"                           /* 10: duration */
	    "[repo:acme/shop]\n"                          /* 11 */
	    "forks = sometimes\n"                         /* 12: enum */
	    "[nope]\n"                                    /* 13: section */
	    "workers = 2\n"                               /* ignored */
	    "[server]\n";                                 /* 15: duplicate */

	assert_int_equal(load(f, text), -1);
	assert_null(f->cfg);
	assert_error(f, 2, "\"secret_key\"");
	assert_error(f, 3, "\"workers\"");
	assert_error(f, 5, "syntax error");
	assert_error(f, 6, "unknown key \"color\"");
	assert_error(f, 7, "[postgres] needs \"admin_url\"");
	assert_error(f, 8, "\"pool_size\"");
	assert_error(f, 10, "\"interval\"");
	assert_error(f, 12, "\"forks\"");
	assert_error(f, 13, "unknown section [nope]");
	assert_error(f, 15, "duplicate section [server]");
	assert_int_equal(error_lines(f), 10);
}

static void
test_errors_never_show_secrets(void **state)
{
	struct fx *f = *state;
	const char *file_secret;
	char text[4096];

	assert_int_equal(setenv("PVD_TEST_SECRET_VALUE", "S3CR3T-VALUE", 1), 0);
	file_secret = strdup(write_aux(f, "secret", "S3CR3T-VALUE\n"));
	snprintf(text, sizeof(text),
	    "[server]\n"
	    "secret_key = S3CR3T-VALUE\n"
	    "admin_token = " ADMIN_TOK "\n"
	    "admin_token = S3CR3T-VALUE\n"
	    "workers = S3CR3T-VALUE\n"
	    "listen = S3CR3T-VALUE\n"
	    "log_level = S3CR3T-VALUE\n"
	    "log_format = env:PVD_TEST_SECRET_VALUE\n"
	    "public_url = https://user:S3CR3T-VALUE@/x\n"
	    "[postgres]\n"
	    "admin_url = postgresql://admin:S3CR3T-VALUE@db:99999/postgres\n"
	    "public_host = S3CR3T-VALUE:0\n"
	    "pool_size = file:%s\n"
	    "[reaper]\n"
	    "interval = S3CR3T-VALUE\n"
	    "[repo:acme/shop]\n"
	    "ttl = S3CR3T-VALUE\n"
	    "forks = S3CR3T-VALUE\n"
	    "engine = S3CR3T-VALUE\n",
	    file_secret);
	assert_int_equal(load(f, text), -1);
	unsetenv("PVD_TEST_SECRET_VALUE");
	free((void *)file_secret);
	/* One error for every line but line 3 and the section headers. */
	assert_int_equal(error_lines(f), 14);
	if (strstr(f->errors.data, "S3CR3T") != NULL)
		fail_msg("an error shows the secret:\n%s", f->errors.data);
}

/* ---- long lines ---- */

static void
test_long_lines(void **state)
{
	struct fx *f = *state;
	char pw[221], token[5001], comment[301], *text;
	size_t len;
	int line;

	memset(pw, 'p', sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';
	memset(token, 't', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	memset(comment, '#', sizeof(comment) - 1);
	comment[sizeof(comment) - 1] = '\0';
	len = 2 * sizeof(token) + sizeof(pw) + sizeof(comment) + 1024;
	text = malloc(len);
	assert_non_null(text);

	snprintf(text, len,
	    "%s\n"
	    "[server]\n"
	    "secret_key = " KEY64 "\n"
	    "admin_token = %s\n"
	    "[postgres]\n"
	    "admin_url = postgresql://admin:%s@db.internal:5432/postgres\n"
	    "[github]\n"
	    "webhook_secret = %s\n",
	    comment, token, pw, token);
	load_ok(f, text);
	assert_string_equal(f->cfg->server.admin_token, token);
	assert_string_equal(f->cfg->github.webhook_secret, token);
	assert_true(strlen(f->cfg->postgres.admin_url) > 200);
	assert_non_null(strstr(f->cfg->postgres.admin_url, pw));

	/* An error after long lines is still reported at its own line. */
	snprintf(text, len,
	    "%s\n"
	    "[server]\n"
	    "secret_key = " KEY64 "\n"
	    "admin_token = %s\n"
	    "[postgres]\n"
	    "admin_url = postgresql://admin:%s@db.internal:5432/postgres\n"
	    "pool_size = lots ;<-\n",
	    comment, token, pw);
	line = marked_line(text);
	assert_int_equal(line, 7);
	assert_int_equal(load(f, text), -1);
	assert_error(f, line, "\"pool_size\"");
	assert_int_equal(error_lines(f), 1);
	free(text);
}

/* ---- config_repo and config_engine ---- */

static void
test_config_repo(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *repo;
		int64_t ttl;          /* 0: no match */
	} cases[] = {
		{ "acme/shop", 1 },
		{ "ACME/Shop", 1 },
		{ "acme/other", 2 },
		{ "Acme/Other", 2 },
		{ "acme/sub/deep", 2 },
		{ "grp/sub/proj", 4 },
		{ "GRP/SUB/proj", 4 },
		{ "grp/other/proj", 3 },
		{ "grp/x", 3 },
		{ "gitlab-org/sub/proj", 5 },
		{ "gitlab-org/sub/other", 0 },
		{ "other/shop", 0 },
		{ "acme", 0 },
		{ "acme/", 0 },
		{ "acmex/shop", 0 },
		{ "acm/shop", 0 },
		{ "grp", 0 },
		{ "", 0 },
	};
	const struct repo_cfg *r;
	size_t i;

	/* The wildcard comes first: an exact match wins anyway. */
	load_ok(f, SERVER PG
	    "[repo:acme/*]\nttl = 2s\n"
	    "[repo:acme/shop]\nttl = 1s\n"
	    "[repo:grp/*]\nttl = 3s\n"
	    "[repo:grp/sub/*]\nttl = 4s\n"
	    "[repo:gitlab-org/sub/proj]\nttl = 5s\n");
	assert_int_equal(f->cfg->nrepos, 5);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		r = config_repo(f->cfg, cases[i].repo);
		if (cases[i].ttl == 0 && r != NULL)
			fail_msg("config_repo(\"%s\") matched [repo:%s]",
			    cases[i].repo, r->pattern);
		if (cases[i].ttl != 0 && r == NULL)
			fail_msg("config_repo(\"%s\") matched nothing",
			    cases[i].repo);
		if (r != NULL && r->ttl != cases[i].ttl)
			fail_msg("config_repo(\"%s\") matched [repo:%s]",
			    cases[i].repo, r->pattern);
	}

	/* Without a more specific section, a nested project falls to its
	 * top-level group. */
	load_ok(f, SERVER PG "[repo:grp/*]\n");
	r = config_repo(f->cfg, "grp/sub/proj");
	assert_non_null(r);
	assert_string_equal(r->pattern, "grp/*");
	assert_null(config_repo(f->cfg, "grpx/sub/proj"));
}

static void
test_config_engine(void **state)
{
	struct fx *f = *state;

	load_ok(f, SERVER PG);
	assert_ptr_equal(config_engine(f->cfg, "postgres"), &f->cfg->postgres);
	assert_null(config_engine(f->cfg, "mysql"));
	assert_null(config_engine(f->cfg, "Postgres"));
	assert_null(config_engine(f->cfg, ""));
	assert_null(config_engine(f->cfg, NULL));
	assert_int_equal(f->cfg->nrepos, 0);
	assert_null(config_repo(f->cfg, "acme/shop"));

	load_ok(f, SERVER PG "[mysql]\nadmin_url = mysql://r@h/m\n");
	assert_ptr_equal(config_engine(f->cfg, "postgres"), &f->cfg->postgres);
	assert_ptr_equal(config_engine(f->cfg, "mysql"), &f->cfg->mysql);
}

/* A repository without "engine" uses PostgreSQL when it is configured,
 * else MySQL. */
static void
test_repo_engine_default(void **state)
{
	struct fx *f = *state;

	load_ok(f, SERVER "[mysql]\nadmin_url = mysql://r@h/m\n[repo:a/b]\n");
	assert_null(config_engine(f->cfg, "postgres"));
	assert_string_equal(config_repo(f->cfg, "a/b")->engine, "mysql");

	load_ok(f, SERVER "[mysql]\nadmin_url = mysql://r@h/m\n" PG
	    "[repo:a/b]\n[repo:a/c]\nengine = mysql\n");
	assert_string_equal(config_repo(f->cfg, "a/b")->engine, "postgres");
	assert_string_equal(config_repo(f->cfg, "a/c")->engine, "mysql");
}

/* ---- tokens (issue 24, item 10) ---- */

/* A token of n characters, distinct per tag. */
static const char *
token_of(char tag, size_t n)
{
	static char t[8][64];
	static int next;
	char *p = t[next++ % 8];

	memset(p, tag, n);
	p[n] = '\0';
	return p;
}

static void
assert_no_value(const struct fx *f, const char *value)
{
	if (f->errors.data != NULL && strstr(f->errors.data, value) != NULL)
		fail_msg("an error shows the token:\n%s", f->errors.data);
}

/* Admin and CI tokens shorter than CONFIG_TOKEN_MIN are errors at their
 * line, naming the key and never the value; CONFIG_TOKEN_MIN itself is
 * fine. */
static void
test_short_tokens_rejected(void **state)
{
	struct fx *f = *state;
	char text[2048];
	const char *shortt = token_of('s', CONFIG_TOKEN_MIN - 1);

	snprintf(text, sizeof(text), "[server]\nsecret_key = " KEY64 "\n"
	    "admin_token = %s ;<-\n" PG, shortt);
	assert_int_equal(load(f, text), -1);
	assert_error(f, marked_line(text), "[server] admin_token is shorter "
	    "than 24 characters");
	assert_int_equal(error_lines(f), 1);
	assert_no_value(f, shortt);

	snprintf(text, sizeof(text), SERVER "ci_token = %s ;<-\n" PG, shortt);
	assert_int_equal(load(f, text), -1);
	assert_error(f, marked_line(text), "[server] ci_token is shorter");
	assert_no_value(f, shortt);

	snprintf(text, sizeof(text), SERVER PG "[repo:acme/shop]\n"
	    "ci_token = %s ;<-\n", "a");
	assert_int_equal(load(f, text), -1);
	assert_error(f, marked_line(text), "[repo:acme/shop] ci_token is "
	    "shorter");

	snprintf(text, sizeof(text), "[server]\nsecret_key = " KEY64 "\n"
	    "admin_token = %s\nci_token = %s\n" PG "[repo:a/b]\nci_token = %s\n",
	    token_of('a', CONFIG_TOKEN_MIN), token_of('c', CONFIG_TOKEN_MIN),
	    token_of('r', CONFIG_TOKEN_MIN));
	load_ok(f, text);
}

/* Any two admin or CI tokens equal: an error at the later one's line
 * naming both keys and neither value. */
static void
test_equal_tokens_rejected(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{ SERVER "ci_token = " ADMIN_TOK " ;<-\n" PG,
		  "[server] ci_token equals [server] admin_token: use "
		  "different tokens" },
		{ SERVER "ci_token = " CI_TOK "\n" PG "[repo:acme/shop]\n"
		  "ci_token = " CI_TOK " ;<-\n",
		  "[repo:acme/shop] ci_token equals [server] ci_token" },
		{ SERVER PG "[repo:acme/shop]\nci_token = " ADMIN_TOK " ;<-\n",
		  "[repo:acme/shop] ci_token equals [server] admin_token" },
		{ SERVER PG "[repo:acme/shop]\nci_token = " REPO_TOK "\n"
		  "[repo:acme/*]\nci_token = " REPO_TOK " ;<-\n",
		  "[repo:acme/*] ci_token equals [repo:acme/shop] ci_token" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (load(f, cases[i].text) != -1)
			fail_msg("case %zu loads", i);
		assert_error(f, marked_line(cases[i].text), cases[i].message);
		assert_int_equal(error_lines(f), 1);
		assert_no_value(f, ADMIN_TOK);
		assert_no_value(f, CI_TOK);
		assert_no_value(f, REPO_TOK);
	}
}

/* What is compared is the value in force: file: and env: resolved. */
static void
test_equal_tokens_resolved(void **state)
{
	struct fx *f = *state;
	char text[4096];
	const char *path;

	path = strdup(write_aux(f, "admin", ADMIN_TOK "\n"));
	assert_int_equal(setenv("PVD_TEST_CI_TOKEN", ADMIN_TOK, 1), 0);
	snprintf(text, sizeof(text), "[server]\nsecret_key = " KEY64 "\n"
	    "admin_token = file:%s\nci_token = env:PVD_TEST_CI_TOKEN ;<-\n" PG,
	    path);
	assert_int_equal(load(f, text), -1);
	assert_error(f, marked_line(text), "[server] ci_token equals "
	    "[server] admin_token");
	assert_no_value(f, ADMIN_TOK);
	/* A short one from a file is as short. */
	free((void *)path);
	path = strdup(write_aux(f, "short", "short-token\n"));
	snprintf(text, sizeof(text), SERVER PG "[repo:acme/shop]\n"
	    "ci_token = file:%s ;<-\n", path);
	assert_int_equal(load(f, text), -1);
	assert_error(f, marked_line(text), "[repo:acme/shop] ci_token is "
	    "shorter");
	assert_no_value(f, "short-token");
	unsetenv("PVD_TEST_CI_TOKEN");
	free((void *)path);
}

/* A webhook secret shorter than CONFIG_WEBHOOK_SECRET_MIN loads, with a
 * warning naming the key and not the value. */
static void
test_short_webhook_secret_warns(void **state)
{
	struct fx *f = *state;
	char text[2048], want[PATH_MAX + 128];

	snprintf(text, sizeof(text), SERVER PG
	    "[github]\nwebhook_secret = whsec-short\n"        /* 7 */
	    "[gitlab]\nwebhook_token = gl-short\n"            /* 9 */
	    "[vercel]\nwebhook_secret = %s\n",                /* 11 */
	    token_of('v', CONFIG_WEBHOOK_SECRET_MIN));
	load_ok(f, text);
	assert_non_null(f->cfg->warnings);
	snprintf(want, sizeof(want), "%s:7: warning: [github] webhook_secret "
	    "is shorter than 16 characters", f->path);
	assert_non_null(strstr(f->cfg->warnings, want));
	snprintf(want, sizeof(want), "%s:9: warning: [gitlab] webhook_token "
	    "is shorter", f->path);
	assert_non_null(strstr(f->cfg->warnings, want));
	assert_null(strstr(f->cfg->warnings, "[vercel]"));
	assert_null(strstr(f->cfg->warnings, "whsec-short"));
	assert_null(strstr(f->cfg->warnings, "gl-short"));

	load_ok(f, SERVER PG);
	assert_null(f->cfg->warnings);
}

/* ---- database URLs as libpq and MariaDB read them (item 5) ---- */

static void
test_bad_percent_escape_rejected(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *url;
		const char *where;
	} cases[] = {
		{ "postgresql://admin:Wr0ng%zzPw@db.internal/postgres",
		  "in the password" },
		{ "postgresql://admin:Wr0ngPw%@db.internal/postgres",
		  "in the password" },
		{ "postgresql://admin:Wr0ngPw%4@db.internal/postgres",
		  "in the password" },
		{ "postgresql://admin:Wr0ng%00Pw@db.internal/postgres",
		  "in the password" },
		{ "postgresql://ad%min:Wr0ngPw@db.internal/postgres",
		  "in the user name" },
		{ "postgresql://admin:Wr0ngPw@db.internal/post%gres",
		  "in the URL" },
	};
	char text[1024];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), SERVER "[postgres]\n"
		    "admin_url = %s ;<-\n", cases[i].url);
		if (load(f, text) != -1)
			fail_msg("%s loads", cases[i].url);
		assert_error(f, marked_line(text), "\"admin_url\": invalid "
		    "percent-escape");
		assert_error(f, marked_line(text), cases[i].where);
		assert_no_value(f, "Wr0ng");
	}
	snprintf(text, sizeof(text), SERVER "[mysql]\n"
	    "admin_url = mysql://root:Wr0ng%%zz@h/ ;<-\n");
	assert_int_equal(load(f, text), -1);
	assert_error(f, marked_line(text), "invalid percent-escape in the "
	    "password");
	assert_no_value(f, "Wr0ng");
	/* Escapes that decode are fine, and so is a literal "%" as %25. */
	load_ok(f, SERVER "[postgres]\nadmin_url = postgresql://admin:"
	    "Wr0ng%41%2B%25@db.internal/postgres\n");
}

/* The configuration in force is what the scrubber masks: both forms of
 * each admin URL's password, and the tokens. */
static void
test_install_registers_secrets(void **state)
{
	struct fx *f = *state;
	char msg[256];

	load_ok(f, "[server]\nsecret_key = " KEY64 "\nadmin_token = " ADMIN_TOK
	    "\nci_token = " CI_TOK "\n[postgres]\nadmin_url = postgresql://"
	    "admin:Wr0ng-distinctive-%41%2B@db.internal/postgres\n"
	    "[github]\nwebhook_secret = gh-hook-secret-0123\n");
	config_install(f->cfg);
	f->cfg = NULL;           /* config_release_all frees it */
	snprintf(msg, sizeof(msg), "token \"Wr0ng-distinctive-%%41%%2B\" user "
	    "\"Wr0ng-distinctive-A+\" " ADMIN_TOK " " CI_TOK
	    " gh-hook-secret-0123");
	(void)scrub_text(msg, sizeof(msg));
	assert_string_equal(msg, "token \"" SCRUB_MASK "\" user \"" SCRUB_MASK
	    "\" " SCRUB_MASK " " SCRUB_MASK " " SCRUB_MASK);
	config_release_all();
	snprintf(msg, sizeof(msg), "Wr0ng-distinctive-A+");
	assert_int_equal(scrub_text(msg, sizeof(msg)), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_full_file_loads_every_value),
		T(test_full_file_covers_every_key),
		T(test_defaults_for_omitted_keys),
		T(test_public_url_derived_from_listen),
		T(test_crlf_and_blanks),
		T(test_utf8_bom_accepted),
		T(test_env_and_file_values),
		T(test_env_unset_names_the_variable),
		T(test_empty_required_secret_rejected),
		T(test_unreadable_file_value_rejected),
		T(test_each_error_at_its_line),
		T(test_missing_server_section),
		T(test_pgbouncer_checks),
		T(test_no_database_server),
		T(test_empty_file),
		T(test_missing_file),
		T(test_all_errors_reported),
		T(test_errors_never_show_secrets),
		T(test_long_lines),
		T(test_config_repo),
		T(test_config_engine),
		T(test_repo_engine_default),
		T(test_short_tokens_rejected),
		T(test_equal_tokens_rejected),
		T(test_equal_tokens_resolved),
		T(test_short_webhook_secret_warns),
		T(test_bad_percent_escape_rejected),
		T(test_install_registers_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
