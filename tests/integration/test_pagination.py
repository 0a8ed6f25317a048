"""Paging through the lists (issue 26): GET /api/v1/environments, GET
/api/v1/databases and the admin page, a page at a time by keyset.

The daemon is the real one on a real PostgreSQL. Pull requests come
through signed webhooks; `[server] max_environments` keeps most of them
`queued` (listed, holding no database), so a fleet of dozens costs the
server a few databases, and a close is torn down at once. Environments
are opened and closed between page requests: each one that lived
throughout must be seen exactly once, none missing, none twice.
"""

import base64
import html
import json
import os
import re
import subprocess
import urllib.parse

from previewd import REPO_ROOT, pr_payload, wait_until

REPO = "acme/shop"
OTHER = "acme/other"
LIMIT = 7
LINK_RE = re.compile(r'^<([^>]*)>; rel="next"$')


def config(pg_config, cap="3"):
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg.setdefault("server", {})["max_environments"] = cap
    cfg["repo:%s" % OTHER] = {"ttl": "72h"}
    return cfg


def open_pr(d, number, repo=REPO):
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", number, repo=repo))
    assert status == 202, body


def close_pr(d, number, repo=REPO):
    status, _, body = d.github_webhook("pull_request", pr_payload("closed", number, repo=repo))
    assert status == 202, body


def env_of(d, number, repo=REPO):
    status, _, body = d.env_for(repo, number)
    assert status == 200, body
    return json.loads(body)


def get_page(d, url, token):
    """One page of a list: (document, next URL from Link or None)."""
    status, hdrs, body = d.request("GET", url, token=token)
    assert status == 200, (url, body)
    assert hdrs.get("content-type", "").startswith("application/json")
    doc = json.loads(body)
    assert set(doc) == {"data", "next_cursor"}, doc.keys()
    link = hdrs.get("link")
    if doc["next_cursor"] is None:
        assert link is None, "a Link header on the last page: %r" % link
        return doc, None
    assert isinstance(doc["next_cursor"], str) and doc["next_cursor"]
    assert link is not None, "next_cursor without a Link header"
    m = LINK_RE.match(link)
    assert m, "Link header %r" % link
    return doc, m.group(1)


def page_through(d, path, token, limit=LIMIT, between=None):
    """Follow the Link headers from path?limit=... to the last page.

    Returns (rows in the order seen, number of pages). between(page) runs
    after each page that has a next one."""
    url = "%s?limit=%d" % (path, limit)
    rows, pages = [], 0
    while True:
        doc, nxt = get_page(d, url, token)
        pages += 1
        rows.extend(doc["data"])
        if nxt is None:
            assert len(doc["data"]) <= limit
            return rows, pages
        # Every page but the last is full; the link keeps the limit and
        # carries the cursor the body gives.
        assert len(doc["data"]) == limit, (pages, len(doc["data"]))
        parts = urllib.parse.urlsplit(nxt)
        assert parts.path == path and not parts.scheme and not parts.netloc, nxt
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        assert query == {"limit": [str(limit)], "cursor": [doc["next_cursor"]]}, query
        if between is not None:
            between(pages)
        url = nxt


def assert_error(d, url, token, code):
    status, hdrs, body = d.request("GET", url, token=token)
    assert status == 400, (url, status, body)
    assert hdrs.get("content-type", "").startswith("application/json")
    err = json.loads(body)["error"]
    assert err["code"] == code and err["message"], (url, err)


