"""Pooled and direct URLs through a PgBouncer previewd runs (issue 16).

Serverless previews open a connection per request; without a pooler a burst
of them exhausts the shared server's max_connections.  With
`[pgbouncer] mode = managed` previewd starts Debian's pgbouncer as a child,
gives every PostgreSQL environment its own [databases] entry before it is
reported ready, and hands out two URLs.  What a platform team would check,
against a real pgbouncer and a real PostgreSQL:

  - the environment's JSON has `pooled_url` (pgbouncer's port) and
    `direct_url` (the server's), `database_url` is the pooled one, and
    `?format=env` prints DATABASE_URL, DIRECT_URL and DATABASE_URL_UNPOOLED;
  - psql, and node-postgres with simple and extended (parameterised)
    queries and a transaction, work on the pooled URL in transaction mode;
  - 50 concurrent clients of one environment's pooled URL share at most its
    `pool_size` server connections (pg_stat_activity, sampled while they
    run);
  - one environment's credentials do not open another's database through
    pgbouncer;
  - after close the pooled URL is refused and no server connection is left;
  - pgbouncer killed with SIGKILL is started again and the pooled URL works
    again; previewd stopped stops it; previewd restarted serves the same
    entries from its state;
  - a reload pgbouncer cannot read keeps the old configuration working, and
    the environment waiting on it says why, as /api/v1/health does;
  - MySQL environments have no pooled URL; Prisma's pooled URL carries
    `?pgbouncer=true`.
"""

import base64
import json
import os
import re
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from previewd import REPO_ROOT, pr_payload, wait_until
from servers import free_port

REPO = "acme/shop"
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
NODE_DIR = REPO_ROOT / "tests" / "node"

pytestmark = pytest.mark.skipif(not os.path.exists(PGBOUNCER),
                                reason="pgbouncer is not installed (make install-deps)")


@pytest.fixture
def pgb_dir():
    """A config_dir pgbouncer (run as nobody) can reach: under /tmp, whose
    other directories are root's own 0700 ones."""
    d = tempfile.mkdtemp(prefix="previewd-pgb-", dir="/tmp")
    os.chmod(d, 0o711)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def config(pg, pgb_dir, port, pool_size=3, **repo):
    return {
        "postgres": {"admin_url": pg.admin_url, "pool_size": "2"},
        "pgbouncer": {"mode": "managed", "listen": "127.0.0.1:%d" % port,
                      "config_dir": str(pgb_dir / "pgbouncer"), "binary": PGBOUNCER},
        "repo:" + REPO: dict({"engine": "postgres", "ttl": "72h",
                              "pool_size": str(pool_size)}, **repo),
    }


def webhook(d, action, number, repo=REPO):
    status, _, body = d.github_webhook("pull_request", pr_payload(action, number, repo=repo))
    assert status == 202, body


def env_of(d, number, repo=REPO, wait=0):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment?wait=%d"
                              % (repo, number, wait), token=d.ci_token)
    assert status == 200, body
    return body


def ready(d, number, repo=REPO):
    e = wait_until(lambda: (lambda b: b if b["status"] == "ready" else None)(
        env_of(d, number, repo, wait=20)), timeout=120,
        what="pull request %d to be ready" % number)
    return e


def pgb_pid(d):
    status, body = d.get_json("/api/v1/health", token=d.admin_token)
    assert status == 200, body
    return (body.get("pgbouncer") or {}).get("pid")


def pgb_state(d):
    status, body = d.get_json("/api/v1/health", token=d.admin_token)
    assert status == 200, body
    return body.get("pgbouncer") or {}


def admin_page(d):
    auth = base64.b64encode(("admin:" + d.admin_token).encode()).decode()
    status, _, body = d.request("GET", "/", headers={"Authorization": "Basic " + auth})
    assert status == 200, body
    return body.decode()


def connect_error(url):
    try:
        psycopg2.connect(url, connect_timeout=10).close()
        return None
    except psycopg2.Error as e:
        return str(e)


def server_sessions(pg, role):
    conn = pg.connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,))
        return cur.fetchone()[0]
    finally:
        conn.close()


