/*
 * config: the key table, the inih callbacks and validation.
 *
 * inih hands us (section, key, value) but not line numbers (Debian builds
 * it without INI_HANDLER_LINENO), so we feed it through our own line
 * reader: the reader counts lines, notices section headers (also of
 * sections that hold no keys) and flags lines that are not INI syntax, so
 * that every error can name its line.
 *
 * Why this file is long: the key table, the parser that walks it and the
 * checks across keys are one unit; every new key touches all three, and
 * keeping them in one file keeps them in step (scripts/check-docs.sh reads
 * the table from here too).
 */
#include "lib/config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "lib/dburl.h"
#include "lib/log.h"
#include "lib/scrub.h"

enum key_type {
	K_STR,        /* any text */
	K_INT,        /* integer in [min, max] */
	K_DURATION,   /* "30s", "10m", "72h", "2d", seconds in [min, max] */
	K_HEXKEY,     /* 64 hex digits: a 256-bit key */
	K_ENUM,       /* one of choices, "a|b|c" */
	K_LISTEN,     /* host:port */
	K_HOSTPORT,   /* host[:port] */
	K_HTTPURL,    /* http:// or https:// URL */
	K_DBURL,      /* a database URL whose scheme is one of choices */
	K_SOURCE,     /* where SQL comes from: "kind:arg" with kind one of
	                 choices; taken literally (file: is a kind here) */
};

/* Where a key is stored: in struct config, or in the repo_cfg of the
 * [repo:...] section being read. */
enum key_base { B_CONFIG, B_REPO };

struct key_def {
	const char *section;
	const char *name;
	enum key_type type;
	enum key_base base;
	size_t offset;
	const char *def;       /* default, NULL when none */
	bool required;
	int64_t min, max;
	const char *choices;
};

#define C(field) B_CONFIG, offsetof(struct config, field)
#define R(field) B_REPO, offsetof(struct repo_cfg, field)