def test_environments_paged_while_the_fleet_changes(pg, pg_config, previewd_factory):
    d = previewd_factory(config(pg_config))
    for n in range(1, 26):
        open_pr(d, n)
    before = {e["number"]: e["id"] for e in
              page_through(d, "/api/v1/environments", d.admin_token, limit=1000)[0]}
    assert sorted(before) == list(range(1, 26))

    created, closed = [], []
    nxt = [100]

    def between(page):
        # One new pull request, and closes of one already seen and one
        # not seen yet (each torn down at once: queued ones hold nothing).
        open_pr(d, nxt[0])
        created.append(nxt[0])
        nxt[0] += 1
        for n in (page, 26 - page):
            if n not in closed:
                close_pr(d, n)
                closed.append(n)
        if page == 1:
            wait_until(lambda: env_of(d, 26 - page)["status"] == "deleted",
                       what="#%d to be deleted" % (26 - page))

    rows, pages = page_through(d, "/api/v1/environments", d.admin_token, between=between)
    ids = [e["id"] for e in rows]
    assert len(ids) == len(set(ids)), "an environment was listed twice"
    seen = {e["number"] for e in rows}
    survivors = set(before) - set(closed)
    assert survivors <= seen, "missing: %s" % sorted(survivors - seen)
    # Those made during the listing come after every position handed out.
    assert set(created) <= seen
    # #25 was deleted before its page came: not listed.
    assert 25 not in seen
    assert pages >= 4
    # Oldest first, as the whole list always was.
    created_at = [e["created_at"] for e in rows]
    assert created_at == sorted(created_at)
    # Every field of the unpaged list is still there; URLs for the admin.
    assert set(rows[0]) == {
        "id", "provider", "repo", "number", "name", "engine", "status", "database_url",
        "pooled_url", "direct_url", "host", "port", "database", "user", "head_sha", "migrations_tool", "schema_from",
        "created_at", "updated_at", "expires_at", "error"}
    # The CI token pages the same list, without URLs.
    ci_rows, _ = page_through(d, "/api/v1/environments", d.ci_token)
    assert all(e["database_url"] is None and e["direct_url"] is None for e in ci_rows)
    assert len({e["id"] for e in ci_rows}) == len(ci_rows)
    assert survivors | set(created) <= {e["number"] for e in ci_rows}


def test_limits_cursors_and_the_default_page(pg, pg_config, previewd_factory):
    d = previewd_factory(config(pg_config, cap="2"))
    for n in range(1, 106):
        open_pr(d, n)
    path = "/api/v1/environments"
    # The default is 100 a page: a script that reads only the first page
    # sees 100 and a cursor; the Link carries no limit it did not send.
    doc, nxt = get_page(d, path, d.ci_token)
    assert len(doc["data"]) == 100 and doc["next_cursor"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query)
    assert query == {"cursor": [doc["next_cursor"]]}
    doc2, nxt2 = get_page(d, nxt, d.ci_token)
    assert len(doc2["data"]) == 5 and nxt2 is None and doc2["next_cursor"] is None
    assert [e["number"] for e in doc["data"] + doc2["data"]] == list(range(1, 106))
    # The most a page holds.
    doc, nxt = get_page(d, path + "?limit=1000", d.ci_token)
    assert len(doc["data"]) == 105 and nxt is None
    doc, nxt = get_page(d, path + "?limit=1", d.ci_token)
    assert len(doc["data"]) == 1 and nxt

    for bad in ("0", "1001", "junk", "", "-1", "7.5", "1e2", " 7", "0x10",
                "9" * 40):
        assert_error(d, path + "?limit=" + urllib.parse.quote(bad), d.ci_token, "bad_limit")
        assert_error(d, "/api/v1/databases?limit=" + urllib.parse.quote(bad), d.ci_token,
                     "bad_limit")
    cursor = doc["next_cursor"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    expiry = base64.urlsafe_b64encode(b"1xa.1700000000.3").decode().rstrip("=")
    before = base64.urlsafe_b64encode(b"1cb.1700000000.3").decode().rstrip("=")
    for bad in ("junk!", "", cursor + "=", cursor + "A", tampered, expiry, before,
                "A" * 200):
        assert_error(d, path + "?cursor=" + urllib.parse.quote(bad), d.ci_token, "bad_cursor")
        assert_error(d, "/api/v1/databases?cursor=" + urllib.parse.quote(bad), d.ci_token,
                     "bad_cursor")
    # Tokens still come first.
    assert d.get_json(path + "?limit=0")[0] == 401
    # Other parameters ride along in the link, made safe for a header.
    doc, nxt = get_page(d, path + "?limit=2&x=%3Cy%3E&z=a%20b", d.ci_token)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query) == {
        "limit": ["2"], "x": ["<y>"], "z": ["a b"], "cursor": [doc["next_cursor"]]}
    doc3, _ = get_page(d, nxt, d.ci_token)
    assert [e["number"] for e in doc3["data"]] == [3, 4]