def psql(url, sql):
    out = subprocess.run(["psql", url, "-XAtc", sql], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_pooled_url_for_psql_node_and_a_burst_of_clients(pg, pgb_dir, previewd_factory):
    port = free_port()
    d = previewd_factory(config(pg, pgb_dir, port, pool_size=3, connection_limit=6))
    webhook(d, "opened", 1)
    webhook(d, "opened", 2)
    e1, e2 = ready(d, 1), ready(d, 2)

    pooled, direct = urlsplit(e1["pooled_url"]), urlsplit(e1["direct_url"])
    assert pooled.port == port and direct.port == pg.port, e1
    assert e1["database_url"] == e1["pooled_url"]
    assert pooled.path == direct.path == "/" + e1["database"]
    status, _, text = d.request("GET", "/api/v1/repos/%s/pulls/1/environment?format=env" % REPO,
                            token=d.ci_token)
    assert status == 200, text
    lines = dict(l.split("=", 1) for l in text.decode().splitlines())
    assert lines == {"DATABASE_URL": e1["pooled_url"], "DIRECT_URL": e1["direct_url"],
                     "DATABASE_URL_UNPOOLED": e1["direct_url"]}

    # connection_limit is the role's own cap on the server.
    conn = pg.connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (e1["user"],))
        assert cur.fetchone()[0] == 6
    finally:
        conn.close()

    # The files are pgbouncer's own, unreadable to anyone else, and hold
    # a SCRAM verifier, never the password.
    files = pgb_dir / "pgbouncer"
    users = (files / "userlist.txt").read_text()
    password = pooled.password
    assert password and password not in users
    assert '"%s" "SCRAM-SHA-256$4096:' % e1["user"] in users
    for f in ("pgbouncer.ini", "userlist.txt"):
        st = os.stat(files / f)
        assert st.st_mode & 0o077 == 0, f
        assert pwd.getpwuid(st.st_uid).pw_name == "nobody", f

    # psql, and node-postgres's simple and extended protocol, pooled.
    assert psql(e1["pooled_url"], "SELECT current_database()") == e1["database"]
    out = subprocess.run(["node", str(NODE_DIR / "pooled_client.js"), e1["pooled_url"]],
                         capture_output=True, text=True, timeout=60, cwd=NODE_DIR)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got == {"db": e1["database"], "user": e1["user"],
                   "extended": [[i + 1, "x%d" % i] for i in range(5)], "in_transaction": 7}

    # 50 clients at once: at most pool_size (3) server connections.
    most, stop, errors = [0], threading.Event(), []

    def sample():
        while not stop.is_set():
            most[0] = max(most[0], server_sessions(pg, e1["user"]))

    def client():
        try:
            conn = psycopg2.connect(e1["pooled_url"], connect_timeout=30)
            conn.autocommit = True
            cur = conn.cursor()
            for _ in range(3):
                cur.execute("SELECT pg_sleep(0.05), current_database()")
                assert cur.fetchone()[1] == e1["database"]
            conn.close()
        except Exception as e:          # collected, asserted below
            errors.append(repr(e))

    sampler = threading.Thread(target=sample)
    sampler.start()
    clients = [threading.Thread(target=client) for _ in range(50)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(120)
    stop.set()
    sampler.join()
    assert errors == []
    assert 1 <= most[0] <= 3, "%d server connections for pool_size 3" % most[0]

    # One environment's credentials do not open another's database.
    cross = e1["pooled_url"].rsplit("/", 1)[0] + "/" + e2["database"]
    err = connect_error(cross)
    assert err is not None and "permission denied" in err, err

    # Close: the pooled URL is refused and nothing stays on the server.
    webhook(d, "closed", 1)
    wait_until(lambda: env_of(d, 1)["status"] == "deleted", timeout=60,
               what="pull request 1 to be deleted")
    err = connect_error(e1["pooled_url"])
    # pgbouncer no longer knows the role (or, had the client got that far,
    # the database).
    assert err is not None and ("SASL authentication failed" in err or
                                "no such database" in err), err
    assert server_sessions(pg, e1["user"]) == 0
    assert e1["database"] not in (files / "pgbouncer.ini").read_text()
    assert e1["user"] not in (files / "userlist.txt").read_text()
    # The other environment is untouched.
    assert psql(e2["pooled_url"], "SELECT 1") == "1"


def test_pgbouncer_is_restarted_and_follows_previewd(pg, pgb_dir, previewd_factory):
    port = free_port()
    d = previewd_factory(config(pg, pgb_dir, port))
    webhook(d, "opened", 1)
    e1 = ready(d, 1)
    first = wait_until(lambda: pgb_pid(d), timeout=30, what="pgbouncer's pid")

    # SIGKILL from outside: previewd starts it again, with the same entries.
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: (pgb_pid(d) or first) != first and
               connect_error(e1["pooled_url"]) is None, timeout=60,
               what="a new pgbouncer serving the pooled URL")
    wait_until(lambda: pgb_state(d)["state"] == "running", timeout=30,
               what="previewd to see the new pgbouncer")
    state = pgb_state(d)
    assert state["restarts"] == 1 and state["entries"] == 1, state
    assert {"transactions", "queries", "wait_ms", "clients", "servers"} <= set(state)
    # /readyz names it (a state, no error text) without a token.
    wait_until(lambda: d.get_json("/readyz")[1]["checks"].get("pgbouncer") == "ok",
               timeout=30, what="/readyz to say pgbouncer is ok")
    status, _, metrics = d.request("GET", "/metrics", token=d.admin_token)
    assert status == 200
    assert b"previewd_pgbouncer_restarts_total 1" in metrics, metrics[-2000:]
    assert ('previewd_pgbouncer_server_connections{environment="%s"}' % e1["id"]).encode() \
        in metrics
    assert e1["database"].encode() not in metrics
    # The admin page shows it running, with its restart.
    page = admin_page(d)
    row = re.search(r'<section id="pgbouncer".*?</section>', page, re.S)
    assert row, page[-3000:]
    assert 'data-state="running"' in row.group(0)
    assert re.search(r'data-label="Restarts" class="num">1<', row.group(0)), row.group(0)

    # previewd stopped: its pgbouncer goes with it.
    second = pgb_pid(d)
    d.stop()
    wait_until(lambda: not os.path.exists("/proc/%d" % second) or
               open("/proc/%d/stat" % second).read().split()[2] == "Z", timeout=30,
               what="pgbouncer to stop with previewd")
    assert connect_error(e1["pooled_url"]) is not None

    # Started again: the files come from the state, the URL works.
    d.start()
    wait_until(lambda: connect_error(e1["pooled_url"]) is None, timeout=60,
               what="the pooled URL after a restart")

    # previewd killed with SIGKILL: its pgbouncer dies with it, and the
    # next start is not stopped by a port still held.
    third = pgb_pid(d)
    d.kill9()
    wait_until(lambda: not os.path.exists("/proc/%d" % third), timeout=30,
               what="pgbouncer to end with a killed previewd")
    d.start()
    wait_until(lambda: connect_error(e1["pooled_url"]) is None, timeout=60,
               what="the pooled URL after a crash")


