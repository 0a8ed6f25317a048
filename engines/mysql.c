/*
 * mysql: the MySQL / MariaDB engine, over MariaDB's libmysqlclient.
 *
 * The warm pool without renames. MySQL has no RENAME DATABASE (moving
 * every table with RENAME TABLE is neither atomic nor fast), so an
 * environment keeps its pool database's name: the claim creates the user
 * and grants it that database, and the environment's "database" is the
 * pool name (pvd_pool_...). Only the cold path creates a database with the
 * pull request's own name. The claim stays a user plus a grant: no CREATE
 * DATABASE while the pool has one.
 *
 * Privileges the admin needs (MariaDB 10.11 and MySQL 8 alike):
 *   GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO previewd;
 *   GRANT ALL PRIVILEGES ON `pvd\_%`.* TO previewd WITH GRANT OPTION;
 * (GRANT ALL on a database needs every privilege on it plus GRANT OPTION;
 * PROCESS lets it see other users' sessions and CONNECTION ADMIN — SUPER
 * on MySQL before 8 — lets it end them.) None of the admin's grants
 * grows with the fleet, but CREATE USER takes longer the more users the
 * server has (bench/role_growth.py, MariaDB 10.11, median ms: a claim 3.1
 * at 10 users, 6.9 at 1,000, 11.8 at 3,000, CREATE USER 1.9, 4.7, 7.8 of
 * it): the server's price of a user per environment.
 *
 * Only [a-z0-9_] names (names_valid) reach SQL, always in backticks; in
 * GRANT their '_' is escaped because there it is a wildcard. The one
 * value that is not an identifier, the password, goes as a
 * mysql_native_password hash on MariaDB, which would otherwise write it
 * into its general log; MySQL rewrites passwords out of its logs itself
 * and may not have that plugin, so it gets IDENTIFIED BY.
 *
 * Pool members copied from a base database, and their hand-over at the
 * claim, are engines/mysql_clone.c; engines/mysql.h is what the two
 * share.
 */
#include "engines/mysql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysqld_error.h>
#include <openssl/evp.h>

#include "lib/crypto.h"
#include "lib/dburl.h"
#include "lib/names.h"

/* Client-side errors (2000-2999: the connection), and the server saying
 * it is busy or going down, are worth a retry; anything else is not. */
int
my_classify(struct engine *e, char *err, size_t errlen)
{
	unsigned code = mysql_errno(MY(e));

	str_first_line(err, mysql_error(MY(e)), errlen);
	if ((code >= 2000 && code < 3000) || code == ER_CON_COUNT_ERROR ||
	    code == ER_SERVER_SHUTDOWN || code == ER_LOCK_WAIT_TIMEOUT ||
	    code == ER_LOCK_DEADLOCK)
		return ENGINE_RETRY;
	return ENGINE_FAIL;
}

int
my_exec(struct engine *e, const char *sql, char *err, size_t errlen)
{
	MYSQL_RES *res;

	if (mysql_real_query(MY(e), sql, strlen(sql)) != 0)
		return my_classify(e, err, errlen);
	/* Statements that return rows must have them read. */
	if ((res = mysql_store_result(MY(e))) != NULL)
		mysql_free_result(res);
	else if (mysql_field_count(MY(e)) != 0)
		return my_classify(e, err, errlen);
	return ENGINE_OK;
}

int
my_connect(struct engine *e, char *err, size_t errlen)
{
	unsigned timeout = 5, rw_timeout = 120;
	struct dburl u;
	MYSQL *m;
	int rc = ENGINE_RETRY;

	if (dburl_parse(e->cfg->admin_url, &u, err, errlen) != 0)
		return ENGINE_FAIL;
	if ((m = mysql_init(NULL)) == NULL) {
		str_copy(err, "out of memory", errlen);
		goto out;
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(m, u.host, u.user, u.password,
	    u.dbname[0] ? u.dbname : NULL, (unsigned)(u.port ? u.port : 3306),
	    NULL, 0) == NULL) {
		str_first_line(err, mysql_error(m), errlen);
		mysql_close(m);
		goto out;
	}
	e->conn = m;
	rc = ENGINE_OK;
out:
	crypto_wipe(&u, sizeof(u));
	return rc;
}

