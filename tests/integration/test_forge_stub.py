"""Self-tests of forge_stub.ForgeStub, the GitHub/GitLab/Vercel stand-in.

No previewd here: plain urllib (and http.client for keep-alive) against the
stub, so a broken stub shows up as a failure of its own and not as a
mysterious previewd test failure.
"""

import base64
import hashlib
import http.client
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from forge_stub import FIRST_COMMENT_ID, jwt_parts

RAW = {"Accept": "application/vnd.github.raw+json"}
JSON_ACCEPT = {"Accept": "application/vnd.github+json"}

MIGRATIONS_V1 = {
    "db/migrations/001_init.sql": "CREATE TABLE t (id int);\n",
    "db/migrations/002_more.sql": b"ALTER TABLE t ADD x int;\n",
    "db/seed.sql": "INSERT INTO t VALUES (1);\n",
    "README.md": "hello\n",
}


def call(url, method="GET", body=None, headers=None, timeout=10):
    """(status, {lower-case header: value}, body bytes); 4xx/5xx/304 too."""
    data = body
    hdrs = dict(headers or {})
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def call_json(url, method="GET", body=None, headers=None):
    status, hdrs, data = call(url, method, body, headers)
    return status, hdrs, (json.loads(data) if data else None)


def git_blob_sha(data):
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def contents(forge, path, ref=None, repo="acme/shop"):
    url = "%s/repos/%s/contents/%s" % (forge.url, repo, path)
    return url + ("?ref=" + ref if ref else "")


def test_healthz_and_headers(forge):
    status, hdrs, body = call(forge.url + "/healthz")
    assert status == 200 and json.loads(body) == {"ok": True}
    assert forge.requests == []           # readiness polls are not recorded
    forge.set_tree("acme/shop", "main", {"a.txt": "x"})
    status, hdrs, body = call(contents(forge, "", "main"))
    assert status == 200
    assert hdrs["content-type"] == "application/json; charset=utf-8"
    assert int(hdrs["content-length"]) == len(body)
    assert hdrs["x-ratelimit-remaining"] == "4999"
    assert int(hdrs["x-ratelimit-reset"]) > time.time()


def test_github_directory_listing_and_files_per_ref(forge):
    forge.set_tree("acme/shop", "sha1", MIGRATIONS_V1)
    forge.set_tree("acme/shop", "sha2", dict(MIGRATIONS_V1, **{
        "db/migrations/003_new.sql": "CREATE INDEX i ON t (x);\n"}))

    status, _, listing = call_json(contents(forge, "db/migrations", "sha1"), headers=JSON_ACCEPT)
    assert status == 200
    names = [e["name"] for e in listing]
    assert sorted(names) == ["001_init.sql", "002_more.sql"]
    assert names != sorted(names), "listings are deliberately not sorted"
    e = next(e for e in listing if e["name"] == "001_init.sql")
    assert e["type"] == "file" and e["path"] == "db/migrations/001_init.sql"
    assert e["size"] == len("CREATE TABLE t (id int);\n")
    assert e["sha"] == git_blob_sha("CREATE TABLE t (id int);\n")
    assert e["url"].startswith(forge.url) and e["download_url"]

    _, _, listing2 = call_json(contents(forge, "db/migrations", "sha2"))
    assert sorted(e["name"] for e in listing2) == ["001_init.sql", "002_more.sql", "003_new.sql"]

    _, _, root = call_json(contents(forge, "", "sha1"))
    kinds = {e["name"]: e["type"] for e in root}
    assert kinds == {"db": "dir", "README.md": "file"}
    assert next(e for e in root if e["name"] == "db")["download_url"] is None

    # raw media type: the bytes themselves
    status, hdrs, data = call(contents(forge, "db/migrations/002_more.sql", "sha1"), headers=RAW)
    assert status == 200 and data == b"ALTER TABLE t ADD x int;\n"
    assert hdrs["content-type"] == "text/plain; charset=utf-8"
    status, _, data = call(contents(forge, "db/migrations/002_more.sql", "sha1"),
                           headers={"Accept": "application/vnd.github.raw"})
    assert data == b"ALTER TABLE t ADD x int;\n"

    # default media type on a file: base64 in a JSON object, wrapped like GitHub's
    body = "-- %s\n" % ("x" * 200)
    forge.set_tree("acme/shop", "sha3", {"big.sql": body})
    status, _, obj = call_json(contents(forge, "big.sql", "sha3"))
    assert status == 200 and obj["type"] == "file" and obj["encoding"] == "base64"
    assert "\n" in obj["content"]
    assert base64.b64decode(obj["content"]) == body.encode()

    # the object media type wraps a directory
    _, _, obj = call_json(contents(forge, "db", "sha1"),
                          headers={"Accept": "application/vnd.github.object+json"})
    assert obj["type"] == "dir" and {e["name"] for e in obj["entries"]} == {"migrations",
                                                                            "seed.sql"}


