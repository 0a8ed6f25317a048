/*
 * tools: the migration tools a repository's migrations folder can belong
 * to, in one table (tools[] in core/tools.c) as engines are one table of
 * struct engine_ops. A tool says which files of the folder are its
 * migrations and in which order, which part of a file runs, and the
 * history table the tool itself keeps, so that the app's own tool, run
 * against a preview database afterwards, finds nothing left to do.
 *
 *   sql             every *.sql file in byte order of names, whole;
 *                   only previewd's own record (previewd_migrations)
 *   golang-migrate  <version>_<title>.up.sql in numeric version order
 *                   (.down.sql never runs); schema_migrations (version
 *                   bigint, dirty boolean): one row, the newest version
 *   dbmate          <version>*.sql in numeric version order, up to its
 *                   "-- migrate:down" line; schema_migrations (version
 *                   varchar): one row per file
 *   drizzle         the files meta/_journal.json names (<tag>.sql), in
 *                   its order, each as drizzle-orm splits it at
 *                   "--> statement-breakpoint";
 *                   drizzle.__drizzle_migrations (id serial, hash text,
 *                   created_at bigint; __drizzle_migrations on MySQL):
 *                   one row per file, its SHA-256 and the journal's when
 *   flyway          V<version>__<description>.sql in Flyway's version
 *                   order (1.10 after 1.9), then R__<description>.sql,
 *                   run again when they change (rerun); U undo files
 *                   never; files in subfolders too; flyway_schema_history:
 *                   one row per run, with Flyway's CRC-32 checksum
 *   prisma          <name>/migration.sql of each subfolder in order of
 *                   names, whole; _prisma_migrations (id, checksum,
 *                   finished_at, migration_name, logs, rolled_back_at,
 *                   started_at, applied_steps_count): one row per folder
 *   supabase        <version>_<name>.sql in order of file names, whole,
 *                   PostgreSQL only; supabase_migrations.schema_migrations
 *                   (version text, statements text[], name text): one row
 *                   per file
 *
 * The table and what tools share are in core/tools.c; each tool's rules
 * in a file of its own, core/tools_NAME.c, defining the struct tool that
 * tools.c lists.
 *
 * previewd_migrations stays the record every tool's files are applied
 * and checked against (incremental runs, checksums, intents); the tool's
 * history is written with it, in its transaction (engine_apply).
 *
 * A new tool is a file core/tools_NAME.c with its struct tool (the
 * functions it needs and, if it keeps a history, one struct tool_history
 * per engine), declared below and listed in tools[].
 * Everything here is pure (no I/O): the caller reads files.
 */
#ifndef PREVIEWD_TOOLS_H
#define PREVIEWD_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/source.h"

/* A tool's history table on one engine, as the tool's own driver for
 * that engine writes it. */
struct tool_history {
	const char *engine;          /* engine_ops.name; NULL ends the list */
	/* Idempotent statements, before any file runs. NULL-terminated. */
	const char *const *create;
	/* With each file, in its record's transaction; $1..$N are the values
	 * of the tool's history_row (see struct tool). NULL-terminated. */
	const char *const *write;
};

/* One file as a history row describes it. */
struct tool_file {
	const struct source_file *file;
	const char *data;            /* the whole file as read */
	size_t len;
	const char *sha256;          /* of data, hex */
	const char *newest;          /* the newest version applied before, or "" */
};

/* A history row's values, $1..$n of the write statements; a NULL value is
 * SQL's NULL. Owned: tool_params_release frees them. */
#define TOOL_PARAMS_MAX 9
struct tool_params {
	char *v[TOOL_PARAMS_MAX];
	size_t n;
};

