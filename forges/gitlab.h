/*
 * gitlab: GitLab's REST API (v4).
 *
 * Requests go to {[gitlab] api_url} with PRIVATE-TOKEN: {[gitlab] token}
 * (when configured). project is the numeric project id the webhook named.
 * Calls run on job workers only.
 */
#ifndef PREVIEWD_GITLAB_API_H
#define PREVIEWD_GITLAB_API_H

#include "forges/forge.h"

/* The entries of folder path at ref and of its subfolders, from GET
 * /projects/{id}/repository/tree?path=...&ref=...&recursive=true, pages
 * of 100 (4,000 entries at most: more fails). FORGE_NOT_FOUND when the path
 * does not exist. */
enum forge_rc gitlab_list_dir(struct forge_call *call, const char *project,
    const char *path, const char *sha, forge_entry_fn fn, void *arg);

/* The bytes of blob id (a file's, as gitlab_list_dir gives it), from GET
 * /projects/{id}/repository/blobs/{id}/raw, at most max bytes. */
enum forge_rc gitlab_read_blob(struct forge_call *call, const char *project,
    const char *id, size_t max, struct buf *out);

/* The bytes of file path at ref, from GET /projects/{id}/repository/
 * files/{url-encoded path}/raw?ref=..., at most max bytes. */
enum forge_rc gitlab_read_file(struct forge_call *call, const char *project,
    const char *path, const char *sha, size_t max, struct buf *out);

/* One page of the open merge requests' iids (struct forge_page): GET
 * /projects/{id}/merge_requests?state=opened&per_page=100, the next page
 * as X-Next-Page says; with p->etag, asked with If-None-Match (an
 * unchanged page is 304). */
enum forge_rc gitlab_open_merge_requests_page(struct forge_call *call,
    const char *project, struct forge_page *p);

/* Whether merge request iid is closed or merged, asked of it alone: GET
 * /projects/{id}/merge_requests/{iid}, its "state" (as for
 * github_pull_closed, the list can miss an open one). "opened" and
 * "locked" (a merge under way) are open; *closed is true only for
 * FORGE_OK and "closed" or "merged"; another state is FORGE_FAIL.
 * FORGE_NOT_FOUND when the merge request or the project does not exist
 * or the token may not see it. */
enum forge_rc gitlab_merge_request_closed(struct forge_call *call,
    const char *project, int64_t iid, bool *closed);

/* Who previewd's notes are written by: the token's user, from GET /user.
 * Cached per configuration (see forge_identity_get). */
enum forge_rc gitlab_identity(struct forge_call *call,
    struct forge_identity *who);

/* Merge request notes: find ours (written by gitlab_identity's user and
 * holding marker; 0: none), create, update (FORGE_NOT_FOUND when a human
 * deleted it). */
enum forge_rc gitlab_note_find(struct forge_call *call, const char *project,
    int64_t iid, const char *marker, int64_t *id);
enum forge_rc gitlab_note_create(struct forge_call *call, const char *project,
    int64_t iid, const char *body, int64_t *id);
enum forge_rc gitlab_note_update(struct forge_call *call, const char *project,
    int64_t iid, int64_t id, const char *body);

/* The project's default branch and the commit at its head: GET
 * /projects/{id or url-encoded path} (default_branch, id), then GET
 * /projects/{id}/repository/branches/{branch} (commit.id).
 * head->api_target is the project's id. FORGE_NOT_FOUND when the project
 * (or the branch) does not exist or the token may not see it. */
enum forge_rc gitlab_default_head(struct forge_call *call,
    const char *project, struct forge_head *head);

#endif
