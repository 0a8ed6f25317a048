/*
 * tools: the table of migration tools, what they share, and how a folder
 * gets its tool (core/tools.h). Each tool's rules are in its own
 * core/tools_NAME.c, learnt from that tool's source, which it names.
 */
#include "core/tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Go's \s, which most tools' patterns use: space, \t, \n, \f, \r. */
bool
tool_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool
tool_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

const char *
tool_next_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

bool
tool_top_level(const char *name)
{
	return strchr(name, '/') == NULL;
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

/* sql: every *.sql file right in the folder, version "" (so in byte order
 * of names), as previewd has always run them. */
static int
sql_version(const char *name, char *version, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	version[0] = '\0';
	return tool_top_level(name) && tool_ends_with(name, ".sql") ? 1 : 0;
}

static const struct tool tool_sql = {
	.name = "sql", .looks_for = "*.sql files",
	.version = sql_version,
};

/* Table order is auto's order, the issue's: each tool by its names or by
 * its first migration's contents, the first that matches wins; sql is
 * what is left. */
static const struct tool *const tools[] = {
	&tool_sql,
	&tool_prisma,
	&tool_drizzle,
	&tool_golang_migrate,
	&tool_dbmate,
	&tool_flyway,
	&tool_supabase,
};

const struct tool *
tool_at(size_t i)
{
	return i < ARRAY_SIZE(tools) ? tools[i] : NULL;
}

const struct tool *
tool_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tools); i++)
		if (strcmp(tools[i]->name, name) == 0)
			return tools[i];
	return NULL;
}

bool
tool_wants(const char *name)
{
	size_t i;

	if (tool_ends_with(name, ".sql"))
		return true;
	for (i = 0; i < ARRAY_SIZE(tools); i++)
		if (tools[i]->index != NULL &&
		    strcmp(tools[i]->index, name) == 0)
			return true;
	/* What prisma is recognised by besides its migration.sql files. */
	return strcmp(name, "migration_lock.toml") == 0;
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

int
tool_params_add(struct tool_params *p, const char *v)
{
	char *copy = NULL;

	if (p->n == TOOL_PARAMS_MAX || (v != NULL &&
	    (copy = strdup(v)) == NULL))
		return -1;
	p->v[p->n++] = copy;
	return 0;
}

void
tool_params_release(struct tool_params *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i]);
	memset(p, 0, sizeof(*p));
}

int
tool_history_row(const struct tool *t, const struct tool_file *f,
    struct tool_params *out, char *err, size_t errlen)
{
	const char *v = f->file->version;

	memset(out, 0, sizeof(*out));
	if (t->history_row != NULL)
		return t->history_row(f, out, err, errlen);
	/* A file older than one applied already (merged in late) does not
	 * lower a one-row history. */
	if (t->history_newest && f->newest[0] != '\0' &&
	    tool_version_cmp(f->newest, v) > 0)
		v = f->newest;
	if (tool_params_add(out, v) != 0) {
		str_copy(err, "out of memory", errlen);
		return -1;
	}
	return 0;
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

/* The *.sql files of src, for messages. */
static size_t
sql_count(const struct source *src)
{
	size_t i, n = 0;

	for (i = 0; i < src->n; i++)
		n += tool_ends_with(src->files[i].name, ".sql");
	return n;
}

/* auto from tools[from] on: 1 with *out, or 0 with *out the tool whose
 * first migration (src->files[*look]) must be read. */
static int
auto_from(size_t from, const char *folder, const struct source *src,
    const struct tool **out, size_t *look)
{
	const struct tool *t;
	size_t i;

	for (i = from; i < ARRAY_SIZE(tools); i++) {
		t = tools[i];
		if (t->names_match != NULL && t->names_match(folder, src)) {
			*out = t;
			return 1;
		}
		if (t->content_match != NULL && first_migration(t, src, look)) {
			*out = t;
			return 0;
		}
	}
	*out = &tool_sql;
	return 1;
}

int
tool_choose(const char *configured, const char *folder,
    const struct source *src, const struct tool **out, size_t *look,
    char *err, size_t errlen)
{
	const struct tool *t = tool_find(configured);
	size_t n;

	*out = NULL;
	if (strcmp(configured, "auto") == 0)
		return auto_from(1, folder, src, out, look);
	if (t == NULL) {
		/* The configuration's choices are the table's names. */
		snprintf(err, errlen, "migrations_tool %s is not one previewd "
		    "knows", configured);
		return -1;
	}
	*out = t;
	/* An empty folder is any tool's: nothing to run yet. */
	n = sql_count(src);
	if (n == 0 || (t->names_match == NULL && t->content_match == NULL))
		return 1;
	if (t->names_match != NULL && t->names_match(folder, src))
		return 1;
	if (t->content_match != NULL && first_migration(t, src, look))
		return 0;
	*out = NULL;
	snprintf(err, errlen, "migrations_tool %s: no %s in %s (found %zu "
	    ".sql file%s)", t->name, t->looks_for, folder, n, n == 1 ? "" :
	    "s");
	return -1;
}

int
tool_choose_content(const char *configured, const char *folder,
    const struct source *src, size_t look, const char *data, size_t len,
    const struct tool **out, char *err, size_t errlen)
{
	const struct tool *t = *out;
	size_t i, n;

	if (t->content_match(data, len))
		return 1;
	if (strcmp(configured, "auto") == 0) {
		/* Go on after t; a second content tool is not looked at (the
		 * table has one), so a 0 here is sql. */
		for (i = 0; i < ARRAY_SIZE(tools) && tools[i] != t; i++)
			;
		if (auto_from(i + 1, folder, src, out, &look) == 0)
			*out = &tool_sql;
		return 1;
	}
	n = sql_count(src);
	*out = NULL;
	snprintf(err, errlen, "migrations_tool %s: no \"-- migrate:up\" line "
	    "in %s, its first migration (found %zu .sql file%s)", configured,
	    src->files[look].path, n, n == 1 ? "" : "s");
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
tool_plan(const struct tool *t, struct source *src, const char *index,
    size_t len, char *err, size_t errlen)
{
	char why[300];
	size_t i, n = 0;
	int rc;

	if (t->plan != NULL)
		return t->plan(src, index, len, err, errlen);
	for (i = 0; i < src->n; i++) {
		struct source_file *f = &src->files[i];

		f->rerun = false;
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
	/* sql's files have no version ("") to share. */
	for (i = 1; i < n; i++)
		if (src->files[i].version[0] != '\0' &&
		    strcmp(src->files[i - 1].version,
		    src->files[i].version) == 0) {
			snprintf(err, errlen, "two migrations of version %s: "
			    "%s and %s", src->files[i].version,
			    src->files[i - 1].path, src->files[i].path);
			return -1;
		}
	return 0;
}
