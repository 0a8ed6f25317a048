"""A local stand-in for the GitHub, GitLab and Vercel REST APIs.

previewd's integration tests cannot reach api.github.com, gitlab.com or
api.vercel.com, so they point previewd at a ForgeStub instead:

    [github] api_url = forge.url
    [gitlab] api_url = forge.gitlab_url          (forge.url + "/api/v4")
    Vercel's API base = forge.vercel_url         (the same host: /v10/projects/...)

and script it: repository contents per ref (set_tree, set_gitlab_tree),
default branches and their heads (set_default_branch,
set_gitlab_default_branch), open pull / merge requests (set_open_pulls,
set_open_merge_requests, and hide_from_list for a list that misses an open
one), credentials, and faults (fail, delay, drop).
Everything previewd sent is in `requests`.

Modelled (documented API behaviour, not an exhaustive copy):

GitHub
  GET    /repos/O/R                    a repository set with set_default_branch:
         {id, name, full_name, private, default_branch, ...}; else 404
  GET    /repos/O/R/branches/BRANCH    BRANCH (one segment, slashes
         percent-encoded or not) known by set_default_branch: {name,
         commit: {sha, url}, protected}; 404 {"message": "Branch not found"}
  GET    /repos/O/R/git/trees/SHA[?recursive=1]   SHA a ref set with set_tree (a
         commit); {sha, url, tree: [{path, mode, type: blob|tree,
         sha, size, url}], truncated}; past tree_limit entries cut short with
         truncated: true (GitHub: 100,000 entries or 7 MB)
  GET    /repos/O/R/git/blobs/SHA      JSON {sha, size, content (base64),
         encoding}; Accept: application/vnd.github.raw[+json] -> raw bytes
  GET    /repos/O/R/contents[/PATH][?ref=REF]
         directory -> JSON array of {type, name, path, sha, size, url, git_url,
         html_url, download_url, _links}; file -> JSON object with base64
         `content` (wrapped with "\\n" every 60 characters, as GitHub does;
         files over 1 MiB: content "" and encoding "none");
         Accept: application/vnd.github.raw[+json] on a file -> the raw bytes,
         Content-Type: text/plain; charset=utf-8 (on a directory the listing
         is still JSON); Accept: application/vnd.github.object[+json] on a
         directory -> an object with `entries`.  No ref -> the repository's
         first ref set with set_tree ("default branch").
         404 {"message": "Not Found"} for a missing path or repository,
         404 {"message": "No commit found for the ref REF"} for a missing ref.
  POST   /repos/O/R/issues/N/comments          201, Location header; the comment's
         `user` is who the token belongs to: github_user for github_token,
         the App's bot ("<app_slug>[bot]", type Bot) for an installation token
  GET    /repos/O/R/issues/N/comments          paginated (per_page, page, Link)
  GET|PATCH|DELETE /repos/O/R/issues/comments/ID   404 once deleted
  GET    /repos/O/R/pulls[?state=open]          paginated, newest first (per_page,
         page, Link with rel="next" while there is a next page); a number
         hidden with hide_from_list is left out, as a page shift would
  GET    /repos/O/R/pulls/N                    one pull request: {number, state,
         merged, head, base, ...}, state "open" when N is open
         (set_open_pulls, hidden or not), else "closed" (merged false), for
         any repository and number: the stub keeps no closed ones
  POST   /app/installations/ID/access_tokens   JWT checked, 201 {token, expires_at}
  GET    /app                                  JWT checked, 200 {id, slug, name, ...}
  GET    /user                                 the token's user (github_user); an
         installation token: 403 "Resource not accessible by integration", as
         on GitHub; no token: 401 "Requires authentication"
  GET    /users/LOGIN                          github_user, the App's bot, or an
         account a planted comment was written by; else 404
  Every GitHub answer carries X-RateLimit-{Limit,Remaining,Used,Reset,Resource};
  every 200 GET answer an ETag, and If-None-Match with a matching ETag
  answers 304 (no body).

GitLab (under /api/v4; project ids may be numbers or URL-encoded paths)
  GET    /projects/P                   a project set with set_gitlab_default_branch
         (P its id or its URL-encoded path): {id, name, path_with_namespace,
         default_branch, visibility, ...}; 404 {"message": "404 Project Not Found"}
  GET    /projects/P/repository/branches/BRANCH   BRANCH one URL-encoded
         segment: {name, commit: {id, short_id, ...}, default, protected};
         404 {"message": "404 Branch Not Found"}
  GET    /projects/P/repository/tree?path=&ref=&recursive=&per_page=&page=
         [{id, name, type: blob|tree, path, mode}], paginated the GitLab way
         (default 20 per page, at most 100; X-Page, X-Per-Page, X-Total,
         X-Total-Pages, X-Next-Page, X-Prev-Page and Link headers);
         404 {"message": "404 Tree Not Found"} for a missing path or ref.
  GET    /projects/P/repository/blobs/SHA/raw   a blob's raw bytes;
         404 {"message": "404 Blob Not Found"}
  GET    /projects/P/repository/files/ENCODED_PATH/raw?ref=   raw bytes;
         404 {"message": "404 File Not Found"} / {"message": "404 Commit Not Found"}
  GET    /projects/P/repository/files/ENCODED_PATH?ref=       JSON, base64 content
         The file path must be ONE percent-encoded segment (db%2Fmigrations%2Fx.sql);
         an unencoded slash does not match the route, as on GitLab.
  GET    /user                                 the token's user (gitlab_user)
  POST|GET /projects/P/merge_requests/IID/notes    201 {id, body, author, ...};
         the author is gitlab_user
  GET|PUT|DELETE /projects/P/merge_requests/IID/notes/ID   404 {"message": "404 Note Not Found"}
  GET    /projects/P/merge_requests?state=opened   paginated; an iid hidden
         with hide_from_list is left out
  GET    /projects/P/merge_requests/IID        one merge request: {iid, state, ...},
         state "opened" when IID is open (set_open_merge_requests), else
         "closed", for any project and iid
  Every 200 GET answer carries a weak ETag, and If-None-Match with a
  matching ETag answers 304 (no body), as Rails' middleware does.
  Unknown routes: 404 {"error": "404 Not Found"}; bad token: 401 {"message": "401 Unauthorized"}.

Vercel
  POST   /vNN/projects/ID/env[?upsert=true][&teamId=T]   201 {created, failed: []};
         without upsert=true a key already set for an overlapping target and
         the same gitBranch -> 400 ENV_ALREADY_EXISTS.  Bad token: 403.

  GET /healthz -> 200 (not recorded), for readiness polls.

Answers always carry Content-Length (except 204 and 304, which have no
body); JSON answers are `application/json; charset=utf-8`, compact.  The
server speaks HTTP/1.1 with keep-alive, understands chunked request bodies
and Expect: 100-continue.

Directory listings (GitHub contents, GitLab tree) are deliberately returned
in REVERSE name order (see listing_order): previewd must sort migrations
itself and must not rely on the forge's order.

Only the standard library is used.
"""

import base64
import hashlib
import http.server
import itertools
import json
import random
import re
import secrets
import socket
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

HOST = "127.0.0.1"

GITHUB_DOCS = "https://docs.github.com/rest"
CONTENTS_DOCS = "https://docs.github.com/rest/repos/contents#get-repository-content"
TREES_DOCS = "https://docs.github.com/rest/git/trees#get-a-tree"
BLOBS_DOCS = "https://docs.github.com/rest/git/blobs#get-a-blob"
COMMENTS_DOCS = "https://docs.github.com/rest/issues/comments"
REPOS_DOCS = "https://docs.github.com/rest/repos/repos#get-a-repository"
BRANCHES_DOCS = "https://docs.github.com/rest/branches/branches#get-a-branch"
PULLS_DOCS = "https://docs.github.com/rest/pulls/pulls#list-pull-requests"
APPS_DOCS = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
RATE_DOCS = ("https://docs.github.com/rest/using-the-rest-api/"
             "rate-limits-for-the-rest-api")

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"

GITHUB_MAX_COMMENT = 65536            # characters, GitHub's limit on a comment body
GITLAB_MAX_NOTE = 1_000_000           # characters, GitLab's limit on a note
GITHUB_JSON_CONTENT_LIMIT = 1 << 20   # above this the JSON form has no content

# Ids start above 2**32, as real GitHub comment ids are above 2**31 by now:
# a client that keeps them in an int (or uint32) breaks here, not in production.
FIRST_COMMENT_ID = 5_000_000_001
FIRST_NOTE_ID = 6_000_000_001