def test_github_404_shapes(forge):
    forge.set_tree("acme/shop", "sha1", MIGRATIONS_V1)
    status, hdrs, body = call_json(contents(forge, "db/nothing", "sha1"))
    assert status == 404 and body["message"] == "Not Found" and "documentation_url" in body
    assert hdrs["content-type"] == "application/json; charset=utf-8"
    status, _, body = call_json(contents(forge, "db/migrations/001_init.sql", "nope"), headers=RAW)
    assert status == 404 and body["message"] == "No commit found for the ref nope"
    status, _, body = call_json(contents(forge, "db", "sha1", repo="acme/other"))
    assert status == 404 and body["message"] == "Not Found"
    # a path through a file is no directory
    assert call(contents(forge, "README.md/x", "sha1"))[0] == 404


def test_scripted_faults_in_order(forge):
    forge.set_tree("acme/shop", "sha1", MIGRATIONS_V1)
    forge.fail("GET", r"/contents/", 502, times=2)
    forge.fail("GET", r"/contents/", 403, headers={"X-RateLimit-Remaining": "0",
                                                   "X-RateLimit-Reset": "12345"},
               body='{"message": "API rate limit exceeded"}')
    url = contents(forge, "db/migrations", "sha1")
    got = [call(url) for _ in range(4)]
    assert [g[0] for g in got] == [502, 502, 403, 200]
    assert got[0][1]["x-ratelimit-remaining"] == "4999"     # GitHub headers on faults too
    assert got[2][1]["x-ratelimit-remaining"] == "0" and got[2][1]["x-ratelimit-reset"] == "12345"
    reqs = forge.requests_to("GET", r"/contents/db/migrations$")
    assert [r.status for r in reqs] == [502, 502, 403, 200]
    assert [r.fault for r in reqs] == ["fail", "fail", "fail", None]
    assert reqs[0].query == {"ref": "sha1"}
    assert reqs[0].time <= reqs[1].time <= reqs[3].time
    # a POST does not use a GET's script; "*" matches any method
    forge.fail("*", r"/comments$", 429, headers={"Retry-After": "2"})
    status, hdrs, _ = call(forge.url + "/repos/acme/shop/issues/1/comments", "POST", {"body": "x"})
    assert status == 429 and hdrs["retry-after"] == "2"
    assert forge.comments == {}
    forge.clear_requests()
    assert forge.requests == []


def test_delay_and_drop(forge):
    forge.set_tree("acme/shop", "sha1", MIGRATIONS_V1)
    forge.delay("GET", r"/contents/", 0.4)
    t0 = time.monotonic()
    assert call(contents(forge, "db", "sha1"))[0] == 200
    assert time.monotonic() - t0 >= 0.4
    assert forge.requests[-1].delayed >= 0.4
    forge.drop("GET", r"/contents/")
    with pytest.raises((http.client.RemoteDisconnected, urllib.error.URLError,
                        ConnectionError)):
        call(contents(forge, "db", "sha1"))
    assert forge.wait_for("GET", r"/contents/db$", count=2)[-1].status == 0
    assert call(contents(forge, "db", "sha1"))[0] == 200