/* Sorted by section, then key. */
static const struct key_def keys[] = {
	{ "github", "api_url", K_HTTPURL, C(github.api_url),
	  "https://api.github.com", false, 0, 0, NULL },
	{ "github", "app_id", K_INT, C(github.app_id), "0", false, 0,
	  INT64_MAX / 2, NULL },
	{ "github", "private_key_file", K_STR, C(github.private_key_file), NULL,
	  false, 0, 0, NULL },
	{ "github", "token", K_STR, C(github.token), NULL, false, 0, 0, NULL },
	{ "github", "webhook_secret", K_STR, C(github.webhook_secret), NULL,
	  true, 0, 0, NULL },
	{ "gitlab", "api_url", K_HTTPURL, C(gitlab.api_url),
	  "https://gitlab.com/api/v4", false, 0, 0, NULL },
	{ "gitlab", "signing_token", K_STR, C(gitlab.signing_token), NULL,
	  false, 0, 0, NULL },
	{ "gitlab", "token", K_STR, C(gitlab.token), NULL, false, 0, 0, NULL },
	{ "gitlab", "webhook_token", K_STR, C(gitlab.webhook_token), NULL,
	  false, 0, 0, NULL },
	{ "mysql", "admin_url", K_DBURL, C(mysql.admin_url), NULL, true,
	  0, 0, "mysql" },
	{ "mysql", "pool_size", K_INT, C(mysql.pool_size), "2", false,
	  0, 100, NULL },
	{ "mysql", "public_host", K_HOSTPORT, C(mysql.public_host), NULL,
	  false, 0, 0, NULL },
	{ "pgbouncer", "admin_user", K_STR, C(pgbouncer.admin_user),
	  "previewd_pgb", false, 0, 0, NULL },
	{ "pgbouncer", "binary", K_STR, C(pgbouncer.binary),
	  "/usr/sbin/pgbouncer", false, 0, 0, NULL },
	{ "pgbouncer", "config_dir", K_STR, C(pgbouncer.config_dir),
	  "/var/lib/previewd/pgbouncer", false, 0, 0, NULL },
	{ "pgbouncer", "database_url", K_ENUM, C(pgbouncer.database_url),
	  "pooled", false, 0, 0, "pooled|direct" },
	{ "pgbouncer", "default_pool_size", K_INT, C(pgbouncer.default_pool_size),
	  "5", false, 1, 10000, NULL },
	{ "pgbouncer", "listen", K_HOSTPORT, C(pgbouncer.listen),
	  "127.0.0.1:6432", false, 0, 0, NULL },
	{ "pgbouncer", "max_client_conn", K_INT, C(pgbouncer.max_client_conn),
	  "2000", false, 1, 1000000, NULL },
	{ "pgbouncer", "mode", K_ENUM, C(pgbouncer.mode), "off", false, 0, 0,
	  "off|managed|external" },
	{ "pgbouncer", "pool_mode", K_ENUM, C(pgbouncer.pool_mode),
	  "transaction", false, 0, 0, "transaction|session" },
	{ "pgbouncer", "public_host", K_HOSTPORT, C(pgbouncer.public_host),
	  NULL, false, 0, 0, NULL },
	{ "pgbouncer", "user", K_STR, C(pgbouncer.user), "nobody", false, 0, 0,
	  NULL },
	{ "postgres", "admin_url", K_DBURL, C(postgres.admin_url), NULL, true,
	  0, 0, "postgresql|postgres" },
	{ "postgres", "pool_size", K_INT, C(postgres.pool_size), "2", false,
	  0, 100, NULL },
	{ "postgres", "public_host", K_HOSTPORT, C(postgres.public_host), NULL,
	  false, 0, 0, NULL },
	{ "reaper", "interval", K_DURATION, C(reaper.interval), "30s", false,
	  1, 86400, NULL },
	{ "reaper", "orphan_grace", K_DURATION, C(reaper.orphan_grace), "10m",
	  false, 1, (int64_t)7 * 86400, NULL },
	{ "repo", "ci_token", K_STR, R(ci_token), NULL, false, 0, 0, NULL },
	{ "repo", "comment_password", K_ENUM, R(comment_password), NULL, false,
	  0, 0, "private-only|never|always" },
	{ "repo", "connection_limit", K_INT, R(connection_limit), "0", false,
	  0, 100000, NULL },
	{ "repo", "engine", K_ENUM, R(engine), NULL, false, 0, 0,
	  "postgres|mysql" },
	{ "repo", "forks", K_ENUM, R(forks), "deny", false, 0, 0,
	  "deny|allow" },
	{ "repo", "max_environments", K_INT, R(max_environments), "0", false,
	  0, 100000, NULL },
	{ "repo", "migration_timeout", K_DURATION, R(migration_timeout), NULL,
	  false, 1, (int64_t)7 * 86400, NULL },
	{ "repo", "migrations", K_SOURCE, R(migrations), "none", false, 0, 0,
	  "repo|dir|blueprint|none" },
	{ "repo", "migrations_tool", K_ENUM, R(migrations_tool), "auto", false,
	  0, 0, "auto|sql|prisma|drizzle|golang-migrate|dbmate|flyway|"
	  "supabase" },
	{ "repo", "pool_size", K_INT, R(pool_size), "0", false, 0, 10000,
	  NULL },
	{ "repo", "prewarm", K_ENUM, R(prewarm), "none", false, 0, 0,
	  "none|base" },
	{ "repo", "prewarm_size", K_INT, R(prewarm_size), "2", false, 0, 20,
	  NULL },
	{ "repo", "seed", K_SOURCE, R(seed), "none", false, 0, 0,
	  "repo|file|blueprint|none" },
	{ "repo", "ttl", K_DURATION, R(ttl), "72h", false, 1,
	  (int64_t)365 * 86400, NULL },
	{ "server", "admin_token", K_STR, C(server.admin_token), NULL, true,
	  0, 0, NULL },
	{ "server", "ci_token", K_STR, C(server.ci_token), NULL, false,
	  0, 0, NULL },
	{ "server", "comment_password", K_ENUM, C(server.comment_password),
	  "private-only", false, 0, 0, "private-only|never|always" },
	{ "server", "listen", K_LISTEN, C(server.listen), "127.0.0.1:8080",
	  false, 0, 0, NULL },
	{ "server", "log_format", K_ENUM, C(server.log_format), "text", false,
	  0, 0, "text|json" },
	{ "server", "log_level", K_ENUM, C(server.log_level), "info", false,
	  0, 0, "debug|info|warn|error" },
	{ "server", "max_databases", K_INT, C(server.max_databases), "50",
	  false, 0, 100000, NULL },
	{ "server", "max_environments", K_INT, C(server.max_environments),
	  "200", false, 0, 100000, NULL },
	{ "server", "max_ttl", K_DURATION, C(server.max_ttl), "24h", false, 60,
	  365 * 86400, NULL },
	{ "server", "migration_timeout", K_DURATION,
	  C(server.migration_timeout), "10m", false, 1, (int64_t)7 * 86400,
	  NULL },
	{ "server", "public_url", K_HTTPURL, C(server.public_url), NULL, false,
	  0, 0, NULL },
	{ "server", "request_timeout", K_DURATION, C(server.request_timeout),
	  "30s", false, 1, 3600, NULL },
	{ "server", "secret_key", K_HEXKEY, C(server.secret_key), NULL, true,
	  0, 0, NULL },
	{ "server", "shutdown_timeout", K_DURATION, C(server.shutdown_timeout),
	  "20s", false, 1, 3600, NULL },
	{ "server", "state_path", K_STR, C(server.state_path),
	  "/var/lib/previewd/state.db", false, 0, 0, NULL },
	{ "server", "tls_cert", K_STR, C(server.tls_cert), NULL, false, 0, 0,
	  NULL },
	{ "server", "tls_key", K_STR, C(server.tls_key), NULL, false, 0, 0,
	  NULL },
	{ "server", "templates_dir", K_STR, C(server.templates_dir),
	  PREVIEWD_TEMPLATES, false, 0, 0, NULL },
	{ "server", "workers", K_INT, C(server.workers), "4", false, 1, 64,
	  NULL },
	{ "vercel", "api_url", K_HTTPURL, C(vercel.api_url),
	  "https://api.vercel.com", false, 0, 0, NULL },
	{ "vercel", "token", K_STR, C(vercel.token), NULL, false, 0, 0, NULL },
	{ "vercel", "webhook_secret", K_STR, C(vercel.webhook_secret), NULL,
	  true, 0, 0, NULL },
};

/* Sections previewd knows; "repo" stands for every [repo:PATTERN]. */
static const char *const sections[] = {
	"github", "gitlab", "mysql", "pgbouncer", "postgres", "reaper", "repo", "server",
	"vercel",
};

#define MAX_SECTIONS 256
#define MAX_VALUE 65536

struct section_seen {
	char *name;
	int line;
	const char *kind;      /* an entry of sections[], NULL if unknown */
	size_t repo;           /* index into cfg->repos for "repo" */
};

struct parse_state {
	const char *path;
	FILE *fp;
	int lineno;
	bool line_start;
	struct config *cfg;
	struct buf *errors;
	int nerrors;
	struct buf warnings;
	struct section_seen seen[MAX_SECTIONS];
	size_t nseen;
	int global_set[ARRAY_SIZE(keys)];   /* line a key was set on, 0 if not */
	int (*repo_set)[ARRAY_SIZE(keys)];  /* the same per repo section */
	int syntax_line;                    /* last line the reader rejected */
};

static void PRINTF_LIKE(3, 4)
config_error(struct parse_state *st, int line, const char *fmt, ...)
{
	va_list ap;

	st->nerrors++;
	if (buf_printf(st->errors, "%s:%d: ", st->path, line) != 0)
		return;
	va_start(ap, fmt);
	if (buf_vprintf(st->errors, fmt, ap) == 0)
		buf_addstr(st->errors, "\n");
	va_end(ap);
}

