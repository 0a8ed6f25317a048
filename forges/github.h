/*
 * github: GitHub's REST API.
 *
 * Every request goes to {[github] api_url} with X-GitHub-Api-Version:
 * 2022-11-28, previewd's User-Agent and Authorization: Bearer with the
 * GitHub App's installation token (when [github] app_id is set and the
 * call names an installation) or [github] token. Calls run on job
 * workers only.
 */
#ifndef PREVIEWD_GITHUB_API_H
#define PREVIEWD_GITHUB_API_H

#include "forges/forge.h"

/* The entries of folder path of repo ("owner/name") at commit sha, from
 * GET /repos/{repo}/contents/{path}?ref={sha}. A path that names a file
 * lists that one file. FORGE_NOT_FOUND when the path (or the commit) does
 * not exist. fn returns 0 to go on. */
enum forge_rc github_list_dir(struct forge_call *call, const char *repo,
    const char *path, const char *sha, forge_entry_fn fn, void *arg);

/* Every entry of the repository's tree at commit sha, in one request:
 * GET /repos/{repo}/git/trees/{sha}?recursive=1. GitHub cuts a tree of
 * more than 100,000 entries (or 7 MB) short and says so: *truncated is
 * then set and the listing is not whole. fn returns 0 to go on. */
enum forge_rc github_list_tree(struct forge_call *call, const char *repo,
    const char *sha, forge_entry_fn fn, void *arg, bool *truncated);
/* The bytes of blob id (a file's, as github_list_tree gives it) into out
 * (reset first), at most max: GET /repos/{repo}/git/blobs/{id} with
 * Accept: application/vnd.github.raw+json. */
enum forge_rc github_read_blob(struct forge_call *call, const char *repo,
    const char *id, size_t max, struct buf *out);
/* The bytes of file path at sha (Accept: application/vnd.github.raw+json)
 * into out (reset first), at most max bytes: a larger file fails. */
enum forge_rc github_read_file(struct forge_call *call, const char *repo,
    const char *path, const char *sha, size_t max, struct buf *out);

/* Who previewd's comments are written by: the token's user (GET /user),
 * or for a GitHub App its bot account "<slug>[bot]" (GET /app with the
 * App's JWT, then GET /users/{login}). Cached per configuration (see
 * forge_identity_get). */
enum forge_rc github_identity(struct forge_call *call,
    struct forge_identity *who);

/* The pull request's comments: the id of the first written by previewd
 * (github_identity) whose body contains marker (0: none), so that a
 * comment posted just before a crash is found again instead of posted
 * twice, and a comment someone else wrote the marker into is never
 * taken over. */
enum forge_rc github_comment_find(struct forge_call *call, const char *repo,
    int64_t number, const char *marker, int64_t *id);

/* One page of the open pull requests (struct forge_page): the first is
 * GET /repos/{repo}/pulls?state=open&per_page=100, the next is the Link
 * header's rel="next". With p->etag, asked with If-None-Match: an
 * unchanged page is 304 and costs GitHub's rate limit nothing. */
enum forge_rc github_open_pulls_page(struct forge_call *call,
    const char *repo, struct forge_page *p);

/* Whether pull request number is closed (merged or not), asked of it
 * alone: GET /repos/{repo}/pulls/{number}, its "state". The list above
 * can miss an open one (a page shifts when a pull request opens or
 * closes while it is read), so it alone never proves a close. *closed is
 * true only for FORGE_OK and "closed"; a state GitHub does not document
 * is FORGE_FAIL. FORGE_NOT_FOUND when the pull request or the repository
 * does not exist or the credentials may not see it. */
enum forge_rc github_pull_closed(struct forge_call *call, const char *repo,
    int64_t number, bool *closed);

/* POST /repos/{repo}/issues/{number}/comments. */
enum forge_rc github_comment_create(struct forge_call *call, const char *repo,
    int64_t number, const char *body, int64_t *id);

/* PATCH /repos/{repo}/issues/comments/{id}; FORGE_NOT_FOUND when a human
 * deleted it. */
enum forge_rc github_comment_update(struct forge_call *call, const char *repo,
    int64_t id, const char *body);

/* The repository's default branch and the commit at its head: GET
 * /repos/{repo} (default_branch), then GET /repos/{repo}/branches/
 * {branch} (commit.sha). head->api_target is repo. FORGE_NOT_FOUND when
 * the repository (or the branch) does not exist or the credentials may
 * not see it. */
enum forge_rc github_default_head(struct forge_call *call, const char *repo,
    struct forge_head *head);

#endif
