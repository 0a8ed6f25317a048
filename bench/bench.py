#!/usr/bin/python3
"""previewd benchmark: webhook-to-ready latency and webhook throughput.

    make bench
    /usr/bin/python3 bench/bench.py --binary build/previewd [options]

Starts a throwaway PostgreSQL (and MariaDB, for the MySQL scenarios) and
the real previewd binary with the test drivers in tests/integration
(servers.py, previewd.py), runs a list of named scenarios, prints a summary
table with the targets next to the figures, and writes the same as a
Markdown section into BENCHMARKS.md.  See bench/README.md for what each
figure means.

Exit status: 0 when every request did what it should, 1 when something broke
(a request failed, a daemon crashed or exited non-zero, a wait timed out),
2 on bad usage.  A missed target is printed as MISSED and does not change
the exit status.

Adding a row: write a function run_xxx(bench,
scenario) that returns a ScenarioResult, append a Scenario to SCENARIOS
and, if it has targets, Targets to TARGETS.  Bench gives it the shared
database servers (bench.db("postgres") / bench.db("mysql"), emptied of
previewd's databases), daemons that are always stopped (bench.daemon()),
quiescence polling (Quiescence), the figures of the scenarios that ran
before it (bench.results) and failure reporting (bench.fail()).

Nothing sleeps for a fixed time to synchronise: every wait polls with a
deadline.  Every server started is stopped in a finally block.
"""

import argparse
import contextlib
import datetime
import hashlib
import http.client
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))

import servers  # noqa: E402  (tests/integration/servers.py)
import previewd as drv  # noqa: E402  (tests/integration/previewd.py)
import psycopg2  # noqa: E402  (servers.py needs both drivers anyway)
import pymysql  # noqa: E402

MIB = 1024 * 1024
REPO = "acme/shop"
SETTLE_TIMEOUT = 120.0       # pool refill / jobs drained, per wait
READY_WAIT = 30              # ?wait= of the environment long poll, seconds


class BenchFailure(Exception):
    """Something broke: a request failed or a wait timed out."""


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def say(msg):
    print("bench: " + msg, flush=True)


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list (p in 0..100)."""
    s = sorted(values)
    k = max(1, math.ceil(p / 100.0 * len(s)))
    return s[k - 1]


def median(values):
    return percentile(values, 50) if values else None


def fmt_ms(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f ms" % v
    if v >= 10:
        return "%.1f ms" % v
    return "%.2f ms" % v


def fmt_mib(nbytes):
    return "-" if nbytes is None else "%.1f MiB" % (nbytes / MIB)


def run_text(cmd, **kw):
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60, **kw)
        return r.stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return "(%s: %s)" % (cmd[0], e)


def proc_status(pid):
    """{field: value} from /proc/PID/status; {} when the process is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def status_bytes(status, key):
    v = status.get(key)
    if not v:
        return None
    num, _, unit = v.partition(" ")
    return int(num) * (1024 if unit.strip() == "kB" else 1)


def proc_cpu_seconds(pid):
    """utime + stime of a process, seconds; None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_busy_seconds():
    """CPU time spent busy by the whole machine (all cores), seconds."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    # guest time is already counted in user/nice
    total = sum(vals[:8])
    return (total - idle) / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()


def postgres_cpu_seconds(pg):
    """CPU seconds of a PostgreSQL cluster: the postmaster with its reaped
    children (cutime, cstime), plus every live child process."""
    if pg is None or not pg.running:
        return 0.0
    try:
        with open(os.path.join(pg.datadir, "postmaster.pid")) as f:
            master = int(f.readline())
    except (OSError, ValueError):
        return 0.0
    tck = os.sysconf("SC_CLK_TCK")
    f = _stat_fields(master)
    if f is None:
        return 0.0
    total = sum(int(x) for x in f[11:15])
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        c = _stat_fields(int(d))
        if c is not None and c[1] == str(master):
            total += int(c[11]) + int(c[12])
    return total / tck


class CpuMeter:
    """Where the machine's CPU went between start() and stop(), in cores:
    previewd, each running database server (PostgreSQL, MariaDB), this
    script, its child processes (wrk) and everything else (other people's
    tests, the kernel's own threads) -- the last is the noise indicator."""

    def __init__(self, pid, dbs):
        self.pid = pid
        self.dbs = list(dbs)        # DbServer objects, running ones
        self.a = None

    def _snap(self):
        me = resource.getrusage(resource.RUSAGE_SELF)
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        snap = {"t": time.monotonic(), "busy": system_busy_seconds(),
                "cpu_psi": psi_some_us("cpu"), "io_psi": psi_some_us("io"),
                "previewd": proc_cpu_seconds(self.pid) or 0.0,
                "bench": me.ru_utime + me.ru_stime,
                "children": ch.ru_utime + ch.ru_stime}
        for db in self.dbs:
            snap[db.cpu_key] = db.cpu_seconds()
        return snap

    def start(self):
        self.a = self._snap()

    def stop(self):
        b = self._snap()
        wall = max(1e-6, b["t"] - self.a["t"])
        keys = ["previewd", "bench", "children"] + [db.cpu_key for db in self.dbs]
        out = {k: (b[k] - self.a[k]) / wall for k in keys}
        out["other"] = max(0.0, (b["busy"] - self.a["busy"]) / wall - sum(out.values()))
        out["wall"] = wall
        for k in ("cpu", "io"):
            x, y = self.a[k + "_psi"], b[k + "_psi"]
            out[k + "_stall"] = None if x is None or y is None else (y - x) / 1e4 / wall
        return out


def psi_some_us(kind):
    """Total microseconds some task stalled on kind ("cpu", "io"), from
    /proc/pressure; None when the kernel has no PSI."""
    try:
        with open("/proc/pressure/" + kind) as f:
            for line in f:
                if line.startswith("some "):
                    return int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def fmt_cpu(c):
    servers_ = "".join(", %s %.2f" % (k, c[k]) for k in ("postgres", "mariadb") if k in c)
    out = ("previewd %.2f%s, bench %.2f, wrk %.2f, everything else %.2f"
           % (c["previewd"], servers_, c["bench"], c["children"], c["other"]))
    if c.get("cpu_stall") is not None and c.get("io_stall") is not None:
        out += "; stalled: cpu %.0f%%, io %.0f%% of the time" % (c["cpu_stall"], c["io_stall"])
    return out


NOISE_OTHER_CORES = 0.25
NOISE_IO_STALL = 10.0


def check_noise(bench, label, c):
    """Note when something outside the bench used the machine meanwhile."""
    why = []
    if c["other"] > NOISE_OTHER_CORES:
        why.append("%.2f cores used by other processes" % c["other"])
    if c.get("io_stall") is not None and c["io_stall"] > NOISE_IO_STALL:
        why.append("tasks stalled on I/O %.0f%% of the time" % c["io_stall"])
    if why:
        bench.note("%s may be noisy: %s" % (label, ", ".join(why)))


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


# --------------------------------------------------------------------------
# The environment: what ran where
# --------------------------------------------------------------------------

def machine_info(binary):
    info = {}
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    info["uname"] = run_text(["uname", "-a"])
    models, cores = [], 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k == "processor":
                    cores += 1
                elif k == "model name":
                    models.append(v.strip())
    except OSError:
        pass
    info["cpu"] = models[0] if models else platform.processor() or "?"
    info["cores"] = cores or os.cpu_count()
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) * 1024 / 1024 ** 3)
                    break
    except OSError:
        pass
    info["ram"] = mem
    info["previewd"] = run_text([binary, "--version"])
    try:
        with open(binary, "rb") as f:
            info["binary_sha256"] = hashlib.sha256(f.read()).hexdigest()[:12]
    except OSError:
        info["binary_sha256"] = "?"
    commit = run_text(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"])
    dirty = run_text(["git", "-C", str(REPO_ROOT), "status", "--porcelain",
                      "--untracked-files=no"])
    info["commit"] = commit + ("-dirty" if dirty and not dirty.startswith("(") else "")
    wrk = shutil.which("wrk")
    info["wrk"] = (run_text([wrk, "--version"]).splitlines()[0].split(" Copyright")[0]
                   if wrk else "wrk not installed")
    info["python"] = platform.python_version()
    return info


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

@dataclass
class Row:
    scenario: str
    measure: str
    value: str
    key: str = ""            # what TARGETS refer to, "scenario.name"


@dataclass
class ScenarioResult:
    rows: list = field(default_factory=list)      # [Row] for the summary table
    data: dict = field(default_factory=dict)      # raw figures for TARGETS
    details: list = field(default_factory=list)   # extra Markdown/text lines


@dataclass
class Target:
    key: str                  # the Row it is printed next to
    text: str                 # e.g. "<= 10 ms"
    needs: tuple              # scenario names that must have run
    check: Callable           # results -> (ok: bool, note: str)


@dataclass
class Scenario:
    name: str
    title: str
    run: Callable
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------
# Database servers, one of each per bench run, started when first needed
# --------------------------------------------------------------------------

class DbServer:
    """What the scenarios need from a database server, whatever its engine:
    the `[postgres]`/`[mysql]` section for previewd, its version, a reset
    between scenarios, whether the warm pool is on the server, a look into
    a preview database, and its CPU time."""

    engine = ""          # previewd's engine name, and its config section
    label = ""           # for humans
    cpu_key = ""         # CpuMeter's name for it

    def __init__(self):
        self.server = None
        self.version = None

    @property
    def running(self):
        return self.server is not None and self.server.running

    def previewd_section(self, pool_size):
        return {"admin_url": self.server.admin_url, "pool_size": pool_size}

    def stop(self):
        if self.server is not None:
            self.server.stop()


class PgServer(DbServer):
    """The throwaway PostgreSQL cluster (servers.PostgresServer, fsync=on)."""

    engine = "postgres"
    label = "PostgreSQL"
    cpu_key = "postgres"

    def start(self):
        say("starting PostgreSQL (%s)" % servers.pg_bindir())
        self.server = servers.PostgresServer()
        self.server.start()
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                self.version = cur.fetchone()[0]
        finally:
            conn.close()
        say("PostgreSQL %s on port %d" % (self.version, self.server.port))

    def connect(self, db="postgres"):
        """A superuser connection, autocommit."""
        return self.server.connect(dbname=db)

    def reset(self):
        """Drop every previewd database and role."""
        if not self.running:
            return
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for db in self.server.databases("pvd_"):
                    cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)
                for role in self.server.roles("pvd_"):
                    cur.execute('DROP ROLE IF EXISTS "%s"' % role)
        finally:
            conn.close()

    def pool_count(self, conn):
        """Databases named pvd_pool_% (on PostgreSQL a claimed pool database
        is renamed, so these are exactly the pool's)."""
        with conn.cursor() as cur:
            cur.execute(r"SELECT count(*) FROM pg_database WHERE datname LIKE 'pvd\_pool\_%'")
            return cur.fetchone()[0]

    def pool_on_server(self, conn, idle_names, pool_size):
        return self.pool_count(conn) == pool_size

    def schema(self, db):
        """(tables, rows of previewd_migrations) in preview database db."""
        conn = self.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                            "('pg_catalog', 'information_schema')")
                tables = cur.fetchone()[0]
                cur.execute("SELECT count(*) FROM previewd_migrations")
                return tables, cur.fetchone()[0]
        finally:
            conn.close()

    def cpu_seconds(self):
        return postgres_cpu_seconds(self.server)