static void PRINTF_LIKE(3, 4)
config_warning(struct parse_state *st, int line, const char *fmt, ...)
{
	va_list ap;

	if (buf_printf(&st->warnings, "%s:%d: warning: ", st->path, line) != 0)
		return;
	va_start(ap, fmt);
	if (buf_vprintf(&st->warnings, fmt, ap) == 0)
		buf_addstr(&st->warnings, "\n");
	va_end(ap);
}

static const char *
section_kind(const char *name)
{
	size_t i;

	if (strncmp(name, "repo:", 5) == 0)
		return "repo";
	for (i = 0; i < ARRAY_SIZE(sections); i++)
		if (strcmp(sections[i], name) == 0 && strcmp(name, "repo") != 0)
			return sections[i];
	return NULL;
}

static struct section_seen *
section_current(struct parse_state *st)
{
	return st->nseen > 0 ? &st->seen[st->nseen - 1] : NULL;
}

/* A repository pattern is OWNER/NAME (GitLab: GROUP/SUB/.../NAME) or
 * OWNER/ * (anything under that owner or group). */
static bool
repo_pattern_valid(const char *p)
{
	const char *s;
	bool seg_empty = true;
	int slashes = 0;

	for (s = p; *s != '\0'; s++) {
		if (*s == '/') {
			if (seg_empty)
				return false;
			slashes++;
			seg_empty = true;
		} else if (*s == '*') {
			if (s[1] != '\0' || s == p || s[-1] != '/')
				return false;
			seg_empty = false;
		} else if ((unsigned char)*s <= ' ' || strchr("[];#?%\\", *s)) {
			return false;
		} else {
			seg_empty = false;
		}
	}
	return slashes >= 1 && !seg_empty;
}

static void
section_open(struct parse_state *st, const char *name, int line)
{
	struct section_seen *sec;
	struct repo_cfg *repos;
	size_t i;

	if (st->nseen == MAX_SECTIONS) {
		config_error(st, line, "too many sections (at most %d)",
		    MAX_SECTIONS);
		return;
	}
	sec = &st->seen[st->nseen];
	memset(sec, 0, sizeof(*sec));
	sec->line = line;
	sec->kind = section_kind(name);
	if ((sec->name = strdup(name)) == NULL) {
		config_error(st, line, "out of memory");
		return;
	}
	st->nseen++;
	if (sec->kind == NULL) {
		config_error(st, line, "unknown section [%s]", name);
		return;
	}
	for (i = 0; i + 1 < st->nseen; i++) {
		if (strcasecmp(st->seen[i].name, name) == 0) {
			config_error(st, line, "duplicate section [%s], first "
			    "at line %d", name, st->seen[i].line);
			sec->kind = NULL;
			return;
		}
	}
	if (strcmp(sec->kind, "repo") != 0)
		return;
	if (!repo_pattern_valid(name + 5)) {
		config_error(st, line, "bad repository pattern \"%s\": expected "
		    "[repo:OWNER/NAME] or [repo:OWNER/*]", name + 5);
		sec->kind = NULL;
		return;
	}
	repos = realloc(st->cfg->repos,
	    (st->cfg->nrepos + 1) * sizeof(*repos));
	if (repos == NULL) {
		sec->kind = NULL;
		return;
	}
	st->cfg->repos = repos;
	st->repo_set = realloc(st->repo_set,
	    (st->cfg->nrepos + 1) * sizeof(*st->repo_set));
	if (st->repo_set == NULL) {
		sec->kind = NULL;
		return;
	}
	memset(&repos[st->cfg->nrepos], 0, sizeof(*repos));
	memset(st->repo_set[st->cfg->nrepos], 0, sizeof(*st->repo_set));
	repos[st->cfg->nrepos].line = line;
	repos[st->cfg->nrepos].pattern = strdup(name + 5);
	sec->repo = st->cfg->nrepos++;
}

/* inih's line source. Besides counting lines it records section headers
 * and rejects lines that are neither blank, a comment, a [section] nor a
 * key = value pair, so that all syntax errors are reported, not just the
 * first one inih would return. */
static char *
config_read_line(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	char *line = fgets(str, num, st->fp);
	const char *p;
	size_t n;

	if (line == NULL)
		return NULL;
	n = strlen(line);
	if (!st->line_start) {
		/* The tail of a line longer than inih's buffer. */
		st->line_start = n > 0 && line[n - 1] == '\n';
		return line;
	}
	st->lineno++;
	st->line_start = n > 0 && line[n - 1] == '\n';
	p = line;
	/* inih skips a UTF-8 byte order mark; so must we. */
	if (st->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	for (; *p == ' ' || *p == '\t' || *p == '\r'; p++)
		;
	if (*p == '\0' || *p == '\n' || *p == ';' || *p == '#')
		return line;
	if (*p == '[') {
		const char *end = strchr(p, ']');
		char name[512];

		if (end == NULL || (size_t)(end - p - 1) >= sizeof(name)) {
			st->syntax_line = st->lineno;
			config_error(st, st->lineno, "syntax error: a section "
			    "header needs a closing ']'");
			/* Its keys belong to no section we know: skip them
			 * quietly rather than blame the previous section. */
			if (st->nseen < MAX_SECTIONS) {
				memset(&st->seen[st->nseen], 0,
				    sizeof(st->seen[0]));
				st->seen[st->nseen].name = strdup("");
				st->seen[st->nseen++].line = st->lineno;
			}
			return line;
		}
		memcpy(name, p + 1, (size_t)(end - p - 1));
		name[end - p - 1] = '\0';
		/* inih strips blanks around the name; so do we. */
		while (name[0] == ' ')
			memmove(name, name + 1, strlen(name));
		for (n = strlen(name); n > 0 && name[n - 1] == ' '; n--)
			name[n - 1] = '\0';
		section_open(st, name, st->lineno);
		return line;
	}
	if (strpbrk(p, "=:") == NULL) {
		st->syntax_line = st->lineno;
		config_error(st, st->lineno, "syntax error: expected "
		    "\"key = value\" or \"[section]\"");
	}
	return line;
}

static const struct key_def *
key_find(const char *kind, const char *name, size_t *index)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].section, kind) == 0 &&
		    strcmp(keys[i].name, name) == 0) {
			*index = i;
			return &keys[i];
		}
	}
	return NULL;
}