void
my_disconnect(struct engine *e)
{
	mysql_close(MY(e));
	e->conn = NULL;
}

static int
my_ping(struct engine *e, char *err, size_t errlen)
{
	return my_exec(e, "SELECT 1", err, errlen);
}

int
my_check_names(const char *a, const char *b, const char *c, char *err,
    size_t errlen)
{
	const char *names[] = { a, b, c };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (names[i] != NULL && names[i][0] != '\0' &&
		    !names_valid(names[i])) {
			snprintf(err, errlen, "refusing to touch \"%s\": not a "
			    "previewd name", names[i]);
			return ENGINE_FAIL;
		}
	}
	return ENGINE_OK;
}

/* `name` with '_' escaped, for the database part of GRANT. */
void
my_grant_pattern(const char *db, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *db != '\0' && o + 3 < outsz; db++) {
		if (*db == '_')
			out[o++] = '\\';
		out[o++] = *db;
	}
	out[o] = '\0';
}

int
my_db_exists(struct engine *e, const char *db, bool *exists, char *err,
    size_t errlen)
{
	char sql[160];
	MYSQL_RES *res;

	/* db is [a-z0-9_]: a literal needs no escaping beyond the quotes,
	 * and information_schema compares it exactly. */
	if (str_printf(sql, sizeof(sql), "SELECT 1 FROM "
	    "information_schema.SCHEMATA WHERE SCHEMA_NAME = '%s'", db) != 0)
		return ENGINE_FAIL;
	if (mysql_real_query(MY(e), sql, strlen(sql)) != 0 ||
	    (res = mysql_store_result(MY(e))) == NULL)
		return my_classify(e, err, errlen);
	*exists = mysql_num_rows(res) > 0;
	mysql_free_result(res);
	return ENGINE_OK;
}

/* The pool has no users on MySQL: CREATE USER ... IDENTIFIED WITH a
 * hash costs the server nothing, so the claim makes the user. */
static int
my_db_create(struct engine *e, const char *db, const char *password,
    char *err, size_t errlen)
{
	char sql[160];
	int rc;

	(void)password;
	if ((rc = my_check_names(db, NULL, NULL, err, errlen)) != ENGINE_OK)
		return rc;
	if (str_printf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS `%s` "
	    "CHARACTER SET utf8mb4", db) != 0)
		return ENGINE_FAIL;
	return my_exec(e, sql, err, errlen);
}

/* The mysql_native_password hash: '*' and upper-case hex of
 * SHA1(SHA1(password)). */
static int
native_hash(const char *password, char out[42])
{
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	unsigned alen = 0, blen = 0, i;
	static const char hex[] = "0123456789ABCDEF";

	if (EVP_Digest(password, strlen(password), a, &alen, EVP_sha1(),
	    NULL) != 1 || EVP_Digest(a, alen, b, &blen, EVP_sha1(), NULL) != 1)
		return -1;
	out[0] = '*';
	for (i = 0; i < blen; i++) {
		out[1 + 2 * i] = hex[b[i] >> 4];
		out[2 + 2 * i] = hex[b[i] & 15];
	}
	out[1 + 2 * blen] = '\0';
	crypto_wipe(a, sizeof(a));
	return 0;
}

/* " IDENTIFIED ..." for role's password, into out. */
int
my_identified(struct engine *e, const char *password, char *out, size_t outsz)
{
	char hash[42], lit[2 * CRYPTO_PASSWORD_LEN + 8];
	int rc;

	if (strstr(mysql_get_server_info(MY(e)), "MariaDB") != NULL) {
		if (native_hash(password, hash) != 0)
			return -1;
		rc = str_printf(out, outsz, "IDENTIFIED WITH "
		    "mysql_native_password AS '%s'", hash);
		crypto_wipe(hash, sizeof(hash));
		return rc;
	}
	if (strlen(password) >= sizeof(lit) / 2)
		return -1;
	mysql_real_escape_string(MY(e), lit, password, strlen(password));
	rc = str_printf(out, outsz, "IDENTIFIED BY '%s'", lit);
	crypto_wipe(lit, sizeof(lit));
	return rc;
}

