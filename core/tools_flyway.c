/*
 * tools_flyway: Flyway's folder (core/tools.h), learnt from
 * github.com/flyway/flyway, in flyway-core/src/main/java/org/flywaydb/core/:
 *   api/MigrationVersion.java            versions: '_' read as '.', parts
 *                                        compared as numbers, 1.0 = 1
 *   internal/resource/ResourceNameParser.java, CoreResourceTypeProvider.java,
 *   api/migration/baseline/BaselineResourceTypeProvider.java
 *                                        names: V, R, B prefixes, "__", .sql
 *   internal/resolver/sql/SqlMigrationResolver.java,
 *   internal/resolver/ResolvedMigrationComparator.java,
 *   internal/resolver/CompositeMigrationResolver.java
 *                                        which files, their order, duplicates
 *   internal/scanner/filesystem/FileSystemScanner.java,
 *   internal/resource/filesystem/FileSystemResource.java
 *                                        subfolders (hidden ones skipped); the
 *                                        script is the path under the location
 *   internal/resolver/ChecksumCalculator.java, internal/util/BomFilter.java
 *                                        the checksum
 *   internal/parser/PlaceholderReplacingReader.java   placeholders
 *   internal/schemahistory/SchemaHistory.java, JdbcTableSchemaHistory.java,
 *   internal/util/AbbreviationUtils.java, internal/command/DbMigrate.java
 *                                        the history row
 *   internal/info/MigrationInfoServiceImpl.java
 *                                        repeatables run again on a new checksum
 * and flyway-database/: flyway-database-postgresql/.../PostgreSQLDatabase.java,
 * flyway-mysql/.../MySQLDatabase.java and mariadb/MariaDBDatabase.java
 * (getRawCreateScript, doGetCurrentUser).
 */
#include "core/tools.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* VARCHAR(50), VARCHAR(200) of flyway_schema_history. */
#define FW_VERSION_MAX 50
#define FW_DESCRIPTION_MAX 200

static const char *
base_name(const char *name)
{
	const char *slash = strrchr(name, '/');

	return slash != NULL ? slash + 1 : name;
}

/* Flyway's scanners skip hidden folders (FileSystemScanner: "#1807: Skip
 * hidden directories"), which on Unix are the ones named ".*". */
