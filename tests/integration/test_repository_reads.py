"""How previewd reads a repository's migrations from the forge (README
"Requests to the forge"): what a user with hundreds of migrations and a
rate limit (GitHub: 5,000 requests an hour per token) checks.

  - GitHub: the commit's tree in ONE request (git/trees/SHA?recursive=1),
    each migration by its blob id (git/blobs, raw), the seed by its path:
    1 + N + 1 requests for the first environment of a commit;
  - a file already read is not asked for again: a second environment on
    the same commit costs the tree and the seed only; a push adding one
    migration reads that one;
  - the folder's subfolders are listed (the tools that use them need
    them), yet plain sql folders still run only their own *.sql files;
  - a tree GitHub cuts short ("truncated": true, past 100,000 entries) is
    walked through the contents API instead, with the same outcome;
  - GitLab: the recursive tree in pages of 100, then blobs by id.

The forge is the suite's stand-in (forge_stub.py), which models these
endpoints as GitHub's and GitLab's REST documentation describes them.
"""
import hashlib

from conftest import EngineUnderTest
from previewd import pr_payload, wait_until
from test_gitlab_vercel import GL_TOKEN, PATH, PROJECT, gitlab_daemon, gitlab_post, gl_env, mr_hook

REPO = "acme/shop"
TOKEN = "ghp_reads_test_token"
SHA1, SHA2 = "1" * 40, "2" * 40


def blob(text):
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def migrations(n):
    files = {"db/migrations/%03d_t%d.sql" % (i, i): "CREATE TABLE t%d (id integer);\n" % i
             for i in range(1, n + 1)}
    # Subfolders and other folders of the repository: listed with the
    # tree, not run by the sql tool (it takes the folder's own files).
    files["db/migrations/archive/000_old.sql"] = "THIS IS NOT SQL;\n"
    files["db/migrations/archive/deeper/still/000_older.sql"] = "NOR THIS;\n"
    files["db/migrations/README.md"] = "How we migrate.\n"
    files["src/app/main.go"] = "package main\n"
    files["db/seed.sql"] = "INSERT INTO t1 VALUES (1);\n"
    return files


def start(pg, forge, previewd_factory):
    forge.github_token = TOKEN
    engine = EngineUnderTest("postgres", pg)
    cfg = engine.config(migrations="repo:db/migrations", seed="repo:db/seed.sql")
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    return previewd_factory(cfg)


def ready(d, number, sha):
    path = "/api/v1/repos/%s/pulls/%d/environment" % (REPO, number)

    def settled():
        status, env = d.get_json(path, token=d.ci_token)
        assert status == 200, env
        return env if env["status"] in ("ready", "failed") and env["head_sha"] == sha else None
    env = wait_until(settled, timeout=90, what="pull request %d at %s" % (number, sha[:7]))
    assert env["status"] == "ready", env["error"]
    return env


def open_pr(d, number, sha, action="opened"):
    status, _, body = d.github_webhook("pull_request", pr_payload(action, number, sha=sha))
    assert status == 202, body


def github_reads(forge):
    """(trees, blobs, contents) requests to the repository so far."""
    return tuple(forge.requests_to("GET", r"^/repos/acme/shop/%s" % kind)
                 for kind in ("git/trees/", "git/blobs/", "contents/"))


def records(env):
    conn = __import__("psycopg2").connect(env["database_url"])
    try:
        cur = conn.cursor()
        cur.execute("SELECT name FROM previewd_migrations ORDER BY name")
        return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def test_github_tree_in_one_request_and_each_blob_once(pg, forge, previewd_factory):
    files = migrations(40)
    forge.set_tree(REPO, SHA1, files)
    d = start(pg, forge, previewd_factory)

    open_pr(d, 1, SHA1)
    env = ready(d, 1, SHA1)
    trees, blobs, contents = github_reads(forge)
    assert [(r.path, r.query.get("recursive")) for r in trees] == \
        [("/repos/acme/shop/git/trees/" + SHA1, "1")]
    assert sorted(r.path.rsplit("/", 1)[1] for r in blobs) == \
        sorted(blob(files["db/migrations/%03d_t%d.sql" % (i, i)]) for i in range(1, 41))
    assert [r.path for r in contents] == ["/repos/acme/shop/contents/db/seed.sql"]
    # 42 requests for 40 migrations and a seed; the subfolders' files were
    # neither read nor run.
    assert len(trees) + len(blobs) + len(contents) == 42
    assert len(records(env)) == 41     # 40 and "(seed)"

    # Another pull request on the same commit: the tree and the seed only.
    open_pr(d, 2, SHA1)
    ready(d, 2, SHA1)
    trees, blobs, contents = github_reads(forge)
    assert (len(trees), len(blobs), len(contents)) == (2, 40, 2)

    # A push adding one migration reads that one file.
    files["db/migrations/041_t41.sql"] = "CREATE TABLE t41 (id integer);\n"
    forge.set_tree(REPO, SHA2, files)
    open_pr(d, 1, SHA2, action="synchronize")
    ready(d, 1, SHA2)
    trees, blobs, contents = github_reads(forge)
    assert len(trees) == 3
    assert [r.path.rsplit("/", 1)[1] for r in blobs[40:]] == [blob(files["db/migrations/041_t41.sql"])]
    assert "041_t41.sql" in records(env)


