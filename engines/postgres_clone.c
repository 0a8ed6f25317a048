/*
 * postgres_clone: pool members that are copies of a base database (one
 * migrated to a repository's default branch), and their hand-over to the
 * environment's role at the claim.
 *
 * The copy is CREATE DATABASE ... TEMPLATE base: the server copies the
 * base's files, so schema, rows, sequences' positions, extensions and
 * everything else come along at the cost of the bytes, not of the
 * statements that made them. Its objects are still the base's role's:
 * db_adopt hands them to the member's own role (as db_create makes it,
 * owning the database) straight away, so that the claim, which renames
 * that role to the environment's, has nothing left to do, and nothing in
 * the member names the base's role, which can go with its base whatever
 * members live on.
 *
 * Privileges: the admin must be a member of the base's role to copy it
 * (it owns the base, and only a template's owner may copy a database
 * that is not marked a template) and to end its sessions. CREATE
 * DATABASE cannot run in a transaction, so that membership cannot be
 * given back in the one that takes it, as every other is
 * (engines/postgres_roles.c): the first copy of a base takes it for good,
 * one per prewarmed repository, and it goes with the base's role (or at
 * the next start). REASSIGN OWNED and DROP OWNED need membership in both
 * roles: the hand-over's transaction takes what it lacks and gives it
 * back.
 */
#include "engines/postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/names.h"

/*
 * How the server copies the base: WAL_LOG (PostgreSQL 15's default)
 * writes every block of the copy to the WAL, FILE_COPY copies the files
 * and makes a checkpoint before and after. bench/clone_strategies.py,
 * PostgreSQL 15, fsync on, 2 cores, a base of 60 tables (12.9 MB) and of
 * 600 (62.8 MB), each table with its keys, a foreign key, three more
 * indexes, 5,000 seed rows in all; milliseconds, median (p90) of 9 copies,
 * the two strategies alternated:
 *
 *   tables   WAL_LOG        FILE_COPY
 *       60    378 (721)      499 (760)
 *      600   3093 (3287)    3533 (3768)
 *
 * WAL_LOG was ahead at both sizes in every run (two earlier ones: 141 vs
 * 278 and 4337 vs 5171; 582 vs 845 and 4533 vs 4911), and it makes no
 * checkpoint, which on a shared server would flush every other database's
 * dirty pages into a member's copy time. Its price is WAL: the copy's
 * size per member, for archiving and replicas to carry.
 */
#define CLONE_STRATEGY "WAL_LOG"

/* The most statements adopt carries over (default privileges, and what it
 * puts back outside the database); more is not a base previewd built. */
#define ADOPT_STMTS_MAX 1000

static bool
check_names(const char *a, const char *b, const char *c, char *err,
    size_t errlen)
{
	const char *names[3] = { a, b, c };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!names_valid(names[i])) {
			snprintf(err, errlen, "refusing to touch \"%s\": not a "
			    "previewd name", names[i]);
			return false;
		}
	}
	return true;
}

/*
 * A copy needs the base to itself: the server refuses (after waiting five
 * seconds, and ending autovacuum's workers) while another session is
 * connected to it. Sessions of the base's role are previewd's own — the
 * migrations that built the base, cut off by a crash or a cancel and not
 * yet gone — and are ended first; the copy waits for them to exit.
 * Anyone else's (an operator's psql, another admin session) is not
 * previewd's to end: the copy fails, to be tried again later. (Who they
 * are cannot be told: the admin sees another role's sessions without
 * their details.)
 */
static int
end_base_sessions(struct engine *e, const char *base_db,
    const char *base_role, char *err, size_t errlen)
{
	const char *params[2] = { base_db, base_role };

	return pg_exec(e, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE datname = $1 AND usename = $2 AND "
	    "pid <> pg_backend_pid()", 2, params, err, errlen);
}

/* The admin a member of the base's role, for good (see above). */
static int
base_member(struct engine *e, const char *base_role, char *err,
    size_t errlen)
{
	bool granted;

	return pg_member_take(e, base_role, &granted, err, errlen);
}

/* After a copy that was not made: when the base has sessions, say so. */
static void
explain_busy_base(struct engine *e, const char *base_db, const char *db,
    char *err, size_t errlen)
{
	const char *params[2] = { base_db, db };
	char why[512];
	PGresult *res;

	if (PQstatus(e->conn) != CONNECTION_OK)
		return;
	/* A client's session has a user; autovacuum's workers, which the
	 * copy ends itself, have none. */
	res = PQexecParams(e->conn, "SELECT count(*) FROM pg_stat_activity "
	    "WHERE datname = $1 AND usesysid IS NOT NULL AND pid <> "
	    "pg_backend_pid() AND NOT EXISTS (SELECT 1 FROM pg_database WHERE "
	    "datname = $2)", 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK &&
	    strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
		str_copy(why, err, sizeof(why));
		snprintf(err, errlen, "cannot copy base database %s: %s other "
		    "session(s) are connected to it (%s)", base_db,
		    PQgetvalue(res, 0, 0), why);
	}
	PQclear(res);
}

