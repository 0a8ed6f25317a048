#!/usr/bin/python3
"""What a large fleet costs: claims, the admin page and the list API at
growing numbers of live environments (issue 26, "Speed").

    make
    /usr/bin/python3 bench/fleet.py --binary build/previewd
                                    [--sizes 10,1000,3000] [--samples 30]
                                    [--pool-size 8] [--batch 250] [--senders 8]
                                    [--strategy-runs 9] [--keep]

Starts a throwaway PostgreSQL (tests/integration/servers.py, fsync on) and
the real previewd ([server] workers 2, max_environments 0, [postgres]
pool_size 8, one repository acme/shop without migrations).  In one run it
grows the number of live `ready` environments through signed GitHub
"opened" webhooks to each of --sizes in turn, and at each size, on a quiet
daemon (pool full, no job queued), measures:

  - webhook -> ready p50 and p99 over --samples new pull requests, each
    measured as bench.py's post_and_wait does (signed webhook, then the
    environment's long poll on the same connection), then closed, and its
    teardown waited for, so the fleet stays at the size;
  - the claim job: "database ... claimed (new, N ms in this run)" from
    previewd's log, p50 over the same samples;
  - the admin page's first page (GET /, HTTP Basic with admin_token) and
    the list API's first page (GET /api/v1/environments, admin token):
    p50 over 20 requests each, and the size of the answer;
  - previewd's VmRSS after 16 concurrent list calls.

Then prints one table: each figure at each size and the ratio of the
largest size to the smallest (the issue's target: at most 1.3x for the
latencies).  Also: disk per environment (pg_database_size and the files
in its directory of one environment database) and CREATE DATABASE with
STRATEGY WAL_LOG / FILE_COPY from template0 / template1, timed on an
admin connection.

Exit status: 0 when every request did what it should (a missed target is
printed, nothing more), 1 when something broke (a request failed or
answered the wrong status, an environment failed, a wait timed out, the
daemon crashed or exited non-zero), 2 on bad usage or when the sizes would
not fit on the disk.
"""

import argparse
import base64
import concurrent.futures
import contextlib
import http.client
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (bench/bench.py: it puts tests/integration on sys.path)
from bench import (BenchFailure, LogReader, Quiescence, drv, latency_config,  # noqa: E402
                   percentile, post_and_wait)

REPO = bench.REPO
SAMPLE_BASE = 100000            # sample pull requests: 100000 + 1000 * size index + i
EST_DB_BYTES = 8 * 1024 * 1024  # an empty database on disk, with filesystem slack
DISK_MARGIN = 3 * 1024 ** 3     # WAL (max_wal_size 1 GB), logs, the state file
HTTP_REPEATS = 20
CONCURRENT_LISTS = 16
TARGET_RATIO = 1.3
CLAIM_LINE = re.compile(r"database (\S+) claimed \(new, (\d+) ms in this run\)")


def say(msg):
    print("fleet: " + msg, flush=True)


def fmt_bytes(n):
    if n is None:
        return "-"
    if n >= 1024 * 1024:
        return "%.2f MiB" % (n / 1024 / 1024)
    if n >= 1024:
        return "%.1f KiB" % (n / 1024)
    return "%d B" % n


def gib(n):
    return "%.1f GiB" % (n / 1024 ** 3)


# --------------------------------------------------------------------------
# The state file, read-only (WAL: never blocks the daemon)
# --------------------------------------------------------------------------

class State:
    def __init__(self, path):
        self.path = path
        self.db = None

    def _conn(self):
        if self.db is None:
            self.db = sqlite3.connect("file:%s?mode=ro" % self.path, uri=True, timeout=5,
                                      isolation_level=None)
        return self.db

    def fleet(self):
        """{status: count} of the fleet's pull requests (not the samples)."""
        rows = self._conn().execute(
            "SELECT status, count(*) FROM environments WHERE repo = ? AND number < ? "
            "GROUP BY status", (REPO, SAMPLE_BASE)).fetchall()
        return dict(rows)

    def status(self, number):
        row = self._conn().execute(
            "SELECT status FROM environments WHERE repo = ? AND number = ?",
            (REPO, number)).fetchone()
        return row[0] if row else None

    def db_name(self, number):
        row = self._conn().execute(
            "SELECT db_name FROM environments WHERE repo = ? AND number = ?",
            (REPO, number)).fetchone()
        return row[0] if row else None

    def live(self):
        return self._conn().execute(
            "SELECT count(*) FROM environments WHERE status <> 'deleted'").fetchone()[0]

    def close(self):
        if self.db is not None:
            with contextlib.suppress(Exception):
                self.db.close()


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

