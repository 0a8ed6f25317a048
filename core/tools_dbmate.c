/*
 * tools_dbmate: dbmate's folder (core/tools.h), learnt from
 * github.com/amacneil/dbmate: pkg/dbmate/db.go (file names),
 * pkg/dbmate/migration.go (sections, options),
 * pkg/driver/postgres/postgres.go and pkg/driver/mysql/mysql.go
 * (CreateMigrationsTable, InsertMigration).
 */
#include "core/tools.h"

#include <stdio.h>
#include <string.h>

/* pkg/dbmate/db.go: ^(\d+).*\.sql$, the version being the digits as
 * written (a string: "001" and "1" are two versions). */
static int
dbmate_version(const char *name, char *version, char *err, size_t errlen)
{
	size_t digits = strspn(name, "0123456789");

	if (digits == 0 || !tool_ends_with(name, ".sql") ||
	    digits > strlen(name) - 4 || !tool_top_level(name))
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
	for (p += 2; p < end && tool_is_space(*p); p++)
		;
	if ((size_t)(end - p) < 8 + n || memcmp(p, "migrate:", 8) != 0 ||
	    memcmp(p + 8, what, n) != 0)
		return false;
	p += 8 + n;
	return p == end || tool_is_space(*p);
}

/* dbmate allows only empty lines and comments before "-- migrate:up". */
static bool
blank_or_comment(const char *p, const char *end)
{
	while (p < end && *p != '\n' && tool_is_space(*p))
		p++;
	return p == end || *p == '\n' || (end - p >= 2 && p[0] == '-' &&
	    p[1] == '-');
}

static bool
dbmate_match(const char *data, size_t len)
{
	const char *p, *end = data + len;

	for (p = data; p < end; p = tool_next_line(p, end))
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

		while (p < eol && tool_is_space(*p))
			p++;
		for (w = p; w < eol && !tool_is_space(*w); w++)
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

	for (p = file->data; p < end; p = tool_next_line(p, end)) {
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
static const char *const dbmate_pg_create[] = {
	"create table if not exists schema_migrations "
	"(version varchar primary key)",
	NULL,
};
static const char *const dbmate_my_create[] = {
	"create table if not exists `schema_migrations` "
	"(version varchar(128) primary key)",
	NULL,
};
static const struct tool_history dbmate_history[] = {
	{ "postgres", dbmate_pg_create, dbmate_pg_write },
	{ "mysql", dbmate_my_create, dbmate_my_write },
	{ NULL, NULL, NULL },
};

const struct tool tool_dbmate = {
	.name = "dbmate",
	.content_match = dbmate_match,
	.looks_for = "<version>_<name>.sql files",
	.version = dbmate_version, .script = dbmate_script,
	.history = dbmate_history,
};
