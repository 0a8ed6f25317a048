/*
 * postgres_roles: the admin role's memberships in previewd's roles —
 * taken inside the transaction that needs one and given back in it.
 *
 * PostgreSQL lets only a member of a role act as its owner: rename or
 * drop the role's database, give a database to it, REASSIGN or DROP
 * OWNED BY it, end its sessions. previewd used to grant every role it
 * made to the admin for good, and the admin's memberships grew with the
 * fleet. PostgreSQL 15 forgets the list of a role's memberships after
 * every change to any role or membership and walks it again at the next
 * privilege check, so each claim and each refill paid for every live
 * environment. bench/role_growth.py, PostgreSQL 15, fsync on, 2 shared
 * cores (load 3), the fleet's roles granted to the admin for good as
 * before (main's build) or not (this); milliseconds, median (p90) of 25
 * calls on a warm admin connection; "refill" is db_create once its
 * database exists (the CREATE DATABASE, ~100 ms, does not change):
 *
 *   live roles   claim: for good   given back   refill: for good   given back
 *           10       3.9 (8.9)     3.5 (8.6)      28.3 (44.2)     32.8 (59.4)
 *        1,000       8.8 (10.8)    2.2 (3.3)      25.6 (29.2)     18.6 (21.9)
 *        3,000      47.4 (51.4)    3.2 (6.9)      67.4 (84.4)     24.8 (35.0)
 *
 * (an earlier run: claims at 3,000 88.8 (117.7) for good, 2.2 (2.8) given
 * back). The GRANT and REVOKE a claim now makes cost nothing measurable
 * next to that: PostgreSQL walks the admin's few memberships.
 *
 * So a membership is now taken (GRANT ... TO CURRENT_USER) by the
 * transaction that needs it and given back (REVOKE) before its COMMIT: a
 * rollback or a crash leaves none behind, and at rest the admin is a
 * member of nothing previewd made but the roles of the bases that it has
 * copied since it started (postgres_clone.c: CREATE DATABASE cannot run
 * in a transaction, and there is one base per prewarmed repository).
 * The admin needs CONNECT on an environment's database without being a
 * member of its owner (sizes, a hand-over): the claim grants it.
 *
 * Memberships an older previewd left (one per environment, pool member
 * and base) are given back once, when previewd first connects: every
 * path here takes what it needs.
 */
#include "engines/postgres.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/names.h"

/* A role's or a database's name quoted into q (at most NAMES_MAX
 * characters, checked by names_valid: quoting adds two). */
static int
quote_name(struct engine *e, const char *name, char q[NAMES_SIZE + 2],
    char *err, size_t errlen)
{
	char *s;

	if (!names_valid(name)) {
		snprintf(err, errlen, "refusing to touch \"%s\": not a previewd "
		    "name", name);
		return ENGINE_FAIL;
	}
	if ((s = PQescapeIdentifier(e->conn, name, strlen(name))) == NULL) {
		str_first_line(err, PQerrorMessage(e->conn), errlen);
		return ENGINE_RETRY;
	}
	str_copy(q, s, NAMES_SIZE + 2);
	PQfreemem(s);
	return ENGINE_OK;
}

/* GRANT or REVOKE role to or from the admin. A GRANT that is there
 * already, or a REVOKE of one that is not, is a notice, not an error. */
static int
member_set(struct engine *e, const char *role, bool grant, char *err,
    size_t errlen)
{
	char q[NAMES_SIZE + 2], sql[128];
	int rc;

	if ((rc = quote_name(e, role, q, err, errlen)) != ENGINE_OK)
		return rc;
	if (str_printf(sql, sizeof(sql), grant ? "GRANT %s TO CURRENT_USER" :
	    "REVOKE %s FROM CURRENT_USER", q) != 0)
		return ENGINE_FAIL;
	return pg_exec(e, sql, 0, NULL, err, errlen);
}

/*
 * A role previewd made is a plain one (LOGIN or not, nothing more): the
 * admin never becomes a member of one that may create databases or
 * roles, replicate or bypass row security, whatever its name, so a role
 * an operator made with such powers is never previewd's to act as.
 * (Superusers' memberships CREATEROLE cannot grant at all.)
 */
int
pg_member_take(struct engine *e, const char *role, bool *granted, char *err,
    size_t errlen)
{
	const char *params[1] = { role };
	PGresult *res;
	int rc = ENGINE_OK;

	*granted = false;
	res = PQexecParams(e->conn, "SELECT pg_has_role(oid, 'USAGE'), "
	    "rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR "
	    "rolbypassrls FROM pg_roles WHERE rolname = $1", 1, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pg_classify(e, res, err, errlen);
	} else if (PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "f") == 0) {
		if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
			snprintf(err, errlen, "role %s has privileges previewd "
			    "never gives: the admin role will not act as it",
			    role);
			rc = ENGINE_FAIL;
		} else {
			*granted = true;
		}
	}
	PQclear(res);
	if (rc == ENGINE_OK && *granted &&
	    (rc = member_set(e, role, true, err, errlen)) != ENGINE_OK)
		*granted = false;
	return rc;
}