class MariaDBServerDb(DbServer):
    """The throwaway MariaDB server (servers.MariaDBServer), whose admin
    user may manage databases named pvd_%, as previewd's README asks."""

    engine = "mysql"
    label = "MariaDB"
    cpu_key = "mariadb"

    def start(self):
        say("starting MariaDB")
        self.server = servers.MariaDBServer(db_prefix="pvd_")
        self.server.start()
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                self.version = cur.fetchone()[0]
        finally:
            conn.close()
        say("MariaDB %s on port %d" % (self.version, self.server.port))

    def connect(self, db=None):
        """A root connection, autocommit."""
        return self.server.connect(db=db)

    def reset(self):
        """Drop every previewd database and user."""
        if not self.running:
            return
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for db in self.server.databases("pvd_"):
                    cur.execute("DROP DATABASE IF EXISTS `%s`" % db)
                # No arguments: pymysql leaves the LIKE pattern's % alone.
                cur.execute(r"SELECT User, Host FROM mysql.user WHERE User LIKE 'pvd\_%'")
                for user, host in cur.fetchall():
                    cur.execute("DROP USER IF EXISTS %s@%s", (user, host))
        finally:
            conn.close()

    def pool_on_server(self, conn, idle_names, pool_size):
        """Every database the state file calls idle exists.  A claimed pool
        database keeps its pvd_pool_ name on MySQL, so counting names would
        count environments too."""
        with conn.cursor() as cur:
            cur.execute(r"SHOW DATABASES LIKE 'pvd\_pool\_%'")
            have = {r[0] for r in cur.fetchall()}
        return len(idle_names) == pool_size and all(n in have for n in idle_names)

    def schema(self, db):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM information_schema.tables WHERE "
                            "table_schema = %s AND table_type = 'BASE TABLE'", (db,))
                tables = cur.fetchone()[0]
                cur.execute("SELECT count(*) FROM `%s`.previewd_migrations" % db)
                return tables, cur.fetchone()[0]
        finally:
            conn.close()

    def cpu_seconds(self):
        """mariadbd is one process; its threads are in its own times."""
        try:
            with open(self.server.pidfile) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError, TypeError):
            return 0.0
        return proc_cpu_seconds(pid) or 0.0


DB_SERVERS = {"postgres": PgServer, "mysql": MariaDBServerDb}


# --------------------------------------------------------------------------
# The bench: shared servers, daemons, failures
# --------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="previewd-bench-"))
        self.failures = []
        self.notes = []
        self.results = {}       # scenario name -> ScenarioResult, in run order
        self._dbs = {}          # engine -> DbServer, started when first asked for

    def fail(self, msg):
        """Record that something broke; the run exits 1 at the end."""
        self.failures.append(msg)
        say("FAILURE: " + msg)

    def note(self, msg):
        self.notes.append(msg)
        say("note: " + msg)

    # -- database servers, one per engine per bench run -----------------

    def db(self, engine):
        """The shared server for engine ("postgres" or "mysql"), started on
        first use and emptied of previewd's databases."""
        db = self._dbs.get(engine)
        if db is None:
            db = self._dbs[engine] = DB_SERVERS[engine]()
            db.start()
        db.reset()
        return db

    def running_dbs(self):
        return [db for db in self._dbs.values() if db.running]

    def versions(self):
        """"PostgreSQL 15.x; MariaDB 10.11.x" for the servers that ran."""
        return "; ".join("%s %s" % (db.label, db.version) for db in self._dbs.values()
                         if db.version) or "no database server"

    def cpu_meter(self, pid):
        return CpuMeter(pid, self.running_dbs())

    def close(self):
        """Stop every server, each even if stopping another raised."""
        for db in self._dbs.values():
            try:
                db.stop()
            except Exception as e:  # noqa: BLE001 -- stop the others all the same
                self.fail("stopping %s: %s: %s" % (db.label, type(e).__name__, e))

    # -- previewd daemons ----------------------------------------------

    @contextlib.contextmanager
    def daemon(self, name, config):
        """A started previewd in workdir/name; always stopped afterwards.

        A daemon that exits non-zero, is killed after the stop timeout,
        died during the run or logged a sanitizer report is a failure.
        """
        d = drv.Previewd(self.workdir / name, config)
        d.write_config()
        started = False
        try:
            d.start()
            started = True
            say("previewd %s: pid %d, %s" % (name, d.proc.pid, d.base_url))
            yield d
        finally:
            died = d.proc is not None and d.proc.poll() is not None and not d.expected_exit
            code = d.stop()
            if not started:
                pass            # start() raised; that is the failure reported
            elif died:
                self.fail("previewd %s died during the run (exit %s); log: %s"
                          % (name, code, d.log_path))
            elif d.stop_timed_out:
                self.fail("previewd %s did not exit within 30s of SIGTERM" % name)
            elif code not in (0, None):
                self.fail("previewd %s exited with %s on SIGTERM" % (name, code))
            log = d.log()
            for m in drv.SANITIZER_MARKERS:
                if m in log:
                    self.fail("previewd %s logged a sanitizer report (%r)" % (name, m))


# --------------------------------------------------------------------------
# Waiting for a quiet daemon: pool full, job queue empty
# --------------------------------------------------------------------------

class Quiescence:
    """Polls the daemon's state file, then the database server, until the
    warm pool is full and no job is queued or running.

    State file (read-only SQLite, WAL, so it never blocks the daemon):
    pool_size rows 'idle' for the engine, none 'creating', and the jobs
    table empty.  This is the authority: on MySQL a claimed pool database
    keeps its pvd_pool_ name, so the server's names cannot tell.
    Then the server (DbServer.pool_on_server): on PostgreSQL exactly
    pool_size databases named pvd_pool_%; on MySQL every database the state
    file calls idle exists.  The server is asked only once the state file
    looks quiet.
    """

    def __init__(self, bench, db, daemon, pool_size):
        self.bench = bench
        self.db_server = db
        self.server_only = False
        self.pool_size = pool_size
        self.engine = db.engine
        self.conn = db.connect()
        self.state_path = daemon.config["server"]["state_path"]
        self.db = None

    def _state(self):
        """([idle pool database names], other pool rows, jobs) or None."""
        if self.db is None:
            if not os.path.exists(self.state_path):
                return None
            self.db = sqlite3.connect("file:%s?mode=ro" % self.state_path, uri=True,
                                      timeout=5, isolation_level=None)
        self.db.execute("BEGIN")        # one snapshot for both queries
        try:
            rows = self.db.execute("SELECT db_name, state FROM pool WHERE engine = ?",
                                   (self.engine,)).fetchall()
            jobs = self.db.execute("SELECT count(*) FROM jobs").fetchone()[0]
        finally:
            self.db.execute("COMMIT")
        idle = [name for name, state in rows if state == "idle"]
        return idle, len(rows) - len(idle), jobs

    def quiet(self):
        if self.server_only:
            return self.db_server.pool_count(self.conn) == self.pool_size
        try:
            st = self._state()
        except sqlite3.OperationalError as e:
            if "no such" in str(e) and self.db is not None:
                # The state file's schema changed under the bench.
                if not hasattr(self.db_server, "pool_count"):
                    raise BenchFailure("state file query failed (%s), and a full %s pool "
                                       "cannot be told from the server alone"
                                       % (e, self.db_server.label))
                self.bench.note("state file query failed (%s): waiting on %s's pool "
                                "count only" % (e, self.db_server.label))
                self.server_only = True
            return False        # not created yet, or a busy moment
        if st is None:
            return False
        idle, other, jobs = st
        return (len(idle) == self.pool_size and other == 0 and jobs == 0 and
                self.db_server.pool_on_server(self.conn, idle, self.pool_size))

    def wait(self, what):
        drv.wait_until(self.quiet, timeout=SETTLE_TIMEOUT, interval=0.01, what=what)

    def close(self):
        with contextlib.suppress(Exception):
            self.conn.close()
        if self.db is not None:
            with contextlib.suppress(Exception):
                self.db.close()


# --------------------------------------------------------------------------
# previewd's log: where each sample's time went
# --------------------------------------------------------------------------

LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z\s+(\w+)\s+(.*)$")


def log_ts(stamp):
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp() * 1000.0


class LogReader:
    """Reads a daemon's log incrementally."""

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def new_lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for line in data[:end].decode("utf-8", "replace").splitlines():
            m = LOG_LINE.match(line)
            if m:
                out.append((log_ts(m.group(1)), m.group(2), m.group(3)))
        return out


RUN_MS = re.compile(r"(\d+) ms in this run")


def sample_timeline(lines, env_id):
    """What the log says about one environment: source (pool/cold) and
    wall-clock milliseconds of accept, claim and ready, and the job's own
    "N ms in this run".  Tolerant of wording changes: the ready time is
    the last line of this environment that reports "N ms in this run",
    says "environment ready" or, with migrations, "migrations at SHA: ..."
    (also kept as "migrated"); a field that cannot be found stays absent
    and shows as "-"."""
    t = {"source": None}
    for ts, _level, msg in lines:
        if msg.startswith("pool database ") and "ready" in msg:
            t.setdefault("refilled", ts)
        if env_id not in msg:
            continue
        if "accepted env=" in msg:
            t["accepted"] = ts
        elif msg.startswith("claimed pool database"):
            t["claimed"] = ts
            t["source"] = "pool"
        elif msg.startswith("pool for ") and " cold" in msg:
            t["claimed"] = ts
            t["source"] = "cold"
        m = RUN_MS.search(msg)
        if m:
            t["ready"] = t["claim_done"] = ts
            t["run_ms"] = int(m.group(1))
        elif msg.startswith("environment ready"):
            t["ready"] = ts
        elif msg.startswith("migrations at "):
            t["ready"] = t["migrated"] = ts
    return t


# --------------------------------------------------------------------------
# Scenarios: webhook-to-ready latency (pool, cold, with migrations)
# --------------------------------------------------------------------------

def latency_config(db, pool_size, repo=None):
    """Two workers, one engine's section, and acme/shop on that engine
    (PostgreSQL is the default engine; MySQL is named), plus repo's keys."""
    repo_conf = {} if db.engine == "postgres" else {"engine": db.engine}
    repo_conf.update(repo or {})
    return {
        "server": {"workers": 2},
        db.engine: db.previewd_section(pool_size),
        "repo:" + REPO: repo_conf,
    }


@dataclass
class Samples:
    """What latency_samples() measured, per sample (milliseconds)."""
    totals: list = field(default_factory=list)     # webhook → ready, client clock
    posts: list = field(default_factory=list)      # POST → 202
    gets: list = field(default_factory=list)       # the long poll
    queue: list = field(default_factory=list)      # log: accept → claim
    claim_ready: list = field(default_factory=list)  # log: claim → ready
    run: list = field(default_factory=list)        # log: "N ms in this run"
    migrate: list = field(default_factory=list)    # log: claimed → migrations done
    refill: list = field(default_factory=list)     # log: claim → pool refilled
    wrong_source: int = 0
    unverified: int = 0
    cpu: dict = None
    vmhwm: int = None


def post_and_wait(sc, d, number, sha=None, repo=REPO):
    """One sample as a client sees it: build and sign the "opened" webhook
    and connect (before the clock), POST it (202), GET the environment with
    ?wait= on the same connection until it is ready (200, "ready").
    Returns (POST ms, total ms, environment id, environment JSON)."""
    body = json.dumps(drv.pr_payload("opened", number, repo=repo, sha=sha)).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/previewd-bench",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": drv.sign_github(body, d.webhook_secret),
    }
    path = "/api/v1/repos/%s/pulls/%d/environment?wait=%d" % (repo, number, READY_WAIT)
    auth = {"Authorization": "Bearer " + d.ci_token}
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=READY_WAIT + 30)
    conn.connect()
    try:
        start = time.perf_counter()
        conn.request("POST", "/webhooks/github", body=body, headers=headers)
        r = conn.getresponse()
        rbody = r.read()
        mid = time.perf_counter()
        if r.status != 202:
            raise BenchFailure("%s PR %d: webhook answered %d %r"
                               % (sc.name, number, r.status, rbody[:300]))
        env_id = json.loads(rbody).get("environment", "")
        conn.request("GET", path, headers=auth)
        r = conn.getresponse()
        gbody = r.read()
        end = time.perf_counter()
    finally:
        conn.close()
    if r.status != 200:
        raise BenchFailure("%s PR %d: environment answered %d %r"
                           % (sc.name, number, r.status, gbody[:300]))
    doc = json.loads(gbody)
    if doc.get("status") != "ready":
        raise BenchFailure("%s PR %d: environment is %r, not ready, after ?wait=%d "
                           "(error: %r)" % (sc.name, number, doc.get("status"),
                                            READY_WAIT, doc.get("error")))
    return (mid - start) * 1000, (end - start) * 1000, env_id, doc


