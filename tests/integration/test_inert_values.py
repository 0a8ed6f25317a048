"""Values from a repository are inert.

Whoever opens a pull request chooses its migration files' names and the
SQL in them, and the database server echoes that SQL back in its error.
Here a migration file is named with a line break, a Markdown heading, a
link, an @mention, backticks and HTML, and its SQL fails on a table whose
name carries a carriage return and the same markup, so the error repeats
it. What the people reading previewd's output must see:

  - the pull request comment shows all of it only inside code (a code
    span or a fenced block the value cannot close), so GitHub and GitLab
    make no heading, link or mention of it;
  - the text log has no line the value started: every line begins with
    previewd's timestamp;
  - the JSON log is one valid JSON object per line;
  - the admin page shows the error HTML-escaped.
"""

import base64
import json
import re

import pytest

from previewd import pr_payload, wait_until

REPO = "acme/shop"
TOKEN = "ghp_inert_values_token"
SHA = "7" * 40

# A file name cannot hold a slash: its link goes to www.evil.example,
# its HTML has no closing tag. With backticks (a fence must outgrow
# them) and without (the name then fits a plain code span, which its
# line break used to end).
NAMES = {
    "backticks": "002_x\n# Heading [link](www.evil.example) @octocat ``` `<em>bold<em>.sql",
    "no_backticks": "002_x\n# Heading [link](www.evil.example) @octocat <em>bold<em>.sql",
}
TABLE = "evil\r# Heading [link](https://evil.example) @octocat ``` `<em>bold<em>"
SQL = 'SELECT * FROM "%s";\n' % TABLE.replace('"', '""')
# What must never be markup in the comment.
NEEDLES = ("# Heading", "[link]", "evil.example", "@octocat", "<em>")

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) ")


def _lines(md):
    """(offset, text) of each line, with CommonMark's line endings:
    \\n, \\r\\n and a lone \\r."""
    out, pos = [], 0
    for m in re.finditer(r"[^\r\n]*(?:\r\n|\r|\n|$)", md):
        if m.end() == m.start():
            break
        text = m.group(0).rstrip("\r\n")
        out.append((m.start(), text))
        pos = m.end()
    return out


def _spans(line, offset):
    """Code spans on one line: (start, end) of their contents.

    CommonMark: a run of N backticks (not backslash-escaped) opens a span
    that the next run of exactly N closes. previewd's spans never hold a
    line break, so a span found only across lines does not count."""
    found, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            i += 2
            continue
        if c != "`":
            i += 1
            continue
        j = i
        while j < len(line) and line[j] == "`":
            j += 1
        n, k, close = j - i, j, None
        while k < len(line):
            if line[k] != "`":
                k += 1
                continue
            m = k
            while m < len(line) and line[m] == "`":
                m += 1
            if m - k == n:
                close = (k, m)
                break
            k = m
        if close is None:
            i = j
        else:
            found.append((offset + j, offset + close[0]))
            i = close[1]
    return found


def code_ranges(md):
    """[(start, end)] of every code span's and fenced block's contents.

    A fence is a line of three or more backticks (up to three spaces in)
    with no backtick after them; it runs to a line of at least as many
    backticks and nothing else, or to the end."""
    ranges, fence = [], None
    for offset, text in _lines(md):
        m = re.match(r" {0,3}(`{3,})(.*)$", text)
        if fence is None:
            if m and "`" not in m.group(2):
                fence = (len(m.group(1)), offset + len(text) + 1)
            else:
                ranges += _spans(text, offset)
        elif m and len(m.group(1)) >= fence[0] and m.group(2).strip() == "":
            ranges.append((fence[1], offset))
            fence = None
    if fence is not None:
        ranges.append((fence[1], len(md)))
    return ranges


def outside_code(md, needle):
    """Offsets where needle occurs not wholly inside code."""
    ranges = code_ranges(md)
    return [m.start() for m in re.finditer(re.escape(needle), md)
            if not any(a <= m.start() and m.end() <= b for a, b in ranges)]


def test_code_ranges_sees_what_commonmark_sees():
    """The checker itself: markup outside code is found, inside is not."""
    assert outside_code("`a\n# Heading`", "# Heading") != []
    assert outside_code("x\r# Heading", "# Heading") != []
    assert outside_code("``a`b @octocat``", "@octocat") == []
    assert outside_code("`a` @octocat `b`", "@octocat") != []
    assert outside_code("```\n@octocat\n```\n", "@octocat") == []
    assert outside_code("```\n```\n@octocat\n", "@octocat") != []
    assert outside_code("````\n```\n@octocat\n````\n", "@octocat") == []
    assert outside_code("\\`@octocat`", "@octocat") != []


def start(pg_config, forge, previewd_factory, log_format, name):
    forge.github_token = TOKEN
    forge.set_tree(REPO, SHA, {"db/migrations/001_ok.sql": "SELECT 1;\n",
                               "db/migrations/" + name: SQL})
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["repo:acme/shop"]["migrations"] = "repo:db/migrations"
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    cfg["server"] = {"log_format": log_format}
    return previewd_factory(cfg)


def failed_comment(forge, d, number):
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", number, sha=SHA))
    assert status == 202, body

    def posted():
        cs = [c for c in forge.comments.values() if c["number"] == number]
        return cs[0] if len(cs) == 1 and "failed" in cs[0]["body"] else None
    return wait_until(posted, timeout=60, what="the failure comment")["body"]


@pytest.mark.parametrize("name", sorted(NAMES))
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_file_name_and_error_cannot_make_markup_or_log_lines(
        pg, pg_config, forge, previewd_factory, log_format, name):
    NAME = NAMES[name]
    d = start(pg_config, forge, previewd_factory, log_format, NAME)
    body = failed_comment(forge, d, 31)

    log = d.log_path.read_bytes().decode("utf-8")     # strictly UTF-8
    if log_format == "text":
        for line in log.splitlines():
            assert LOG_LINE.match(line), "a log line previewd did not start: %r" % line
        assert NAME.replace("\n", "\\n") in log
    else:
        msgs = []
        for line in log.splitlines():
            obj = json.loads(line)          # every line, one object
            assert set(obj) >= {"ts", "level", "msg"}, obj
            msgs.append(obj["msg"])
        assert any(NAME in m for m in msgs), msgs

    # The failure is shown, the file named and the error quoted ...
    assert "does not exist" in body, body
    for needle in NEEDLES:
        assert needle in body, (needle, body)
    # ... and nothing of it outside code.
    for needle in NEEDLES:
        assert outside_code(body, needle) == [], (
            "%r outside code in the comment:\n%s" % (needle, body))
    assert "\r" not in body

    status, _, env = d.env_for(REPO, 31)
    env = json.loads(env)
    assert env["status"] == "failed" and NAME in env["error"], env

    # The admin page shows the error HTML-escaped.
    auth = base64.b64encode(("admin:" + d.admin_token).encode()).decode()
    status, _, page = d.request("GET", "/", headers={"Authorization": "Basic " + auth})
    assert status == 200
    page = page.decode("utf-8")
    assert "&lt;em&gt;bold&lt;em&gt;" in page
    assert "<em>bold<em>" not in page