/* Resolve env:NAME and file:PATH. Returns a new string or NULL with an
 * error reported. Secret values never appear in error messages. */
static char *
value_resolve(struct parse_state *st, int line, const char *key,
    const char *value)
{
	if (strncmp(value, "env:", 4) == 0) {
		const char *v = getenv(value + 4);

		if (value[4] == '\0') {
			config_error(st, line, "\"%s\": env: needs a variable "
			    "name", key);
			return NULL;
		}
		if (v == NULL) {
			config_error(st, line, "\"%s\": environment variable "
			    "\"%s\" is not set", key, value + 4);
			return NULL;
		}
		return strdup(v);
	}
	if (strncmp(value, "file:", 5) == 0) {
		struct buf b;
		char chunk[4096];
		FILE *fp;
		size_t n;
		char *res = NULL;

		if ((fp = fopen(value + 5, "r")) == NULL) {
			char ebuf[128];

			if (strerror_r(errno, ebuf, sizeof(ebuf)) != 0)
				str_copy(ebuf, "error", sizeof(ebuf));
			config_error(st, line, "\"%s\": cannot read \"%s\": %s",
			    key, value + 5, ebuf);
			return NULL;
		}
		buf_init(&b, MAX_VALUE);
		while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
			if (buf_add(&b, chunk, n) != 0) {
				config_error(st, line, "\"%s\": \"%s\" is larger "
				    "than %d bytes", key, value + 5, MAX_VALUE);
				goto file_out;
			}
		}
		if (ferror(fp)) {
			config_error(st, line, "\"%s\": cannot read \"%s\"",
			    key, value + 5);
			goto file_out;
		}
		while (b.len > 0 && (b.data[b.len - 1] == '\n' ||
		    b.data[b.len - 1] == '\r'))
			b.data[--b.len] = '\0';
		res = strdup(b.len ? b.data : "");
file_out:
		crypto_wipe(chunk, sizeof(chunk));
		if (b.data != NULL)
			crypto_wipe(b.data, b.cap);
		buf_release(&b);
		fclose(fp);
		return res;
	}
	return strdup(value);
}

/* "a|b|c" as "a, b or c", each with suffix (e.g. "://"). */
static void
choice_list(const char *choices, const char *suffix, char *out, size_t outsz)
{
	const char *p = choices;
	size_t n = 0;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '|');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *sep = n == 0 ? "" : end ? ", " : " or ";

		snprintf(out + strlen(out), outsz - strlen(out), "%s%.*s%s", sep,
		    (int)len, p, suffix);
		n++;
		p = end ? end + 1 : NULL;
	}
}