def test_a_reload_pgbouncer_cannot_read_keeps_the_old_configuration(
        pg, pgb_dir, previewd_factory):
    port = free_port()
    d = previewd_factory(config(pg, pgb_dir, port))
    webhook(d, "opened", 1)
    e1 = ready(d, 1)

    # An operator restores config_dir as root, 0700: pgbouncer (nobody)
    # can no longer read its files; previewd (root) still writes them.
    files = pgb_dir / "pgbouncer"
    os.chown(files, 0, 0)
    os.chmod(files, 0o700)
    webhook(d, "opened", 2)
    e2 = wait_until(lambda: (lambda b: b if "pgbouncer" in (b.get("error") or "") else None)(
        env_of(d, 2)), timeout=60, what="pull request 2 to wait on pgbouncer")
    assert e2["status"] == "provisioning", e2
    assert e2["database_url"] is None and e2["pooled_url"] is None
    assert "did not take the new configuration" in e2["error"], e2
    assert "did not take" in (pgb_state(d).get("last_error") or "")
    # The old configuration still serves the first environment.
    assert psql(e1["pooled_url"], "SELECT current_database()") == e1["database"]

    # Put right, the waiting environment goes on.
    nobody = pwd.getpwnam("nobody")
    os.chown(files, nobody.pw_uid, nobody.pw_gid)
    e2 = ready(d, 2)
    assert psql(e2["pooled_url"], "SELECT current_database()") == e2["database"]


