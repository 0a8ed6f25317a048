"""The admin page (GET /): HTTP Basic auth, CSRF on its POST actions, and
the page itself in a real browser (Debian's chromium driven by
playwright-core from tests/node/admin_page.js).

The browser test needs /usr/bin/chromium (Debian's `chromium` package,
installed by scripts/install-deps.sh) and tests/node/node_modules (npm ci,
run by make test). Without them it fails, saying what is missing. The
screenshots go to build/test-artifacts/: admin-page.png,
admin-page-phone.png and admin-page-destroyed.png.
"""

import base64
import html
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from previewd import REPO_ROOT, pr_payload, wait_until

REPO = "acme/shop"
CHROMIUM = "/usr/bin/chromium"
NODE_DIR = REPO_ROOT / "tests" / "node"
NODE_MODULES = NODE_DIR / "node_modules"
ARTIFACTS = REPO_ROOT / "build" / "test-artifacts"
USER = "admin-test"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def basic(user, password):
    raw = ("%s:%s" % (user, password)).encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def open_pr(d, number):
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", number))
    assert status == 202, body


def env_now(d, number, wait=None):
    status, _, body = d.env_for(REPO, number, wait=wait)
    assert status == 200, body
    return json.loads(body)


def ready(d, number):
    env = env_now(d, number, wait=60)
    assert env["status"] == "ready", env
    return env


def page(d, user=USER, password=None, path="/"):
    """GET path (the page) with Basic auth; (status, headers, text)."""
    status, hdrs, body = d.request("GET", path, headers=basic(
        user, d.admin_token if password is None else password))
    return status, hdrs, body.decode("utf-8", "replace")


def csrf_of(text):
    values = set(html.unescape(v) for v in
                 re.findall(r'<input[^>]*name="csrf"[^>]*value="([^"]*)"', text))
    assert len(values) == 1, "expected one csrf value in the page, found %r" % values
    return values.pop()


