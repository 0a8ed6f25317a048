"""What an operator looks at and does, besides the admin page itself:
/metrics (checked line by line against the Prometheus text format), the
extend and retry API, JSON logs that carry the delivery id from webhook to
job and never a secret, and the database sizes the sweep measures.
"""

import base64
import json
import math
import re
import time

import psycopg2
import pytest

from previewd import pr_payload, wait_until

REPO = "acme/shop"
TOKEN = "ghp_operations_test_token"


# ---- the Prometheus text format, version 0.0.4 ----

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?,?\})? (\S+)(?: -?\d+)?$" % (NAME, LABEL, LABEL))
ONE_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
HELP = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    return float(text)


def parse_exposition(text):
    """Check text line by line against the format; return
    ({(name, frozenset(labels)): value}, {family: type})."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    samples, types, helps = {}, {}, set()
    family_done, current, sampled = set(), None, set()
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d: %r" % (n, line)
        assert line, where + ": empty line"
        if line.startswith("#"):
            m = HELP.match(line) or TYPE.match(line)
            assert m, where + ": a comment that is neither HELP nor TYPE"
            fam = m.group(1)
            if line.startswith("# HELP"):
                assert fam not in helps, where + ": second HELP"
                assert m.group(2).strip(), where + ": empty HELP"
                helps.add(fam)
            else:
                assert fam not in types, where + ": second TYPE"
                assert fam not in sampled, where + ": TYPE after the family's samples"
                types[fam] = m.group(2)
            if fam != current:
                if current is not None:
                    family_done.add(current)
                assert fam not in family_done, where + ": family split in two"
                current = fam
            continue
        m = SAMPLE.match(line)
        assert m, where + ": not a sample line"
        name, labels, value = m.group(1), m.group(2) or "", parse_value(m.group(3))
        fam = name
        if types.get(current) == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                if name == current + suffix:
                    fam = current
        assert fam == current, where + ": sample outside its family's HELP/TYPE block"
        assert fam in types, where + ": sample before its TYPE"
        sampled.add(fam)
        pairs = ONE_LABEL.findall(labels)
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), where + ": repeated label"
        key = (name, frozenset(pairs))
        assert key not in samples, where + ": duplicate series"
        if types[fam] == "counter":
            assert fam.endswith("_total"), where + ": counter not named _total"
            assert value >= 0 and not math.isnan(value), where + ": negative counter"
        samples[key] = value
    assert set(types) == helps, "families with TYPE but no HELP (or the reverse): %r" % (
        set(types) ^ helps)
    for fam, kind in types.items():
        if kind == "histogram":
            check_histogram(fam, samples)
    return samples, types


def check_histogram(fam, samples):
    series = {}
    for (name, labels), value in samples.items():
        if name == fam + "_bucket":
            d = dict(labels)
            le = d.pop("le")
            series.setdefault(frozenset(d.items()), []).append((parse_value(le), value))
    assert series, "histogram %s has no buckets" % fam
    for labels, buckets in series.items():
        buckets.sort()
        assert buckets[-1][0] == math.inf, "%s%s: no +Inf bucket" % (fam, dict(labels))
        counts = [c for _, c in buckets]
        assert counts == sorted(counts), "%s%s: buckets not cumulative" % (fam, dict(labels))
        assert samples[(fam + "_count", labels)] == counts[-1], \
            "%s%s: _count differs from the +Inf bucket" % (fam, dict(labels))
        assert (fam + "_sum", labels) in samples, "%s%s: no _sum" % (fam, dict(labels))


def metrics(d):
    status, hdrs, body = d.request("GET", "/metrics")
    assert status == 200, body
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4"), hdrs["content-type"]
    return body.decode("utf-8")


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


# ---- helpers ----

def open_pr(d, number, sha=None, delivery=None):
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", number, sha=sha),
                                       delivery=delivery)
    assert status == 202, body
    return json.loads(body)["environment"]


def env_now(d, number, wait=None):
    status, _, body = d.env_for(REPO, number, wait=wait)
    assert status == 200, body
    return json.loads(body)


def ready(d, number):
    env = env_now(d, number, wait=60)
    assert env["status"] == "ready", env
    return env


def post(d, path, body=None, token=None):
    status, _, data = d.request("POST", path, body=body,
                                token=d.admin_token if token is None else token)
    return status, (json.loads(data) if data else None)


# ---- /metrics ----

def test_metrics_follow_the_exposition_format_and_count_what_happened(pg_config,
                                                                      previewd_factory):
    cfg = dict(pg_config)
    cfg["reaper"] = {"interval": "1s"}
    d = previewd_factory(cfg)
    open_pr(d, 11)
    ready(d, 11)
    status, _, _ = d.github_webhook("pull_request", pr_payload("opened", 12),
                                    secret="not-the-secret")
    assert status == 401
    status, _, _ = d.github_webhook("pull_request", pr_payload("opened", 11))
    assert status == 202        # a new delivery of the same event: accepted again

    def reaped():
        s, _ = parse_exposition(metrics(d))
        return s if value(s, "previewd_reaper_runs_total") >= 1 else None
    wait_until(reaped, what="a reaper pass in the metrics")

    text = metrics(d)
    samples, types = parse_exposition(text)
    assert value(samples, "previewd_webhooks_total", provider="github",
                 event="pull_request", outcome="accepted") == 2
    assert value(samples, "previewd_webhooks_total", provider="github",
                 event="pull_request", outcome="bad_signature") == 1
    assert value(samples, "previewd_webhook_signature_failures_total", provider="github") == 1
    assert value(samples, "previewd_environments", engine="postgres", status="ready") == 1
    assert value(samples, "previewd_pool_target", engine="postgres") == 2
    assert value(samples, "previewd_pool_idle", engine="postgres") is not None
    assert value(samples, "previewd_claims_total", engine="postgres", source="pool") + \
        value(samples, "previewd_claims_total", engine="postgres", source="cold") == 1
    assert types["previewd_provision_duration_seconds"] == "histogram"
    assert value(samples, "previewd_provision_duration_seconds_count", engine="postgres") == 1
    assert types["previewd_migration_duration_seconds"] == "histogram"
    for family in ("previewd_deletions_total", "previewd_orphans_dropped_total",
                   "previewd_delete_failures_total", "previewd_forge_requests_total",
                   "previewd_job_queue_depth"):
        assert family in types, family
    # Nothing secret, and no URLs, in any label or help text.
    for secret in (d.admin_token, d.ci_token, d.webhook_secret,
                   d.config["server"]["secret_key"]):
        assert secret not in text
    assert "://" not in text and "@" not in text

    # A close counts as a deletion.
    status, _, _ = d.github_webhook("pull_request", pr_payload("closed", 11))
    assert status == 202
    samples, _ = parse_exposition(metrics(d))
    assert value(samples, "previewd_deletions_total", reason="close") == 1


def test_forge_rate_limits_are_counted(pg_config, forge, previewd_factory):
    forge.github_token = TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    d = previewd_factory(cfg)
    forge.rate_limit("POST", r"/issues/13/comments$", reset_in=1, times=1)
    open_pr(d, 13)
    ready(d, 13)
    forge.wait_for("POST", r"/issues/13/comments$", count=2, timeout=60)

    def counted():
        s, _ = parse_exposition(metrics(d))
        limited = value(s, "previewd_forge_requests_total", forge="github",
                        outcome="rate_limited")
        ok = value(s, "previewd_forge_requests_total", forge="github", outcome="ok")
        return (limited, ok) if limited >= 1 and ok >= 1 else None
    limited, ok = wait_until(counted, what="a rate-limited and a good forge call counted")
    assert limited == 1


# ---- extend and retry ----

def test_extend_moves_the_expiry_and_keeps_the_credentials(engine, previewd_factory):
    d = previewd_factory(engine.config())
    env_id = open_pr(d, 21)
    before = ready(d, 21)
    t0 = time.time()
    status, body = post(d, "/api/v1/environments/%s/extend" % env_id, {"ttl": "48h"})
    assert status == 200, body
    assert body["id"] == env_id and body["status"] == "ready"
    old = time.mktime(time.strptime(before["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    new = time.mktime(time.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert new - max(old, t0) >= 48 * 3600 - 5, (before["expires_at"], body["expires_at"])
    after = env_now(d, 21)
    assert after["database_url"] == before["database_url"]
    assert engine.can_connect(after["database_url"])

    # An empty body is 24 hours more.
    status, body2 = post(d, "/api/v1/environments/%s/extend" % env_id)
    assert status == 200, body2
    newer = time.mktime(time.strptime(body2["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(newer - new - 24 * 3600) <= 5

    for bad in ({"ttl": "forever"}, {"ttl": "0s"}, {"ttl": "31d"}, {"ttl": 3600}, "not json"):
        status, body = post(d, "/api/v1/environments/%s/extend" % env_id, bad)
        assert status == 400, (bad, body)
        assert body["error"]["code"] == "bad_request"
    status, body = post(d, "/api/v1/environments/env_0123456789abcdef/extend", {"ttl": "1h"})
    assert status == 404, body
    status, body = post(d, "/api/v1/environments/%s/extend" % env_id, {"ttl": "1h"},
                        token=d.ci_token)
    assert status in (401, 403), body

    status, _, _ = d.github_webhook("pull_request", pr_payload("closed", 21))
    assert status == 202
    status, body = post(d, "/api/v1/environments/%s/extend" % env_id, {"ttl": "1h"})
    assert status == 409, body
    assert body["error"]["code"] == "conflict"


def test_retry_runs_a_failed_environment_again_at_the_same_commit(pg, pg_config, forge,
                                                                 previewd_factory):
    sha = "5" * 40
    forge.github_token = TOKEN
    forge.set_tree(REPO, sha, {"db/migrations/001_init.sql": "CREATE TABLE t (id int);\n",
                               "db/migrations/002_broken.sql": "CREATE TABLE oops (;\n"})
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    cfg["repo:acme/shop"]["migrations"] = "repo:db/migrations"
    d = previewd_factory(cfg)
    env_id = open_pr(d, 31, sha=sha)
    env = env_now(d, 31, wait=60)
    assert env["status"] == "failed" and "002_broken.sql" in env["error"], env

    # The fix lands at the same commit (a force-push of the same tree
    # would not wake anything else): retry picks it up.
    forge.set_tree(REPO, sha, {"db/migrations/001_init.sql": "CREATE TABLE t (id int);\n",
                               "db/migrations/002_broken.sql": "CREATE TABLE ok (id int);\n"})
    status, body = post(d, "/api/v1/environments/%s/retry" % env_id)
    assert status == 202, body
    assert body["id"] == env_id
    env = wait_until(lambda: (lambda e: e if e["status"] == "ready" else None)(env_now(d, 31)),
                     timeout=60, what="the retried environment to be ready")
    assert env["head_sha"] == sha and env["error"] is None
    with psycopg2.connect(env["database_url"], connect_timeout=10) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM ok")
            assert cur.fetchone()[0] == 0
    conn.close()

    status, body = post(d, "/api/v1/environments/%s/retry" % env_id)
    assert status == 409, body
    assert "failed" in body["error"]["message"]
    status, body = post(d, "/api/v1/environments/env_0123456789abcdef/retry")
    assert status == 404, body
    status, body = post(d, "/api/v1/environments/%s/retry" % env_id, token=d.ci_token)
    assert status in (401, 403), body


# ---- logs ----

def test_json_logs_carry_the_delivery_id_and_no_secret(pg_config, previewd_factory):
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["server"] = {"log_format": "json"}
    d = previewd_factory(cfg)
    opened, closed = "11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"
    env_id = open_pr(d, 41, delivery=opened)
    env = ready(d, 41)
    status, _, _ = d.github_webhook("pull_request", pr_payload("closed", 41), delivery=closed)
    assert status == 202
    wait_until(lambda: env_now(d, 41)["status"] == "deleted", what="the environment to go")
    status, _, body = d.request("POST", "/webhooks/github", body=b"{}",
                                headers={"X-GitHub-Event": "pull_request",
                                         "X-GitHub-Delivery": "bad id with spaces",
                                         "X-Hub-Signature-256": "sha256=00"})
    assert status == 401      # the signature is checked before anything else

    lines = [json.loads(line) for line in d.log().splitlines() if line.strip()]
    for entry in lines:
        assert set(entry) >= {"ts", "level", "msg"}, entry
        assert entry["level"] in ("debug", "info", "warn", "error"), entry
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"]), entry
    mine = [e for e in lines if e.get("delivery") == opened]
    assert any("webhook github" in e["msg"] for e in mine), mine
    assert any(e.get("env") == env_id and "claimed" in e["msg"] for e in mine), mine
    gone = [e for e in lines if e.get("delivery") == closed]
    assert any("deleted" in e["msg"] and e.get("env") == env_id for e in gone), gone
    assert all(e.get("repo") == REPO for e in mine + gone)

    text = d.log()
    password = env["database_url"].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    for secret in (password, d.admin_token, d.ci_token, d.webhook_secret,
                   d.config["server"]["secret_key"]):
        assert secret not in text


def test_bad_delivery_ids_are_refused(pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", 42),
                                       delivery="two words")
    assert status == 400, body
    assert json.loads(body)["error"]["code"] == "bad_request"


# ---- sizes on the admin page ----

def test_admin_page_shows_each_database_size(engine, previewd_factory):
    cfg = engine.config()
    cfg["reaper"] = {"interval": "1s"}
    d = previewd_factory(cfg)
    env_id = open_pr(d, 51)
    env = ready(d, 51)
    auth = {"Authorization": "Basic " + base64.b64encode(
        b"ops:" + d.admin_token.encode()).decode()}

    def size_bytes():
        status, _, body = d.request("GET", "/", headers=auth)
        assert status == 200
        page = body.decode()
        row = page[page.index('data-env-id="%s"' % env_id):]
        row = row[:row.index("</tr>")]
        m = re.search(r'<span class="size"[^>]*>([^<]*)<', row)
        if not m:
            return None
        m2 = re.fullmatch(r"([\d.]+) (B|kB|MB|GB)", m.group(1))
        assert m2, m.group(1)
        return float(m2.group(1)) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[m2.group(2)]

    empty = wait_until(lambda: size_bytes() is not None and [size_bytes()], timeout=60,
                       what="the sweep to measure the new database")[0]
    conn = engine.connect(env["database_url"])
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE filler (id integer PRIMARY KEY, pad varchar(200))")
        cur.executemany("INSERT INTO filler VALUES (%s, %s)",
                        [(i, "x" * 200) for i in range(2000)])
        conn.commit()
    finally:
        conn.close()
    # 2000 rows of 200 bytes: 400 kB more on either engine, once the
    # server's figures include them (InnoDB updates its table statistics in
    # the background, about ten seconds later). The page rounds to three
    # digits, so look for 300 kB.
    wait_until(lambda: size_bytes() >= empty + 300e3, timeout=60,
               what="the sweep to measure the filled database (was %d bytes)" % empty)