static bool
choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (n > 0 && p != NULL) {
		if (strncmp(p, v, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return true;
		p = strchr(p, '|');
		if (p != NULL)
			p++;
	}
	return false;
}

/* "none", or "kind:arg" with kind among choices and arg well-formed:
 * repo: a relative path without ".." segments; dir: and file: absolute;
 * blueprint: a plain name (its existence is checked with the engine). */
static bool
source_spec_ok(const char *choices, const char *v)
{
	const char *colon = strchr(v, ':'), *arg;
	char kind[16];
	size_t n;

	if (strcmp(v, "none") == 0)
		return true;
	if (colon == NULL || (n = (size_t)(colon - v)) >= sizeof(kind) ||
	    colon[1] == '\0')
		return false;
	memcpy(kind, v, n);
	kind[n] = '\0';
	arg = colon + 1;
	if (strcmp(kind, "none") == 0 || !choice_ok(choices, kind))
		return false;
	if (strcmp(kind, "repo") == 0)
		return arg[0] != '/' && strstr(arg, "..") == NULL &&
		    strpbrk(arg, "?#\\") == NULL;
	if (strcmp(kind, "blueprint") == 0)
		return strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_-") ==
		    strlen(arg);
	return arg[0] == '/';
}

/* Parse v (already resolved) into the key's destination. */
static void
key_apply(struct parse_state *st, int line, const struct key_def *k,
    void *base, char *v)
{
	char *dst = (char *)base + k->offset;
	char host[256], err[128], list[128];
	struct dburl u;
	int64_t n;
	int port = 0;
	bool keep = true;

	switch (k->type) {
	case K_STR:
		/* An empty token or secret would be worse than none: an HMAC
		 * under an empty key is one anybody can compute. */
		if (v[0] == '\0') {
			config_error(st, line, "\"%s\" must not be empty (leave "
			    "the key out instead)", k->name);
			keep = false;
		}
		break;
	case K_INT:
		if (parse_int64(v, k->min, k->max, &n) != 0)
			config_error(st, line, "\"%s\": expected an integer from "
			    "%lld to %lld", k->name, (long long)k->min,
			    (long long)k->max);
		else
			*(int64_t *)(void *)dst = n;
		keep = false;
		break;
	case K_DURATION:
		if (parse_duration(v, &n) != 0 || n < k->min || n > k->max) {
			char lo[32], hi[32];

			format_duration(k->min, lo, sizeof(lo));
			format_duration(k->max, hi, sizeof(hi));
			config_error(st, line, "\"%s\": expected a duration such "
			    "as 30s, 10m, 72h or 2d, from %s to %s", k->name,
			    lo, hi);
		} else {
			*(int64_t *)(void *)dst = n;
		}
		keep = false;
		break;
	case K_HEXKEY:
		if (hex_decode(v, (unsigned char *)dst, CRYPTO_KEY_LEN) != 0)
			config_error(st, line, "\"%s\": expected 64 hex digits "
			    "(a 256-bit key, e.g. from \"openssl rand -hex 32\")",
			    k->name);
		keep = false;
		break;
	case K_ENUM:
		if (!choice_ok(k->choices, v)) {
			choice_list(k->choices, "", list, sizeof(list));
			config_error(st, line, "\"%s\": expected %s", k->name,
			    list);
			keep = false;
		}
		break;
	case K_LISTEN:
		port = 0;
		if (dburl_hostport(v, host, sizeof(host), &port) != 0 ||
		    port == 0) {
			config_error(st, line, "\"%s\": expected host:port",
			    k->name);
			keep = false;
		}
		break;
	case K_HOSTPORT:
		if (dburl_hostport(v, host, sizeof(host), &port) != 0) {
			config_error(st, line, "\"%s\": expected host or "
			    "host:port", k->name);
			keep = false;
		}
		break;
	case K_HTTPURL:
		if (dburl_parse(v, &u, err, sizeof(err)) != 0 ||
		    (strcmp(u.scheme, "http") != 0 &&
		    strcmp(u.scheme, "https") != 0)) {
			config_error(st, line, "\"%s\": expected an http:// or "
			    "https:// URL", k->name);
			keep = false;
		}
		crypto_wipe(&u, sizeof(u));
		break;
	case K_SOURCE:
		if (!source_spec_ok(k->choices, v)) {
			choice_list(k->choices, ":", list, sizeof(list));
			config_error(st, line, "\"%s\": expected none, or one of "
			    "%s followed by a path or name (repo: paths are "
			    "relative without \"..\"; dir: and file: paths are "
			    "absolute)", k->name, list);
			keep = false;
		}
		break;
	case K_DBURL:
		if (dburl_parse(v, &u, err, sizeof(err)) != 0) {
			config_error(st, line, "\"%s\": %s", k->name, err);
			keep = false;
		} else if (!choice_ok(k->choices, u.scheme)) {
			choice_list(k->choices, "://", list, sizeof(list));
			config_error(st, line, "\"%s\": expected a URL starting "
			    "with %s", k->name, list);
			keep = false;
		}
		crypto_wipe(&u, sizeof(u));
		break;
	}
	if (keep) {
		free(*(char **)(void *)dst);
		*(char **)(void *)dst = v;
	} else {
		crypto_wipe(v, strlen(v));
		free(v);
	}
}

static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct parse_state *st = user;
	struct section_seen *sec = section_current(st);
	const struct key_def *k;
	void *base;
	int *set;
	size_t idx;
	char *v;

	if (st->lineno == st->syntax_line)
		return 1;
	if (sec == NULL || section[0] == '\0') {
		config_error(st, st->lineno, "\"%s\" is outside any section",
		    name);
		return 1;
	}
	if (sec->kind == NULL)
		return 1;   /* the section itself was reported */
	if ((k = key_find(sec->kind, name, &idx)) == NULL) {
		config_error(st, st->lineno, "unknown key \"%s\" in [%s]", name,
		    section);
		return 1;
	}
	if (strcmp(sec->kind, "repo") == 0) {
		base = &st->cfg->repos[sec->repo];
		set = &st->repo_set[sec->repo][idx];
	} else {
		base = st->cfg;
		set = &st->global_set[idx];
	}
	if (*set != 0) {
		config_error(st, st->lineno, "duplicate key \"%s\", first set "
		    "at line %d", name, *set);
		return 1;
	}
	*set = st->lineno;
	v = k->type == K_SOURCE ? strdup(value) :
	    value_resolve(st, st->lineno, name, value);
	if (v != NULL)
		key_apply(st, st->lineno, k, base, v);
	return 1;
}

static const struct section_seen *
section_find(const struct parse_state *st, const char *kind)
{
	size_t i;

	for (i = 0; i < st->nseen; i++)
		if (st->seen[i].kind != NULL && strcmp(st->seen[i].name, kind) == 0)
			return &st->seen[i];
	return NULL;
}

/* Defaults for keys not set, and errors for required keys not set. */
static void
config_defaults(struct parse_state *st, const char *kind, void *base,
    const int *set, int line, const char *secname)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct key_def *k = &keys[i];
		char *v;

		if (strcmp(k->section, kind) != 0 || set[i] != 0)
			continue;
		if (k->def != NULL) {
			if ((v = strdup(k->def)) != NULL)
				key_apply(st, line, k, base, v);
		} else if (k->required) {
			config_error(st, line, "[%s] needs \"%s\"", secname,
			    k->name);
		}
	}
}

/* A blueprint must exist for the repository's engine. */
static void
blueprint_check(struct parse_state *st, const struct repo_cfg *r,
    const char *key, const char *spec)
{
	char path[4096];
	size_t idx;
	const char *what;

	if (spec == NULL || strncmp(spec, "blueprint:", 10) != 0 ||
	    r->engine == NULL || st->cfg->server.templates_dir == NULL)
		return;
	what = strcmp(key, "seed") == 0 ? "seed.sql" : "migrations";
	if (str_printf(path, sizeof(path), "%s/blueprints/%s/%s/%s",
	    st->cfg->server.templates_dir, spec + 10, r->engine, what) == 0 &&
	    access(path, R_OK) == 0)
		return;
	(void)key_find("repo", key, &idx);
	config_error(st, st->repo_set[r - st->cfg->repos][idx] ?
	    st->repo_set[r - st->cfg->repos][idx] : r->line,
	    "\"%s\": no blueprint \"%s\" for %s in %s/blueprints", key,
	    spec + 10, r->engine, st->cfg->server.templates_dir);
}

/* A token and where it was set, for the checks across tokens. */
struct token_ref {
	const char *value;
	char name[300];       /* "[server] ci_token" */
	int line;
};

/* Admin and CI tokens: long enough not to be guessed, and all different
 * (a CI token equal to the admin token is an admin token; one shared by
 * two repositories reads both). Messages name keys, never values. */