def test_mysql_has_no_pooled_url_and_prisma_gets_its_flag(pg, mariadb, pgb_dir,
                                                          previewd_factory):
    port = free_port()
    cfg = config(pg, pgb_dir, port, migrations_tool="prisma")
    cfg["mysql"] = {"admin_url": mariadb.admin_url, "pool_size": "1"}
    cfg["repo:acme/mysqlshop"] = {"engine": "mysql", "ttl": "72h", "connection_limit": "4"}
    d = previewd_factory(cfg)
    webhook(d, "opened", 1)
    webhook(d, "opened", 1, repo="acme/mysqlshop")
    e = ready(d, 1)
    m = ready(d, 1, repo="acme/mysqlshop")
    assert e["pooled_url"].endswith("?pgbouncer=true"), e["pooled_url"]
    assert psql(e["pooled_url"].split("?")[0], "SELECT 1") == "1"
    assert m["pooled_url"] is None
    assert m["database_url"] == m["direct_url"] and m["direct_url"].startswith("mysql://")
    # MySQL's connection_limit is the user's MAX_USER_CONNECTIONS.
    conn = mariadb.connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT max_user_connections FROM mysql.user WHERE user = %s",
                    (m["user"],))
        assert cur.fetchone()[0] == 4
    finally:
        conn.close()


def test_the_comment_gives_both_urls_and_masks_both_passwords(pg, pgb_dir, forge,
                                                               previewd_factory):
    port = free_port()
    cfg = config(pg, pgb_dir, port)
    forge.github_token = "ghp_pgbouncer_comment_token"
    cfg["github"] = {"api_url": forge.url, "token": forge.github_token}
    d = previewd_factory(cfg)
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", 1, repo=REPO,
                                                                  private=True))
    assert status == 202, body
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", 2, repo=REPO,
                                                                  private=False))
    assert status == 202, body
    e1, e2 = ready(d, 1), ready(d, 2)

    def comment(number):
        found = [c["body"] for c in forge.comments.values()
                 if c["number"] == number and "is ready" in c["body"]]
        return found[0] if found else None

    private = wait_until(lambda: comment(1), timeout=30, what="pull request 1's comment")
    public = wait_until(lambda: comment(2), timeout=30, what="pull request 2's comment")
    assert "DATABASE_URL=%s\n" % e1["pooled_url"] in private
    assert "DIRECT_URL=%s\n" % e1["direct_url"] in private
    assert "Run migrations and seeds on `DIRECT_URL`" in private
    password2 = urlsplit(e2["pooled_url"]).password
    assert password2 not in public
    assert "DATABASE_URL=%s\n" % e2["pooled_url"].replace(password2, "MASKED") in public
    assert "DIRECT_URL=%s\n" % e2["direct_url"].replace(password2, "MASKED") in public


def test_external_pgbouncer_includes_the_files_previewd_writes(pg, pgb_dir, previewd_factory):
    port = free_port()
    files = pgb_dir / "pgbouncer"
    cfg = config(pg, pgb_dir, port)
    cfg["pgbouncer"]["mode"] = "external"
    d = previewd_factory(cfg)
    wait_until(lambda: (files / "pgbouncer.ini").exists(), timeout=30,
               what="previewd to write pgbouncer.ini")
    assert "[pgbouncer]" not in (files / "pgbouncer.ini").read_text()
    assert pgb_state(d)["state"] == "down"

    # The operator's own pgbouncer, as pgbouncer's documentation has it:
    # its settings, previewd's [databases] by %include, previewd's
    # auth_file, previewd's admin user among admin_users.
    own = pgb_dir / "operator.ini"
    own.write_text("%%include %s/pgbouncer.ini\n"
                   "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"
                   "unix_socket_dir =\nauth_type = scram-sha-256\n"
                   "auth_file = %s/userlist.txt\nadmin_users = previewd_pgb\n"
                   "pool_mode = transaction\n" % (files, port, files))
    os.chmod(own, 0o644)
    log = open(pgb_dir / "operator.log", "wb")
    proc = subprocess.Popen([PGBOUNCER, "-u", "nobody", str(own)], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: pgb_state(d)["state"] == "running", timeout=30,
                   what="previewd to reach the operator's pgbouncer")
        webhook(d, "opened", 1)
        e1 = ready(d, 1)
        assert urlsplit(e1["pooled_url"]).port == port
        assert psql(e1["pooled_url"], "SELECT current_database()") == e1["database"]
        webhook(d, "closed", 1)
        wait_until(lambda: env_of(d, 1)["status"] == "deleted", timeout=60,
                   what="pull request 1 to be deleted")
        assert connect_error(e1["pooled_url"]) is not None
        # previewd does not own it: stopping previewd leaves it running.
        d.stop()
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_managed_without_pgbouncer_installed_refuses_to_start(pg, pgb_dir, previewd_factory):
    cfg = config(pg, pgb_dir, free_port())
    cfg["pgbouncer"]["binary"] = str(pgb_dir / "no-such-pgbouncer")
    d = previewd_factory(cfg, start=False)
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "cannot run [pgbouncer] binary %s" % cfg["pgbouncer"]["binary"] in str(e.value)
    assert "pgbouncer package" in str(e.value)


