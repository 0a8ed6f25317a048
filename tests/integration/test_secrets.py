"""Secrets never appear where others can read them, at any log level.

One whole lifecycle, at the most verbose log level ([server] log_level =
debug), on PostgreSQL and on MariaDB, with secrets nobody could mistake
for anything else: a pull request opened (migrations and seed read
through the GitHub stand-in), its comment posted, its URL read through
the CI API, a database made and deleted through the databases API, the
pull request closed.  Then none of the configured secrets (webhook
secret, admin token, CI token, GitHub token, secret_key, the admin_url
password) nor any database password previewd handed out may be in:

  - the log;
  - the state file's bytes, its -wal and -shm included (passwords are
    stored sealed, tokens not at all), while it runs and after it stopped;
  - what `ps` shows of the process (/proc/PID/cmdline, `ps -ww -o args`)
    or its environment.
"""

import json
import secrets
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

from previewd import pr_payload, wait_until

REPO = "acme/shop"
SHA = "5ec12e75" * 5

MIGRATION = """
CREATE TABLE customers (id integer PRIMARY KEY, email varchar(200) NOT NULL UNIQUE);
"""
# Run twice over: on PostgreSQL the second is a server notice, which
# previewd logs at debug level (proof that the level is in force).
AGAIN = "CREATE TABLE IF NOT EXISTS customers (id integer PRIMARY KEY);\n"
SEED = "INSERT INTO customers (id, email) VALUES (1, 'ada@example.com');\n"


def password_of(url):
    return unquote(urlsplit(url).password)


def state_bytes(d):
    """The state file and its companions (-wal, -shm, -journal), as bytes."""
    state = Path(d.config["server"]["state_path"])
    files = sorted(state.parent.glob(state.name + "*"))
    assert state in files
    return b"".join(p.read_bytes() for p in files)


def what_ps_shows(pid):
    cmdline = Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode()
    environ = Path("/proc/%d/environ" % pid).read_bytes().replace(b"\0", b"\n").decode()
    ps = subprocess.run(["ps", "-ww", "-o", "args", "-p", str(pid)], capture_output=True,
                        text=True, timeout=30, check=True).stdout
    assert "previewd" in ps and "serve" in cmdline, (ps, cmdline)
    return {"cmdline": cmdline, "ps": ps, "environ": environ}


def leaks(named_secrets, places):
    """[(secret's name, place)] for every secret found in a place.  Each
    place is text or bytes; a hex key is also looked for as raw bytes."""
    found = []
    for name, secret in named_secrets.items():
        forms = [secret, secret.encode()]
        if name == "secret_key":
            forms.append(bytes.fromhex(secret))
        for where, blob in places.items():
            if any(type(f) is type(blob) and f in blob for f in forms):
                found.append((name, where))
    return found


def test_no_secret_in_the_log_the_state_file_or_ps(engine, forge, previewd_factory):
    configured = {
        "webhook_secret": "whsec-" + secrets.token_hex(16),
        "admin_token": "admtok-" + secrets.token_hex(16),
        "ci_token": "citok-" + secrets.token_hex(16),
        "github_token": "ghp_" + secrets.token_hex(18),
        "secret_key": secrets.token_hex(32),
        "admin_url password": engine.server.admin_password,
    }
    forge.github_token = configured["github_token"]
    forge.set_tree(REPO, SHA, {"db/migrations/001_init.sql": MIGRATION,
                               "db/migrations/002_again.sql": AGAIN,
                               "db/seed.sql": SEED})
    cfg = engine.config(migrations="repo:db/migrations", seed="repo:db/seed.sql")
    cfg["server"] = {"log_level": "debug", "admin_token": configured["admin_token"],
                     "ci_token": configured["ci_token"], "secret_key": configured["secret_key"]}
    cfg["github"] = {"api_url": forge.url, "token": configured["github_token"],
                     "webhook_secret": configured["webhook_secret"]}
    d = previewd_factory(cfg)
    assert d.check_config()[0] == 0

    # A private repository: the comment carries the whole URL, password
    # included, so the password passes through the comment's code path.
    status, _, body = d.github_webhook("pull_request",
                                       pr_payload("opened", 7, sha=SHA, private=True))
    assert status == 202, body
    status, _, body = d.env_for(REPO, 7, wait=60)
    env = json.loads(body)
    assert status == 200 and env["status"] == "ready", env
    status, _, body = d.env_for(REPO, 7, fmt="env")
    assert status == 200 and body.decode().splitlines()[0] == "DATABASE_URL=%s" % \
        env["database_url"]
    assert engine.can_connect(env["database_url"])
    wait_until(lambda: any(env["database_url"] in c["body"] for c in forge.comments.values()),
               what="the comment with the URL")
    post = forge.requests_to("POST", r"/issues/7/comments$")[-1]
    assert post.headers["authorization"] == "Bearer " + configured["github_token"]
    if engine.name == "postgres":
        assert " debug postgres: " in d.log(), "log_level = debug is not in force"

    # A database through the databases API, then deleted.
    status, _, body = d.request("POST", "/api/v1/databases?wait=true",
                                body={"name": "secrets-run"}, token=configured["ci_token"],
                                headers={"Idempotency-Key": "secrets-1"})
    assert status == 201, body
    db = json.loads(body)["data"]
    assert engine.can_connect(db["connection_string"])
    status, _, body = d.request("DELETE", "/api/v1/databases/%s" % db["id"],
                                token=configured["ci_token"])
    assert status == 202, body

    status, listing = d.get_json("/api/v1/environments", token=configured["admin_token"])
    assert status == 200 and [e["number"] for e in listing["data"]] == [7]
    status, _, body = d.github_webhook("pull_request", pr_payload("closed", 7, sha=SHA))
    assert status == 202, body

    def gone():
        pr = json.loads(d.env_for(REPO, 7)[2])["status"]
        ci = json.loads(d.request("GET", "/api/v1/databases/%s" % db["id"],
                                  token=configured["ci_token"])[2])["data"]["status"]
        return pr == ci == "deleted"
    wait_until(gone, timeout=60, what="both databases to be deleted")
    wait_until(lambda: any("was deleted" in c["body"] for c in forge.comments.values()),
               what="the comment to say so")

    handed_out = dict(configured)
    handed_out["environment's password"] = password_of(env["database_url"])
    handed_out["CI database's password"] = password_of(db["connection_string"])
    assert all(len(s) >= 20 for s in handed_out.values()), handed_out

    places = dict(what_ps_shows(d.proc.pid))
    places["state file (running)"] = state_bytes(d)
    assert d.stop() == 0
    places["state file (stopped)"] = state_bytes(d)
    places["log"] = d.log()
    found = leaks(handed_out, places)
    assert found == [], "secrets found (name, where): %s" % found
