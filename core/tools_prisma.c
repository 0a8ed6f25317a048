/*
 * tools_prisma: Prisma Migrate's folder (core/tools.h), learnt from
 * github.com/prisma/prisma: packages/migrate/src/utils/listMigrations.ts
 * (which folders are migrations, their order), and from
 * github.com/prisma/prisma-engines: schema-engine/core/src/commands/
 * apply_migrations.rs (what `prisma migrate deploy` applies and records),
 * schema-engine/connectors/sql-schema-connector/src/flavour/postgres/
 * connection.rs (how a file is sent),
 * schema-engine/connectors/sql-schema-connector/src/
 * sql_migration_persistence.rs (the row of an applied migration),
 * .../flavour/postgres.rs and .../flavour/mysql.rs
 * (create_migrations_table), schema-engine/connectors/schema-connector/
 * src/checksum.rs (the checksum).
 */
#include "core/tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"

#define PRISMA_SCRIPT "migration.sql"

/* The migration a file name under the folder belongs to: the length of
 * its folder's name ("20240102_orders" of "20240102_orders/x.sql"), 0 for
 * a file right in the folder. */
static size_t
prisma_dir_len(const char *name)
{
	const char *slash = strchr(name, '/');

	return slash != NULL ? (size_t)(slash - name) : 0;
}

/*
 * listMigrations.ts: each folder right in the migrations folder is a
 * migration called by the folder's name, whose script is its
 * migration.sql; files beside the folders (migration_lock.toml) and
 * anything deeper are not read. The name is the whole record (no
 * version): "" here, and the plan orders by names.
 */
static int
prisma_version(const char *name, char *version, char *err, size_t errlen)
{
	size_t dir = prisma_dir_len(name);

	(void)err;
	(void)errlen;
	version[0] = '\0';
	return dir > 0 && strcmp(name + dir + 1, PRISMA_SCRIPT) == 0 ? 1 : 0;
}

static bool
prisma_names(const char *folder, const struct source *src)
{
	char v[SOURCE_VERSION_SIZE], e[8];
	size_t i;

	(void)folder;
	for (i = 0; i < src->n; i++)
		if (strcmp(src->files[i].name, "migration_lock.toml") == 0 ||
		    prisma_version(src->files[i].name, v, e, sizeof(e)) == 1)
			return true;
	return false;
}

/* Migration names in byte order, as prisma-engines sorted the folder's
 * entries: a file name's folder part ends at its '/', which must sort
 * before any character ("init" before "init-2", though '-' < '/'). */
static int
by_migration_name(const void *a, const void *b)
{
	const unsigned char *x = (const unsigned char *)
	    ((const struct source_file *)a)->name;
	const unsigned char *y = (const unsigned char *)
	    ((const struct source_file *)b)->name;
	unsigned cx, cy;

	for (;; x++, y++) {
		cx = *x == '/' ? 0 : *x;
		cy = *y == '/' ? 0 : *y;
		if (cx != cy)
			return cx < cy ? -1 : 1;
		if (cx == 0)
			return 0;
	}
}

/* Whether the folder name's first dir bytes hold a migration.sql among
 * src's files. */
static bool
has_script(const struct source *src, const char *name, size_t dir)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		if (strncmp(src->files[i].name, name, dir) == 0 &&
		    src->files[i].name[dir] == '/' &&
		    strcmp(src->files[i].name + dir + 1, PRISMA_SCRIPT) == 0)
			return true;
	return false;
}

/*
 * Keep each folder's migration.sql, in order of folder names. A folder
 * the listing shows (by an .sql file in it) without a migration.sql is
 * refused: `prisma migrate deploy` fails on it, reading a script that is
 * not there. Folders holding no .sql file at all are not listed, so not
 * seen here.
 */
static int
prisma_plan(struct source *src, const char *index, size_t len, char *err,
    size_t errlen)
{
	char why[8];
	size_t i, n = 0, dir;

	(void)index;
	(void)len;
	for (i = 0; i < src->n; i++) {
		struct source_file *f = &src->files[i];

		dir = prisma_dir_len(f->name);
		if (dir > 0 && !has_script(src, f->name, dir)) {
			size_t keep = strlen(f->path) - strlen(f->name) + dir;

			snprintf(err, errlen, "%.*s has no %s: prisma migrate "
			    "deploy fails on such a folder (\"Failed to read "
			    "migration script\")", (int)keep, f->path,
			    PRISMA_SCRIPT);
			return -1;
		}
	}
	for (i = 0; i < src->n; i++) {
		struct source_file *f = &src->files[i];

		f->rerun = false;
		if (prisma_version(f->name, f->version, why, sizeof(why)) != 1)
			continue;
		if (n != i)
			src->files[n] = *f;
		n++;
	}
	src->n = n;
	if (n > 1)
		qsort(src->files, n, sizeof(*src->files), by_migration_name);
	return 0;
}

