#!/usr/bin/python3
"""What a claim and a pool refill cost as the fleet grows (issue 26).

    make all build/tests/clone_driver
    /usr/bin/python3 bench/role_growth.py [--sizes 10,1000,3000] [--runs 15]
        [--engines postgres,mysql]
        [--before build-main/tests/clone_driver] [--after build/tests/clone_driver]

PostgreSQL re-reads a role's memberships after every change to roles or
memberships, and a privilege check walks them all: an admin role that is
a member of every live environment's role pays for the whole fleet in
each claim and each refill.  For each case this starts a throwaway
PostgreSQL (tests/integration/servers.py), grows a fleet of live
environments' roles to each size in turn, and times, `--rounds` rounds of
`--runs` calls at each size, the two calls of previewd's engine that run
on the claim's and the refill's path, through build/tests/clone_driver
(one admin connection a round, warmed by a first pair of calls, as the
daemon's long-lived one; "ms" is the call alone).  The cases take turns,
round by round, so that a busy moment of the machine falls on both:

  create   engine_db_create: a pool member (database and its NOLOGIN role)
  claim    engine_claim of that member: renames, LOGIN, owner (one
           transaction)
  drop     engine_drop of that environment (teardown; DROP DATABASE's
           own cost, fsync on, is most of it)

The cases:

  before   --before's driver (a build of main: every role it makes is
           granted to the admin), the fleet's roles granted to the admin
           as main's claims leave them
  after    --after's driver, the fleet's roles not granted (what this
           branch's claims leave)

The fleet is made in SQL as the admin, cheaply: N login roles (without
databases: a database adds a row to pg_database, which no role check
reads), and in "before" one GRANT of them all to the admin.  The
admin's count of memberships is printed at each size.

On MariaDB (--engines mysql) there are no memberships; the fleet is N
users, each with its database grant (mysql.global_priv and mysql.db rows,
as a claim leaves them), and the same create and claim are timed at each
size with --after's driver, with the admin's own grants counted, and the
claim's and the teardown's statements (CREATE USER, GRANT, DROP USER) one
by one as the admin.

Each case prints a table: size, call, median, 90th percentile, min, max
(milliseconds).  Nothing is written outside the servers' temporary
directories.
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from servers import MariaDBServer, PostgresServer, pg_bindir  # noqa: E402

BATCH = 500     # roles per GRANT statement when the fleet grows


def drive(driver, engine, server, lines, password=None):
    """Each call in lines ("ACTION NAME..."), made one after the other on
    one admin connection, as the daemon's long-lived one; their times in
    ms."""
    env = dict(os.environ, PREVIEWD_ADMIN_URL=server.admin_url)
    env.pop("PREVIEWD_PASSWORD", None)
    env.pop("PREVIEWD_TWICE", None)
    if password is not None:
        env["PREVIEWD_PASSWORD"] = password
    r = subprocess.run([driver, engine, "-"], env=env, text=True, input="\n".join(lines),
                       capture_output=True, timeout=3600)
    if r.returncode != 0:
        raise RuntimeError("clone_driver: %s" % r.stderr.strip())
    outs = [json.loads(x) for x in r.stdout.splitlines()]
    for line, out in zip(lines, outs):
        if out["rc"] != "ok":
            raise RuntimeError("clone_driver %s: %s: %s" % (line, out["rc"], out["error"]))
    if len(outs) != len(lines):
        raise RuntimeError("clone_driver: %d answers to %d calls" % (len(outs), len(lines)))
    return [out["ms"] for out in outs]


def name(kind):
    return "pvd_%s_%s" % (kind, secrets.token_hex(6))


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))]


def pg_memberships(cur):
    cur.execute("SELECT count(*) FROM pg_auth_members WHERE member = "
                "(SELECT oid FROM pg_roles WHERE rolname = current_user)")
    return cur.fetchone()[0]


def pg_grow(cur, have, want, granted):
    """Fleet roles have..want-1, made by the admin; granted to it too in
    the "before" case."""
    for lo in range(have, want, BATCH):
        hi = min(want, lo + BATCH)
        cur.execute("DO $$ BEGIN FOR i IN %d..%d LOOP EXECUTE "
                    "format('CREATE ROLE %%I LOGIN', 'pvd_fleet_' || i); "
                    "END LOOP; END $$" % (lo, hi - 1))
        if granted:
            cur.execute("SELECT string_agg(quote_ident('pvd_fleet_' || i), ', ') "
                        "FROM generate_series(%s, %s) i", (lo, hi - 1))
            cur.execute("GRANT %s TO CURRENT_USER" % cur.fetchone()[0])


def pg_round(driver, pg, cur, runs):
    """runs claims, each of a member refilled just before, on one admin
    connection after a first pair that warms its caches; then their
    teardowns. {call: [ms]}"""
    pools = [name("pool") for _ in range(runs + 1)]
    envs = [name("env") for _ in range(runs + 1)]
    # The refill's CREATE DATABASE (fsync, a hundred ms and more, the
    # same at any size) is made beforehand: create then finds the
    # database and times the role's part of the refill.
    for p in pools:
        cur.execute("CREATE DATABASE %s TEMPLATE template0" % p)
    lines = []
    for p, e in zip(pools, envs):
        lines += ["create %s" % p, "claim %s %s %s" % (p, e, e)]
    ms = drive(driver, "postgres", pg, lines, password=secrets.token_urlsafe(24))
    t = {"create": ms[2::2], "claim": ms[3::2]}
    t["held"] = pg_memberships(cur)
    t["drop"] = drive(driver, "postgres", pg, ["drop %s - %s" % (e, e) for e in envs])[1:]
    return t


def bench_pg(cases, sizes, runs, rounds, results):
    """cases: [(name, driver, granted)], each on a server of its own,
    measured in turns (rounds of runs calls) so that a busy moment of the
    machine falls on every case alike."""
    servers = [PostgresServer() for _ in cases]
    try:
        for pg in servers:
            pg.start()
        curs = [pg.connect(user=pg.ADMIN).cursor() for pg in servers]
        have = 0
        for n in sizes:
            t = [{"create": [], "claim": [], "drop": []} for _ in cases]
            held = [0 for _ in cases]
            for k, (case, driver, granted) in enumerate(cases):
                pg_grow(curs[k], have, n, granted)
            for r in range(rounds):
                for k, (case, driver, granted) in enumerate(cases):
                    got = pg_round(driver, servers[k], curs[k], runs)
                    held[k] = max(held[k], got.pop("held"))
                    for call in got:
                        t[k][call] += got[call]
            have = n
            for k, (case, driver, granted) in enumerate(cases):
                print("  %s: %d live roles, the admin's memberships after the claims: "
                      "%d, after their teardown: %d" % (case, n, held[k],
                                                        pg_memberships(curs[k])), flush=True)
                for call in ("create", "claim", "drop"):
                    results.append(("postgres", case, n, call, t[k][call]))
    finally:
        for pg in servers:
            pg.stop()


def my_grow(cur, have, want):
    for i in range(have, want):
        u = "pvd_fleet_%d" % i
        cur.execute("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'" % (u, secrets.token_hex(16)))
        cur.execute("GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%%'"
                    % (u.replace("_", "\\_"), u))


def my_counts(cur):
    cur.execute("SELECT (SELECT count(*) FROM mysql.global_priv), "
                "(SELECT count(*) FROM mysql.db)")
    users, dbs = cur.fetchone()
    cur.execute("SHOW GRANTS FOR 'previewd'@'%'")
    return users, dbs, len(cur.fetchall())


def bench_my(driver, sizes, runs, results):
    with MariaDBServer(db_prefix="pvd_") as my:
        root = my.connect()
        cur = root.cursor()
        have = 0
        for n in sizes:
            my_grow(cur, have, n)
            have = n
            dbs = [name("pool") for _ in range(runs + 1)]
            roles = [name("env") for _ in range(runs + 1)]
            lines = []
            # MySQL keeps the pool member's name (keeps_pool_name).
            for db, role in zip(dbs, roles):
                lines += ["create %s" % db, "claim %s %s %s" % (db, db, role)]
            ms = drive(driver, "mysql", my, lines, password=secrets.token_urlsafe(24))
            t = {"create": ms[2::2], "claim": ms[3::2]}
            users, ndb, grants = my_counts(cur)
            t["drop"] = drive(driver, "mysql", my, ["drop %s - %s" % (db, role)
                                                   for db, role in zip(dbs, roles)])[1:]
            # The claim's two statements and the teardown's, one by one,
            # as the admin, on one connection.
            adm = my.connect(user=my.ADMIN)
            acur = adm.cursor()
            for call in ("CREATE USER", "GRANT", "DROP USER"):
                t[call] = []
            for _ in range(runs):
                u = name("env")
                for call, sql in (("CREATE USER", "CREATE USER '%s'@'%%%%' IDENTIFIED BY '%s'"
                                   % (u, secrets.token_hex(16))),
                                  ("GRANT", "GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%%%%'"
                                   % (u.replace("_", "\\_"), u)),
                                  ("DROP USER", "DROP USER '%s'@'%%%%'" % u)):
                    t0 = time.monotonic()
                    acur.execute(sql)
                    t[call].append((time.monotonic() - t0) * 1000.0)
            adm.close()
            print("  mariadb: %d live users (global_priv %d rows, mysql.db %d), the "
                  "admin's grants: %d" % (n, users, ndb, grants), flush=True)
            for call in ("create", "claim", "drop", "CREATE USER", "GRANT", "DROP USER"):
                results.append(("mariadb", "", n, call, t[call]))
        root.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10,1000,3000")
    ap.add_argument("--runs", type=int, default=5, help="calls a round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds a size and case")
    ap.add_argument("--engines", default="postgres,mysql")
    ap.add_argument("--before", default=str(ROOT / "build-main" / "tests" / "clone_driver"),
                    help="clone_driver built from main (skipped when missing)")
    ap.add_argument("--after", default=str(ROOT / "build" / "tests" / "clone_driver"))
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    engines = args.engines.split(",")
    results = []
    if "postgres" in engines:
        print("PostgreSQL %s" % os.path.basename(os.path.dirname(pg_bindir())), flush=True)
        cases = []
        if os.access(args.before, os.X_OK):
            cases.append(("before", args.before, True))
        else:
            print("  no %s: no before case" % args.before)
        cases.append(("after", args.after, False))
        bench_pg(cases, sizes, args.runs, args.rounds, results)
    if "mysql" in engines:
        print("MariaDB", flush=True)
        bench_my(args.after, sizes, args.runs * args.rounds, results)
    print("\n%-9s %-7s %6s %-11s %8s %8s %8s %8s  %s" % (
        "engine", "case", "live", "call", "p50 ms", "p90 ms", "min", "max", "runs"))
    for engine, case, n, call, t in results:
        print("%-9s %-7s %6d %-11s %8.2f %8.2f %8.2f %8.2f  %d" % (
            engine, case, n, call, statistics.median(t), pct(t, 90), min(t), max(t),
            len(t)))


if __name__ == "__main__":
    main()