def test_github_auth(forge):
    forge.set_tree("acme/shop", "sha1", MIGRATIONS_V1)
    forge.github_token = "s3cret"
    url = contents(forge, "db", "sha1")
    status, _, body = call_json(url)
    assert status == 401 and body["message"] == "Bad credentials"
    assert call(url, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert call(url, headers={"Authorization": "Bearer s3cret"})[0] == 200
    assert call(url, headers={"Authorization": "token s3cret"})[0] == 200
    assert forge.requests[-1].headers["authorization"] == "token s3cret"


def test_comments_create_edit_and_404_after_delete(forge):
    base = forge.url + "/repos/acme/shop/issues"
    status, hdrs, c = call_json(base + "/7/comments", "POST", {"body": "Preview: building"})
    assert status == 201
    assert c["id"] >= FIRST_COMMENT_ID > 2 ** 32
    assert c["body"] == "Preview: building" and c["html_url"].endswith("#issuecomment-%d" % c["id"])
    assert hdrs["location"] == c["url"]
    assert forge.comments[c["id"]]["repo"] == "acme/shop"
    assert forge.comments[c["id"]]["number"] == 7

    status, _, c2 = call_json("%s/comments/%d" % (base, c["id"]), "PATCH", {"body": "ready"})
    assert status == 200 and c2["id"] == c["id"] and c2["body"] == "ready"
    assert forge.comments[c["id"]]["body"] == "ready"
    _, _, listed = call_json(base + "/7/comments")
    assert [x["id"] for x in listed] == [c["id"]]

    forge.delete_comment(c["id"])
    status, _, body = call_json("%s/comments/%d" % (base, c["id"]), "PATCH", {"body": "again"})
    assert status == 404 and body["message"] == "Not Found"

    assert call(base + "/7/comments", "POST", {"nobody": 1})[0] == 422
    assert call(base + "/7/comments", "POST", "{not json")[0] == 400
    assert call(base + "/7/comments", "POST", {"body": "x" * 65537})[0] == 422


def test_comment_authors_and_identities(forge):
    """Who wrote a comment, and who a token is: what previewd compares."""
    forge.github_token = "s3cret"
    auth = {"Authorization": "Bearer s3cret"}
    base = forge.url + "/repos/acme/shop/issues"
    planted = forge.plant_comment("acme/shop", 7, "<!-- previewd:env_1 -->")
    status, _, c = call_json(base + "/7/comments", "POST", {"body": "mine"}, headers=auth)
    assert status == 201 and c["user"]["login"] == forge.github_user["login"]
    _, _, listed = call_json(base + "/7/comments", headers=auth)
    assert [(x["id"], x["user"]["id"]) for x in listed] == [
        (planted["id"], 6_660_001), (c["id"], forge.github_user["id"])]

    status, _, me = call_json(forge.url + "/user", headers=auth)
    assert status == 200 and (me["login"], me["id"]) == (
        forge.github_user["login"], forge.github_user["id"])
    assert call(forge.url + "/user")[0] == 401
    status, _, u = call_json(forge.url + "/users/mallory", headers=auth)
    assert status == 200 and u["id"] == 6_660_001
    assert call(forge.url + "/users/nobody", headers=auth)[0] == 404
    status, _, bot = call_json(forge.url + "/users/previewd-app%5Bbot%5D", headers=auth)
    assert status == 200 and bot["type"] == "Bot" and bot["id"] == forge.app_bot_id

    # An installation token: comments are the App's bot's, GET /user is
    # refused as on GitHub.
    forge.app_tokens[9] = "ghs_preset"
    inst = {"Authorization": "Bearer ghs_preset"}
    status, _, c2 = call_json(base + "/7/comments", "POST", {"body": "bot"}, headers=inst)
    assert status == 201 and c2["user"]["login"] == "previewd-app[bot]"
    assert call(forge.url + "/user", headers=inst)[0] == 403
    # GET /app wants the App's JWT.
    assert call(forge.url + "/app", headers=inst)[0] == 401

    gl = forge.gitlab_url
    status, _, glme = call_json(gl + "/user")
    assert status == 200 and glme["id"] == forge.gitlab_user["id"]
    note = forge.plant_note(4711, 3, "<!-- previewd:env_2 -->")
    status, _, n2 = call_json(gl + "/projects/4711/merge_requests/3/notes", "POST",
                              {"body": "mine"})
    _, _, notes = call_json(gl + "/projects/4711/merge_requests/3/notes")
    assert {n["id"]: n["author"]["id"] for n in notes} == {
        note["id"]: 666, n2["id"]: forge.gitlab_user["id"]}


def test_pulls_etag_304(forge):
    forge.set_open_pulls("acme/shop", [3, (5, "a" * 40)])
    url = forge.url + "/repos/acme/shop/pulls?state=open&per_page=100"
    status, hdrs, pulls = call_json(url)
    assert status == 200
    assert {p["number"]: p["head"]["sha"] for p in pulls}[5] == "a" * 40
    assert all(p["state"] == "open" for p in pulls)
    etag = hdrs["etag"]
    status, hdrs2, body = call(url, headers={"If-None-Match": etag})
    assert status == 304 and body == b"" and hdrs2["etag"] == etag
    assert "x-ratelimit-remaining" in hdrs2
    forge.set_open_pulls("acme/shop", [3])
    status, hdrs3, pulls = call_json(url, headers={"If-None-Match": etag})
    assert status == 200 and [p["number"] for p in pulls] == [3] and hdrs3["etag"] != etag
    # pagination
    forge.set_open_pulls("acme/shop", range(1, 36))
    status, hdrs, page1 = call_json(forge.url + "/repos/acme/shop/pulls?state=open")
    assert len(page1) == 30 and 'rel="next"' in hdrs["link"]


def test_one_pull_and_a_list_that_misses_it(forge):
    """GET /pulls/N says open or closed whatever the list shows; a number
    hidden with hide_from_list is open but missing from the list."""
    forge.set_open_pulls("acme/shop", [3, 4, 5])
    forge.hide_from_list("acme/shop", 4)
    _, _, pulls = call_json(forge.url + "/repos/acme/shop/pulls?state=open")
    assert [p["number"] for p in pulls] == [5, 3]
    for n, state in ((4, "open"), (3, "open"), (9, "closed")):
        status, _, pull = call_json(forge.url + "/repos/acme/shop/pulls/%d" % n)
        assert status == 200 and (pull["number"], pull["state"]) == (n, state)
        assert pull["merged"] is False
    forge.hide_from_list("acme/shop", 4, hidden=False)
    _, _, pulls = call_json(forge.url + "/repos/acme/shop/pulls?state=open")
    assert [p["number"] for p in pulls] == [5, 4, 3]
    gl = forge.gitlab_url + "/projects/4711/merge_requests"
    forge.set_open_merge_requests(4711, [7, 8])
    forge.hide_from_list(4711, 8)
    _, _, mrs = call_json(gl + "?state=opened")
    assert [m["iid"] for m in mrs] == [7]
    for iid, state in ((8, "opened"), (7, "opened"), (2, "closed")):
        status, _, mr = call_json(gl + "/%d" % iid)
        assert status == 200 and (mr["iid"], mr["state"]) == (iid, state)


def test_app_access_tokens(forge, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    key = tmp_path / "app.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    pub = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout"], check=True,
                         capture_output=True).stdout
    forge.app_id = 1234
    forge.app_public_key = pub
    forge.set_tree("acme/shop", "sha1", MIGRATIONS_V1)

    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    def jwt(claims, keyfile=key):
        si = b64({"alg": "RS256", "typ": "JWT"}) + "." + b64(claims)
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(keyfile)],
                             input=si.encode(), check=True, capture_output=True).stdout
        return si + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()

    now = int(time.time())
    good = jwt({"iat": now - 60, "exp": now + 540, "iss": 1234})
    url = forge.url + "/app/installations/42/access_tokens"
    status, _, tok = call_json(url, "POST", headers={"Authorization": "Bearer " + good,
                                                     "Accept": "application/vnd.github+json"})
    assert status == 201 and tok["token"].startswith("ghs_") and tok["expires_at"].endswith("Z")
    assert forge.app_tokens[42] == tok["token"]
    assert forge.app_jwts[-1]["jwt"] == good and forge.app_jwts[-1]["claims"]["iss"] == 1234
    assert jwt_parts(good)[1]["exp"] == now + 540
    # GET /app with the same JWT: the App, its slug.
    status, _, app = call_json(forge.url + "/app", headers={"Authorization": "Bearer " + good})
    assert status == 200 and app["slug"] == forge.app_slug and app["id"] == 1234
    assert forge.app_info_jwts[-1]["jwt"] == good and len(forge.app_jwts) == 1

    # once a token was handed out, GitHub calls need it
    c_url = contents(forge, "db", "sha1")
    assert call(c_url)[0] == 401
    assert call(c_url, headers={"Authorization": "token " + tok["token"]})[0] == 200
    forge.revoke_app_tokens()
    assert call(c_url, headers={"Authorization": "token " + tok["token"]})[0] == 401

    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(other), "2048"], check=True,
                   capture_output=True)
    bad = [
        "not-a-jwt",
        jwt({"iat": now - 60, "exp": now + 540, "iss": 1234}, keyfile=other),  # signature
        jwt({"iat": now - 60, "exp": now + 3600, "iss": 1234}),                 # exp too far
        jwt({"iat": now - 600, "exp": now - 5, "iss": 1234}),                   # expired
        jwt({"iat": now - 60, "exp": now + 540, "iss": 999}),                   # other app
    ]
    for b in bad:
        status, _, body = call_json(url, "POST", headers={"Authorization": "Bearer " + b})
        assert status == 401, (b, body)