/*
 * The whole file runs, as Prisma runs it; the question is only how on
 * PostgreSQL. flavour/postgres/connection.rs, apply_migration_script,
 * sends the file as one simple query: PostgreSQL runs a query of several
 * statements in one implicit transaction, as previewd's own transaction
 * would, but a lone statement in none, and some statements refuse a
 * transaction block (CREATE INDEX CONCURRENTLY, alone in its
 * migration.sql, is how Prisma's users build an index without a lock).
 * So a file of one statement runs outside previewd's transaction, with
 * its record after it, as Prisma's record follows it. (On MySQL the
 * record always follows the file.)
 */
static int
prisma_script(struct buf *file, bool *outside, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	*outside = tool_pg_statements(file->data, file->len) == 1;
	return 0;
}

/*
 * The row sql_migration_persistence.rs leaves for a migration that
 * applied: record_migration_started (id: a new v4 UUID; checksum: the
 * SHA-256 of the script, lower-case hex, 64 digits, as checksum.rs
 * renders it; migration_name; started_at), then record_successful_step
 * (applied_steps_count 0 -> 1) and record_migration_finished
 * (finished_at). logs and rolled_back_at stay NULL. Values: $1 the id,
 * $2 the checksum, $3 the name.
 */
static int
prisma_row(const struct tool_file *f, struct tool_params *out, char *err,
    size_t errlen)
{
	unsigned char b[16];
	char hex[33], id[37], name[sizeof(f->file->name)];
	size_t dir = prisma_dir_len(f->file->name);

	if (crypto_random(b, sizeof(b)) != 0) {
		str_copy(err, "no random bytes for the migration's id", errlen);
		return -1;
	}
	/* RFC 4122 version 4: uuid's Uuid::new_v4, as Prisma makes ids. */
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	hex_encode(b, sizeof(b), hex);
	snprintf(id, sizeof(id), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
	    hex + 12, hex + 16, hex + 20);
	snprintf(name, sizeof(name), "%.*s", (int)dir, f->file->name);
	if (tool_params_add(out, id) != 0 ||
	    tool_params_add(out, f->sha256) != 0 ||
	    tool_params_add(out, name) != 0) {
		str_copy(err, "out of memory", errlen);
		return -1;
	}
	return 0;
}

/*
 * create_migrations_table of the two flavours, column for column (made
 * only when missing, as initialize() does). The times: started_at when
 * the file began, finished_at when it ended; on PostgreSQL now() is the
 * transaction's start, before the file, and clock_timestamp() the moment
 * of the row, after it. Prisma writes UTC times from its own clock into
 * MySQL's DATETIME(3): UTC_TIMESTAMP(3), at the row (the file ran just
 * before, in its own statements).
 */
static const char *const prisma_pg_create[] = {
	"CREATE TABLE IF NOT EXISTS _prisma_migrations (\n"
	"    id                      VARCHAR(36) PRIMARY KEY NOT NULL,\n"
	"    checksum                VARCHAR(64) NOT NULL,\n"
	"    finished_at             TIMESTAMPTZ,\n"
	"    migration_name          VARCHAR(255) NOT NULL,\n"
	"    logs                    TEXT,\n"
	"    rolled_back_at          TIMESTAMPTZ,\n"
	"    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
	"    applied_steps_count     INTEGER NOT NULL DEFAULT 0\n"
	")",
	NULL,
};
static const char *const prisma_my_create[] = {
	"CREATE TABLE IF NOT EXISTS _prisma_migrations (\n"
	"    id                      VARCHAR(36) PRIMARY KEY NOT NULL,\n"
	"    checksum                VARCHAR(64) NOT NULL,\n"
	"    finished_at             DATETIME(3),\n"
	"    migration_name          VARCHAR(255) NOT NULL,\n"
	"    logs                    TEXT,\n"
	"    rolled_back_at          DATETIME(3),\n"
	"    started_at              DATETIME(3) NOT NULL DEFAULT "
	"CURRENT_TIMESTAMP(3),\n"
	"    applied_steps_count     INTEGER UNSIGNED NOT NULL DEFAULT 0\n"
	") DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
	NULL,
};
static const char *const prisma_pg_write[] = {
	"INSERT INTO _prisma_migrations (id, checksum, finished_at, "
	"migration_name, logs, rolled_back_at, started_at, "
	"applied_steps_count) VALUES ($1, $2, clock_timestamp(), $3, NULL, "
	"NULL, now(), 1)",
	NULL,
};
static const char *const prisma_my_write[] = {
	"INSERT INTO _prisma_migrations (id, checksum, finished_at, "
	"migration_name, logs, rolled_back_at, started_at, "
	"applied_steps_count) VALUES ($1, $2, UTC_TIMESTAMP(3), $3, NULL, "
	"NULL, UTC_TIMESTAMP(3), 1)",
	NULL,
};
static const struct tool_history prisma_history[] = {
	{ "postgres", prisma_pg_create, prisma_pg_write },
	{ "mysql", prisma_my_create, prisma_my_write },
	{ NULL, NULL, NULL },
};

const struct tool tool_prisma = {
	.name = "prisma",
	.names_match = prisma_names,
	.looks_for = "migration_lock.toml or <name>/migration.sql folders",
	.version = prisma_version, .plan = prisma_plan,
	.script = prisma_script,
	.history_row = prisma_row, .history = prisma_history,
};
