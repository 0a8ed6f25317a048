"""Real, throwaway PostgreSQL and MariaDB servers for the integration tests.

Each server lives in a fresh temporary directory (data, socket, log), listens
on 127.0.0.1 only, on a free port, and is removed again by stop().  Nothing
uses a fixed port, the system's configuration files or /var/run, so a system
PostgreSQL or MariaDB started by Debian's postinst does not get in the way.

Both servers are created with a random superuser password and an admin role
called `previewd` that has only what previewd needs (see the comments at the
two _create_admin methods).  Passwords are secrets.token_urlsafe(), so they
can be put into URLs as they are.

Teardown safety: every started server registers its stop() with atexit, and
SIGTERM (CI timeouts) is turned into a normal exit so atexit runs; a test
that crashes does not leave a server behind.  Only SIGKILL of the test run
can, and then the next run is unaffected (new directory, new port).

Nothing here sleeps for a fixed time: every wait polls with a deadline.

Uses only the standard library, psycopg2 and pymysql.
"""

import atexit
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import psycopg2
import pymysql

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    The kernel picks it (bind to port 0); the socket is closed again before
    the caller's server binds it, so another process can take the port in
    between.  That race is small but real: callers that pick the port
    themselves retry their start once, on a new port, when the server says
    "address already in use" (PostgresServer, MariaDBServer and Previewd all
    do).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def tail(path, lines=40):
    """Last `lines` lines of a text file, or a note that it is missing."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(no log %s: %s)" % (path, e.strerror)
    return "\n".join(data.splitlines()[-lines:])


def poll(predicate, timeout, interval=0.05, what="condition"):
    """Call predicate() until it returns something truthy; return that.

    Raises TimeoutError naming `what` when `timeout` seconds pass first.
    Exceptions from predicate propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def _sigterm_to_exit(signum, frame):
    raise SystemExit(128 + signum)


def install_sigterm_exit():
    """Make SIGTERM raise SystemExit so atexit handlers (server stops) run.

    Only when SIGTERM still has its default action and we are in the main
    thread: a test runner that installed its own handler keeps it.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm_to_exit)


def _is_root():
    return os.geteuid() == 0


def _account(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(
            "running as root but there is no %r system user; "
            "install the server package (scripts/install-deps.sh)" % name
        ) from None


class _Server:
    """What PostgresServer and MariaDBServer share: the temporary directory,
    its ownership, atexit registration and the context-manager protocol."""

    owner = None  # system user that owns the data when we run as root
    kind = "server"

    def __init__(self):
        self.host = HOST
        self.port = None
        self.tmpdir = None
        self.datadir = None
        self.logfile = None
        self._running = False
        self._initialized = False
        self._atexit = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return "<%s port=%s %s>" % (
            type(self).__name__, self.port, "running" if self._running else "stopped")

    @property
    def running(self):
        return self._running

    def _make_tmpdir(self, prefix):
        self.tmpdir = tempfile.mkdtemp(prefix=prefix)
        if _is_root():
            pw = _account(self.owner)
            os.chown(self.tmpdir, pw.pw_uid, pw.pw_gid)

    def _chown(self, path):
        if _is_root():
            pw = _account(self.owner)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _register(self):
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        install_sigterm_exit()

    def _cleanup(self):
        if self._atexit:
            atexit.unregister(self.stop)
            self._atexit = False
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None
        self._initialized = False

    def start(self):
        """Create (first time) and start the server; return self."""
        if self._running:
            return self
        self._register()
        if not self._initialized:
            self.port = free_port()
            try:
                self._initialize()
                self._initialized = True
                self._first_start()
            except BaseException:
                self.stop()
                raise
        else:
            self.start_server()
        return self

    def _first_start(self):
        """Start on self.port, once more on a new port if it was taken
        between free_port() and the server's bind (see free_port)."""
        try:
            self.start_server()
        except _AddressInUse:
            self.port = free_port()
            self.start_server()
        self._after_first_start()

    def restart(self):
        """Stop and start the server again: same data, same port.

        For outage tests; stop_server()/start_server() split the two halves
        so a test can act while the server is down.
        """
        self.stop_server()
        self.start_server()

    def stop(self):
        """Stop the server and remove its directory.  Idempotent."""
        try:
            if self._running:
                self.stop_server()
        finally:
            self._cleanup()


