/*
 * source: where an environment's SQL comes from, as an ordered list of
 * named files read one at a time.
 *
 *   repo:PATH        the repository at the pull request's head commit,
 *                    through the forge's API: the folder from one
 *                    listing of the commit's tree (GitHub git/trees
 *                    recursive, GitLab's recursive tree in pages of
 *                    100), each file by its blob id (kept in memory,
 *                    forges/blobs.h, so an unchanged file is read once
 *                    across commits and environments); the seed by its
 *                    path at the commit
 *   dir:/abs/path    a folder on this machine (migrations)
 *   file:/abs/path   a file on this machine (seed)
 *   blueprint:NAME   templates/blueprints/NAME/<engine>/ (migrations/ and
 *                    seed.sql), shipped with previewd
 *   none             nothing
 *
 * A migrations folder is listed with its subfolders: every *.sql file and
 * the files tools read (tool_wants), each named by its path under the
 * folder ("20240102_orders/migration.sql"), in byte order of those names.
 * Which of them run, in which order, is the migration tool's choice
 * (core/tools.h). Files are capped at
 * SOURCE_MAX_FILE bytes and folders at SOURCE_MAX_FILES files, with an
 * error naming the cap. Errors go to call->error; forge outages come back
 * as FORGE_RETRY with call->retry_ms.
 */
#ifndef PREVIEWD_SOURCE_H
#define PREVIEWD_SOURCE_H

#include <stddef.h>

#include "forges/forge.h"
#include "store/store.h"

#define SOURCE_MAX_FILES 1000
/* How deep a migrations folder is listed: itself and three levels of
 * subfolders (Flyway finds files in subfolders; the other tools use one
 * level at most). */
#define SOURCE_MAX_DEPTH 4
#define SOURCE_MAX_FILE ((size_t)5 << 20)
/* The longest version a migration tool may give a file, and its NUL
 * (dbmate's schema_migrations.version is a varchar(128) on MySQL). */
#define SOURCE_VERSION_SIZE 129

struct source_file {
	char name[256];        /* its path under the folder: what the record keeps */
	char path[1024];       /* where to read it */
	char blob[41];         /* its git blob id, when the forge listed one */
	/* Its version for the migration tool (core/tools.c): "" for sql
	 * and the seed. */
	char version[SOURCE_VERSION_SIZE];
	/* Run again when its contents change (Flyway's repeatable
	 * migrations), where an edited file otherwise rebuilds the database. */
	bool rerun;
};

struct source {
	bool remote;           /* read through the forge's API */
	char provider[16];
	char target[ENV_REPO_SIZE];
	char sha[ENV_SHA_SIZE];
	struct source_file *files;
	size_t n;
};

/* The migration files spec names for environment e at commit sha. */
enum forge_rc source_migrations(struct forge_call *call, const struct env *e,
    const char *spec, const char *sha, struct source *out);

/* The seed file spec names (zero or one file). */
enum forge_rc source_seed(struct forge_call *call, const struct env *e,
    const char *spec, const char *sha, struct source *out);

/* The bytes of file i into out (reset first). */
enum forge_rc source_read(struct forge_call *call, const struct source *s,
    size_t i, struct buf *out);

void source_release(struct source *s);

/* True when templates_dir holds blueprint name for engine (its
 * migrations folder): what "blueprint:NAME" may name. */
bool source_blueprint_exists(const char *templates_dir, const char *name,
    const char *engine);

#endif
