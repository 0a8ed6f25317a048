"""The files an operator installs: contrib/previewd.conf.example,
contrib/previewd.service and `make install` / `make uninstall`.

  - the example passes check-config once the credentials it names exist;
  - every key of the parser's table (lib/config.c keys[], read the way
    scripts/check-docs.sh reads it) is set in the example and documented in
    README.md;
  - `make install DESTDIR=... PREFIX=/opt/previewd` installs the binary,
    the templates, the unit and the example, and the installed binary
    reads its templates from /opt/previewd/share/previewd/templates;
  - the unit has the hardening it promises.

make install runs in a scratch copy of the source tree, so neither the
build directories of the working tree nor anything outside tmp_path is
touched; /opt/previewd is only ever seen inside a private mount namespace.
"""

import base64
import http.client
import os
import re
import secrets
import shutil
import signal
import ssl
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from previewd import REPO_ROOT, binary, wait_until
from servers import free_port

EXAMPLE = REPO_ROOT / "contrib" / "previewd.conf.example"
UNIT = REPO_ROOT / "contrib" / "previewd.service"
README = REPO_ROOT / "README.md"
CONFIG_C = REPO_ROOT / "lib" / "config.c"
CREDENTIALS = "/run/credentials/previewd.service/"
PREFIX = "/opt/previewd"
MAKE_TIMEOUT = 900


# --- reading the files ------------------------------------------------------

def parser_keys():
    """[(section, key)] of lib/config.c's keys[], as check-docs.sh reads
    them: lines like `{ "server", "listen", K_LISTEN, ...`."""
    line_re = re.compile(r'^[ \t\n\r\f\v]*\{ "([a-z]*)", "([a-z_]*)", K_')
    keys = [m.groups() for m in map(line_re.match, CONFIG_C.read_text().splitlines()) if m]
    assert keys, "no keys found in %s (has the table's layout changed? " \
                 "scripts/check-docs.sh reads it the same way)" % CONFIG_C
    return keys


def section_kind(name):
    return "repo" if name.startswith("repo:") else name


def read_ini(text):
    """[(section, [(lineno, key, value)])] the way previewd reads it: ';' and
    '#' start comment lines, ' ;' an inline comment."""
    sections = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("["):
            assert line.endswith("]"), "%d: %s" % (lineno, raw)
            sections.append((line[1:-1].strip(), []))
            continue
        assert "=" in line and sections, "%d: not key = value: %s" % (lineno, raw)
        key, value = (s.strip() for s in line.split("=", 1))
        value = re.split(r"\s;", value, 1)[0].strip()
        sections[-1][1].append((lineno, key, value))
    return sections


def example_entries():
    """[(section name, key, value)] of the example, in order."""
    return [(name, k, v) for name, kv in read_ini(EXAMPLE.read_text()) for _, k, v in kv]


def read_unit(path):
    """{section: [(key, value)]} of a systemd unit file (continuation
    lines joined, comments dropped, repeated keys kept in order)."""
    sections, cur, pending = {}, None, ""
    for raw in Path(path).read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            cur = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        cur.append((key.strip(), value.strip()))
    return sections


def unit_values(unit, section, key):
    return [v for k, v in unit.get(section, []) if k == key]


def unit_value(unit, section, key):
    """The value in force: the last assignment (None when never set)."""
    values = unit_values(unit, section, key)
    return values[-1] if values else None


def systemd_bool(value):
    return value is not None and value.lower() in ("1", "yes", "true", "on")


def seconds(text):
    """A duration as previewd ("20s", "10m", "72h", "2d") or systemd
    ("30s", "1min 30s", "90") writes it, in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
    total = 0
    for num, unit in re.findall(r"(\d+)\s*([a-z]*)", text.strip()):
        total += int(num) * units[unit]
    return total


def config_default(section, key):
    """The default string of a key in config.c's table."""
    text = CONFIG_C.read_text()
    m = re.search(r'\{ "%s", "%s", K_\w+, [CR]\([\w.]+\),\s*("([^"]*)"|NULL)'
                  % (section, key), text)
    assert m, "no %s.%s in %s" % (section, key, CONFIG_C)
    return m.group(2)


# --- credentials for the example --------------------------------------------

_pem_cache = {}