static bool
in_hidden_folder(const char *name)
{
	const char *p = name, *slash;

	while ((slash = strchr(p, '/')) != NULL) {
		if (*p == '.')
			return true;
		p = slash + 1;
	}
	return false;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * MigrationVersion: '_' is read as '.', the text is split at each '.'
 * followed by a digit, and each part must be a BigInteger: digits, the
 * first part with an optional sign. "1..2", "1.", "1.a" are not versions.
 * (BigInteger also takes other scripts' digits; previewd only ASCII.)
 */
static bool
version_ok(const char *v, size_t n)
{
	size_t i = 0;
	bool digits = false;

	if (n > 0 && (v[0] == '+' || v[0] == '-'))
		i++;
	for (; i < n; i++) {
		if (is_digit(v[i])) {
			digits = true;
			continue;
		}
		if ((v[i] != '.' && v[i] != '_') || !digits || i + 1 == n ||
		    !is_digit(v[i + 1]))
			return false;
		digits = false;
	}
	return digits;
}

/* One part of a version from *p on: its sign and its digits without
 * leading zeros; *p moves past it and its dot. false at the end. */
static bool
version_part(const char **p, bool *negative, const char **digits,
    size_t *len)
{
	const char *s = *p;

	if (*s == '\0')
		return false;
	*negative = *s == '-';
	if (*s == '+' || *s == '-')
		s++;
	while (*s == '0' && is_digit(s[1]))
		s++;
	*digits = s;
	while (is_digit(*s))
		s++;
	*len = (size_t)(s - *digits);
	if (*len == 1 && **digits == '0')
		*negative = false;          /* -0 is 0 */
	*p = *s == '.' ? s + 1 : s;
	return true;
}

/* MigrationVersion.compareTo of two versions as version_ok takes them,
 * with '.' for '_': part by part, a missing part being 0. */
static int
version_cmp(const char *a, const char *b)
{
	static const char *const zero = "0";
	const char *da, *db;
	size_t la, lb;
	bool na, nb, more_a, more_b;
	int c;

	for (;;) {
		more_a = version_part(&a, &na, &da, &la);
		more_b = version_part(&b, &nb, &db, &lb);
		if (!more_a && !more_b)
			return 0;
		if (!more_a) {
			da = zero;
			la = 1;
			na = false;
		}
		if (!more_b) {
			db = zero;
			lb = 1;
			nb = false;
		}
		if (na != nb)
			return na ? -1 : 1;
		c = la != lb ? (la < lb ? -1 : 1) : memcmp(da, db, la);
		if (c != 0)
			return na ? -c : c;
	}
}

/* A file name as ResourceNameParser reads it (the name alone, without its
 * folders): prefix, version, "__", description, suffix. */
struct fw_name {
	char prefix;                /* 'V', 'R' or 'B' */
	const char *version, *description;
	size_t version_len, description_len;
};

/*
 * 1: one of Flyway's SQL migrations; 0: a file Flyway ignores (another
 * prefix, such as U for undo files, which only Flyway Teams runs, or
 * callbacks like afterMigrate.sql; a name that does not parse, ignored as
 * Flyway ignores it unless validateMigrationNaming is set); -1: a name
 * previewd cannot run as Flyway would (err says why).
 */
static int
fw_parse(const char *name, struct fw_name *out, char *err, size_t errlen)
{
	const char *base = base_name(name), *rest, *sep;
	size_t n = strlen(base), len, i;

	memset(out, 0, sizeof(*out));
	/* Scanner.getResources: longer than prefix and suffix together; the
	 * suffix in any case. */
	if (in_hidden_folder(name) || n <= 5 ||
	    strncasecmp(base + n - 4, ".sql", 4) != 0)
		return 0;
	if (base[0] != 'V' && base[0] != 'R' && base[0] != 'B')
		return 0;
	rest = base + 1;
	len = n - 5;
	sep = NULL;
	for (i = 0; i + 1 < len; i++)
		if (rest[i] == '_' && rest[i + 1] == '_') {
			sep = rest + i;
			break;
		}
	out->prefix = base[0];
	out->version = rest;
	out->version_len = sep != NULL ? (size_t)(sep - rest) : len;
	out->description = sep != NULL ? sep + 2 : rest + len;
	out->description_len = (size_t)(rest + len - out->description);
	if (out->prefix == 'R')
		return out->version_len == 0 ? 1 : 0;
	if (out->version_len == 0 || !version_ok(out->version,
	    out->version_len))
		return 0;
	if (out->prefix == 'B') {
		snprintf(err, errlen, "Flyway baseline migrations (B<version>__"
		    "<description>.sql) are not supported by previewd");
		return -1;
	}
	if (out->version_len > FW_VERSION_MAX) {
		snprintf(err, errlen, "version of %zu characters: Flyway's "
		    "flyway_schema_history.version holds %d", out->version_len,
		    FW_VERSION_MAX);
		return -1;
	}
	return 1;
}

/* The version Flyway shows and records: as written, '_' read as '.'
 * (MigrationVersion's displayText). "" for a repeatable migration. */
static int
fw_version(const char *name, char *version, char *err, size_t errlen)
{
	struct fw_name fn;
	size_t i;
	int rc;

	if ((rc = fw_parse(name, &fn, err, errlen)) != 1)
		return rc;
	for (i = 0; i < fn.version_len; i++)
		version[i] = fn.version[i] == '_' ? '.' : fn.version[i];
	version[i] = '\0';
	return 1;
}

static bool
fw_names(const char *folder, const struct source *src)
{
	struct fw_name fn;
	char err[200];
	size_t i;

	(void)folder;
	for (i = 0; i < src->n; i++)
		if (fw_parse(src->files[i].name, &fn, err, sizeof(err)) == 1 &&
		    fn.prefix == 'V')
			return true;
	return false;
}

/*
 * The next code point of a UTF-8 string, strictly as Java's UTF-8 decoder
 * takes it (no overlong forms, no surrogates, nothing above U+10FFFF):
 * the bytes it took, or 0 when p does not start a valid one.
 */
static size_t
utf8_next(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xBF;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	*cp = p[0] & (0xFF >> (n + 1));
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (p[i] & 0x3F);
	}
	return n;
}

static bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	uint32_t cp;
	size_t n;

	for (; p < end; p += n)
		if ((n = utf8_next(p, end, &cp)) == 0)
			return false;
	return true;
}

/* A code point as Java's String.compareTo orders it, comparing UTF-16
 * units: the surrogates of U+10000 and above sort between U+D7FF and
 * U+E000. A byte that is not UTF-8 counts as itself. */
static uint32_t
utf16_order(uint32_t cp)
{
	if (cp >= 0x10000)
		return 0xD800 + (cp - 0x10000);
	if (cp >= 0xE000)
		return cp + 0x200000;
	return cp;
}

/* Two descriptions as Flyway orders repeatable migrations
 * (ResolvedMigrationComparator: String.compareTo), each with its '_'
 * read as ' '. */
