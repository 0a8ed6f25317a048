"""previewd edits only the comments it wrote itself.

previewd finds its comment again by a hidden marker (after a crash lost
the comment's id). Anyone who can comment on the pull request can write
that marker into a comment of their own; previewd must then neither
overwrite their comment (with the connection string, perhaps the
password) nor take it as its own: it checks who wrote each marked
comment against its own identity (GitHub: the token's user from
GET /user, or the App's bot account from GET /app; GitLab: GET /user),
posts a comment of its own, and keeps that one current.

The planted comment goes in while previewd stands at the point just
before it posts (a fault point that waits for a file), so it is there,
older than previewd's, when previewd looks for its marker.
"""

import json
import sqlite3
import subprocess

from previewd import pr_payload, wait_until
from test_gitlab_vercel import GL_TOKEN, HOOK_TOKEN, PATH, PROJECT, gitlab_post, mr_hook

REPO = "acme/shop"
TOKEN = "ghp_own_comments_token"
PLANTED = "<!-- previewd:%s -- this comment is edited by previewd -->\nplanted by mallory"


def gated(previewd_factory, cfg, tmp_path):
    gate = tmp_path / "gate"
    d = previewd_factory(cfg, env={"PREVIEWD_FAULTS": "notify.before_post=wait:%s" % gate})
    return d, gate


def env_of(d, number, provider="github", repo=REPO):
    status, _, body = d.env_for(repo, number, provider=None if provider == "github"
                                else provider)
    assert status == 200, body
    return json.loads(body)


def forget_comment_id(d):
    """What a crash between the forge's 201 and recording the id leaves."""
    conn = sqlite3.connect(d.config["server"]["state_path"])
    conn.execute("UPDATE environments SET comment_id = 0, comment_hash = ''")
    conn.commit()
    conn.close()


def github_run(d, gate, forge, number, me, webhook):
    """Open a pull request, plant a marked comment by another account
    while previewd waits to post, and follow what previewd does."""
    webhook("opened", sha="a" * 40)
    wait_until(lambda: (gate.parent / (gate.name + ".reached")).exists(),
               timeout=60, what="previewd to stand before posting")
    env = env_of(d, number)
    planted = forge.plant_comment(REPO, number, PLANTED % env["id"])
    gate.write_text("go")

    def mine():
        return [c for c in forge.comments.values()
                if c["number"] == number and c["user"]["id"] == me["id"]]
    wait_until(lambda: (mine() and "is ready" in mine()[0]["body"]) or
               forge.comments[planted["id"]]["body"] != PLANTED % env["id"],
               timeout=60, what="previewd's comment")
    assert forge.comments[planted["id"]]["body"] == PLANTED % env["id"], \
        "previewd overwrote the comment someone else wrote its marker into"
    own = mine()[0]
    assert len(forge.requests_to("POST", r"/issues/%d/comments$" % number)) == 1

    # A new push: previewd edits its own comment.
    webhook("synchronize", sha="b" * 40)
    wait_until(lambda: "`bbbbbbbbbbbb`" in forge.comments[own["id"]]["body"],
               timeout=60, what="previewd to edit its own comment")

    # Its id lost (a crash): the search passes over the planted comment,
    # which comes first, and finds previewd's own again.
    forget_comment_id(d)
    webhook("synchronize", sha="c" * 40)
    wait_until(lambda: "`cccccccccccc`" in forge.comments[own["id"]]["body"],
               timeout=60, what="previewd to find its own comment again")

    assert forge.requests_to("PATCH", r"/issues/comments/%d$" % planted["id"]) == []
    assert forge.comments[planted["id"]]["body"] == PLANTED % env["id"]
    assert len(forge.requests_to("POST", r"/issues/%d/comments$" % number)) == 1
    assert len(mine()) == 1
    # Logged by id, never by body.
    log = d.log()
    assert "comment %d carries previewd's marker" % planted["id"] in log
    assert "planted by mallory" not in log