class _AddressInUse(RuntimeError):
    pass


_ADDR_IN_USE = re.compile(r"address already in use|do you already have another", re.I)


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------

def pg_bindir():
    """PG_BINDIR, else the highest /usr/lib/postgresql/N/bin with pg_ctl."""
    env = os.environ.get("PG_BINDIR")
    if env:
        return env
    found = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        version = os.path.basename(os.path.dirname(d))
        if os.path.exists(os.path.join(d, "pg_ctl")):
            try:
                key = tuple(int(x) for x in version.split("."))
            except ValueError:
                continue
            found.append((key, d))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin "
                           "(install postgresql, or set PG_BINDIR)")
    return max(found)[1]


class PostgresServer(_Server):
    """A throwaway PostgreSQL cluster.

    Attributes (valid after start()): port, host, datadir, logfile,
    superuser_password, superuser_url, admin_password, admin_url.

    The admin role `previewd` is LOGIN CREATEDB CREATEROLE and not a
    superuser: what previewd is given in production.
    """

    owner = "postgres"
    kind = "postgresql"
    ADMIN = "previewd"

    def __init__(self, bindir=None, settings=None):
        """settings: extra server settings, {name: value}, passed as -c."""
        super().__init__()
        self.bindir = bindir or pg_bindir()
        self.settings = dict(settings or {})
        self.superuser = "postgres"
        self.superuser_password = secrets.token_urlsafe(24)
        self.admin_password = secrets.token_urlsafe(24)
        self.sockdir = None

    @property
    def superuser_url(self):
        return "postgresql://%s:%s@%s:%d/postgres" % (
            self.superuser, self.superuser_password, self.host, self.port)

    @property
    def admin_url(self):
        return "postgresql://%s:%s@%s:%d/postgres" % (
            self.ADMIN, self.admin_password, self.host, self.port)

    def _run(self, args, timeout):
        """Run a PostgreSQL tool as the data directory's owner."""
        cmd = [os.path.join(self.bindir, args[0])] + list(args[1:])
        if _is_root():
            cmd = ["runuser", "-u", self.owner, "--"] + cmd
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        # New session: the postmaster that pg_ctl leaves behind must not get
        # the terminal's Ctrl-C before our own teardown runs.
        return subprocess.run(cmd, cwd=self.tmpdir, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout, start_new_session=True)

    def _initialize(self):
        self._make_tmpdir("previewd-pg-")
        self.datadir = os.path.join(self.tmpdir, "data")
        self.sockdir = self.tmpdir
        self.logfile = os.path.join(self.tmpdir, "postgresql.log")
        pwfile = os.path.join(self.tmpdir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.superuser_password + "\n")
        os.chmod(pwfile, 0o600)
        self._chown(pwfile)
        try:
            r = self._run(["initdb", "-D", self.datadir, "-U", self.superuser,
                           "-A", "scram-sha-256", "--pwfile=" + pwfile,
                           "-E", "UTF8", "--locale=C", "--no-sync"], timeout=120)
        finally:
            os.unlink(pwfile)
        if r.returncode != 0:
            raise RuntimeError("initdb failed (exit %d):\n%s" % (r.returncode, r.stdout[-4000:]))

    def start_server(self):
        """Start the postmaster on self.port (data directory already made)."""
        opts = ["-p %d" % self.port, "-k %s" % self.sockdir,
                "-c listen_addresses=%s" % self.host,
                "-c fsync=on", "-c log_statement=none"]
        opts += ["-c %s=%s" % (k, v) for k, v in self.settings.items()]
        log_start = _size(self.logfile)
        r = self._run(["pg_ctl", "start", "-D", self.datadir, "-l", self.logfile,
                       "-w", "-t", str(int(START_TIMEOUT)), "-o", " ".join(opts)],
                      timeout=START_TIMEOUT + 30)
        if r.returncode != 0:
            log = _read_from(self.logfile, log_start)
            # pg_ctl may have given up while a postmaster is still coming up.
            self._force_stop()
            msg = "PostgreSQL did not start on port %d (pg_ctl exit %d):\n%s\n--- %s:\n%s" % (
                self.port, r.returncode, r.stdout.strip(), self.logfile, tail(self.logfile))
            if _ADDR_IN_USE.search(log):
                raise _AddressInUse(msg)
            raise RuntimeError(msg)
        self._running = True

    def _after_first_start(self):
        # The admin role previewd is given: it can create and drop its own
        # databases and roles, and nothing else.  Not a superuser.
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE ROLE %s LOGIN CREATEDB CREATEROLE PASSWORD %%s"
                            % self.ADMIN, (self.admin_password,))
        finally:
            conn.close()

    def stop_server(self):
        """Stop the postmaster (fast shutdown), keep the data directory."""
        if not self._running:
            return
        self._running = False
        r = self._run(["pg_ctl", "stop", "-D", self.datadir, "-m", "fast",
                       "-w", "-t", str(int(STOP_TIMEOUT))], timeout=STOP_TIMEOUT + 30)
        if r.returncode != 0 and os.path.exists(os.path.join(self.datadir, "postmaster.pid")):
            self._force_stop()

    def _force_stop(self):
        """SIGQUIT (immediate shutdown), then SIGKILL, the postmaster."""
        pidfile = os.path.join(self.datadir or "", "postmaster.pid")
        try:
            with open(pidfile) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            try:
                poll(lambda: not _pid_alive(pid), 10, what="postmaster %d to exit" % pid)
                return
            except TimeoutError:
                continue

    def connect(self, dbname="postgres", user=None, password=None):
        """psycopg2 connection over TCP, autocommit; superuser by default."""
        if user is None:
            user = self.superuser
        if password is None:
            password = {self.superuser: self.superuser_password,
                        self.ADMIN: self.admin_password}.get(user, "")
        conn = psycopg2.connect(host=self.host, port=self.port, dbname=dbname, user=user,
                                password=password, connect_timeout=10)
        conn.autocommit = True
        return conn

    def _names(self, sql, prefix):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return sorted(r[0] for r in cur.fetchall() if r[0].startswith(prefix))
        finally:
            conn.close()

    def databases(self, prefix=""):
        """Sorted names from pg_database that start with prefix."""
        return self._names("SELECT datname FROM pg_database", prefix)

    def roles(self, prefix=""):
        """Sorted names from pg_roles that start with prefix."""
        return self._names("SELECT rolname FROM pg_roles", prefix)