int
pg_db_clone(struct engine *e, const char *base_db, const char *base_role,
    const char *db, const char *password, char *err, size_t errlen)
{
	bool exists = false;
	int rc;

	if (!check_names(base_db, base_role, db, err, errlen))
		return ENGINE_FAIL;
	if (strcmp(base_db, db) == 0) {
		str_copy(err, "a database cannot be a copy of itself", errlen);
		return ENGINE_FAIL;
	}
	/* Made already (a crash before its role or its privileges): finish
	 * it without disturbing the base. */
	if ((rc = pg_db_exists(e, db, &exists, err, errlen)) != ENGINE_OK)
		return rc;
	if (!exists && ((rc = base_member(e, base_role, err,
	    errlen)) != ENGINE_OK || (rc = end_base_sessions(e, base_db,
	    base_role, err, errlen)) != ENGINE_OK))
		return rc;
	rc = pg_member_make(e, db, base_db, CLONE_STRATEGY, password, err,
	    errlen);
	if (rc == ENGINE_RETRY && !exists)
		explain_busy_base(e, base_db, db, err, errlen);
	/* The member's role (with a password, see db_create) takes the
	 * copy's objects now, not at the claim (see pg_db_adopt). */
	if (rc == ENGINE_OK && password != NULL)
		rc = pg_db_adopt(e, db, base_role, db, err, errlen);
	return rc;
}

/* ---- the hand-over at the claim ---- */

/* A connection to db as the admin, with the admin connection's bounds. */
static int
connect_db(struct engine *e, const char *db, struct engine *out, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "dbname", "dbname",
	    "connect_timeout", "application_name", "options", NULL };
	const char *values[] = { e->cfg->admin_url, db, "5", "previewd",
	    "-c lock_timeout=10000 -c statement_timeout=120000", NULL };
	PGconn *c = PQconnectdbParams(keys, values, 1);

	out->ops = e->ops;
	out->cfg = e->cfg;
	out->conn = NULL;
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
	out->conn = c;
	return ENGINE_OK;
}

/* The rows sql returns (n parameters of params), at most ADOPT_STMTS_MAX
 * of them. */
static int
fetch_all(struct engine *d, const char *sql, int n, const char *const *params,
    PGresult **out, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(d->conn, sql, n, NULL, params, NULL, NULL,
	    0);
	int rc;

	*out = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pg_classify(d, res, err, errlen);
		PQclear(res);
		return rc;
	}
	if (PQntuples(res) > ADOPT_STMTS_MAX) {
		PQclear(res);
		str_copy(err, "too many grants and default privileges to carry "
		    "over", errlen);
		return ENGINE_FAIL;
	}
	*out = res;
	return ENGINE_OK;
}

/* Run each statement in the first column of res. */
static int
run_each(struct engine *d, PGresult *res, char *err, size_t errlen)
{
	int i, rc = ENGINE_OK;

	for (i = 0; rc == ENGINE_OK && i < PQntuples(res); i++)
		rc = pg_exec(d, PQgetvalue(res, i, 0), 0, NULL, err, errlen);
	return rc;
}

/* Run the statements that sql (with from_role and to_role as $1 and $2)
 * returns. */
static int
run_generated(struct engine *d, const char *sql, const char *const *params,
    char *err, size_t errlen)
{
	PGresult *res;
	int rc;

	if ((rc = fetch_all(d, sql, 2, params, &res, err, errlen)) != ENGINE_OK)
		return rc;
	rc = run_each(d, res, err, errlen);
	PQclear(res);
	return rc;
}

/*
 * The base's default privileges (ALTER DEFAULT PRIVILEGES in its
 * migrations) as the environment's role's own, so that what the pull
 * request's migrations create gets the grants it would have got on the
 * cold path. REASSIGN OWNED leaves them to DROP OWNED, which only deletes
 * them. A row for a whole database replaces the built-in default
 * (acldefault): what it adds is granted, what it lacks revoked; a row for
 * one schema only adds. Revokes come first, so a privilege whose grant
 * option differs ends as the row has it.
 */