/*
 * The claim: the database exists already (a pool member, which keeps its
 * name, so db == pool_db) or is created now (the cold path); then the
 * user, its password and its grant. Each statement is idempotent, so a
 * crash between them is finished by running the claim again.
 */
static int
my_claim(struct engine *e, const char *pool_db, const char *db,
    const char *role, const char *password, char *err, size_t errlen)
{
	char sql[512], ident[256], pattern[80];
	bool exists = false;
	int rc;

	if ((rc = my_check_names(db, pool_db, role, err, errlen)) != ENGINE_OK)
		return rc;
	if ((rc = my_db_exists(e, db, &exists, err, errlen)) != ENGINE_OK)
		return rc;
	if (!exists && (rc = my_db_create(e, db, NULL, err,
	    errlen)) != ENGINE_OK)
		return rc;
	if (my_identified(e, password, ident, sizeof(ident)) != 0) {
		str_copy(err, "cannot prepare the password", errlen);
		return ENGINE_FAIL;
	}
	rc = ENGINE_FAIL;
	if (str_printf(sql, sizeof(sql), "CREATE USER IF NOT EXISTS '%s'@'%%' "
	    "%s", role, ident) != 0)
		goto out;
	if ((rc = my_exec(e, sql, err, errlen)) != ENGINE_OK)
		goto out;
	/* A warning means the user was there already (a crash after this
	 * statement, last time): make sure it has this password. */
	if (mysql_warning_count(MY(e)) > 0) {
		rc = ENGINE_FAIL;
		if (str_printf(sql, sizeof(sql), "ALTER USER '%s'@'%%' %s",
		    role, ident) != 0)
			goto out;
		if ((rc = my_exec(e, sql, err, errlen)) != ENGINE_OK)
			goto out;
	}
	my_grant_pattern(db, pattern, sizeof(pattern));
	rc = ENGINE_FAIL;
	if (str_printf(sql, sizeof(sql), "GRANT ALL PRIVILEGES ON `%s`.* TO "
	    "'%s'@'%%'", pattern, role) != 0)
		goto out;
	rc = my_exec(e, sql, err, errlen);
out:
	crypto_wipe(sql, sizeof(sql));
	crypto_wipe(ident, sizeof(ident));
	return rc;
}

/* End every session of role (KILL needs PROCESS to see them and
 * CONNECTION ADMIN to end them). */
static int
kill_sessions(struct engine *e, const char *role, char *err, size_t errlen)
{
	char sql[200];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = ENGINE_OK;

	if (str_printf(sql, sizeof(sql), "SELECT ID FROM "
	    "information_schema.PROCESSLIST WHERE USER = '%s'", role) != 0)
		return ENGINE_FAIL;
	if (mysql_real_query(MY(e), sql, strlen(sql)) != 0 ||
	    (res = mysql_store_result(MY(e))) == NULL)
		return my_classify(e, err, errlen);
	while ((row = mysql_fetch_row(res)) != NULL && rc == ENGINE_OK) {
		int64_t id;

		if (row[0] == NULL || parse_int64(row[0], 0, INT64_MAX, &id) != 0)
			continue;
		snprintf(sql, sizeof(sql), "KILL CONNECTION %lld",
		    (long long)id);
		if (mysql_real_query(MY(e), sql, strlen(sql)) != 0 &&
		    mysql_errno(MY(e)) != ER_NO_SUCH_THREAD)
			rc = my_classify(e, err, errlen);
	}
	mysql_free_result(res);
	return rc;
}

/* A member copied from a base comes with a user named like its database,
 * which its views, triggers and routines run as (engines/mysql_clone.c):
 * it goes with the database. (A database named like its environment's
 * user is the cold path's: that user is the environment's own.) */
static int
drop_definer(struct engine *e, const char *db, const char *role, char *err,
    size_t errlen)
{
	char sql[200];

	if (db[0] == '\0' || strcmp(db, role) == 0)
		return ENGINE_OK;
	if (str_printf(sql, sizeof(sql), "DROP USER IF EXISTS '%s'@'%%'",
	    db) != 0)
		return ENGINE_FAIL;
	return my_exec(e, sql, err, errlen);
}