DB_ERRORS = (psycopg2.Error, pymysql.MySQLError)


def latency_samples(bench, sc, db, config, count, first_pr, expect, check=None):
    """Start a daemon with config, wait until it is quiet (pool full, no
    job), then take count samples (pull requests first_pr, first_pr+1, ...),
    waiting until it is quiet again after each.  A sample served by the
    path other than expect ("pool" or "cold") is left out.  check(i, doc),
    when given, looks at sample i's environment after the clock stopped and
    raises BenchFailure when it is wrong.  A failure ends the sampling; the
    samples taken so far are kept."""
    m = Samples()
    with bench.daemon(sc.name, config) as d:
        pool_size = config[db.engine]["pool_size"]
        q = Quiescence(bench, db, d, pool_size)
        log = LogReader(d.log_path)
        meter = bench.cpu_meter(d.proc.pid)
        try:
            t0 = time.monotonic()
            q.wait("the pool to fill at start")
            say("%s: pool of %d ready %.1fs after start; %d samples"
                % (sc.name, pool_size, time.monotonic() - t0, count))
            log.new_lines()
            meter.start()
            for i in range(count):
                number = first_pr + i
                post_ms, total_ms, env_id, doc = post_and_wait(sc, d, number,
                                                               sc.params.get("sha"))
                if check is not None:
                    check(i, doc)
                q.wait("the pool to refill after PR %d" % number)
                tl = sample_timeline(log.new_lines(), env_id)
                if tl["source"] is None:
                    # previewd's log lines changed: the sample counts, but
                    # its path is not verified.
                    m.unverified += 1
                elif tl["source"] != expect:
                    m.wrong_source += 1
                    bench.note("%s PR %d was served %s, expected %s"
                               % (sc.name, number, tl["source"], expect))
                    continue
                m.totals.append(total_ms)
                m.posts.append(post_ms)
                m.gets.append(total_ms - post_ms)
                for out, a, b in ((m.queue, "accepted", "claimed"),
                                  (m.claim_ready, "claimed", "ready"),
                                  (m.migrate, "claim_done", "migrated"),
                                  (m.refill, "claimed", "refilled")):
                    if a in tl and b in tl:
                        out.append(tl[b] - tl[a])
                if "run_ms" in tl:
                    m.run.append(tl["run_ms"])
            m.cpu = meter.stop()
        except (BenchFailure, AssertionError, OSError, http.client.HTTPException,
                ValueError) + DB_ERRORS as e:
            bench.fail("%s: %s" % (sc.name, e))
        finally:
            q.close()
        m.vmhwm = status_bytes(proc_status(d.proc.pid), "VmHWM")
    if m.unverified:
        bench.note("%s: %d sample(s) could not be matched to a pool/cold line in previewd's "
                   "log (log format changed?); they are counted unverified"
                   % (sc.name, m.unverified))
    db.reset()
    return m


def latency_figures(bench, sc, m):
    """The summary rows (p50, p99, min / max) and detail lines of a
    latency scenario; res.data holds the raw figures targets read."""
    res = ScenarioResult()
    if not m.totals:
        res.details.append("%s: no valid samples" % sc.name)
        return res
    t = m.totals
    stats = {"n": len(t), "min": min(t), "p50": percentile(t, 50),
             "p90": percentile(t, 90), "p99": percentile(t, 99), "max": max(t),
             "wrong_source": m.wrong_source, "post_p50": median(m.posts),
             "get_p50": median(m.gets), "srv_queue_p50": median(m.queue),
             "srv_claim_ready_p50": median(m.claim_ready),
             "srv_run_p50": median(m.run),
             "srv_run_p99": percentile(m.run, 99) if m.run else None,
             "srv_migrate_p50": median(m.migrate), "refill_p50": median(m.refill),
             "vmhwm": m.vmhwm, "cpu": m.cpu, "unverified": m.unverified}
    res.data = stats
    label = "webhook→ready"
    res.rows = [
        Row(sc.name, label + " p50", fmt_ms(stats["p50"]), sc.name + ".p50"),
        Row(sc.name, label + " p99", fmt_ms(stats["p99"]), sc.name + ".p99"),
        Row(sc.name, label + " min / max (n)", "%s / %s (n=%d)" % (
            fmt_ms(stats["min"]), fmt_ms(stats["max"]), stats["n"]), sc.name + ".n"),
    ]
    res.details.append(
        "%s: n=%d min %s p50 %s p90 %s p99 %s max %s%s" % (
            sc.name, stats["n"], fmt_ms(stats["min"]), fmt_ms(stats["p50"]),
            fmt_ms(stats["p90"]), fmt_ms(stats["p99"]), fmt_ms(stats["max"]),
            "; %d sample(s) not from the expected path were left out" % m.wrong_source
            if m.wrong_source else ""))
    res.details.append(
        "%s breakdown (medians): POST→202 %s, GET long poll %s; in previewd's log: "
        "accept→claim %s, claim→ready %s, job run %s (p99 %s)%s%s; VmHWM %s" % (
            sc.name, fmt_ms(stats["post_p50"]), fmt_ms(stats["get_p50"]),
            fmt_ms(stats["srv_queue_p50"]), fmt_ms(stats["srv_claim_ready_p50"]),
            fmt_ms(stats["srv_run_p50"]), fmt_ms(stats["srv_run_p99"]),
            (", claimed→migrations done %s" % fmt_ms(stats["srv_migrate_p50"]))
            if stats["srv_migrate_p50"] is not None else "",
            (", claim→pool refilled %s" % fmt_ms(stats["refill_p50"]))
            if stats["refill_p50"] is not None else "",
            fmt_mib(m.vmhwm)))
    if m.cpu is not None:
        check_noise(bench, sc.name, m.cpu)
        res.details.append("%s CPU while sampling (cores of %d, %.0f s): %s"
                           % (sc.name, os.cpu_count(), m.cpu["wall"], fmt_cpu(m.cpu)))
    return res


def _sample_count(bench, sc):
    return getattr(bench.args, sc.params["samples_arg"])


def run_latency(bench, sc):
    """POST a signed "opened" webhook, long-poll the environment until
    ready; one sample per pull request, with the pool refilled and the job
    queue empty before each.  params: engine, pool_size, samples_arg (the
    option with the sample count), expect ("pool" or "cold"), first_pr."""
    p = sc.params
    count = _sample_count(bench, sc)
    if count <= 0:
        return ScenarioResult(details=["%s: skipped (0 samples)" % sc.name])
    db = bench.db(p["engine"])
    config = latency_config(db, p["pool_size"])
    check = None
    pgb_dir = None
    if p.get("pgbouncer"):
        # The claim also writes pgbouncer's files and RELOADs it, and the
        # environment must come out with a pooled URL.
        pgb_dir = tempfile.mkdtemp(prefix="bench-pgb-", dir="/tmp")
        os.chmod(pgb_dir, 0o711)
        config["pgbouncer"] = {"mode": "managed",
                               "listen": "127.0.0.1:%d" % servers.free_port(),
                               "config_dir": os.path.join(pgb_dir, "pgbouncer")}

        def check(i, doc):
            if not doc.get("pooled_url") or doc.get("database_url") != doc["pooled_url"]:
                raise BenchFailure("PR without a pooled URL: %r" % doc.get("pooled_url"))
    try:
        m = latency_samples(bench, sc, db, config, count, p["first_pr"], p["expect"],
                            check)
    finally:
        if pgb_dir is not None:
            shutil.rmtree(pgb_dir, ignore_errors=True)
    return latency_figures(bench, sc, m)


def migration_fixture(name, engine):
    """(folder, number of .sql files, number of CREATE TABLE statements)
    of bench/fixtures/NAME/ENGINE (written by bench/gen_migrations.py)."""
    folder = HERE / "fixtures" / name / engine
    files = sorted(folder.glob("*.sql"))
    if not files:
        raise BenchFailure("no migrations in %s (run /usr/bin/python3 bench/gen_migrations.py)"
                           % folder)
    tables = sum(len(re.findall(r"^CREATE TABLE\b", f.read_text(), re.M)) for f in files)
    return folder, len(files), tables


def run_migrations(bench, sc):
    """Like run_latency from the warm pool, for a repository whose
    migrations (dir:bench/fixtures/...) create many tables: the environment
    is ready only once they are applied.  On a few samples the preview
    database is checked: every table there (the fixture's plus
    previewd_migrations) and one record per file.  params: engine,
    pool_size, samples_arg, first_pr, fixture, baseline (the plain pool
    scenario of the same engine, whose p50 gives the migrations' share)."""
    p = sc.params
    count = _sample_count(bench, sc)
    if count <= 0:
        return ScenarioResult(details=["%s: skipped (0 samples)" % sc.name])
    folder, nfiles, ntables = migration_fixture(p["fixture"], p["engine"])
    want_tables = ntables + 1           # + previewd_migrations
    db = bench.db(p["engine"])
    checked = []
    to_check = {i for i in range(count) if i % 5 == 0} | {count - 1}

    def check(i, doc):
        if i not in to_check:
            return
        try:
            tables, recorded = db.schema(doc["database"])
        except DB_ERRORS as e:
            raise BenchFailure("%s PR %s: cannot inspect database %s: %s"
                               % (sc.name, doc.get("number"), doc.get("database"), e))
        if (tables, recorded) != (want_tables, nfiles):
            raise BenchFailure("%s PR %s: database %s has %d tables and %d migration "
                               "records, expected %d and %d"
                               % (sc.name, doc.get("number"), doc["database"], tables,
                                  recorded, want_tables, nfiles))
        checked.append(i)

    repo = {"migrations": "dir:%s" % folder, "seed": "none"}
    say("%s: %d files, %d tables from %s" % (sc.name, nfiles, ntables, folder))
    m = latency_samples(bench, sc, db, latency_config(db, p["pool_size"], repo), count,
                        p["first_pr"], "pool", check)
    res = latency_figures(bench, sc, m)
    if not m.totals:
        return res
    p50 = res.data["p50"]
    base = bench.results.get(p["baseline"])
    base_p50 = base.data.get("p50") if base is not None else None
    if base_p50 is not None:
        share = p50 - base_p50
        res.data["migrations_ms"] = share
        value = "%s of %s (%.0f%%)" % (fmt_ms(share), fmt_ms(p50), 100.0 * share / p50)
    else:
        value = "- (%s did not run)" % p["baseline"]
    res.rows.append(Row(sc.name, "migrations' share of p50 (p50 − %s p50)" % p["baseline"],
                        value, sc.name + ".share"))
    res.rows.append(Row(sc.name, "schema checked (tables, migration records)",
                        "%d, %d on %d of %d samples" % (want_tables, nfiles, len(checked),
                                                         len(m.totals)),
                        sc.name + ".schema"))
    res.details.append("%s: %d migration files (%d tables, indexes, foreign keys) from %s; "
                       "the migrations' share is this p50 minus %s's p50 (%s), the log's "
                       "claimed→migrations done p50 is %s"
                       % (sc.name, nfiles, ntables, os.path.relpath(folder, REPO_ROOT),
                          p["baseline"], fmt_ms(base_p50), fmt_ms(res.data["srv_migrate_p50"])))
    return res