static int
description_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	const unsigned char *p = (const unsigned char *)a, *pe = p + alen,
	    *q = (const unsigned char *)b, *qe = q + blen;
	uint32_t x, y;
	size_t n, m;

	while (p < pe && q < qe) {
		if ((n = utf8_next(p, pe, &x)) == 0) {
			x = *p;
			n = 1;
		}
		if ((m = utf8_next(q, qe, &y)) == 0) {
			y = *q;
			m = 1;
		}
		x = x == '_' ? ' ' : x;
		y = y == '_' ? ' ' : y;
		if (x != y)
			return utf16_order(x) < utf16_order(y) ? -1 : 1;
		p += n;
		q += m;
	}
	return p < pe ? 1 : q < qe ? -1 : 0;
}

/* The description of a file fw_version took. */
static void
description_of(const struct source_file *f, const char **d, size_t *len)
{
	struct fw_name fn;
	char err[200];

	(void)fw_parse(f->name, &fn, err, sizeof(err));
	*d = fn.description;
	*len = fn.description_len;
}

/* ResolvedMigrationComparator: versioned migrations by version, then
 * repeatable ones by description. Ties (refused by fw_plan) by name, so
 * that the message is the same from run to run. */
static int
by_flyway_order(const void *a, const void *b)
{
	const struct source_file *x = a, *y = b;
	const char *dx, *dy;
	size_t lx, ly;
	int c;

	if ((x->version[0] != '\0') != (y->version[0] != '\0'))
		return x->version[0] != '\0' ? -1 : 1;
	if (x->version[0] != '\0')
		c = version_cmp(x->version, y->version);
	else {
		description_of(x, &dx, &lx);
		description_of(y, &dy, &ly);
		c = description_cmp(dx, lx, dy, ly);
	}
	return c != 0 ? c : strcmp(x->name, y->name);
}

/*
 * Flyway's plan: its versioned migrations in version order, then its
 * repeatable ones in description order, these run again whenever their
 * checksum changes (rerun). Two files of one version, or two repeatable
 * ones of one description, fail as they fail Flyway
 * (CompositeMigrationResolver.checkForIncompatibilities).
 */
static int
fw_plan(struct source *src, const char *index, size_t len, char *err,
    size_t errlen)
{
	char why[300];
	const char *da, *db;
	size_t i, n = 0, la, lb;
	int rc;

	(void)index;
	(void)len;
	for (i = 0; i < src->n; i++) {
		struct source_file *f = &src->files[i];

		rc = fw_version(f->name, f->version, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", f->path, why);
			return -1;
		}
		if (rc == 0)
			continue;
		f->rerun = f->version[0] == '\0';
		if (n != i)
			src->files[n] = *f;
		n++;
	}
	src->n = n;
	if (n > 1)
		qsort(src->files, n, sizeof(*src->files), by_flyway_order);
	for (i = 1; i < n; i++) {
		const struct source_file *f = &src->files[i - 1],
		    *g = &src->files[i];

		if ((f->version[0] == '\0') != (g->version[0] == '\0'))
			continue;
		if (f->version[0] != '\0' && version_cmp(f->version,
		    g->version) == 0) {
			snprintf(err, errlen, "two migrations of version %s: %s "
			    "and %s", g->version, f->path, g->path);
			return -1;
		}
		if (f->version[0] != '\0')
			continue;
		description_of(f, &da, &la);
		description_of(g, &db, &lb);
		if (description_cmp(da, la, db, lb) == 0) {
			snprintf(why, sizeof(why), "%.*s", (int)la, da);
			for (la = 0; why[la] != '\0'; la++)
				why[la] = why[la] == '_' ? ' ' : why[la];
			snprintf(err, errlen, "two repeatable migrations of "
			    "description \"%s\": %s and %s", why, f->path,
			    g->path);
			return -1;
		}
	}
	return 0;
}

/*
 * ChecksumCalculator: a CRC-32 of the file's lines as BufferedReader
 * reads them (ended by \n, \r or \r\n, the ends left out), each re-encoded
 * as UTF-8, after BomFilter took a byte order mark off the first line.
 * For a file that is UTF-8 (Flyway's default encoding, its decoder
 * refusing anything else) that is the CRC-32 of every byte but CR and LF,
 * a leading BOM left out. Java keeps it in an int: signed.
 */
static uint32_t
crc32_update(uint32_t crc, unsigned char byte)
{
	int k;

	crc ^= byte;
	for (k = 0; k < 8; k++)
		crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	return crc;
}