static void
tokens_check(struct parse_state *st)
{
	struct config *cfg = st->cfg;
	struct token_ref *t;
	size_t n = 0, i, j, idx;

	if ((t = calloc(cfg->nrepos + 2, sizeof(*t))) == NULL) {
		config_error(st, 1, "out of memory");
		return;
	}
	(void)key_find("server", "admin_token", &idx);
	t[n].value = cfg->server.admin_token;
	t[n].line = st->global_set[idx];
	snprintf(t[n++].name, sizeof(t->name), "[server] admin_token");
	(void)key_find("server", "ci_token", &idx);
	t[n].value = cfg->server.ci_token;
	t[n].line = st->global_set[idx];
	snprintf(t[n++].name, sizeof(t->name), "[server] ci_token");
	(void)key_find("repo", "ci_token", &idx);
	for (i = 0; i < cfg->nrepos; i++) {
		t[n].value = cfg->repos[i].ci_token;
		t[n].line = st->repo_set[i][idx];
		snprintf(t[n++].name, sizeof(t->name), "[repo:%s] ci_token",
		    cfg->repos[i].pattern);
	}
	for (i = 0; i < n; i++) {
		if (t[i].value == NULL)
			continue;
		if (strlen(t[i].value) < CONFIG_TOKEN_MIN)
			config_error(st, t[i].line, "%s is shorter than %d "
			    "characters: use a long random one (e.g. from "
			    "\"openssl rand -hex 24\")", t[i].name,
			    CONFIG_TOKEN_MIN);
		for (j = 0; j < i; j++)
			if (t[j].value != NULL &&
			    strcmp(t[i].value, t[j].value) == 0)
				config_error(st, t[i].line, "%s equals %s: use "
				    "different tokens", t[i].name, t[j].name);
	}
	free(t);
}

/* Webhook secrets the forge's settings may keep short: a warning. */
static void
webhook_secrets_check(struct parse_state *st)
{
	static const struct {
		const char *section, *key;
		size_t offset;
	} v[] = {
		{ "github", "webhook_secret",
		  offsetof(struct config, github.webhook_secret) },
		{ "gitlab", "webhook_token",
		  offsetof(struct config, gitlab.webhook_token) },
		{ "vercel", "webhook_secret",
		  offsetof(struct config, vercel.webhook_secret) },
	};
	size_t i, idx;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		const char *value = *(char *const *)(const void *)
		    ((const char *)st->cfg + v[i].offset);

		if (value == NULL || strlen(value) >= CONFIG_WEBHOOK_SECRET_MIN)
			continue;
		(void)key_find(v[i].section, v[i].key, &idx);
		config_warning(st, st->global_set[idx], "[%s] %s is shorter "
		    "than %d characters: whoever guesses it can send webhooks; "
		    "use a long random one (e.g. from \"openssl rand -hex "
		    "32\")", v[i].section, v[i].key, CONFIG_WEBHOOK_SECRET_MIN);
	}
}

/* [pgbouncer]: a pooler needs a PostgreSQL server to pool, names that
 * go into its files as they are, and a directory given in full. */
static void
pgbouncer_check(struct parse_state *st)
{
	struct config *cfg = st->cfg;
	const struct section_seen *sec = section_find(st, "pgbouncer");
	int line = sec ? sec->line : 1;
	const char *p;

	if (strcmp(cfg->pgbouncer.mode, "off") == 0)
		return;
	if (!cfg->postgres.configured)
		config_error(st, line, "[pgbouncer] mode = %s needs a [postgres] "
		    "section: pgbouncer pools PostgreSQL only",
		    cfg->pgbouncer.mode);
	if (cfg->pgbouncer.config_dir[0] != '/')
		config_error(st, line, "[pgbouncer] \"config_dir\": expected an "
		    "absolute path");
	for (p = cfg->pgbouncer.admin_user; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '_'))
			break;
	if (*p != '\0' || cfg->pgbouncer.admin_user[0] == '\0' ||
	    strlen(cfg->pgbouncer.admin_user) > 63)
		config_error(st, line, "[pgbouncer] \"admin_user\": expected "
		    "1 to 63 of a-z, 0-9 and _");
}

