"""The admin role's memberships on PostgreSQL stay the size of the pool,
not of the fleet (issue 26).

PostgreSQL lets only a member of a role rename or drop its database, give
a database to it or end its sessions; previewd used to grant every role it
made to its admin role for good, and PostgreSQL walks all of a role's
memberships again after every change to roles, so each claim and refill
cost more as environments lived on.  What an operator would check, through
the real daemon and signed webhooks:

  - after 30 pull requests are ready, the admin role is a member of no
    more roles than the pool holds (previewd now takes a membership in
    the transaction that needs it and gives it back before it commits);
  - their teardown still ends a connected session and drops every
    database and role;
  - memberships an older previewd left (one per environment and pool
    member) are given back when previewd starts, and those environments
    still tear down;
  - the orphan sweep still drops a database and role of previewd's whose
    role the admin is no member of (what a crash now leaves), and ends
    the role's session.
"""

import psycopg2

from previewd import pr_payload, wait_until

REPO = "acme/shop"
POOL = 3
PRS = 30


def admin_memberships(pg):
    """The roles the admin role is a member of, directly."""
    conn = pg.connect(user=pg.ADMIN)
    try:
        cur = conn.cursor()
        cur.execute("SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON "
                    "r.oid = m.roleid WHERE m.member = (SELECT oid FROM pg_roles "
                    "WHERE rolname = current_user) ORDER BY 1")
        return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def webhook(d, action, number):
    status, _, body = d.github_webhook("pull_request", pr_payload(action, number, repo=REPO))
    assert status == 202, body


def ready_env(d, number, wait=60):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment?wait=%d"
                              % (REPO, number, wait), token=d.ci_token)
    assert status == 200, body
    assert body["status"] == "ready", body
    return body


def status_of(d, number):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (REPO, number),
                              token=d.ci_token)
    assert status == 200, body
    return body["status"]


def all_deleted(d, numbers, timeout=120):
    wait_until(lambda: all(status_of(d, n) == "deleted" for n in numbers), timeout=timeout,
               what="pull requests %s to be deleted" % list(numbers))


def config(pg):
    return {"postgres": {"admin_url": pg.admin_url, "pool_size": str(POOL)},
            "repo:" + REPO: {"engine": "postgres", "ttl": "72h"}}


def test_admin_memberships_stay_the_size_of_the_pool(pg, previewd_factory):
    d = previewd_factory(config(pg))
    numbers = range(1, PRS + 1)
    envs = {}
    for n in numbers:
        webhook(d, "opened", n)
    for n in numbers:
        envs[n] = ready_env(d, n)
    assert len({e["database"] for e in envs.values()}) == PRS
    held = admin_memberships(pg)
    assert len(held) <= POOL, "the admin role is a member of %d roles: %s" % (len(held), held)
    assert not set(held) & {e["user"] for e in envs.values()}

    # Each environment is still its own role's, which logs in and writes.
    conn = psycopg2.connect(envs[1]["database_url"], connect_timeout=10)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")

    # Teardown ends the open session and drops every database and role.
    for n in numbers:
        webhook(d, "closed", n)
    all_deleted(d, numbers)
    left = set(pg.databases("pvd_")) | set(pg.roles("pvd_"))
    for e in envs.values():
        assert e["database"] not in left
        assert e["user"] not in left
    try:
        cur.execute("SELECT 1")
        cur.fetchall()
        raise AssertionError("the environment's session outlived its teardown")
    except Exception as e:        # psycopg2's OperationalError or the like
        assert "outlived" not in str(e)
    conn.close()
    held = admin_memberships(pg)
    assert len(held) <= POOL, held


def test_memberships_an_older_previewd_left_are_given_back(pg, previewd_factory):
    d = previewd_factory(config(pg))
    for n in (1, 2, 3):
        webhook(d, "opened", n)
    envs = {n: ready_env(d, n) for n in (1, 2, 3)}
    d.stop()

    # What an older previewd leaves: the admin a member of every role it
    # made, environments' and pool members' alike.
    mine = pg.roles("pvd_")
    conn = pg.connect(user=pg.ADMIN)
    cur = conn.cursor()
    cur.execute("GRANT %s TO CURRENT_USER" % ", ".join('"%s"' % r for r in mine))
    conn.close()
    assert set(admin_memberships(pg)) == set(mine)

    d.start()
    wait_until(lambda: "gave back %d memberships" % len(mine) in d.log(), timeout=30,
               what="the memberships to be given back")
    assert admin_memberships(pg) == []
    # The admin may still connect to (and so measure) the databases.
    conn = pg.connect(user=pg.ADMIN)
    cur = conn.cursor()
    cur.execute("SELECT bool_and(has_database_privilege(datname, 'CONNECT')) FROM "
                "pg_database WHERE datname = ANY(%s)",
                ([e["database"] for e in envs.values()],))
    assert cur.fetchone()[0] is True
    conn.close()

    webhook(d, "opened", 4)
    ready_env(d, 4)
    for n in (1, 2, 3, 4):
        webhook(d, "closed", n)
    all_deleted(d, (1, 2, 3, 4))
    left = set(pg.databases("pvd_")) | set(pg.roles("pvd_"))
    for e in envs.values():
        assert e["database"] not in left and e["user"] not in left
    assert len(admin_memberships(pg)) <= POOL


def test_sweep_drops_an_orphan_whose_role_the_admin_is_no_member_of(pg, previewd_factory):
    """What a crash between a claim and its bookkeeping leaves, as this
    previewd leaves it: a database owned by its role, the admin no member
    of that role, a session of the role connected."""
    role, password = "pvd_orphan_env", "orphan-password-1"
    conn = pg.connect(user=pg.ADMIN)
    cur = conn.cursor()
    cur.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, password))
    cur.execute("CREATE DATABASE %s TEMPLATE template0" % role)
    cur.execute("REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC" % role)
    cur.execute("BEGIN; GRANT %s TO CURRENT_USER; ALTER DATABASE %s OWNER TO %s; "
                "REVOKE %s FROM CURRENT_USER; COMMIT" % (role, role, role, role))
    conn.close()
    assert role not in admin_memberships(pg)
    session = pg.connect(role, user=role, password=password)

    cfg = config(pg)
    cfg["postgres"]["pool_size"] = "1"
    cfg["reaper"] = {"interval": "1s", "orphan_grace": "2s"}
    d = previewd_factory(cfg)
    wait_until(lambda: role not in pg.databases("pvd_") and role not in pg.roles("pvd_"),
               timeout=60, what="the orphan database and role to be dropped")
    assert "orphan database %s dropped" % role in d.log()
    try:
        session.cursor().execute("SELECT 1")
        raise AssertionError("the orphan's session outlived its database")
    except Exception as e:
        assert "outlived" not in str(e)
    session.close()
    assert role not in admin_memberships(pg)
