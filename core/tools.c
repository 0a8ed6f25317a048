/*
 * tools: the table of migration tools, and what each knows of its files
 * (core/tools.h). Each tool's rules are learnt from its own source and
 * written here afresh, with the file they come from named where they are
 * used:
 *
 *   golang-migrate  github.com/golang-migrate/migrate: source/parse.go
 *                   (file names), source/iofs/iofs.go (files that do not
 *                   parse are skipped, a version twice is an error),
 *                   database/postgres/postgres.go and
 *                   database/mysql/mysql.go (ensureVersionTable,
 *                   SetVersion)
 *   dbmate          github.com/amacneil/dbmate: pkg/dbmate/db.go (file
 *                   names), pkg/dbmate/migration.go (sections, options),
 *                   pkg/driver/postgres/postgres.go and
 *                   pkg/driver/mysql/mysql.go (CreateMigrationsTable,
 *                   InsertMigration)
 */
#include "core/tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Go's \s, which both tools' patterns use: space, \t, \n, \f, \r. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int
tool_version_cmp(const char *a, const char *b)
{
	size_t na, nb;

	while (*a == '0')
		a++;
	while (*b == '0')
		b++;
	na = strlen(a);
	nb = strlen(b);
	if (na != nb)
		return na < nb ? -1 : 1;
	return strcmp(a, b);
}

/* ---- golang-migrate ---- */

/*
 * source/parse.go: ^([0-9]+)_(.*)\.(down|up)\.(.*)$, the version parsed
 * as a uint64 and written into a bigint column. Of the folder's *.sql
 * files, those ending in .up.sql are the migrations; .down.sql files and
 * names that do not parse are skipped, as golang-migrate skips them. The
 * version is kept as the number it is ("0010" is 10).
 */
static int
gm_version(const char *name, char *version, char *err, size_t errlen)
{
	size_t digits = strspn(name, "0123456789"), len = strlen(name), z;

	if (digits == 0 || name[digits] != '_' || !ends_with(name, ".up.sql") ||
	    digits + 1 > len - 7)
		return 0;
	for (z = 0; z + 1 < digits && name[z] == '0'; z++)
		;
	/* INT64_MAX has 19 digits: golang-migrate's SetVersion takes an
	 * int, and the column is a bigint. */
	if (digits - z > 19 || (digits - z == 19 &&
	    memcmp(name + z, "9223372036854775807", 19) > 0)) {
		snprintf(err, errlen, "version %.*s is larger than a bigint, "
		    "which golang-migrate's schema_migrations.version is",
		    (int)(digits > 40 ? 40 : digits), name);
		return -1;
	}
	snprintf(version, SOURCE_VERSION_SIZE, "%.*s", (int)(digits - z),
	    name + z);
	return 1;
}

static bool
gm_names(const struct source *src)
{
	char version[SOURCE_VERSION_SIZE], err[200];
	size_t i;

	for (i = 0; i < src->n; i++)
		if (gm_version(src->files[i].name, version, err,
		    sizeof(err)) != 0)
			return true;
	return false;
}

/* Both drivers' ensureVersionTable and SetVersion: one row, the current
 * version, rewritten in a transaction (TRUNCATE on PostgreSQL, DELETE on
 * MySQL, where TRUNCATE would commit). dirty is true only while
 * golang-migrate itself runs a file; previewd writes the row with the
 * file, so it is false. */
static const char *const gm_pg_write[] = {
	"TRUNCATE schema_migrations",
	"INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)",
	NULL,
};
static const char *const gm_my_write[] = {
	"DELETE FROM `schema_migrations`",
	"INSERT INTO `schema_migrations` (version, dirty) VALUES ($1, false)",
	NULL,
};
static const struct tool_history gm_history[] = {
	{ "postgres", "CREATE TABLE IF NOT EXISTS schema_migrations "
	  "(version bigint not null primary key, dirty boolean not null)",
	  gm_pg_write },
	{ "mysql", "CREATE TABLE IF NOT EXISTS `schema_migrations` "
	  "(version bigint not null primary key, dirty boolean not null)",
	  gm_my_write },
	{ NULL, NULL, NULL },
};