def test_truncated_tree_is_walked_through_the_contents_api(pg, forge, previewd_factory):
    files = migrations(5)
    forge.set_tree(REPO, SHA1, files)
    forge.tree_limit = 3
    d = start(pg, forge, previewd_factory)
    open_pr(d, 3, SHA1)
    env = ready(d, 3, SHA1)
    assert records(env) == ["(seed)"] + ["%03d_t%d.sql" % (i, i) for i in range(1, 6)]
    trees, blobs, contents = github_reads(forge)
    assert len(trees) == 1
    listed = sorted(r.path for r in contents if not r.path.endswith("seed.sql"))
    # The folder and its subfolders, three levels down at most.
    assert listed == ["/repos/acme/shop/contents/db/migrations",
                      "/repos/acme/shop/contents/db/migrations/archive",
                      "/repos/acme/shop/contents/db/migrations/archive/deeper",
                      "/repos/acme/shop/contents/db/migrations/archive/deeper/still"]
    assert len(blobs) == 5


def test_gitlab_recursive_tree_in_pages_then_blobs(pg, pg_config, forge, previewd_factory):
    sha = "c" * 40
    files = migrations(150)
    forge.set_gitlab_tree(PROJECT, sha, files)
    cfg_repo = {"repo:grp/sub/shop": {"migrations": "repo:db/migrations",
                                      "seed": "repo:db/seed.sql"}}
    d = gitlab_daemon(pg_config, forge, previewd_factory, sections=cfg_repo)
    assert gitlab_post(d, mr_hook("open", 7, sha=sha))[0] == 202
    env = wait_until(lambda: (lambda e: e if e["status"] in ("ready", "failed") else None)(
        gl_env(d, 7)), timeout=120, what="the merge request's environment")
    assert env["status"] == "ready", env["error"]
    pages = forge.requests_to("GET", r"/projects/%d/repository/tree$" % PROJECT)
    # 150 files, a README and 3 subfolder entries with their 2 files: 157
    # entries, two pages of 100.
    assert [(r.query["path"], r.query["recursive"], r.query["per_page"], r.query["page"])
            for r in pages] == [("db/migrations", "true", "100", "1"),
                                ("db/migrations", "true", "100", "2")]
    blobs = forge.requests_to("GET", r"/repository/blobs/[0-9a-f]{40}/raw$")
    assert len(blobs) == 150
    assert all(r.headers["private-token"] == GL_TOKEN for r in pages + blobs)
    assert len(records(env)) == 151


def test_file_names_as_a_stranger_writes_them(pg, forge, previewd_factory):
    """Names with spaces, quotes and non-ASCII letters are read by blob id
    and recorded as they are; a symbolic link (a blob of mode 120000 whose
    bytes are a path) is not run; files deeper than three subfolders are
    not listed; more than 1,000 migration files fail with the cap named."""
    from forge_stub import Symlink
    files = {
        "db/migrations/001_init.sql": "CREATE TABLE a (id integer);\n",
        "db/migrations/002 add b.sql": "CREATE TABLE b (id integer);\n",
        "db/migrations/003_ünïcödé.sql": "CREATE TABLE c (id integer);\n",
        "db/migrations/004_it's \"quoted\"; DROP TABLE a.sql": "CREATE TABLE d (id integer);\n",
        "db/migrations/005_shared.sql": Symlink(b"../shared/005_shared.sql"),
        "db/migrations/a/b/c/d/006_deep.sql": "NOT SQL AT ALL;\n",
        "db/shared/005_shared.sql": "CREATE TABLE e (id integer);\n",
        "db/seed.sql": "INSERT INTO a VALUES (1);\n",
    }
    forge.set_tree(REPO, SHA1, files)
    big = {"db/migrations/%04d.sql" % i: "SELECT %d;\n" % i for i in range(1001)}
    big["db/seed.sql"] = "SELECT 1;\n"
    forge.set_tree(REPO, SHA2, big)
    d = start(pg, forge, previewd_factory)
    open_pr(d, 4, SHA1)
    env = ready(d, 4, SHA1)
    assert records(env) == ["(seed)", "001_init.sql", "002 add b.sql", "003_ünïcödé.sql",
                            "004_it's \"quoted\"; DROP TABLE a.sql"]
    blobs = forge.requests_to("GET", r"^/repos/acme/shop/git/blobs/")
    assert blob("NOT SQL AT ALL;\n") not in [r.path.rsplit("/", 1)[1] for r in blobs]

    open_pr(d, 5, SHA2)
    path = "/api/v1/repos/%s/pulls/5/environment" % REPO
    env = wait_until(lambda: (lambda e: e if e["status"] == "failed" else None)(
        d.get_json(path, token=d.ci_token)[1]), timeout=60, what="the 1,001 files refused")
    assert env["error"] == "more than 1000 migration files", env["error"]