def post_action(d, env_id, action, fields, user=USER, password=None, auth=True):
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Origin": d.base_url}
    if auth:
        headers.update(basic(user, d.admin_token if password is None else password))
    return d.request("POST", "/admin/environments/%s/%s" % (env_id, action),
                     body=urllib.parse.urlencode(fields), headers=headers)


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC, "%s is not a PNG" % path
    assert data[12:16] == b"IHDR", "%s has no IHDR chunk first" % path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_admin_page_auth_and_csrf(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    # Nothing yet: the empty state.
    status, _, text = page(d)
    assert status == 200 and 'class="empty' in text and "data-env-id" not in text
    open_pr(d, 21)
    env = ready(d, 21)
    env_id = env["id"]

    # No credentials, a wrong password, the CI token: 401
    # with a Basic challenge, and nothing of the page.
    status, hdrs, body = d.request("GET", "/")
    assert status == 401, body
    assert hdrs.get("www-authenticate", "").startswith("Basic"), hdrs
    assert env_id.encode() not in body
    for password in ("wrong", "", d.ci_token, d.admin_token + "x"):
        status, hdrs, text = page(d, "anyone", password)
        assert status == 401, password
        assert hdrs.get("www-authenticate", "").startswith("Basic")
        assert env_id not in text

    # Any user name with the admin token.
    status, hdrs, text = page(d, "anyone")
    assert status == 200, text
    assert hdrs.get("content-type", "").startswith("text/html"), hdrs
    assert "default-src 'none'" in hdrs.get("content-security-policy", ""), hdrs
    assert 'data-env-id="%s"' % env_id in text
    assert "<script" not in text.lower()
    csrf = csrf_of(text)
    # A filter that matches nothing shows the empty state, not the row.
    status, _, text = page(d, path="/?repo=&status=failed&sort=expires")
    assert status == 200 and 'class="empty' in text and "data-env-id" not in text

    # Actions: Basic auth first, then the CSRF token.
    status, hdrs, _ = post_action(d, env_id, "destroy", {"csrf": csrf}, auth=False)
    assert status == 401 and hdrs.get("www-authenticate", "").startswith("Basic")
    status, _, _ = post_action(d, env_id, "destroy", {"csrf": csrf}, user="anyone",
                               password="wrong")
    assert status == 401
    status, _, body = post_action(d, env_id, "destroy", {}, user="anyone")
    assert status == 403, body
    status, _, body = post_action(d, env_id, "destroy", {"confirm": "1"}, user="anyone")
    assert status == 403, body
    status, _, body = post_action(d, env_id, "destroy", {"csrf": "0" * len(csrf)},
                                  user="anyone")
    assert status == 403, body
    status, _, body = post_action(d, env_id, "destroy", {"csrf": csrf + "0"}, user="anyone")
    assert status == 403, body
    # The token is bound to the user name it was issued to.
    status, _, body = post_action(d, env_id, "destroy", {"csrf": csrf}, user="someone-else")
    assert status == 403, body
    # None of that touched the environment.
    assert env_now(d, 21)["status"] == "ready"
    assert env["database"] in pg.databases()
    assert 'data-env-id="%s"' % env_id in page(d)[2]

    # The right token works: extend answers 303 back to the page and adds
    # 24 hours.
    status, hdrs, body = post_action(d, env_id, "extend", {"csrf": csrf}, user="anyone")
    assert status == 303, body
    location = hdrs.get("location", "")
    assert urllib.parse.urlsplit(location).path == "/", location
    after = env_now(d, 21)
    assert after["status"] == "ready"
    assert after["expires_at"] > env["expires_at"], (env["expires_at"], after["expires_at"])
    assert d.admin_token not in d.log()


def _browser_prerequisites():
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(
            "%s is missing: the admin page test drives Debian's chromium. Install the "
            "`chromium` package (apt-get install chromium); scripts/install-deps.sh "
            "should list it for make test." % CHROMIUM)
    node = shutil.which("node")
    if node is None:
        missing.append("node is missing (Debian/NodeSource package nodejs)")
    if not (NODE_MODULES / "playwright-core").is_dir():
        missing.append("playwright-core is not installed in %s: make test runs "
                       "npm ci in tests/node (package.json pins it)" % NODE_MODULES)
    if missing:
        pytest.fail("\n".join(missing), pytrace=False)
    return node


def run_browser(d, expect, destroy_id):
    node = _browser_prerequisites()
    env = dict(os.environ,
               NODE_PATH=str(NODE_MODULES),
               PREVIEWD_URL=d.base_url,
               PREVIEWD_ADMIN_TOKEN=d.admin_token,
               ADMIN_USER=USER,
               EXPECT_ENVS=json.dumps(expect),
               DESTROY_ID=destroy_id,
               ARTIFACTS_DIR=str(ARTIFACTS),
               CHROMIUM=CHROMIUM)
    try:
        out = subprocess.run([node, str(NODE_DIR / "admin_page.js")], env=env,
                             capture_output=True, text=True, timeout=240,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail("admin_page.js did not finish within 240s:\n%s" % (e.stderr or ""),
                    pytrace=False)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    assert out.returncode == 0 and lines, (
        "admin_page.js exited %d\nstdout:\n%s\nstderr:\n%s"
        % (out.returncode, out.stdout[-4000:], out.stderr[-4000:]))
    return json.loads(lines[-1]), out.stderr


def test_admin_page_in_browser(pg, pg_config, previewd_factory):
    _browser_prerequisites()          # fail before provisioning anything
    d = previewd_factory(pg_config)
    open_pr(d, 31)
    open_pr(d, 32)
    doomed, kept = ready(d, 31), ready(d, 32)
    for f in ("admin-page.png", "admin-page-phone.png", "admin-page-destroyed.png"):
        (ARTIFACTS / f).unlink(missing_ok=True)

    expect = [{"id": e["id"], "repo": REPO, "number": e["number"]} for e in (doomed, kept)]
    summary, stderr = run_browser(d, expect, doomed["id"])

    # The checks made in the page (admin_page.js lists the ones that failed).
    assert summary["problems"] == [], (
        "the admin page in chromium:\n  " + "\n  ".join(summary["problems"])
        + "\n" + stderr[-2000:])
    # And the main ones again from its summary, so a failure names them.
    assert summary["status"] == 200
    assert summary["content_type"].startswith("text/html")
    rows = {r["id"]: r for r in summary["page"]["rows"]}
    assert set(rows) == {doomed["id"], kept["id"]}
    for e in (doomed, kept):
        assert rows[e["id"]]["status"] == "ready"
        assert REPO in rows[e["id"]]["text"]
        assert any(l["href"].endswith("/%s/pull/%d" % (REPO, e["number"]))
                   and str(e["number"]) in l["text"] for l in rows[e["id"]]["links"])
    assert "postgres" in [p["engine"] for p in summary["page"]["pools"]]
    assert summary["page"]["scripts"] == 0 and summary["external_requests"] == []
    assert summary["phone"]["scroll_width"] <= summary["phone"]["inner_width"] == 390

    destroy = summary["destroy"]
    assert destroy["post"]["method"] == "POST" and destroy["post"]["status"] == 303
    assert destroy["post"]["path"] == "/admin/environments/%s/destroy" % doomed["id"]
    assert destroy["final_status"] == 200 and destroy["path"] == "/"
    assert doomed["id"] in (destroy["flash"] or ""), destroy

    # What the click did, seen through the API and on the database server.
    wait_until(lambda: env_now(d, 31)["status"] == "deleted", timeout=60,
               what="the destroyed environment to be deleted")
    wait_until(lambda: doomed["database"] not in pg.databases(), timeout=30,
               what="its database to be dropped")
    assert doomed["user"] not in pg.roles()
    assert env_now(d, 32)["status"] == "ready"
    assert kept["database"] in pg.databases()

    # The log names who did it; it never holds the password.
    log = d.log()
    assert any(USER in line and doomed["id"] in line and "destroy" in line
               for line in log.splitlines()), "no log line with %s destroying %s" % (
                   USER, doomed["id"])
    assert d.admin_token not in log

    # The screenshots: PNGs, the desktop one 1280 px wide, the phone one
    # 390 CSS px at a device scale factor of 2.
    desktop = ARTIFACTS / "admin-page.png"
    phone = ARTIFACTS / "admin-page-phone.png"
    assert Path(summary["screenshots"]["desktop"]) == desktop and desktop.is_file()
    assert Path(summary["screenshots"]["phone"]) == phone and phone.is_file()
    width, height = png_size(desktop)
    assert width == 1280 and height >= 900, (width, height)
    width, height = png_size(phone)
    assert width == 780 and height >= 844 * 2, (width, height)
    assert png_size(summary["screenshots"]["destroyed"])[0] == 1280