/* ---- dbmate ---- */

/* pkg/dbmate/db.go: ^(\d+).*\.sql$, the version being the digits as
 * written (a string: "001" and "1" are two versions). */
static int
dbmate_version(const char *name, char *version, char *err, size_t errlen)
{
	size_t digits = strspn(name, "0123456789");

	if (digits == 0 || !ends_with(name, ".sql") ||
	    digits > strlen(name) - 4)
		return 0;
	if (digits >= SOURCE_VERSION_SIZE) {
		snprintf(err, errlen, "version of %zu digits: dbmate's "
		    "schema_migrations.version holds %d on MySQL", digits,
		    SOURCE_VERSION_SIZE - 1);
		return -1;
	}
	snprintf(version, SOURCE_VERSION_SIZE, "%.*s", (int)digits, name);
	return 1;
}

/*
 * A "-- migrate:WHAT" directive starting at p, the start of a line:
 * (?m)^--\s*migrate:WHAT(\s*$|\s+\S+) in pkg/dbmate/migration.go, that
 * is "--", white space, "migrate:WHAT", then the end or white space.
 */
static bool
directive_at(const char *p, const char *end, const char *what)
{
	size_t n = strlen(what);

	if (end - p < 2 || p[0] != '-' || p[1] != '-')
		return false;
	for (p += 2; p < end && is_space(*p); p++)
		;
	if ((size_t)(end - p) < 8 + n || memcmp(p, "migrate:", 8) != 0 ||
	    memcmp(p + 8, what, n) != 0)
		return false;
	p += 8 + n;
	return p == end || is_space(*p);
}

/* The start of the line after p's, or end. */
static const char *
next_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

/* dbmate allows only empty lines and comments before "-- migrate:up". */
static bool
blank_or_comment(const char *p, const char *end)
{
	while (p < end && *p != '\n' && is_space(*p))
		p++;
	return p == end || *p == '\n' || (end - p >= 2 && p[0] == '-' &&
	    p[1] == '-');
}

static bool
dbmate_match(const char *data, size_t len)
{
	const char *p, *end = data + len;

	for (p = data; p < end; p = next_line(p, end))
		if (directive_at(p, end, "up"))
			return true;
	return false;
}

/* The options after "-- migrate:up" on its line ("transaction:false"):
 * white-space separated key:value pairs; false when one says the file
 * must not run in a transaction. */
static bool
dbmate_in_transaction(const char *line, const char *end)
{
	const char *eol = memchr(line, '\n', (size_t)(end - line)), *p, *w;
	bool in = true;

	if (eol == NULL)
		eol = end;
	p = strstr(line, "migrate:up");     /* the directive matched */
	if (p == NULL || p > eol)
		return true;
	for (p += 10; p < eol; p = w) {
		const char *colon;

		while (p < eol && is_space(*p))
			p++;
		for (w = p; w < eol && !is_space(*w); w++)
			;
		colon = memchr(p, ':', (size_t)(w - p));
		/* A pair is two parts exactly; the last one of a key wins. */
		if (colon != NULL && memchr(colon + 1, ':',
		    (size_t)(w - colon - 1)) == NULL &&
		    colon - p == 11 && memcmp(p, "transaction", 11) == 0)
			in = !(w - colon - 1 == 5 && memcmp(colon + 1, "false",
			    5) == 0);
	}
	return in;
}

/*
 * What dbmate runs of a file (pkg/dbmate/migration.go): the block from
 * "-- migrate:up" to "-- migrate:down"; the down block never runs. The
 * file is cut at its "-- migrate:down" line, so what comes before (only
 * comments, as dbmate requires) and the up block keep their lines.
 * dbmate's own parse errors are given in its words. Files of several
 * up/down sections (dbmate 2.29 and later) are refused: previewd runs
 * one section per file.
 */
