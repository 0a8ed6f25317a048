/*
 * tools_drizzle: drizzle-kit's migrations folder as drizzle-orm's
 * migrator applies it (core/tools.h), learnt from
 * github.com/drizzle-team/drizzle-orm (0.45): drizzle-orm/src/migrator.ts
 * (readMigrationFiles: the journal, the files, the split, the hash),
 * drizzle-orm/src/pg-core/dialect.ts and mysql-core/dialect.ts (migrate():
 * the history table, what is pending, the row), and
 * drizzle-kit/src/cli/commands/migrate.ts (writeResult: how drizzle-kit
 * writes the journal and the statements between breakpoints).
 *
 * What drizzle-orm does, and what previewd makes of it:
 *   - The order is meta/_journal.json's entries[], each naming the file
 *     <tag>.sql; files the journal does not name are never read. A tag
 *     without its file stops the migrator before anything runs: so does
 *     the plan here.
 *   - A file is split at every "--> statement-breakpoint" and each part
 *     sent as a query of its own. previewd runs the file as one script
 *     (core/migrate.c), so drizzle_script turns each marker into blanks
 *     of its length, and into a ";" first where the part before it does
 *     not end its statement: MySQL has no "-->" comment, and refuses an
 *     empty statement (";;"), which PostgreSQL takes.
 *   - The history row is (hash, created_at): the SHA-256 hex of the file
 *     as text, and the entry's "when". The migrator applies an entry only
 *     when its "when" is above the newest created_at in the table, so
 *     once previewd has written a row per entry it applies nothing.
 *   - All pending files run in one transaction on PostgreSQL: none runs
 *     outside one (no *outside).
 */
#include "core/tools.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/jscan.h"

#define DRIZZLE_JOURNAL "meta/_journal.json"
#define BREAKPOINT "--> statement-breakpoint"
#define BREAKPOINT_LEN (sizeof(BREAKPOINT) - 1)
/* The journal's "when" is read by JSON.parse into a JavaScript number:
 * above Number.MAX_SAFE_INTEGER it would not be the number written. */
#define WHEN_MAX 9007199254740991LL

static bool
drizzle_names(const char *folder, const struct source *src)
{
	size_t i;

	(void)folder;
	for (i = 0; i < src->n; i++)
		if (strcmp(src->files[i].name, DRIZZLE_JOURNAL) == 0)
			return true;
	return false;
}

/* The next element of a JSON array jscan_parse has validated, from p
 * (just after its "[" or a ","): false at its "]". */
static bool
array_next(const char **p, const char *end, const char **elem,
    size_t *len)
{
	const char *q = *p;
	int depth = 0;

	while (q < end && tool_is_space(*q))
		q++;
	if (q == end || *q == ']')
		return false;
	*elem = q;
	for (; q < end; q++) {
		if (*q == '"') {
			for (q++; q < end && *q != '"'; q++)
				if (*q == '\\')
					q++;
		} else if (*q == '[' || *q == '{')
			depth++;
		else if ((*q == ']' || *q == '}') && depth > 0)
			depth--;
		else if (depth == 0 && (*q == ',' || *q == ']'))
			break;
	}
	*len = (size_t)(q - *elem);
	while (*len > 0 && tool_is_space((*elem)[*len - 1]))
		(*len)--;
	*p = q < end && *q == ',' ? q + 1 : q;
	return true;
}

/* Entry k of the journal (elem, len): its file's name and its "when" as
 * the decimal version. 0, or -1 with why. */