int
pg_member_give_back(struct engine *e, const char *role, char *err,
    size_t errlen)
{
	return member_set(e, role, false, err, errlen);
}

int
pg_tx_end(struct engine *e, int rc, char *err, size_t errlen)
{
	if (rc == ENGINE_OK)
		return pg_exec(e, "COMMIT", 0, NULL, err, errlen);
	if (e->conn != NULL && PQtransactionStatus(e->conn) != PQTRANS_IDLE)
		PQclear(PQexec(e->conn, "ROLLBACK"));
	return rc;
}

/* What pg_release took, to give back. */
struct taken {
	char role[3][NAMES_SIZE];
	size_t n;
};

static bool
taken_has(const struct taken *t, const char *role)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->role[i], role) == 0)
			return true;
	return false;
}

/* Membership in db's owner, when db exists and the owner is one of
 * previewd's roles (a stranger's database stays the stranger's: its drop
 * fails as it always did); *mine says whether the admin may then act as
 * the owner. */
static int
owner_take(struct engine *e, const char *db, struct taken *t, bool *mine,
    char *err, size_t errlen)
{
	const char *params[1] = { db };
	char owner[NAMES_SIZE];
	bool granted, usage;
	PGresult *res;
	int rc = ENGINE_OK;

	*mine = false;
	res = PQexecParams(e->conn, "SELECT r.rolname, pg_has_role(r.oid, "
	    "'USAGE') FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
	    "WHERE d.datname = $1", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = pg_classify(e, res, err, errlen);
		PQclear(res);
		return rc;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ENGINE_OK;
	}
	str_copy(owner, PQgetvalue(res, 0, 0), sizeof(owner));
	usage = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (usage || !names_valid(owner)) {
		*mine = usage;
		return ENGINE_OK;
	}
	if ((rc = pg_member_take(e, owner, &granted, err, errlen)) != ENGINE_OK)
		return rc;
	if (granted && !taken_has(t, owner) && t->n < ARRAY_SIZE(t->role))
		str_copy(t->role[t->n++], owner, NAMES_SIZE);
	*mine = true;
	return ENGINE_OK;
}

/* pg_release's work, inside its transaction. */
static int
release_in(struct engine *e, const char *role, bool nologin,
    const char *const *dbs, size_t ndbs, struct taken *t, char *err,
    size_t errlen)
{
	const char *params[3] = { role ? role : "", ndbs > 0 ? dbs[0] : "",
	    ndbs > 1 ? dbs[1] : "" };
	bool mine[2] = { false, false }, granted;
	char q[NAMES_SIZE + 2], qdb[NAMES_SIZE + 2], sql[128];
	size_t i;
	int rc;

	if (ndbs > ARRAY_SIZE(mine)) {
		str_copy(err, "too many databases to release at once", errlen);
		return ENGINE_FAIL;
	}
	if (role != NULL) {
		/* Given back at the end whether it was a member or not: the
		 * role is going, and an older previewd's membership with it. */
		if ((rc = pg_member_take(e, role, &granted, err,
		    errlen)) != ENGINE_OK)
			return rc;
		str_copy(t->role[t->n++], role, NAMES_SIZE);
		/* No new sessions between their end here and the drop. */
		if (nologin) {
			if ((rc = quote_name(e, role, q, err, errlen)) !=
			    ENGINE_OK)
				return rc;
			if (str_printf(sql, sizeof(sql), "ALTER ROLE %s WITH "
			    "NOLOGIN", q) != 0)
				return ENGINE_FAIL;
			if ((rc = pg_exec(e, sql, 0, NULL, err, errlen)) !=
			    ENGINE_OK)
				return rc;
		}
	}
	for (i = 0; i < ndbs; i++)
		if ((rc = owner_take(e, dbs[i], t, &mine[i], err,
		    errlen)) != ENGINE_OK)
			return rc;
	/* Everyone's the admin may end: the role's, anywhere, and the
	 * databases' owners'. Autovacuum's workers have no user: the drop
	 * ends them itself. */
	if ((rc = pg_exec(e, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE (usename = $1 OR datname IN ($2, $3)) AND "
	    "usesysid IS NOT NULL AND pid <> pg_backend_pid() AND "
	    "pg_has_role(usesysid, 'USAGE')", 3, params, err,
	    errlen)) != ENGINE_OK)
		return rc;
	/* The databases become the admin's, which can then drop them with
	 * no membership at all; and the old owner loses CONNECT with them
	 * (its privileges were the owner's), so nobody reconnects. */
	for (i = 0; i < ndbs; i++) {
		if (!mine[i])
			continue;
		if ((rc = quote_name(e, dbs[i], qdb, err, errlen)) != ENGINE_OK)
			return rc;
		if (str_printf(sql, sizeof(sql), "ALTER DATABASE %s OWNER TO "
		    "CURRENT_USER", qdb) != 0)
			return ENGINE_FAIL;
		if ((rc = pg_exec(e, sql, 0, NULL, err, errlen)) != ENGINE_OK)
			return rc;
	}
	for (i = 0; i < t->n; i++)
		if ((rc = pg_member_give_back(e, t->role[i], err,
		    errlen)) != ENGINE_OK)
			return rc;
	return ENGINE_OK;
}