static int
dbmate_script(struct buf *file, bool *outside, char *err, size_t errlen)
{
	const char *end = file->data + file->len, *p, *up = NULL,
	    *down = NULL, *msg = NULL;
	bool before = false;
	int ups = 0, downs = 0;

	for (p = file->data; p < end; p = next_line(p, end)) {
		if (directive_at(p, end, "up"))
			up = ups++ == 0 ? p : up;
		else if (ups == 1 && directive_at(p, end, "down"))
			down = downs++ == 0 ? p : down;
		else if (ups == 0 && !blank_or_comment(p, end))
			before = true;
	}
	/* In the order dbmate checks. */
	if (up == NULL)
		msg = "dbmate requires each migration to define an up block "
		    "with '-- migrate:up'";
	else if (before)
		msg = "dbmate does not support statements preceding the '-- "
		    "migrate:up' block";
	else if (downs > 1)
		msg = "dbmate requires every '-- migrate:down' to be preceded "
		    "by a '-- migrate:up'";
	else if (down == NULL)
		msg = "dbmate requires each migration to define a down block "
		    "with '-- migrate:down'";
	else if (ups > 1)
		msg = "more than one \"-- migrate:up\" section: previewd runs "
		    "one per file";
	if (msg != NULL) {
		str_copy(err, msg, errlen);
		return -1;
	}
	*outside = !dbmate_in_transaction(up, end);
	file->len = (size_t)(down - file->data);
	file->data[file->len] = '\0';
	return 0;
}

/* CreateMigrationsTable and InsertMigration of dbmate's two drivers: a
 * row per applied file, its version as written. */
static const char *const dbmate_pg_write[] = {
	"insert into schema_migrations (version) values ($1)",
	NULL,
};
static const char *const dbmate_my_write[] = {
	"insert into `schema_migrations` (version) values ($1)",
	NULL,
};
static const struct tool_history dbmate_history[] = {
	{ "postgres", "create table if not exists schema_migrations "
	  "(version varchar primary key)", dbmate_pg_write },
	{ "mysql", "create table if not exists `schema_migrations` "
	  "(version varchar(128) primary key)", dbmate_my_write },
	{ NULL, NULL, NULL },
};

/* ---- the table ---- */

/* Table order is auto's order: by names first, then by contents; sql is
 * what is left. Tools not supported yet are never picked by auto. */
static const struct tool tools[] = {
	{ .name = "sql", .supported = true, .looks_for = "*.sql files" },
	{ .name = "golang-migrate", .supported = true,
	  .names_match = gm_names, .looks_for = "*.up.sql files",
	  .version = gm_version, .history_newest = true,
	  .history = gm_history },
	{ .name = "dbmate", .supported = true,
	  .content_match = dbmate_match,
	  .looks_for = "<version>_<name>.sql files",
	  .version = dbmate_version, .script = dbmate_script,
	  .history = dbmate_history },
	{ .name = "prisma" },
	{ .name = "drizzle" },
	{ .name = "flyway" },
	{ .name = "supabase" },
};

const struct tool *
tool_at(size_t i)
{
	return i < ARRAY_SIZE(tools) ? &tools[i] : NULL;
}

const struct tool *
tool_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tools); i++)
		if (strcmp(tools[i].name, name) == 0)
			return &tools[i];
	return NULL;
}

const struct tool_history *
tool_history(const struct tool *t, const char *engine)
{
	const struct tool_history *h;

	for (h = t->history; h != NULL && h->engine != NULL; h++)
		if (strcmp(h->engine, engine) == 0)
			return h;
	return NULL;
}

/* t's first migration in its order, the one auto looks inside; false
 * when t takes no file of src. */
static bool
first_migration(const struct tool *t, const struct source *src,
    size_t *first)
{
	char v[SOURCE_VERSION_SIZE], best[SOURCE_VERSION_SIZE] = "", e[200];
	bool found = false;
	size_t i;

	for (i = 0; i < src->n; i++) {
		if (t->version(src->files[i].name, v, e, sizeof(e)) != 1)
			continue;
		/* Listed in byte order: on a tie the earlier name wins. */
		if (!found || tool_version_cmp(v, best) < 0) {
			str_copy(best, v, sizeof(best));
			*first = i;
			found = true;
		}
	}
	return found;
}