PRISMA_SHA = "9" * 40


def prisma_tree(count):
    """A Prisma repository of count migrations, as `prisma migrate dev`
    lays them out: prisma/migrations/<14-digit timestamp>_<name>/
    migration.sql and migration_lock.toml.  Each migration creates a table
    with a foreign key to the one before and an index, and every tenth one
    alters an earlier table, so order matters."""
    files = {"prisma/migrations/migration_lock.toml":
             '# Please do not edit this file manually\nprovider = "postgresql"\n',
             "prisma/schema.prisma": "// the models (previewd does not read it)\n"}
    for i in range(1, count + 1):
        stamp = "2024%02d%02d%06d" % (1 + i // 280, 1 + (i // 10) % 28, i)
        sql = ['-- CreateTable\nCREATE TABLE "t%d" (\n    "id" SERIAL NOT NULL,\n'
               '    "name" TEXT NOT NULL,\n    "amount" DECIMAL(65,30),\n'
               '    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,\n'
               '%s    CONSTRAINT "t%d_pkey" PRIMARY KEY ("id")\n);\n'
               % (i, '    "prev_id" INTEGER,\n' if i > 1 else "", i),
               '-- CreateIndex\nCREATE INDEX "t%d_name_idx" ON "t%d"("name");\n' % (i, i)]
        if i > 1:
            sql.append('-- AddForeignKey\nALTER TABLE "t%d" ADD CONSTRAINT "t%d_prev_id_fkey" '
                       'FOREIGN KEY ("prev_id") REFERENCES "t%d"("id") ON DELETE SET NULL '
                       'ON UPDATE CASCADE;\n' % (i, i, i - 1))
        if i % 10 == 0:
            sql.append('-- AlterTable\nALTER TABLE "t%d" ADD COLUMN "note%d" TEXT;\n'
                       % (i - 9, i))
        files["prisma/migrations/%s_m%03d/migration.sql" % (stamp, i)] = "\n".join(sql)
    return files


def run_prisma(bench, sc):
    """A Prisma repository of 300 migrations read through the forge (the
    suite's GitHub stand-in, tests/integration/forge_stub.py): webhook →
    ready, and the forge requests each environment cost.  All samples are
    pull requests on one commit: the first reads every file, the later ones
    find the files kept by blob id (README "Requests to the forge")."""
    import forge_stub   # noqa: E402  (tests/integration/forge_stub.py)

    p = sc.params
    count = _sample_count(bench, sc)
    if count <= 0:
        return ScenarioResult(details=["%s: skipped (0 samples)" % sc.name])
    db = bench.db(p["engine"])
    files = prisma_tree(p["migrations"])
    per_env = []
    with forge_stub.ForgeStub() as forge:
        forge.github_token = "ghp_bench_prisma_token"
        forge.set_tree(REPO, PRISMA_SHA, files)
        seen = [0]

        def check(i, doc):
            # Reads of the repository (tree, blobs, files), not the
            # comment previewd posts.
            n = len(forge.requests_to("GET", r"^/repos/[^/]+/[^/]+/(git|contents)/"))
            per_env.append(n - seen[0])
            seen[0] = n
            tables, recorded = db.schema(doc["database"])
            if (tables, recorded) != (p["migrations"] + 2, p["migrations"]):
                raise BenchFailure("%s PR %s: database %s has %d tables and %d records, "
                                   "expected %d and %d" % (sc.name, doc.get("number"),
                                                           doc["database"], tables, recorded,
                                                           p["migrations"] + 2,
                                                           p["migrations"]))

        config = latency_config(db, p["pool_size"], {
            "migrations": "repo:prisma/migrations", "migrations_tool": "prisma",
            "seed": "none"})
        config["github"] = {"api_url": forge.url, "token": forge.github_token}
        m = latency_samples(bench, sc, db, config, count, p["first_pr"], "pool", check)
    res = ScenarioResult(data={})
    if not m.totals:
        return res
    first, rest = m.totals[0], m.totals[1:]
    res.data.update(first_ms=first, rest_p50=median(rest) if rest else None,
                    first_requests=per_env[0] if per_env else None,
                    rest_requests=max(per_env[1:]) if len(per_env) > 1 else None)
    res.rows.append(Row(sc.name, "first pull request of the commit: webhook → ready, "
                        "forge requests", "%s, %d requests" % (fmt_ms(first), per_env[0]),
                        sc.name + ".first"))
    if rest:
        res.rows.append(Row(sc.name, "later pull requests (files kept): webhook → ready "
                            "p50, forge requests each",
                            "%s, %d requests" % (fmt_ms(median(rest)), max(per_env[1:])),
                            sc.name + ".rest"))
    res.details.append("%s: %d Prisma migrations (prisma/migrations/<timestamp>_<name>/"
                       "migration.sql) read from the GitHub stand-in at one commit; "
                       "forge requests per environment %s; the log's claimed→migrations "
                       "done p50 %s" % (sc.name, p["migrations"], per_env,
                                        fmt_ms(median(m.migrate)) if m.migrate else "-"))
    return res


# --------------------------------------------------------------------------
# Scenario: the claim's SQL floor, next to pg-pool
# --------------------------------------------------------------------------

def run_claim_floor(bench, sc):
    """What a claim costs at the least: on an admin connection already open
    (previewd's own admin role, as its workers hold one), a pool member made
    as previewd makes one (a NOLOGIN role with its password, a database it
    owns, the role granted to the admin), then, on the clock, one round
    trip of BEGIN; ALTER DATABASE ... RENAME; ALTER ROLE ... RENAME; ALTER
    ROLE ... LOGIN; ALTER DATABASE ... OWNER; COMMIT.  Set-up and clean-up
    are off the clock.  Reported next to pg-pool's webhook → ready, with
    pg-pool's own breakdown (where the difference goes)."""
    count = bench.args.pool_samples
    if count <= 0:
        return ScenarioResult(details=["%s: skipped (0 samples)" % sc.name])
    db = bench.db("postgres")
    srv = db.server
    conn = psycopg2.connect(host=srv.host, port=srv.port, dbname="postgres",
                            user=srv.ADMIN, password=srv.admin_password)
    conn.autocommit = True
    times = []
    try:
        with conn.cursor() as cur:
            for i in range(count):
                pool, env = "pvd_pool_floor%04d" % i, "pvd_floor_%04d" % i
                cur.execute('CREATE ROLE "%s" WITH NOLOGIN PASSWORD %%s' % pool,
                            (uuid.uuid4().hex,))
                cur.execute('GRANT "%s" TO CURRENT_USER' % pool)
                cur.execute('CREATE DATABASE "%s" OWNER "%s"' % (pool, pool))
                start = time.perf_counter()
                cur.execute('BEGIN; ALTER DATABASE "%s" RENAME TO "%s"; '
                            'ALTER ROLE "%s" RENAME TO "%s"; ALTER ROLE "%s" WITH LOGIN; '
                            'ALTER DATABASE "%s" OWNER TO "%s"; COMMIT'
                            % (pool, env, pool, env, env, env, env))
                times.append((time.perf_counter() - start) * 1000)
                cur.execute('DROP DATABASE "%s"' % env)
                cur.execute('DROP ROLE "%s"' % env)
    finally:
        conn.close()
        db.reset()
    res = ScenarioResult()
    floor = median(times)
    res.data = {"p50": floor, "p99": percentile(times, 99)}
    res.rows.append(Row(sc.name, "claim SQL floor p50 / p99 (n)", "%s / %s (n=%d)"
                        % (fmt_ms(floor), fmt_ms(percentile(times, 99)), len(times)),
                        sc.name + ".p50"))
    pool = bench.results.get("pg-pool")
    if pool is not None and pool.data.get("p50") is not None:
        d = pool.data
        res.data["ratio"] = d["p50"] / floor
        res.rows.append(Row(sc.name, "pg-pool webhook → ready p50 / floor p50",
                            "%.1fx (%s / %s)" % (res.data["ratio"], fmt_ms(d["p50"]),
                                                 fmt_ms(floor)), sc.name + ".ratio"))
        res.details.append(
            "%s: where pg-pool's p50 of %s goes (medians): POST → 202 %s (verify, dedupe, "
            "record the delivery and the environment: one state-store commit); 202 → ready "
            "as the long poll sees it %s, of which previewd's log shows accept → claim %s "
            "(the worker's wake-up and the job's take: one commit), the claim job's run %s "
            "(the claim's SQL, floor %s here, and the state-store commit of the claim), "
            "claim → ready %s; the rest of the long poll is its wake-up and the answer."
            % (sc.name, fmt_ms(d["p50"]), fmt_ms(d["post_p50"]), fmt_ms(d["get_p50"]),
               fmt_ms(d["srv_queue_p50"]), fmt_ms(d["srv_run_p50"]), fmt_ms(floor),
               fmt_ms(d["srv_claim_ready_p50"])))
    else:
        res.details.append("%s: pg-pool did not run; no ratio" % sc.name)
    return res


# --------------------------------------------------------------------------
# Scenarios: the pre-migrated pool (prewarm = base) against an empty claim
# and the cold migration, 60 and 600 tables
# --------------------------------------------------------------------------

PREWARM_SHA = "5" * 40
PREWARM_REPOS = {"prewarm": "acme/shop", "cold": "acme/cold", "empty": "acme/empty"}
PREWARM_SEED_ROWS = 5000
PREWARM_TABLES_PER_FILE = 10
COPY_LINE = re.compile(r"a copy of the base of \S+ at \w+ \((\d+) ms\)")


def prewarm_tree(engine, tables):
    """A repository whose migrations create `tables` tables, ten a file,
    and whose seed inserts PREWARM_SEED_ROWS rows: the schema
    bench/clone_strategies.py copies (each table with a primary key, a
    foreign key to the table before it, a unique and two more secondary
    indexes), as {path: text}."""
    from clone_strategies import SEED_ROWS, schema   # noqa: E402 (bench/)

    assert SEED_ROWS == PREWARM_SEED_ROWS
    files, seed = {}, []
    for stmt in schema(engine, tables):
        if stmt.startswith("INSERT "):
            seed.append(stmt + ";")
            continue
        table = int(re.search(r"\bt(\d{4})\b", stmt).group(1))
        first = table - table % PREWARM_TABLES_PER_FILE
        name = "db/migrations/%03d_tables_%04d.sql" % (
            first // PREWARM_TABLES_PER_FILE + 1, first)
        files[name] = files.get(name, "") + stmt + ";\n"
    files["db/seed.sql"] = "\n".join(seed) + "\n"
    return files


def prewarm_idle(d):
    """previewd_prewarm_idle of the prewarmed repository, from /metrics."""
    status, _, body = d.request("GET", "/metrics")
    if status != 200:
        raise BenchFailure("/metrics answered %d" % status)
    key = 'previewd_prewarm_idle{provider="github",repo="%s"' % PREWARM_REPOS["prewarm"]
    for line in body.decode().splitlines():
        if line.startswith(key):
            return int(float(line.split()[-1]))
    return 0


def run_prewarm(bench, sc):
    """One daemon, three repositories on one engine: acme/empty (no
    migrations: the empty claim), acme/shop (prewarm = base, prewarm_size =
    2) and acme/cold (the same migrations and seed, no prewarm), both read
    from the forge stand-in at one commit, the default branch's head.

    Once the base and its two copies are ready, rounds of one empty claim
    and one prewarmed claim, alternated so that both see the same machine;
    before each prewarmed claim the bench waits only until one copy is
    idle, not until the copies are all made again: the claim then runs
    while the copy that replaces the previous one is being made (the
    refill under which p99 is measured).  Then the cold path's samples,
    each on a quiet daemon.  Every prewarmed sample must say
    "schema_from": "base:<sha>" and every cold one "empty"; a few of each
    are counted (tables, migration records, seed rows)."""
    import forge_stub   # noqa: E402  (tests/integration/forge_stub.py)

    p = sc.params
    count = bench.args.prewarm_samples
    cold_count = bench.args.prewarm_cold_samples
    if count <= 0:
        return ScenarioResult(details=["%s: skipped (0 samples)" % sc.name])
    db = bench.db(p["engine"])
    files = prewarm_tree(p["engine"], p["tables"])
    nfiles = len(files) - 1
    want = (p["tables"] + 1, nfiles + 1)        # + previewd_migrations; + the seed's record
    empty, warm, cold, copies = Samples(), Samples(), Samples(), []
    fell_back = []
    base_ms = None
    with forge_stub.ForgeStub() as forge:
        forge.github_token = "ghp_bench_prewarm_token"
        for repo in (PREWARM_REPOS["prewarm"], PREWARM_REPOS["cold"]):
            forge.set_tree(repo, PREWARM_SHA, files)
        forge.set_default_branch(PREWARM_REPOS["prewarm"], "main", PREWARM_SHA)
        config = latency_config(db, 4)
        del config["repo:" + REPO]
        eng = {} if db.engine == "postgres" else {"engine": db.engine}
        migrated = dict(eng, migrations="repo:db/migrations", seed="repo:db/seed.sql")
        config["repo:" + PREWARM_REPOS["empty"]] = dict(eng)
        config["repo:" + PREWARM_REPOS["cold"]] = dict(migrated)
        config["repo:" + PREWARM_REPOS["prewarm"]] = dict(migrated, prewarm="base",
                                                          prewarm_size="2")
        config["github"] = {"api_url": forge.url, "token": forge.github_token}

        def check(doc, source):
            if doc.get("schema_from") != source:
                raise BenchFailure("%s PR %s: schema_from %r, expected %r"
                                   % (sc.name, doc.get("number"), doc.get("schema_from"),
                                      source))
            got = db.schema(doc["database"])
            if got != want:
                raise BenchFailure("%s PR %s: database %s has %d tables and %d migration "
                                   "records, expected %d and %d"
                                   % (sc.name, doc.get("number"), doc["database"], got[0],
                                      got[1], want[0], want[1]))

        def sample(m, d, number, repo):
            post_ms, total_ms, _env, doc = post_and_wait(sc, d, number, PREWARM_SHA, repo)
            m.totals.append(total_ms)
            m.posts.append(post_ms)
            return doc

        with bench.daemon(sc.name, config) as d:
            log = LogReader(d.log_path)
            try:
                t0 = time.monotonic()
                drv.wait_until(lambda: prewarm_idle(d) >= 2, timeout=900, interval=0.05,
                               what="the base and its two copies")
                base_ms = (time.monotonic() - t0) * 1000
                say("%s: %d tables in %d files + %d seed rows; base and 2 copies ready "
                    "%.1fs after start; %d rounds, %d cold samples"
                    % (sc.name, p["tables"], nfiles, PREWARM_SEED_ROWS, base_ms / 1000,
                       count, cold_count))
                number = p["first_pr"]
                for i in range(count):
                    sample(empty, d, number, PREWARM_REPOS["empty"])
                    drv.wait_until(lambda: prewarm_idle(d) >= 1, timeout=SETTLE_TIMEOUT,
                                   interval=0.01, what="a copy of the base")
                    doc = sample(warm, d, number + 1, PREWARM_REPOS["prewarm"])
                    if doc.get("schema_from") != "base:" + PREWARM_SHA:
                        # Not a prewarmed claim: left out of its figures.
                        fell_back.append(number + 1)
                        del warm.totals[-1], warm.posts[-1]
                    elif i % 10 == 0 or i == count - 1:
                        check(doc, "base:" + PREWARM_SHA)
                    number += 2
                q = Quiescence(bench, db, d, 4 + 2)     # + the base's copies
                try:
                    for i in range(cold_count):
                        q.wait("a quiet daemon before cold sample %d" % i)
                        doc = sample(cold, d, number, PREWARM_REPOS["cold"])
                        if i % 10 == 0 or i == cold_count - 1:
                            check(doc, "empty")
                        number += 1
                finally:
                    q.close()
                copies = [int(m.group(1)) for _ts, _lvl, msg in log.new_lines()
                          for m in [COPY_LINE.search(msg)] if m]
            except (BenchFailure, AssertionError, OSError, http.client.HTTPException,
                    ValueError) + DB_ERRORS as e:
                bench.fail("%s: %s" % (sc.name, e))
    db.reset()
    return prewarm_figures(bench, sc, empty, warm, cold, copies, fell_back, base_ms)


def prewarm_figures(bench, sc, empty, warm, cold, copies, fell_back, base_ms):
    res = ScenarioResult()
    if not (empty.totals and warm.totals):
        res.details.append("%s: no valid samples" % sc.name)
        return res

    def stats(t):
        return {"n": len(t), "p50": percentile(t, 50), "p99": percentile(t, 99),
                "min": min(t), "max": max(t)} if t else None

    e, w, c = stats(empty.totals), stats(warm.totals), stats(cold.totals)
    res.data = {"empty": e, "warm": w, "cold": c, "fell_back": len(fell_back),
                "ratio": w["p50"] / e["p50"], "tail": w["p99"] / w["p50"]}
    for key, label, s in (("empty", "empty claim (no schema)", e),
                          ("warm", "prewarmed claim, copies refilling", w),
                          ("cold", "cold: migrate + seed from empty", c)):
        if s is None:
            continue
        res.rows.append(Row(sc.name, "%s p50 / p99 (n)" % label, "%s / %s (n=%d)"
                            % (fmt_ms(s["p50"]), fmt_ms(s["p99"]), s["n"]),
                            "%s.%s" % (sc.name, key)))
    res.rows.append(Row(sc.name, "prewarmed p50 / empty p50", "%.2fx" % res.data["ratio"],
                        sc.name + ".ratio"))
    res.rows.append(Row(sc.name, "prewarmed p99 / prewarmed p50", "%.2fx" % res.data["tail"],
                        sc.name + ".tail"))
    if c is not None:
        res.rows.append(Row(sc.name, "cold p50 / prewarmed p50", "%.0fx"
                            % (c["p50"] / w["p50"]), sc.name + ".gain"))
    res.details.append(
        "%s: %d tables, %d seed rows; base built and copied twice %s after start; a copy "
        "(refill) took p50 %s, max %s over %d copies; %d prewarmed sample(s) fell back "
        "to an empty member%s" % (
            sc.name, sc.params["tables"], PREWARM_SEED_ROWS, fmt_ms(base_ms),
            fmt_ms(median(copies)) if copies else "-", fmt_ms(max(copies)) if copies else "-",
            len(copies), len(fell_back),
            " (PRs %s)" % fell_back[:10] if fell_back else ""))
    return res


# --------------------------------------------------------------------------
# Scenario: webhook throughput with wrk
# --------------------------------------------------------------------------

def _user(login, uid, kind="User"):
    api = "https://api.github.com/users/" + login
    return {
        "login": login, "id": uid, "node_id": "MDQ6VXNlcj%d" % uid,
        "avatar_url": "https://avatars.githubusercontent.com/u/%d?v=4" % uid,
        "gravatar_id": "", "url": api, "html_url": "https://github.com/" + login,
        "followers_url": api + "/followers",
        "following_url": api + "/following{/other_user}",
        "gists_url": api + "/gists{/gist_id}",
        "starred_url": api + "/starred{/owner}{/repo}",
        "subscriptions_url": api + "/subscriptions",
        "organizations_url": api + "/orgs", "repos_url": api + "/repos",
        "events_url": api + "/events{/privacy}",
        "received_events_url": api + "/received_events",
        "type": kind, "user_view_type": "public", "site_admin": False,
    }


def _enrich_repo(r):
    """Add the fields and *_url templates GitHub sends with a repository."""
    api = r["url"]
    owner = r["owner"]
    r["owner"] = _user(owner["login"], owner["id"], owner.get("type", "User"))
    templates = {
        "forks_url": "/forks", "keys_url": "/keys{/key_id}",
        "collaborators_url": "/collaborators{/collaborator}", "teams_url": "/teams",
        "hooks_url": "/hooks", "issue_events_url": "/issues/events{/number}",
        "events_url": "/events", "assignees_url": "/assignees{/user}",
        "branches_url": "/branches{/branch}", "tags_url": "/tags",
        "blobs_url": "/git/blobs{/sha}", "git_tags_url": "/git/tags{/sha}",
        "git_refs_url": "/git/refs{/sha}", "trees_url": "/git/trees{/sha}",
        "statuses_url": "/statuses/{sha}", "languages_url": "/languages",
        "stargazers_url": "/stargazers", "contributors_url": "/contributors",
        "subscribers_url": "/subscribers", "subscription_url": "/subscription",
        "commits_url": "/commits{/sha}", "git_commits_url": "/git/commits{/sha}",
        "comments_url": "/comments{/number}",
        "issue_comment_url": "/issues/comments{/number}",
        "contents_url": "/contents/{+path}", "compare_url": "/compare/{base}...{head}",
        "merges_url": "/merges", "archive_url": "/{archive_format}{/ref}",
        "downloads_url": "/downloads", "issues_url": "/issues{/number}",
        "pulls_url": "/pulls{/number}", "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}",
        "labels_url": "/labels{/name}", "releases_url": "/releases{/id}",
        "deployments_url": "/deployments",
    }
    for k, suffix in templates.items():
        r[k] = api + suffix
    full = r["full_name"]
    r.update({
        "description": "The shop: storefront, checkout and the order pipeline.",
        "created_at": "2019-03-14T09:26:53Z", "updated_at": "2024-11-02T17:01:12Z",
        "pushed_at": "2024-11-05T08:44:31Z",
        "git_url": "git://github.com/%s.git" % full,
        "ssh_url": "git@github.com:%s.git" % full,
        "svn_url": "https://github.com/" + full, "homepage": "https://shop.example.com",
        "size": 48213, "stargazers_count": 41, "watchers_count": 41, "language": "Python",
        "has_issues": True, "has_projects": True, "has_downloads": True, "has_wiki": False,
        "has_pages": False, "has_discussions": False, "forks_count": 3, "mirror_url": None,
        "archived": False, "disabled": False, "open_issues_count": 27,
        "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT",
                    "url": "https://api.github.com/licenses/mit", "node_id": "MDc6TGljZW5zZTEz"},
        "allow_forking": True, "is_template": False, "web_commit_signoff_required": False,
        "topics": ["ecommerce", "django", "postgresql", "checkout"],
        "visibility": "private" if r.get("private") else "public",
        "forks": 3, "open_issues": 27, "watchers": 41,
        "allow_squash_merge": True, "allow_merge_commit": False, "allow_rebase_merge": True,
        "allow_auto_merge": True, "delete_branch_on_merge": True,
        "allow_update_branch": True, "use_squash_pr_title_as_default": True,
        "squash_merge_commit_message": "PR_BODY", "squash_merge_commit_title": "PR_TITLE",
        "merge_commit_message": "PR_TITLE", "merge_commit_title": "MERGE_MESSAGE",
    })


_BODY_TEXT = """## Summary

Moves the order pipeline's price calculation out of the checkout view and into
`orders/pricing.py`, so that the API, the admin and the nightly invoice job all
compute totals the same way. Tax rounding now happens once per line instead of
once per order, which matches what the accounting export already assumes.

## Changes

- `orders/pricing.py`: new `price_order()` with per-line tax rounding
- `checkout/views.py`: uses `price_order()`; the inline arithmetic is gone
- `api/serializers.py`: totals come from the same function
- migration `0042_order_line_tax`: stores the rounded tax per line
- tests for mixed tax rates, discounts over several lines and zero-priced lines

## How to test

1. Open the preview environment's storefront and add three products with
   different tax rates to the cart.
2. Apply the code `SPRING10` and check that the total matches the invoice PDF.
3. Run `make test-integration` against the preview database (its URL is in the
   CI job's environment as `DATABASE_URL`).

## Checklist

- [x] Tests added
- [x] Migration is reversible
- [ ] Docs updated (follow-up: #1187)
- [x] No new settings

```python
def price_order(order):
    lines = [price_line(l) for l in order.lines.all()]
    return Totals(net=sum(l.net for l in lines), tax=sum(l.tax for l in lines))
```

Closes #1174. Related: #1102, #1133.

"""


def labeled_payload(number, size):
    """A real-looking `pull_request` "labeled" delivery of exactly size bytes
    (compact JSON, as GitHub sends it): pr_payload's fields, plus the full
    user and repository objects with their *_url fields, labels, reviewers,
    _links, and a long Markdown body padded to reach size."""
    p = drv.pr_payload("labeled", number, repo=REPO)
    pr = p["pull_request"]
    repo = p["repository"]            # also head.repo and base.repo (same object)
    _enrich_repo(repo)
    owner = repo["owner"]
    octocat = _user("octocat", 583231)
    reviewers = [_user("hubot", 1000001)]
    label = {"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
             "url": repo["url"] + "/labels/needs-review", "name": "needs-review",
             "color": "f29513", "default": False,
             "description": "Ready for someone to look at it"}
    labels = [label, dict(label, id=208045947, name="backend", color="0e8a16",
                          url=repo["url"] + "/labels/backend",
                          description="Server-side change")]
    api_pr = pr["url"]
    html_pr = pr["html_url"]
    issue = "%s/issues/%d" % (repo["url"], number)
    pr.update({
        "node_id": "PR_kwDOAbCdEf%d" % number, "diff_url": html_pr + ".diff",
        "patch_url": html_pr + ".patch", "issue_url": issue,
        "user": octocat, "assignee": None, "assignees": [],
        "requested_reviewers": reviewers, "requested_teams": [], "labels": labels,
        "milestone": None, "commits_url": api_pr + "/commits",
        "review_comments_url": api_pr + "/comments",
        "review_comment_url": repo["url"] + "/pulls/comments{/number}",
        "comments_url": issue + "/comments",
        "statuses_url": repo["url"] + "/statuses/" + pr["head"]["sha"],
        "merge_commit_sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6",
        "author_association": "MEMBER", "auto_merge": None, "active_lock_reason": None,
        "_links": {k: {"href": v} for k, v in (
            ("self", api_pr), ("html", html_pr), ("issue", issue),
            ("comments", issue + "/comments"), ("review_comments", api_pr + "/comments"),
            ("review_comment", repo["url"] + "/pulls/comments{/number}"),
            ("commits", api_pr + "/commits"),
            ("statuses", repo["url"] + "/statuses/" + pr["head"]["sha"]))},
        "merged_by": None, "comments": 4, "review_comments": 7,
        "maintainer_can_modify": False, "commits": 6, "additions": 412, "deletions": 187,
        "changed_files": 11, "mergeable": True, "rebaseable": True,
        "mergeable_state": "clean",
    })
    pr["head"]["user"] = owner
    pr["base"]["user"] = owner
    p["label"] = label
    p["sender"] = octocat
    p["organization"] = {
        "login": owner["login"], "id": owner["id"], "node_id": owner["node_id"],
        "url": "https://api.github.com/orgs/" + owner["login"],
        "repos_url": "https://api.github.com/orgs/%s/repos" % owner["login"],
        "events_url": "https://api.github.com/orgs/%s/events" % owner["login"],
        "hooks_url": "https://api.github.com/orgs/%s/hooks" % owner["login"],
        "issues_url": "https://api.github.com/orgs/%s/issues" % owner["login"],
        "members_url": "https://api.github.com/orgs/%s/members{/member}" % owner["login"],
        "public_members_url":
            "https://api.github.com/orgs/%s/public_members{/member}" % owner["login"],
        "avatar_url": owner["avatar_url"], "description": "Acme Corporation",
    }

    def encode(text):
        pr["body"] = text
        return json.dumps(p, separators=(",", ":")).encode()

    base = len(encode(""))
    if base > size:
        raise ValueError("payload without body is already %d bytes > %d" % (base, size))
    long_text = _BODY_TEXT * (size // len(_BODY_TEXT) + 2)
    k = size - base
    for _ in range(50):
        body = encode(long_text[:k])
        diff = size - len(body)
        if diff == 0:
            return body
        k += diff if diff > 0 else max(diff, -k)
        if diff < 0 and diff > -2:
            k -= 1
    # An escape (\n is two bytes) straddles the cut: pad with spaces.
    text = long_text[:k]
    while len(encode(text)) > size:
        text = text[:-1]
    text += " " * (size - len(encode(text)))
    return encode(text)


class RssSampler(threading.Thread):
    """Samples VmRSS of a process every interval seconds while running."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.peak = 0
        self.count = 0

    def run(self):
        while not self.stop_event.is_set():
            v = status_bytes(proc_status(self.pid), "VmRSS")
            if v is not None:
                with self.lock:
                    self.peak = max(self.peak, v)
                    self.count += 1
            self.stop_event.wait(self.interval)

    def stop(self):
        self.stop_event.set()
        self.join(5)


NON2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
SOCKET_ERRORS = re.compile(r"Socket errors:\s*connect (\d+), read (\d+), write (\d+), timeout (\d+)")


DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def run_wrk(bench, url, conns, duration, body_file, signature, close=False):
    threads = max(1, min(bench.args.wrk_threads, conns))
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration, "--latency",
           "-s", str(HERE / "webhook.lua"), url, "--", str(body_file), signature,
           DELIVERY, "pull_request"] + (["close"] if close else [])
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=duration + 60)
    m = [line for line in r.stdout.splitlines() if line.startswith("BENCH_JSON ")]
    if r.returncode != 0 or not m:
        raise BenchFailure("wrk failed (exit %d): %s\n%s" % (
            r.returncode, " ".join(shlex.quote(c) for c in cmd), r.stdout[-2000:]))
    fig = json.loads(m[-1][len("BENCH_JSON "):])
    text_non2xx = NON2XX.search(r.stdout)
    fig["non2xx"] = max(fig["errors"]["status"], int(text_non2xx.group(1)) if text_non2xx else 0)
    sock = SOCKET_ERRORS.search(r.stdout)
    fig["socket_errors"] = sum(int(x) for x in sock.groups()) if sock else sum(
        fig["errors"][k] for k in ("connect", "read", "write", "timeout"))
    fig["rps"] = fig["requests"] / (fig["duration_us"] / 1e6)
    fig["cmd"] = cmd
    fig["raw"] = r.stdout
    return fig


def _throughput_run(bench, sc, c, body, body_file, close):
    """One connection count against a fresh daemon (so its VmHWM is this
    run's peak): fill the pool, pre-flight, warm up, measure."""
    args = bench.args
    db = bench.db("postgres")
    name = "%s-c%d%s" % (sc.name, c, "-close" if close else "")
    fig = None
    with bench.daemon(name, latency_config(db, sc.params["pool_size"])) as d:
        q = Quiescence(bench, db, d, sc.params["pool_size"])
        try:
            q.wait("the pool to fill at start")
        finally:
            q.close()
        signature = drv.sign_github(body, d.webhook_secret)
        url = d.base_url + "/webhooks/github"
        # Pre-flight: the exact request, once, must take the ignored path.
        st, _, rb = d.request("POST", "/webhooks/github", body=body, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": DELIVERY,
            "X-Hub-Signature-256": signature})
        if st != 204:
            raise BenchFailure("pre-flight webhook answered %d %r, expected 204"
                               % (st, rb[:300]))
        pid = d.proc.pid
        sampler = RssSampler(pid)
        sampler.start()
        try:
            if args.wrk_warmup > 0:
                run_wrk(bench, url, c, args.wrk_warmup, body_file, signature, close)
            meter = bench.cpu_meter(pid)
            meter.start()
            fig = run_wrk(bench, url, c, args.wrk_duration, body_file, signature, close)
            fig["cpu"] = meter.stop()
        finally:
            sampler.stop()
        status = proc_status(pid)
        fig["conns"] = c
        fig["close"] = close
        fig["label"] = "c=%d%s" % (c, " new conn/req" if close else "")
        fig["rss_peak"] = sampler.peak
        fig["vmhwm"] = status_bytes(status, "VmHWM")
        fig["threads"] = status.get("Threads")
        fig["warnings"] = [line for line in d.log().splitlines()
                           if " warn " in line or " error " in line]
    db.reset()
    return fig


def run_throughput(bench, sc):
    """wrk POSTs one signed ~25 KB "labeled" pull_request webhook (an
    action previewd ignores) over keep-alive connections, once per
    connection count, each against a fresh daemon; VmRSS sampled during the
    run, VmHWM read at its end."""
    args = bench.args
    res = ScenarioResult()
    if not shutil.which("wrk"):
        bench.fail("%s: wrk is not installed (apt-get install wrk)" % sc.name)
        return res
    body = labeled_payload(4242, args.payload_bytes)
    body_file = bench.workdir / "labeled-webhook.json"
    body_file.write_bytes(body)
    plan = [(c, False) for c in args.connections] + [(c, True) for c in args.close_connections]
    say("%s: body %d bytes; runs %s; %ds each after a %ds warm-up"
        % (sc.name, len(body), ", ".join("c=%d%s" % (c, " (Connection: close)" if cl else "")
                                         for c, cl in plan),
           args.wrk_duration, args.wrk_warmup))
    runs = []
    for c, close in plan:
        label = "c=%d%s" % (c, " new conn/req" if close else "")
        try:
            fig = _throughput_run(bench, sc, c, body, body_file, close)
        except (BenchFailure, AssertionError, subprocess.TimeoutExpired, OSError,
                ValueError) as e:
            bench.fail("%s %s: %s" % (sc.name, label, e))
            continue
        if fig is None:
            continue
        runs.append(fig)
        check_noise(bench, "%s %s" % (sc.name, label), fig["cpu"])
        say("%s: %s: %.0f req/s, p50 %s p99 %s, non-2xx %d, socket errors %d, "
            "peak RSS %s; cores: %s"
            % (sc.name, label, fig["rps"], fmt_ms(fig["latency_us"]["p50"] / 1000),
               fmt_ms(fig["latency_us"]["p99"] / 1000), fig["non2xx"],
               fig["socket_errors"], fmt_mib(max(fig["vmhwm"] or 0, fig["rss_peak"])),
               fmt_cpu(fig["cpu"])))
        if fig["non2xx"] or fig["socket_errors"]:
            bench.fail("%s: %s: %d non-2xx answers, %d socket errors"
                       % (sc.name, label, fig["non2xx"], fig["socket_errors"]))
        if fig["warnings"]:
            bench.note("%s %s: previewd logged %d warning/error line(s), first: %s"
                       % (sc.name, label, len(fig["warnings"]), fig["warnings"][0][:200]))
    if not runs:
        return res
    for f in runs:
        f["peak"] = max(f["vmhwm"] or 0, f["rss_peak"] or 0)
    keepalive = [f for f in runs if not f["close"]] or runs
    best = max(keepalive, key=lambda f: f["rps"])
    worst_rss = max(runs, key=lambda f: f["peak"])
    all_2xx = all(f["non2xx"] == 0 and f["socket_errors"] == 0 for f in runs)
    res.data = {"runs": runs, "best_rps": best["rps"], "best_conns": best["conns"],
                "all_2xx": all_2xx, "peak_rss": worst_rss["peak"],
                "payload_bytes": len(body)}
    for f in runs:
        lat = f["latency_us"]
        res.rows.append(Row(sc.name, "%s: req/s, p50 / p99, peak RSS" % f["label"],
                            "%.0f, %s / %s, %s" % (f["rps"], fmt_ms(lat["p50"] / 1000),
                                                   fmt_ms(lat["p99"] / 1000),
                                                   fmt_mib(f["peak"])),
                            "%s.%s" % (sc.name, f["label"])))
    res.rows.append(Row(sc.name, "best req/s, keep-alive", "%.0f (%s)" % (
        best["rps"], best["label"]), sc.name + ".best"))
    res.rows.append(Row(sc.name, "answers 2xx", "%d of %d%s" % (
        sum(f["requests"] - f["non2xx"] for f in runs), sum(f["requests"] for f in runs),
        "" if all_2xx else " (socket errors: %d)" % sum(f["socket_errors"] for f in runs)),
        sc.name + ".2xx"))
    res.rows.append(Row(sc.name, "peak RSS, worst run", "%s (%s)" % (
        fmt_mib(worst_rss["peak"]), worst_rss["label"]), sc.name + ".rss"))
    res.details.append("%s: payload %d bytes, wrk -t%d, %ds per run after a %ds warm-up, "
                       "a fresh daemon per connection count; CPU in cores (of %d):" % (
                           sc.name, len(body), args.wrk_threads, args.wrk_duration,
                           args.wrk_warmup, os.cpu_count()))
    for f in runs:
        lat = f["latency_us"]
        res.details.append(
            "  %s: %.0f req/s, %d requests, latency p50 %s p90 %s p99 %s max %s; "
            "VmHWM %s, VmRSS sampled max %s, threads %s; cores: %s"
            % (f["label"], f["rps"], f["requests"], fmt_ms(lat["p50"] / 1000),
               fmt_ms(lat["p90"] / 1000), fmt_ms(lat["p99"] / 1000),
               fmt_ms(lat["max"] / 1000), fmt_mib(f["vmhwm"]), fmt_mib(f["rss_peak"]),
               f["threads"], fmt_cpu(f["cpu"])))
    res.details.append("  command: " + " ".join(shlex.quote(c) for c in runs[0]["cmd"]))
    return res


def create_and_wait(sc, d, key):
    """One POST /api/v1/databases?wait=true as a CI job sends it, on a
    connection opened before the clock; (ms, status, JSON)."""
    body = json.dumps({"name": "bench-" + key}).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key,
               "Authorization": "Bearer " + d.ci_token}
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=READY_WAIT + 30)
    conn.connect()
    try:
        start = time.perf_counter()
        conn.request("POST", "/api/v1/databases?wait=true", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        end = time.perf_counter()
    finally:
        conn.close()
    doc = json.loads(data)
    if r.status not in (200, 201) or doc.get("data", {}).get("status") != "ready":
        raise BenchFailure("%s %s: answered %d %r" % (sc.name, key, r.status, data[:300]))
    return (end - start) * 1000, r.status, doc["data"]


def run_ci_databases(bench, sc):
    """POST /api/v1/databases?wait=true with a new Idempotency-Key, from a
    full warm pool (refilled and quiet before each sample), then the same
    call again (a replay: 200, the same database).  params: engine,
    pool_size, samples_arg."""
    p = sc.params
    count = _sample_count(bench, sc)
    if count <= 0:
        return ScenarioResult(details=["%s: skipped (0 samples)" % sc.name])
    db = bench.db(p["engine"])
    config = latency_config(db, p["pool_size"])
    config["server"]["max_databases"] = count + 10
    created, replays = [], []
    with bench.daemon(sc.name, config) as d:
        q = Quiescence(bench, db, d, p["pool_size"])
        try:
            q.wait("the pool to fill at start")
            for i in range(count):
                key = "%s-%d" % (uuid.uuid4().hex[:12], i)
                ms, status, data = create_and_wait(sc, d, key)
                if status != 201:
                    raise BenchFailure("%s: a new key answered %d" % (sc.name, status))
                created.append(ms)
                q.wait("the pool to refill after sample %d" % i)
                ms2, status2, again = create_and_wait(sc, d, key)
                if status2 != 200 or again["id"] != data["id"]:
                    raise BenchFailure("%s: the replay answered %d for %s"
                                       % (sc.name, status2, again.get("id")))
                replays.append(ms2)
        except (BenchFailure, AssertionError, OSError, http.client.HTTPException,
                ValueError) as e:
            bench.fail("%s: %s" % (sc.name, e))
        finally:
            q.close()
    db.reset()
    res = ScenarioResult()
    if not created:
        res.details.append("%s: no valid samples" % sc.name)
        return res
    res.data = {"p50": percentile(created, 50), "p99": percentile(created, 99),
                "replay_p50": percentile(replays, 50) if replays else None,
                "n": len(created)}
    res.rows = [
        Row(sc.name, "POST → ready p50", fmt_ms(res.data["p50"]), sc.name + ".p50"),
        Row(sc.name, "POST → ready p99", fmt_ms(res.data["p99"]), sc.name + ".p99"),
        Row(sc.name, "replay (same key) p50", fmt_ms(res.data["replay_p50"]),
            sc.name + ".replay"),
    ]
    res.details.append("%s: n=%d min %s p50 %s p99 %s max %s; replays p50 %s"
                       % (sc.name, len(created), fmt_ms(min(created)),
                          fmt_ms(res.data["p50"]), fmt_ms(res.data["p99"]),
                          fmt_ms(max(created)), fmt_ms(res.data["replay_p50"])))
    return res


# --------------------------------------------------------------------------
# The list: add rows here
# --------------------------------------------------------------------------

SCENARIOS = [
    Scenario("pg-pool", "PostgreSQL, warm pool (pool_size = 4): webhook → ready",
             run_latency, {"engine": "postgres", "pool_size": 4,
                           "samples_arg": "pool_samples", "expect": "pool",
                           "first_pr": 1000}),
    Scenario("pg-pool-pgbouncer", "PostgreSQL, warm pool (pool_size = 4) with "
             "[pgbouncer] mode = managed: webhook → ready", run_latency,
             {"engine": "postgres", "pool_size": 4, "samples_arg": "pool_samples",
              "expect": "pool", "first_pr": 5000, "pgbouncer": True}),
    Scenario("pg-claim-floor", "PostgreSQL, the claim's SQL alone on an open admin "
             "connection (the floor of pg-pool)", run_claim_floor),
    Scenario("mysql-pool", "MariaDB, warm pool (pool_size = 4): webhook → ready",
             run_latency, {"engine": "mysql", "pool_size": 4,
                           "samples_arg": "pool_samples", "expect": "pool",
                           "first_pr": 3000}),
    Scenario("pg-cold", "PostgreSQL, cold path (pool_size = 0): webhook → ready",
             run_latency, {"engine": "postgres", "pool_size": 0,
                           "samples_arg": "cold_samples", "expect": "cold",
                           "first_pr": 2000}),
    Scenario("mysql-cold", "MariaDB, cold path (pool_size = 0): webhook → ready",
             run_latency, {"engine": "mysql", "pool_size": 0,
                           "samples_arg": "cold_samples", "expect": "cold",
                           "first_pr": 4000}),
    Scenario("pg-migrations-60", "PostgreSQL, warm pool, 60 tables of migrations: "
             "webhook → ready",
             run_migrations, {"engine": "postgres", "pool_size": 4,
                              "samples_arg": "migration_samples", "first_pr": 5000,
                              "fixture": "migrations-60", "baseline": "pg-pool"}),
    Scenario("mysql-migrations-60", "MariaDB, warm pool, 60 tables of migrations: "
             "webhook → ready",
             run_migrations, {"engine": "mysql", "pool_size": 4,
                              "samples_arg": "migration_samples", "first_pr": 6000,
                              "fixture": "migrations-60", "baseline": "mysql-pool"}),
    Scenario("pg-prisma-300", "PostgreSQL, warm pool, a Prisma repository of 300 "
             "migrations read from the forge: webhook → ready",
             run_prisma, {"engine": "postgres", "pool_size": 4, "migrations": 300,
                          "samples_arg": "prisma_samples", "first_pr": 7000,
                          "sha": PRISMA_SHA}),
    Scenario("pg-prewarm-60", "PostgreSQL, 60 tables + seed: prewarmed claim vs empty "
             "claim vs cold migrate", run_prewarm,
             {"engine": "postgres", "tables": 60, "first_pr": 8000}),
    Scenario("mysql-prewarm-60", "MariaDB, 60 tables + seed: prewarmed claim vs empty "
             "claim vs cold migrate", run_prewarm,
             {"engine": "mysql", "tables": 60, "first_pr": 8500}),
    Scenario("pg-prewarm-600", "PostgreSQL, 600 tables + seed: prewarmed claim vs empty "
             "claim vs cold migrate", run_prewarm,
             {"engine": "postgres", "tables": 600, "first_pr": 9000}),
    Scenario("mysql-prewarm-600", "MariaDB, 600 tables + seed: prewarmed claim vs empty "
             "claim vs cold migrate", run_prewarm,
             {"engine": "mysql", "tables": 600, "first_pr": 9500}),
    Scenario("pg-ci-db", "PostgreSQL, warm pool (pool_size = 4): "
             "POST /api/v1/databases?wait=true → ready",
             run_ci_databases, {"engine": "postgres", "pool_size": 4,
                                "samples_arg": "pool_samples"}),
    Scenario("webhook-ignored", "signed ~25 KB pull_request \"labeled\" webhooks (wrk)",
             run_throughput, {"pool_size": 4}),
]


def _lat(results, name, key):
    return results[name].data.get(key)


def _check_le(value, limit):
    return value is not None and value <= limit


def _prewarm_targets():
    """Issue 15: a prewarmed claim at most 2x an empty claim, whatever the
    schema, and its p99 under 3x its p50 while copies are refilled."""
    out = []
    for name in ("pg-prewarm-60", "mysql-prewarm-60", "pg-prewarm-600",
                 "mysql-prewarm-600"):
        out.append(Target(name + ".ratio", "<= 2x", (name,),
                          lambda R, n=name: (_check_le(R[n].data.get("ratio"), 2.0), "")))
        out.append(Target(name + ".tail", "< 3x", (name,),
                          lambda R, n=name: (R[n].data.get("tail") is not None and
                                             R[n].data["tail"] < 3.0, "")))
    return out


TARGETS = _prewarm_targets() + [
    Target("pg-ci-db.p50", "<= 10 ms", ("pg-ci-db",),
           lambda R: (_check_le(_lat(R, "pg-ci-db", "p50"), 10.0), "")),
    Target("pg-pool.p50", "<= 10 ms", ("pg-pool",),
           lambda R: (_check_le(_lat(R, "pg-pool", "p50"), 10.0), "")),
    Target("pg-pool.p50", "<= 1/2 cold p50", ("pg-pool", "pg-cold"),
           lambda R: (_lat(R, "pg-pool", "p50") is not None and
                      _lat(R, "pg-cold", "p50") is not None and
                      _lat(R, "pg-pool", "p50") <= _lat(R, "pg-cold", "p50") / 2,
                      "cold p50 / 2 = %s" % fmt_ms(_lat(R, "pg-cold", "p50") / 2)
                      if _lat(R, "pg-cold", "p50") is not None else "no cold figure")),
    Target("pg-pool-pgbouncer.p50", "<= 10 ms", ("pg-pool-pgbouncer", "pg-pool"),
           lambda R: (_check_le(_lat(R, "pg-pool-pgbouncer", "p50"), 10.0),
                      "pg-pool p50 %s: pgbouncer's entry and RELOAD add %s" % (
                          fmt_ms(_lat(R, "pg-pool", "p50")),
                          fmt_ms(_lat(R, "pg-pool-pgbouncer", "p50") -
                                 _lat(R, "pg-pool", "p50")))
                      if _lat(R, "pg-pool", "p50") is not None and
                      _lat(R, "pg-pool-pgbouncer", "p50") is not None else "")),
    Target("mysql-pool.p50", "reported next to PostgreSQL's", ("mysql-pool", "pg-pool"),
           lambda R: (_lat(R, "mysql-pool", "p50") is not None and
                      _lat(R, "pg-pool", "p50") is not None,
                      "pg-pool p50 %s, MariaDB / PostgreSQL %.1fx" % (
                          fmt_ms(_lat(R, "pg-pool", "p50")),
                          _lat(R, "mysql-pool", "p50") / _lat(R, "pg-pool", "p50")))),
    Target("webhook-ignored.best", ">= 15000 req/s, all 2xx", ("webhook-ignored",),
           lambda R: (R["webhook-ignored"].data.get("best_rps", 0) >= 15000 and
                      R["webhook-ignored"].data.get("all_2xx", False), "")),
    Target("webhook-ignored.2xx", "every answer 2xx", ("webhook-ignored",),
           lambda R: (R["webhook-ignored"].data.get("all_2xx", False), "")),
    Target("webhook-ignored.rss", "< 32 MiB", ("webhook-ignored",),
           lambda R: (R["webhook-ignored"].data.get("peak_rss") is not None and
                      R["webhook-ignored"].data["peak_rss"] < 32 * MIB, "")),
]


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def table_rows(results):
    out = []   # (scenario, measure, value, target, verdict)
    for name, res in results.items():
        for row in res.rows:
            targets = [t for t in TARGETS if t.key == row.key
                       and all(n in results for n in t.needs)]
            if not targets:
                out.append((row.scenario, row.measure, row.value, "", ""))
                continue
            for i, t in enumerate(targets):
                try:
                    ok, note = t.check(results)
                except (KeyError, TypeError, ZeroDivisionError):
                    ok, note = False, "no figure"
                verdict = "ok" if ok else "MISSED"
                if note:
                    verdict += " (%s)" % note
                if i == 0:
                    out.append((row.scenario, row.measure, row.value, t.text, verdict))
                else:
                    out.append(("", "", "", t.text, verdict))
    return out


def text_table(rows):
    head = ("scenario", "measure", "figure", "target", "result")
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(5)]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep] + [line(r) for r in rows])


