/*
 * postgres: the PostgreSQL engine, over libpq.
 *
 * Privileges: the admin role needs CREATEDB and CREATEROLE, nothing more.
 * To hand a database to a new role, rename or drop a role's database, or
 * end a role's sessions, PostgreSQL requires the admin to be a member of
 * that role: each transaction that does so takes the membership and gives
 * it back before it commits (engines/postgres_roles.c, with the figures
 * that made it so), and the claim grants the admin CONNECT on the
 * database, which it then reaches without being a member of its owner.
 *
 * Identifiers are quoted with PQescapeIdentifier (and were checked by
 * names_valid before); values go as parameters. The one value that cannot
 * be a parameter — a role's password in CREATE ROLE — is sent as a
 * SCRAM-SHA-256 verifier computed here with PQencryptPasswordConn, so the
 * plain password never reaches the server or its statement log.
 *
 * Sessions as an environment's own role (its SQL, the record of applied
 * migrations, cancels) are engines/postgres_session.c; pool members copied
 * from a base database, and their hand-over at the claim,
 * engines/postgres_clone.c.
 */
#include "engines/postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/names.h"

#define PG(e) ((PGconn *)(e)->conn)

/* Transient failures are worth retrying: the connection broke, the server
 * is starting or shutting down or short of resources, a lock or object is
 * busy, a transaction was rolled back by a conflict. So is "it exists
 * already" (duplicate database or object, or the catalog's unique
 * violation while another session is still creating it): a session of
 * ours that a crash cut off may still be finishing that very CREATE on
 * the server, and the retry's existence check then finds it. */
int
pg_classify(struct engine *e, PGresult *res, char *err, size_t errlen)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) :
	    NULL;
	const char *msg = res ? PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY) : NULL;

	str_first_line(err, msg ? msg : PQerrorMessage(PG(e)), errlen);
	if (PQstatus(PG(e)) != CONNECTION_OK || state == NULL)
		return ENGINE_RETRY;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "57", 2) == 0 || strncmp(state, "40", 2) == 0 ||
	    strcmp(state, "55006") == 0 || strcmp(state, "55P03") == 0 ||
	    strcmp(state, "42P04") == 0 || strcmp(state, "42710") == 0 ||
	    strcmp(state, "23505") == 0)
		return ENGINE_RETRY;
	return ENGINE_FAIL;
}

int
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

int
pg_db_exists(struct engine *e, const char *db, bool *exists, char *err,
    size_t errlen)
{
	return pg_exists(e, "SELECT 1 FROM pg_database WHERE datname = $1", db,
	    exists, err, errlen);
}

/* Server notices (a migration's RAISE NOTICE, "already exists, skipping")
 * go to the log at debug level rather than libpq's stderr default. */
void
pg_notice(void *arg, const char *message)
{
	char line[512];

	(void)arg;
	str_first_line(line, message, sizeof(line));
	log_debug("postgres: %s", line);
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
		str_first_line(err, PQerrorMessage(c), errlen);
		PQfinish(c);
		return ENGINE_RETRY;
	}
	PQsetNoticeProcessor(c, pg_notice, NULL);
	e->conn = c;
	pg_tidy_once(e);
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
			str_first_line(err, PQerrorMessage(PG(e)), errlen);
			idents_release(id);
			return ENGINE_RETRY;
		}
	}
	return ENGINE_OK;
}

/* CREATE DATABASE cannot run in a transaction, so creation is two
 * idempotent statements: a crash between them is repaired by running both
 * again. template0 accepts no connections, so no one can block a create by
 * sitting in the template (template1 is open to PUBLIC). A copy of a base
 * (qtemplate, with its strategy) is the same two statements: a database's
 * privileges are not copied from its template. */