int
pg_release(struct engine *e, const char *role, bool nologin,
    const char *const *dbs, size_t ndbs, char *err, size_t errlen)
{
	struct taken t;
	int rc;

	memset(&t, 0, sizeof(t));
	if ((rc = pg_exec(e, "BEGIN", 0, NULL, err, errlen)) != ENGINE_OK)
		return rc;
	rc = release_in(e, role, nologin, dbs, ndbs, &t, err, errlen);
	return pg_tx_end(e, rc, err, errlen);
}

/* Memberships given back by one statement, at most this many names. */
#define TIDY_BATCH 500

/* One batch of tidy: the roles, and the databases they own. */
static const char tidy_sql[] =
    "WITH r AS (SELECT r.oid, r.rolname FROM pg_auth_members m JOIN "
    "pg_roles r ON r.oid = m.roleid WHERE m.member = (SELECT oid FROM "
    "pg_roles WHERE rolname = current_user) AND r.rolname LIKE 'pvd\\_%' "
    "LIMIT $1::int) "
    "SELECT (SELECT count(*) FROM r), (SELECT string_agg(quote_ident("
    "rolname), ', ') FROM r), (SELECT string_agg(quote_ident(datname), "
    "', ') FROM pg_database WHERE datdba IN (SELECT oid FROM r))";

/* One batch, in one transaction: CONNECT on dbs (NULL: none), then the
 * memberships in roles given back. */
static int
tidy_batch(struct engine *e, struct buf *sql, const char *roles,
    const char *dbs, char *err, size_t errlen)
{
	int rc;

	if ((rc = pg_exec(e, "BEGIN", 0, NULL, err, errlen)) != ENGINE_OK)
		return rc;
	rc = ENGINE_FAIL;
	buf_reset(sql);
	if (dbs != NULL && buf_printf(sql, "GRANT CONNECT ON DATABASE %s TO "
	    "CURRENT_USER;", dbs) != 0)
		goto out;
	if (buf_printf(sql, "REVOKE %s FROM CURRENT_USER", roles) != 0)
		goto out;
	/* Two statements, one PQexec: no parameters. */
	rc = pg_script(e, sql->data, err, errlen);
out:
	if (rc == ENGINE_FAIL && err[0] == '\0')
		str_copy(err, "statement too long", errlen);
	return pg_tx_end(e, rc, err, errlen);
}

/* Give back every membership in previewd's roles an older previewd left
 * (or a crash in the middle of a base's copy), after granting the admin
 * CONNECT on those roles' databases, as the claim now does: one
 * transaction and one REVOKE per batch, so that PostgreSQL walks the
 * admin's memberships once a batch, not once a role. */
static int
tidy(struct engine *e, long *n, char *err, size_t errlen)
{
	char limit[16];
	const char *params[1] = { limit };
	struct buf sql;
	PGresult *res = NULL;
	int rc = ENGINE_OK, round;

	*n = 0;
	err[0] = '\0';
	snprintf(limit, sizeof(limit), "%d", TIDY_BATCH);
	buf_init(&sql, 2 * (NAMES_SIZE + 4) * TIDY_BATCH + 128);
	for (round = 0; rc == ENGINE_OK && round < 1000; round++) {
		PQclear(res);
		res = PQexecParams(e->conn, tidy_sql, 1, NULL, params, NULL,
		    NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = pg_classify(e, res, err, errlen);
			break;
		}
		if (PQgetisnull(res, 0, 1))
			break;
		rc = tidy_batch(e, &sql, PQgetvalue(res, 0, 1),
		    PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2), err,
		    errlen);
		if (rc == ENGINE_OK)
			*n += strtol(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	buf_release(&sql);
	return rc;
}

void
pg_tidy_once(struct engine *e)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static bool done;
	char err[512];
	long n;

	/* Every connection waits here until the first has tidied, so no
	 * other path of this process takes a membership meanwhile; once
	 * only, tried or not, so none is taken away later under a copy. */
	pthread_mutex_lock(&lock);
	if (!done) {
		done = true;
		if (tidy(e, &n, err, sizeof(err)) != ENGINE_OK)
			log_warnx("postgres: cannot give back the admin role's "
			    "memberships in previewd's roles: %s", err);
		else if (n > 0)
			log_info("postgres: the admin role gave back %ld "
			    "memberships in previewd's roles (an older "
			    "previewd took them for good)", n);
	}
	pthread_mutex_unlock(&lock);
}

int
pg_role_limit(struct engine *e, const char *role, int limit, char *err,
    size_t errlen)
{
	char sql[256], q[NAMES_SIZE + 2];
	int rc;

	if ((rc = quote_name(e, role, q, err, errlen)) != ENGINE_OK)
		return rc;
	if (str_printf(sql, sizeof(sql), "ALTER ROLE %s CONNECTION LIMIT %d",
	    q, limit) != 0)
		return ENGINE_FAIL;
	return pg_exec(e, sql, 0, NULL, err, errlen);
}