static const char default_privileges[] =
    "WITH d AS (SELECT d.defaclrole AS owner, d.defaclobjtype AS t, "
    "  d.defaclnamespace = 0 AS whole, d.defaclacl AS acl, "
    "  CASE WHEN d.defaclnamespace = 0 THEN '' ELSE ' IN SCHEMA ' || "
    "  quote_ident(n.nspname) END AS scope "
    "  FROM pg_default_acl d LEFT JOIN pg_namespace n ON "
    "  n.oid = d.defaclnamespace WHERE d.defaclrole = "
    "  (SELECT oid FROM pg_roles WHERE rolname = $1)), "
    "have AS (SELECT d.owner, d.t, d.scope, a.grantee, a.privilege_type, "
    "  a.is_grantable FROM d, aclexplode(d.acl) a), "
    "builtin AS (SELECT d.owner, d.t, d.scope, a.grantee, a.privilege_type, "
    "  a.is_grantable FROM d, aclexplode(acldefault(CASE d.t WHEN 'S' "
    "  THEN 's'::\"char\" ELSE d.t END, d.owner)) a WHERE d.whole), "
    "diff AS (SELECT 0 AS o, 'REVOKE' AS verb, 'FROM' AS dir, x.* FROM "
    "  (SELECT * FROM builtin EXCEPT SELECT * FROM have) x UNION ALL "
    "  SELECT 1, 'GRANT', 'TO', y.* FROM "
    "  (SELECT * FROM have EXCEPT SELECT * FROM builtin) y) "
    "SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I%s %s %s ON %s %s "
    "  %s%s', $2::text, scope, verb, privilege_type, CASE t WHEN 'r' THEN "
    "  'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' WHEN "
    "  'T' THEN 'TYPES' ELSE 'SCHEMAS' END, dir, CASE WHEN grantee = 0 "
    "  THEN 'PUBLIC' WHEN grantee = owner THEN quote_ident($2) ELSE "
    "  quote_ident(pg_get_userbyid(grantee)) END, CASE WHEN is_grantable "
    "  AND verb = 'GRANT' THEN ' WITH GRANT OPTION' ELSE '' END) "
    "FROM diff ORDER BY o";

/*
 * What the two commands do beyond this database, to be put back: REASSIGN
 * OWNED also hands over the databases from_role owns (the base itself),
 * and DROP OWNED also revokes what from_role was granted on any database.
 * (Tablespaces and parameters, the other shared objects, take a superuser
 * to own or grant.)
 */
static const char shared_back[] =
    "SELECT format('ALTER DATABASE %I OWNER TO %I', datname, $1::text) "
    "FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE "
    "rolname = $1) "
    "UNION ALL SELECT format('GRANT %s ON DATABASE %I TO %I%s', "
    "a.privilege_type, d.datname, $1::text, CASE WHEN a.is_grantable THEN "
    "' WITH GRANT OPTION' ELSE '' END) FROM pg_database d, "
    "aclexplode(d.datacl) a WHERE a.grantee = (SELECT oid FROM pg_roles "
    "WHERE rolname = $1) AND a.grantee <> d.datdba";

/* Schemas first: a function, type or operator changes owner only to a
 * role that may create in its schema. */
static const char schemas[] =
    "SELECT format('ALTER SCHEMA %I OWNER TO %I', nspname, $2::text) FROM "
    "pg_namespace WHERE nspowner = (SELECT oid FROM pg_roles WHERE "
    "rolname = $1)";

/* Whatever still names from_role in this database: nothing, or adopt
 * failed. */
static const char leftovers[] =
    "SELECT count(*) FROM pg_shdepend WHERE dbid = (SELECT oid FROM "
    "pg_database WHERE datname = current_database()) AND refclassid = "
    "'pg_authid'::regclass AND refobjid = (SELECT oid FROM pg_roles WHERE "
    "rolname = $1)";