static void
config_validate(struct parse_state *st)
{
	struct config *cfg = st->cfg;
	const struct section_seen *sec;
	size_t i;

	sec = section_find(st, "server");
	if (sec == NULL)
		config_error(st, 1, "missing [server] section");
	config_defaults(st, "server", cfg, st->global_set,
	    sec ? sec->line : 1, "server");
	config_defaults(st, "reaper", cfg, st->global_set, 1, "reaper");
	sec = section_find(st, "pgbouncer");
	config_defaults(st, "pgbouncer", cfg, st->global_set,
	    sec ? sec->line : 1, "pgbouncer");

	if ((sec = section_find(st, "postgres")) != NULL) {
		cfg->postgres.configured = true;
		cfg->postgres.line = sec->line;
		config_defaults(st, "postgres", cfg, st->global_set, sec->line,
		    "postgres");
	}
	if ((sec = section_find(st, "mysql")) != NULL) {
		cfg->mysql.configured = true;
		cfg->mysql.line = sec->line;
		config_defaults(st, "mysql", cfg, st->global_set, sec->line,
		    "mysql");
	}
	if ((sec = section_find(st, "gitlab")) != NULL) {
		cfg->gitlab.configured = true;
		config_defaults(st, "gitlab", cfg, st->global_set, sec->line,
		    "gitlab");
	} else {
		config_defaults(st, "gitlab", cfg, st->global_set, 1, "gitlab");
	}
	if (cfg->gitlab.configured && cfg->gitlab.signing_token != NULL &&
	    (!str_starts(cfg->gitlab.signing_token, "whsec_") ||
	    crypto_base64_decode(cfg->gitlab.signing_token + 6, NULL, 0) <= 0)) {
		size_t idx;

		(void)key_find("gitlab", "signing_token", &idx);
		config_error(st, st->global_set[idx], "\"signing_token\": "
		    "expected whsec_ followed by a base64 key, as GitLab shows it");
	}
	if ((sec = section_find(st, "vercel")) != NULL) {
		cfg->vercel.configured = true;
		config_defaults(st, "vercel", cfg, st->global_set, sec->line,
		    "vercel");
	}
	if ((sec = section_find(st, "github")) != NULL) {
		cfg->github.configured = true;
		config_defaults(st, "github", cfg, st->global_set, sec->line,
		    "github");
	}
	if ((cfg->server.tls_cert != NULL) != (cfg->server.tls_key != NULL)) {
		sec = section_find(st, "server");
		config_error(st, sec ? sec->line : 1, "[server] tls_cert and "
		    "tls_key go together");
	} else if (cfg->server.tls_cert != NULL &&
	    (access(cfg->server.tls_cert, R_OK) != 0 ||
	    access(cfg->server.tls_key, R_OK) != 0)) {
		size_t idx;

		(void)key_find("server", "tls_cert", &idx);
		config_error(st, st->global_set[idx], "cannot read tls_cert "
		    "\"%s\" or tls_key \"%s\"", cfg->server.tls_cert,
		    cfg->server.tls_key);
	}
	if (cfg->github.configured &&
	    (cfg->github.app_id != 0) != (cfg->github.private_key_file != NULL)) {
		sec = section_find(st, "github");
		config_error(st, sec ? sec->line : 1, "[github] app_id and "
		    "private_key_file go together (a GitHub App needs both)");
	} else if (cfg->github.private_key_file != NULL &&
	    access(cfg->github.private_key_file, R_OK) != 0) {
		size_t idx;

		(void)key_find("github", "private_key_file", &idx);
		config_error(st, st->global_set[idx], "\"private_key_file\": "
		    "cannot read \"%s\"", cfg->github.private_key_file);
	}
	if (!cfg->postgres.configured && !cfg->mysql.configured)
		config_error(st, 1, "no database server configured: add a "
		    "[postgres] or [mysql] section");
	pgbouncer_check(st);

	if (cfg->server.public_url == NULL && cfg->server.listen != NULL) {
		char url[300];

		if (str_printf(url, sizeof(url), "%s://%s",
		    cfg->server.tls_cert != NULL ? "https" : "http",
		    cfg->server.listen) == 0)
			cfg->server.public_url = strdup(url);
	}
	for (i = 0; i < cfg->nrepos; i++) {
		struct repo_cfg *r = &cfg->repos[i];
		char secname[300];
		int *set = st->repo_set[i];
		size_t idx;

		snprintf(secname, sizeof(secname), "repo:%s", r->pattern);
		config_defaults(st, "repo", r, set, r->line, secname);
		if (r->engine == NULL)
			r->engine = strdup(cfg->postgres.configured ||
			    !cfg->mysql.configured ? "postgres" : "mysql");
		if (config_engine(cfg, r->engine) == NULL) {
			(void)key_find("repo", "engine", &idx);
			config_error(st, set[idx] ? set[idx] : r->line,
			    "[%s] uses engine \"%s\", which has no [%s] "
			    "section", secname, r->engine, r->engine);
		}
		blueprint_check(st, r, "migrations", r->migrations);
		blueprint_check(st, r, "seed", r->seed);
	}
	tokens_check(st);
	webhook_secrets_check(st);
}

int
config_load(const char *path, struct config **out, struct buf *errors)
{
	struct parse_state st;
	struct config *cfg;
	size_t i;
	int rc;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	st.path = path;
	st.errors = errors;
	st.line_start = true;
	buf_init(&st.warnings, 1 << 16);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->path = strdup(path)) == NULL) {
		free(cfg);
		buf_printf(errors, "%s: out of memory\n", path);
		return -1;
	}
	st.cfg = cfg;
	if ((st.fp = fopen(path, "r")) == NULL) {
		char ebuf[128];

		if (strerror_r(errno, ebuf, sizeof(ebuf)) != 0)
			str_copy(ebuf, "error", sizeof(ebuf));
		buf_printf(errors, "%s: cannot open: %s\n", path, ebuf);
		buf_release(&st.warnings);
		config_free(cfg);
		return -1;
	}
	/* Keys may hold long URLs and tokens: read lines of any sane length,
	 * and treat indented lines as ordinary lines, not continuations. */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = MAX_VALUE;
	ini_allow_multiline = false;
	ini_allow_inline_comments = true;

	rc = ini_parse_stream(config_read_line, &st, config_handler, &st);
	fclose(st.fp);
	if (rc < 0)
		config_error(&st, 0, "cannot parse (out of memory)");
	else if (rc > 0 && rc != st.syntax_line)
		config_error(&st, rc, "syntax error");
	config_validate(&st);

	for (i = 0; i < st.nseen; i++)
		free(st.seen[i].name);
	free(st.repo_set);
	if (st.nerrors > 0) {
		buf_release(&st.warnings);
		config_free(cfg);
		return -1;
	}
	if (st.warnings.len > 0)
		cfg->warnings = strdup(st.warnings.data);
	buf_release(&st.warnings);
	*out = cfg;
	return 0;
}

static void
free_secret(char *s)
{
	if (s != NULL) {
		crypto_wipe(s, strlen(s));
		free(s);
	}
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct key_def *k = &keys[i];
		size_t r;

		if (k->type == K_INT || k->type == K_DURATION ||
		    k->type == K_HEXKEY)
			continue;
		if (k->base == B_CONFIG) {
			free_secret(*(char **)(void *)((char *)cfg + k->offset));
			continue;
		}
		for (r = 0; r < cfg->nrepos; r++)
			free_secret(*(char **)(void *)((char *)&cfg->repos[r] +
			    k->offset));
	}
	for (i = 0; i < cfg->nrepos; i++)
		free(cfg->repos[i].pattern);
	free(cfg->repos);
	free(cfg->path);
	free(cfg->warnings);
	crypto_wipe(cfg, sizeof(*cfg));
	free(cfg);
}