static int32_t
fw_checksum(const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data, *end = p + len;
	uint32_t crc = 0xFFFFFFFFu;

	if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		p += 3;
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')
			crc = crc32_update(crc, *p);
	crc ^= 0xFFFFFFFFu;
	/* Java's (int) cast of the unsigned value. */
	return crc <= INT32_MAX ? (int32_t)crc : (int32_t)(crc - 0x80000000u) +
	    INT32_MIN;
}

/*
 * AbbreviationUtils.abbreviateDescription: past 200 UTF-16 units, the
 * first 197 and "...". A surrogate pair cut in two leaves its first half,
 * which the JDBC drivers send as '?'.
 */
static void
abbreviate(const char *s, size_t len, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t units = 0, n, o = 0;
	uint32_t cp;

	/* The caller checked s is UTF-8; a stray byte would count as one. */
	for (n = 0; p + n < end; ) {
		size_t k = utf8_next(p + n, end, &cp);

		units += k != 0 && cp >= 0x10000 ? 2 : 1;
		n += k != 0 ? k : 1;
	}
	if (units <= FW_DESCRIPTION_MAX) {
		snprintf(out, outsz, "%.*s", (int)len, s);
		return;
	}
	for (units = 0; units < FW_DESCRIPTION_MAX - 3; p += n) {
		if ((n = utf8_next(p, end, &cp)) == 0) {
			n = 1;
			cp = *p;
		}
		if (cp >= 0x10000 && units + 2 > FW_DESCRIPTION_MAX - 3) {
			out[o++] = '?';
			break;
		}
		units += cp >= 0x10000 ? 2 : 1;
		memcpy(out + o, p, n);
		o += n;
	}
	memcpy(out + o, "...", 4);
}

/*
 * The row JdbcTableSchemaHistory.doAddAppliedMigration inserts, as
 * $1..$4 of fw_*_write: the version (NULL for a repeatable migration),
 * the description (the name's '_' as ' ', abbreviated), the script (the
 * file's path under the folder: FileSystemResource's relative path, at
 * most 255 bytes here so never abbreviated to Flyway's 1,000) and the
 * checksum. A file Flyway could not read as UTF-8 fails, as it fails
 * Flyway ("Unable to calculate checksum").
 */
static int
fw_row(const struct tool_file *f, struct tool_params *out, char *err,
    size_t errlen)
{
	struct fw_name fn;
	char description[FW_DESCRIPTION_MAX * 4 + 8], sum[16];
	size_t i;

	if (fw_parse(f->file->name, &fn, err, errlen) != 1) {
		str_copy(err, "not a Flyway migration", errlen);
		return -1;
	}
	if (!utf8_valid(f->file->name, strlen(f->file->name))) {
		str_copy(err, "its name is not UTF-8", errlen);
		return -1;
	}
	if (!utf8_valid(f->data, f->len)) {
		str_copy(err, "not UTF-8, which Flyway reads it as: Flyway "
		    "fails to calculate its checksum", errlen);
		return -1;
	}
	abbreviate(fn.description, fn.description_len, description,
	    sizeof(description));
	for (i = 0; description[i] != '\0'; i++)
		if (description[i] == '_')
			description[i] = ' ';
	snprintf(sum, sizeof(sum), "%ld", (long)fw_checksum(f->data, f->len));
	if (tool_params_add(out, f->file->version[0] != '\0' ?
	    f->file->version : NULL) != 0 ||
	    tool_params_add(out, description) != 0 ||
	    tool_params_add(out, f->file->name) != 0 ||
	    tool_params_add(out, sum) != 0) {
		str_copy(err, "out of memory", errlen);
		return -1;
	}
	return 0;
}

/*
 * What runs of a file: all of it, in a transaction with its row (on
 * PostgreSQL), as DbMigrate runs each migration by default. Flyway's
 * parser drops a leading byte order mark; previewd does too, in place,
 * so lines stay where they are. Flyway replaces ${name} placeholders
 * everywhere in a file, from its configuration, which previewd does not
 * read: a file with one is refused (Flyway itself fails on a placeholder
 * it has no value for).
 */
static int
fw_script(struct buf *file, bool *outside, char *err, size_t errlen)
{
	const char *p, *end, *close, *line;
	unsigned lineno = 1;

	*outside = false;
	if (file->len >= 3 && memcmp(file->data, "\xEF\xBB\xBF", 3) == 0) {
		memmove(file->data, file->data + 3, file->len - 3);
		file->len -= 3;
		file->data[file->len] = '\0';
	}
	end = file->data + file->len;
	for (p = file->data; p + 1 < end; p++)
		if (p[0] == '$' && p[1] == '{')
			break;
	if (p + 1 >= end)
		return 0;
	for (line = file->data; line < p; line++)
		lineno += *line == '\n';
	close = memchr(p, '}', (size_t)(end - p));
	snprintf(err, errlen, "line %u: %.*s%s is a Flyway placeholder, which "
	    "previewd does not replace", lineno, close != NULL &&
	    close - p < 60 ? (int)(close - p + 1) : 20, p, close != NULL &&
	    close - p < 60 ? "" : "...");
	return -1;
}