static int
my_drop(struct engine *e, const char *db, const char *pool_db,
    const char *role, char *err, size_t errlen)
{
	const char *dbs[2] = { db, pool_db };
	char sql[200];
	size_t i;
	int rc;

	if ((rc = my_check_names(db, pool_db, role, err, errlen)) != ENGINE_OK)
		return rc;
	if ((rc = kill_sessions(e, role, err, errlen)) != ENGINE_OK)
		return rc;
	for (i = 0; i < ARRAY_SIZE(dbs); i++) {
		if (dbs[i][0] == '\0' || (i == 1 && strcmp(dbs[1], db) == 0))
			continue;
		if (str_printf(sql, sizeof(sql), "DROP DATABASE IF EXISTS `%s`",
		    dbs[i]) != 0)
			return ENGINE_FAIL;
		if ((rc = my_exec(e, sql, err, errlen)) != ENGINE_OK ||
		    (rc = drop_definer(e, dbs[i], role, err,
		    errlen)) != ENGINE_OK)
			return rc;
	}
	if (str_printf(sql, sizeof(sql), "DROP USER IF EXISTS '%s'@'%%'",
	    role) != 0)
		return ENGINE_FAIL;
	return my_exec(e, sql, err, errlen);
}

/* ---- the orphan sweep ---- */

/* Users are listed from mysql.user, which needs SELECT on it (see the
 * README's privileges); without it only databases are swept. Names are
 * compared and sorted as bytes: information_schema's collation is
 * case-insensitive and sorts '_' after the letters, which is not the
 * order the state store's names are merged in. */
static int
my_list(struct engine *e, bool role, const char *after, int limit,
    int (*fn)(const char *, void *), void *arg, char *last, size_t lastsz,
    char *err, size_t errlen)
{
	static const char *const sql[2] = {
		"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE "
		"SCHEMA_NAME LIKE 'pvd\\_%%' AND BINARY SCHEMA_NAME > '%s' "
		"ORDER BY BINARY SCHEMA_NAME LIMIT %d",
		"SELECT User FROM mysql.user WHERE Host = '%%' AND "
		"User LIKE 'pvd\\_%%' AND BINARY User > '%s' "
		"ORDER BY BINARY User LIMIT %d",
	};
	char eafter[2 * ENGINE_LIST_NAME + 1], query[512];
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (strlen(after) >= ENGINE_LIST_NAME) {
		str_copy(err, "a listing cannot resume after so long a name",
		    errlen);
		return ENGINE_FAIL;
	}
	mysql_real_escape_string(MY(e), eafter, after, strlen(after));
	if (str_printf(query, sizeof(query), sql[role], eafter, limit) != 0)
		return ENGINE_FAIL;
	if (mysql_real_query(MY(e), query, strlen(query)) != 0 ||
	    (res = mysql_store_result(MY(e))) == NULL) {
		int rc = my_classify(e, err, errlen);

		return role && rc == ENGINE_FAIL ? ENGINE_OK : rc;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL)
			continue;
		str_copy(last, row[0], lastsz);
		if (names_valid(row[0]) && fn(row[0], arg) != 0)
			break;
	}
	mysql_free_result(res);
	return ENGINE_OK;
}

static int
my_drop_orphan(struct engine *e, bool role, const char *name, char *err,
    size_t errlen)
{
	char sql[200];
	int rc;

	if ((rc = my_check_names(name, NULL, NULL, err, errlen)) != ENGINE_OK)
		return rc;
	if (role && (rc = kill_sessions(e, name, err, errlen)) != ENGINE_OK)
		return rc;
	if (str_printf(sql, sizeof(sql), role ? "DROP USER IF EXISTS '%s'@'%%'" :
	    "DROP DATABASE IF EXISTS `%s`", name) != 0)
		return ENGINE_FAIL;
	return my_exec(e, sql, err, errlen);
}