def pem_files():
    """{"key": PEM private key, "cert": a self-signed certificate for it},
    made with openssl when it is there (check-config itself only checks
    that the files can be read)."""
    if not _pem_cache and shutil.which("openssl"):
        with tempfile.TemporaryDirectory() as d:
            key, cert = Path(d) / "key.pem", Path(d) / "cert.pem"
            r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                "-subj", "/CN=previewd.example.com", "-days", "1",
                                "-keyout", str(key), "-out", str(cert)],
                               capture_output=True, timeout=60)
            if r.returncode == 0:
                _pem_cache.update(key=key.read_text(), cert=cert.read_text(), real=True)
    if not _pem_cache:
        body = base64.b64encode(secrets.token_bytes(48)).decode()
        _pem_cache.update(
            key="-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % body,
            cert="-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % body,
            real=False)
    return _pem_cache


# Keys whose value is a path previewd opens itself (not env:/file:), and
# what such a file holds.
PATH_KEYS = {"private_key_file": "key", "tls_key": "key", "tls_cert": "cert"}


def secret_for(section_kind_, key):
    """A realistic value for a secret set through env: or file:."""
    if key == "secret_key":
        return secrets.token_hex(32) + "\n"
    if key == "admin_url":
        pw = secrets.token_urlsafe(24)
        if section_kind_ == "mysql":
            return "mysql://previewd:%s@mysql.internal:3306/\n" % pw
        return "postgresql://previewd:%s@db.internal:5432/postgres\n" % pw
    if key == "signing_token":
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode() + "\n"
    return secrets.token_urlsafe(32) + "\n"


def is_secret(key):
    return key == "admin_url" or "token" in key or "secret" in key


def realize_example(tmp_path):
    """A copy of the example that check-config can read here, and the
    environment for it: each file:/run/credentials/previewd.service/NAME
    (and the App's key path) becomes a file under tmp_path/credentials,
    each env:NAME a variable, templates_dir the source tree's templates."""
    creddir = tmp_path / "credentials"
    creddir.mkdir(mode=0o700)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for var in ("UBSAN_OPTIONS", "ASAN_OPTIONS", "LSAN_OPTIONS"):
        if var in os.environ:
            env[var] = os.environ[var]
    out = []
    section = None
    for raw in EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = section_kind(line.strip("[] "))
        elif line and line[0] not in ";#" and "=" in line:
            key, value = (s.strip() for s in line.split("=", 1))
            value = re.split(r"\s;", value, 1)[0].strip()
            if key == "templates_dir":
                raw = "templates_dir = %s" % (REPO_ROOT / "templates")
            elif value.startswith("env:"):
                env[value[4:]] = secret_for(section, key).rstrip("\n")
            elif value.startswith("file:" + CREDENTIALS) or value.startswith(CREDENTIALS):
                name = value.rsplit("/", 1)[1]
                content = pem_files()[PATH_KEYS[key]] if key in PATH_KEYS else \
                    secret_for(section, key)
                (creddir / name).write_text(content)
                (creddir / name).chmod(0o600)
                raw = raw.replace(CREDENTIALS, str(creddir) + "/")
        out.append(raw)
    path = tmp_path / "previewd.conf"
    path.write_text("\n".join(out) + "\n")
    return path, env


# --- (a) the example is a valid configuration --------------------------------