def readme_loop():
    """The shell loop README.md gives scripts for reading every page."""
    text = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    loops = [b for b in blocks if 'rel="next"' in b and "/api/v1/environments" in b]
    assert len(loops) == 1, "README.md should have one paging loop, found %d" % len(loops)
    return loops[0]


def test_readme_loop_reads_every_page(pg, pg_config, previewd_factory, tmp_path):
    d = previewd_factory(config(pg_config, cap="2"))
    for n in range(1, 106):
        open_pr(d, n)
    env = dict(os.environ, PREVIEWD=d.base_url, PREVIEWD_CI_TOKEN=d.ci_token)
    out = subprocess.run(["sh", "-eu", "-c", readme_loop()], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    numbers = [json.loads(line)["number"] for line in out.stdout.splitlines()]
    # Two pages of the default 100; every one once, oldest first.
    assert numbers == list(range(1, 106))


def create_db(d, name):
    status, _, body = d.request("POST", "/api/v1/databases", body={"name": name},
                                token=d.ci_token)
    assert status == 201, body
    return json.loads(body)["data"]


def test_databases_paged_while_they_come_and_go(pg, pg_config, previewd_factory):
    d = previewd_factory(config(pg_config))
    made = [create_db(d, "run-%d" % i) for i in range(12)]
    open_pr(d, 1)          # a pull request: never in this list
    gone = []

    def between(page):
        made.append(create_db(d, "late-%d" % page))
        victim = made[-3 - page]
        status, _, _ = d.request("DELETE", "/api/v1/databases/" + victim["id"],
                                 token=d.ci_token)
        assert status == 202
        gone.append(victim["id"])

    rows, pages = page_through(d, "/api/v1/databases", d.ci_token, limit=5,
                               between=between)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert {m["id"] for m in made} - set(gone) <= set(ids)
    assert pages >= 3
    assert set(rows[0]) == {"id", "name", "engine", "status", "connection_string",
                            "pooled_url", "direct_url", "host", "port", "database", "user", "blueprint", "created_at",
                            "expires_at", "error"}
    assert all(r["connection_string"] is None and r["direct_url"] is None for r in rows)
    assert not any(r["name"].startswith("preview-pr") for r in rows)


# ---- the admin page ----

def basic(d):
    raw = ("pager:%s" % d.admin_token).encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def admin(d, url):
    status, _, body = d.request("GET", url, headers=basic(d))
    text = body.decode("utf-8", "replace")
    return status, text


def rows_of(text):
    return re.findall(r'<tr class="env[^"]*" data-env-id="([^"]+)" data-status="([^"]+)"',
                      text)


def link_of(text, rel):
    m = re.search(r'<a class="%s" rel="%s" href="([^"]*)"' % (rel, rel), text)
    return html.unescape(m.group(1)) if m else None


def counts_of(text):
    counts = {name: int(n) for name, n in re.findall(
        r'<option value="([a-z]+)"[^>]* data-count="(\d+)"', text)}
    total = int(re.search(r'All statuses \((\d+)\)', text).group(1))
    return counts, total


def admin_through(d, url, between=None, limit=LIMIT):
    """Follow rel="next" from url; (every row, pages, the last page's URL)."""
    seen, pages = [], 0
    while True:
        status, text = admin(d, url)
        assert status == 200, text[:500]
        rows = rows_of(text)
        pages += 1
        seen.extend(rows)
        nxt = link_of(text, "next")
        if nxt is None:
            return seen, pages, url
        assert len(rows) == limit
        if between is not None:
            between(pages)
        url = nxt


def test_admin_page_a_page_at_a_time(pg, pg_config, previewd_factory):
    d = previewd_factory(config(pg_config))
    for n in range(1, 21):
        open_pr(d, n)
    for n in range(1, 6):
        open_pr(d, n, repo=OTHER)
    create_db(d, "ci-one")
    status, text = admin(d, "/?limit=%d" % LIMIT)
    assert status == 200
    ids_at_start = {i for i, _ in rows_of(text)}
    assert len(ids_at_start) == LIMIT and link_of(text, "prev") is None

    closed = []

    def between(page):
        open_pr(d, 200 + page)
        close_pr(d, page)
        closed.append(page)

    seen, pages, last = admin_through(d, "/?limit=%d" % LIMIT, between)
    ids = [i for i, _ in seen]
    assert len(ids) == len(set(ids)), "a row shown twice"
    expected = {env_of(d, n)["id"] for n in range(1, 21) if n not in closed} | \
               {env_of(d, n, OTHER)["id"] for n in range(1, 6)}
    assert expected <= set(ids), "missing rows"
    assert pages >= 4

    # Back from the last page to the first by rel="prev": the same pages.
    back, url = [], last
    while url is not None:
        status, text = admin(d, url)
        assert status == 200
        back[:0] = [i for i, _ in rows_of(text)]
        url = link_of(text, "prev")
    assert len(back) == len(set(back))
    assert expected <= set(back)

    # Filters and the sort are the store's, and ride along in the links.
    seen, pages, _ = admin_through(d, "/?repo=%s&limit=3" % urllib.parse.quote(OTHER),
                                  limit=3)
    assert len(seen) == 5 and pages == 2
    status, text = admin(d, "/?repo=%s&limit=3&sort=expires" % urllib.parse.quote(OTHER))
    nxt = link_of(text, "next")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query)
    assert query["repo"] == [OTHER] and query["sort"] == ["expires"] and query["limit"] == ["3"]
    # A cursor of another sort, or none previewd wrote, is refused.
    status, _ = admin(d, nxt.replace("sort=expires", "sort=created"))
    assert status == 400
    status, _ = admin(d, "/?cursor=nonsense")
    assert status == 400
    status, _ = admin(d, "/?limit=501")
    assert status == 400

    # Settled (slot holders ready, the rest queued, closes done): the
    # counts by status are those of every environment the API lists.
    def settled():
        envs = page_through(d, "/api/v1/environments", d.admin_token, limit=1000)[0]
        dbs = page_through(d, "/api/v1/databases", d.admin_token, limit=1000)[0]
        return all(e["status"] in ("ready", "queued") for e in envs + dbs) and (envs, dbs)
    wait_until(settled, timeout=90, what="the fleet to settle")
    envs, dbs = settled()
    want = {}
    for e in envs + dbs:
        want[e["status"]] = want.get(e["status"], 0) + 1
    status, text = admin(d, "/")
    counts, total = counts_of(text)
    assert {k: v for k, v in counts.items() if v} == want
    assert total == len(envs) + len(dbs)
    assert '<span class="count">%d</span>' % total in text
    # The default page is 100: everything here fits on one, no pager.
    assert len(rows_of(text)) == total and 'class="pager"' not in text
    # The counts follow the repository chosen; the status filter pages.
    status, text = admin(d, "/?repo=%s" % urllib.parse.quote(OTHER))
    counts, total = counts_of(text)
    assert total == 5 and sum(counts.values()) == 5
    seen, _, _ = admin_through(d, "/?status=queued&limit=4", limit=4)
    assert len(seen) == want["queued"] and {s for _, s in seen} == {"queued"}