def test_github_token_ignores_a_comment_someone_else_marked(
        pg, pg_config, forge, previewd_factory, tmp_path):
    forge.github_token = TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["github"] = {"api_url": forge.url, "token": TOKEN}
    d, gate = gated(previewd_factory, cfg, tmp_path)

    def webhook(action, sha):
        status, _, body = d.github_webhook("pull_request", pr_payload(action, 41, sha=sha))
        assert status == 202, body
    github_run(d, gate, forge, 41, forge.github_user, webhook)
    # Who previewd is was asked once, with its token.
    asked = forge.requests_to("GET", r"^/user$")
    assert len(asked) == 1 and asked[0].headers["authorization"] == "Bearer " + TOKEN


def test_github_app_ignores_a_comment_someone_else_marked(
        pg, pg_config, forge, previewd_factory, tmp_path):
    key = tmp_path / "app.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    pub = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout"], check=True,
                         capture_output=True, text=True).stdout
    forge.app_id = "424242"
    forge.app_public_key = pub
    forge.github_token = None
    cfg = {k: dict(v) for k, v in pg_config.items()}
    cfg["github"] = {"api_url": forge.url, "app_id": "424242", "private_key_file": str(key)}
    d, gate = gated(previewd_factory, cfg, tmp_path)

    def webhook(action, sha):
        status, _, body = d.github_webhook("pull_request", pr_payload(
            action, 42, sha=sha, installation_id=777))
        assert status == 202, body
    github_run(d, gate, forge, 42, forge.app_bot(), webhook)
    # The App's bot: its slug from GET /app (with the App's JWT), its id
    # from GET /users/<slug>[bot]; once.
    assert len(forge.requests_to("GET", r"^/app$")) == 1
    assert len(forge.app_info_jwts) == 1
    users = forge.requests_to("GET", r"^/users/")
    assert len(users) == 1 and users[0].decoded_path == "/users/previewd-app[bot]"


def test_gitlab_ignores_a_note_someone_else_marked(
        pg, pg_config, forge, previewd_factory, tmp_path):
    forge.gitlab_token = GL_TOKEN
    cfg = {k: dict(v) for k, v in pg_config.items()}
    del cfg["repo:acme/shop"]
    cfg["repo:grp/*"] = {}
    cfg["gitlab"] = {"api_url": forge.gitlab_url, "token": GL_TOKEN,
                     "webhook_token": HOOK_TOKEN}
    d, gate = gated(previewd_factory, cfg, tmp_path)
    me = forge.gitlab_user
    iid = 43

    assert gitlab_post(d, mr_hook("open", iid, sha="a" * 40))[0] == 202
    wait_until(lambda: (gate.parent / (gate.name + ".reached")).exists(),
               timeout=60, what="previewd to stand before posting")
    env = env_of(d, iid, provider="gitlab", repo=PATH)
    planted = forge.plant_note(PROJECT, iid, PLANTED % env["id"])
    gate.write_text("go")

    def mine():
        return [n for n in forge.notes.values()
                if n["iid"] == iid and n["author"]["id"] == me["id"]]
    wait_until(lambda: (mine() and "is ready" in mine()[0]["body"]) or
               forge.notes[planted["id"]]["body"] != PLANTED % env["id"],
               timeout=60, what="previewd's note")
    assert forge.notes[planted["id"]]["body"] == PLANTED % env["id"], \
        "previewd overwrote the note someone else wrote its marker into"
    own = mine()[0]

    assert gitlab_post(d, mr_hook("update", iid, sha="b" * 40, oldrev="a" * 40))[0] == 202
    wait_until(lambda: "`bbbbbbbbbbbb`" in forge.notes[own["id"]]["body"], timeout=60,
               what="previewd to edit its own note")
    forget_comment_id(d)
    assert gitlab_post(d, mr_hook("update", iid, sha="c" * 40, oldrev="b" * 40))[0] == 202
    wait_until(lambda: "`cccccccccccc`" in forge.notes[own["id"]]["body"], timeout=60,
               what="previewd to find its own note again")

    assert forge.requests_to("PUT", r"/notes/%d$" % planted["id"]) == []
    assert forge.notes[planted["id"]]["body"] == PLANTED % env["id"]
    assert len(forge.requests_to("POST", r"/merge_requests/%d/notes$" % iid)) == 1
    assert len(mine()) == 1
    assert len(forge.requests_to("GET", r"^/api/v4/user$")) == 1
    log = d.log()
    assert "comment %d carries previewd's marker" % planted["id"] in log
    assert "planted by mallory" not in log
