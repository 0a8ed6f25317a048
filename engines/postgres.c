/*
 * postgres: the PostgreSQL engine, over libpq.
 *
 * Privileges: the admin role needs CREATEDB and CREATEROLE, nothing more.
 * To hand a database to a new role, PostgreSQL requires the admin to be a
 * member of that role, so each claim grants the new role to the admin;
 * that membership is also what lets the admin end the role's sessions on
 * teardown.
 *
 * Identifiers are quoted with PQescapeIdentifier (and were checked by
 * names_valid before); values go as parameters. The one value that cannot
 * be a parameter — a role's password in CREATE ROLE — is sent as a
 * SCRAM-SHA-256 verifier computed here with PQencryptPasswordConn, so the
 * plain password never reaches the server or its statement log.
 */
#include "engines/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "server/crypto.h"
#include "server/log.h"
#include "server/names.h"

#define PG(e) ((PGconn *)(e)->conn)

/* First line of msg into err. */
static void
first_line(const char *msg, char *err, size_t errlen)
{
	size_t n = strcspn(msg, "\n");

	if (errlen == 0)
		return;
	if (n >= errlen)
		n = errlen - 1;
	memcpy(err, msg, n);
	err[n] = '\0';
}

/* Transient failures are worth retrying: the connection broke, the server
 * is starting or shutting down or short of resources, a lock or object is
 * busy, a transaction was rolled back by a conflict. */
static int
pg_classify(struct engine *e, PGresult *res, char *err, size_t errlen)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) :
	    NULL;
	const char *msg = res ? PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY) : NULL;

	first_line(msg ? msg : PQerrorMessage(PG(e)), err, errlen);
	if (PQstatus(PG(e)) != CONNECTION_OK || state == NULL)
		return ENGINE_RETRY;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "57", 2) == 0 || strncmp(state, "40", 2) == 0 ||
	    strcmp(state, "55006") == 0 || strcmp(state, "55P03") == 0)
		return ENGINE_RETRY;
	return ENGINE_FAIL;
}

/* Run one statement; params may be NULL. */
static int
pg_exec(struct engine *e, const char *sql, int nparams,
    const char *const *params, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(PG(e), sql, nparams, NULL, params, NULL,
	    NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	int rc = ENGINE_OK;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = pg_classify(e, res, err, errlen);
	PQclear(res);
	return rc;
}

/* *exists = whether sql with one parameter returns a row. */
static int
pg_exists(struct engine *e, const char *sql, const char *param, bool *exists,
    char *err, size_t errlen)
{
	const char *params[1] = { param };
	PGresult *res = PQexecParams(PG(e), sql, 1, NULL, params, NULL, NULL,
	    0);
	int rc = ENGINE_OK;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = pg_classify(e, res, err, errlen);
	else
		*exists = PQntuples(res) > 0;
	PQclear(res);
	return rc;
}

static int
db_exists(struct engine *e, const char *db, bool *exists, char *err,
    size_t errlen)
{
	return pg_exists(e, "SELECT 1 FROM pg_database WHERE datname = $1", db,
	    exists, err, errlen);
}

static int
pg_connect(struct engine *e, char *err, size_t errlen)
{
	/* expand_dbname lets admin_url be a full connection URI; the extra
	 * keywords bound how long a dead server or a held lock can stall a
	 * worker. */
	static const char *const keys[] = { "dbname", "connect_timeout",
	    "application_name", "options", NULL };
	const char *values[] = { e->cfg->admin_url, "5", "previewd",
	    "-c lock_timeout=10000 -c statement_timeout=120000", NULL };
	PGconn *c = PQconnectdbParams(keys, values, 1);

	if (c == NULL) {
		str_copy(err, "out of memory", errlen);
		return ENGINE_RETRY;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		first_line(PQerrorMessage(c), err, errlen);
		PQfinish(c);
		return ENGINE_RETRY;
	}
	e->conn = c;
	return ENGINE_OK;
}

static void
pg_disconnect(struct engine *e)
{
	PQfinish(PG(e));
	e->conn = NULL;
}

static int
pg_ping(struct engine *e, char *err, size_t errlen)
{
	return pg_exec(e, "SELECT 1", 0, NULL, err, errlen);
}

/* Quoted identifiers for up to three names; 0 ok. */
struct idents {
	char *q[3];
};

static void
idents_release(struct idents *id)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(id->q); i++) {
		PQfreemem(id->q[i]);
		id->q[i] = NULL;
	}
}