struct tool {
	const char *name;            /* as migrations_tool names it */
	/* What auto recognises the tool by, tried in table order: the
	 * folder's path and file names (names_match), or else the contents
	 * of its first migration file (content_match). NULL when not by
	 * that. */
	bool (*names_match)(const char *folder, const struct source *src);
	bool (*content_match)(const char *data, size_t len);
	/* What an explicit migrations_tool found missing says it looked
	 * for: "no %s in FOLDER (found N .sql files)". */
	const char *looks_for;
	/* Whether the tool takes the file called name (its path under the
	 * folder, "a/b.sql" in a subfolder): 1, with its version in
	 * version[SOURCE_VERSION_SIZE]; 0, not one of its migrations
	 * (ignored, as the tool ignores it); -1, a name the tool would fail
	 * on (err says why). NULL for a tool whose plan names its files and
	 * that auto does not recognise by contents (drizzle). */
	int (*version)(const char *name, char *version, char *err,
	    size_t errlen);
	/* A file of the folder the tool's own order comes from (drizzle's
	 * meta/_journal.json): the core reads it and hands it to plan.
	 * NULL: none. */
	const char *index;
	/* The tool's own plan, instead of version order (tool_plan): keep
	 * its migrations among src's files, with their versions and rerun
	 * flags, in its order. index is the index file's bytes, NULL when
	 * the tool has none. 0, or -1 with err. */
	int (*plan)(struct source *src, const char *index, size_t len,
	    char *err, size_t errlen);
	/* Cut file, in place, to what the tool runs, keeping its lines where
	 * they are (an error's "line N" is the file's); *outside when it must
	 * run outside a transaction. 0, or -1 with err. NULL: all of it. */
	int (*script)(struct buf *file, bool *outside, char *err,
	    size_t errlen);
	/* The default history row is one value, $1: the file's version, or
	 * with history_newest the newest version applied so far (one row,
	 * golang-migrate). history_row, when set, gives the row instead:
	 * 0, or -1 with err. */
	bool history_newest;
	int (*history_row)(const struct tool_file *f, struct tool_params *out,
	    char *err, size_t errlen);
	const struct tool_history *history;   /* NULL: none */
};

/* The tool called name, NULL when there is none; tool_at(i) walks them
 * in table order, NULL after the last. */
const struct tool *tool_find(const char *name);
const struct tool *tool_at(size_t i);

/* Which tool a listed migrations folder is applied with. configured is
 * migrations_tool ("auto" or a tool's name), folder the folder as the
 * configuration names it, src its listing. Returns
 *   1  *out is the tool;
 *   0  the answer needs the contents of src->files[*look], the first
 *      migration of *out: read it and call tool_choose_content;
 *  -1  refused: a tool previewd does not know, or an explicit tool the
 *      folder does not match (err says what was found). */
int tool_choose(const char *configured, const char *folder,
    const struct source *src, const struct tool **out, size_t *look,
    char *err, size_t errlen);
/* The second half of tool_choose, given data, the bytes of
 * src->files[look], and *out as tool_choose left it. 1 with *out, or -1
 * with err. */
int tool_choose_content(const char *configured, const char *folder,
    const struct source *src, size_t look, const char *data, size_t len,
    const struct tool **out, char *err, size_t errlen);

/* Keep only t's migrations among src's files, each with its version, in
 * t's order (t->plan's, or numeric versions then names; byte order of
 * names for sql). index: the bytes of t->index, NULL when t has none.
 * 0, or -1 with err (a name the tool refuses, two files of one version). */
int tool_plan(const struct tool *t, struct source *src, const char *index,
    size_t len, char *err, size_t errlen);

/* Whether source listings keep the file called name (its path under the
 * migrations folder): every *.sql file, and the files tools recognise a
 * folder by or read their order from. */
bool tool_wants(const char *name);

/* The values of t's history row for f, into out (released by the caller
 * with tool_params_release, also after an error). 0, or -1 with err. */
int tool_history_row(const struct tool *t, const struct tool_file *f,
    struct tool_params *out, char *err, size_t errlen);
void tool_params_release(struct tool_params *p);

/* Helpers for the tools' own files (core/tools_*.c). */
int tool_params_add(struct tool_params *p, const char *v);
bool tool_is_space(char c);
bool tool_ends_with(const char *s, const char *suffix);
const char *tool_next_line(const char *p, const char *end);
/* A file right in the folder, not in a subfolder of it. */
bool tool_top_level(const char *name);
/* How many statements PostgreSQL would run of data (len bytes, no NUL
 * inside), found as the Supabase CLI's parser finds them
 * (core/tools_supabase.c), comments alone not counted: 0, 1, or 2 for
 * more. */
size_t tool_pg_statements(const char *data, size_t len);

/* t's history table on engine, NULL when t keeps none there. */
const struct tool_history *tool_history(const struct tool *t,
    const char *engine);

/* Compare two decimal versions by value (any number of digits). */
int tool_version_cmp(const char *a, const char *b);

/* The tools, each defined in its own core/tools_NAME.c. */
extern const struct tool tool_golang_migrate;
extern const struct tool tool_dbmate;
extern const struct tool tool_drizzle;
extern const struct tool tool_flyway;
extern const struct tool tool_prisma;
extern const struct tool tool_supabase;

#endif
