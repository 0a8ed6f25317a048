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
 *   prisma, drizzle, flyway, supabase: named (migrations_tool accepts
 *                   them), not supported yet
 *
 * previewd_migrations stays the record every tool's files are applied
 * and checked against (incremental runs, checksums, intents); the tool's
 * history is written with it, in its transaction (engine_apply).
 *
 * A new tool is a row of tools[]: the functions of struct tool it needs
 * and, if it keeps a history, one struct tool_history per engine.
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
	const char *create;          /* idempotent, before any file runs */
	/* With each file, in its record's transaction; $1 is the version
	 * (see history_newest). NULL-terminated. */
	const char *const *write;
};

struct tool {
	const char *name;            /* as migrations_tool names it */
	bool supported;              /* false: named, not built yet */
	/* What auto recognises the tool by, tried in table order: its file
	 * names (names_match), or else the contents of its first migration
	 * file (content_match). NULL when not by that. */
	bool (*names_match)(const struct source *src);
	bool (*content_match)(const char *data, size_t len);
	/* What an explicit migrations_tool found missing says it looked
	 * for: "no %s in FOLDER (found N .sql files)". */
	const char *looks_for;
	/* Whether the tool takes the file called name: 1, with its version
	 * in version[SOURCE_VERSION_SIZE]; 0, not one of its migrations
	 * (ignored, as the tool ignores it); -1, a name the tool would fail
	 * on (err says why). NULL: every file, version "". */
	int (*version)(const char *name, char *version, char *err,
	    size_t errlen);
	/* Cut file, in place, to what the tool runs, keeping its lines where
	 * they are (an error's "line N" is the file's); *outside when it must
	 * run outside a transaction. 0, or -1 with err. NULL: all of it. */
	int (*script)(struct buf *file, bool *outside, char *err,
	    size_t errlen);
	/* The history's $1: the newest version applied so far (one row,
	 * golang-migrate), not the file's own (a row per file, dbmate). */
	bool history_newest;
	const struct tool_history *history;   /* NULL: none */
};

/* The tool called name, NULL when there is none; tool_at(i) walks them
 * in table order, NULL after the last. */
const struct tool *tool_find(const char *name);
const struct tool *tool_at(size_t i);

/* Which tool a listed migrations folder is applied with. configured is
 * migrations_tool ("auto" or a tool's name), folder the folder as the
 * configuration names it (for messages), src its *.sql files. Returns
 *   1  *out is the tool;
 *   0  the answer needs the contents of src->files[*look]: read it and
 *      call tool_choose_content;
 *  -1  refused: a tool not supported yet, or an explicit tool the
 *      folder does not match (err says what was found). */
int tool_choose(const char *configured, const char *folder,
    const struct source *src, const struct tool **out, size_t *look,
    char *err, size_t errlen);
/* The second half of tool_choose, given data, the bytes of
 * src->files[look]. 1 with *out, or -1 with err. */
int tool_choose_content(const char *configured, const struct source *src,
    size_t look, const char *data, size_t len, const struct tool **out,
    char *err, size_t errlen);

/* Keep only t's migrations among src's files, each with its version, in
 * t's order (numeric versions, then names; byte order of names for sql).
 * 0, or -1 with err (a name the tool refuses, two files of one version). */
int tool_plan(const struct tool *t, struct source *src, char *err,
    size_t errlen);

/* t's history table on engine, NULL when t keeps none there. */
const struct tool_history *tool_history(const struct tool *t,
    const char *engine);

/* Compare two decimal versions by value (any number of digits). */
int tool_version_cmp(const char *a, const char *b);

#endif