static int
idents_quote(struct engine *e, struct idents *id, const char *a,
    const char *b, const char *c, char *err, size_t errlen)
{
	const char *names[3] = { a, b, c };
	size_t i;

	memset(id, 0, sizeof(*id));
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (names[i] == NULL || names[i][0] == '\0')
			continue;
		if (!names_valid(names[i])) {
			snprintf(err, errlen, "refusing to touch \"%s\": not a "
			    "previewd name", names[i]);
			idents_release(id);
			return ENGINE_FAIL;
		}
		id->q[i] = PQescapeIdentifier(PG(e), names[i], strlen(names[i]));
		if (id->q[i] == NULL) {
			first_line(PQerrorMessage(PG(e)), err, errlen);
			idents_release(id);
			return ENGINE_RETRY;
		}
	}
	return ENGINE_OK;
}

/* CREATE DATABASE cannot run in a transaction, so creation is two
 * idempotent statements: a crash between them is repaired by running both
 * again. template0 accepts no connections, so no one can block a create by
 * sitting in the template (template1 is open to PUBLIC). */
static int
create_locked_db(struct engine *e, const char *db, const char *qdb, char *err,
    size_t errlen)
{
	char sql[256];
	bool exists = false;
	int rc;

	if ((rc = db_exists(e, db, &exists, err, errlen)) != ENGINE_OK)
		return rc;
	if (!exists) {
		if (str_printf(sql, sizeof(sql),
		    "CREATE DATABASE %s TEMPLATE template0", qdb) != 0)
			return ENGINE_FAIL;
		rc = pg_exec(e, sql, 0, NULL, err, errlen);
		if (rc != ENGINE_OK)
			return rc;
	}
	if (str_printf(sql, sizeof(sql),
	    "REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC", qdb) != 0)
		return ENGINE_FAIL;
	return pg_exec(e, sql, 0, NULL, err, errlen);
}

static int
pg_db_create(struct engine *e, const char *db, char *err, size_t errlen)
{
	struct idents id;
	int rc;

	if ((rc = idents_quote(e, &id, db, NULL, NULL, err, errlen)) != 0)
		return rc;
	rc = create_locked_db(e, db, id.q[0], err, errlen);
	idents_release(&id);
	return rc;
}

/*
 * The claim. From the pool it is one transaction — rename the idle
 * database, create the role, give it the database — so it either happened
 * or did not. Without a pool database it creates the database first (the
 * cold path). Every branch checks what already exists, so running it
 * again after a crash finishes the job instead of failing.
 */
static int
pg_claim(struct engine *e, const char *pool_db, const char *db,
    const char *role, const char *password, char *err, size_t errlen)
{
	struct idents id;
	char *verifier = NULL, *lit = NULL;
	bool have_db = false, have_pool = false, have_role = false;
	struct buf sql;
	int rc;

	buf_init(&sql, 4096);
	if ((rc = idents_quote(e, &id, db, pool_db, role, err, errlen)) != 0)
		return rc;
	if ((rc = db_exists(e, db, &have_db, err, errlen)) != ENGINE_OK)
		goto out;
	if (!have_db && pool_db[0] != '\0' &&
	    (rc = db_exists(e, pool_db, &have_pool, err, errlen)) != ENGINE_OK)
		goto out;
	if (!have_db && !have_pool &&
	    (rc = create_locked_db(e, db, id.q[0], err, errlen)) != ENGINE_OK)
		goto out;
	if ((rc = pg_exists(e, "SELECT 1 FROM pg_roles WHERE rolname = $1",
	    role, &have_role, err, errlen)) != ENGINE_OK)
		goto out;

	verifier = PQencryptPasswordConn(PG(e), password, role,
	    "scram-sha-256");
	if (verifier == NULL || (lit = PQescapeLiteral(PG(e), verifier,
	    strlen(verifier))) == NULL) {
		first_line(PQerrorMessage(PG(e)), err, errlen);
		rc = ENGINE_RETRY;
		goto out;
	}
	rc = ENGINE_FAIL;
	if (buf_addstr(&sql, "BEGIN;") != 0 ||
	    (have_pool && buf_printf(&sql, "ALTER DATABASE %s RENAME TO %s;",
	    id.q[1], id.q[0]) != 0) ||
	    buf_printf(&sql, "%s ROLE %s WITH LOGIN PASSWORD %s;",
	    have_role ? "ALTER" : "CREATE", id.q[2], lit) != 0 ||
	    buf_printf(&sql, "GRANT %s TO CURRENT_USER;", id.q[2]) != 0 ||
	    buf_printf(&sql, "ALTER DATABASE %s OWNER TO %s;", id.q[0],
	    id.q[2]) != 0 ||
	    buf_addstr(&sql, "COMMIT;") != 0) {
		str_copy(err, "statement too long", errlen);
		goto out;
	}
	/* One round trip: PQexec runs the script as one implicit
	 * transaction block, and stops at the first error (rolling back). */
	{
		PGresult *res = PQexec(PG(e), sql.data);

		rc = PQresultStatus(res) == PGRES_COMMAND_OK ? ENGINE_OK :
		    pg_classify(e, res, err, errlen);
		PQclear(res);
		if (rc != ENGINE_OK)
			(void)pg_exec(e, "ROLLBACK", 0, NULL, NULL, 0);
	}
out:
	if (sql.data != NULL)
		crypto_wipe(sql.data, sql.cap);
	buf_release(&sql);
	if (lit != NULL) {
		crypto_wipe(lit, strlen(lit));
		PQfreemem(lit);
	}
	if (verifier != NULL) {
		crypto_wipe(verifier, strlen(verifier));
		PQfreemem(verifier);
	}
	idents_release(&id);
	return rc;
}

