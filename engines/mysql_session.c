/*
 * mysql_session: the MySQL / MariaDB engine's sessions as an environment's
 * user — the connection migrations and seeds run on, its cancel handle,
 * and the migration tools' history records written through it. The
 * admin's side is engines/mysql.c; engines/mysql.h is what they share.
 */
#include "engines/mysql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "lib/crypto.h"
#include "lib/dburl.h"
#include "lib/fault.h"

int
my_session_open(const struct engine_cfg *cfg, const char *db,
    const char *role, const char *password, int64_t timeout_ms,
    void **session, char *err, size_t errlen)
{
	int64_t limit_s = timeout_ms > 0 ? (timeout_ms + 999) / 1000 : 0;
	/* The client waits a minute longer than the server may run a
	 * statement, so the server's own limit (or the core's cancel) is
	 * what ends a long statement, with a message that says so. */
	unsigned timeout = 10, rw_timeout = (unsigned)(limit_s > 0 &&
	    limit_s < 86400 * 30 ? limit_s + 60 : 600);
	char init[80];
	struct dburl u;
	MYSQL *m;
	int rc = ENGINE_RETRY;

	*session = NULL;
	if (dburl_parse(cfg->admin_url, &u, err, errlen) != 0)
		return ENGINE_FAIL;
	if ((m = mysql_init(NULL)) == NULL) {
		str_copy(err, "out of memory", errlen);
		goto out;
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* MariaDB's per-statement limit, in force before the pull
	 * request's SQL runs. */
	snprintf(init, sizeof(init), "SET SESSION max_statement_time = %lld",
	    (long long)limit_s);
	mysql_options(m, MYSQL_INIT_COMMAND, init);
	/* The server splits a script into statements (it knows quotes,
	 * comments and BEGIN ... END bodies); a client-side splitter would
	 * have to reimplement its lexer. */
	if (mysql_real_connect(m, u.host, role, password, db,
	    (unsigned)(u.port ? u.port : 3306), NULL,
	    CLIENT_MULTI_STATEMENTS) == NULL) {
		unsigned code = mysql_errno(m);

		str_first_line(err, mysql_error(m), errlen);
		mysql_close(m);
		rc = code >= 2000 && code < 3000 ? ENGINE_RETRY : ENGINE_FAIL;
		goto out;
	}
	*session = m;
	rc = ENGINE_OK;
out:
	crypto_wipe(&u, sizeof(u));
	return rc;
}

int
my_session_run(void *session, const char *sql, size_t len, char *err,
    size_t errlen)
{
	MYSQL *m = session;
	MYSQL_RES *res;
	int status, n = 1;

	if (mysql_real_query(m, sql, len) != 0)
		goto fail;
	/* Every statement's result must be read before the next one runs;
	 * mysql_next_result reports the first statement that failed, and
	 * the server runs none after it. */
	for (;;) {
		if ((res = mysql_store_result(m)) != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(m) != 0)
			goto fail;
		if ((status = mysql_next_result(m)) < 0)
			return ENGINE_OK;
		n++;
		if (status > 0)
			goto fail;
	}
fail:
	{
		unsigned code = mysql_errno(m);
		char one[512];

		str_first_line(one, mysql_error(m), sizeof(one));
		snprintf(err, errlen, "statement %d: %s", n, one);
		return code >= 2000 && code < 3000 ? ENGINE_RETRY : ENGINE_FAIL;
	}
}

void
my_session_close(void *session)
{
	mysql_close(session);
}

/* The session's whole connection is killed, not only its statement:
 * KILL QUERY interrupts a SLEEP() without an error, and the rest of the
 * file would run on as if nothing had happened. The session is the
 * worker's own and is closed after a cancel anyway. It needs the
 * connection id and a connection of its own: the admin's, which may end
 * other users' sessions (the drop already relies on that). */
void *
my_cancel_token(void *session)
{
	unsigned long *id = malloc(sizeof(*id));

	if (id != NULL)
		*id = mysql_thread_id(session);
	return id;
}

int
my_cancel(const struct engine_cfg *cfg, void *token, char *err, size_t errlen)
{
	struct engine e = { &mysql_ops, cfg, NULL };
	char sql[64];
	int rc;

	if ((rc = my_connect(&e, err, errlen)) != ENGINE_OK)
		return rc;
	snprintf(sql, sizeof(sql), "KILL CONNECTION %lu",
	    *(unsigned long *)token);
	if (mysql_real_query(MY(&e), sql, strlen(sql)) != 0 &&
	    mysql_errno(MY(&e)) != ER_NO_SUCH_THREAD)
		rc = my_classify(&e, err, errlen);
	my_disconnect(&e);
	return rc;
}

void
my_cancel_free(void *token)
{
	free(token);
}

int
my_record_prepare(void *session, char *err, size_t errlen)
{
	static const char sql[] = "CREATE TABLE IF NOT EXISTS "
	    "previewd_migrations (name VARCHAR(255) NOT NULL PRIMARY KEY, "
	    "checksum CHAR(64) NOT NULL, applied_at TIMESTAMP(6) NOT NULL "
	    "DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB CHARACTER SET utf8mb4";

	return my_session_run(session, sql, sizeof(sql) - 1, err, errlen);
}

/* Bounded in rows and in each value, as pg_record_list says why. */
int
my_record_list(void *session, int (*fn)(const char *, const char *, void *),
    void *arg, char *err, size_t errlen)
{
	char sql[160];
	MYSQL *m = session;
	MYSQL_RES *res;
	MYSQL_ROW row;

	snprintf(sql, sizeof(sql), "SELECT LEFT(name, 256), LEFT(checksum, 64) "
	    "FROM previewd_migrations ORDER BY name LIMIT %d",
	    ENGINE_RECORD_MAX + 1);
	if (mysql_real_query(m, sql, strlen(sql)) != 0 ||
	    (res = mysql_store_result(m)) == NULL) {
		unsigned code = mysql_errno(m);

		str_first_line(err, mysql_error(m), errlen);
		return code >= 2000 && code < 3000 ? ENGINE_RETRY : ENGINE_FAIL;
	}
	if (mysql_num_rows(res) > ENGINE_RECORD_MAX) {
		mysql_free_result(res);
		snprintf(err, errlen, "previewd_migrations holds more than %d "
		    "rows: it is not previewd's record any more",
		    ENGINE_RECORD_MAX);
		return ENGINE_FAIL;
	}
	while ((row = mysql_fetch_row(res)) != NULL)
		if (row[0] != NULL && row[1] != NULL && fn(row[0], row[1], arg))
			break;
	mysql_free_result(res);
	return ENGINE_OK;
}

/* stmt with its $1..$9 as escaped literals of a's history values (NULL
 * as NULL), appended to out with a ";". 0, or -1: out of room, or a
 * value the tool did not give. */
static int
bind_values(MYSQL *m, struct buf *out, const char *stmt,
    const struct engine_apply *a)
{
	const char *p, *v;
	char *lit;
	size_t k, len;
	int rc = 0;

	for (p = stmt; *p != '\0' && rc == 0; p++) {
		if (p[0] != '$' || p[1] < '1' || p[1] > '9') {
			rc = buf_add(out, p, 1);
			continue;
		}
		k = (size_t)(p[1] - '1');
		p++;
		if (k >= a->history_nparams)
			return -1;
		if ((v = a->history_params[k]) == NULL) {
			rc = buf_addstr(out, "NULL");
			continue;
		}
		len = strlen(v);
		if ((lit = malloc(2 * len + 1)) == NULL)
			return -1;
		mysql_real_escape_string(m, lit, v, len);
		rc = buf_printf(out, "'%s'", lit);
		free(lit);
	}
	return rc == 0 ? buf_addstr(out, ";") : -1;
}

/* MySQL commits DDL as it runs, so the file cannot share a transaction
 * with its record: the tool's history and the record follow the file, in
 * one transaction of their own (both are InnoDB rows). */
int
my_record_apply(void *session, const struct engine_apply *a, char *err,
    size_t errlen)
{
	MYSQL *m = session;
	char ename[2 * 256 + 1], esum[2 * 64 + 1], why[512];
	struct buf sql;
	size_t i;
	int rc;

	if (strlen(a->name) > 255 || strlen(a->checksum) > 64) {
		str_copy(err, "migration name too long", errlen);
		return ENGINE_FAIL;
	}
	if ((rc = my_session_run(m, a->sql, a->len, err, errlen)) != ENGINE_OK)
		return rc;
	fault_point("migrate.before_record");
	mysql_real_escape_string(m, ename, a->name, strlen(a->name));
	mysql_real_escape_string(m, esum, a->checksum, strlen(a->checksum));
	buf_init(&sql, (size_t)1 << 20);
	rc = ENGINE_FAIL;
	if (buf_addstr(&sql, "START TRANSACTION;") != 0)
		goto too_long;
	for (i = 0; a->history != NULL && a->history[i] != NULL; i++)
		if (bind_values(m, &sql, a->history[i], a) != 0)
			goto too_long;
	if (buf_printf(&sql, "INSERT INTO previewd_migrations (name, checksum) "
	    "VALUES ('%s', '%s') ON DUPLICATE KEY UPDATE checksum = "
	    "VALUES(checksum), applied_at = CURRENT_TIMESTAMP(6);COMMIT",
	    ename, esum) != 0)
		goto too_long;
	if ((rc = my_session_run(m, sql.data, sql.len, why,
	    sizeof(why))) != ENGINE_OK) {
		snprintf(err, errlen, "recording it%s: %s", a->history != NULL ?
		    " and the tool's history" : "", why);
		(void)my_session_run(m, "ROLLBACK", 8, why, sizeof(why));
	}
	goto out;
too_long:
	str_copy(err, "migration name or history values too long", errlen);
out:
	buf_release(&sql);
	return rc;
}

