"""The command line: --version, check-config, and start-up errors."""

import os
import re
import subprocess

from previewd import REPO_ROOT, binary

GOOD = """\
[server]
listen = 127.0.0.1:18080
public_url = https://previewd.example.com
state_path = {tmp}/state.db
secret_key = {key}
admin_token = env:TEST_ADMIN_TOKEN
ci_token = file:{tmp}/ci_token
workers = 4

[postgres]
admin_url = postgresql://previewd:secret@db.internal:5432/postgres   ; a role
public_host = db.example.com:5432
pool_size = 4

[github]
webhook_secret = s3cret
token = ghp_example
api_url = https://api.github.com

[repo:acme/shop]
engine = postgres
ttl = 72h
ci_token = shop-token
forks = deny

[repo:acme/*]
ttl = 1d
"""


def run(*args, env=None):
    """env, when given, is the whole environment, but for the sanitizers'
    options (make SANITIZE=...), which always come through."""
    if env is not None:
        env = dict(env, **{k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})
    r = subprocess.run([binary(), *args], capture_output=True, text=True, timeout=30,
                       env=env)
    return r.returncode, r.stdout, r.stderr


def test_version():
    code, out, _ = run("--version")
    assert code == 0
    # The release it says it is: the VERSION file it was built from.
    assert out == "previewd %s\n" % (REPO_ROOT / "VERSION").read_text().strip()


def test_usage_errors():
    assert run()[0] == 2
    assert run("serve")[0] == 2
    assert run("frobnicate", "--config", "x")[0] == 2
    assert run("check-config", "--config")[0] == 2


def test_check_config_ok(tmp_path):
    (tmp_path / "ci_token").write_text("ci-secret\n")
    path = tmp_path / "previewd.conf"
    path.write_text(GOOD.format(tmp=tmp_path, key="ab" * 32))
    code, out, err = run("check-config", "--config", str(path),
                         env={"TEST_ADMIN_TOKEN": "adm", "PATH": "/usr/bin:/bin"})
    assert (code, out) == (0, "configuration OK\n"), err


def test_check_config_reports_every_error_with_its_line(tmp_path):
    bad = """\
[server]
listen = nowhere
secret_key = nothex
admin_token = env:PREVIEWD_TEST_UNSET_VARIABLE
workers = many
colour = blue

[postgres]
admin_url = mysql://x@y/
pool_size = -1

[github]
webhook_secret = s3cret-value-never-printed

[nonsense]
key = value

this line is not ini

[repo:acme/shop]
ttl = forever
forks = sometimes
engine = mysql
"""
    path = tmp_path / "bad.conf"
    path.write_text(bad)
    code, out, err = run("check-config", "--config", str(path),
                         env={"PATH": "/usr/bin:/bin"})
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    where = [(int(m.group(1)), m.group(2)) for m in
             (re.match(r"%s:(\d+): (.*)" % re.escape(str(path)), l) for l in lines) if m]
    assert len(where) == len(lines), err          # every line is FILE:LINE: message
    got = {line for line, _ in where}
    # listen, secret_key, env var, workers, unknown key, admin_url scheme,
    # pool_size, unknown section, syntax error, ttl, forks, engine
    assert {2, 3, 4, 5, 6, 9, 10, 15, 18, 21, 22, 23} <= got, err
    assert "PREVIEWD_TEST_UNSET_VARIABLE" in err
    assert "unknown section [nonsense]" in err
    assert 'unknown key "colour"' in err
    assert "s3cret-value-never-printed" not in err


def test_missing_file_and_missing_required_keys(tmp_path):
    code, _, err = run("check-config", "--config", str(tmp_path / "absent.conf"))
    assert code == 1 and "cannot open" in err
    path = tmp_path / "thin.conf"
    path.write_text("[server]\nlisten = 127.0.0.1:1\n\n[repo:acme/shop]\n")
    code, _, err = run("check-config", "--config", str(path))
    assert code == 1
    assert '[server] needs "secret_key"' in err
    assert '[server] needs "admin_token"' in err
    assert "no database server configured" in err


def test_serve_refuses_a_bad_config(tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text("[server]\nworkers = 0\n")
    code, _, err = run("serve", "--config", str(path))
    assert code == 1 and "%s:2:" % path in err
