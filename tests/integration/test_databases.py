"""A database per CI run: POST /api/v1/databases with an Idempotency-Key,
through the real binary, on PostgreSQL and MariaDB.

What a CI job would check: the call from the issue, run verbatim with
curl and jq, prints a connection string a real client connects with; a
retry of the same run gets the same database; reusing a key for something
else is refused; DELETE and the TTL really drop it; every bad request is
answered with its status and a JSON error.
"""

import json
import subprocess
import threading
import time

import pytest

from previewd import wait_until

ISSUE_CALL = """curl -sS -X POST "$PREVIEWD/api/v1/databases?wait=true" \\
  -H "Authorization: Bearer $PREVIEWD_CI_TOKEN" \\
  -H "Idempotency-Key: $GITHUB_RUN_ID" \\
  -H "Content-Type: application/json" \\
  -d '{"name": "ci-run-42"}' | jq -r '.data.connection_string'
"""


def create(d, body=None, key=None, token=None, wait=True, raw=None):
    """POST /api/v1/databases; (status, parsed JSON)."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    path = "/api/v1/databases" + ("?wait=true" if wait is True else
                                  "?wait=%s" % wait if wait else "")
    payload = raw if raw is not None else json.dumps(body if body is not None else {})
    status, _, data = d.request("POST", path, body=payload, headers=headers,
                                token=d.ci_token if token is None else token)
    return status, json.loads(data)


def get(d, db_id, token=None, wait=None):
    path = "/api/v1/databases/%s" % db_id + ("?wait=%d" % wait if wait else "")
    status, _, data = d.request("GET", path, token=d.ci_token if token is None else token)
    return status, json.loads(data)


def delete(d, db_id, token=None):
    status, _, data = d.request("DELETE", "/api/v1/databases/%s" % db_id,
                                token=d.ci_token if token is None else token)
    return status, json.loads(data)


def assert_error(status_body, status, code):
    got_status, body = status_body
    assert got_status == status, body
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


# ---- the call from the issue ----

def test_the_issues_curl_call_gives_a_url_a_client_connects_with(engine, previewd_factory):
    d = previewd_factory(engine.config())
    env = {"PREVIEWD": d.base_url, "PREVIEWD_CI_TOKEN": d.ci_token, "GITHUB_RUN_ID": "4242",
           "PATH": "/usr/bin:/bin"}
    r = subprocess.run(["bash", "-c", ISSUE_CALL], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120, check=True)
    url = r.stdout.decode().strip()
    assert url.startswith(engine.scheme + "://"), (url, r.stderr)
    conn = engine.connect(url)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t (id integer)")
        cur.execute("INSERT INTO t VALUES (1)")
        conn.commit()
    finally:
        conn.close()
    if engine.name == "postgres":
        out = subprocess.run(["psql", url, "-Atc", "SELECT count(*) FROM t"],
                             stdout=subprocess.PIPE, timeout=60, check=True)
        assert out.stdout.decode().strip() == "1"

    # The same run retried: the same database, 200, same credentials.
    r2 = subprocess.run(["bash", "-c", ISSUE_CALL], env=env, stdout=subprocess.PIPE,
                        timeout=120, check=True)
    assert r2.stdout.decode().strip() == url


def test_replay_conflict_and_per_token_keys(pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    status, first = create(d, {"name": "run-1", "ttl": "30m"}, key="run-1")
    assert status == 201, first
    data = first["data"]
    assert set(data) >= {"id", "name", "engine", "status", "connection_string", "host",
                         "port", "database", "user", "created_at", "expires_at"}
    assert data["name"] == "run-1" and data["engine"] == "postgres"
    assert data["status"] == "ready" and data["connection_string"]

    status, again = create(d, {"name": "run-1", "ttl": "30m"}, key="run-1")
    assert status == 200, again
    assert again["data"]["id"] == data["id"]
    assert again["data"]["connection_string"] == data["connection_string"]

    for other in ({"name": "run-2", "ttl": "30m"}, {"name": "run-1", "ttl": "1h"},
                  {"name": "run-1", "ttl": "30m", "engine": "postgres"}):
        assert_error(create(d, other, key="run-1"), 422, "idempotency_key_reused")

    # Keys belong to the token that used them: the admin's "run-1" is new.
    status, admins = create(d, {"name": "run-1", "ttl": "30m"}, key="run-1",
                            token=d.admin_token)
    assert status == 201 and admins["data"]["id"] != data["id"]
    # Without a key every call is a new database.
    ids = {create(d, {"name": "nokey"})[1]["data"]["id"] for _ in range(2)}
    assert len(ids) == 2


def test_concurrent_retries_with_one_key_make_one_database(pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    results = []

    def call():
        results.append(create(d, {"name": "burst"}, key="burst-key"))
    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 8
    assert sorted(s for s, _ in results) == [200] * 7 + [201]
    assert len({b["data"]["id"] for _, b in results}) == 1


# ---- deletion and expiry ----

def test_delete_drops_it_and_is_idempotent(engine, previewd_factory):
    d = previewd_factory(engine.config())
    status, body = create(d, {"name": "to-delete"}, key="del-1")
    assert status == 201
    db = body["data"]
    assert db["database"] in engine.databases()
    status, gone = delete(d, db["id"])
    assert status == 202, gone
    assert gone["data"]["id"] == db["id"] and gone["data"]["connection_string"] is None
    wait_until(lambda: db["database"] not in engine.databases(), timeout=60,
               what="the database to be dropped")
    wait_until(lambda: db["user"] not in engine.roles(), timeout=30,
               what="its role to be dropped")
    wait_until(lambda: get(d, db["id"])[1]["data"]["status"] == "deleted", timeout=30,
               what="the API to say deleted")
    engine.assert_refused(db["connection_string"])
    status, again = delete(d, db["id"])
    assert status == 202 and again["data"]["status"] == "deleted"
    assert_error(delete(d, "env_0123456789abcdef"), 404, "not_found")
    assert_error(get(d, "env_0123456789abcdef"), 404, "not_found")


def test_an_abandoned_database_expires(engine, previewd_factory):
    cfg = engine.config()
    cfg["reaper"] = {"interval": "1s"}
    d = previewd_factory(cfg)
    status, body = create(d, {"name": "abandoned", "ttl": "2s"})
    assert status == 201
    db = body["data"]
    wait_until(lambda: db["database"] not in engine.databases(), timeout=60,
               what="the expired database to be dropped")
    status, now = get(d, db["id"])
    assert now["data"]["status"] in ("deleting", "deleted")
    assert "expired" in (now["data"]["error"] or "")


def test_ttl_is_capped_by_max_ttl(pg_config, previewd_factory):
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["server"] = {"max_ttl": "1h"}
    d = previewd_factory(cfg)
    status, body = create(d, {"ttl": "48h"})
    assert status == 201
    created = time.mktime(time.strptime(body["data"]["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
    expires = time.mktime(time.strptime(body["data"]["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expires - created - 3600) <= 2
    status, body = create(d, {})
    expires = time.mktime(time.strptime(body["data"]["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    created = time.mktime(time.strptime(body["data"]["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expires - created - 3600) <= 2      # the 2h default, capped too


# ---- errors ----

def test_every_bad_request_gets_its_status_and_a_json_error(pg_config, previewd_factory):
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["server"] = {"max_databases": "2"}
    d = previewd_factory(cfg)
    assert_error(create(d, raw="{not json"), 400, "bad_json")
    assert_error(create(d, raw="[1, 2]"), 400, "bad_json")
    assert_error(create(d, {"engine": "oracle"}), 422, "unknown_engine")
    assert_error(create(d, {"engine": "mysql"}), 422, "unknown_engine")   # not configured
    assert_error(create(d, {"blueprint": "no-such-blueprint"}), 422, "unknown_blueprint")
    assert_error(create(d, {"blueprint": "../etc"}), 422, "unknown_blueprint")
    for name in ("", "x" * 64, "two words", "a/b", "caf\u00e9", 42):
        assert_error(create(d, {"name": name}), 422, "invalid_name")
    for ttl in ("soon", "0s", "-1h", 3600):
        assert_error(create(d, {"ttl": ttl}), 422, "invalid_ttl")
    assert_error(create(d, {}, key="k" * 256), 400, "bad_request")
    assert_error(create(d, {}, wait="maybe"), 400, "bad_request")
    status, _, data = d.request("POST", "/api/v1/databases", body="{}")
    assert status == 401 and "error" in json.loads(data)
    assert_error(create(d, {}, token="not-a-token"), 401, "unauthorized")

    # The quota: two live CI databases, the third refused until one goes.
    first = create(d, {"name": "q1"})[1]["data"]
    assert create(d, {"name": "q2"})[0] == 201
    assert_error(create(d, {"name": "q3"}), 429, "quota_exceeded")
    assert delete(d, first["id"])[0] == 202
    assert create(d, {"name": "q3"})[0] == 201
    # Nothing a refused request asked for was made (q1 may still be
    # listed while it is being dropped).
    names = sorted(db["name"] for db in d.get_json("/api/v1/databases",
                                                   token=d.admin_token)[1]["data"])
    assert set(names) - {"q1"} == {"q2", "q3"}, names


# ---- what else it shares with pull requests ----

def test_blueprint_without_wait_and_the_admin_page(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    status, body = create(d, {"name": "with-schema", "blueprint": "saas"}, wait=False)
    assert status == 201
    db = body["data"]
    assert db["status"] in ("provisioning", "ready") and db["blueprint"] == "saas"
    if db["status"] == "provisioning":
        assert db["connection_string"] is None
    status, ready = get(d, db["id"], wait=60)
    assert status == 200 and ready["data"]["status"] == "ready", ready
    conn = pg.connect(dbname=db["database"])
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = 'public'")
        assert cur.fetchone()[0] > 0
    finally:
        conn.close()

    # Listed as databases, not as pull request environments; the list
    # shows connection strings to the admin only.
    status, listed = d.get_json("/api/v1/databases", token=d.ci_token)
    assert [x["id"] for x in listed["data"]] == [db["id"]]
    assert listed["data"][0]["connection_string"] is None
    status, admin_list = d.get_json("/api/v1/databases", token=d.admin_token)
    url = ready["data"]["connection_string"]
    assert url.startswith("postgresql://%s:" % db["user"]), url
    assert admin_list["data"][0]["connection_string"] == url
    status, envs = d.get_json("/api/v1/environments", token=d.admin_token)
    assert envs["data"] == []
    # The admin page shows it as its own kind.
    import base64
    auth = {"Authorization": "Basic " + base64.b64encode(
        b"ops:" + d.admin_token.encode()).decode()}
    status, _, page = d.request("GET", "/", headers=auth)
    page = page.decode()
    row = page[page.index('data-env-id="%s"' % db["id"]):]
    row = row[:row.index("</tr>")]
    assert "CI database" in row and "with-schema" in row