def md_escape(s):
    return str(s).replace("|", "\\|")


def markdown_section(info, bench, rows, details, cmdline, elapsed):
    status = "FAILED: " + "; ".join(bench.failures) if bench.failures else "ok"
    out = [
        "<!-- bench-run commit=%s -->" % info["commit"],
        "## %s — previewd %s, commit %s" % (info["date"], info["previewd"].replace(
            "previewd ", ""), info["commit"]),
        "",
        "- Command: `%s` (%.0f s)" % (cmdline, elapsed),
        "- Status: %s" % status,
        "- Binary: `%s` (sha256 %s)" % (info["binary"], info["binary_sha256"]),
        "- Machine: `%s`" % info["uname"],
        "- CPU: %s, %s cores; RAM %s" % (info["cpu"], info["cores"], info["ram"]),
        "- %s; %s; Python %s" % (bench.versions(), info["wrk"], info["python"]),
        "- Load average at start / end: %s / %s" % (info["load_start"], info["load_end"]),
        "",
        "| scenario | measure | figure | target | result |",
        "|---|---|---|---|---|",
    ]
    out += ["| %s |" % " | ".join(md_escape(c) for c in r) for r in rows]
    out += ["", "Details:", ""]
    out += ["    " + d for d in details]
    if bench.notes:
        out += ["", "Notes:", ""] + ["- " + md_escape(n) for n in bench.notes]
    out += ["<!-- /bench-run -->", ""]
    return "\n".join(out)