static int
create_locked_db(struct engine *e, const char *db, const char *qdb,
    const char *qtemplate, const char *strategy, char *err, size_t errlen)
{
	char sql[256];
	bool exists = false;
	int rc;

	if ((rc = pg_db_exists(e, db, &exists, err, errlen)) != ENGINE_OK)
		return rc;
	if (!exists) {
		if (str_printf(sql, sizeof(sql), "CREATE DATABASE %s "
		    "TEMPLATE %s%s%s", qdb, qtemplate ? qtemplate : "template0",
		    strategy ? " STRATEGY " : "", strategy ? strategy : "") != 0)
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

/* A SCRAM-SHA-256 verifier for password, as an SQL literal (*lit, freed
 * with PQfreemem). The role's name is not part of it, so it stays valid
 * when the role is renamed; it is the one pgbouncer's auth_file gets
 * (lib/crypto.h says why its salt is derived), which is what lets
 * pgbouncer log in to the server with the client's own SCRAM keys. */
static int
verifier_literal(struct engine *e, const char *role, const char *password,
    char **lit, char *err, size_t errlen)
{
	char v[CRYPTO_SCRAM_LEN];

	(void)role;
	*lit = NULL;
	if (crypto_scram_verifier(password, v, sizeof(v)) != 0) {
		str_copy(err, "cannot compute a SCRAM verifier", errlen);
		return ENGINE_FAIL;
	}
	*lit = PQescapeLiteral(PG(e), v, strlen(v));
	crypto_wipe(v, sizeof(v));
	if (*lit == NULL) {
		str_first_line(err, PQerrorMessage(PG(e)), errlen);
		return ENGINE_RETRY;
	}
	return ENGINE_OK;
}

static int
pg_role_password(struct engine *e, const char *role, const char *password,
    char *err, size_t errlen)
{
	struct idents id;
	char sql[NAMES_SIZE + CRYPTO_SCRAM_LEN + 64], *lit = NULL;
	int rc;

	if ((rc = idents_quote(e, &id, role, NULL, NULL, err, errlen)) !=
	    ENGINE_OK)
		return rc;
	if ((rc = verifier_literal(e, role, password, &lit, err, errlen)) ==
	    ENGINE_OK)
		rc = str_printf(sql, sizeof(sql), "ALTER ROLE %s PASSWORD %s",
		    id.q[0], lit) == 0 ? pg_exec(e, sql, 0, NULL, err, errlen) :
		    ENGINE_FAIL;
	if (lit != NULL)
		PQfreemem(lit);
	crypto_wipe(sql, sizeof(sql));
	idents_release(&id);
	return rc;
}

int
pg_script(struct engine *e, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(PG(e), sql);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? ENGINE_OK :
	    pg_classify(e, res, err, errlen);

	PQclear(res);
	if (rc != ENGINE_OK && PQtransactionStatus(PG(e)) != PQTRANS_IDLE)
		PQclear(PQexec(PG(e), "ROLLBACK"));
	return rc;
}

static bool
role_exists(struct engine *e, const char *role, int *rc, char *err,
    size_t errlen)
{
	bool have = false;

	*rc = pg_exists(e, "SELECT 1 FROM pg_roles WHERE rolname = $1", role,
	    &have, err, errlen);
	return have;
}

/* What a claim finds, in one round trip (four were a third of a warm
 * claim's SQL time): whether db, pool_db and their roles exist. */
struct claim_seen {
	bool db, pool, role, pool_role;
};

static int
claim_look(struct engine *e, const char *db, const char *pool_db,
    const char *role, struct claim_seen *seen, char *err, size_t errlen)
{
	const char *params[3] = { db, pool_db, role };
	PGresult *res = PQexecParams(PG(e), "SELECT "
	    "EXISTS (SELECT 1 FROM pg_database WHERE datname = $1), "
	    "EXISTS (SELECT 1 FROM pg_database WHERE datname = $2), "
	    "EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $3), "
	    "EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)",
	    3, NULL, params, NULL, NULL, 0);
	int rc = ENGINE_OK;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pg_classify(e, res, err, errlen);
	} else if (PQntuples(res) != 1 || PQnfields(res) != 4) {
		str_copy(err, "the server answered the claim's look-up with "
		    "another shape", errlen);
		rc = ENGINE_FAIL;
	} else {
		seen->db = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		seen->pool = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		seen->role = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		seen->pool_role = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	}
	PQclear(res);
	return rc;
}

/*
 * A pool member: the database (empty, or a copy of template_db), and
 * (with a password) its role named like it, NOLOGIN until claimed,
 * owning it. The role is made here, off the claim path, because CREATE
 * ROLE ... PASSWORD is the slow part of a claim (see engine.h). The admin
 * is a member of the role only for the transaction that gives it the
 * database, and keeps CONNECT (a copy's hand-over connects to it).
 */
int
pg_member_make(struct engine *e, const char *db, const char *template_db,
    const char *strategy, const char *password, char *err, size_t errlen)
{
	struct idents id;
	struct buf sql;
	char *lit = NULL;
	bool have_role;
	int rc;

	buf_init(&sql, 4096);
	if ((rc = idents_quote(e, &id, db, template_db, NULL, err,
	    errlen)) != 0)
		return rc;
	if ((rc = create_locked_db(e, db, id.q[0], id.q[1], strategy, err,
	    errlen)) != ENGINE_OK || password == NULL)
		goto out;
	have_role = role_exists(e, db, &rc, err, errlen);
	if (rc != ENGINE_OK)
		goto out;
	if (!have_role && (rc = verifier_literal(e, db, password, &lit, err,
	    errlen)) != ENGINE_OK)
		goto out;
	rc = ENGINE_FAIL;
	if ((!have_role && buf_printf(&sql, "CREATE ROLE %s WITH NOLOGIN "
	    "PASSWORD %s;", id.q[0], lit) != 0) ||
	    buf_printf(&sql, "GRANT %s TO CURRENT_USER;"
	    "ALTER DATABASE %s OWNER TO %s;"
	    "GRANT CONNECT ON DATABASE %s TO CURRENT_USER;"
	    "REVOKE %s FROM CURRENT_USER;", id.q[0], id.q[0], id.q[0], id.q[0],
	    id.q[0]) != 0) {
		str_copy(err, "statement too long", errlen);
		goto out;
	}
	rc = pg_script(e, sql.data, err, errlen);
out:
	if (sql.data != NULL)
		crypto_wipe(sql.data, sql.cap);
	buf_release(&sql);
	if (lit != NULL) {
		crypto_wipe(lit, strlen(lit));
		PQfreemem(lit);
	}
	idents_release(&id);
	return rc;
}

static int
pg_db_create(struct engine *e, const char *db, const char *password,
    char *err, size_t errlen)
{
	return pg_member_make(e, db, NULL, NULL, password, err, errlen);
}

/*
 * The claim, in one transaction: from the pool, rename the idle database
 * and its role to the environment's names and let the role log in (its
 * password, set when the pool was filled, is the environment's). Without
 * a pool member the database is created first (the cold path) and the
 * role made here. Every branch looks at what exists first, so running the
 * claim again after a crash anywhere finishes it instead of failing:
 *
 *   db exists            the claim happened: make sure of LOGIN and owner
 *   pool member exists   rename it; its role becomes the environment's,
 *                        or, when the environment has a role already (a
 *                        rebuild), the database is handed to that one and
 *                        the member's role dropped
 *   neither              create the database (cold)
 * and a missing environment role is created with the password.
 *
 * The transaction makes the admin a member of the roles it acts for (the
 * member's, whose database it renames; the environment's, to which it
 * gives the database) and gives that back before it commits: at rest the
 * admin is a member of no environment's role, however many live (see
 * engines/postgres_roles.c). It keeps CONNECT on the database instead,
 * to measure it and to hand a copy's objects over.
 */
static int
pg_claim(struct engine *e, const char *pool_db, const char *db,
    const char *role, const char *password, char *err, size_t errlen)
{
	struct idents id;
	char *lit = NULL;
	struct claim_seen seen = { false, false, false, false };
	bool have_db, have_pool, have_role, have_pool_role;
	struct buf sql;
	int rc;

	buf_init(&sql, 4096);
	if ((rc = idents_quote(e, &id, db, pool_db, role, err, errlen)) != 0)
		return rc;
	if ((rc = claim_look(e, db, pool_db, role, &seen, err, errlen)) !=
	    ENGINE_OK)
		goto out;
	have_db = seen.db;
	have_pool = !have_db && pool_db[0] != '\0' && seen.pool;
	have_role = seen.role;
	have_pool_role = have_pool && seen.pool_role;
	if (!have_db && !have_pool &&
	    (rc = create_locked_db(e, db, id.q[0], NULL, NULL, err,
	    errlen)) != ENGINE_OK)
		goto out;
	if (!have_role && !have_pool_role && (rc = verifier_literal(e, role,
	    password, &lit, err, errlen)) != ENGINE_OK)
		goto out;
	/* The member's role is dropped below: what it owns in a member
	 * copied from a base goes to the environment's role first. */
	if (have_role && have_pool_role && (rc = pg_db_adopt(e, pool_db,
	    pool_db, role, err, errlen)) != ENGINE_OK)
		goto out;

	rc = ENGINE_FAIL;
	/* The member's role owns its database: the rename is its owner's. */
	if (buf_addstr(&sql, "BEGIN;") != 0 ||
	    (have_pool_role && buf_printf(&sql, "GRANT %s TO CURRENT_USER;",
	    id.q[1]) != 0) ||
	    (have_pool && buf_printf(&sql, "ALTER DATABASE %s RENAME TO %s;",
	    id.q[1], id.q[0]) != 0))
		goto too_long;
	/* The member's role renamed keeps the membership just taken. */
	if (!have_role && have_pool_role) {
		if (buf_printf(&sql, "ALTER ROLE %s RENAME TO %s;", id.q[1],
		    id.q[2]) != 0)
			goto too_long;
	} else if (!have_role) {
		if (buf_printf(&sql, "CREATE ROLE %s WITH LOGIN PASSWORD %s;"
		    "GRANT %s TO CURRENT_USER;", id.q[2], lit, id.q[2]) != 0)
			goto too_long;
	} else if (buf_printf(&sql, "GRANT %s TO CURRENT_USER;", id.q[2]) != 0)
		goto too_long;
	/* DROP ROLE takes the member role's membership with it. */
	if (buf_printf(&sql, "ALTER ROLE %s WITH LOGIN;"
	    "ALTER DATABASE %s OWNER TO %s;"
	    "GRANT CONNECT ON DATABASE %s TO CURRENT_USER;", id.q[2], id.q[0],
	    id.q[2], id.q[0]) != 0 ||
	    (have_role && have_pool_role && buf_printf(&sql, "DROP ROLE %s;",
	    id.q[1]) != 0) ||
	    buf_printf(&sql, "REVOKE %s FROM CURRENT_USER;COMMIT;",
	    id.q[2]) != 0)
		goto too_long;
	rc = pg_script(e, sql.data, err, errlen);
	goto out;
too_long:
	str_copy(err, "statement too long", errlen);
out:
	if (sql.data != NULL)
		crypto_wipe(sql.data, sql.cap);
	buf_release(&sql);
	if (lit != NULL) {
		crypto_wipe(lit, strlen(lit));
		PQfreemem(lit);
	}
	idents_release(&id);
	return rc;
}

/*
 * DROP DATABASE IF EXISTS, its sessions ended. WITH (FORCE) ends them all,
 * but checks first that the admin may end each one, and an autovacuum
 * worker has no role the admin is a member of: on PostgreSQL 15 the drop
 * fails ("must be a member of the role whose process is being
 * terminated") whenever autovacuum visits the database, as it soon does
 * one filled from a seed or copied from a base. Then the sessions the
 * admin may end are ended and the drop runs without FORCE, which ends
 * autovacuum's workers itself (and waits up to five seconds for all).
 */
static int
drop_database(struct engine *e, const char *qdb, const char *db, char *err,
    size_t errlen)
{
	const char *params[1] = { db };
	const char *state;
	char sql[256];
	PGresult *res;
	bool denied;
	int rc = ENGINE_OK;

	if (str_printf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH "
	    "(FORCE)", qdb) != 0)
		return ENGINE_FAIL;
	res = PQexec(PG(e), sql);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	denied = state != NULL && strcmp(state, "42501") == 0;
	if (PQresultStatus(res) != PGRES_COMMAND_OK && !denied)
		rc = pg_classify(e, res, err, errlen);
	PQclear(res);
	if (!denied)
		return rc;
	if ((rc = pg_exec(e, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE datname = $1 AND usesysid IS NOT NULL AND "
	    "pg_has_role(usesysid, 'USAGE') AND pid <> pg_backend_pid()", 1,
	    params, err, errlen)) != ENGINE_OK)
		return rc;
	if (str_printf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s",
	    qdb) != 0)
		return ENGINE_FAIL;
	return pg_exec(e, sql, 0, NULL, err, errlen);
}