def test_gitlab_tree_and_raw_with_encoded_path(forge):
    forge.set_gitlab_tree(42, "abc123", MIGRATIONS_V1)
    gl = forge.gitlab_url + "/projects/42/repository"
    status, hdrs, tree = call_json(gl + "/tree?path=db/migrations&ref=abc123&per_page=100")
    assert status == 200 and hdrs["x-total"] == "2"
    assert sorted(e["name"] for e in tree) == ["001_init.sql", "002_more.sql"]
    assert [e["name"] for e in tree] != sorted(e["name"] for e in tree)
    assert all(e["type"] == "blob" and e["mode"] == "100644" for e in tree)
    assert tree[0]["path"].startswith("db/migrations/")
    _, _, root = call_json(gl + "/tree?ref=abc123")
    assert {e["name"]: e["type"] for e in root} == {"db": "tree", "README.md": "blob"}

    status, _, body = call_json(gl + "/tree?path=db/nothing&ref=abc123")
    assert status == 404 and body == {"message": "404 Tree Not Found"}
    assert call_json(gl + "/tree?path=db&ref=nope")[2] == {"message": "404 Tree Not Found"}

    status, hdrs, data = call(gl + "/files/db%2Fmigrations%2F001_init.sql/raw?ref=abc123")
    assert status == 200 and data == b"CREATE TABLE t (id int);\n"
    assert hdrs["content-type"] == "text/plain; charset=utf-8"
    assert forge.requests[-1].path.endswith("/files/db%2Fmigrations%2F001_init.sql/raw")
    status, _, body = call_json(gl + "/files/db%2Fmissing.sql/raw?ref=abc123")
    assert status == 404 and body == {"message": "404 File Not Found"}
    # an unencoded slash does not match GitLab's route
    status, _, body = call_json(gl + "/files/db/migrations/001_init.sql/raw?ref=abc123")
    assert status == 404 and body == {"error": "404 Not Found"}

    # GitLab pagination: 20 per page by default
    forge.set_gitlab_tree(42, "many", {"m/%03d.sql" % i: "x" for i in range(25)})
    status, hdrs, page1 = call_json(gl + "/tree?path=m&ref=many")
    assert len(page1) == 20 and hdrs["x-next-page"] == "2" and hdrs["x-total-pages"] == "2"
    _, hdrs, page2 = call_json(gl + "/tree?path=m&ref=many&page=2")
    assert len(page2) == 5 and hdrs["x-next-page"] == ""

    forge.gitlab_token = "glpat-x"
    status, _, body = call_json(gl + "/tree?ref=abc123")
    assert status == 401 and body == {"message": "401 Unauthorized"}
    assert call(gl + "/tree?ref=abc123", headers={"PRIVATE-TOKEN": "glpat-x"})[0] == 200