# --------------------------------------------------------------------------
# MariaDB
# --------------------------------------------------------------------------

def _which(*names):
    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin"
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    raise RuntimeError("none of %s found (install mariadb-server)" % ", ".join(names))


class MariaDBServer(_Server):
    """A throwaway MariaDB server.

    Attributes (valid after start()): port, host, datadir, logfile, socket,
    root_password, admin_password, admin_url, db_prefix.

    The admin user `previewd`@'%' can create and drop databases whose names
    start with db_prefix, create and drop users, grant a user all privileges
    on one such database, and list and kill other users' connections.
    """

    owner = "mysql"
    kind = "mariadb"
    ADMIN = "previewd"

    def __init__(self, db_prefix="preview_", options=None):
        """db_prefix: the names of the databases previewd may manage.
        options: extra mariadbd options, {name: value}, as --name=value."""
        super().__init__()
        self.installer = _which("mariadb-install-db", "mysql_install_db")
        self.daemon = _which("mariadbd", "mysqld")
        self.db_prefix = db_prefix
        self.options = dict(options or {})
        self.root_password = secrets.token_urlsafe(24)
        self.admin_password = secrets.token_urlsafe(24)
        self.socket = None
        self.pidfile = None
        self.outfile = None
        self._proc = None
        self._secured = False

    @property
    def admin_url(self):
        return "mysql://%s:%s@%s:%d/" % (self.ADMIN, self.admin_password, self.host, self.port)

    def _initialize(self):
        self._make_tmpdir("previewd-mariadb-")
        self.datadir = os.path.join(self.tmpdir, "data")
        self.socket = os.path.join(self.tmpdir, "mariadbd.sock")
        self.pidfile = os.path.join(self.tmpdir, "mariadbd.pid")
        self.logfile = os.path.join(self.tmpdir, "mariadbd.err")
        self.outfile = os.path.join(self.tmpdir, "mariadbd.out")
        # 10.11 accepts all of these (checked with --help).  Root gets a
        # normal password account (empty until we set one) rather than
        # unix_socket auth, so tests can log in as root over TCP.
        cmd = [self.installer, "--no-defaults", "--datadir=" + self.datadir,
               "--auth-root-authentication-method=normal", "--skip-test-db",
               "--skip-name-resolve"]
        if _is_root():
            cmd.insert(2, "--user=" + self.owner)
        r = subprocess.run(cmd, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError("%s failed (exit %d):\n%s" % (
                os.path.basename(self.installer), r.returncode, r.stdout[-4000:]))

    def start_server(self):
        """Start mariadbd on self.port and wait until root can log in."""
        cmd = [self.daemon, "--no-defaults", "--datadir=" + self.datadir,
               "--port=%d" % self.port, "--bind-address=" + self.host,
               "--socket=" + self.socket, "--pid-file=" + self.pidfile,
               "--log-error=" + self.logfile, "--skip-name-resolve",
               "--tmpdir=" + self.tmpdir]
        if _is_root():
            cmd.insert(2, "--user=" + self.owner)
        cmd += ["--%s=%s" % (k, v) for k, v in self.options.items()]
        log_start = _size(self.logfile)
        with open(self.outfile, "ab") as out:
            self._proc = subprocess.Popen(cmd, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        self._running = True
        password = self.root_password if self._secured else ""
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while True:
            if self._proc.poll() is not None:
                self._running = False
                log = _read_from(self.logfile, log_start)
                msg = "mariadbd exited with %d before it answered:\n--- %s:\n%s\n--- %s:\n%s" % (
                    self._proc.returncode, self.logfile, tail(self.logfile),
                    self.outfile, tail(self.outfile, 10))
                if _ADDR_IN_USE.search(log):
                    raise _AddressInUse(msg)
                raise RuntimeError(msg)
            try:
                # Over the socket first (works before root's TCP account is
                # set up), then TCP, which is what every client uses.
                self._raw_connect(unix_socket=self.socket, password=password).close()
                if self._secured:
                    self.connect().close()
                return
            except pymysql.err.OperationalError as e:
                last = e
            if time.monotonic() >= deadline:
                self.stop_server()
                raise RuntimeError("mariadbd did not answer within %.0fs (last error: %s)\n"
                                   "--- %s:\n%s" % (START_TIMEOUT, last, self.logfile,
                                                    tail(self.logfile)))
            time.sleep(0.05)

    def _raw_connect(self, unix_socket=None, user="root", password="", db=None):
        kw = dict(user=user, password=password, database=db, autocommit=True,
                  connect_timeout=10, charset="utf8mb4")
        if unix_socket:
            kw["unix_socket"] = unix_socket
        else:
            kw.update(host=self.host, port=self.port)
        return pymysql.connect(**kw)

    def _after_first_start(self):
        conn = self._raw_connect(unix_socket=self.socket)
        try:
            with conn.cursor() as cur:
                self._secure(cur)
                self._create_admin(cur)
        finally:
            conn.close()
        self._secured = True

    def _secure(self, cur):
        """What mysql_secure_installation does, for this version."""
        cur.execute("SELECT User, Host FROM mysql.global_priv")
        accounts = cur.fetchall()
        local = ("localhost", "127.0.0.1", "::1")
        for user, host in accounts:
            # Anonymous users (''@localhost, ''@hostname) would shadow named
            # users; root accounts for other hosts (root@<hostname>) are
            # remote root logins.  10.11's install-db with --skip-test-db
            # makes no anonymous users, but older ones and other flags do.
            if user == "" or (user == "root" and host not in local):
                cur.execute("DROP USER %s@%s", (user, host))
        # Every client here connects over TCP to 127.0.0.1, and with
        # --skip-name-resolve that matches root@'127.0.0.1', not
        # root@localhost: make sure it exists.
        cur.execute("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'")
        cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
        cur.execute("SELECT Host FROM mysql.global_priv WHERE User = 'root'")
        for (host,) in cur.fetchall():
            cur.execute("ALTER USER 'root'@%s IDENTIFIED BY %s", (host, self.root_password))
        cur.execute("DROP DATABASE IF EXISTS test")
        # No arguments, so pymysql does no %-formatting of this one.
        cur.execute(r"DELETE FROM mysql.db WHERE Db = 'test' OR Db = 'test\\_%'")
        cur.execute("FLUSH PRIVILEGES")

    def _create_admin(self, cur):
        """The admin user previewd is given, with the least that works.

        Found by trying each operation as `previewd` on MariaDB 10.11:

        * GRANT ALL ON db.* TO u needs the grantor to hold every privilege
          of ALL *and* GRANT OPTION on db.  Global CREATE, DROP and CREATE
          USER are not enough (error 1044).  Holding ALL ... WITH GRANT
          OPTION on *.* would work but covers mysql.*, i.e. is root.  So
          previewd gets ALL ... WITH GRANT OPTION on the database-name
          pattern `<db_prefix>%` only.  That also lets it CREATE DATABASE
          and DROP DATABASE for names with that prefix and no others, so
          global CREATE and DROP are not needed.
        * In GRANT/REVOKE, `_` and `%` in the database name are wildcards.
          `GRANT ALL ON preview_a.* TO u` is read as the pattern preview?a,
          wider than previewd's grant, and refused with 1044; previewd must
          escape them: GRANT ALL ON `preview\\_a`.* TO u  (backslash before
          each _ and %).  CREATE/DROP DATABASE take the name literally.
        * CREATE USER (global) allows CREATE USER, DROP USER and ALTER USER
          for any user.
        * PROCESS lets it see other users' threads in
          information_schema.PROCESSLIST (without it, only its own).
        * CONNECTION ADMIN (split from SUPER in 10.5) lets it KILL other
          users' connections ("You are not owner of thread N" without it).
        * RELOAD is not needed: CREATE USER/GRANT/DROP USER update the
          in-memory privilege tables, no FLUSH PRIVILEGES.
        """
        admin = "'%s'@'%%'" % self.ADMIN
        pattern = _quote_ident(_like_escape(self.db_prefix) + "%")
        cur.execute("CREATE USER " + admin.replace("%", "%%") + " IDENTIFIED BY %s",
                    (self.admin_password,))
        # No arguments below: pymysql leaves the % in the pattern alone.
        cur.execute("GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO " + admin)
        cur.execute("GRANT ALL PRIVILEGES ON " + pattern + ".* TO " + admin
                    + " WITH GRANT OPTION")
        # The orphan sweep lists users from mysql.user (README).
        cur.execute("GRANT SELECT ON mysql.user TO " + admin)

    def stop_server(self):
        """SIGTERM mariadbd (a clean shutdown) and wait; SIGKILL after
        STOP_TIMEOUT.  Keeps the data directory."""
        proc, self._proc = self._proc, None
        self._running = False
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)

    def connect(self, db=None, user="root", password=None):
        """pymysql connection over TCP to 127.0.0.1, autocommit."""
        if password is None:
            password = {"root": self.root_password,
                        self.ADMIN: self.admin_password}.get(user, "")
        return self._raw_connect(user=user, password=password, db=db)

    def _names(self, sql, prefix):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return sorted({r[0] for r in cur.fetchall() if r[0].startswith(prefix)})
        finally:
            conn.close()

    def databases(self, prefix=""):
        """Sorted database names that start with prefix."""
        return self._names("SHOW DATABASES", prefix)

    def users(self, prefix=""):
        """Sorted distinct user names (any host) from mysql.user."""
        return self._names("SELECT User FROM mysql.user", prefix)


def _like_escape(s):
    return re.sub(r"([\\_%])", r"\\\1", s)


def _quote_ident(s):
    return "`" + s.replace("`", "``") + "`"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited process that nobody has reaped yet (a zombie) is not alive.
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (OSError, IndexError):
        pass
    # A zombie child of ours still "exists"; reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _size(path):
    try:
        return os.path.getsize(path)
    except (OSError, TypeError):
        return 0


def _read_from(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except (OSError, TypeError):
        return ""
