#!/usr/bin/env python3
"""Write the seed corpora under tests/fuzz/corpus/ (committed; rerun only
to change them). Webhook payloads come from the integration tests' own
builders (tests/integration: pr_payload, mr_hook, deployment_event), so
the seeds have the shapes the forges send.

    python3 tests/fuzz/make_seeds.py
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.dont_write_bytecode = True
# The integration modules import pytest and the database drivers for
# their tests; the payload builders need none of them.
for _mod in ("pytest", "psycopg2", "pymysql"):
    try:
        __import__(_mod)
    except ImportError:
        sys.modules[_mod] = types.ModuleType(_mod)

from previewd import pr_payload  # noqa: E402
from test_gitlab_vercel import deployment_event, mr_hook  # noqa: E402

KEY64 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def dump(obj, pretty):
    return json.dumps(obj, indent=2 if pretty else None,
                      separators=None if pretty else (",", ":"))


def parts(*p):
    return b"\0".join(x.encode() if isinstance(x, str) else x for x in p)


def webhooks():
    fixed = "2026-11-22T21:08:58Z"
    write("github_webhook", "opened.json",
          dump(pr_payload("opened", 42, updated_at=fixed), True))
    write("github_webhook", "synchronize-compact.json",
          dump(pr_payload("synchronize", 42, sha="c" * 40, updated_at=fixed), False))
    write("github_webhook", "closed-merged-private.json",
          dump(pr_payload("closed", 7, merged=True, private=True, updated_at=fixed), False))
    write("github_webhook", "fork-app.json",
          dump(pr_payload("opened", 9, fork=True, installation_id=1234567,
                          updated_at="2026-11-22T21:08:58.123+01:00"), False))

    write("gitlab_webhook", "open.json",
          dump(mr_hook("open", 5, updated_at="2026-11-22 21:08:58 UTC"), True))
    write("gitlab_webhook", "update-oldrev.json",
          dump(mr_hook("update", 5, sha="e" * 40, oldrev="d" * 40,
                       updated_at=fixed), False))
    write("gitlab_webhook", "merge-private.json",
          dump(mr_hook("merge", 5, visibility=0, updated_at=fixed), False))
    write("gitlab_webhook", "open-fork.json",
          dump(mr_hook("open", 6, source=999, updated_at=fixed), False))

    def stable(ev):
        ev["id"] = "evt_0123456789abcdef0123456789abcdef"
        ev["createdAt"] = 1795381738000
        ev["payload"]["deployment"]["id"] = "dpl_0123456789abcdefghij"
        return ev
    write("vercel_webhook", "created.json", dump(stable(deployment_event(31)), True))
    write("vercel_webhook", "created-no-team.json",
          dump(stable(deployment_event(31, team=None, ref="feature/x")), False))
    write("vercel_webhook", "production.json",
          dump(stable(deployment_event(31, target="production")), False))
    write("vercel_webhook", "succeeded.json",
          dump(stable(deployment_event(31, kind="deployment.succeeded")), False))


def jscan():
    docs = {
        "nested.json": '{"a":{"b":{"c":1}},"action":"opened","number":42}',
        "duplicates.json": '{"a":1,"a":{"b":2},"A":{"b":"upper"}}',
        "escapes.json": '{"\\u0061ction":"op\\u00e9n\\ud83d\\ude00\\n\\t\\"\\\\\\/",'
                        '"a":{"b":"x\\u0000y"}}',
        "numbers.json": '{"number":-0,"a":{"b":1e400,"c":-9223372036854775808},'
                        '"x":[1.5e-3,0,-1]}',
        "literals.json": '[true,false,null,{"a":{"b":null}},[[[]]],""]',
        "empty-key.json": '{"":{"":1},"a":{"":{"b":true}},"\u00e9":"\u20ac"}',
        "deep.json": "[" * 64 + "]" * 64,
        "pr.json": dump(pr_payload("opened", 42, updated_at="2026-11-22T21:08:58Z"), False),
        "ws.json": ' \t\r\n{ "a" : { "b" : [ 1 , 2 ] } } \n',
        "bad-trailing-comma.json": '{"a":1,}',
    }
    for name, text in docs.items():
        write("jscan", name, text)


def signatures():
    # Standard Webhooks' published vector (tests/unit/test_webhooks.c).
    body = '{"test": 2432232314}'
    write("signatures", "standard-webhooks-spec",
          parts("\x02\x01\x01", SPEC_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body))
    # GitHub's documented example: secret, body and X-Hub-Signature-256.
    write("signatures", "github-docs",
          parts("\x02", "It's a Secret to Everybody", "", "",
                "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                "Hello, World!"))
    # Vercel: sha1 hex over the body.
    vbody = dump(deployment_event(31), False)
    sig = hmac.new(b"vercel-hook-secret", vbody.encode(), hashlib.sha1).hexdigest()
    write("signatures", "vercel-sha1",
          parts("\x01", "vercel-hook-secret", "", "", sig, vbody))
    # GitLab: a token header and a Standard Webhooks signature with two
    # candidates, as during key rotation.
    key = b"k" * 32
    secret = "whsec_" + base64.b64encode(key).decode()
    mbody = dump(mr_hook("open", 5, updated_at="2026-11-22T21:08:58Z"), False)
    mid, ts = "msg_0123456789abcdef", "1795381738"
    mac = hmac.new(key, ("%s.%s.%s" % (mid, ts, mbody)).encode(), hashlib.sha256).digest()
    write("signatures", "gitlab-signed",
          parts("\x02\x01\x01\x07", secret, mid, ts,
                "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1," +
                base64.b64encode(mac).decode(), mbody))
    write("signatures", "gitlab-token",
          parts("\x02", "gitlab-hook-token", "", "", "gitlab-hook-token", "{}"))
    write("signatures", "hex-and-base64",
          parts("\x02", "whsec_QUJDRA==", "DEADbeef00", "0", "QUJD", b"\0\1\2\xff"))


CONF_README = """\
[server]
listen = 127.0.0.1:8080
public_url = https://previewd.example.com
state_path = /var/lib/previewd/state.db
secret_key = env:PREVIEWD_SECRET_KEY     ; openssl rand -hex 32
admin_token = env:PREVIEWD_ADMIN_TOKEN
ci_token = env:PREVIEWD_CI_TOKEN