def test_example_passes_check_config(tmp_path):
    path, env = realize_example(tmp_path)
    r = subprocess.run([binary(), "check-config", "--config", str(path)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert (r.returncode, r.stdout) == (0, "configuration OK\n"), r.stderr


def test_example_takes_every_secret_from_env_or_file():
    literal = ["[%s] %s = %s" % (s, k, v) for s, k, v in example_entries()
               if is_secret(k) and not v.startswith(("env:", "file:"))]
    assert not literal, "secrets written into the example:\n" + "\n".join(literal)
    refs = [v for _, _, v in example_entries() if v.startswith("file:")]
    wrong = [v for v in refs if not v.startswith("file:" + CREDENTIALS)]
    assert not wrong, "file: secrets outside %s: %s" % (CREDENTIALS, wrong)


def test_example_sections():
    names = [name for name, _ in read_ini(EXAMPLE.read_text())]
    for wanted in ("server", "postgres", "mysql", "github", "gitlab", "vercel", "reaper"):
        assert wanted in names
    repos = [n[5:] for n in names if n.startswith("repo:")]
    assert any(r.endswith("/*") for r in repos), repos
    assert any(not r.endswith("/*") for r in repos), repos
    values = {(s, k): v for s, k, v in example_entries()}
    engines = {v for (s, k), v in values.items() if s.startswith("repo:") and k == "engine"}
    assert engines == {"postgres", "mysql"}
    assert any(k == "migrations" and v.startswith("blueprint:") for (_, k), v in values.items())


def test_example_and_unit_agree_on_credentials():
    """Each credential the example reads is loaded by the unit, and the
    unit loads nothing the example does not read (a LoadCredential= whose
    source file is missing stops the service from starting)."""
    used = set()
    for _, key, value in example_entries():
        v = value[5:] if value.startswith("file:") else value
        if v.startswith(CREDENTIALS):
            used.add(v[len(CREDENTIALS):])
    loaded = {v.split(":", 1)[0] for v in unit_values(read_unit(UNIT), "Service",
                                                       "LoadCredential")}
    assert used, "the example reads no systemd credentials"
    assert used - loaded == set(), "read by the example, not loaded by the unit"
    assert loaded - used == set(), "loaded by the unit, not read by the example"


# --- (b) every key of the parser is in the example and the README ------------

def readme_documents(section, key, lines):
    """check-docs.sh's rule: a row `| \\`key\\` |` between the section's
    heading and the next heading."""
    heading = "### `[repo:" if section == "repo" else "### `[%s]`" % section
    row = "| `%s` |" % key
    inside = False
    for line in lines:
        if line.startswith("#"):
            inside = line.startswith(heading)
        if inside and line.startswith(row):
            return True
    return False


def test_every_parser_key_is_in_the_example_and_the_readme():
    keys = parser_keys()
    in_example = {(section_kind(s), k) for s, k, _ in example_entries()}
    readme = README.read_text().splitlines()
    missing = []
    for section, key in keys:
        if (section, key) not in in_example:
            missing.append("[%s] %s is not set (\"%s = ...\") in %s"
                           % (section, key, key, EXAMPLE.relative_to(REPO_ROOT)))
        if not readme_documents(section, key, readme):
            missing.append("[%s] %s is not in README.md's configuration reference"
                           % (section, key))
    assert not missing, "\n".join(missing)
    # And nothing in the example that the parser would not know.
    known = set(keys)
    unknown = sorted(k for k in in_example if k not in known)
    assert not unknown, "keys in the example that lib/config.c does not know: %s" % unknown


def test_example_documents_each_key():
    """Each key line is preceded by a comment that gives its default."""
    lines = EXAMPLE.read_text().splitlines()
    undocumented = []
    seen_sections = set()
    section = None
    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith("["):
            section = section_kind(line.strip("[] "))
            continue
        if not line or line[0] in ";#" or "=" not in line:
            continue
        key = line.split("=", 1)[0].strip()
        if (section, key) in seen_sections:
            continue          # a second [repo:...] section need not repeat it
        seen_sections.add((section, key))
        block = []
        j = i - 1
        while j >= 0 and lines[j].strip().startswith((";", "#")):
            block.append(lines[j])
            j -= 1
        if not any("Default:" in b for b in block):
            undocumented.append("%d: [%s] %s" % (i + 1, section, key))
    assert not undocumented, "keys without a comment giving their default:\n" + \
        "\n".join(undocumented)


# --- (c) make install --------------------------------------------------------

def _clean_make_env():
    """The environment for a make of our own: without a parent make's
    MAKEFLAGS (e.g. SANITIZE=... from `make SANITIZE=... test`)."""
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR",
                "PREFIX", "BUILD", "TEMPLATES_DIR", "INSTALL_BUILD"):
        env.pop(var, None)
    return env


def _copy_source_tree(dst):
    """The working tree's files (tracked and new, not ignored) copied to dst."""
    r = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                       cwd=REPO_ROOT, capture_output=True, timeout=60)
    if r.returncode == 0 and r.stdout:
        for rel in r.stdout.decode().split("\0"):
            src = REPO_ROOT / rel
            if rel and src.is_file():
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst / rel)
    else:
        shutil.copytree(REPO_ROOT, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            ".git", "build", "build-*", "node_modules", ".pytest_cache", "__pycache__"))


