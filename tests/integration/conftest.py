"""Fixtures for the integration tests.

  pg                 a real PostgreSQL, started once per session
  mariadb            a real MariaDB, started once per session
  previewd_factory   make(config_overrides, start=True, env=None) -> Previewd;
                     every daemon it made is stopped at the end of the test,
                     and the test fails if one exited non-zero, died on its
                     own, or logged a sanitizer report.
  pg_config          the [postgres] and [repo:acme/shop] sections for pg

The database servers live for the whole session, so after each test (and
after its daemons have stopped) every object carrying previewd's prefix is
dropped: each test starts with servers that hold nothing of previewd's, and
a test that checks for leaks checks before that cleanup.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import pytest  # noqa: E402

from previewd import SANITIZER_MARKERS, Previewd  # noqa: E402
from servers import MariaDBServer, PostgresServer, tail  # noqa: E402

PREFIX = "pvd_"
_started = []     # session servers, for the per-test cleanup


@pytest.fixture(scope="session")
def pg():
    server = PostgresServer()
    server.start()
    _started.append(server)
    try:
        yield server
    finally:
        _started.remove(server)
        server.stop()


@pytest.fixture(scope="session")
def mariadb():
    server = MariaDBServer(db_prefix=PREFIX)
    server.start()
    _started.append(server)
    try:
        yield server
    finally:
        _started.remove(server)
        server.stop()


def drop_previewd_objects(server):
    """Drop every database and role/user whose name starts with PREFIX."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            if isinstance(server, PostgresServer):
                for db in server.databases(PREFIX):
                    cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)
                for role in server.roles(PREFIX):
                    cur.execute('DROP ROLE IF EXISTS "%s"' % role)
            else:
                for db in server.databases(PREFIX):
                    cur.execute("DROP DATABASE IF EXISTS `%s`" % db)
                for user in server.users(PREFIX):
                    cur.execute("DROP USER IF EXISTS `%s`@`%%`" % user)
    finally:
        conn.close()


@pytest.fixture
def _db_cleanup():
    yield
    for server in list(_started):
        if server.running:
            drop_previewd_objects(server)


@pytest.fixture
def pg_config(pg):
    """Config sections for a daemon serving acme/shop from pg."""
    return {
        "postgres": {"admin_url": pg.admin_url, "pool_size": "2"},
        "repo:acme/shop": {"ttl": "72h"},
    }


def _merge(overrides):
    config = {}
    for section, kv in (overrides or {}).items():
        config[section] = dict(kv)
    return config


@pytest.fixture
def previewd_factory(tmp_path, _db_cleanup):
    made = []

    def make(config_overrides=None, start=True, env=None):
        """A Previewd in its own directory under tmp_path.

        config_overrides: {section: {key: value}}; the defaults fill the rest
        (a value of None leaves a key out).  start=False only writes the
        config, for check-config tests or a start the test makes itself.
        """
        d = tmp_path / ("previewd-%d" % len(made))
        daemon = Previewd(d, _merge(config_overrides), env=env)
        made.append(daemon)
        daemon.write_config()
        if start:
            daemon.start()
        return daemon

    yield make

    problems = []
    for daemon in made:
        mine = []
        if daemon.alive():
            code = daemon.stop()
            if daemon.stop_timed_out:
                mine.append("did not exit within 30s of SIGTERM (killed)")
            elif code != 0:
                mine.append("exited with %s on SIGTERM at teardown" % code)
        elif daemon.proc is not None and not daemon.expected_exit:
            mine.append("died during the test with exit code %s" % daemon.proc.returncode)
        for how, code in daemon.exit_codes:
            if how == "restart" and code != 0:
                mine.append("exited with %s when stopped for a restart" % code)
        log = daemon.log()
        mine += ["sanitizer report (%r) in its log" % m for m in SANITIZER_MARKERS if m in log]
        if mine:
            problems += ["%s: %s" % (daemon.tmpdir.name, p) for p in mine]
            problems.append("--- %s:\n%s" % (daemon.log_path, tail(daemon.log_path, 60)))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