HEADER = """# previewd benchmarks

Written by `make bench` (bench/bench.py; bench/README.md says what each figure
measures).  One section per commit: a rerun at the same commit (same
"-dirty" state) replaces its section, a new commit appends one.

"""


def write_benchmarks(path, section, commit):
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = HEADER
    pattern = re.compile(r"<!-- bench-run commit=%s -->.*?<!-- /bench-run -->\n?"
                         % re.escape(commit), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda m: section, text, count=1)
    else:
        if not text.endswith("\n\n"):
            text = text.rstrip("\n") + "\n\n"
        text += section
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="previewd benchmark: webhook-to-ready latency (warm pool, cold, with "
                    "migrations; PostgreSQL and MariaDB) and webhook throughput; see "
                    "bench/README.md.")
    ap.add_argument("--binary", default=str(REPO_ROOT / "build" / "previewd"),
                    help="previewd binary (default: build/previewd)")
    ap.add_argument("--pool-samples", type=int, default=60, metavar="N",
                    help="webhook→ready samples served from the warm pool (default 60)")
    ap.add_argument("--cold-samples", type=int, default=30, metavar="N",
                    help="webhook→ready samples on the cold path (default 30)")
    ap.add_argument("--migration-samples", type=int, default=15, metavar="N",
                    help="webhook→ready samples with 60 tables of migrations (default 15)")
    ap.add_argument("--prisma-samples", type=int, default=4, metavar="N",
                    help="webhook→ready samples of the 300-migration Prisma repository, "
                         "all on one commit (default 4)")
    ap.add_argument("--prewarm-samples", type=int, default=30, metavar="N",
                    help="rounds of the prewarm scenarios, each one empty and one "
                         "prewarmed claim (default 30)")
    ap.add_argument("--prewarm-cold-samples", type=int, default=30, metavar="N",
                    help="cold-path samples of the prewarm scenarios (default 30)")
    ap.add_argument("--connections", default="16,32,64", metavar="LIST",
                    help="wrk connection counts, comma-separated (default 16,32,64)")
    ap.add_argument("--close-connections", default="32", metavar="LIST",
                    help="wrk connection counts for runs with \"Connection: close\" (a new "
                         "connection per request, as GitHub delivers), comma-separated, "
                         "empty for none (default 32)")
    ap.add_argument("--wrk-duration", type=int, default=15, metavar="S",
                    help="seconds per wrk run (default 15)")
    ap.add_argument("--wrk-threads", type=int, default=1, metavar="N",
                    help="wrk threads (default 1; wrk shares the machine's cores)")
    ap.add_argument("--wrk-warmup", type=int, default=2, metavar="S",
                    help="seconds of unreported wrk warm-up (default 2, 0: none)")
    ap.add_argument("--payload-bytes", type=int, default=25 * 1024, metavar="B",
                    help="size of the throughput webhook body (default 25600)")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only these scenarios (repeatable or comma-separated)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--output", default=str(REPO_ROOT / "BENCHMARKS.md"), metavar="PATH",
                    help="Markdown file to write the section into (default BENCHMARKS.md)")
    ap.add_argument("--no-write", action="store_true", help="do not write the Markdown file")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (daemon logs, configs)")
    args = ap.parse_args(argv)
    try:
        args.connections = [int(x) for x in args.connections.split(",") if x.strip()]
    except ValueError:
        ap.error("--connections: comma-separated integers")
    if not args.connections or min(args.connections) < 1:
        ap.error("--connections: at least one count >= 1")
    try:
        args.close_connections = [int(x) for x in args.close_connections.split(",")
                                  if x.strip()]
    except ValueError:
        ap.error("--close-connections: comma-separated integers")
    if args.close_connections and min(args.close_connections) < 1:
        ap.error("--close-connections: counts >= 1")
    args.only = [x for o in args.only for x in o.split(",") if x]
    known = {s.name for s in SCENARIOS}
    unknown = [x for x in args.only if x not in known]
    if unknown:
        ap.error("unknown scenario(s) %s; known: %s" % (", ".join(unknown),
                                                          ", ".join(sorted(known))))
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        for s in SCENARIOS:
            print("%-20s %s" % (s.name, s.title))
        return 0
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print("bench: no previewd binary at %s (run make)" % binary, file=sys.stderr)
        return 2
    os.environ["PREVIEWD_BIN"] = binary
    servers.install_sigterm_exit()

    cmdline = " ".join(shlex.quote(a) for a in [sys.executable, os.path.relpath(__file__)]
                       + (sys.argv[1:] if argv is None else argv))
    info = machine_info(binary)
    info["binary"] = os.path.relpath(binary, REPO_ROOT) if binary.startswith(
        str(REPO_ROOT) + os.sep) else binary
    info["load_start"] = loadavg()
    say("%s, %s, %s cores, RAM %s, load %s" % (info["previewd"], info["cpu"], info["cores"],
                                               info["ram"], info["load_start"]))
    started = time.monotonic()
    bench = Bench(args)
    results = bench.results     # scenarios may read earlier ones' figures
    try:
        for sc in SCENARIOS:
            if args.only and sc.name not in args.only:
                continue
            say("== %s: %s" % (sc.name, sc.title))
            try:
                results[sc.name] = sc.run(bench, sc)
            except (BenchFailure, AssertionError, RuntimeError, TimeoutError, OSError) as e:
                bench.fail("%s: %s" % (sc.name, e))
                results[sc.name] = ScenarioResult()
            except Exception as e:  # noqa: BLE001 -- report it, go on with the rest
                traceback.print_exc()
                bench.fail("%s: %s: %s" % (sc.name, type(e).__name__, e))
                results[sc.name] = ScenarioResult()
    except KeyboardInterrupt:
        bench.fail("interrupted")
    finally:
        bench.close()
    info["load_end"] = loadavg()
    elapsed = time.monotonic() - started

    rows = table_rows(results)
    details = [d for r in results.values() for d in r.details]
    print()
    print("previewd benchmark — %s, %s, commit %s" % (info["date"], info["previewd"],
                                                      info["commit"]))
    print("%s; %s cores; RAM %s; %s; load avg %s -> %s" % (
        info["cpu"], info["cores"], info["ram"], bench.versions(),
        info["load_start"], info["load_end"]))
    print("binary %s (sha256 %s); %s" % (info["binary"], info["binary_sha256"], info["uname"]))
    print()
    print(text_table(rows) if rows else "(no figures)")
    print()
    for d in details:
        print(d)
    for n in bench.notes:
        print("note: " + n)
    missed = sum(1 for r in rows if r[4].startswith("MISSED"))
    print()
    if bench.failures:
        print("FAILED: %d problem(s):" % len(bench.failures))
        for f in bench.failures:
            print("  - " + f)
    print("targets: %d met, %d MISSED" % (sum(1 for r in rows if r[4].startswith("ok")),
                                          missed))

    if not args.no_write:
        section = markdown_section(info, bench, rows, details, cmdline, elapsed)
        out = Path(args.output)
        write_benchmarks(out, section, info["commit"])
        print("wrote a section to %s" % out)
    if args.keep or bench.failures:
        print("work directory kept: %s" % bench.workdir)
    else:
        shutil.rmtree(bench.workdir, ignore_errors=True)
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
