"""The CI examples in ci-examples/ and scripts/previewd-wait.sh, run the
way GitHub Actions and GitLab CI would run them, against the real previewd.

What a user checks by copying an example into a repository: the steps that
talk to previewd work as written. So the test reads the `run:` steps of the
YAML files and runs them in a workspace that stands for the user's checkout
(with the helper script copied in, a db/schema.sql and a Makefile whose
`test` target is a psql or mysql query): `bash -e` for GitHub steps (the
runner's default), `sh -e` for GitLab's script lines, a fake $GITHUB_ENV,
`${{ ... }}` expressions filled in with the daemon's address and tokens.
Only steps that need the outside world are replaced (actions/checkout: the
workspace is the checkout; the MySQL flavour of the migration step).

Checked: a pull request's job gets that pull request's DATABASE_URL whether
the webhook or the job comes first, and waits for the push's migrations; a
CI run's job creates a database that connects, deletes it at the end even
when its tests fail, and a re-run gets a database of its own while a
retried request gets the same one; the curl call from the issue works as
written; the GitLab patterns likewise; the helper fails with previewd's
reason (wrong token, no environment, failed or deleted environment,
refused request, previewd unreachable), the same with jq and without it,
and never shows the token or, outside its DATABASE_URL line, the password.
"""

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from conftest import EngineUnderTest
from previewd import REPO_ROOT, pr_payload, wait_until
from servers import free_port

EXAMPLES = REPO_ROOT / "ci-examples"
SCRIPT = REPO_ROOT / "scripts" / "previewd-wait.sh"
REPO = "acme/shop"
GL_PATH = "grp/sub/shop"
GL_PROJECT = 4711
GL_TOKEN = "glpat-ci-examples"
GL_HOOK_TOKEN = "gitlab-hook-token"
GH_TOKEN = "ghp_ci_examples"
STEP_TIMEOUT = 90
SHA_A = "a1" * 20
SHA_B = "b2" * 20


# --- processes --------------------------------------------------------------

class Result:
    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr

    @property
    def log(self):
        return self.stdout + self.stderr

    def __repr__(self):
        return "<%s exit %s>\n--- stdout:\n%s--- stderr:\n%s" % (
            self.argv, self.rc, self.stdout, self.stderr)


