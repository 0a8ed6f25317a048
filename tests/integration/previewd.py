"""Drive the real previewd binary the way a user and GitHub would.

The contract with the binary:
  previewd serve --config PATH          serves until SIGTERM/SIGINT, exit 0
  previewd check-config --config PATH   exit 0 when the config is valid
  GET /healthz                          200 once it accepts requests
  POST /webhooks/github                 GitHub webhooks (X-Hub-Signature-256)
  GET /api/v1/repos/OWNER/NAME/pulls/N/environment   for CI, Bearer token

The binary is PREVIEWD_BIN, or build/previewd under the repository root.

Everything waits by polling with a deadline (wait_until); nothing sleeps for
a fixed time.  Only the standard library is used.
"""

import atexit
import ctypes
import datetime
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import secrets
import signal
import ssl
import subprocess
import time
import urllib.parse
import uuid
import zlib
from pathlib import Path

from servers import free_port, install_sigterm_exit, tail

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
HTTP_TIMEOUT = 60.0

# Sanitizer reports in a daemon's log; conftest fails the test on any.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:",
                     "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer")


def binary():
    """Path of the previewd binary under test."""
    return os.environ.get("PREVIEWD_BIN") or str(REPO_ROOT / "build" / "previewd")


def wait_until(predicate, timeout=30, interval=0.05, what="condition"):
    """Poll predicate() until it returns something truthy, and return that.

    The one waiting primitive tests use.  Raises AssertionError naming
    `what` after `timeout` seconds.  Exceptions from predicate propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(interval)


def sign_github(body, secret):
    """The X-Hub-Signature-256 value GitHub sends for body."""
    if isinstance(secret, str):
        secret = secret.encode()
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# Successive payloads get increasing updated_at values even within one
# second: now + one more second per call.
_updated_counter = itertools.count(1)


def _iso(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num_id(*parts):
    """A stable positive id from strings (GitHub ids are integers)."""
    return zlib.crc32("/".join(str(p) for p in parts).encode()) % 900_000_000 + 100_000_000


def pr_payload(action, number, repo="acme/shop", sha=None, merged=False, private=False,
               fork=False, updated_at=None, installation_id=None):
    """A GitHub `pull_request` webhook payload, with the fields GitHub sends.

    sha defaults to a value fixed per (repo, number); pass a new one for a
    new push.  updated_at (datetime or ISO string) defaults to now plus a
    per-call counter in seconds, so later payloads are always newer.
    """
    owner, name = repo.split("/", 1)
    now = datetime.datetime.now(datetime.timezone.utc)
    if updated_at is None:
        updated_at = _iso(now + datetime.timedelta(seconds=next(_updated_counter)))
    elif isinstance(updated_at, datetime.datetime):
        updated_at = _iso(updated_at)
    created_at = _iso(now - datetime.timedelta(hours=1))
    if sha is None:
        sha = hashlib.sha1(("head %s#%d" % (repo, number)).encode()).hexdigest()
    base_sha = hashlib.sha1(("base " + repo).encode()).hexdigest()
    closed = action == "closed"
    html = "https://github.com/" + repo
    api = "https://api.github.com/repos/" + repo
    author = {"login": "octocat", "id": 583231, "type": "User"}
    repository = {
        "id": _num_id("repo", repo),
        "node_id": "R_" + str(_num_id("repo", repo)),
        "name": name,
        "full_name": repo,
        "private": private,
        "fork": False,
        "owner": {"login": owner, "id": _num_id("owner", owner), "type": "Organization"},
        "html_url": html,
        "url": api,
        "clone_url": html + ".git",
        "default_branch": "main",
    }
    if fork:
        head_full = "someone/%s-fork" % name
        head_repo = dict(repository, id=_num_id("repo", head_full), name=name + "-fork",
                         full_name=head_full, fork=True,
                         owner={"login": "someone", "id": _num_id("owner", "someone"),
                                "type": "User"},
                         html_url="https://github.com/" + head_full,
                         url="https://api.github.com/repos/" + head_full,
                         clone_url="https://github.com/%s.git" % head_full)
        head_label = "someone:feature-%d" % number
    else:
        head_repo = repository
        head_label = "%s:feature-%d" % (owner, number)
    pull_request = {
        "id": _num_id("pr", repo, number),
        "number": number,
        "state": "closed" if closed else "open",
        "locked": False,
        "draft": False,
        "merged": bool(merged) if closed else False,
        "merged_at": updated_at if closed and merged else None,
        "closed_at": updated_at if closed else None,
        "title": "Change number %d" % number,
        "body": "Preview me.",
        "user": author,
        "head": {"label": head_label, "ref": "feature-%d" % number, "sha": sha,
                 "user": head_repo["owner"], "repo": head_repo},
        "base": {"label": owner + ":main", "ref": "main", "sha": base_sha,
                 "user": repository["owner"], "repo": repository},
        "created_at": created_at,
        "updated_at": updated_at,
        "html_url": "%s/pull/%d" % (html, number),
        "url": "%s/pulls/%d" % (api, number),
    }
    payload = {
        "action": action,
        "number": number,
        "pull_request": pull_request,
        "repository": repository,
        "sender": author,
    }
    if installation_id is not None:
        payload["installation"] = {"id": installation_id}
    return payload


def _set_pdeathsig():
    # In the child, before exec: SIGKILL previewd if the test process dies
    # without running its atexit handlers (SIGKILL, OOM).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Previewd:
    """One previewd daemon with its own directory, config, port and log.

    config maps INI section -> key -> value.  Missing defaults are filled
    in; a value of None leaves that key out of the file altogether (for
    tests of missing keys).
    """

    def __init__(self, tmpdir, config=None, env=None):
        self.tmpdir = Path(tmpdir)
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self.config = {s: dict(kv) for s, kv in (config or {}).items()}
        self.env = dict(env or {})
        self.config_path = self.tmpdir / "previewd.conf"
        self.log_path = self.tmpdir / "previewd.log"
        self.proc = None
        self.exit_codes = []        # (how, code) for every stop/kill/exit seen
        self.expected_exit = True   # False while running: an exit is a crash
        self.stop_timed_out = False
        self._auto_listen = False
        self._atexit = False
        self._fill_defaults()

    # -- configuration ----------------------------------------------------

    def _fill_defaults(self):
        server = self.config.setdefault("server", {})
        if "listen" not in server:
            server["listen"] = "127.0.0.1:%d" % free_port()
            self._auto_listen = True
        port = self.port
        defaults = {
            "state_path": str(self.tmpdir / "state.db"),
            "secret_key": secrets.token_hex(32),
            "admin_token": secrets.token_urlsafe(24),
            "ci_token": secrets.token_urlsafe(24),
            "public_url": "http://127.0.0.1:%d" % port if port else None,
            "workers": "2",
        }
        for k, v in defaults.items():
            server.setdefault(k, v)
        github = self.config.setdefault("github", {})
        github.setdefault("webhook_secret", secrets.token_urlsafe(24))
        github.setdefault("api_url", "http://127.0.0.1:9")  # nothing listens there

    def _listen_parts(self):
        listen = self.config.get("server", {}).get("listen")
        if not listen:
            return None, None
        m = re.fullmatch(r"(?:\[?([^\]]*)\]?:)?(\d+)", str(listen).strip())
        if not m:
            return None, None
        return m.group(1), int(m.group(2))

    @property
    def port(self):
        return self._listen_parts()[1]

    @property
    def tls(self):
        """True when the daemon serves HTTPS ([server] tls_cert)."""
        return bool(self._get("server", "tls_cert"))

    @property
    def base_url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def _connection(self, timeout):
        if not self.tls:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        # The test's own certificate is the only one trusted, and its name
        # (127.0.0.1) is checked, as a careful client would.
        ctx = ssl.create_default_context(cafile=self._get("server", "tls_cert"))
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=ctx)

    def _get(self, section, key):
        v = self.config.get(section, {}).get(key)
        return None if v is None else str(v)

    @property
    def admin_token(self):
        return self._get("server", "admin_token")

    @property
    def ci_token(self):
        return self._get("server", "ci_token")

    @property
    def webhook_secret(self):
        return self._get("github", "webhook_secret")

    @staticmethod
    def _render_value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        s = str(v)
        if "\n" in s or "\r" in s:
            raise ValueError("config values are one line: %r" % s)
        return s

    def write_config(self):
        """Render self.config to tmpdir/previewd.conf (mode 0600); return the path."""
        lines = []
        for section, kv in self.config.items():
            lines.append("[%s]" % section)
            lines += ["%s = %s" % (k, self._render_value(v)) for k, v in kv.items()
                      if v is not None]
            lines.append("")
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines))
        return self.config_path

    def check_config(self, path=None):
        """Run `previewd check-config`; return (exit code, stdout+stderr)."""
        if path is None:
            path = self.config_path if self.config_path.exists() else self.write_config()
        r = subprocess.run([binary(), "check-config", "--config", str(path)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=self._environ(None),
                           cwd=self.tmpdir, timeout=60)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    # -- process ----------------------------------------------------------

    def _environ(self, extra_env):
        env = dict(os.environ)
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(self.env)
        env.update(extra_env or {})
        return env

    def start(self, extra_env=None):
        """Start `previewd serve` and wait until GET /healthz answers 200.

        Writes the config first unless it has been written already (call
        write_config() again after changing self.config).  Retries once on
        a new port when the chosen one was taken meanwhile (see free_port).
        """
        if self.alive():
            raise RuntimeError("previewd is already running (pid %d)" % self.proc.pid)
        if not os.access(binary(), os.X_OK):
            raise RuntimeError("no previewd binary at %s (run make, or set PREVIEWD_BIN)"
                               % binary())
        if not self.config_path.exists():
            self.write_config()
        try:
            self._start_once(extra_env)
        except _AddressInUse:
            if not self._auto_listen:
                raise
            port = free_port()
            self.config["server"]["listen"] = "127.0.0.1:%d" % port
            self.config["server"]["public_url"] = "http://127.0.0.1:%d" % port
            self.write_config()
            self._start_once(extra_env)
        return self

    def _start_once(self, extra_env):
        if not self._atexit:
            atexit.register(self._atexit_stop)
            self._atexit = True
        install_sigterm_exit()
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [binary(), "serve", "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.tmpdir, env=self._environ(extra_env),
                start_new_session=True, preexec_fn=_set_pdeathsig)
        self.expected_exit = False
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            code = self.proc.poll()
            if code is not None:
                self.expected_exit = True
                self.exit_codes.append(("start", code))
                text = self._log_from(log_start)
                msg = "previewd exited with %d before /healthz answered:\n%s" % (
                    code, "\n".join(text.splitlines()[-40:]))
                if re.search(r"address already in use|EADDRINUSE|cannot bind", text, re.I):
                    raise _AddressInUse(msg)
                raise RuntimeError(msg)
            try:
                status, _, _ = self.request("GET", "/healthz", timeout=2)
                if status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() >= deadline:
                code = self.kill9()
                raise RuntimeError("previewd did not answer /healthz with 200 within %gs "
                                   "(killed, exit %d):\n%s"
                                   % (START_TIMEOUT, code, tail(self.log_path)))
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        """Send sig (e.g. SIGHUP for a reload) to the running daemon."""
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Send sig, wait up to timeout seconds, return the exit code.

        A daemon still running after timeout is SIGKILLed (code -9) and
        self.stop_timed_out is set.  Asserts nothing: the caller does.
        Negative codes are signals, as in subprocess; None if never started.
        """
        return self._stop(sig, timeout, "stop")

    def _stop(self, sig, timeout, how):
        self.stop_timed_out = False
        if self.proc is None:
            return None
        self.expected_exit = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.stop_timed_out = True
                self.proc.kill()
                self.proc.wait()
            self.exit_codes.append((how, self.proc.returncode))
        return self.proc.returncode

    def kill9(self):
        """SIGKILL the daemon (a crash), wait, return the exit code (-9)."""
        if self.proc is None:
            return None
        self.expected_exit = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.exit_codes.append(("kill9", self.proc.returncode))
        return self.proc.returncode

    def restart(self, extra_env=None):
        """stop() then start(); return the stop's exit code.

        The code is also kept in exit_codes as ("restart", code), and the
        previewd_factory fixture fails the test if it is not 0.
        """
        code = self._stop(signal.SIGTERM, 30, "restart")
        self.start(extra_env)
        return code

    def _atexit_stop(self):
        if self.alive():
            self.stop(timeout=10)

    def log(self):
        """The daemon's log so far (all starts), as text."""
        return self._log_from(0)

    def _log_from(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- HTTP -------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, token=None, timeout=HTTP_TIMEOUT):
        """One HTTP request; return (status, headers with lower-case names, body bytes).

        body: bytes, str (sent as UTF-8) or a dict/list (sent as JSON).
        token: sent as Authorization: Bearer TOKEN.
        """
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        conn = self._connection(timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def get_json(self, path, token=None, headers=None, timeout=HTTP_TIMEOUT):
        """GET path; return (status, parsed JSON body or None when empty)."""
        status, hdrs, data = self.request("GET", path, headers=headers, token=token,
                                          timeout=timeout)
        if not data:
            return status, None
        try:
            return status, json.loads(data)
        except ValueError:
            raise AssertionError("GET %s -> %d, body is not JSON (content-type %s): %r"
                                 % (path, status, hdrs.get("content-type"), data[:500]))

    def github_webhook(self, event, payload, delivery=None, secret=None, signature=None,
                       extra_headers=None):
        """POST a GitHub webhook to /webhooks/github; return (status, headers, body).

        payload: dict (JSON-encoded) or bytes (sent as they are).
        signature: None computes it with secret (default: the configured
        webhook secret); a string is sent as given; False omits the header.
        """
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/previewd-tests",
        }
        if signature is None:
            headers["X-Hub-Signature-256"] = sign_github(
                body, self.webhook_secret if secret is None else secret)
        elif signature is not False:
            headers["X-Hub-Signature-256"] = signature
        headers.update(extra_headers or {})
        return self.request("POST", "/webhooks/github", body=body, headers=headers)

    def env_for(self, repo, number, wait=None, fmt=None, provider=None, token=None):
        """GET the CI environment endpoint for repo#number; (status, headers, body).

        Query parameters wait, format and provider are sent when given;
        token defaults to the CI token.
        """
        path = "/api/v1/repos/%s/pulls/%d/environment" % (
            "/".join(urllib.parse.quote(p, safe="") for p in repo.split("/")), number)
        query = {k: v for k, v in (("wait", wait), ("format", fmt), ("provider", provider))
                 if v is not None}
        if query:
            path += "?" + urllib.parse.urlencode(query)
        timeout = HTTP_TIMEOUT
        if wait is not None:
            try:
                timeout = max(HTTP_TIMEOUT, float(str(wait).rstrip("s")) + 30)
            except ValueError:
                pass
        return self.request("GET", path, token=self.ci_token if token is None else token,
                            timeout=timeout)


class _AddressInUse(RuntimeError):
    pass