def make(src, *args):
    r = subprocess.run(["make", "-C", str(src), "-j%d" % min(os.cpu_count() or 1, 8), *args],
                       capture_output=True, text=True, env=_clean_make_env(),
                       timeout=MAKE_TIMEOUT)
    assert r.returncode == 0, "make %s failed:\n%s\n%s" % (
        " ".join(args), r.stdout[-4000:], r.stderr[-4000:])
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`make install DESTDIR=<tmp>/dest PREFIX=/opt/previewd` in a scratch
    copy of the source tree: (src, destdir)."""
    base = tmp_path_factory.mktemp("install")
    src, dest = base / "src", base / "dest"
    src.mkdir()
    _copy_source_tree(src)
    make(src, "install", "DESTDIR=%s" % dest, "PREFIX=%s" % PREFIX)
    return src, dest


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_install_layout(installed):
    src, dest = installed
    root = dest / PREFIX.lstrip("/")
    bin_ = root / "bin" / "previewd"
    tdir = root / "share" / "previewd" / "templates"
    unit = root / "lib" / "systemd" / "system" / "previewd.service"
    example = root / "share" / "doc" / "previewd" / "previewd.conf.example"

    # The binary.
    assert bin_.is_file() and _mode(bin_) == 0o755
    r = subprocess.run([str(bin_), "--version"], capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, "previewd %s\n" % (src / "VERSION").read_text().strip())
    data = bin_.read_bytes()
    assert (PREFIX + "/share/previewd/templates").encode() in data
    assert str(src / "templates").encode() not in data
    assert str(REPO_ROOT / "templates").encode() not in data

    # Every template, blueprints included, as it is in the tree.
    want = sorted(p.relative_to(src / "templates") for p in (src / "templates").rglob("*")
                  if p.is_file() and not p.name.startswith("."))
    got = sorted(p.relative_to(tdir) for p in tdir.rglob("*") if p.is_file())
    assert got == want
    assert Path("comment.md") in got
    assert Path("blueprints/saas/postgres/migrations/001_schema.sql") in got
    for rel in got:
        assert (tdir / rel).read_bytes() == (src / "templates" / rel).read_bytes()
        assert _mode(tdir / rel) == 0o644, rel

    # The unit, its Exec lines following PREFIX.
    assert _mode(unit) == 0o644
    u = read_unit(unit)
    assert unit_value(u, "Service", "ExecStart").split() == [
        PREFIX + "/bin/previewd", "serve", "--config", "/etc/previewd/previewd.conf"]
    assert unit_value(u, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert unit_value(u, "Unit", "Documentation") == \
        "file:%s/share/doc/previewd/previewd.conf.example" % PREFIX
    text = unit.read_text()
    assert "/usr/local/bin" not in text and "/usr/local/share" not in text
    # Otherwise the same file.
    assert text.replace(PREFIX + "/bin/previewd", "/usr/local/bin/previewd").replace(
        PREFIX + "/share/doc/previewd", "/usr/local/share/doc/previewd") == UNIT.read_text()

    # The example, its templates_dir following PREFIX.
    assert _mode(example) == 0o644
    entries = [(s, k, v) for s, kv in read_ini(example.read_text()) for _, k, v in kv]
    assert ("server", "templates_dir", PREFIX + "/share/previewd/templates") in entries
    assert example.read_text().replace(PREFIX + "/share/previewd/templates",
                                       "/usr/local/share/previewd/templates") == \
        EXAMPLE.read_text()

    # The TLS shims the daemon dlopen()s (server/tlsshim/, one per source
    # file), where the installed binary looks for them.
    libdir = root / "lib" / "previewd"
    shims = [libdir / ("libpreviewd-%s.so" % c.stem)
             for c in sorted((src / "server" / "tlsshim").glob("*.c"))]
    for shim in shims:
        assert shim.is_file() and _mode(shim) in (0o644, 0o755), shim
    if shims:
        assert (PREFIX + "/lib/previewd").encode() in data

    # Nothing else.
    others = [p for p in dest.rglob("*") if p.is_file() and
              p not in (bin_, unit, example, *shims) and tdir not in p.parents]
    assert not others, others


def _in_opt_namespace(dest, argv):
    """Run argv where /opt/previewd is dest's copy: in a private mount
    namespace (tmpfs over /opt, the install bound onto /opt/previewd), so
    nothing outside tmp is touched. None when this machine cannot make one
    (no unshare, no namespaces in this container, no /opt)."""
    if not shutil.which("unshare") or not Path("/opt").is_dir():
        return None
    base = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        base.insert(1, "--map-root-user")
    probe = subprocess.run(base + ["true"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        return None
    script = ('{ mount -t tmpfs tmpfs /opt && mkdir /opt/previewd && '
              'mount --bind "$1" /opt/previewd; } || exit 97; shift; exec "$@"')
    r = subprocess.run(base + ["sh", "-c", script, "sh", str(dest / PREFIX.lstrip("/")), *argv],
                       capture_output=True, text=True, timeout=120)
    return None if r.returncode == 97 else r


# check-config wants admin and CI tokens of 24 characters or more.
ADMIN_TOKEN = secrets.token_urlsafe(24)

BLUEPRINT_CONFIG = """\
[server]
listen = 127.0.0.1:18080
state_path = {tmp}/state.db
secret_key = {key}
admin_token = env:PREVIEWD_TEST_ADMIN_TOKEN