static int
pg_drop(struct engine *e, const char *db, const char *pool_db,
    const char *role, char *err, size_t errlen)
{
	const char *params[1] = { role };
	struct idents id;
	char sql[256];
	bool have_role = false;
	int rc;

	if ((rc = idents_quote(e, &id, db, pool_db, role, err, errlen)) != 0)
		return rc;
	if ((rc = pg_exists(e, "SELECT 1 FROM pg_roles WHERE rolname = $1",
	    role, &have_role, err, errlen)) != ENGINE_OK)
		goto out;
	/* Sessions of the role in any database (WITH (FORCE) below only ends
	 * those in the dropped one). */
	if (have_role && (rc = pg_exec(e, "SELECT pg_terminate_backend(pid) "
	    "FROM pg_stat_activity WHERE usename = $1 AND "
	    "pid <> pg_backend_pid()", 1, params, err, errlen)) != ENGINE_OK)
		goto out;
	rc = ENGINE_FAIL;
	if (str_printf(sql, sizeof(sql),
	    "DROP DATABASE IF EXISTS %s WITH (FORCE)", id.q[0]) != 0)
		goto out;
	if ((rc = pg_exec(e, sql, 0, NULL, err, errlen)) != ENGINE_OK)
		goto out;
	if (id.q[1] != NULL) {
		rc = ENGINE_FAIL;
		if (str_printf(sql, sizeof(sql),
		    "DROP DATABASE IF EXISTS %s WITH (FORCE)", id.q[1]) != 0)
			goto out;
		if ((rc = pg_exec(e, sql, 0, NULL, err, errlen)) != ENGINE_OK)
			goto out;
	}
	rc = ENGINE_FAIL;
	if (str_printf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s",
	    id.q[2]) != 0)
		goto out;
	rc = pg_exec(e, sql, 0, NULL, err, errlen);
out:
	idents_release(&id);
	return rc;
}

/* ---- sessions as an environment's role ---- */

static int
pg_session_open(const struct engine_cfg *cfg, const char *db,
    const char *role, const char *password, void **session, char *err,
    size_t errlen)
{
	/* admin_url is expanded first (host, port, sslmode ...); the
	 * keywords after it override the database and the credentials. */
	static const char *const keys[] = { "dbname", "dbname", "user",
	    "password", "connect_timeout", "application_name", NULL };
	const char *values[] = { cfg->admin_url, db, role, password, "10",
	    "previewd", NULL };
	PGconn *c = PQconnectdbParams(keys, values, 1);

	*session = NULL;
	if (c == NULL) {
		str_copy(err, "out of memory", errlen);
		return ENGINE_RETRY;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		first_line(PQerrorMessage(c), err, errlen);
		PQfinish(c);
		return ENGINE_RETRY;
	}
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

static int
pg_session_run(void *session, const char *sql, size_t len, char *err,
    size_t errlen)
{
	PGconn *c = session;
	PGresult *res;
	ExecStatusType st;
	int rc = ENGINE_OK;

	/* PQexec runs a multi-statement string as one implicit transaction:
	 * a failing statement rolls back the whole file. */
	res = PQexec(c, sql);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY) {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *pos = PQresultErrorField(res,
		    PG_DIAG_STATEMENT_POSITION);
		char one[512];
		int64_t p = 0;

		first_line(msg ? msg : PQerrorMessage(c), one, sizeof(one));
		if (pos != NULL && parse_int64(pos, 1, INT64_MAX, &p) == 0)
			snprintf(err, errlen, "line %d: %s", line_of(sql, len, (long)p),
			    one);
		else
			str_copy(err, one, errlen);
		rc = PQstatus(c) == CONNECTION_OK ? ENGINE_FAIL : ENGINE_RETRY;
	}
	PQclear(res);
	/* A script that opened its own transaction and failed inside it
	 * leaves the session aborted: end it. */
	if (rc != ENGINE_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

static void
pg_session_close(void *session)
{
	PQfinish(session);
}

const struct engine_ops postgres_ops = {
	.name = "postgres",
	.url_scheme = "postgresql",
	.default_port = 5432,
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.ping = pg_ping,
	.db_create = pg_db_create,
	.claim = pg_claim,
	.drop = pg_drop,
	.session_open = pg_session_open,
	.session_run = pg_session_run,
	.session_close = pg_session_close,
};