/* Data and index bytes of the tables, as information_schema estimates
 * them (InnoDB's figures are approximate); a database without tables
 * is 0. Valid names are [a-z0-9_]: quoted as they are. */
static int
my_sizes(struct engine *e, const char *const *dbs, size_t n,
    int (*fn)(const char *, int64_t, void *), void *arg, char *err,
    size_t errlen)
{
	static const char head[] = "SELECT s.SCHEMA_NAME, "
	    "COALESCE(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0) FROM "
	    "information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES "
	    "t ON t.TABLE_SCHEMA = s.SCHEMA_NAME WHERE s.SCHEMA_NAME IN (";
	struct buf q;
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t k, named = 0;
	bool ok;
	int rc = ENGINE_FAIL;

	buf_init(&q, (size_t)1 << 20);
	ok = buf_addstr(&q, head) == 0;
	for (k = 0; k < n && ok; k++) {
		if (!names_valid(dbs[k]))
			continue;
		ok = buf_addstr(&q, named++ > 0 ? ",'" : "'") == 0 &&
		    buf_addstr(&q, dbs[k]) == 0 && buf_addstr(&q, "'") == 0;
	}
	if (!ok || buf_addstr(&q, ") GROUP BY s.SCHEMA_NAME") != 0) {
		str_copy(err, "out of memory", errlen);
		goto out;
	}
	rc = ENGINE_OK;
	if (named == 0)
		goto out;
	if (mysql_real_query(MY(e), q.data, q.len) != 0 ||
	    (res = mysql_store_result(MY(e))) == NULL) {
		rc = my_classify(e, err, errlen);
		goto out;
	}
	while ((row = mysql_fetch_row(res)) != NULL)
		if (row[0] != NULL && row[1] != NULL && names_valid(row[0]) &&
		    fn(row[0], strtoll(row[1], NULL, 10), arg) != 0)
			break;
	mysql_free_result(res);
out:
	buf_release(&q);
	return rc;
}

static int
my_db_drop(struct engine *e, const char *db, const char *role, char *err,
    size_t errlen)
{
	char sql[200];
	int rc;

	if ((rc = my_check_names(db, role, NULL, err, errlen)) != ENGINE_OK)
		return rc;
	if ((rc = kill_sessions(e, role, err, errlen)) != ENGINE_OK)
		return rc;
	if (str_printf(sql, sizeof(sql), "DROP DATABASE IF EXISTS `%s`",
	    db) != 0)
		return ENGINE_FAIL;
	if ((rc = my_exec(e, sql, err, errlen)) != ENGINE_OK)
		return rc;
	return drop_definer(e, db, role, err, errlen);
}

static int
my_role_limit(struct engine *e, const char *role, int limit, char *err,
    size_t errlen)
{
	char sql[256];
	int rc;

	if ((rc = my_check_names(role, NULL, NULL, err, errlen)) != ENGINE_OK)
		return rc;
	if (str_printf(sql, sizeof(sql), "ALTER USER '%s'@'%%' WITH "
	    "MAX_USER_CONNECTIONS %d", role, limit) != 0)
		return ENGINE_FAIL;
	return my_exec(e, sql, err, errlen);
}

const struct engine_ops mysql_ops = {
	.name = "mysql",
	.url_scheme = "mysql",
	.default_port = 3306,
	.keeps_pool_name = true,
	.ddl_transactional = false,
	.connect = my_connect,
	.disconnect = my_disconnect,
	.ping = my_ping,
	.db_create = my_db_create,
	.claim = my_claim,
	.role_limit = my_role_limit,
	.drop = my_drop,
	.session_open = my_session_open,
	.session_run = my_session_run,
	.session_close = my_session_close,
	.cancel_token = my_cancel_token,
	.cancel = my_cancel,
	.cancel_free = my_cancel_free,
	.record_prepare = my_record_prepare,
	.record_list = my_record_list,
	.record_apply = my_record_apply,
	.db_clone = my_db_clone,
	.db_adopt = my_db_adopt,
	.db_drop = my_db_drop,
	.list = my_list,
	.drop_orphan = my_drop_orphan,
	.sizes = my_sizes,
};