static int
adopt_in(struct engine *d, const char *from_role, const char *to_role,
    char *err, size_t errlen)
{
	const char *params[2] = { from_role, to_role };
	PGresult *back = NULL, *left = NULL;
	char *qfrom = NULL, *qto = NULL, sql[256];
	bool took_from = false, took_to = false;
	int rc;

	qfrom = PQescapeIdentifier(d->conn, from_role, strlen(from_role));
	qto = PQescapeIdentifier(d->conn, to_role, strlen(to_role));
	if (qfrom == NULL || qto == NULL) {
		str_first_line(err, PQerrorMessage(d->conn), errlen);
		rc = ENGINE_RETRY;
		goto out;
	}
	/* Both roles' privileges, for this transaction only. */
	if ((rc = pg_exec(d, "BEGIN", 0, NULL, err, errlen)) != ENGINE_OK ||
	    (rc = pg_member_take(d, from_role, &took_from, err,
	    errlen)) != ENGINE_OK ||
	    (rc = pg_member_take(d, to_role, &took_to, err,
	    errlen)) != ENGINE_OK ||
	    (rc = fetch_all(d, shared_back, 1, params, &back, err,
	    errlen)) != ENGINE_OK ||
	    (rc = run_generated(d, schemas, params, err, errlen)) != ENGINE_OK)
		goto out;
	/* The default privileges are read before DROP OWNED deletes them
	 * and made for to_role after REASSIGN OWNED (which skips them). */
	rc = ENGINE_FAIL;
	if (str_printf(sql, sizeof(sql), "REASSIGN OWNED BY %s TO %s", qfrom,
	    qto) != 0)
		goto out;
	if ((rc = pg_exec(d, sql, 0, NULL, err, errlen)) != ENGINE_OK ||
	    (rc = run_generated(d, default_privileges, params, err,
	    errlen)) != ENGINE_OK)
		goto out;
	rc = ENGINE_FAIL;
	if (str_printf(sql, sizeof(sql), "DROP OWNED BY %s", qfrom) != 0)
		goto out;
	if ((rc = pg_exec(d, sql, 0, NULL, err, errlen)) != ENGINE_OK)
		goto out;
	if ((rc = run_each(d, back, err, errlen)) != ENGINE_OK ||
	    (rc = fetch_all(d, leftovers, 1, params, &left, err,
	    errlen)) != ENGINE_OK)
		goto out;
	if (strcmp(PQgetvalue(left, 0, 0), "0") != 0) {
		snprintf(err, errlen, "%s objects or grants of %s are left in "
		    "the database after the hand-over", PQgetvalue(left, 0, 0),
		    from_role);
		rc = ENGINE_FAIL;
		goto out;
	}
	if ((took_from && (rc = pg_member_give_back(d, from_role, err,
	    errlen)) != ENGINE_OK) || (took_to &&
	    (rc = pg_member_give_back(d, to_role, err, errlen)) != ENGINE_OK))
		goto out;
	rc = ENGINE_OK;
out:
	rc = pg_tx_end(d, rc, err, errlen);
	PQclear(back);
	PQclear(left);
	PQfreemem(qfrom);
	PQfreemem(qto);
	return rc;
}

/* Whether db holds anything of from_role's (pg_shdepend is shared, so
 * the admin connection sees it), and when so, whether to_role exists. A
 * from_role that is gone owns nothing anywhere. */
static int
handover_needed(struct engine *e, const char *db, const char *from_role,
    const char *to_role, bool *needed, char *err, size_t errlen)
{
	const char *params[3] = { db, from_role, to_role };
	PGresult *res;
	int rc = ENGINE_OK;

	*needed = false;
	res = PQexecParams(e->conn, "SELECT EXISTS (SELECT 1 FROM pg_shdepend "
	    "s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 AND "
	    "s.refclassid = 'pg_authid'::regclass AND s.refobjid = f.oid), "
	    "EXISTS (SELECT 1 FROM pg_roles t WHERE t.rolname = $3) FROM "
	    "pg_roles f WHERE f.rolname = $2", 3, NULL, params, NULL, NULL,
	    0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = pg_classify(e, res, err, errlen);
	else if (PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		*needed = true;
		if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
			snprintf(err, errlen, "role %s does not exist",
			    to_role);
			rc = ENGINE_FAIL;
		}
	}
	PQclear(res);
	return rc;
}

/*
 * The hand-over, in db and in one transaction: REASSIGN OWNED gives
 * to_role what from_role owns there (schemas first, see above), the base's
 * default privileges become to_role's, DROP OWNED takes from from_role
 * whatever it was still granted there, and what those two commands did
 * outside the database is put back; then nothing in db may name from_role
 * any more (pg_shdepend), or nothing is done. Schema public needs nothing:
 * since PostgreSQL 15 pg_database_owner owns it, which is db's owner.
 *
 * db_clone hands a copy over to the member's own role at once, off the
 * claim's path, and the claim's rename makes that role the environment's:
 * at the claim, this finds nothing of the base's role left in db, in one
 * query on the admin connection. What a member copied otherwise still
 * holds is handed over here, then. bench/clone_strategies.py, median of
 * 9: the hand-over costs 71 ms for 60 tables and 311 ms for 600 (a
 * connection, and a change of owner per object); the check at the claim
 * 1.4 and 1.7 ms.
 */
int
pg_db_adopt(struct engine *e, const char *db, const char *from_role,
    const char *to_role, char *err, size_t errlen)
{
	struct engine d = { NULL, NULL, NULL };
	bool needed;
	int rc;

	if (!check_names(db, from_role, to_role, err, errlen))
		return ENGINE_FAIL;
	if (strcmp(from_role, to_role) == 0)
		return ENGINE_OK;
	if ((rc = handover_needed(e, db, from_role, to_role, &needed, err,
	    errlen)) != ENGINE_OK || !needed)
		return rc;
	if ((rc = connect_db(e, db, &d, err, errlen)) != ENGINE_OK)
		return rc;
	rc = adopt_in(&d, from_role, to_role, err, errlen);
	PQfinish(d.conn);
	return rc;
}