int
tool_choose(const char *configured, const char *folder,
    const struct source *src, const struct tool **out, size_t *look,
    char *err, size_t errlen)
{
	const struct tool *t = tool_find(configured);
	size_t i;

	*out = NULL;
	if (strcmp(configured, "auto") == 0) {
		for (i = 0; i < ARRAY_SIZE(tools); i++)
			if (tools[i].supported && tools[i].names_match != NULL &&
			    tools[i].names_match(src)) {
				*out = &tools[i];
				return 1;
			}
		for (i = 0; i < ARRAY_SIZE(tools); i++)
			if (tools[i].supported &&
			    tools[i].content_match != NULL &&
			    first_migration(&tools[i], src, look))
				return 0;
		*out = &tools[0];
		return 1;
	}
	if (t == NULL || !t->supported) {
		snprintf(err, errlen, "migrations_tool %s is not supported yet "
		    "by this previewd", configured);
		return -1;
	}
	/* An empty folder is any tool's: nothing to run yet. */
	if (src->n == 0 || (t->names_match == NULL &&
	    t->content_match == NULL)) {
		*out = t;
		return 1;
	}
	if (t->names_match != NULL && t->names_match(src)) {
		*out = t;
		return 1;
	}
	if (t->content_match != NULL && first_migration(t, src, look))
		return 0;
	snprintf(err, errlen, "migrations_tool %s: no %s in %s (found %zu "
	    ".sql file%s)", t->name, t->looks_for, folder, src->n,
	    src->n == 1 ? "" : "s");
	return -1;
}

int
tool_choose_content(const char *configured, const struct source *src,
    size_t look, const char *data, size_t len, const struct tool **out,
    char *err, size_t errlen)
{
	const struct tool *t = NULL;
	size_t i;

	if (strcmp(configured, "auto") != 0) {
		t = tool_find(configured);
	} else {
		for (i = 0; i < ARRAY_SIZE(tools) && t == NULL; i++)
			if (tools[i].supported &&
			    tools[i].content_match != NULL)
				t = &tools[i];
	}
	if (t != NULL && t->content_match != NULL &&
	    t->content_match(data, len)) {
		*out = t;
		return 1;
	}
	if (strcmp(configured, "auto") == 0) {
		*out = &tools[0];
		return 1;
	}
	snprintf(err, errlen, "migrations_tool %s: no \"-- migrate:up\" line "
	    "in %s, its first migration (found %zu .sql file%s)", configured,
	    src->files[look].path, src->n, src->n == 1 ? "" : "s");
	return -1;
}

static int
by_version(const void *a, const void *b)
{
	const struct source_file *x = a, *y = b;
	int c = tool_version_cmp(x->version, y->version);

	return c != 0 ? c : strcmp(x->name, y->name);
}

int
tool_plan(const struct tool *t, struct source *src, char *err,
    size_t errlen)
{
	char why[300];
	size_t i, n = 0;
	int rc;

	if (t->version == NULL)
		return 0;           /* every file, in byte order already */
	for (i = 0; i < src->n; i++) {
		struct source_file *f = &src->files[i];

		rc = t->version(f->name, f->version, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", f->path, why);
			return -1;
		}
		if (rc == 1 && n != i)
			src->files[n] = *f;
		if (rc == 1)
			n++;
	}
	src->n = n;
	if (n > 1)
		qsort(src->files, n, sizeof(*src->files), by_version);
	for (i = 1; i < n; i++)
		if (strcmp(src->files[i - 1].version,
		    src->files[i].version) == 0) {
			snprintf(err, errlen, "two migrations of version %s: "
			    "%s and %s", src->files[i].version,
			    src->files[i - 1].path, src->files[i].path);
			return -1;
		}
	return 0;
}
