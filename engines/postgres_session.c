/*
 * postgres_session: the PostgreSQL engine's sessions as an environment's
 * own role — the repository's SQL, the record of applied migrations in
 * previewd_migrations, and cancels from another thread. The admin side
 * and the postgres_ops table are engines/postgres.c; engines/postgres.h
 * is what the two share.
 */
#include "engines/postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "lib/fault.h"
#include "lib/log.h"

int
pg_session_open(const struct engine_cfg *cfg, const char *db,
    const char *role, const char *password, int64_t timeout_ms,
    void **session, char *err, size_t errlen)
{
	/* admin_url is expanded first (host, port, sslmode ...); the
	 * keywords after it override the database and the credentials; the
	 * statement timeout is in force before any of the pull request's SQL
	 * runs, at no extra round trip. */
	static const char *const keys[] = { "dbname", "dbname", "user",
	    "password", "connect_timeout", "application_name", "options",
	    NULL };
	char options[64];
	const char *values[] = { cfg->admin_url, db, role, password, "10",
	    "previewd", options, NULL };
	PGconn *c;

	snprintf(options, sizeof(options), "-c statement_timeout=%lld",
	    (long long)(timeout_ms > 0 ? timeout_ms : 0));
	c = PQconnectdbParams(keys, values, 1);

	*session = NULL;
	if (c == NULL) {
		str_copy(err, "out of memory", errlen);
		return ENGINE_RETRY;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		str_first_line(err, PQerrorMessage(c), errlen);
		PQfinish(c);
		return ENGINE_RETRY;
	}
	PQsetNoticeProcessor(c, pg_notice, NULL);
	*session = c;
	return ENGINE_OK;
}

/* The line of a 1-based character position (PG_DIAG_STATEMENT_POSITION
 * counts characters, not bytes). */
static int
line_of(const char *sql, size_t len, long pos)
{
	long chars = 0;
	int line = 1;
	size_t i;

	for (i = 0; i < len && chars < pos - 1; i++) {
		if (((unsigned char)sql[i] & 0xC0) != 0x80)
			chars++;
		if (sql[i] == '\n')
			line++;
	}
	return line;
}

/* Run a script; on failure err says "line N: message". Inside an open
 * transaction the script joins it; otherwise PQexec runs a
 * multi-statement string as one implicit transaction. */
static int
pg_run_script(PGconn *c, const char *sql, size_t len, char *err,
    size_t errlen)
{
	PGresult *res;
	ExecStatusType st;
	int rc = ENGINE_OK;

	res = PQexec(c, sql);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY) {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *pos = PQresultErrorField(res,
		    PG_DIAG_STATEMENT_POSITION);
		char one[512];
		int64_t p = 0;

		str_first_line(one, msg ? msg : PQerrorMessage(c), sizeof(one));
		if (pos != NULL && parse_int64(pos, 1, INT64_MAX, &p) == 0)
			snprintf(err, errlen, "line %d: %s", line_of(sql, len, (long)p),
			    one);
		else
			str_copy(err, one, errlen);
		rc = PQstatus(c) == CONNECTION_OK ? ENGINE_FAIL : ENGINE_RETRY;
	}
	PQclear(res);
	return rc;
}

int
pg_session_run(void *session, const char *sql, size_t len, char *err,
    size_t errlen)
{
	PGconn *c = session;
	int rc = pg_run_script(c, sql, len, err, errlen);

	/* A script that opened its own transaction and failed inside it
	 * leaves the session aborted: end it. */
	if (rc != ENGINE_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

/* One statement with parameters on a session; err gets the message. */
static int
pg_session_exec(PGconn *c, const char *sql, int n, const char *const *params,
    PGresult **out, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out != NULL)
			*out = res;
		else
			PQclear(res);
		return ENGINE_OK;
	}
	str_first_line(err, PQresultErrorMessage(res), errlen);
	PQclear(res);
	return PQstatus(c) == CONNECTION_OK ? ENGINE_FAIL : ENGINE_RETRY;
}

int
pg_record_prepare(void *session, char *err, size_t errlen)
{
	return pg_session_exec(session, "CREATE TABLE IF NOT EXISTS "
	    "previewd_migrations (name text PRIMARY KEY, checksum text NOT "
	    "NULL, applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL,
	    NULL, err, errlen);
}

/* The record is in a table the pull request's role owns: it can hold
 * anything, so rows and values are read with a bound; past it, an error. */
