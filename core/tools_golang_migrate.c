/*
 * tools_golang_migrate: golang-migrate's folder (core/tools.h), learnt
 * from github.com/golang-migrate/migrate: source/parse.go (file names),
 * source/iofs/iofs.go (files that do not parse are skipped, a version
 * twice is an error), database/postgres/postgres.go and
 * database/mysql/mysql.go (ensureVersionTable, SetVersion).
 */
#include "core/tools.h"

#include <stdio.h>
#include <string.h>

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

	if (digits == 0 || name[digits] != '_' ||
	    !tool_ends_with(name, ".up.sql") || digits + 1 > len - 7 ||
	    !tool_top_level(name))
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
gm_names(const char *folder, const struct source *src)
{
	char version[SOURCE_VERSION_SIZE], err[200];
	size_t i;

	(void)folder;
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
static const char *const gm_pg_create[] = {
	"CREATE TABLE IF NOT EXISTS schema_migrations "
	"(version bigint not null primary key, dirty boolean not null)",
	NULL,
};
static const char *const gm_my_create[] = {
	"CREATE TABLE IF NOT EXISTS `schema_migrations` "
	"(version bigint not null primary key, dirty boolean not null)",
	NULL,
};
static const struct tool_history gm_history[] = {
	{ "postgres", gm_pg_create, gm_pg_write },
	{ "mysql", gm_my_create, gm_my_write },
	{ NULL, NULL, NULL },
};

const struct tool tool_golang_migrate = {
	.name = "golang-migrate",
	.names_match = gm_names, .looks_for = "*.up.sql files",
	.version = gm_version, .history_newest = true,
	.history = gm_history,
};