class EngineUnderTest:
    """One database engine as the lifecycle tests see it: its server, the
    config sections that point previewd at it, and a client for the URLs
    previewd hands out."""

    # How each engine refuses credentials it does not (or no longer) know,
    # or a database the user may not open.
    REFUSALS = ("password authentication failed", "does not exist", "permission denied",
                "Access denied")

    def __init__(self, name, server):
        self.name = name
        self.server = server

    def config(self, pool_size=2, **repo):
        section = "postgres" if self.name == "postgres" else "mysql"
        return {
            section: {"admin_url": self.server.admin_url, "pool_size": str(pool_size)},
            "repo:acme/shop": dict({"engine": self.name, "ttl": "72h"}, **repo),
        }

    @property
    def scheme(self):
        return "postgresql" if self.name == "postgres" else "mysql"

    def connect(self, url):
        """A DB-API connection from a URL previewd handed out."""
        if self.name == "postgres":
            import psycopg2
            conn = psycopg2.connect(url, connect_timeout=10)
            conn.autocommit = True
            return conn
        import pymysql
        from urllib.parse import unquote, urlsplit
        u = urlsplit(url)
        assert u.scheme == "mysql", url
        return pymysql.connect(host=u.hostname, port=u.port or 3306,
                               user=unquote(u.username), password=unquote(u.password),
                               database=unquote(u.path.lstrip("/")), connect_timeout=10,
                               autocommit=True)

    def connect_error(self, url):
        """None when url connects, else the server's (or client's) refusal
        as text."""
        try:
            self.connect(url).close()
            return None
        except Exception as e:           # psycopg2 and pymysql differ
            return str(e) or type(e).__name__

    def can_connect(self, url):
        """True when url connects, False when it does not: a bool only, so
        that `assert engine.can_connect(url)` means what it says.  Use
        connect_error(url) for the refusal's text."""
        return self.connect_error(url) is None

    def assert_refused(self, url):
        """The refusal's text when url's credentials (its user or its
        database) are refused, as they are once previewd dropped them; an
        AssertionError when it connects or fails for another reason (the
        server down, a malformed URL)."""
        err = self.connect_error(url)
        assert err is not None, "%s still connects" % url.split("@")[-1]
        assert any(s in err for s in self.REFUSALS), err
        return err

    def databases(self, prefix="pvd_"):
        return self.server.databases(prefix)

    def roles(self, prefix="pvd_"):
        if self.name == "postgres":
            return self.server.roles(prefix)
        return self.server.users(prefix)

    def env_roles(self):
        """Roles (users) of environments: without the idle pool members'
        roles that PostgreSQL's pool keeps ready."""
        return [r for r in self.roles() if not r.startswith("pvd_pool_")]

    def cli(self, url, sql):
        """Run sql with the engine's own command-line client; stdout."""
        import subprocess
        from urllib.parse import unquote, urlsplit
        if self.name == "postgres":
            cmd = ["psql", url, "-Atc", sql]
        else:
            u = urlsplit(url)
            cmd = ["mysql", "--host", u.hostname, "--port", str(u.port),
                   "--user", unquote(u.username), "--password=" + unquote(u.password),
                   "--batch", "--skip-column-names", unquote(u.path.lstrip("/")), "-e", sql]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()


@pytest.fixture(params=["postgres", "mysql"])
def engine(request):
    server = request.getfixturevalue("pg" if request.param == "postgres" else "mariadb")
    return EngineUnderTest(request.param, server)


# --- forge stub: local GitHub / GitLab / Vercel API (tests/integration/forge_stub.py) ---

from forge_stub import ForgeStub  # noqa: E402


@pytest.fixture
def forge():
    """A started ForgeStub: point [github] api_url at forge.url and
    [gitlab] api_url at forge.gitlab_url.  Stopped at teardown; the test
    fails if the stub itself raised while answering (forge.errors)."""
    stub = ForgeStub().start()
    try:
        yield stub
    finally:
        stub.stop()
    if stub.errors:
        pytest.fail("forge stub raised while answering:\n" + "\n".join(stub.errors),
                    pytrace=False)