[postgres]
admin_url = postgresql://previewd:...@db.internal:5432/postgres
public_host = db.example.com:5432
pool_size = 4

[mysql]
admin_url = mysql://previewd:...@mysql.internal:3306/
public_host = mysql.example.com:3306
pool_size = 2

[github]
webhook_secret = env:GITHUB_WEBHOOK_SECRET

[repo:acme/shop]
ttl = 72h

[repo:acme/billing]
engine = mysql
"""

CONF_FULL = """\
\ufeff; every section and most keys
[server]
listen = [::1]:8080
state_path = /tmp/previewd-fuzz-state.db
secret_key = %s
admin_token = env:PREVIEWD_ADMIN_TOKEN
ci_token = file:/etc/hostname
workers = 8
log_level = debug
log_format = json
comment_password = never
templates_dir = %s

[postgres]
admin_url = env:PREVIEWD_PG_URL
public_host = [2001:db8::5]:6432
pool_size = 0

[mysql]
admin_url = env:PREVIEWD_MYSQL_URL

[github]
webhook_secret = env:GITHUB_WEBHOOK_SECRET
token = env:GITHUB_TOKEN
api_url = https://github.example.com/api/v3

[gitlab]
token = env:GITLAB_TOKEN
webhook_token = env:GITLAB_WEBHOOK_TOKEN
signing_token = env:GITLAB_SIGNING_TOKEN
api_url = https://gitlab.example.com/api/v4

[vercel]
webhook_secret = env:VERCEL_WEBHOOK_SECRET
token = env:VERCEL_TOKEN

[reaper]
interval = 10m