[postgres]
admin_url = postgresql://previewd:{pw}@db.internal:5432/postgres

[mysql]
admin_url = mysql://previewd:{pw}@mysql.internal:3306/

[repo:acme/shop]
engine = postgres
migrations = blueprint:saas
seed = blueprint:saas

[repo:acme/*]
engine = mysql
migrations = blueprint:saas
seed = blueprint:saas
"""


def test_installed_binary_finds_its_templates(installed, tmp_path):
    src, dest = installed
    conf = tmp_path / "previewd.conf"
    conf.write_text(BLUEPRINT_CONFIG.format(tmp=tmp_path, key=secrets.token_hex(32),
                                            pw=secrets.token_urlsafe(16)))
    env = {"PATH": "/usr/bin:/bin", "PREVIEWD_TEST_ADMIN_TOKEN": ADMIN_TOKEN}
    installed_bin = PREFIX + "/bin/previewd"

    # Outside the namespace /opt/previewd does not exist: the installed
    # binary must look there (and not in the source tree) and say so.
    if not Path(PREFIX).exists():
        r = subprocess.run([str(dest / installed_bin.lstrip("/")), "check-config",
                            "--config", str(conf)], capture_output=True, text=True,
                           env=env, timeout=60)
        assert r.returncode == 1
        assert 'no blueprint "saas" for postgres in %s/share/previewd/templates/blueprints' \
            % PREFIX in r.stderr, r.stderr

    r = _in_opt_namespace(dest, ["env", "-i", "PATH=/usr/bin:/bin",
                                 "PREVIEWD_TEST_ADMIN_TOKEN=" + ADMIN_TOKEN,
                                 installed_bin, "check-config", "--config", str(conf)])
    if r is not None:
        assert (r.returncode, r.stdout) == (0, "configuration OK\n"), r.stderr
        return

    # No mount namespaces here: install again into a scratch PREFIX
    # (DESTDIR empty, as a real install) and check that binary instead.
    prefix = tmp_path / "prefix"
    make(src, "install", "PREFIX=%s" % prefix, "INSTALL_BUILD=%s" % (tmp_path / "build"))
    r = subprocess.run([str(prefix / "bin" / "previewd"), "check-config", "--config",
                        str(conf)], capture_output=True, text=True, env=env, timeout=60)
    assert (r.returncode, r.stdout) == (0, "configuration OK\n"), r.stderr


def test_installed_binary_serves_tls(installed, tmp_path):
    """The example serves HTTPS itself: the installed binary must find the
    TLS shims it dlopen()s under /opt/previewd/lib/previewd."""
    _, dest = installed
    if not list((REPO_ROOT / "server" / "tlsshim").glob("*.c")):
        pytest.skip("no TLS shims in this tree")
    pem = pem_files()
    if not pem["real"]:
        pytest.skip("no openssl to make a certificate")
    (tmp_path / "cert.pem").write_text(pem["cert"])
    (tmp_path / "key.pem").write_text(pem["key"])
    port = free_port()
    conf = tmp_path / "tls.conf"
    conf.write_text(TLS_CONFIG.format(tmp=tmp_path, port=port, key=secrets.token_hex(32),
                                      token=ADMIN_TOKEN))
    if _in_opt_namespace(dest, ["true"]) is None:
        pytest.skip("no mount namespaces to put the install at %s" % PREFIX)
    script = ('mount -t tmpfs tmpfs /opt && mkdir /opt/previewd && '
              'mount --bind "$1" /opt/previewd && shift && exec "$@"')
    base = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        base.insert(1, "--map-root-user")
    log = tmp_path / "previewd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(base + ["sh", "-c", script, "sh", str(dest / PREFIX.lstrip("/")),
                                        PREFIX + "/bin/previewd", "serve", "--config", str(conf)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env={"PATH": "/usr/bin:/bin"})
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def healthz():
            assert proc.poll() is None, "previewd exited %s:\n%s" % (
                proc.returncode, log.read_text())
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
            try:
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                return (resp.status, resp.read()) if resp.status == 200 else None
            except (OSError, http.client.HTTPException):
                return None
            finally:
                conn.close()
        assert wait_until(healthz, timeout=30, what="HTTPS /healthz")[0] == 200
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, log.read_text()


TLS_CONFIG = """\
[server]
listen = 127.0.0.1:{port}
state_path = {tmp}/state.db
secret_key = {key}
admin_token = {token}
tls_cert = {tmp}/cert.pem
tls_key = {tmp}/key.pem

[postgres]
; nothing listens there: /healthz does not need the database
admin_url = postgresql://previewd:pw@127.0.0.1:1/postgres
"""


def test_installed_unit_verifies(installed):
    """systemd-analyze verify, with the unit's binary where ExecStart says."""
    _, dest = installed
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze")
    unit = PREFIX + "/lib/systemd/system/previewd.service"
    r = _in_opt_namespace(dest, ["systemd-analyze", "verify", unit])
    if r is None:
        pytest.skip("no mount namespaces to put the binary at %s" % PREFIX)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "previewd.service" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_uninstall_removes_what_install_put(installed, tmp_path):
    src, dest = installed
    copy = tmp_path / "dest"
    shutil.copytree(dest, copy, symlinks=True)
    keep = copy / PREFIX.lstrip("/") / "share" / "previewd" / "templates" / "local.md"
    keep.write_text("the operator's own file\n")
    make(src, "uninstall", "DESTDIR=%s" % copy, "PREFIX=%s" % PREFIX)
    left = [p for p in copy.rglob("*") if p.is_file()]
    assert left == [keep]


# --- (d) the unit's hardening ---------------------------------------------

def test_unit_file_hardening():
    u = read_unit(UNIT)
    svc = lambda key: unit_value(u, "Service", key)  # noqa: E731

    # Its own, unprivileged user.
    assert systemd_bool(svc("DynamicUser")) or svc("User") == "previewd"
    assert svc("User") in (None, "previewd")
    assert svc("ExecStart") == \
        "/usr/local/bin/previewd serve --config /etc/previewd/previewd.conf"
    assert svc("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert svc("Restart") == "on-failure"

    # Writes only its state directory, where state_path's default is.
    assert svc("StateDirectory") == "previewd"
    assert config_default("server", "state_path") == "/var/lib/previewd/state.db"
    assert svc("ProtectSystem") == "strict"
    assert svc("ReadWritePaths") is None
    assert svc("ProtectHome") in ("yes", "true")
    for key in ("PrivateTmp", "NoNewPrivileges", "PrivateDevices", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectControlGroups", "RestrictNamespaces",
                "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute"):
        assert systemd_bool(svc(key)), key

    # No capabilities at all: the last assignment is the empty one.
    assert unit_values(u, "Service", "CapabilityBoundingSet"), "CapabilityBoundingSet= missing"
    assert svc("CapabilityBoundingSet") == ""
    assert svc("AmbientCapabilities") in (None, "")

    # Network to the databases and forges, nothing more exotic.
    assert set(svc("RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert svc("PrivateNetwork") in (None, "no", "false")
    assert svc("IPAddressDeny") is None

    # Secrets as credentials, from /etc/previewd/credentials/ID.
    creds = unit_values(u, "Service", "LoadCredential")
    assert "github_webhook_secret:/etc/previewd/credentials/github_webhook_secret" in creds
    for c in creds:
        ident, _, path = c.partition(":")
        assert path == "/etc/previewd/credentials/" + ident, c
    assert re.search(r"^#\s*EnvironmentFile=", UNIT.read_text(), re.M), \
        "EnvironmentFile= not mentioned as the alternative"

    # A little more than previewd's own shutdown_timeout before SIGKILL.
    stop = seconds(svc("TimeoutStopSec"))
    grace = seconds(config_default("server", "shutdown_timeout"))
    assert grace < stop <= grace + 60, (stop, grace)

    assert unit_value(u, "Install", "WantedBy") == "multi-user.target"
