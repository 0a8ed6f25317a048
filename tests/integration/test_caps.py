"""Caps: however many pull requests open at once, previewd holds no more
databases than [server] max_environments (and a repository's own
max_environments); the others wait as `queued`, with the limit named in
`error`, and go on first come first served when one is deleted.
"""

import re

from previewd import pr_payload, wait_until


def push(d, action, number, repo="acme/shop"):
    status, _, body = d.github_webhook("pull_request", pr_payload(action, number, repo=repo))
    assert status == 202, body


def env_now(d, number, repo="acme/shop"):
    status, body = d.get_json("/api/v1/repos/%s/pulls/%d/environment" % (repo, number),
                              token=d.ci_token)
    assert status == 200, body
    return body


def statuses(d, numbers, repo="acme/shop"):
    return {n: env_now(d, n, repo)["status"] for n in numbers}


def env_databases(engine, d):
    """The databases on the server that are not the pool's (idle, being
    made or being claimed: the state file lists them all)."""
    import sqlite3
    conn = sqlite3.connect(d.config["server"]["state_path"])
    try:
        pool = {r[0] for r in conn.execute("SELECT db_name FROM pool")}
    finally:
        conn.close()
    return sorted(db for db in engine.databases() if db not in pool)


def test_a_burst_past_the_server_cap_waits_queued(engine, previewd_factory):
    cfg = engine.config(pool_size=1)
    cfg["server"] = {"max_environments": "2"}
    d = previewd_factory(cfg)
    numbers = [1, 2, 3, 4, 5, 6]
    for n in numbers:
        push(d, "opened", n)
    # The first two (in arrival order) get databases; the rest wait.
    wait_until(lambda: statuses(d, numbers) == {1: "ready", 2: "ready", 3: "queued",
                                                4: "queued", 5: "queued", 6: "queued"},
               timeout=60, what="two ready and four queued")
    queued = env_now(d, 3)
    assert queued["error"] == ("queued: previewd is at [server] max_environments (2); it "
                               "goes on, first come first served, when an environment is "
                               "deleted"), queued
    assert queued["database_url"] is None
    assert len(env_databases(engine, d)) == 2
    # The operator sees them in the metrics.
    status, _, text = d.request("GET", "/metrics")
    assert status == 200
    assert re.search(r'previewd_environments\{engine="%s",status="queued"\} 4' % engine.name,
                     text.decode()), text.decode()
    # First come, first served: closing one admits the oldest queued.
    push(d, "closed", 1)
    wait_until(lambda: statuses(d, [1, 3, 4]) == {1: "deleted", 3: "ready", 4: "queued"},
               timeout=60, what="3 admitted when 1 is deleted")
    assert env_now(d, 3)["error"] is None
    assert len(env_databases(engine, d)) == 2
    # A queued one that is closed goes without ever having a database.
    push(d, "closed", 5)
    wait_until(lambda: env_now(d, 5)["status"] == "deleted", what="5 deleted while queued")
    push(d, "closed", 2)
    wait_until(lambda: statuses(d, [2, 4, 6]) == {2: "deleted", 4: "ready", 6: "queued"},
               timeout=60, what="4 admitted when 2 is deleted")
    assert len(env_databases(engine, d)) == 2
    assert len(engine.env_roles()) == 2


def test_a_repository_cap_queues_only_that_repository(pg, pg_config, previewd_factory):
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["repo:acme/shop"]["max_environments"] = "1"
    cfg["repo:acme/other"] = {"ttl": "72h"}
    d = previewd_factory(cfg)
    push(d, "opened", 1)
    push(d, "opened", 2)
    push(d, "opened", 1, repo="acme/other")
    push(d, "opened", 2, repo="acme/other")
    wait_until(lambda: statuses(d, [1, 2]) == {1: "ready", 2: "queued"}, timeout=60,
               what="acme/shop: one ready, one queued")
    wait_until(lambda: statuses(d, [1, 2], repo="acme/other") == {1: "ready", 2: "ready"},
               timeout=60, what="acme/other unaffected")
    assert env_now(d, 2)["error"] == ("queued: acme/shop is at its max_environments (1); it "
                                      "goes on, first come first served, when one of its "
                                      "environments is deleted")
    # A deletion in another repository does not admit it ...
    push(d, "closed", 1, repo="acme/other")
    wait_until(lambda: env_now(d, 1, "acme/other")["status"] == "deleted", what="other#1 gone")
    assert env_now(d, 2)["status"] == "queued"
    # ... one in its own does.
    push(d, "closed", 1)
    wait_until(lambda: env_now(d, 2)["status"] == "ready", timeout=60, what="shop#2 admitted")


def test_a_raised_cap_admits_the_queue_after_a_reload(pg, pg_config, previewd_factory):
    import signal
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["server"] = {"max_environments": "1"}
    cfg["reaper"] = {"interval": "1s"}
    d = previewd_factory(cfg)
    push(d, "opened", 1)
    push(d, "opened", 2)
    wait_until(lambda: statuses(d, [1, 2]) == {1: "ready", 2: "queued"}, timeout=60,
               what="one ready, one queued")
    d.config["server"]["max_environments"] = "5"
    d.write_config()
    d.send_signal(signal.SIGHUP)
    wait_until(lambda: env_now(d, 2)["status"] == "ready", timeout=60,
               what="the queued one admitted after the reload")