/* Teardown. The admin is no member of the environment's role (nor, in a
 * rebuild left half done, of the member's): pg_release takes what ending
 * the sessions needs, and gives the databases to the admin, which then
 * drops them as their owner; DROP ROLE needs only CREATEROLE. */
static int
pg_drop(struct engine *e, const char *db, const char *pool_db,
    const char *role, char *err, size_t errlen)
{
	const char *dbs[2] = { db, pool_db };
	struct idents id;
	char sql[256];
	bool have_role;
	int rc;

	if ((rc = idents_quote(e, &id, db, pool_db, role, err, errlen)) != 0)
		return rc;
	have_role = role_exists(e, role, &rc, err, errlen);
	if (rc != ENGINE_OK)
		goto out;
	if ((rc = pg_release(e, have_role ? role : NULL, true, dbs,
	    id.q[1] != NULL ? 2 : 1, err, errlen)) != ENGINE_OK)
		goto out;
	if ((rc = drop_database(e, id.q[0], db, err, errlen)) != ENGINE_OK)
		goto out;
	if (id.q[1] != NULL) {
		/* A pool member claimed but never renamed, and its role. */
		if ((rc = drop_database(e, id.q[1], pool_db, err,
		    errlen)) != ENGINE_OK)
			goto out;
		rc = ENGINE_FAIL;
		if (str_printf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s",
		    id.q[1]) != 0)
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

/* ---- the orphan sweep ---- */

/* Keyset pages: each is one index range scan of the catalog, however
 * many objects the server holds. name compares in byte order (its
 * collation is "C"), as the state store's names do. */
static int
pg_list(struct engine *e, bool role, const char *after, int limit,
    int (*fn)(const char *, void *), void *arg, char *last, size_t lastsz,
    char *err, size_t errlen)
{
	static const char *const sql[2] = {
		"SELECT datname FROM pg_database WHERE datname LIKE 'pvd\\_%' "
		"AND datname > $1::name ORDER BY datname LIMIT $2::int",
		"SELECT rolname FROM pg_roles WHERE rolname LIKE 'pvd\\_%' "
		"AND rolname > $1::name ORDER BY rolname LIMIT $2::int",
	};
	char lim[16];
	const char *params[2] = { after, lim };
	PGresult *res;
	int i, n, rc = ENGINE_OK;

	snprintf(lim, sizeof(lim), "%d", limit);
	res = PQexecParams(PG(e), sql[role], 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pg_classify(e, res, err, errlen);
		goto out;
	}
	n = PQntuples(res);
	if (n > 0)
		str_copy(last, PQgetvalue(res, n - 1, 0), lastsz);
	for (i = 0; i < n; i++)
		if (names_valid(PQgetvalue(res, i, 0)) &&
		    fn(PQgetvalue(res, i, 0), arg) != 0)
			break;
out:
	PQclear(res);
	return rc;
}

static int
pg_drop_orphan(struct engine *e, bool role, const char *name, char *err,
    size_t errlen)
{
	const char *dbs[1] = { name };
	struct idents id;
	char sql[256];
	bool have;
	int rc;

	if ((rc = idents_quote(e, &id, name, NULL, NULL, err, errlen)) != 0)
		return rc;
	if (role) {
		/* Its sessions end first, best effort: the role is gone
		 * either way, and one that is gone already has none. */
		have = role_exists(e, name, &rc, err, errlen);
		if (rc == ENGINE_OK && have)
			(void)pg_release(e, name, true, NULL, 0, err, errlen);
		rc = str_printf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s",
		    id.q[0]) == 0 ? pg_exec(e, sql, 0, NULL, err, errlen) :
		    ENGINE_FAIL;
	} else if ((rc = pg_release(e, NULL, false, dbs, 1, err,
	    errlen)) == ENGINE_OK) {
		rc = drop_database(e, id.q[0], name, err, errlen);
	}
	idents_release(&id);
	return rc;
}

