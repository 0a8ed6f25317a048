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
webhook_secret = s3cret-webhook-0123
token = ghp_example
api_url = https://api.github.com

[repo:acme/shop]
engine = postgres
ttl = 72h
ci_token = shop-token-0123456789abcdef
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
    (tmp_path / "ci_token").write_text("ci-secret-0123456789abcdef\n")
    path = tmp_path / "previewd.conf"
    path.write_text(GOOD.format(tmp=tmp_path, key="ab" * 32))
    code, out, err = run("check-config", "--config", str(path),
                         env={"TEST_ADMIN_TOKEN": "adm-0123456789abcdefghijk",
                              "PATH": "/usr/bin:/bin"})
    assert (code, out, err) == (0, "configuration OK\n", ""), err


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


TOKENS = """\
[server]
state_path = {tmp}/state.db
secret_key = {key}
admin_token = {admin}
ci_token = {ci}

[postgres]
admin_url = postgresql://previewd:pw@db.internal:5432/postgres

[github]
webhook_secret = {hook}

[repo:acme/shop]
ci_token = file:{tmp}/shop_token
"""


def check_tokens(tmp_path, admin, ci, shop, hook="hook-secret-0123456789"):
    (tmp_path / "shop_token").write_text(shop + "\n")
    path = tmp_path / "tokens.conf"
    path.write_text(TOKENS.format(tmp=tmp_path, key="ab" * 32, admin=admin, ci=ci,
                                  hook=hook))
    return run("check-config", "--config", str(path), env={"PATH": "/usr/bin:/bin"})


def test_check_config_refuses_short_and_equal_tokens(tmp_path):
    """An admin or CI token shorter than 24 characters, or two tokens
    alike (a CI token equal to the admin token is an admin token), are
    errors that name the keys and never the values."""
    admin, ci = "A" * 30, "C" * 30
    code, out, err = check_tokens(tmp_path, admin, ci, "S" * 30)
    assert (code, out, err) == (0, "configuration OK\n", "")

    code, out, err = check_tokens(tmp_path, "short-admin-token", ci, "S" * 30)
    assert code == 1 and out == ""
    assert "[server] admin_token is shorter than 24 characters" in err, err
    assert "short-admin-token" not in err

    code, _, err = check_tokens(tmp_path, admin, admin, "S" * 30)
    assert code == 1
    assert "[server] ci_token equals [server] admin_token: use different tokens" in err
    assert admin not in err

    # The repository's token comes from a file: its value is compared.
    code, _, err = check_tokens(tmp_path, admin, ci, ci)
    assert code == 1
    assert "[repo:acme/shop] ci_token equals [server] ci_token" in err, err
    assert ci not in err

    # serve refuses the same configuration at start-up.
    r = subprocess.run([binary(), "serve", "--config", str(tmp_path / "tokens.conf")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "ci_token equals" in r.stderr, r.stderr


def test_check_config_warns_about_a_short_webhook_secret(tmp_path):
    code, out, err = check_tokens(tmp_path, "A" * 30, "C" * 30, "S" * 30, hook="s3cret")
    assert (code, out) == (0, "configuration OK\n"), err
    assert re.fullmatch(r"\S+tokens\.conf:11: warning: \[github\] webhook_secret is "
                        r"shorter than 16 characters: .*\n", err), err
    assert "s3cret" not in err