const struct repo_cfg *
config_repo(const struct config *cfg, const char *repo)
{
	const struct repo_cfg *best = NULL;
	size_t best_len = 0, i;

	for (i = 0; i < cfg->nrepos; i++) {
		const char *p = cfg->repos[i].pattern;
		size_t n = strlen(p);

		if (strcasecmp(p, repo) == 0)
			return &cfg->repos[i];
		/* "owner/ *" matches "owner/x" and, for GitLab groups,
		 * "owner/sub/x"; the longest prefix is the most specific. */
		if (n >= 2 && p[n - 1] == '*' && strncasecmp(p, repo, n - 1) == 0 &&
		    repo[n - 1] != '\0' && n - 1 > best_len) {
			best = &cfg->repos[i];
			best_len = n - 1;
		}
	}
	return best;
}

const struct engine_cfg *
config_engine(const struct config *cfg, const char *engine)
{
	if (engine == NULL)
		return NULL;
	if (strcmp(engine, "postgres") == 0 && cfg->postgres.configured)
		return &cfg->postgres;
	if (strcmp(engine, "mysql") == 0 && cfg->mysql.configured)
		return &cfg->mysql;
	return NULL;
}

/* ---- the configuration in force ---- */

static const char *const fixed_keys[][2] = {
	{ "server", "listen" },
	{ "server", "request_timeout" },
	{ "server", "state_path" },
	{ "server", "templates_dir" },
	{ "server", "tls_cert" },
	{ "server", "tls_key" },
	{ "server", "workers" },
};

static _Atomic(struct config *) current;
static struct config **installed;
static size_t ninstalled;

const struct config *
config_current(void)
{
	return atomic_load(&current);
}

/* What a client library or a server could quote back, for lib/scrub.h:
 * each admin URL's password as written and decoded, and every token and
 * webhook secret. */
static void
config_scrub(const struct config *cfg)
{
	const struct engine_cfg *engines[] = { &cfg->postgres, &cfg->mysql };
	struct dburl u[ARRAY_SIZE(engines)];
	char raw[ARRAY_SIZE(engines)][768];
	const char **v;
	char err[128];
	size_t n = 0, i;

	memset(u, 0, sizeof(u));
	memset(raw, 0, sizeof(raw));
	if ((v = calloc(2 * ARRAY_SIZE(engines) + 12 + cfg->nrepos,
	    sizeof(*v))) == NULL) {
		log_warnx("out of memory: the secrets of the previous "
		    "configuration stay the ones masked in messages");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(engines); i++) {
		if (!engines[i]->configured || engines[i]->admin_url == NULL ||
		    dburl_parse(engines[i]->admin_url, &u[i], err,
		    sizeof(err)) != 0)
			continue;
		v[n++] = u[i].password;
		if (dburl_password_raw(engines[i]->admin_url, raw[i],
		    sizeof(raw[i])) == 0)
			v[n++] = raw[i];
	}
	v[n++] = cfg->server.admin_token;
	v[n++] = cfg->server.ci_token;
	v[n++] = cfg->github.token;
	v[n++] = cfg->github.webhook_secret;
	v[n++] = cfg->gitlab.token;
	v[n++] = cfg->gitlab.webhook_token;
	v[n++] = cfg->gitlab.signing_token;
	v[n++] = cfg->vercel.token;
	v[n++] = cfg->vercel.webhook_secret;
	for (i = 0; i < cfg->nrepos; i++)
		v[n++] = cfg->repos[i].ci_token;
	if (scrub_register(v, n) != 0)
		log_warnx("out of memory: the secrets of the previous "
		    "configuration stay the ones masked in messages");
	crypto_wipe(u, sizeof(u));
	crypto_wipe(raw, sizeof(raw));
	free(v);
}

void
config_install(struct config *cfg)
{
	struct config **v = realloc(installed, (ninstalled + 1) *
	    sizeof(*installed));

	config_scrub(cfg);

	if (v != NULL) {
		installed = v;
		installed[ninstalled++] = cfg;
	}
	/* Without room to remember it, it is never freed: harmless. */
	atomic_store(&current, cfg);
}

void
config_release_all(void)
{
	size_t i;

	atomic_store(&current, NULL);
	scrub_release();
	for (i = 0; i < ninstalled; i++)
		config_free(installed[i]);
	free(installed);
	installed = NULL;
	ninstalled = 0;
}

void
config_keep_fixed(struct config *fresh, const struct config *old)
{
	size_t i, idx;

	for (i = 0; i < ARRAY_SIZE(fixed_keys); i++) {
		const struct key_def *k = key_find(fixed_keys[i][0],
		    fixed_keys[i][1], &idx);
		char *dst, *src;

		if (k == NULL)
			continue;
		dst = (char *)fresh + k->offset;
		src = (char *)old + k->offset;
		if (k->type == K_INT || k->type == K_DURATION) {
			if (*(int64_t *)(void *)dst != *(int64_t *)(void *)src)
				log_warnx("reload: [%s] %s changed; it takes "
				    "effect at the next restart", k->section,
				    k->name);
			*(int64_t *)(void *)dst = *(int64_t *)(void *)src;
		} else {
			char **d = (char **)(void *)dst;
			char *const *sv = (char *const *)(void *)src;

			if ((*d == NULL) != (*sv == NULL) ||
			    (*d != NULL && strcmp(*d, *sv) != 0))
				log_warnx("reload: [%s] %s changed; it takes "
				    "effect at the next restart", k->section,
				    k->name);
			free(*d);
			*d = *sv != NULL ? strdup(*sv) : NULL;
		}
	}
}

void
config_each_key(void (*fn)(const char *section, const char *key, void *arg),
    void *arg)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys); i++)
		fn(keys[i].section, keys[i].name, arg);
}