def _json_bytes(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _iso(t=None):
    t = time.time() if t is None else t
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Symlink(bytes):
    """A symbolic link in a tree given to set_tree / set_gitlab_tree: its
    bytes are the target's path, as git stores them (a blob of mode
    120000).  Listings show it as GitHub and GitLab do: "symlink" in the
    contents API, a blob of mode 120000 in trees."""


def _mode(kind, data):
    if kind != "file":
        return "040000"
    return "120000" if isinstance(data, Symlink) else "100644"


def _to_bytes(data):
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    raise TypeError("file contents must be bytes or str, not %s" % type(data).__name__)


def _norm_files(files):
    out = {}
    for path, data in files.items():
        p = path.strip("/")
        if not p or "//" in p:
            raise ValueError("bad path %r" % path)
        out[p] = _to_bytes(data)
    return out


def _blob_sha(data):
    """The git blob id of data (what `git hash-object` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _children(files, prefix):
    """Immediate children of directory `prefix` ("" = root) in files:
    {name: (kind, path, data)}, kind "file" or "dir".  None when prefix is
    not a directory there (the root always is)."""
    pre = prefix + "/" if prefix else ""
    kids = {}
    for path, data in files.items():
        if not path.startswith(pre):
            continue
        name, sep, _ = path[len(pre):].partition("/")
        if sep:
            kids.setdefault(name, ("dir", pre + name, None))
        else:
            kids[name] = ("file", path, data)
    if prefix and not kids:
        return None
    return kids


def _tree_sha(files, prefix):
    """The git tree id of directory prefix (a real one: git's entry order)."""
    entries = []
    for name, (kind, path, data) in _children(files, prefix).items():
        if kind == "file":
            entries.append((name.encode() , b"100644", bytes.fromhex(_blob_sha(data))))
        else:
            entries.append((name.encode() + b"/", b"40000",
                            bytes.fromhex(_tree_sha(files, path))))
    entries.sort(key=lambda e: e[0])
    body = b"".join(mode + b" " + name.rstrip(b"/") + b"\0" + sha
                    for name, mode, sha in entries)
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


def _wrap60(b64):
    return "".join(b64[i:i + 60] + "\n" for i in range(0, len(b64), 60))


def default_head_sha(repo, number):
    """The head sha previewd.pr_payload() uses by default for (repo, number)."""
    return hashlib.sha1(("head %s#%d" % (repo, number)).encode()).hexdigest()


def _b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    """(header, claims, signing_input bytes, signature bytes) of a JWT, not
    verified.  Raises ValueError when it is not a well-formed JWS."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a JWT has three dot-separated parts")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        sig = _b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError("not base64url JSON: %s" % e) from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("header and claims must be JSON objects")
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), sig


# -- RS256 verification in pure Python (for GitHub App JWTs) ----------------

def _der(data, i):
    tag = data[i]
    n = data[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[i:i + k], "big")
        i += k
    return tag, data[i:i + n], i + n


def rsa_public_numbers(key):
    """(n, e) from a PEM public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)
    or from an (n, e) tuple."""
    if isinstance(key, tuple):
        return key
    if isinstance(key, bytes):
        key = key.decode("ascii")
    m = re.search(r"-----BEGIN (RSA )?PUBLIC KEY-----(.*?)-----END", key, re.S)
    if not m:
        raise ValueError("need a PEM public key (openssl rsa -pubout)")
    der = base64.b64decode("".join(m.group(2).split()))
    tag, seq, _ = _der(der, 0)
    if not m.group(1):                      # SubjectPublicKeyInfo
        _, _alg, i = _der(seq, 0)
        tag, bits, _ = _der(seq, i)
        assert tag == 0x03 and bits[0] == 0
        tag, seq, _ = _der(bits, 1)
    _, n, i = _der(seq, 0)
    _, e, _ = _der(seq, i)
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


_SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_valid(signing_input, signature, key):
    n, e = rsa_public_numbers(key)
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    em = pow(int.from_bytes(signature, "big"), e, n).to_bytes(k, "big")
    t = _SHA256_DIGESTINFO + hashlib.sha256(signing_input).digest()
    return em == b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


# -- what was sent ------------------------------------------------------------

class Request:
    """One request the stub received.

    method, path (as sent: still percent-encoded, without the query),
    target (the full request target), query ({name: last value}, decoded),
    query_all ({name: [values]}), headers ({lower-case name: value}),
    body (bytes), json (parsed body or None), time (time.monotonic() when it
    arrived), status (what the stub answered; None while it is still being
    answered, 0 when a drop() closed the connection), fault ("fail", "drop"
    or None), delayed (seconds a delay() held it).
    """

    def __init__(self, method, target, headers, body, arrived):
        self.method = method
        self.target = target
        split = urlsplit(target)
        self.path = split.path
        self.query_all = parse_qs(split.query, keep_blank_values=True)
        self.query = {k: v[-1] for k, v in self.query_all.items()}
        self.headers = headers
        self.body = body
        self.json = None
        if body:
            try:
                self.json = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                pass
        self.time = arrived
        self.status = None
        self.fault = None
        self.delayed = 0.0

    @property
    def decoded_path(self):
        return unquote(self.path)

    def __repr__(self):
        return "<Request %s %s -> %s>" % (self.method, self.target, self.status)


class _Answer:
    def __init__(self, status, body=b"", headers=None, content_type=JSON_TYPE, drop=False):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type
        self.drop = drop


def _json_answer(status, obj, headers=None):
    return _Answer(status, _json_bytes(obj), headers)


class _Script:
    """A scripted fault or delay: method + path regex, `times` uses left."""

    def __init__(self, kind, method, path_regex, times, **kw):
        self.kind = kind
        self.method = (method or "*").upper()
        self.regex = re.compile(path_regex)
        self.times = times            # None = every time
        self.kw = kw

    def matches(self, req):
        return ((self.method == "*" or self.method == req.method)
                and self.regex.search(req.path) is not None
                and (self.times is None or self.times > 0))


# -- the server ---------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"     # keep-alive, like the real APIs
    server_version = "forge-stub"
    sys_version = ""

    def setup(self):
        super().setup()
        # end_headers() and the body are two writes: with Nagle's
        # algorithm the second waits for the client's delayed ACK, 40 ms
        # a request on Linux, which no real forge adds.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.settimeout(self.server.stub.keepalive_timeout)
        self.server.stub._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.stub._track(self.connection, False)

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self):
        stub = self.server.stub
        arrived = time.monotonic()
        body = self._read_body()
        if urlsplit(self.path).path == "/healthz":
            self._write(_json_answer(200, {"ok": True}))
            return
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        req = Request(self.command, self.path, headers, body, arrived)
        stub._record(req)
        try:
            answer = stub._answer(req)
        except Exception:
            tb = traceback.format_exc()
            with stub._lock:
                stub.errors.append("%s %s\n%s" % (req.method, req.target, tb))
            answer = _Answer(500, tb.encode(), content_type=TEXT_TYPE)
        # Recorded before the answer leaves: a client that has its answer
        # must find the request's status already set.
        stub._answered(req, 0 if answer.drop else answer.status)
        if answer.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self._write(answer)

    def _write(self, answer):
        body = answer.body if isinstance(answer.body, bytes) else answer.body.encode()
        no_body = answer.status in (204, 304) or 100 <= answer.status < 200
        self.send_response(answer.status)
        hdrs = {}       # send_response() already sent Server and Date
        if not no_body:
            hdrs["Content-Type"] = answer.content_type
            hdrs["Content-Length"] = str(len(body))
        for k, v in answer.headers.items():
            # a header set to None is left out
            hdrs = {hk: hv for hk, hv in hdrs.items() if hk.lower() != k.lower()}
            if v is not None:
                hdrs[k] = str(v)
        if not no_body:   # whatever a fault said, the length is the real one
            hdrs = {hk: hv for hk, hv in hdrs.items() if hk.lower() != "content-length"}
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        if not no_body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False        # stop() must not wait for a delayed answer

    def handle_error(self, request, client_address):
        # A client that hung up (previewd timing out on a delay(), stop()
        # closing connections) is normal here; anything else is printed.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, OSError)):
            super().handle_error(request, client_address)


class ForgeStub:
    """GitHub + GitLab + Vercel API stand-in.  See the module docstring.

    Attributes tests set (read on every request):
      github_token     None, or the token GitHub calls must carry
                       (Authorization: Bearer T or token T); installation
                       tokens handed out by access_tokens are accepted too, and
                       once one was handed out (or app_tokens is not empty)
                       GitHub calls need one of them even with github_token None.
      gitlab_token     None, or the PRIVATE-TOKEN (Authorization: Bearer also accepted).
      vercel_token     None, or the Vercel bearer token.
      app_tokens       {installation id (int when numeric): latest token}; preset
                       one to choose what access_tokens hands out for it (every
                       time), otherwise a new "ghs_..." token per call (earlier
                       ones stay valid until they expire or revoke_app_tokens()).
      app_token_ttl    seconds an installation token lives (3600).
      app_id           None, or the `iss` a GitHub App JWT must carry.
      app_public_key   None, or a PEM public key / (n, e): JWTs must be RS256-signed by it.
      app_slug, app_bot_id  the App's slug (GET /app) and its bot account's id
                       ("<app_slug>[bot]", the author of comments made with an
                       installation token).
      github_user      the account github_token belongs to ({login, id, type}).
      gitlab_user      the account gitlab_token belongs to ({id, username, name}).
      rate_limit_limit / rate_limit_remaining / rate_limit_reset
                       the X-RateLimit-* values on GitHub answers (5000 / 4999 /
                       now + 1 h, epoch seconds).
      listing_order    "reverse" (default), "sorted" or "shuffle" (fixed seed).
      keepalive_timeout seconds an idle connection stays open (30).

    State tests read: requests, comments, notes, vercel_env, app_jwts (JWTs
    exchanged for installation tokens), app_info_jwts (JWTs of GET /app), errors
    (tracebacks of stub bugs, answered 500 - the fixture fails on any).
    plant_comment() / plant_note() write one as another account.
    """

    def __init__(self):
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server = None
        self._thread = None
        self._conns = set()
        self.url = None
        self.port = None

        self.github_token = None
        self.gitlab_token = None
        self.vercel_token = None
        self.app_tokens = {}
        self.app_token_ttl = 3600
        self.app_id = None
        self.app_public_key = None
        self.app_slug = "previewd-app"
        self.app_bot_id = 41898282
        self.github_user = {"login": "previewd-bot", "id": 7_000_001, "type": "User"}
        self.gitlab_user = {"id": 1, "username": "previewd-bot", "name": "previewd"}
        self.rate_limit_limit = 5000
        self.rate_limit_remaining = 4999
        self.rate_limit_reset = int(time.time()) + 3600
        self.listing_order = "reverse"
        self.keepalive_timeout = 30.0

        self.requests = []
        self.errors = []
        self.comments = {}
        self.notes = {}
        self.vercel_env = []
        self.app_jwts = []
        self.app_info_jwts = []

        self._scripts = []
        self._gh_trees = {}            # repo -> {ref: {path: bytes}}
        self.tree_limit = None         # git/trees: cut short past this many entries
        self._gl_trees = {}            # project -> {ref: {path: bytes}}
        self._pulls = {}               # repo -> [(number, sha)]
        self._mrs = {}                 # project -> [(iid, sha)]
        self._hidden = set()           # (repo or project, number) open, not listed
        self._issued = {}              # installation token -> expiry (time.time())
        self._revoked = set()
        self._generated = set()        # installation tokens the stub made up
        self._app_auth = False
        self._comment_ids = itertools.count(FIRST_COMMENT_ID)
        self._note_ids = itertools.count(FIRST_NOTE_ID)
        self._vercel_keys = {}         # project -> [(key, set(targets), gitBranch)]
        self._gh_users = {}            # login -> account, of planted comments
        self._gh_repos = {}            # repo -> {"default": branch, "branches": {b: sha}}
        self._gl_projects = {}         # project id -> {id, path, default, branches}

    # -- life cycle -----------------------------------------------------------

    def start(self):
        """Listen on 127.0.0.1 on a kernel-chosen port (no race) and serve
        from a daemon thread; return self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((HOST, 0), _Handler)
        self._server.stub = self
        self.port = self._server.server_address[1]
        self.url = "http://%s:%d" % (HOST, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="forge-stub:%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving, wake delayed answers, close open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def gitlab_url(self):
        return self.url + "/api/v4"

    @property
    def vercel_url(self):
        return self.url

    def _track(self, conn, add):
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # -- scripting ------------------------------------------------------------

    def set_tree(self, repo, ref, files):
        """GitHub repository `owner/name` at `ref` (a sha or branch name)
        holds exactly `files` ({path: bytes or str}); directories are implied.
        The first ref set for a repository is its default branch."""
        files = _norm_files(files)
        with self._lock:
            self._gh_trees.setdefault(repo, {})[ref] = files

    def set_gitlab_tree(self, project_id, ref, files):
        """Like set_tree for GitLab project `project_id` (number or full path)."""
        files = _norm_files(files)
        with self._lock:
            self._gl_trees.setdefault(str(project_id), {})[ref] = files

    def set_default_branch(self, repo, branch, sha):
        """GitHub repository `owner/name` has default branch `branch`, whose
        head is commit `sha` (GET /repos/O/R and /repos/O/R/branches/B).
        Call again to move the head or to change the default branch; other
        branches set before keep their heads."""
        with self._lock:
            r = self._gh_repos.setdefault(repo, {"branches": {}})
            r["default"] = branch
            r["branches"][branch] = sha

    def set_gitlab_default_branch(self, project_id, path, branch, sha):
        """GitLab project `project_id` (a number), path `path`
        (path_with_namespace), has default branch `branch` whose head is
        commit `sha` (GET /projects/P and /projects/P/repository/branches/B,
        P the id or the URL-encoded path)."""
        with self._lock:
            p = self._gl_projects.setdefault(str(project_id), {
                "id": int(project_id), "path": path, "branches": {}})
            p["path"] = path
            p["default"] = branch
            p["branches"][branch] = sha

    def fail(self, method, path_regex, status, times=1, headers=None, body=None):
        """Answer the next `times` requests (None: all) whose method is
        `method` ("*" for any) and whose path (as sent, no query) matches
        re.search(path_regex) with `status`, `headers` and `body` (default
        {"message": reason}) instead of the real answer.  Scripts are used in
        the order they were added; the request is recorded as usual."""
        with self._lock:
            self._scripts.append(_Script("fail", method, path_regex, times, status=status,
                                         headers=dict(headers or {}), body=body))

    def rate_limit(self, method, path_regex, reset_in=60, times=1, status=403):
        """GitHub's primary rate limit: `status` with X-RateLimit-Remaining: 0
        and X-RateLimit-Reset now + reset_in (epoch seconds)."""
        self.fail(method, path_regex, status, times=times, headers={
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Used": str(self.rate_limit_limit),
            "X-RateLimit-Reset": str(int(time.time() + reset_in)),
        }, body=_json_bytes({"message": "API rate limit exceeded for installation ID 1.",
                             "documentation_url": RATE_DOCS}))

    def delay(self, method, path_regex, seconds, times=1):
        """Hold the next `times` matching requests `seconds` before answering
        (stop() cuts the wait short).  Faults still apply afterwards."""
        with self._lock:
            self._scripts.append(_Script("delay", method, path_regex, times, seconds=seconds))

    def drop(self, method, path_regex, times=1):
        """Close the connection without answering the next `times` matching
        requests (the client sees an empty reply / connection reset)."""
        with self._lock:
            self._scripts.append(_Script("drop", method, path_regex, times))

    def clear_scripts(self):
        with self._lock:
            self._scripts.clear()

    def set_open_pulls(self, repo, numbers):
        """The open pull requests of repo for GET /pulls: a list of numbers
        (head sha as previewd.pr_payload's default), of (number, sha) pairs,
        or a {number: sha} dict."""
        with self._lock:
            self._pulls[repo] = self._numbered(numbers, lambda n: default_head_sha(repo, n))

    def set_open_merge_requests(self, project_id, iids):
        """The opened merge requests of a GitLab project; like set_open_pulls."""
        key = str(project_id)
        with self._lock:
            self._mrs[key] = self._numbered(
                iids, lambda n: hashlib.sha1(("mr %s!%d" % (key, n)).encode()).hexdigest())

    def hide_from_list(self, repo, number, hidden=True):
        """Leave open pull request `number` of `repo` (a GitHub owner/name,
        or a GitLab project id) out of the list of open ones, while asking
        for it alone (GET /repos/O/R/pulls/N, /projects/P/merge_requests/IID)
        still says it is open: what a list read while a pull request opens
        or closes does to the one at a page's edge.  hidden=False lists it
        again."""
        key = (str(repo), int(number))
        with self._lock:
            (self._hidden.add if hidden else self._hidden.discard)(key)

    @staticmethod
    def _numbered(items, default_sha):
        if isinstance(items, dict):
            items = list(items.items())
        out = []
        for it in items:
            if isinstance(it, (tuple, list)):
                out.append((int(it[0]), it[1]))
            else:
                out.append((int(it), default_sha(int(it))))
        return out

    def delete_comment(self, comment_id):
        """Delete a GitHub comment as a user would; PATCH on it then 404s."""
        with self._lock:
            self.comments.pop(int(comment_id), None)

    def plant_comment(self, repo, number, body, user=None):
        """A comment on repo's issue/pull request `number` written by
        another account (default a user "mallory"), as if through GitHub's
        web page; returns the stored comment (a dict with its "id")."""
        user = dict(user or {"login": "mallory", "id": 6_660_001, "type": "User"})
        now = _iso()
        with self._lock:
            cid = next(self._comment_ids)
            c = {"id": cid, "repo": repo, "number": int(number), "body": body,
                 "created_at": now, "updated_at": now, "user": user}
            self.comments[cid] = c
            self._gh_users[user["login"]] = user
            return c

    def plant_note(self, project_id, iid, body, author=None):
        """A note on a GitLab merge request written by another account
        (default "mallory"); returns the stored note."""
        author = dict(author or {"id": 666, "username": "mallory", "name": "Mallory"})
        now = _iso()
        with self._lock:
            nid = next(self._note_ids)
            n = {"id": nid, "project": str(project_id), "iid": int(iid), "body": body,
                 "created_at": now, "updated_at": now, "author": author}
            self.notes[nid] = n
            return n

    def app_bot(self):
        """The account an App's installation token writes as."""
        return {"login": "%s[bot]" % self.app_slug, "id": self.app_bot_id, "type": "Bot"}

    def delete_note(self, note_id):
        with self._lock:
            self.notes.pop(int(note_id), None)

    def revoke_app_tokens(self):
        """Every installation token handed out so far stops working (401)."""
        with self._lock:
            self._revoked.update(self._issued)
            self._revoked.update(self.app_tokens.values())
            self.app_tokens.clear()
            self._app_auth = True

    # -- what was sent --------------------------------------------------------

    def requests_to(self, method, path_regex):
        """Recorded requests with that method ("*" any) whose path matches."""
        rx = re.compile(path_regex)
        m = (method or "*").upper()
        with self._lock:
            return [r for r in self.requests
                    if (m == "*" or r.method == m) and rx.search(r.path)]

    def wait_for(self, method, path_regex, count=1, timeout=30.0):
        """Wait until `count` matching requests have been answered; return
        all matching answered ones.  AssertionError on timeout."""
        rx = re.compile(path_regex)
        m = (method or "*").upper()
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self.requests if r.status is not None
                       and (m == "*" or r.method == m) and rx.search(r.path)]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "timed out after %gs waiting for %d x %s %s (got %d; all: %r)"
                        % (timeout, count, m, path_regex, len(got), self.requests[-20:]))
                self._cond.wait(min(left, 0.5))

    def clear_requests(self):
        with self._lock:
            self.requests.clear()

    def _record(self, req):
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()

    def _answered(self, req, status):
        with self._cond:
            req.status = status
            self._cond.notify_all()

    # -- dispatch -------------------------------------------------------------

    def _take(self, kind, req):
        with self._lock:
            for s in self._scripts:
                if s.kind == kind and s.matches(req):
                    if s.times is not None:
                        s.times -= 1
                    return s
        return None

    def _answer(self, req):
        while True:
            d = self._take("delay", req)
            if d is None:
                break
            t0 = time.monotonic()
            self._stopping.wait(d.kw["seconds"])
            req.delayed += time.monotonic() - t0
        provider = self._provider(req.path)
        if self._take("drop", req) is not None:
            req.fault = "drop"
            return _Answer(0, drop=True)
        f = self._take("fail", req)
        if f is not None:
            req.fault = "fail"
            answer = self._fault_answer(f)
        else:
            answer = self._route(provider, req)
        if provider == "github":
            self._github_headers(req, answer)
        elif provider == "gitlab":
            self._conditional(req, answer)
        return answer

    @staticmethod
    def _provider(path):
        if path == "/api/v4" or path.startswith("/api/v4/"):
            return "gitlab"
        if re.match(r"^/v\d+/projects/", path):
            return "vercel"
        return "github"

    @staticmethod
    def _fault_answer(f):
        status, body, headers = f.kw["status"], f.kw["body"], f.kw["headers"]
        if body is None:
            reason = http.server.BaseHTTPRequestHandler.responses.get(status, ("",))[0]
            body = _json_bytes({"message": reason}) if status >= 300 else b"{}"
            ctype = JSON_TYPE
        else:
            body = _to_bytes(body)
            try:
                json.loads(body)
                ctype = JSON_TYPE
            except (ValueError, UnicodeDecodeError):
                ctype = TEXT_TYPE
        return _Answer(status, body, headers, content_type=ctype)

    def _github_headers(self, req, answer):
        base = {
            "X-RateLimit-Limit": str(self.rate_limit_limit),
            "X-RateLimit-Remaining": str(self.rate_limit_remaining),
            "X-RateLimit-Used": str(max(0, self.rate_limit_limit - self.rate_limit_remaining)),
            "X-RateLimit-Reset": str(int(self.rate_limit_reset)),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Request-Id": secrets.token_hex(8).upper(),
        }
        if req.method in ("GET", "HEAD") and answer.status == 200 and req.fault is None:
            etag = 'W/"%s"' % hashlib.sha256(answer.body).hexdigest()
            base["ETag"] = etag
            base["Cache-Control"] = "private, max-age=60, s-maxage=60"
            base["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
            inm = req.headers.get("if-none-match")
            if inm and self._etag_match(inm, etag):
                answer.status = 304
                answer.body = b""
        lower = {k.lower() for k in answer.headers}
        for k, v in base.items():      # a fault's own headers win
            if k.lower() not in lower:
                answer.headers[k] = v

    def _conditional(self, req, answer):
        """GitLab (Rails' Rack::ETag and ConditionalGet): a weak ETag on
        every 200 GET, and 304 with no body for a matching If-None-Match."""
        if req.method in ("GET", "HEAD") and answer.status == 200 and req.fault is None:
            etag = 'W/"%s"' % hashlib.md5(answer.body).hexdigest()
            answer.headers["ETag"] = etag
            inm = req.headers.get("if-none-match")
            if inm and self._etag_match(inm, etag):
                answer.status = 304
                answer.body = b""

    @staticmethod
    def _etag_match(inm, etag):
        strip = lambda t: t.strip()[2:] if t.strip().startswith("W/") else t.strip()
        return any(t.strip() == "*" or strip(t) == strip(etag) for t in inm.split(","))

    def _route(self, provider, req):
        if provider == "gitlab":
            return self._gitlab(req)
        if provider == "vercel":
            return self._vercel(req)
        return self._github(req)

    # -- GitHub ---------------------------------------------------------------

    @staticmethod
    def _gh_error(status, message, docs=GITHUB_DOCS, **extra):
        return _json_answer(status, dict({"message": message, "documentation_url": docs,
                                          "status": str(status)}, **extra))

    def _gh_not_found(self, docs=GITHUB_DOCS):
        return self._gh_error(404, "Not Found", docs)

    def _gh_token_ok(self, req):
        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "token") or not token:
            return False
        with self._lock:
            if self.github_token is not None and token == self.github_token:
                return True
            if token in self._revoked:
                return False
            exp = self._issued.get(token)
            if exp is not None:
                return exp > time.time()
            return token in self.app_tokens.values()    # preset, not handed out yet

    def _gh_bearer(self, req):
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() in ("bearer", "token") else ""

    def _gh_installation_token(self, token):
        with self._lock:
            return token in self._issued or token in self.app_tokens.values()

    def _gh_author(self, req):
        """Who a comment made with req's token is written by."""
        if self._gh_installation_token(self._gh_bearer(req)):
            return self.app_bot()
        return dict(self.github_user)

    def _github(self, req):
        m = re.match(r"^/app/installations/([^/]+)/access_tokens$", req.path)
        if m:
            if req.method != "POST":
                return self._gh_not_found()
            return self._gh_access_token(req, unquote(m.group(1)))
        if req.path == "/app":
            if req.method != "GET":
                return self._gh_not_found()
            return self._gh_app(req)
        with self._lock:
            need_auth = self.github_token is not None or self._app_auth or bool(self.app_tokens)
        if need_auth and not self._gh_token_ok(req):
            return self._gh_error(401, "Bad credentials")
        if req.path == "/user" and req.method == "GET":
            token = self._gh_bearer(req)
            if not token:
                return self._gh_error(401, "Requires authentication")
            if self._gh_installation_token(token):
                return self._gh_error(403, "Resource not accessible by integration")
            return _json_answer(200, self._gh_user_json(self.github_user))
        m = re.match(r"^/users/([^/]+)$", req.path)
        if m and req.method == "GET":
            login = unquote(m.group(1))
            with self._lock:
                known = {u["login"]: u for u in
                         [self.github_user, self.app_bot()] + list(self._gh_users.values())}
            if login not in known:
                return self._gh_not_found()
            return _json_answer(200, self._gh_user_json(known[login]))
        m = re.match(r"^/repos/([^/]+)/([^/]+)$", req.path)
        if m and req.method in ("GET", "HEAD"):
            return self._gh_repo(unquote(m.group(1)) + "/" + unquote(m.group(2)))
        m = re.match(r"^/repos/([^/]+)/([^/]+)/(.*)$", req.path)
        if not m:
            return self._gh_not_found()
        repo = unquote(m.group(1)) + "/" + unquote(m.group(2))
        rest = m.group(3)
        if req.method in ("GET", "HEAD"):
            cm = re.match(r"^contents(?:/(.*))?$", rest)
            if cm:
                return self._gh_contents(req, repo, unquote(cm.group(1) or "").strip("/"))
            cm = re.match(r"^git/trees/([^/]+)$", rest)
            if cm:
                return self._gh_git_tree(req, repo, unquote(cm.group(1)))
            cm = re.match(r"^git/blobs/([0-9a-f]{40})$", rest)
            if cm:
                return self._gh_git_blob(req, repo, cm.group(1))
            if rest == "pulls":
                return self._gh_pulls(req, repo)
            cm = re.match(r"^pulls/(\d+)$", rest)
            if cm:
                return self._gh_pull(repo, int(cm.group(1)))
            cm = re.match(r"^branches/(.+)$", rest)
            if cm:
                return self._gh_branch(repo, unquote(cm.group(1)))
        cm = re.match(r"^issues/(\d+)/comments$", rest)
        if cm and req.method == "POST":
            return self._gh_comment_create(req, repo, int(cm.group(1)))
        if cm and req.method == "GET":
            return self._gh_comment_list(req, repo, int(cm.group(1)))
        cm = re.match(r"^issues/comments/(\d+)$", rest)
        if cm:
            return self._gh_comment_one(req, repo, int(cm.group(1)))
        return self._gh_not_found()

    # repositories and branches

    def _gh_repo(self, repo):
        with self._lock:
            r = self._gh_repos.get(repo)
            if r is None:
                return self._gh_not_found(REPOS_DOCS)
            default = r["default"]
        owner, name = repo.split("/", 1)
        return _json_answer(200, {
            "id": int(hashlib.sha1(repo.encode()).hexdigest()[:8], 16),
            "name": name, "full_name": repo, "private": False,
            "owner": {"login": owner, "type": "Organization"},
            "html_url": "https://github.com/" + repo,
            "url": "%s/repos/%s" % (self.url, repo),
            "default_branch": default, "visibility": "public",
        })

    def _gh_branch(self, repo, branch):
        with self._lock:
            sha = self._gh_repos.get(repo, {}).get("branches", {}).get(branch)
        if sha is None:
            return self._gh_error(404, "Branch not found", BRANCHES_DOCS)
        return _json_answer(200, {
            "name": branch,
            "commit": {"sha": sha,
                       "url": "%s/repos/%s/commits/%s" % (self.url, repo, sha)},
            "protected": False,
            "_links": {"self": "%s/repos/%s/branches/%s"
                       % (self.url, repo, quote(branch, safe=""))},
        })

    # contents

    def _order(self, names):
        names = sorted(names)
        if self.listing_order == "sorted":
            return names
        if self.listing_order == "shuffle":
            random.Random(0x5EED).shuffle(names)
            return names
        # "reverse": deliberately NOT sorted - previewd must sort the
        # migrations itself; the real APIs' order is not part of their contract.
        return names[::-1]

    def _gh_entry(self, repo, ref, kind, path, data, files):
        name = path.rsplit("/", 1)[-1]
        is_file = kind == "file"
        sha = _blob_sha(data) if is_file else _tree_sha(files, path)
        api = "%s/repos/%s/contents/%s?ref=%s" % (self.url, repo, quote(path),
                                                  quote(ref, safe=""))
        git = "%s/repos/%s/git/%s/%s" % (self.url, repo, "blobs" if is_file else "trees", sha)
        html = "https://github.com/%s/%s/%s/%s" % (repo, "blob" if is_file else "tree",
                                                   ref, path)
        return {
            "name": name, "path": path, "sha": sha,
            "size": len(data) if is_file else 0,
            "url": api, "html_url": html, "git_url": git,
            # Like GitHub: a different host (not the API); previewd should not
            # follow it but ask the API with the raw media type.
            "download_url": ("https://raw.githubusercontent.com/%s/%s/%s" % (repo, ref, path)
                             if is_file else None),
            "type": "symlink" if isinstance(data, Symlink) else kind,
            "_links": {"self": api, "git": git, "html": html},
        }

    def _gh_contents(self, req, repo, path):
        with self._lock:
            refs = self._gh_trees.get(repo)
            if not refs:
                return self._gh_not_found(CONTENTS_DOCS)
            ref = req.query.get("ref") or next(iter(refs))
            files = refs.get(ref)
            if files is None:
                return self._gh_error(404, "No commit found for the ref %s" % ref, CONTENTS_DOCS)
        accept = req.headers.get("accept", "").lower()
        media = [a.split(";")[0].strip() for a in accept.split(",")]
        raw = any(re.fullmatch(r"application/vnd\.github(\.v3)?\.raw(\+json)?", a) for a in media)
        obj = any(re.fullmatch(r"application/vnd\.github(\.v3)?\.object(\+json)?", a)
                  for a in media)
        if path in files:
            data = files[path]
            if raw:
                return _Answer(200, data, content_type=TEXT_TYPE)
            e = self._gh_entry(repo, ref, "file", path, data, files)
            if len(data) > GITHUB_JSON_CONTENT_LIMIT:
                e.update(content="", encoding="none")
            else:
                e.update(content=_wrap60(base64.b64encode(data).decode("ascii")),
                         encoding="base64")
            return _json_answer(200, e)
        kids = _children(files, path)
        if kids is None:
            return self._gh_not_found(CONTENTS_DOCS)
        entries = [self._gh_entry(repo, ref, kids[n][0], kids[n][1], kids[n][2], files)
                   for n in self._order(kids)]
        if obj:
            d = self._gh_entry(repo, ref, "dir", path, None, files) if path else {
                "name": "", "path": "", "type": "dir", "size": 0,
                "sha": _tree_sha(files, ""), "url": "%s/repos/%s/contents/?ref=%s"
                % (self.url, repo, quote(ref, safe="")), "download_url": None}
            d["entries"] = entries
            return _json_answer(200, d)
        return _json_answer(200, entries)

    # git database: trees and blobs

    def _gh_git_tree(self, req, repo, sha):
        """GET /repos/O/R/git/trees/SHA[?recursive=1]: SHA is a ref set with
        set_tree (a commit, on GitHub; tree ids are not modelled).  With
        recursive (any value), every entry below, paths from the root;
        past tree_limit entries, cut short with "truncated": true, as GitHub
        does past 100,000 entries or 7 MB."""
        with self._lock:
            refs = self._gh_trees.get(repo)
            limit = self.tree_limit
        if not refs:
            return self._gh_not_found(TREES_DOCS)
        files, prefix = refs.get(sha), ""
        if files is None:
            return self._gh_not_found(TREES_DOCS)
        recursive = "recursive" in req.query
        found = {}

        def walk(pre):
            for name, (kind, path, data) in _children(files, pre).items():
                found[path] = (kind, data)
                if recursive and kind == "dir":
                    walk(path)
        walk(prefix)
        cut = len(prefix) + 1 if prefix else 0
        tree = []
        for path in self._order(found):
            kind, data = found[path]
            sha_e = _blob_sha(data) if kind == "file" else _tree_sha(files, path)
            e = {"path": path[cut:], "mode": _mode(kind, data),
                 "type": "blob" if kind == "file" else "tree", "sha": sha_e,
                 "url": "%s/repos/%s/git/%s/%s" % (self.url, repo,
                                                   "blobs" if kind == "file" else "trees", sha_e)}
            if kind == "file":
                e["size"] = len(data)
            tree.append(e)
        truncated = limit is not None and len(tree) > limit
        if truncated:
            tree = tree[:limit]
        return _json_answer(200, {"sha": _tree_sha(files, prefix),
                                  "url": "%s/repos/%s/git/trees/%s" % (self.url, repo, sha),
                                  "tree": tree, "truncated": truncated})

    def _gh_git_blob(self, req, repo, sha):
        """GET /repos/O/R/git/blobs/SHA: JSON with base64 content, or the raw
        bytes with Accept: application/vnd.github.raw(+json)."""
        with self._lock:
            refs = self._gh_trees.get(repo) or {}
            data = next((d for fs in refs.values() for d in fs.values()
                         if _blob_sha(d) == sha), None)
        if data is None:
            return self._gh_not_found(BLOBS_DOCS)
        accept = req.headers.get("accept", "").lower()
        media = [a.split(";")[0].strip() for a in accept.split(",")]
        if any(re.fullmatch(r"application/vnd\.github(\.v3)?\.raw(\+json)?", a) for a in media):
            return _Answer(200, data, content_type=TEXT_TYPE)
        return _json_answer(200, {"sha": sha, "node_id": "B_" + sha[:12], "size": len(data),
                                  "url": "%s/repos/%s/git/blobs/%s" % (self.url, repo, sha),
                                  "content": _wrap60(base64.b64encode(data).decode("ascii")),
                                  "encoding": "base64"})

    # pagination

    def _page(self, req, items, default, maximum):
        try:
            per_page = int(req.query.get("per_page", default))
        except ValueError:
            per_page = default
        per_page = max(1, min(per_page, maximum))
        try:
            page = max(1, int(req.query.get("page", 1)))
        except ValueError:
            page = 1
        total = len(items)
        pages = max(1, -(-total // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]

        def link(p):
            q = dict(req.query, per_page=str(per_page), page=str(p))
            return "<%s%s?%s>" % (self.url, req.path, urlencode(q))
        links = []
        if page < pages:
            links += ['%s; rel="next"' % link(page + 1), '%s; rel="last"' % link(pages)]
        if page > 1:
            links += ['%s; rel="first"' % link(1), '%s; rel="prev"' % link(page - 1)]
        return chunk, links, (page, per_page, total, pages)

    def _gh_paged(self, req, items, default=30):
        chunk, links, _ = self._page(req, items, default, 100)
        return _json_answer(200, chunk, {"Link": ", ".join(links)} if links else None)

    # pulls

    def _gh_pulls(self, req, repo):
        state = req.query.get("state", "open")
        if state not in ("open", "closed", "all"):
            return self._gh_error(422, "Validation Failed", PULLS_DOCS)
        with self._lock:
            pulls = [p for p in self._pulls.get(repo, []) if (repo, p[0]) not in self._hidden
                     ] if state != "closed" else []
        pulls.sort(key=lambda p: -p[0])    # GitHub's default: newest first
        return self._gh_paged(req, [self._gh_pull_json(repo, n, sha, "open") for n, sha in pulls])

    def _gh_pull_json(self, repo, n, sha, state):
        owner = repo.split("/")[0]
        return {
            "url": "%s/repos/%s/pulls/%d" % (self.url, repo, n),
            "id": int(hashlib.sha1(("pr %s#%d" % (repo, n)).encode()).hexdigest()[:8], 16),
            "number": n, "state": state, "draft": False, "locked": False,
            "title": "Change number %d" % n,
            "html_url": "https://github.com/%s/pull/%d" % (repo, n),
            "head": {"label": "%s:feature-%d" % (owner, n), "ref": "feature-%d" % n,
                     "sha": sha, "repo": {"full_name": repo}},
            "base": {"label": owner + ":main", "ref": "main",
                     "sha": hashlib.sha1(("base " + repo).encode()).hexdigest(),
                     "repo": {"full_name": repo}},
        }

    def _gh_pull(self, repo, n):
        """GET /repos/O/R/pulls/N: open while N is in the open set (listed
        or hidden), closed otherwise, merged or not (GitHub says "closed"
        for both, and "merged" tells them apart)."""
        with self._lock:
            sha = dict(self._pulls.get(repo, [])).get(n)
        pull = self._gh_pull_json(repo, n, sha or default_head_sha(repo, n),
                                  "open" if sha else "closed")
        pull.update({"merged": False, "merged_at": None,
                     "closed_at": None if sha else _iso()})
        return _json_answer(200, pull)

    # comments

    def _gh_user_json(self, u):
        return {"login": u["login"], "id": u["id"], "type": u.get("type", "User"),
                "node_id": "U_" + str(u["id"]),
                "url": "%s/users/%s" % (self.url, quote(u["login"], safe="")),
                "site_admin": False}

    def _gh_comment_json(self, c):
        repo = c["repo"]
        return {
            "id": c["id"],
            "node_id": "IC_" + base64.b64encode(str(c["id"]).encode()).decode(),
            "url": "%s/repos/%s/issues/comments/%d" % (self.url, repo, c["id"]),
            "html_url": "https://github.com/%s/pull/%d#issuecomment-%d"
                        % (repo, c["number"], c["id"]),
            "issue_url": "%s/repos/%s/issues/%d" % (self.url, repo, c["number"]),
            "body": c["body"],
            "user": self._gh_user_json(c.get("user") or self.github_user),
            "created_at": c["created_at"], "updated_at": c["updated_at"],
            "author_association": "NONE",
        }

    def _gh_comment_body(self, req):
        """(body, None) or (None, error answer) for a comment create/edit."""
        if req.json is None and req.body:
            return None, self._gh_error(400, "Problems parsing JSON", COMMENTS_DOCS)
        body = req.json.get("body") if isinstance(req.json, dict) else None
        if not isinstance(body, str):
            return None, self._gh_error(422, "Validation Failed", COMMENTS_DOCS, errors=[
                {"resource": "IssueComment", "code": "missing_field", "field": "body"}])
        if len(body) > GITHUB_MAX_COMMENT:
            return None, self._gh_error(422, "Validation Failed", COMMENTS_DOCS, errors=[
                {"resource": "IssueComment", "code": "custom", "field": "body",
                 "message": "body is too long (maximum is %d characters)"
                            % GITHUB_MAX_COMMENT}])
        return body, None

    def _gh_comment_create(self, req, repo, number):
        body, err = self._gh_comment_body(req)
        if err:
            return err
        now = _iso()
        with self._lock:
            cid = next(self._comment_ids)
            c = {"id": cid, "repo": repo, "number": number, "body": body,
                 "created_at": now, "updated_at": now, "user": self._gh_author(req)}
            self.comments[cid] = c
            out = self._gh_comment_json(c)
        return _json_answer(201, out, {"Location": out["url"]})

    def _gh_comment_list(self, req, repo, number):
        with self._lock:
            items = [self._gh_comment_json(c) for cid, c in sorted(self.comments.items())
                     if c["repo"] == repo and c["number"] == number]
        return self._gh_paged(req, items)

    def _gh_comment_one(self, req, repo, cid):
        with self._lock:
            c = self.comments.get(cid)
            if c is None or c["repo"] != repo:
                return self._gh_not_found(COMMENTS_DOCS)
            if req.method in ("GET", "HEAD"):
                return _json_answer(200, self._gh_comment_json(c))
            if req.method == "DELETE":
                del self.comments[cid]
                return _Answer(204)
            if req.method != "PATCH":
                return self._gh_not_found()
        body, err = self._gh_comment_body(req)
        if err:
            return err
        with self._lock:
            c = self.comments.get(cid)
            if c is None:
                return self._gh_not_found(COMMENTS_DOCS)
            c["body"] = body
            c["updated_at"] = _iso()
            return _json_answer(200, self._gh_comment_json(c))

    # GitHub App installation tokens

    def _gh_app(self, req):
        err = self._gh_jwt_error(req, None)
        if err:
            return err
        return _json_answer(200, {
            "id": int(self.app_id) if str(self.app_id or "").isdigit() else 1,
            "slug": self.app_slug, "node_id": "A_" + self.app_slug,
            "name": self.app_slug.replace("-", " ").title(),
            "owner": {"login": "acme", "id": 4242, "type": "Organization"},
            "permissions": {"contents": "read", "issues": "write",
                            "pull_requests": "write", "metadata": "read"},
            "events": ["pull_request"],
        })

    def _gh_access_token(self, req, installation):
        inst = int(installation) if installation.isdigit() else installation
        err = self._gh_jwt_error(req, inst)
        if err:
            return err
        now = time.time()
        expires = now + self.app_token_ttl
        with self._lock:
            token = self.app_tokens.get(inst)
            if token is None or token in self._revoked or token in self._generated:
                # like GitHub: a new token per call; earlier ones stay valid
                token = "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")
                self._generated.add(token)
                self.app_tokens[inst] = token
            self._issued[token] = expires
            self._app_auth = True
        return _json_answer(201, {
            "token": token, "expires_at": _iso(expires),
            "permissions": {"contents": "read", "issues": "write",
                            "pull_requests": "write", "metadata": "read"},
            "repository_selection": "selected",
        })

    def _gh_jwt_error(self, req, inst):
        """None when req carries a valid App JWT, else GitHub's 401 answer.
        The JWT is recorded in app_jwts (exchanges for installation inst) or,
        for GET /app (inst None), in app_info_jwts."""
        scheme, _, jwt = req.headers.get("authorization", "").partition(" ")
        jwt = jwt.strip()
        if scheme.lower() != "bearer" or not jwt:
            return self._gh_error(401, "A JSON web token could not be decoded", APPS_DOCS)
        try:
            header, claims, signing_input, sig = jwt_parts(jwt)
        except ValueError:
            return self._gh_error(401, "A JSON web token could not be decoded", APPS_DOCS)
        with self._lock:
            (self.app_jwts if inst is not None else self.app_info_jwts).append(
                {"installation_id": inst, "jwt": jwt, "header": header, "claims": claims})
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if header.get("alg") != "RS256":
            return self._gh_error(401, "A JSON web token could not be decoded", APPS_DOCS)
        if not isinstance(iat, int) or isinstance(iat, bool) or iat > now + 1:
            return self._gh_error(401, "'Issued at' claim ('iat') must be an Integer "
                                  "representing the time that the assertion was issued",
                                  APPS_DOCS)
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now:
            return self._gh_error(401, "'Expiration time' claim ('exp') must be a numeric "
                                  "value representing the future time at which the "
                                  "assertion expires", APPS_DOCS)
        if exp > now + 600 + 2:
            return self._gh_error(401, "'Expiration time' claim ('exp') is too far in the "
                                  "future", APPS_DOCS)
        if self.app_id is not None and str(claims.get("iss")) != str(self.app_id):
            return self._gh_error(401, "'Issuer' claim ('iss') does not name this app "
                                  "(stub message)", APPS_DOCS)
        if self.app_public_key is not None and not rs256_valid(signing_input, sig,
                                                               self.app_public_key):
            return self._gh_error(401, "A JSON web token could not be decoded", APPS_DOCS)
        return None

    # -- GitLab ---------------------------------------------------------------

    @staticmethod
    def _gl_msg(status, message):
        return _json_answer(status, {"message": message})

    def _gitlab(self, req):
        if self.gitlab_token is not None:
            token = req.headers.get("private-token")
            if token is None:
                scheme, _, t = req.headers.get("authorization", "").partition(" ")
                token = t.strip() if scheme.lower() == "bearer" else None
            if token != self.gitlab_token:
                return self._gl_msg(401, "401 Unauthorized")
        not_found = _json_answer(404, {"error": "404 Not Found"})
        if req.path == "/api/v4/user" and req.method == "GET":
            u = dict(self.gitlab_user)
            u.setdefault("state", "active")
            u.setdefault("web_url", "https://gitlab.example.com/" + u["username"])
            return _json_answer(200, u)
        m = re.match(r"^/api/v4/projects/([^/]+)$", req.path)
        if m and req.method in ("GET", "HEAD"):
            return self._gl_project(unquote(m.group(1)))
        m = re.match(r"^/api/v4/projects/([^/]+)/(.*)$", req.path)
        if not m:
            return not_found
        project = unquote(m.group(1))
        rest = m.group(2)
        get = req.method in ("GET", "HEAD")
        bm = re.match(r"^repository/branches/([^/]+)$", rest)
        if bm and get:
            return self._gl_branch(project, unquote(bm.group(1)))
        if rest == "repository/tree" and get:
            return self._gl_tree(req, project)
        bm = re.match(r"^repository/blobs/([0-9a-f]{40})/raw$", rest)
        if bm and get:
            return self._gl_blob(req, project, bm.group(1))
        fm = re.match(r"^repository/files/([^/]+)(/raw)?$", rest)
        if fm and get:
            return self._gl_file(req, project, unquote(fm.group(1)), bool(fm.group(2)))
        if rest == "merge_requests" and get:
            return self._gl_mrs(req, project)
        nm = re.match(r"^merge_requests/(\d+)$", rest)
        if nm and get:
            return self._gl_mr(project, int(nm.group(1)))
        nm = re.match(r"^merge_requests/(\d+)/notes$", rest)
        if nm and req.method == "POST":
            return self._gl_note_create(req, project, int(nm.group(1)))
        if nm and get:
            return self._gl_note_list(req, project, int(nm.group(1)))
        nm = re.match(r"^merge_requests/(\d+)/notes/(\d+)$", rest)
        if nm:
            return self._gl_note_one(req, project, int(nm.group(1)), int(nm.group(2)))
        return not_found

    def _gl_project_info(self, project):
        """The project set with set_gitlab_default_branch by id or path."""
        with self._lock:
            p = self._gl_projects.get(project)
            if p is None:
                p = next((q for q in self._gl_projects.values() if q["path"] == project),
                         None)
            return None if p is None else dict(p, branches=dict(p["branches"]))

    def _gl_project(self, project):
        p = self._gl_project_info(project)
        if p is None:
            return self._gl_msg(404, "404 Project Not Found")
        name = p["path"].rsplit("/", 1)[-1]
        return _json_answer(200, {
            "id": p["id"], "name": name, "path": name,
            "path_with_namespace": p["path"],
            "namespace": {"full_path": p["path"].rsplit("/", 1)[0]},
            "default_branch": p["default"], "visibility": "private",
            "web_url": "https://gitlab.example.com/" + p["path"],
        })

    def _gl_branch(self, project, branch):
        p = self._gl_project_info(project)
        if p is None:
            return self._gl_msg(404, "404 Project Not Found")
        sha = p["branches"].get(branch)
        if sha is None:
            return self._gl_msg(404, "404 Branch Not Found")
        return _json_answer(200, {
            "name": branch, "default": branch == p["default"], "protected": False,
            "commit": {"id": sha, "short_id": sha[:8], "title": "change",
                       "web_url": "https://gitlab.example.com/%s/-/commit/%s"
                       % (p["path"], sha)},
        })

    def _gl_files(self, req, project):
        """(files, ref, None) or (None, None, error answer)."""
        with self._lock:
            refs = self._gl_trees.get(project)
            if refs is None:
                return None, None, self._gl_msg(404, "404 Project Not Found")
            ref = req.query.get("ref") or next(iter(refs), None)
            return refs.get(ref), ref, None

    def _gl_paged(self, req, items):
        chunk, links, (page, per_page, total, pages) = self._page(req, items, 20, 100)
        headers = {
            "X-Page": str(page), "X-Per-Page": str(per_page),
            "X-Total": str(total), "X-Total-Pages": str(pages),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        if links:
            headers["Link"] = ", ".join(links)
        return _json_answer(200, chunk, headers)

    def _gl_tree(self, req, project):
        files, ref, err = self._gl_files(req, project)
        if err:
            return err
        path = req.query.get("path", "").strip("/")
        if files is None or (path and _children(files, path) is None):
            return self._gl_msg(404, "404 Tree Not Found")
        recursive = req.query.get("recursive", "").lower() in ("true", "1")
        found = {}

        def walk(prefix):
            for name, (kind, p, data) in _children(files, prefix).items():
                found[p] = (name, kind, data)
                if recursive and kind == "dir":
                    walk(p)
        walk(path)
        items = []
        for p in self._order(found):
            name, kind, data = found[p]
            items.append({
                "id": _blob_sha(data) if kind == "file" else _tree_sha(files, p),
                "name": name, "type": "blob" if kind == "file" else "tree",
                "path": p, "mode": _mode(kind, data),
            })
        return self._gl_paged(req, items)

    def _gl_blob(self, req, project, sha):
        """GET /projects/P/repository/blobs/SHA/raw: the blob's bytes."""
        with self._lock:
            refs = self._gl_trees.get(project)
            data = None if refs is None else next(
                (d for fs in refs.values() for d in fs.values() if _blob_sha(d) == sha), None)
        if refs is None:
            return self._gl_msg(404, "404 Project Not Found")
        if data is None:
            return self._gl_msg(404, "404 Blob Not Found")
        return _Answer(200, data, content_type=TEXT_TYPE)

    def _gl_file(self, req, project, path, raw):
        files, ref, err = self._gl_files(req, project)
        if err:
            return err
        if files is None:
            return self._gl_msg(404, "404 Commit Not Found")
        data = files.get(path.strip("/"))
        if data is None:
            return self._gl_msg(404, "404 File Not Found")
        blob = _blob_sha(data)
        headers = {"X-Gitlab-File-Path": path, "X-Gitlab-Ref": ref,
                   "X-Gitlab-Blob-Id": blob, "X-Gitlab-Size": str(len(data))}
        if raw:
            return _Answer(200, data, headers, content_type=TEXT_TYPE)
        commit = hashlib.sha1(("commit %s@%s" % (project, ref)).encode()).hexdigest()
        return _json_answer(200, {
            "file_name": path.rsplit("/", 1)[-1], "file_path": path, "size": len(data),
            "encoding": "base64", "content": base64.b64encode(data).decode("ascii"),
            "content_sha256": hashlib.sha256(data).hexdigest(), "ref": ref,
            "blob_id": blob, "commit_id": commit, "last_commit_id": commit,
        }, headers)

    def _gl_mrs(self, req, project):
        state = req.query.get("state", "all")
        with self._lock:
            mrs = [m for m in self._mrs.get(project, []) if (project, m[0]) not in self._hidden
                   ] if state in ("opened", "all") else []
        mrs.sort(key=lambda m: -m[0])
        return self._gl_paged(req, [self._gl_mr_json(project, iid, sha, "opened")
                                    for iid, sha in mrs])

    @staticmethod
    def _gl_mr_json(project, iid, sha, state):
        return {
            "id": int(hashlib.sha1(("mr %s!%d" % (project, iid)).encode()).hexdigest()[:8], 16),
            "iid": iid, "project_id": int(project) if project.isdigit() else 1,
            "title": "Change number %d" % iid, "state": state,
            "source_branch": "feature-%d" % iid, "target_branch": "main", "sha": sha,
            "web_url": "https://gitlab.com/%s/-/merge_requests/%d" % (project, iid),
            "diff_refs": {"head_sha": sha, "base_sha": None, "start_sha": None},
        }

    def _gl_mr(self, project, iid):
        """GET /projects/P/merge_requests/IID: "opened" while IID is in the
        open set (listed or hidden), "closed" otherwise."""
        with self._lock:
            sha = dict(self._mrs.get(project, [])).get(iid)
        return _json_answer(200, self._gl_mr_json(
            project, iid, sha or hashlib.sha1(("mr %s!%d" % (project, iid)).encode()).hexdigest(),
            "opened" if sha else "closed"))

    def _gl_note_json(self, n):
        return {
            "id": n["id"], "type": None, "body": n["body"], "attachment": None,
            "author": dict(n.get("author") or self.gitlab_user),
            "created_at": n["created_at"], "updated_at": n["updated_at"],
            "system": False, "noteable_id": n["iid"], "noteable_type": "MergeRequest",
            "noteable_iid": n["iid"],
            "project_id": int(n["project"]) if n["project"].isdigit() else 1,
            "resolvable": False, "confidential": False, "internal": False,
        }

    def _gl_note_body(self, req):
        body = None
        if isinstance(req.json, dict):
            body = req.json.get("body")
        elif req.body and "form-urlencoded" in req.headers.get("content-type", ""):
            body = parse_qs(req.body.decode("utf-8", "replace")).get("body", [None])[-1]
        if body is None:
            body = req.query.get("body")
        if not isinstance(body, str) or not body:
            return None, _json_answer(400, {"error": "body is missing"})
        if len(body) > GITLAB_MAX_NOTE:
            return None, _json_answer(400, {"message": {"note": [
                "is too long (maximum is %d characters)" % GITLAB_MAX_NOTE]}})
        return body, None

    def _gl_note_create(self, req, project, iid):
        body, err = self._gl_note_body(req)
        if err:
            return err
        now = _iso()
        with self._lock:
            nid = next(self._note_ids)
            n = {"id": nid, "project": project, "iid": iid, "body": body,
                 "created_at": now, "updated_at": now, "author": dict(self.gitlab_user)}
            self.notes[nid] = n
            return _json_answer(201, self._gl_note_json(n))

    def _gl_note_list(self, req, project, iid):
        with self._lock:
            items = [self._gl_note_json(n) for nid, n in sorted(self.notes.items(), reverse=True)
                     if n["project"] == project and n["iid"] == iid]
        return self._gl_paged(req, items)

    def _gl_note_one(self, req, project, iid, nid):
        with self._lock:
            n = self.notes.get(nid)
            if n is None or n["project"] != project or n["iid"] != iid:
                return self._gl_msg(404, "404 Note Not Found")
            if req.method in ("GET", "HEAD"):
                return _json_answer(200, self._gl_note_json(n))
            if req.method == "DELETE":
                del self.notes[nid]
                return _Answer(204)
            if req.method != "PUT":
                return _json_answer(405, {"error": "405 Not Allowed"})
        body, err = self._gl_note_body(req)
        if err:
            return err
        with self._lock:
            n = self.notes.get(nid)
            if n is None:
                return self._gl_msg(404, "404 Note Not Found")
            n["body"] = body
            n["updated_at"] = _iso()
            return _json_answer(200, self._gl_note_json(n))

    # -- Vercel ---------------------------------------------------------------

    @staticmethod
    def _vc_error(status, code, message, **extra):
        return _json_answer(status, {"error": dict({"code": code, "message": message}, **extra)})

    def _vercel(self, req):
        if self.vercel_token is not None:
            scheme, _, t = req.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or t.strip() != self.vercel_token:
                return self._vc_error(403, "forbidden", "Not authorized", invalidToken=True)
        m = re.match(r"^/(v\d+)/projects/([^/]+)/env$", req.path)
        if not m or req.method != "POST":
            return self._vc_error(404, "not_found", "The requested path was not found")
        project = unquote(m.group(2))
        if req.json is None:
            return self._vc_error(400, "bad_request", "Invalid JSON body")
        items = req.json if isinstance(req.json, list) else [req.json]
        upsert = req.query.get("upsert") == "true"
        created = []
        with self._lock:
            have = self._vercel_keys.setdefault(project, [])
            for it in items:
                if not isinstance(it, dict):
                    return self._vc_error(400, "bad_request", "Invalid request: body items "
                                          "must be objects")
                for field in ("key", "value", "type", "target"):
                    if field not in it:
                        return self._vc_error(400, "bad_request", "Invalid request: missing "
                                              "required property `%s`." % field)
                targets = it["target"] if isinstance(it["target"], list) else [it["target"]]
                branch = it.get("gitBranch")
                clash = [h for h in have
                         if h[0] == it["key"] and h[2] == branch and h[1] & set(targets)]
                if clash and not upsert:
                    return self._vc_error(400, "ENV_ALREADY_EXISTS",
                                          "A variable with the name `%s` already exists for "
                                          "the target %s" % (it["key"], ",".join(targets)))
                for h in clash:
                    have.remove(h)
                have.append((it["key"], set(targets), branch))
                now = int(time.time() * 1000)
                created.append(dict(it, target=targets, id=secrets.token_hex(8),
                                    configurationId=None, createdAt=now, updatedAt=now,
                                    decrypted=False))
            self.vercel_env.append({"project": project, "version": m.group(1),
                                    "query": dict(req.query), "team_id": req.query.get("teamId"),
                                    "upsert": upsert, "body": req.json})
        return _json_answer(201, {"created": created if isinstance(req.json, list)
                                  else created[0], "failed": []})