def test_vercel_gets_the_pooled_url_and_the_direct_one(pg, pgb_dir, forge, previewd_factory):
    from test_gitlab_vercel import VERCEL_SECRET, VERCEL_TOKEN, deployment_event, vercel_post
    forge.vercel_token = VERCEL_TOKEN
    cfg = config(pg, pgb_dir, free_port())
    cfg["vercel"] = {"webhook_secret": VERCEL_SECRET, "token": VERCEL_TOKEN,
                     "api_url": forge.vercel_url}
    d = previewd_factory(cfg)
    status, _, body = vercel_post(d, deployment_event(30))
    assert status == 202, body
    e = ready(d, 30)
    wait_until(lambda: len(forge.vercel_env) >= 2, what="the two Vercel variables")
    sent = {v["body"]["key"]: v["body"] for v in forge.vercel_env}
    assert set(sent) == {"DATABASE_URL", "DATABASE_URL_UNPOOLED"}
    assert sent["DATABASE_URL"]["value"] == e["pooled_url"]
    assert sent["DATABASE_URL_UNPOOLED"]["value"] == e["direct_url"]
    assert all(v["gitBranch"] == "feature-x" and v["target"] == ["preview"]
               for v in sent.values())


def random_salt_verifier(password):
    """A verifier as an earlier previewd left it: libpq's, with a random salt
    (RFC 5802's definitions; what PQencryptPasswordConn computes)."""
    import base64
    import hashlib
    import hmac
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 4096)
    client = hmac.new(salted, b"Client Key", "sha256").digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda x: base64.b64encode(x).decode()
    return "SCRAM-SHA-256$4096:%s$%s:%s" % (b64(salt), b64(hashlib.sha256(client).digest()),
                                             b64(server))


def set_verifier(pg, role, verifier):
    conn = pg.connect()
    try:
        conn.autocommit = True
        conn.cursor().execute("ALTER ROLE %s PASSWORD '%s'" % (role, verifier))
    finally:
        conn.close()


def test_roles_an_earlier_previewd_made_get_pooled_urls_after_the_upgrade(
        pg, pgb_dir, previewd_factory):
    port = free_port()
    cfg = config(pg, pgb_dir, port)
    with_pgbouncer = cfg.pop("pgbouncer")
    d = previewd_factory(cfg)
    webhook(d, "opened", 1)
    e1 = ready(d, 1)
    assert e1["pooled_url"] is None
    # The pool full again (its members are part of the pass below).
    wait_until(lambda: b'previewd_pool_idle{engine="postgres"} 2' in
               d.request("GET", "/metrics")[2], timeout=60, what="the pool to refill")
    d.stop()
    # What an earlier previewd left: the same password, another salt.
    password = urlsplit(e1["direct_url"]).password
    set_verifier(pg, e1["user"], random_salt_verifier(password))
    assert psql(e1["direct_url"], "SELECT 1") == "1"

    # pgbouncer turned on: at its first start previewd sets the roles'
    # verifiers again, once, and the pooled URL logs in.
    d.config["pgbouncer"] = with_pgbouncer
    d.write_config()
    d.start()
    e1 = env_of(d, 1)
    wait_until(lambda: connect_error(e1["pooled_url"]) is None, timeout=60,
               what="the old environment's pooled URL")
    # The environment and the idle pool members (pool_size 2).
    line = wait_until(lambda: re.search(r"pgbouncer: (\d+) roles have their password again",
                                        d.log()), timeout=30, what="the one-time pass")
    assert int(line.group(1)) == 3, line.group(0)
    assert (pgb_dir / "pgbouncer" / "verifiers-derived").exists()

    # The pass is once per config_dir: an old verifier set now stays, and
    # it is what breaks the pooled login.
    d.stop()
    set_verifier(pg, e1["user"], random_salt_verifier(password))
    d.start()
    wait_until(lambda: pgb_state(d)["state"] == "running", timeout=30,
               what="pgbouncer to run again")
    err = connect_error(e1["pooled_url"])
    # pgbouncer passes on the server's refusal of its login.
    assert err is not None and "password authentication failed" in err, err
    assert len(re.findall(r"roles have their password again", d.log())) == 1
    assert psql(e1["direct_url"], "SELECT 1") == "1"