/*
 * The table as getRawCreateScript makes it, made idempotent: the primary
 * key and the index Flyway adds after CREATE TABLE come out the same
 * (same names, same columns) when declared with it, or with IF NOT
 * EXISTS. On MySQL the primary key's name is always PRIMARY (MariaDB's
 * script gives none); the index is declared in the table.
 */
static const char *const fw_pg_create[] = {
	"CREATE TABLE IF NOT EXISTS flyway_schema_history (\n"
	"    installed_rank INT NOT NULL,\n"
	"    version VARCHAR(50),\n"
	"    description VARCHAR(200) NOT NULL,\n"
	"    type VARCHAR(20) NOT NULL,\n"
	"    script VARCHAR(1000) NOT NULL,\n"
	"    checksum INTEGER,\n"
	"    installed_by VARCHAR(100) NOT NULL,\n"
	"    installed_on TIMESTAMP NOT NULL DEFAULT now(),\n"
	"    execution_time INTEGER NOT NULL,\n"
	"    success BOOLEAN NOT NULL,\n"
	"    CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank)\n"
	")",
	"CREATE INDEX IF NOT EXISTS flyway_schema_history_s_idx ON "
	"flyway_schema_history (success)",
	NULL,
};
static const char *const fw_my_create[] = {
	"CREATE TABLE IF NOT EXISTS `flyway_schema_history` (\n"
	"    `installed_rank` INT NOT NULL,\n"
	"    `version` VARCHAR(50),\n"
	"    `description` VARCHAR(200) NOT NULL,\n"
	"    `type` VARCHAR(20) NOT NULL,\n"
	"    `script` VARCHAR(1000) NOT NULL,\n"
	"    `checksum` INT,\n"
	"    `installed_by` VARCHAR(100) NOT NULL,\n"
	"    `installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n"
	"    `execution_time` INT NOT NULL,\n"
	"    `success` BOOL NOT NULL,\n"
	"    PRIMARY KEY (`installed_rank`),\n"
	"    INDEX `flyway_schema_history_s_idx` (`success`)\n"
	")",
	NULL,
};

/*
 * Database.getInsertStatement with SchemaHistory.calculateInstalledRank
 * (the last rank plus one, 1 in an empty table) folded in, type "SQL",
 * installed_by as each driver's doGetCurrentUser asks, success true, and
 * installed_on left to its default as Flyway leaves it.
 *
 * execution_time, Flyway's stopwatch around the file in milliseconds: on
 * PostgreSQL the row is written in the file's transaction, which began
 * just before the file ran, so clock_timestamp() - now() is the file's
 * time. On MySQL the row is written after the file, in a transaction of
 * its own, with nothing left to measure from: 0 there.
 */
static const char *const fw_pg_write[] = {
	"INSERT INTO flyway_schema_history (installed_rank, version, "
	"description, type, script, checksum, installed_by, execution_time, "
	"success) SELECT coalesce(max(installed_rank), 0) + 1, $1::varchar, "
	"$2::varchar, 'SQL', $3::varchar, $4::integer, current_user, "
	"floor(extract(epoch FROM clock_timestamp() - now()) * 1000)::integer, "
	"true FROM flyway_schema_history",
	NULL,
};
static const char *const fw_my_write[] = {
	"INSERT INTO `flyway_schema_history` (`installed_rank`, `version`, "
	"`description`, `type`, `script`, `checksum`, `installed_by`, "
	"`execution_time`, `success`) SELECT COALESCE(MAX(`installed_rank`), "
	"0) + 1, $1, $2, 'SQL', $3, $4, SUBSTRING_INDEX(USER(), '@', 1), 0, 1 "
	"FROM `flyway_schema_history`",
	NULL,
};
static const struct tool_history fw_history[] = {
	{ "postgres", fw_pg_create, fw_pg_write },
	{ "mysql", fw_my_create, fw_my_write },
	{ NULL, NULL, NULL },
};

const struct tool tool_flyway = {
	.name = "flyway",
	.names_match = fw_names,
	.looks_for = "V<version>__<description>.sql files",
	.version = fw_version, .plan = fw_plan, .script = fw_script,
	.history_row = fw_row, .history = fw_history,
};