[repo:acme/*]
forks = allow
migrations = repo:db/migrations
seed = repo:db/seed.sql
ci_token = fuzz-seed-acme-ci-token-0123456789

[repo:grp/sub/shop]
engine = mysql
ttl = 2d
migrations = blueprint:saas
seed = blueprint:saas
comment_password = always

[repo:acme/shop]
migrations = dir:/srv/migrations
seed = file:/srv/seed.sql
""" % (KEY64, "templates")

CONF_ERRORS = """\
workers = 3
[server]
secret_key = 1234
admin_token =
listen = localhost
workers = 65
[server]
[postgres]
admin_url = postgresql:///db
admin_url = postgresql://u:p@h:99999/db
[repo:acme]
[repo:acme/shop]
engine = oracle
ttl = 1y
forks = maybe
seed = repo:../etc/passwd
unknown = 1
[nowhere
this is not ini
[repo:acme/shop]
"""


def config():
    write("config", "readme.conf", CONF_README)
    write("config", "full.conf", CONF_FULL)
    write("config", "errors.conf", CONF_ERRORS)
    write("config", "minimal-crlf.conf",
          "[server]\r\nsecret_key = %s\r\n"
          "admin_token = fuzz-seed-admin-token-0123456789\r\n"
          "[postgres]\r\nadmin_url = postgresql://admin@db.internal/postgres\r\n"
          % KEY64)
    write("config", "github-app.conf",
          "[server]\nsecret_key = env:PREVIEWD_SECRET_KEY\n"
          "admin_token = fuzz-seed-admin-token-0123456789\n"
          "[mysql]\nadmin_url = env:PREVIEWD_BAD_URL\n"
          "[github]\nwebhook_secret = s\napp_id = 12345\n"
          "private_key_file = /nonexistent/key.pem\n"
          "[gitlab]\nsigning_token = whsec_====\n"
          "[repo:acme/x]\nengine = postgres\nci_token = env:PREVIEWD_EMPTY\n")


def dburl():
    cases = {
        "postgres": ("\x03\x15\x38", "postgresql://u:p%40ss@host:5432/db", "db.example.com:5432",
                     "pvd_shop_1a2b3c4d_42", "Zm9vYmFy-_0123456789abcdefghijklmnopq", "pvd_shop_1a2b3c4d_42"),
        "mysql-ipv6": ("\1\x0c\xea", "mysql://root:s%3Ac%2Fr%3Fe%23t@[2001:db8::5]:3306/app",
                       "[::1]:3307", "us@er:x", "p:/?#[]@!$&'()*+,;=% ", "my db"),
        "no-port": ("\2", "postgres://admin:pw@[::1]/postgres", "db.internal", "", "", ""),
        "bad": ("\x03", "postgresql:///db", "::1", "u", "\u00e9\u20ac", "../x"),
        "https": ("\x03", "https://api.github.com", "[fe80::1]:0", "a", "b", "c/d"),
    }
    for name, p in cases.items():
        write("dburl", name, parts(*p))


def template():
    with open(os.path.join(ROOT, "templates", "comment.md"), "rb") as f:
        comment = f.read()
    write("template", "comment-markdown.md", b"\1" + comment)
    write("template", "comment-html.md", b"\0" + comment)
    write("template", "sections.html",
          "\0<ul>\n{{#list}}\n  <li>{{x}} {{#y}}yes{{/y}}{{^y}}no{{/y}}</li>\n{{/list}}\n</ul>\n"
          "{{! a comment }}\n{{pool.name}} {{pool.deep.er.est}} {{{database_url}}}\n"
          "{{#nested}}{{#.}}[{{.}}]{{/.}}{{/nested}}{{^emptylist}}none{{/emptylist}}\n"
          "{{number}} {{frac}} {{big}} {{neg}} {{zero}} {{ready}} {{none}} {{missing}}\n")
    write("template", "markdown-note.md",
          "\1> {{note}}\n\n```\n{{{error_block}}}\n```\n{{#pool}}{{idle}} {{name}}{{/pool}}\n"
          "{{#emptyobj}}x{{/emptyobj}}{{^empty}}empty{{/empty}} {{host}}\n")
    write("template", "errors.md", "\0{{#a}}{{/b}} {{bad tag}} {{#open}}")
    write("template", "standalone.md",
          "\1  {{#ready}}  \r\nready\n  {{/ready}}\n\t{{! c }}\n{{^failed}}\nok\n{{/failed}}")


def rfc3339_duration():
    for i, s in enumerate([
        "2026-11-22T21:08:58Z", "2026-11-22t21:08:58.123456z", "2013-12-03 17:23:34Z",
        "2016-12-31T23:59:60Z", "2024-02-29T00:00:00+05:30", "1970-01-01T00:00:00-23:59",
        "30s", "10m", "72h", "2d", "0s", "3650d",
        "-9223372036854775808", "9223372036854775807", "65535", "0",
    ]):
        write("rfc3339_duration", "seed-%02d" % i, s)
    write("rfc3339_duration", "bounds", b"42\0" + bytes(range(16)))


def scrub():
    write("scrub", "libpq-quote",
          parts("\x00\x00", "Wr0ngPassw0rd-%41%2B", "Wr0ngPassw0rd-A+", "",
                'invalid percent-encoded token: "Wr0ngPassw0rd-%41%2B"'))
    write("scrub", "user-echoed-cut",
          parts("\x51\x01", "Wr0ngPassw0rd-A+", "ghp_token_0123456789", "abcd",
                'password authentication failed for user "Wr0ngPassw0rd-A+" abcdabcd Wr0ngPa'))
    write("scrub", "overlaps-and-mask",
          parts("\x08\x00", "abab", "ted]x", "aba", "ababab [redacted]x ted]xx aba"))
    write("scrub", "clean", parts("\x00\x01", "Wr0ngPassw0rd", "", "",
                                  "connection refused"))


if __name__ == "__main__":
    webhooks()
    jscan()
    signatures()
    config()
    dburl()
    template()
    rfc3339_duration()
    scrub()