def test_default_branches_and_their_heads(forge):
    forge.set_default_branch("acme/shop", "release/2.x", "a" * 40)
    st, _, repo = call_json(forge.url + "/repos/acme/shop", headers=JSON_ACCEPT)
    assert st == 200 and repo["default_branch"] == "release/2.x"
    assert repo["full_name"] == "acme/shop"
    # A branch with a slash, encoded or not.
    for name in ("release%2F2.x", "release/2.x"):
        st, _, b = call_json(forge.url + "/repos/acme/shop/branches/" + name)
        assert st == 200 and b["commit"]["sha"] == "a" * 40, name
    assert call(forge.url + "/repos/acme/shop/branches/main")[0] == 404
    assert call(forge.url + "/repos/acme/nope")[0] == 404
    # The head moves; the old default branch keeps its own.
    forge.set_default_branch("acme/shop", "main", "b" * 40)
    assert call_json(forge.url + "/repos/acme/shop")[2]["default_branch"] == "main"
    assert call_json(forge.url + "/repos/acme/shop/branches/release%2F2.x")[2][
        "commit"]["sha"] == "a" * 40

    forge.set_gitlab_default_branch(4711, "grp/sub/shop", "trunk", "c" * 40)
    for p in ("4711", "grp%2Fsub%2Fshop"):
        st, _, proj = call_json(forge.gitlab_url + "/projects/" + p)
        assert st == 200 and proj["id"] == 4711 and proj["default_branch"] == "trunk"
        assert proj["path_with_namespace"] == "grp/sub/shop"
        st, _, b = call_json(forge.gitlab_url + "/projects/%s/repository/branches/trunk" % p)
        assert st == 200 and b["commit"]["id"] == "c" * 40 and b["default"] is True
    st, _, err = call_json(forge.gitlab_url + "/projects/4711/repository/branches/x")
    assert st == 404 and err == {"message": "404 Branch Not Found"}
    st, _, err = call_json(forge.gitlab_url + "/projects/99")
    assert st == 404 and err == {"message": "404 Project Not Found"}


