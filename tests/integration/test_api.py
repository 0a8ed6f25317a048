"""The CI and admin API: tokens, parameters, answers while provisioning,
the list, and DELETE. The engine does not matter here; PostgreSQL serves."""

from pathlib import Path

from previewd import pr_payload, wait_until

REPO = "acme/shop"
OTHER_TOKEN = "other-repo-token-0123456789"


def open_pr(d, number):
    status, _, body = d.github_webhook("pull_request", pr_payload("opened", number))
    assert status == 202, body


def env_now(d, number, wait=None):
    path = "/api/v1/repos/%s/pulls/%d/environment" % (REPO, number)
    if wait is not None:
        path += "?wait=%d" % wait
    status, body = d.get_json(path, token=d.ci_token)
    assert status == 200, body
    return body


def test_tokens_and_parameters(pg, pg_config, previewd_factory):
    cfg = dict(pg_config)
    cfg["repo:acme/other"] = {"ci_token": OTHER_TOKEN}
    d = previewd_factory(cfg)
    # Nothing yet: 404; wait=0 does not wait.
    status, _, body = d.env_for(REPO, 16)
    assert status == 404 and b"not_found" in body
    assert d.env_for(REPO, 16, wait=0)[0] == 404
    # Tokens: the server's, the repository's own (for its repository only).
    assert d.env_for(REPO, 16, token="")[0] == 401
    status, hdrs, _ = d.env_for(REPO, 16, token="wrong")
    assert status == 401 and hdrs.get("www-authenticate", "").startswith("Bearer")
    assert d.env_for(REPO, 16, token=d.admin_token)[0] == 404
    assert d.env_for("acme/other", 16, token=OTHER_TOKEN)[0] == 404
    assert d.env_for(REPO, 16, token=OTHER_TOKEN)[0] == 401
    assert d.get_json("/api/v1/environments", token=OTHER_TOKEN)[0] == 401
    assert d.get_json("/api/v1/environments")[0] == 401
    # Bad parameters are 400 with a JSON error.
    for kw in ({"wait": 301}, {"wait": "soon"}, {"wait": -1}, {"fmt": "yaml"},
               {"provider": "bitbucket"}):
        status, _, body = d.env_for(REPO, 16, **kw)
        assert status == 400 and b'"error"' in body, kw
    status, body = d.get_json("/api/v1/repos/acme/shop/pulls/x1/environment",
                              token=d.ci_token)
    assert status == 400
    # GitLab's nested groups: the repository runs to the last /pulls/.
    status, body = d.get_json("/api/v1/repos/grp/sub/proj/pulls/3/environment?provider=gitlab",
                              token=d.ci_token)
    assert status == 404 and "grp/sub/proj" in body["error"]["message"]
    # Unknown routes and methods.
    assert d.request("GET", "/api/v1/nothing", token=d.admin_token)[0] == 404
    assert d.request("POST", "/api/v1/environments", token=d.admin_token)[0] == 405


def test_answers_while_provisioning(pg, pg_config, previewd_factory, tmp_path):
    gate = tmp_path / "gate"
    d = previewd_factory(pg_config, env={"PREVIEWD_FAULTS": "claim.before=wait:%s" % gate})
    open_pr(d, 16)
    wait_until(lambda: Path(str(gate) + ".reached").exists(), what="claim to be reached")
    status, _, body = d.env_for(REPO, 16, fmt="env")
    assert status == 409 and b"provisioning" in body
    env = env_now(d, 16)
    assert env["status"] == "provisioning" and env["database_url"] is None
    # A wait that ends before the environment is ready answers what there is.
    env = env_now(d, 16, wait=1)
    assert env["status"] == "provisioning"
    gate.touch()
    assert env_now(d, 16, wait=60)["status"] == "ready"


def test_list_shows_urls_to_the_admin_only(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    open_pr(d, 40)
    open_pr(d, 41)
    env_now(d, 40, wait=60)
    env_now(d, 41, wait=60)
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert status == 200
    assert [e["number"] for e in listing["data"]] == [40, 41]
    assert all(e["database_url"].startswith("postgresql://") for e in listing["data"])
    status, listing = d.get_json("/api/v1/environments", token=d.ci_token)
    assert status == 200 and [e["database_url"] for e in listing["data"]] == [None, None]


def test_delete_through_the_api(pg, pg_config, previewd_factory):
    d = previewd_factory(pg_config)
    open_pr(d, 17)
    env = env_now(d, 17, wait=60)
    path = "/api/v1/environments/" + env["id"]
    assert d.request("DELETE", path, token=d.ci_token)[0] == 401
    status, _, _ = d.request("DELETE", path, token=d.admin_token)
    assert status == 202
    wait_until(lambda: env_now(d, 17)["status"] == "deleted", what="the delete")
    assert env_now(d, 17)["error"] == "deleted through the API"
    assert env["database"] not in pg.databases()
    assert env["user"] not in pg.roles()
    # Idempotent; unknown ids are 404; the list no longer shows it.
    assert d.request("DELETE", path, token=d.admin_token)[0] == 202
    assert d.request("DELETE", "/api/v1/environments/env_nope", token=d.admin_token)[0] == 404
    status, listing = d.get_json("/api/v1/environments", token=d.admin_token)
    assert listing["data"] == []
    # New activity on the pull request brings it back.
    d.github_webhook("pull_request", pr_payload("synchronize", 17, sha="c" * 40))
    assert env_now(d, 17, wait=60)["status"] == "ready"