static int
entry_read(const char *elem, size_t len, char name[256],
    char version[SOURCE_VERSION_SIZE], char *why, size_t whylen)
{
	struct jscan_field f[2] = { { .path = "tag" }, { .path = "when" } };
	char tag[256];
	long long when;

	if (jscan_parse(elem, len, f, ARRAY_SIZE(f)) != 0 ||
	    f[0].type != JSCAN_STRING || jscan_string(&f[0], tag,
	    sizeof(tag)) != 0 || tag[0] == '\0') {
		str_copy(why, "no \"tag\" string naming its file", whylen);
		return -1;
	}
	if (f[1].type != JSCAN_NUMBER || jscan_int64(&f[1], &when) != 0 ||
	    when < 0 || when > WHEN_MAX) {
		snprintf(why, whylen, "\"when\" of %s is not the milliseconds "
		    "drizzle-kit writes there (a whole number from 0 to %lld)",
		    tag, WHEN_MAX);
		return -1;
	}
	/* Longer than a listed name can be: no file of the folder has it. */
	if (snprintf(name, 256, "%s.sql", tag) >= 256)
		name[0] = '\0';
	snprintf(version, SOURCE_VERSION_SIZE, "%lld", when);
	return 0;
}

/*
 * readMigrationFiles: the journal's entries in their order, each the file
 * <tag>.sql, whatever the folder holds besides. Each kept file moves to
 * position k of src->files, so a tag named twice finds its file before k.
 * The journal is strict JSON (jscan), as JSON.parse wants it; where an
 * object repeats a key jscan takes the first and JSON.parse the last.
 */
static int
drizzle_plan(struct source *src, const char *index, size_t len, char *err,
    size_t errlen)
{
	struct jscan_field entries = { .path = "entries" };
	struct source_file tmp;
	char name[256], version[SOURCE_VERSION_SIZE], why[300];
	const char *journal = DRIZZLE_JOURNAL, *p, *end, *elem;
	size_t i, j, k = 0, elen, folder = 0;

	for (i = 0; i < src->n; i++)
		if (strcmp(src->files[i].name, DRIZZLE_JOURNAL) == 0) {
			journal = src->files[i].path;
			folder = strlen(journal) - strlen(DRIZZLE_JOURNAL);
		}
	if (index == NULL || jscan_parse(index, len, &entries, 1) != 0) {
		snprintf(err, errlen, "%s is not valid JSON: drizzle-orm's "
		    "migrator stops on it too", journal);
		return -1;
	}
	if (entries.type != JSCAN_ARRAY) {
		snprintf(err, errlen, "%s has no \"entries\" array: drizzle-orm's "
		    "migrator stops on it too", journal);
		return -1;
	}
	p = entries.raw + 1;
	end = entries.raw + entries.raw_len;
	while (array_next(&p, end, &elem, &elen)) {
		if (entry_read(elem, elen, name, version, why,
		    sizeof(why)) != 0) {
			snprintf(err, errlen, "%s: entry %zu: %s", journal, k,
			    why);
			return -1;
		}
		for (j = 0; j < src->n; j++)
			if (strcmp(src->files[j].name, name) == 0)
				break;
		if (j < k) {
			snprintf(err, errlen, "%s: entry %zu names %s, which an "
			    "earlier entry names: previewd applies a file once",
			    journal, k, name);
			return -1;
		}
		if (j == src->n) {
			/* The migrator's own words, then why it matters. */
			snprintf(err, errlen, "%s: entry %zu: No file %.*s%s found "
			    "in %.*s folder (drizzle-orm's migrator stops there "
			    "too)", journal, k, (int)folder, journal,
			    name[0] != '\0' ? name : "<tag>.sql",
			    (int)(folder > 0 ? folder - 1 : 0), journal);
			return -1;
		}
		tmp = src->files[k];
		src->files[k] = src->files[j];
		src->files[j] = tmp;
		str_copy(src->files[k].version, version,
		    sizeof(src->files[k].version));
		src->files[k].rerun = false;
		k++;
	}
	src->n = k;
	return 0;
}

/*
 * The first byte of [p, end) that is not well-formed UTF-8, or NULL.
 * drizzle-orm reads a file with readFileSync().toString(): malformed
 * bytes become U+FFFD in the text it runs and hashes, so neither would
 * be the file's. Well-formed as WHATWG's decoder has it: no overlong
 * forms, no surrogates, nothing above U+10FFFF.
 */