def test_gitlab_notes_and_merge_requests(forge):
    mr = forge.gitlab_url + "/projects/acme%2Fshop/merge_requests"
    status, _, note = call_json(mr + "/9/notes", "POST", {"body": "Preview: building"})
    assert status == 201 and note["body"] == "Preview: building"
    assert forge.notes[note["id"]] == dict(forge.notes[note["id"]], project="acme/shop", iid=9)
    status, _, note2 = call_json("%s/9/notes/%d" % (mr, note["id"]), "PUT", {"body": "ready"})
    assert status == 200 and note2["body"] == "ready"
    forge.delete_note(note["id"])
    status, _, body = call_json("%s/9/notes/%d" % (mr, note["id"]), "PUT", {"body": "x"})
    assert status == 404 and body == {"message": "404 Note Not Found"}

    forge.set_open_merge_requests("acme/shop", [4, 9])
    _, _, mrs = call_json(mr + "?state=opened")
    assert sorted(m["iid"] for m in mrs) == [4, 9] and all(m["state"] == "opened" for m in mrs)


def test_vercel_env(forge):
    url = forge.url + "/v10/projects/prj_1/env?upsert=true&teamId=team_9"
    item = {"key": "DATABASE_URL", "value": "postgresql://x", "type": "encrypted",
            "target": ["preview"], "gitBranch": "feature-1"}
    status, _, body = call_json(url, "POST", item)
    assert status == 201 and body["created"]["key"] == "DATABASE_URL" and body["failed"] == []
    assert forge.vercel_env == [{"project": "prj_1", "version": "v10", "team_id": "team_9",
                                 "upsert": True, "body": item,
                                 "query": {"upsert": "true", "teamId": "team_9"}}]
    assert call(url, "POST", item)[0] == 201                       # upsert: fine again
    status, _, body = call_json(forge.url + "/v10/projects/prj_1/env", "POST", item)
    assert status == 400 and body["error"]["code"] == "ENV_ALREADY_EXISTS"


def test_keepalive_and_chunked_body(forge):
    conn = http.client.HTTPConnection("127.0.0.1", forge.port, timeout=10)
    try:
        conn.request("POST", "/repos/acme/shop/issues/1/comments",
                     body=iter([b'{"body": ', b'"chunked"}']),
                     headers={"Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"},
                     encode_chunked=True)
        r = conn.getresponse()
        assert r.status == 201 and json.loads(r.read())["body"] == "chunked"
        conn.request("GET", "/repos/acme/shop/issues/1/comments")   # same connection
        r = conn.getresponse()
        assert r.status == 200 and len(json.loads(r.read())) == 1
        assert r.getheader("Content-Length") is not None
    finally:
        conn.close()
    assert forge.errors == []