/* Only databases the admin may connect to can be measured: its own
 * environments' (the claim grants it CONNECT), not a stranger's. The
 * names go as one array parameter. */
static int
pg_sizes(struct engine *e, const char *const *dbs, size_t n,
    int (*fn)(const char *, int64_t, void *), void *arg, char *err,
    size_t errlen)
{
	const char *params[1];
	PGresult *res = NULL;
	struct buf list;
	size_t k;
	bool ok;
	int i, rc = ENGINE_FAIL;

	/* Valid names are [a-z0-9_]: nothing in them needs quoting in an
	 * array literal. */
	buf_init(&list, (size_t)1 << 20);
	ok = buf_addstr(&list, "{") == 0;
	for (k = 0; k < n && ok; k++)
		if (names_valid(dbs[k]))
			ok = (list.len == 1 || buf_addstr(&list, ",") == 0) &&
			    buf_addstr(&list, dbs[k]) == 0;
	if (!ok || buf_addstr(&list, "}") != 0) {
		str_copy(err, "out of memory", errlen);
		goto out;
	}
	params[0] = list.data;
	res = PQexecParams(PG(e), "SELECT datname, pg_database_size(oid) FROM "
	    "pg_database WHERE datname = ANY ($1::name[]) AND "
	    "has_database_privilege(oid, 'CONNECT')", 1, NULL, params, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pg_classify(e, res, err, errlen);
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++)
		if (names_valid(PQgetvalue(res, i, 0)) &&
		    fn(PQgetvalue(res, i, 0),
		    strtoll(PQgetvalue(res, i, 1), NULL, 10), arg) != 0)
			break;
	rc = ENGINE_OK;
out:
	PQclear(res);
	buf_release(&list);
	return rc;
}