int
pg_record_list(void *session, int (*fn)(const char *, const char *, void *),
    void *arg, char *err, size_t errlen)
{
	char limit[32];
	const char *params[1] = { limit };
	PGresult *res = NULL;
	int i, rc;

	snprintf(limit, sizeof(limit), "%d", ENGINE_RECORD_MAX + 1);
	rc = pg_session_exec(session, "SELECT left(name::text, 256), "
	    "left(checksum::text, 64) FROM previewd_migrations ORDER BY name "
	    "LIMIT $1::int", 1, params, &res, err, errlen);
	if (rc == ENGINE_OK && PQntuples(res) > ENGINE_RECORD_MAX) {
		snprintf(err, errlen, "previewd_migrations holds more than %d "
		    "rows: it is not previewd's record any more",
		    ENGINE_RECORD_MAX);
		rc = ENGINE_FAIL;
	}
	for (i = 0; rc == ENGINE_OK && i < PQntuples(res); i++)
		if (fn(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), arg) != 0)
			break;
	PQclear(res);
	return rc;
}

/* A migration tool's history statements (see engine_apply), in the
 * transaction of the record. */
static int
pg_history(PGconn *c, const struct engine_apply *a, char *err, size_t errlen)
{
	char why[512];
	size_t i, n;
	int rc;

	for (i = 0; a->history != NULL && a->history[i] != NULL; i++) {
		/* The server refuses a parameter the statement does not use. */
		n = engine_history_nparams(a->history[i]);
		if (n > a->history_nparams) {
			str_copy(err, "a history statement wants more values than "
			    "its tool gave", errlen);
			return ENGINE_FAIL;
		}
		rc = pg_session_exec(c, a->history[i], (int)n,
		    a->history_params, NULL, why, sizeof(why));
		if (rc != ENGINE_OK) {
			snprintf(err, errlen, "writing the tool's history: %s",
			    why);
			return rc;
		}
	}
	return ENGINE_OK;
}

/* The file, its history and its record in one transaction: all or
 * nothing. A file run outside a transaction comes first, and the rest
 * follows in a transaction of its own. */
int
pg_record_apply(void *session, const struct engine_apply *a, char *err,
    size_t errlen)
{
	const char *params[2] = { a->name, a->checksum };
	PGconn *c = session;
	int rc;

	if (a->outside_transaction) {
		if ((rc = pg_session_run(c, a->sql, a->len, err,
		    errlen)) != ENGINE_OK)
			return rc;
		fault_point("migrate.before_record");
		rc = pg_session_exec(c, "BEGIN", 0, NULL, NULL, err, errlen);
	} else if ((rc = pg_session_exec(c, "BEGIN", 0, NULL, NULL, err,
	    errlen)) == ENGINE_OK &&
	    (rc = pg_run_script(c, a->sql, a->len, err, errlen)) == ENGINE_OK) {
		fault_point("migrate.before_record");
	}
	/* A script may empty the session's search_path (pg_dump's output
	 * begins with set_config('search_path', '', false)): previewd's
	 * record and the tool's history are named as the database's default
	 * path names them, for this transaction only. */
	if (rc == ENGINE_OK)
		rc = pg_session_exec(c, "SET LOCAL search_path TO DEFAULT", 0,
		    NULL, NULL, err, errlen);
	if (rc == ENGINE_OK)
		rc = pg_history(c, a, err, errlen);
	if (rc == ENGINE_OK &&
	    (rc = pg_session_exec(c, "INSERT INTO previewd_migrations (name, "
	    "checksum) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET "
	    "checksum = excluded.checksum, applied_at = now()", 2, params, NULL,
	    err, errlen)) == ENGINE_OK)
		rc = pg_session_exec(c, "COMMIT", 0, NULL, NULL, err, errlen);
	if (rc != ENGINE_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

void
pg_session_close(void *session)
{
	PQfinish(session);
}

/* libpq's cancel request: a new connection carrying the backend's key,
 * needing no privilege and safe from any thread. */
void *
pg_cancel_token(void *session)
{
	return PQgetCancel(session);
}

int
pg_cancel(const struct engine_cfg *cfg, void *token, char *err, size_t errlen)
{
	char buf[256];

	(void)cfg;
	if (PQcancel(token, buf, sizeof(buf)) == 1)
		return ENGINE_OK;
	str_first_line(err, buf, errlen);
	return ENGINE_RETRY;
}

void
pg_cancel_free(void *token)
{
	PQfreeCancel(token);
}