def webhook(d, action, number):
    """A signed pull_request webhook on a new connection, as GitHub sends it."""
    status, _, body = d.github_webhook("pull_request", drv.pr_payload(action, number))
    if status != 202:
        raise BenchFailure("%s webhook for PR %d answered %d %r"
                           % (action, number, status, body[:300]))
    return json.loads(body)


def timed_gets(d, path, headers, count):
    """count GETs of path on one keep-alive connection (opened before the
    clock): [ms], size of the last body.  Anything but 200 is a failure."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    conn.connect()
    times, size = [], None
    try:
        for _ in range(count):
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            times.append((time.perf_counter() - start) * 1000)
            if r.status != 200:
                raise BenchFailure("GET %s answered %d %r" % (path, r.status, body[:300]))
            size = len(body)
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn.connect()
    finally:
        conn.close()
    return times, size


def vmrss(pid):
    return bench.status_bytes(bench.proc_status(pid), "VmRSS")


def concurrent_lists(d, headers):
    """16 list calls at once (each on its own connection, released by one
    barrier); VmRSS before and after."""
    before = vmrss(d.proc.pid)
    barrier = threading.Barrier(CONCURRENT_LISTS)
    errors = []

    def one():
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
        try:
            conn.connect()
            barrier.wait(timeout=30)
            conn.request("GET", "/api/v1/environments", headers=headers)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                errors.append("GET /api/v1/environments answered %d %r"
                              % (r.status, body[:200]))
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            conn.close()

    threads = [threading.Thread(target=one) for _ in range(CONCURRENT_LISTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise BenchFailure("concurrent list calls: " + errors[0])
    return before, vmrss(d.proc.pid)


# --------------------------------------------------------------------------
# Growing the fleet
# --------------------------------------------------------------------------

def wait_fleet(state, want, timeout, what):
    """Until want fleet environments are ready; a failed one is a failure."""
    def ready():
        st = state.fleet()
        if st.get("failed"):
            raise BenchFailure("%d environment(s) failed while %s" % (st["failed"], what))
        return st.get("ready", 0) >= want
    drv.wait_until(ready, timeout=timeout, interval=0.2, what=what)


def grow(d, state, have, want, args):
    """Open pull requests have+1 .. want in batches of --batch, sent by
    --senders threads; wait for each batch to be ready."""
    t_all = time.monotonic()
    n = have
    with concurrent.futures.ThreadPoolExecutor(args.senders) as pool:
        while n < want:
            hi = min(want, n + args.batch)
            t0 = time.monotonic()
            list(pool.map(lambda k: webhook(d, "opened", k), range(n + 1, hi + 1)))
            sent = time.monotonic() - t0
            wait_fleet(state, hi, 120 + 2.0 * (hi - n),
                       "environments %d..%d to be ready" % (n + 1, hi))
            took = time.monotonic() - t0
            say("grow: %d/%d ready, +%d in %.1f s (sent in %.1f s; %.0f ms per environment); "
                "free disk %s" % (hi, want, hi - n, took, sent, took * 1000 / (hi - n),
                                  gib(shutil.disk_usage(tempfile.gettempdir()).free)))
            n = hi
    if want > have:
        say("grow: %d -> %d live environments in %.1f s" % (have, want, time.monotonic() - t_all))


# --------------------------------------------------------------------------
# Measuring at one size
# --------------------------------------------------------------------------

def measure(b, d, q, state, log, size, index, args):
    out = {}
    sc = SimpleNamespace(name="fleet-%d" % size, params={})
    totals, claims, cold = [], [], 0
    phases = {"refill": [], "close": [], "quiet": []}
    q.wait("a quiet daemon at %d environments" % size)
    log.new_lines()
    meter = b.cpu_meter(d.proc.pid)
    meter.start()
    t0 = time.monotonic()
    for i in range(args.samples):
        number = SAMPLE_BASE + 1000 * index + i
        _post_ms, total_ms, env_id, doc = post_and_wait(sc, d, number)
        totals.append(total_ms)
        t1 = time.monotonic()
        q.wait("the pool to refill after PR %d" % number)
        phases["refill"].append(time.monotonic() - t1)
        dbname = doc.get("database", "")
        found = None
        for _ts, _lvl, msg in log.new_lines():
            if msg.startswith("pool for ") and " cold" in msg and (
                    env_id in msg or dbname in msg):
                cold += 1
            m = CLAIM_LINE.search(msg)
            if m and (m.group(1) == dbname or env_id in msg):
                found = int(m.group(2))
        if found is not None:
            claims.append(found)
        t1 = time.monotonic()
        webhook(d, "closed", number)
        drv.wait_until(lambda: state.status(number) == "deleted", timeout=120,
                       interval=0.02, what="PR %d's environment to be deleted" % number)
        t2 = time.monotonic()
        q.wait("a quiet daemon after closing PR %d" % number)
        phases["close"].append(t2 - t1)
        phases["quiet"].append(time.monotonic() - t2)
    say("size %d: %d samples in %.1f s; per sample (median / max): pool refilled %.2f / "
        "%.2f s after ready, closed and deleted in %.2f / %.2f s, then quiet in %.2f / %.2f s"
        % ((size, args.samples, time.monotonic() - t0) +
           tuple(f(phases[k]) for k in ("refill", "close", "quiet")
                 for f in (lambda v: percentile(v, 50), max))))
    out["cpu"] = meter.stop()
    bench.check_noise(b, "samples at %d" % size, out["cpu"])
    if cold:
        say("note: %d sample(s) at %d were created cold, not from the pool" % (cold, size))
    if len(claims) < len(totals):
        say("note: %d sample(s) at %d had no 'claimed (new, N ms in this run)' log line"
            % (len(totals) - len(claims), size))
    out["ready_p50"] = percentile(totals, 50)
    out["ready_p99"] = percentile(totals, 99)
    out["claim_p50"] = percentile(claims, 50) if claims else None
    out["cold"] = cold

    q.wait("a quiet daemon before the pages at %d" % size)
    basic = base64.b64encode(("bench:" + d.admin_token).encode()).decode()
    t, out["admin_bytes"] = timed_gets(d, "/", {"Authorization": "Basic " + basic},
                                       HTTP_REPEATS)
    out["admin_p50"] = percentile(t, 50)
    bearer = {"Authorization": "Bearer " + d.admin_token}
    t, out["list_bytes"] = timed_gets(d, "/api/v1/environments", bearer, HTTP_REPEATS)
    out["list_p50"] = percentile(t, 50)
    if args.fixed_limit:
        # Pages of the same length at every size: what grows with the
        # fleet, not with a first page still filling up to 100 rows.
        t, out["admin_fixed_bytes"] = timed_gets(d, "/?limit=%d" % args.fixed_limit, {
            "Authorization": "Basic " + basic}, HTTP_REPEATS)
        out["admin_fixed_p50"] = percentile(t, 50)
        t, out["list_fixed_bytes"] = timed_gets(
            d, "/api/v1/environments?limit=%d" % args.fixed_limit, bearer, HTTP_REPEATS)
        out["list_fixed_p50"] = percentile(t, 50)
    out["rss_before"], out["rss"] = concurrent_lists(d, bearer)
    out["live"] = state.live()
    say("size %d: webhook->ready p50 %s p99 %s, claim p50 %s, admin page %s (%s), "
        "list %s (%s), VmRSS %s -> %s after %d concurrent lists; %d live environments"
        % (size, bench.fmt_ms(out["ready_p50"]), bench.fmt_ms(out["ready_p99"]),
           bench.fmt_ms(out["claim_p50"]), bench.fmt_ms(out["admin_p50"]),
           fmt_bytes(out["admin_bytes"]), bench.fmt_ms(out["list_p50"]),
           fmt_bytes(out["list_bytes"]), fmt_bytes(out["rss_before"]),
           fmt_bytes(out["rss"]), CONCURRENT_LISTS, out["live"]))
    return out


# --------------------------------------------------------------------------
# Disk per environment and CREATE DATABASE
# --------------------------------------------------------------------------

def disk_per_env(pg, dbname):
    """(pg_database_size, files in its directory) of one database, asked of
    the server as its superuser (pg_ls_dir of base/OID in the data dir)."""
    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT oid, pg_database_size(oid) FROM pg_database "
                        "WHERE datname = %s", (dbname,))
            oid, size = cur.fetchone()
            cur.execute("SELECT count(*) FROM pg_ls_dir(%s)", ("base/%d" % oid,))
            files = cur.fetchone()[0]
            cur.execute("SELECT pg_relation_filepath('pg_class')")
            example = cur.fetchone()[0]
    finally:
        conn.close()
    return size, files, example


def disk_all(pg):
    """(databases, sum of pg_database_size) over the whole cluster."""
    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), sum(pg_database_size(oid)) FROM pg_database")
            count, total = cur.fetchone()
    finally:
        conn.close()
    return count, int(total)


def create_strategies(pg, runs):
    """CREATE DATABASE ... TEMPLATE t STRATEGY s on one admin connection
    (previewd's role), each way runs times, the order rotated each round;
    each copy dropped (untimed) before the next.  {(template, strategy): [ms]}."""
    ways = [(t, s) for t in ("template0", "template1") for s in ("WAL_LOG", "FILE_COPY")]
    times = {w: [] for w in ways}
    conn = pg.connect(user=pg.ADMIN)
    try:
        cur = conn.cursor()
        for i in range(runs):
            for k in range(len(ways)):
                tmpl, strategy = ways[(i + k) % len(ways)]
                name = "fleetbench_%d_%d" % (i, k)
                start = time.perf_counter()
                cur.execute('CREATE DATABASE "%s" TEMPLATE %s STRATEGY %s'
                            % (name, tmpl, strategy))
                times[(tmpl, strategy)].append((time.perf_counter() - start) * 1000)
                cur.execute('DROP DATABASE "%s"' % name)
    finally:
        conn.close()
    return times


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

DEFAULT_PAGE = 100              # environments on a first page, admin page and list API


def rows(fixed):
    """(key, label, format, target): target True when the 1.3x target
    applies, a string when it is left out and why."""
    page = True if not fixed else "page of %d vs %d rows" % (fixed, DEFAULT_PAGE)
    out = [
        ("ready_p50", "webhook -> ready p50", bench.fmt_ms, True),
        ("ready_p99", "webhook -> ready p99", bench.fmt_ms, True),
        ("claim_p50", "claim job p50 (log)", bench.fmt_ms, True),
        ("admin_p50", "admin page, first page p50", bench.fmt_ms, page),
        ("admin_bytes", "admin page, first page bytes", fmt_bytes, False),
        ("list_p50", "list API, first page p50", bench.fmt_ms, page),
        ("list_bytes", "list API, first page bytes", fmt_bytes, False),
    ]
    if fixed:
        out += [
            ("admin_fixed_p50", "admin page, ?limit=%d p50" % fixed, bench.fmt_ms, True),
            ("admin_fixed_bytes", "admin page, ?limit=%d bytes" % fixed, fmt_bytes, False),
            ("list_fixed_p50", "list API, ?limit=%d p50" % fixed, bench.fmt_ms, True),
            ("list_fixed_bytes", "list API, ?limit=%d bytes" % fixed, fmt_bytes, False),
        ]
    out += [
        ("rss_before", "VmRSS before the lists", fmt_bytes, False),
        ("rss", "VmRSS after %d concurrent lists" % CONCURRENT_LISTS, fmt_bytes, False),
    ]
    return out


def table(sizes, figures, fixed):
    first, last = sizes[0], sizes[-1]
    head = ["figure"] + ["%d envs" % s for s in sizes] + ["%d / %d" % (last, first), "target"]
    lines, missed = [head], 0
    for key, label, fmt, targeted in rows(fixed):
        vals = [figures[s].get(key) for s in sizes]
        a, b = figures[first].get(key), figures[last].get(key)
        ratio = b / a if a and b is not None else None
        verdict = ""
        if isinstance(targeted, str):
            verdict = "n/a: " + targeted
        elif targeted and len(sizes) > 1:
            if ratio is None:
                verdict = "-"
            elif ratio <= TARGET_RATIO:
                verdict = "<= %.1fx ok" % TARGET_RATIO
            else:
                verdict = "<= %.1fx MISSED" % TARGET_RATIO
                missed += 1
        lines.append([label] + [fmt(v) for v in vals] +
                     ["-" if ratio is None else "%.2fx" % ratio, verdict])
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    text = "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in lines)
    return text, missed


# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=str(bench.REPO_ROOT / "build" / "previewd"))
    ap.add_argument("--sizes", default="10,1000,3000",
                    help="live environments to measure at, ascending (default 10,1000,3000)")
    ap.add_argument("--samples", type=int, default=30,
                    help="webhook -> ready samples at each size (default 30)")
    ap.add_argument("--pool-size", type=int, default=8, help="[postgres] pool_size (8)")
    ap.add_argument("--batch", type=int, default=250,
                    help="webhooks sent before waiting for them to be ready (250)")
    ap.add_argument("--senders", type=int, default=8,
                    help="threads sending the growth webhooks (8)")
    ap.add_argument("--strategy-runs", type=int, default=9,
                    help="CREATE DATABASE timings per way (9; 0: skip)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (config, state file, log)")
    args = ap.parse_args(argv)
    try:
        args.sizes = [int(x) for x in args.sizes.split(",")]
    except ValueError:
        ap.error("--sizes: comma-separated integers")
    if not args.sizes or any(s < 1 for s in args.sizes) or args.sizes != sorted(set(args.sizes)):
        ap.error("--sizes: positive, ascending, no repeats")
    if args.samples < 1 or args.samples >= 1000 or args.batch < 1 or args.senders < 1:
        ap.error("--samples 1..999, --batch and --senders at least 1")
    if len(args.sizes) > 50:
        ap.error("at most 50 sizes")
    # The first page holds min(size, 100) rows: below 100 environments
    # pages of the smallest size's length are measured too, and those
    # carry the target.
    args.fixed_limit = args.sizes[0] if args.sizes[0] < DEFAULT_PAGE else None
    return args


def check_disk(args):
    """Refuse sizes that would not fit where PostgreSQL's data will be."""
    where = tempfile.gettempdir()
    free = shutil.disk_usage(where).free
    count = args.sizes[-1] + args.pool_size + 2 + (4 if args.strategy_runs else 0)
    need = count * EST_DB_BYTES + DISK_MARGIN
    say("disk: %s free under %s; %d databases need about %s (%s each + %s for WAL and logs)"
        % (gib(free), where, count, gib(need), fmt_bytes(EST_DB_BYTES), gib(DISK_MARGIN)))
    if need > free:
        fits = max(0, (free - DISK_MARGIN) // EST_DB_BYTES - args.pool_size - 6)
        print("fleet: refusing --sizes %s: %d databases need about %s on %s, which has %s "
              "free; at most about %d environments fit (free space under %s, or set TMPDIR "
              "to a larger disk)" % (",".join(map(str, args.sizes)), count, gib(need), where,
                                     gib(free), fits, where), file=sys.stderr)
        sys.exit(2)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        print("fleet: no executable previewd at %s (run make)" % args.binary, file=sys.stderr)
        return 2
    os.environ["PREVIEWD_BIN"] = args.binary
    check_disk(args)
    started = time.monotonic()
    info = bench.machine_info(args.binary)
    b = bench.Bench(args)
    figures, extra = {}, []
    try:
        db = b.db("postgres")
        pg = db.server
        config = latency_config(db, args.pool_size)
        config["server"]["max_environments"] = 0
        with b.daemon("fleet", config) as d:
            state = State(d.config["server"]["state_path"])
            q = Quiescence(b, db, d, args.pool_size)
            log = LogReader(d.log_path)
            try:
                q.wait("the pool to fill at start")
                have = 0
                for index, size in enumerate(args.sizes):
                    grow(d, state, have, size, args)
                    have = size
                    if index == 0 and len(args.sizes) > 1:
                        per = max(EST_DB_BYTES, disk_per_env(pg, state.db_name(1))[0])
                        rest = (args.sizes[-1] - size) * per * 1.1 + DISK_MARGIN
                        free = shutil.disk_usage(tempfile.gettempdir()).free
                        if rest > free:
                            raise BenchFailure(
                                "the remaining %d environments need about %s (%s each, "
                                "measured), only %s free: stopping"
                                % (args.sizes[-1] - size, gib(rest), fmt_bytes(per), gib(free)))
                    figures[size] = measure(b, d, q, state, log, size, index, args)
                size, files, example = disk_per_env(pg, state.db_name(1))
                extra.append("disk per environment: %s (pg_database_size of %s), %d files "
                             "in its directory base/OID (files are laid out as e.g. %s)"
                             % (fmt_bytes(size), state.db_name(1), files, example))
                count, total = disk_all(pg)
                extra.append("the cluster at %d live environments: %d databases, %s in all "
                             "(sum of pg_database_size)" % (args.sizes[-1], count,
                                                            fmt_bytes(total)))
                if args.strategy_runs:
                    q.wait("a quiet daemon before CREATE DATABASE")
                    say("CREATE DATABASE: 4 ways x %d, at %d live environments"
                        % (args.strategy_runs, args.sizes[-1]))
                    times = create_strategies(pg, args.strategy_runs)
                    extra.append("CREATE DATABASE on previewd's admin connection, at %d live "
                                 "environments (median, min-max of %d):"
                                 % (args.sizes[-1], args.strategy_runs))
                    for (tmpl, strategy), t in times.items():
                        extra.append("  TEMPLATE %-9s STRATEGY %-9s %9s  (%s - %s)%s" % (
                            tmpl, strategy, bench.fmt_ms(percentile(t, 50)),
                            bench.fmt_ms(min(t)), bench.fmt_ms(max(t)),
                            "   <- previewd's pool" if (tmpl, strategy) ==
                            ("template0", "WAL_LOG") else ""))
            except (BenchFailure, AssertionError, OSError, http.client.HTTPException,
                    ValueError, concurrent.futures.TimeoutError) + bench.DB_ERRORS as e:
                b.fail("%s: %s" % (type(e).__name__, e))
            finally:
                state.close()
                q.close()
    except Exception as e:  # noqa: BLE001 -- a start that failed, reported and exit 1
        b.fail("%s: %s" % (type(e).__name__, e))
    finally:
        b.close()
        keep = args.keep or b.failures
        if keep:
            say("work directory kept: %s" % b.workdir)
        else:
            shutil.rmtree(b.workdir, ignore_errors=True)

    elapsed = time.monotonic() - started
    sizes = [s for s in args.sizes if s in figures]
    print()
    print("previewd fleet benchmark, %s" % info["date"])
    print("command: /usr/bin/python3 bench/fleet.py %s" % " ".join(argv))
    print("machine: %s, %s cores, %s RAM; %s; previewd %s, commit %s"
          % (info["cpu"], info["cores"], info["ram"], b.versions(), info["previewd"],
             info["commit"]))
    print("config: [server] workers 2, max_environments 0; [postgres] pool_size %d; "
          "%d samples per size (p99 nearest-rank: with fewer than 100 samples, the worst)"
          % (args.pool_size, args.samples))
    print("run took %.0f s; load average at the end %s" % (elapsed, bench.loadavg()))
    print()
    if sizes:
        text, missed = table(sizes, figures, args.fixed_limit)
        print(text)
        print()
        if len(sizes) > 1:
            print("target (issue 26): each latency at %d at most %.1fx its value at %d: %s"
                  % (sizes[-1], TARGET_RATIO, sizes[0],
                     "met" if not missed else "%d MISSED" % missed))
    for s in sizes:
        print("CPU while sampling at %d (cores of %d, %.0f s): %s"
              % (s, os.cpu_count(), figures[s]["cpu"]["wall"], bench.fmt_cpu(figures[s]["cpu"])))
    for line in extra:
        print(line)
    for n in b.notes:
        print("note: " + n)
    if b.failures:
        print("\nFAILED:")
        for f in b.failures:
            print("  " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