static const char *
utf8_invalid(const char *p, const char *end)
{
	const unsigned char *s = (const unsigned char *)p,
	    *e = (const unsigned char *)end;
	unsigned char lo, hi;
	size_t n, i;

	while (s < e) {
		if (*s < 0x80) {
			s++;
			continue;
		}
		lo = 0x80;
		hi = 0xBF;
		if (*s >= 0xC2 && *s <= 0xDF)
			n = 1;
		else if (*s >= 0xE0 && *s <= 0xEF) {
			n = 2;
			lo = *s == 0xE0 ? 0xA0 : 0x80;
			hi = *s == 0xED ? 0x9F : 0xBF;
		} else if (*s >= 0xF0 && *s <= 0xF4) {
			n = 3;
			lo = *s == 0xF0 ? 0x90 : 0x80;
			hi = *s == 0xF4 ? 0x8F : 0xBF;
		} else
			return (const char *)s;
		if ((size_t)(e - s) <= n || s[1] < lo || s[1] > hi)
			return (const char *)s;
		for (i = 2; i <= n; i++)
			if (s[i] < 0x80 || s[i] > 0xBF)
				return (const char *)s;
		s += n + 1;
	}
	return NULL;
}

static bool
ident_char(unsigned char c)
{
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') ||
	    ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* The end of a quoted string or identifier opened at p by q: doubled q
 * and backslash escapes (MySQL's strings) stay inside. */
static const char *
skip_quoted(const char *p, const char *end, char q)
{
	for (p++; p < end; p++) {
		if (*p == '\\' && q != '`')
			p++;
		else if (*p == q && p + 1 < end && p[1] == q)
			p++;
		else if (*p == q)
			return p + 1;
	}
	return NULL;
}

/* PostgreSQL's $tag$...$tag$ opened at p: its end; p itself when p
 * opens none (a parameter $1, a "$" inside a name); NULL when it is not
 * closed. */
static const char *
skip_dollar(const char *p, const char *end, const char *start)
{
	const char *t = p + 1, *q;
	size_t n;

	if ((p > start && ident_char((unsigned char)p[-1])) ||
	    (t < end && *t >= '0' && *t <= '9'))
		return p;
	while (t < end && *t != '$' && ident_char((unsigned char)*t))
		t++;
	if (t == end || *t != '$')
		return p;
	n = (size_t)(t - p + 1);
	for (q = t + 1; (size_t)(end - q) >= n; q++)
		if (memcmp(q, p, n) == 0)
			return q + n;
	return NULL;
}

/*
 * Whether the part [p, end) of a file, as drizzle sends it, leaves a
 * statement open: something other than blanks and comments after its
 * last ";". Neither engine's grammar exactly, but both where a drizzle
 * file goes: '...', "..." and `...` with doubled quotes and MySQL's
 * backslash escapes, PostgreSQL's $tag$ bodies and nested block
 * comments, "--" and MySQL's "#" comments, and MySQL's executable
 * comments ("/" "*!...") that run. A part that ends inside a quote or a
 * comment counts as open: an extra ";" is harmless on PostgreSQL, where
 * such a guess can be wrong.
 */
static bool
part_open(const char *p, const char *end)
{
	const char *start = p, *q;
	bool open = false;
	int depth;

	while (p < end) {
		if (tool_is_space(*p)) {
			p++;
		} else if (*p == ';') {
			open = false;
			p++;
		} else if ((*p == '-' && p + 1 < end && p[1] == '-') ||
		    *p == '#') {
			q = memchr(p, '\n', (size_t)(end - p));
			p = q != NULL ? q + 1 : end;
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			if ((p + 2 < end && p[2] == '!') || (p + 3 < end &&
			    p[2] == 'M' && p[3] == '!'))
				open = true;
			for (depth = 1, p += 2; p < end && depth > 0; p++) {
				if (*p == '*' && p + 1 < end && p[1] == '/')
					depth--, p++;
				else if (*p == '/' && p + 1 < end && p[1] == '*')
					depth++, p++;
			}
			if (depth > 0)
				return true;
		} else if (*p == '\'' || *p == '"' || *p == '`') {
			open = true;
			if ((p = skip_quoted(p, end, *p)) == NULL)
				return true;
		} else if (*p == '$') {
			open = true;
			if ((q = skip_dollar(p, end, start)) == NULL)
				return true;
			p = q == p ? p + 1 : q;
		} else {
			open = true;
			for (p++; p < end && ident_char((unsigned char)*p); p++)
				;
		}
	}
	return open;
}

/* The first marker in [p, end), or NULL. */
static char *
find_breakpoint(char *p, char *end)
{
	for (; (size_t)(end - p) >= BREAKPOINT_LEN; p++) {
		p = memchr(p, '-', (size_t)(end - p) - BREAKPOINT_LEN + 1);
		if (p == NULL)
			return NULL;
		if (memcmp(p, BREAKPOINT, BREAKPOINT_LEN) == 0)
			return p;
	}
	return NULL;
}

/*
 * What drizzle runs of a file, as one script with the file's lines: each
 * "--> statement-breakpoint" (wherever it stands, as String.split finds
 * it) becomes blanks of its length, led by a ";" when the part before it
 * leaves a statement open. A file that is not UTF-8 is refused: drizzle
 * would run and record other text than its bytes.
 */
static int
drizzle_script(struct buf *file, bool *outside, char *err, size_t errlen)
{
	char *p = file->data, *end = file->data + file->len, *m;
	const char *bad = utf8_invalid(p, end), *q;
	int line = 1;

	*outside = false;
	if (bad != NULL) {
		for (q = p; q < bad; q++)
			line += *q == '\n';
		snprintf(err, errlen, "line %d: not UTF-8: drizzle-orm reads a "
		    "migration as UTF-8 text and would run and hash U+FFFD in "
		    "place of byte 0x%02x", line, (unsigned char)*bad);
		return -1;
	}
	while ((m = find_breakpoint(p, end)) != NULL) {
		bool open = part_open(p, m);

		memset(m, ' ', BREAKPOINT_LEN);
		if (open)
			m[0] = ';';
		p = m + BREAKPOINT_LEN;
	}
	return 0;
}

/* The row migrate() inserts after a file: its hash and its "when". */
static int
drizzle_history_row(const struct tool_file *f, struct tool_params *out,
    char *err, size_t errlen)
{
	if (tool_params_add(out, f->sha256) != 0 ||
	    tool_params_add(out, f->file->version) != 0) {
		str_copy(err, "out of memory", errlen);
		return -1;
	}
	return 0;
}

/* migrate() of pg-core/dialect.ts and mysql-core/dialect.ts with their
 * default names (drizzle.config's migrations.table and .schema are not
 * read): the statements as they send them. */
static const char *const drizzle_pg_create[] = {
	"CREATE SCHEMA IF NOT EXISTS \"drizzle\"",
	"CREATE TABLE IF NOT EXISTS \"drizzle\".\"__drizzle_migrations\" ("
	"id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)",
	NULL,
};
static const char *const drizzle_pg_write[] = {
	"insert into \"drizzle\".\"__drizzle_migrations\" (\"hash\", "
	"\"created_at\") values($1, $2)",
	NULL,
};
static const char *const drizzle_my_create[] = {
	"create table if not exists `__drizzle_migrations` ("
	"id serial primary key, hash text not null, created_at bigint)",
	NULL,
};
static const char *const drizzle_my_write[] = {
	"insert into `__drizzle_migrations` (`hash`, `created_at`) "
	"values($1, $2)",
	NULL,
};
static const struct tool_history drizzle_history[] = {
	{ "postgres", drizzle_pg_create, drizzle_pg_write },
	{ "mysql", drizzle_my_create, drizzle_my_write },
	{ NULL, NULL, NULL },
};

const struct tool tool_drizzle = {
	.name = "drizzle",
	.names_match = drizzle_names, .looks_for = DRIZZLE_JOURNAL,
	.index = DRIZZLE_JOURNAL, .plan = drizzle_plan,
	.script = drizzle_script, .history_row = drizzle_history_row,
	.history = drizzle_history,
};