class Shells:
    """Runs steps and the helper as process groups of their own; at
    teardown whatever still runs is killed."""

    def __init__(self):
        self.procs = []

    def start(self, argv, env, cwd):
        p = subprocess.Popen([str(a) for a in argv], cwd=cwd, env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append(p)
        return p

    def finish(self, p, timeout=STEP_TIMEOUT):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(p)
            out, err = p.communicate()
            raise AssertionError("%s did not finish within %ss:\n%s\n%s"
                                 % (p.args, timeout, out, err))
        return Result(p.args, p.returncode, out, err)

    def run(self, argv, env, cwd, timeout=STEP_TIMEOUT):
        return self.finish(self.start(argv, env, cwd), timeout)

    @staticmethod
    def _kill(p):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                self._kill(p)
                p.communicate()


@pytest.fixture
def shells():
    s = Shells()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def path_without_jq(tmp_path_factory):
    """A PATH with every command of the normal one except jq."""
    bindir = tmp_path_factory.mktemp("bin-without-jq")
    for d in os.environ["PATH"].split(os.pathsep):
        if not d or not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            target = Path(d) / name
            if name == "jq" or (bindir / name).exists() or not os.access(target, os.X_OK):
                continue
            (bindir / name).symlink_to(target)
    return str(bindir)


@pytest.fixture(scope="module", autouse=True)
def _tools():
    missing = [t for t in ("curl", "jq", "psql", "bash", "make") if shutil.which(t) is None]
    assert not missing, "these tests need %s installed" % ", ".join(missing)


def base_env(workspace, **extra):
    """A clean environment for a CI shell: nothing of the test's own."""
    env = {"PATH": os.environ["PATH"], "HOME": str(workspace.parent), "LANG": "C.UTF-8",
           "TMPDIR": str(workspace.parent), "CI": "true"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


MAKEFILE_TEST = {
    # `make test` of the user's repository: evidence that the job's
    # DATABASE_URL reached its tests and works.
    "select": "psql \"$$DATABASE_URL\" -v ON_ERROR_STOP=1 -Atc "
              "'SELECT current_database()' > make-test.out",
    "widgets": "psql \"$$DATABASE_URL\" -v ON_ERROR_STOP=1 -Atq "
               "-c \"INSERT INTO widgets (name) VALUES ('gear')\" "
               "-c 'SELECT current_database(), count(*) FROM widgets' > make-test.out",
    "orders": "psql \"$$DATABASE_URL\" -v ON_ERROR_STOP=1 -Atc "
              "'SELECT current_database(), count(*) FROM orders' > make-test.out",
    "mysql": "true",     # the replaced MySQL step did the work
    "fail": "echo 'the tests failed' >&2; exit 1",
}


def make_workspace(root, test="select"):
    """The user's checkout: the helper copied in, a schema, a Makefile."""
    ws = root / ("checkout-%s" % uuid.uuid4().hex[:8])
    (ws / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, ws / "scripts" / "previewd-wait.sh")
    (ws / "db").mkdir()
    (ws / "db" / "schema.sql").write_text(
        "CREATE TABLE widgets (id serial PRIMARY KEY, name varchar(20) NOT NULL);\n")
    (ws / "Makefile").write_text("test:\n\t%s\n" % MAKEFILE_TEST[test])
    return ws


# --- GitHub Actions, as its runner would ------------------------------------

GITHUB_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def github_expand(text, ctx):
    def one(m):
        if m.group(1) not in ctx:
            raise AssertionError("the test has no value for ${{ %s }}" % m.group(1))
        return str(ctx[m.group(1)])
    return GITHUB_EXPR.sub(one, str(text))


def read_github_env(path):
    """The variables a step wrote to $GITHUB_ENV (NAME=value, NAME<<EOF)."""
    env, lines, i = {}, path.read_text().split("\n"), 0
    while i < len(lines):
        line, i = lines[i], i + 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            end = lines.index(delim, i)
            env[name], i = "\n".join(lines[i:end]), end + 1
        else:
            name, value = line.split("=", 1)
            env[name] = value
    return env


def github_ctx(d, number=None, sha=None, run_id=4242, attempt=1):
    ctx = {"secrets.PREVIEWD_URL": d.base_url, "secrets.PREVIEWD_CI_TOKEN": d.ci_token,
           "github.repository": REPO, "github.run_id": run_id, "github.run_attempt": attempt}
    if number is not None:
        ctx.update({"github.event.pull_request.number": number, "github.event.number": number,
                    "github.event.pull_request.head.sha": sha})
    return ctx


class GitHubJob:
    """One job of a workflow file, run step by step."""

    def __init__(self, name, job="test"):
        self.path = EXAMPLES / "github-actions" / name
        self.doc = yaml.safe_load(self.path.read_text())
        self.job = self.doc["jobs"][job]

    def step(self, name):
        found = [s for s in self.job["steps"] if s.get("name") == name]
        assert len(found) == 1, "no step %r in %s" % (name, self.path)
        return found[0]

    def run(self, shells, workspace, ctx, replace=None, only=None, path=None):
        """Run the steps (`only`: just those names) as `bash -e` scripts.

        replace: {step name: new script, or {line: new line}} for steps that
        need the outside world. Returns {step name: Result or "skipped"}.
        """
        replace = dict(replace or {})
        for name in list(replace) + list(only or []):
            self.step(name)
        runner_temp = workspace.parent / ("runner-temp-%s" % workspace.name)
        runner_temp.mkdir(exist_ok=True)
        github_env = runner_temp / "github_env"
        github_env.touch()
        env0 = base_env(workspace, GITHUB_ACTIONS="true", GITHUB_ENV=github_env,
                        RUNNER_TEMP=runner_temp, GITHUB_WORKSPACE=workspace,
                        GITHUB_REPOSITORY=ctx["github.repository"],
                        GITHUB_RUN_ID=ctx["github.run_id"],
                        GITHUB_RUN_ATTEMPT=ctx["github.run_attempt"], GITHUB_JOB="test")
        if path is not None:
            env0["PATH"] = path
        job_env = {k: github_expand(v, ctx) for k, v in (self.job.get("env") or {}).items()}
        results, failed = {}, False
        for i, step in enumerate(self.job["steps"]):
            if "uses" in step:
                # The workspace is the checkout.
                assert step["uses"].startswith("actions/checkout@"), step
                continue
            name = step["name"]
            if only is not None and name not in only:
                continue
            cond = step.get("if", "success()")
            assert cond in ("success()", "always()"), "the test cannot evaluate if: %s" % cond
            if failed and cond != "always()":
                results[name] = "skipped"
                continue
            script = step["run"]
            new = replace.get(name)
            if isinstance(new, dict):
                for old, line in new.items():
                    assert old in script, "%r not in step %r" % (old, name)
                    script = script.replace(old, line)
            elif new is not None:
                script = new
            script_file = runner_temp / ("step-%d.sh" % i)
            script_file.write_text(github_expand(script, ctx))
            env = dict(env0, **job_env)
            env.update(read_github_env(github_env))
            env.update({k: github_expand(v, ctx) for k, v in (step.get("env") or {}).items()})
            shell = {None: ["bash", "-e"],
                     "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
                     "sh": ["sh", "-e"]}[step.get("shell")]
            r = shells.run(shell + [script_file], env, workspace)
            results[name] = r
            failed = failed or r.rc != 0
        self.github_env = read_github_env(github_env)
        return results


def only_masked(text, secret):
    """True when secret shows only in ::add-mask:: lines (GitHub hides it
    everywhere after those)."""
    return all(line.startswith("::add-mask::") for line in text.splitlines() if secret in line)


def password_of(url):
    return unquote(urlsplit(url).password)


# --- previewd ---------------------------------------------------------------

def pr_env(d, number, provider=None):
    path = "/api/v1/repos/%s/pulls/%d/environment" % (
        GL_PATH if provider == "gitlab" else REPO, number)
    if provider:
        path += "?provider=" + provider
    status, body = d.get_json(path, token=d.ci_token)
    return body if status == 200 else None


def ready_pr_env(d, number, sha, provider=None):
    return wait_until(lambda: (lambda e: e if e and e["status"] == "ready" and e["head_sha"] == sha
                               else None)(pr_env(d, number, provider)),
                      timeout=60, what="pull request %d ready at %s" % (number, sha[:7]))


def ci_database(d, db_id):
    status, body = d.get_json("/api/v1/databases/" + db_id, token=d.admin_token)
    assert status == 200, body
    return body["data"]


def gone(engine, db):
    wait_until(lambda: db["database"] not in engine.databases()
               and db["user"] not in engine.roles(),
               what="database %s and its role to be dropped" % db["database"])


def waiting_on(port):
    """Connections established to previewd's port (a long poll in flight)."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    local, state = line.split()[1], line.split()[3]
                    if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                        n += 1
        except FileNotFoundError:
            pass
    return n


def open_pr(d, number, sha, action="opened"):
    status, _, body = d.github_webhook("pull_request", pr_payload(action, number, sha=sha))
    assert status == 202, body


def forge_daemon(pg_config, forge, previewd_factory, trees):
    """previewd whose acme/shop migrations come from the forge stub."""
    forge.github_token = GH_TOKEN
    for sha, files in trees.items():
        forge.set_tree(REPO, sha, files)
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["repo:acme/shop"]["migrations"] = "repo:db/migrations"
    cfg["github"] = {"api_url": forge.url, "token": GH_TOKEN}
    return previewd_factory(cfg)


# --- the helper script --------------------------------------------------------

def test_helper_is_posix_sh():
    text = SCRIPT.read_text()
    assert text.startswith("#!/bin/sh\n") and "\nset -eu\n" in text
    for shell in ("sh", "dash", "bash"):
        if shutil.which(shell):
            r = subprocess.run([shell, "-n", str(SCRIPT)], capture_output=True, text=True)
            assert r.returncode == 0, (shell, r.stderr)
    if shutil.which("checkbashisms"):
        r = subprocess.run(["checkbashisms", "-p", str(SCRIPT)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    if shutil.which("shellcheck"):
        r = subprocess.run(["shellcheck", "-s", "sh", str(SCRIPT)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout
    # Usage errors name the problem and exit 2, before any network.
    r = subprocess.run(["sh", str(SCRIPT), "pr", "acme/shop", "seven"], capture_output=True,
                       text=True, env={"PATH": os.environ["PATH"]})
    assert r.returncode == 2 and "bad pull request number: seven" in r.stderr
    r = subprocess.run(["sh", str(SCRIPT), "pr", "acme/shop", "7"], capture_output=True,
                       text=True, env={"PATH": os.environ["PATH"]})
    assert r.returncode == 1 and "PREVIEWD_URL is not set" in r.stderr


def helper(shells, d, ws, *args, token=None, path=None, url=None, timeout=STEP_TIMEOUT):
    """Run the helper as a CI job would: PREVIEWD_URL and PREVIEWD_CI_TOKEN
    (previewd's own unless given) in a clean environment."""
    e = base_env(ws, PREVIEWD_URL=url or d.base_url,
                 PREVIEWD_CI_TOKEN=d.ci_token if token is None else token)
    if path is not None:
        e["PATH"] = path
    return shells.run(["sh", ws / "scripts" / "previewd-wait.sh"] + list(args), e, ws,
                      timeout=timeout)


def helper_both(shells, d, ws, path_without_jq, *args, **kw):
    """The helper with jq and without it: the same exit, lines and messages."""
    a = helper(shells, d, ws, *args, **kw)
    b = helper(shells, d, ws, *args, path=path_without_jq, **kw)
    assert (a.rc, a.stdout, a.stderr) == (b.rc, b.stdout, b.stderr), (a, b)
    for r in (a, b):
        assert d.ci_token not in r.log and d.admin_token not in r.log
    return a


def test_helper_success_paths_with_and_without_jq(pg, pg_config, previewd_factory, shells,
                                                  tmp_path, path_without_jq):
    d = previewd_factory(pg_config)
    ws = make_workspace(tmp_path)
    open_pr(d, 3, SHA_A)
    env = ready_pr_env(d, 3, SHA_A)

    r = helper_both(shells, d, ws, path_without_jq, "pr", REPO, "3", "--sha", SHA_A[:12])
    assert r.rc == 0, r
    assert r.stdout == "DATABASE_URL=%s\n" % env["database_url"]
    assert "acme/shop#3: preview-pr-3 is ready (database %s" % env["database"] in r.stderr
    assert password_of(env["database_url"]) not in r.stderr

    # For eval, and for $GITHUB_ENV with GitHub's masks.
    r = helper_both(shells, d, ws, path_without_jq, "pr", REPO, "3", "--format", "shell")
    assert r.stdout == "export DATABASE_URL='%s'\n" % env["database_url"]
    out = ws.parent / "env-file"
    r = helper(shells, d, ws, "pr", REPO, "3", "--mask", "--output", out)
    assert r.stdout.splitlines() == ["::add-mask::" + password_of(env["database_url"]),
                                     "::add-mask::" + env["database_url"]]
    assert out.read_text() == "DATABASE_URL=%s\n" % env["database_url"]

    # create: the second run (without jq) replays the first's key.
    ids = ws.parent / "id-file"
    r = helper_both(shells, d, ws, path_without_jq, "create", "nightly", "--key", "night-1",
                    "--ttl", "30m", "--blueprint", "saas", "--id-file", ids)
    assert r.rc == 0, r
    lines = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert set(lines) == {"DATABASE_URL", "PREVIEWD_DATABASE_ID"}
    db = ci_database(d, lines["PREVIEWD_DATABASE_ID"])
    assert db["name"] == "nightly" and db["blueprint"] == "saas" and db["status"] == "ready"
    assert ids.read_text() == lines["PREVIEWD_DATABASE_ID"] + "\n"
    assert subprocess.run(["psql", lines["DATABASE_URL"], "-Atc", "SELECT count(*) > 0 FROM "
                           "previewd_migrations"], capture_output=True, text=True,
                          timeout=30).stdout.strip() == "t"
    _, listing = d.get_json("/api/v1/databases", token=d.admin_token)
    assert [x["id"] for x in listing["data"]] == [db["id"]]

    # Without --key each run gets its own (its own retries stay safe).
    r1 = helper(shells, d, ws, "create", "unkeyed")
    r2 = helper(shells, d, ws, "create", "unkeyed", path=path_without_jq)
    assert r1.rc == 0 and r2.rc == 0 and r1.stdout != r2.stdout

    r = helper_both(shells, d, ws, path_without_jq, "delete", db["id"])
    assert r.rc == 0 and r.stdout == "" and "deletion requested" in r.stderr
    gone(pg_engine(pg), db)


def pg_engine(pg):
    return EngineUnderTest("postgres", pg)


def test_helper_failures_name_the_reason(pg, pg_config, forge, previewd_factory, shells,
                                         tmp_path, path_without_jq):
    broken = "CREATE TABLE orders (id integer PRIMARY KEY, total numeric REFERENCES nowhere);"
    init = {"db/migrations/001_init.sql": "CREATE TABLE customers (id integer PRIMARY KEY);"}
    d = forge_daemon(pg_config, forge, previewd_factory, {
        SHA_A: dict(init, **{"db/migrations/002_orders.sql": broken}), SHA_B: init})
    ws = make_workspace(tmp_path)

    def fails(*args, **kw):
        r = helper_both(shells, d, ws, path_without_jq, *args, **kw)
        assert r.rc == 1 and r.stdout == "", r
        return r.stderr

    # A wrong token: said so, and the token is not repeated.
    err = fails("pr", REPO, "1", token="wrong-token-1234")
    assert "previewd refused the token (401)" in err and "wrong-token-1234" not in err
    err = fails("create", "x", token="wrong-token-1234")
    assert "previewd refused the token (401)" in err and "wrong-token-1234" not in err

    # No such pull request, after a short wait.
    err = fails("pr", REPO, "99", "--timeout", "1")
    assert "gave up after 1s: not_found: no environment for github pull request acme/shop#99" \
        in err, err

    # A failed migration: the status and previewd's error.
    open_pr(d, 1, SHA_A)
    wait_until(lambda: (pr_env(d, 1) or {}).get("status") == "failed", what="failure")
    err = fails("pr", REPO, "1", "--sha", SHA_A)
    assert "acme/shop#1: environment preview-pr-1 is failed: migration 002_orders.sql failed" \
        in err, err

    # Deleted through the API.
    open_pr(d, 2, SHA_B)
    ready_pr_env(d, 2, SHA_B)
    status, _, _ = d.request("DELETE", "/api/v1/environments/" + pr_env(d, 2)["id"],
                             token=d.admin_token)
    assert status == 202
    wait_until(lambda: pr_env(d, 2)["status"] == "deleted", what="the delete")
    err = fails("pr", REPO, "2")
    assert "environment preview-pr-2 is deleted: deleted through the API" in err, err

    # Requests previewd refuses: its code and message.
    err = fails("create", "n" * 64)
    assert "(422): invalid_name: name must be 1 to 63 of A-Z a-z 0-9 . _ -" in err, err
    err = fails("create", "x", "--engine", "oracle")
    assert "(422): unknown_engine: engine must be one of the configured servers: postgres" in err
    assert helper(shells, d, ws, "create", "x", "--key", "k-1").rc == 0
    err = fails("create", "y", "--key", "k-1")
    assert "(422): idempotency_key_reused" in err
    err = fails("delete", "env_0000000000000000")
    assert 'no database env_0000000000000000 on previewd: not_found: no database ' \
        '"env_0000000000000000"' in err, err

    # A key whose database is gone: the status, and what to do.
    r = helper(shells, d, ws, "create", "z", "--key", "k-2")
    db_id = dict(line.split("=", 1) for line in r.stdout.splitlines())["PREVIEWD_DATABASE_ID"]
    assert helper(shells, d, ws, "delete", db_id).rc == 0
    # At once, whether previewd has dropped it yet or not: never its URL.
    r = helper(shells, d, ws, "create", "z", "--key", "k-2")
    assert r.rc == 1 and r.stdout == "", r
    assert re.search(r"database z \(%s\) is (being deleted|deleting|deleted): deleted through "
                     r"the API" % db_id, r.stderr), r
    wait_until(lambda: ci_database(d, db_id)["status"] == "deleted", what="the delete")
    err = fails("create", "z", "--key", "k-2")
    assert "database z (%s) is deleted: deleted through the API" % db_id in err
    assert "a new run needs a new key" in err


def test_helper_retries_an_unreachable_previewd_then_gives_up(shells, tmp_path,
                                                              path_without_jq):
    ws = make_workspace(tmp_path)
    url = "http://127.0.0.1:%d" % free_port()       # nothing listens there
    for path in (None, path_without_jq):
        start = time.monotonic()
        r = helper(shells, None, ws, "pr", REPO, "1", "--timeout", "3", url=url,
                   token="secret-token-5678", path=path)
        assert r.rc == 1 and r.stdout == "", r
        assert "retrying in 1s" in r.stderr
        assert "cannot reach previewd at %s after" % url in r.stderr
        assert "secret-token-5678" not in r.log
        assert time.monotonic() - start < 10


def curl_shim(tmp_path):
    """A PATH whose curl writes its command line to a log, then runs curl:
    (PATH, function returning the lines logged so far)."""
    shim = tmp_path / "curl-shim"
    shim.mkdir()
    log = tmp_path / "curl-argv"
    log.touch()
    (shim / "curl").write_text('#!/bin/sh\nprintf "%%s\\n" "$*" >> "%s"\nexec %s "$@"\n'
                               % (log, shutil.which("curl")))
    (shim / "curl").chmod(0o755)
    return "%s:%s" % (shim, os.environ["PATH"]), lambda: log.read_text().splitlines()


def test_helper_keeps_the_token_off_command_lines(pg, pg_config, previewd_factory, shells,
                                                  tmp_path):
    """Anyone on the runner can read a process's command line."""
    d = previewd_factory(pg_config)
    ws = make_workspace(tmp_path)
    path, calls = curl_shim(tmp_path)
    r = helper(shells, d, ws, "create", "argv", "--key", "argv-1", path=path)
    assert r.rc == 0, r
    assert helper(shells, d, ws, "pr", REPO, "5", "--timeout", "1", path=path).rc == 1
    logged = "\n".join(calls())
    assert "api/v1/databases" in logged and "pulls/5" in logged
    assert d.ci_token not in logged


# --- GitHub Actions: the pull request's database ------------------------------

def test_github_pr_workflow_gets_the_pull_requests_url(pg, pg_config, previewd_factory, shells,
                                                      tmp_path):
    wf = GitHubJob("preview-db.yml")
    # YAML 1.1 reads the key `on` as true.
    assert wf.doc[True]["pull_request"]["types"] == ["opened", "reopened", "synchronize"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in wf.job["if"]
    d = previewd_factory(pg_config)
    open_pr(d, 7, SHA_A)                  # the webhook first
    ws = make_workspace(tmp_path)
    results = wf.run(shells, ws, github_ctx(d, 7, SHA_A))
    for name, r in results.items():
        assert r != "skipped" and r.rc == 0, (name, r)
    env = pr_env(d, 7)
    url = env["database_url"]
    assert wf.github_env == {"DATABASE_URL": url}
    assert (ws / "make-test.out").read_text() == env["database"] + "\n"
    wait_step = results["Wait for this pull request's database"]
    assert "::add-mask::" + password_of(url) in wait_step.stdout.splitlines()
    for r in results.values():
        assert only_masked(r.log, password_of(url)) and d.ci_token not in r.log


def test_github_pr_workflow_started_before_the_webhook(pg, pg_config, previewd_factory, shells,
                                                      tmp_path):
    d = previewd_factory(pg_config)
    ws = make_workspace(tmp_path)
    wf = GitHubJob("preview-db.yml")
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(wf.run, shells, ws, github_ctx(d, 8, SHA_A))
        # The job is long-polling previewd for a pull request it never heard of.
        wait_until(lambda: waiting_on(d.port) or job.done(), what="the job's long poll")
        assert not job.done(), job.result()
        assert pr_env(d, 8) is None
        open_pr(d, 8, SHA_A)
        results = job.result(timeout=STEP_TIMEOUT)
    assert all(r.rc == 0 for r in results.values()), results
    env = pr_env(d, 8)
    assert wf.github_env == {"DATABASE_URL": env["database_url"]}
    assert (ws / "make-test.out").read_text() == env["database"] + "\n"


def test_github_pr_workflow_waits_for_the_pushs_migrations(pg, pg_config, forge,
                                                           previewd_factory, shells, tmp_path):
    """A push's job can start before previewd has applied the push: with
    --sha it gets the database once the new migration is in."""
    init = {"db/migrations/001_init.sql": "CREATE TABLE customers (id integer PRIMARY KEY);"}
    d = forge_daemon(pg_config, forge, previewd_factory, {
        SHA_A: init,
        SHA_B: dict(init, **{"db/migrations/002_orders.sql":
                             "CREATE TABLE orders (id integer PRIMARY KEY);"})})
    open_pr(d, 9, SHA_A)
    ready_pr_env(d, 9, SHA_A)
    ws = make_workspace(tmp_path, test="orders")
    wf = GitHubJob("preview-db.yml")
    path, calls = curl_shim(tmp_path)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(wf.run, shells, ws, github_ctx(d, 9, SHA_B), path=path)
        # Asked twice: told "ready" (at the old commit), and kept waiting.
        wait_until(lambda: len(calls()) >= 2 or job.done(), what="the job to ask twice")
        assert not job.done(), job.result()
        open_pr(d, 9, SHA_B, action="synchronize")
        results = job.result(timeout=STEP_TIMEOUT)
    assert all(r.rc == 0 for r in results.values()), results
    env = pr_env(d, 9)
    assert env["head_sha"] == SHA_B
    assert (ws / "make-test.out").read_text() == "%s|0\n" % env["database"]


# --- GitHub Actions: a database per CI run ------------------------------------

CREATE = "Create this run's database"
TEST = "Migrate and test"
DELETE = "Delete this run's database"

MYSQL_STEP = r"""
u=${DATABASE_URL#mysql://}
user=${u%%:*}; u=${u#*:}
password=${u%%@*}; u=${u#*@}
host=${u%%:*}; u=${u#*:}
port=${u%%/*}; db=${u#*/}
mysql --host "$host" --port "$port" --user "$user" --password="$password" "$db" \
  -e "CREATE TABLE widgets (id integer PRIMARY KEY, name varchar(20)); INSERT INTO widgets VALUES (1, 'gear')"
mysql --host "$host" --port "$port" --user "$user" --password="$password" "$db" \
  --batch --skip-column-names -e "SELECT DATABASE(), COUNT(*) FROM widgets" > make-test.out
"""


def test_github_ci_run_workflow_creates_connects_and_deletes(engine, previewd_factory, shells,
                                                            tmp_path):
    wf = GitHubJob("ci-run-db.yml")
    assert wf.step(DELETE)["if"] == "always()"
    d = previewd_factory(engine.config())
    ws = make_workspace(tmp_path, test="widgets" if engine.name == "postgres" else "mysql")
    replace = {TEST: MYSQL_STEP} if engine.name == "mysql" else {}
    results = wf.run(shells, ws, github_ctx(d, run_id=5001), replace=replace)
    for name, r in results.items():
        assert r.rc == 0, (name, r)
    db_id = wf.github_env["PREVIEWD_DATABASE_ID"]
    db = ci_database(d, db_id)
    assert db["name"] == "ci-run-5001-1" and db["engine"] == engine.name
    url = wf.github_env["DATABASE_URL"]
    assert url.startswith(engine.scheme + "://%s:" % db["user"])
    # The job's tests ran against it (then the last step deleted it).
    sep = "|" if engine.name == "postgres" else "\t"
    assert (ws / "make-test.out").read_text() == "%s%s1\n" % (db["database"], sep)
    create = results[CREATE]
    assert create.stdout.splitlines()[:2] == ["::add-mask::" + password_of(url),
                                              "::add-mask::" + url]
    for r in results.values():
        assert only_masked(r.log, password_of(url)) and d.ci_token not in r.log
    assert '"error":"deleted through the API"' in results[DELETE].stdout
    gone(engine, db)
    engine.assert_refused(url)


def test_github_ci_run_reruns_and_failing_tests(pg, pg_config, previewd_factory, shells,
                                               tmp_path):
    eng = pg_engine(pg)
    d = previewd_factory(pg_config)
    wf = GitHubJob("ci-run-db.yml")

    # A step retried within one attempt gets the same database back.
    first = {}
    for _ in range(2):
        ws = make_workspace(tmp_path)
        results = wf.run(shells, ws, github_ctx(d, run_id=6001), only=[CREATE])
        assert results[CREATE].rc == 0, results[CREATE]
        first = first or dict(wf.github_env)
        assert wf.github_env == first

    # The whole job, tests failing: the delete step runs all the same.
    ws = make_workspace(tmp_path, test="fail")
    results = wf.run(shells, ws, github_ctx(d, run_id=6001))
    assert results[CREATE].rc == 0 and results[TEST].rc != 0
    assert "the tests failed" in results[TEST].stderr
    assert results[DELETE].rc == 0, results[DELETE]
    assert wf.github_env == first
    db = ci_database(d, first["PREVIEWD_DATABASE_ID"])
    gone(eng, db)

    # "Re-run jobs": the same run id, the next attempt, a database of its own.
    ws = make_workspace(tmp_path, test="widgets")
    results = wf.run(shells, ws, github_ctx(d, run_id=6001, attempt=2))
    assert all(r.rc == 0 for r in results.values()), results
    second = ci_database(d, wf.github_env["PREVIEWD_DATABASE_ID"])
    assert second["id"] != db["id"] and second["name"] == "ci-run-6001-2"
    assert (ws / "make-test.out").read_text() == "%s|1\n" % second["database"]
    gone(eng, second)

    # Why the attempt is in the key: the first attempt's key now answers
    # with its deleted database, and the step says so.
    ws = make_workspace(tmp_path)
    results = wf.run(shells, ws, github_ctx(d, run_id=6001), only=[CREATE])
    assert results[CREATE].rc == 1
    assert "::error::previewd: database %s is deleted: deleted through the API" % db["id"] \
        in results[CREATE].stdout

    # A refused request: the step fails with previewd's message.
    ws = make_workspace(tmp_path)
    ctx = dict(github_ctx(d, run_id=6002), **{"secrets.PREVIEWD_CI_TOKEN": "wrong"})
    results = wf.run(shells, ws, ctx)
    assert results[CREATE].rc == 1 and results[TEST] == "skipped"
    assert "::error::previewd: a valid Authorization: Bearer token is required" \
        in results[CREATE].stdout
    assert results[DELETE].rc == 0 and "no database was created" in results[DELETE].stdout


ISSUE_CALL = """curl -sS -X POST "$PREVIEWD/api/v1/databases?wait=true" \\
  -H "Authorization: Bearer $PREVIEWD_CI_TOKEN" \\
  -H "Idempotency-Key: $GITHUB_RUN_ID" \\
  -H "Content-Type: application/json" \\
  -d '{"name": "ci-run-42"}' | jq -r '.data.connection_string'
"""


def test_the_issues_curl_call_as_written(pg, pg_config, previewd_factory, shells, tmp_path):
    d = previewd_factory(pg_config)
    ws = make_workspace(tmp_path)
    env = base_env(ws, PREVIEWD=d.base_url, PREVIEWD_CI_TOKEN=d.ci_token, GITHUB_RUN_ID=42)
    r = shells.run(["bash", "-c", ISSUE_CALL], env, ws)
    assert r.rc == 0 and r.stderr == "", r
    url = r.stdout.strip()
    assert url.startswith("postgresql://")
    psql = subprocess.run(["psql", url, "-Atc", "SELECT 1"], capture_output=True, text=True,
                          timeout=30)
    assert psql.stdout == "1\n", psql.stderr
    _, listing = d.get_json("/api/v1/databases", token=d.admin_token)
    assert [x["name"] for x in listing["data"]] == ["ci-run-42"]
    # Again, as a retried step would: the same database.
    assert shells.run(["bash", "-c", ISSUE_CALL], env, ws).stdout.strip() == url
    # Its limit, which is why the examples check the answer: an error is
    # printed as "null" and the pipeline still exits 0.
    bad = shells.run(["bash", "-c", ISSUE_CALL], dict(env, PREVIEWD_CI_TOKEN="wrong"), ws)
    assert (bad.rc, bad.stdout) == (0, "null\n")


# --- GitLab CI -----------------------------------------------------------------

def gitlab_jobs():
    return yaml.safe_load((EXAMPLES / "gitlab" / ".gitlab-ci.yml").read_text())


def mr_hook(action, iid, sha):
    """A GitLab Merge Request Hook body, as GitLab sends it."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "object_kind": "merge_request", "event_type": "merge_request",
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "repository": {"name": "shop", "url": "git@gitlab.example.com:%s.git" % GL_PATH},
        "project": {"id": GL_PROJECT, "name": "shop", "namespace": "grp/sub",
                    "path_with_namespace": GL_PATH, "default_branch": "main",
                    "web_url": "https://gitlab.example.com/" + GL_PATH, "visibility_level": 0},
        "object_attributes": {
            "id": 90000 + iid, "iid": iid, "target_branch": "main",
            "source_branch": "feature-%d" % iid, "source_project_id": GL_PROJECT,
            "target_project_id": GL_PROJECT, "title": "MR %d" % iid, "state": "opened",
            "created_at": "2026-11-01 10:00:00 UTC", "updated_at": now, "action": action,
            "url": "https://gitlab.example.com/%s/-/merge_requests/%d" % (GL_PATH, iid),
            "last_commit": {"id": sha, "message": "change", "timestamp": now}},
        "labels": [], "changes": {},
    }


def gitlab_daemon(pg_config, forge, previewd_factory):
    forge.gitlab_token = GL_TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    del cfg["repo:acme/shop"]
    cfg["repo:grp/*"] = {}
    cfg["gitlab"] = {"api_url": forge.gitlab_url, "token": GL_TOKEN,
                     "webhook_token": GL_HOOK_TOKEN}
    return previewd_factory(cfg)


def open_mr(d, iid, sha):
    status, _, body = d.request("POST", "/webhooks/gitlab", body=mr_hook("open", iid, sha),
                                headers={"X-Gitlab-Event": "Merge Request Hook",
                                         "X-Gitlab-Token": GL_HOOK_TOKEN,
                                         "X-Gitlab-Webhook-UUID": str(uuid.uuid4())})
    assert status == 202, body


def run_gitlab_job(shells, job, ws, variables):
    """script: one `sh -e` session; after_script: a new one, without what
    the script set, run whatever happened."""
    for rule in job["rules"]:
        assert rule == {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}
    env = base_env(ws, GITLAB_CI="true", CI_PIPELINE_SOURCE="merge_request_event",
                   CI_PROJECT_PATH=GL_PATH, **variables)
    (ws / ".script.sh").write_text("\n".join(job["script"]) + "\n")
    script = shells.run(["sh", "-e", ws / ".script.sh"], env, ws)
    after = None
    if job.get("after_script"):
        (ws / ".after.sh").write_text("\n".join(job["after_script"]) + "\n")
        after = shells.run(["sh", "-e", ws / ".after.sh"], env, ws)
    return script, after


def test_gitlab_merge_request_pipeline_gets_the_mr_url(pg, pg_config, forge, previewd_factory,
                                                       shells, tmp_path):
    job = gitlab_jobs()["preview-db"]
    d = gitlab_daemon(pg_config, forge, previewd_factory)
    open_mr(d, 4, SHA_A)
    env = ready_pr_env(d, 4, SHA_A, provider="gitlab")
    common = dict(PREVIEWD_URL=d.base_url, PREVIEWD_CI_TOKEN=d.ci_token,
                  CI_MERGE_REQUEST_IID=4, CI_PIPELINE_ID=700, CI_JOB_ID=7001)
    # A merge request pipeline: CI_COMMIT_SHA is the source branch's head.
    ws = make_workspace(tmp_path)
    script, _ = run_gitlab_job(shells, job, ws, dict(common, CI_COMMIT_SHA=SHA_A))
    assert script.rc == 0, script
    assert (ws / "make-test.out").read_text() == env["database"] + "\n"
    assert password_of(env["database_url"]) not in script.log and d.ci_token not in script.log
    # A merged results pipeline: CI_COMMIT_SHA is a merge commit previewd
    # never saw; the source branch's head is in its own variable.
    ws = make_workspace(tmp_path)
    script, _ = run_gitlab_job(shells, job, ws, dict(common, CI_COMMIT_SHA="9" * 40,
                                                     CI_MERGE_REQUEST_SOURCE_BRANCH_SHA=SHA_A))
    assert script.rc == 0, script
    assert (ws / "make-test.out").read_text() == env["database"] + "\n"
    # The job started before the webhook: it waits for it.
    ws = make_workspace(tmp_path)
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(run_gitlab_job, shells, job, ws,
                          dict(common, CI_MERGE_REQUEST_IID=5, CI_COMMIT_SHA=SHA_B))
        wait_until(lambda: waiting_on(d.port) or run.done(), what="the job's long poll")
        assert not run.done(), run.result()
        open_mr(d, 5, SHA_B)
        script, _ = run.result(timeout=STEP_TIMEOUT)
    assert script.rc == 0, script
    assert (ws / "make-test.out").read_text() == pr_env(d, 5, "gitlab")["database"] + "\n"


def test_gitlab_ci_database_job_and_after_script(pg, pg_config, forge, previewd_factory, shells,
                                                 tmp_path):
    eng = pg_engine(pg)
    job = gitlab_jobs()["ci-db"]
    d = gitlab_daemon(pg_config, forge, previewd_factory)
    common = dict(PREVIEWD_URL=d.base_url, PREVIEWD_CI_TOKEN=d.ci_token, CI_MERGE_REQUEST_IID=4,
                  CI_COMMIT_SHA=SHA_A, CI_PIPELINE_ID=800)

    ws = make_workspace(tmp_path, test="widgets")
    script, after = run_gitlab_job(shells, job, ws, dict(common, CI_JOB_ID=8001))
    assert script.rc == 0 and after.rc == 0, (script, after)
    db_id = (ws / ".previewd-database-id").read_text().strip()
    db = ci_database(d, db_id)
    assert db["name"] == "ci-pipeline-800"
    assert (ws / "make-test.out").read_text() == "%s|1\n" % db["database"]
    assert "database %s: deletion requested" % db_id in after.stderr
    for r in (script, after):
        assert d.ci_token not in r.log and "postgresql://" not in r.log
    gone(eng, db)

    # Tests failing: after_script still deletes. A retried job (new job
    # id, same pipeline) gets its own database.
    ws = make_workspace(tmp_path, test="fail")
    script, after = run_gitlab_job(shells, job, ws, dict(common, CI_JOB_ID=8002))
    assert script.rc != 0 and "the tests failed" in script.stderr
    assert after.rc == 0, after
    retried = ci_database(d, (ws / ".previewd-database-id").read_text().strip())
    assert retried["id"] != db_id and retried["name"] == "ci-pipeline-800"
    gone(eng, retried)

    # No previewd answer, no id file: after_script has nothing to delete.
    ws = make_workspace(tmp_path)
    script, after = run_gitlab_job(shells, job, ws, dict(common, CI_JOB_ID=8003,
                                                         PREVIEWD_CI_TOKEN="wrong"))
    assert script.rc != 0 and "previewd refused the token (401)" in script.stderr
    assert after.rc == 0 and not (ws / ".previewd-database-id").exists()