static int
pg_db_drop(struct engine *e, const char *db, const char *role, char *err,
    size_t errlen)
{
	const char *dbs[1] = { db };
	struct idents id;
	int rc;

	if ((rc = idents_quote(e, &id, db, NULL, role, err, errlen)) != 0)
		return rc;
	/* The role stays (a rebuild): it keeps its LOGIN. */
	if ((rc = pg_release(e, NULL, false, dbs, 1, err, errlen)) ==
	    ENGINE_OK)
		rc = drop_database(e, id.q[0], db, err, errlen);
	idents_release(&id);
	return rc;
}

const struct engine_ops postgres_ops = {
	.name = "postgres",
	.url_scheme = "postgresql",
	.default_port = 5432,
	.pool_roles = true,
	.ddl_transactional = true,
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.ping = pg_ping,
	.db_create = pg_db_create,
	.claim = pg_claim,
	.role_limit = pg_role_limit,
	.role_password = pg_role_password,
	.drop = pg_drop,
	.session_open = pg_session_open,
	.session_run = pg_session_run,
	.session_close = pg_session_close,
	.cancel_token = pg_cancel_token,
	.cancel = pg_cancel,
	.cancel_free = pg_cancel_free,
	.record_prepare = pg_record_prepare,
	.record_list = pg_record_list,
	.record_apply = pg_record_apply,
	.db_clone = pg_db_clone,
	.db_adopt = pg_db_adopt,
	.db_drop = pg_db_drop,
	.list = pg_list,
	.drop_orphan = pg_drop_orphan,
	.sizes = pg_sizes,
};
