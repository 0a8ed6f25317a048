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

/* The entries of folder path at ref, from GET /projects/{id}/repository/
 * tree?path=...&ref=..., following pages. FORGE_NOT_FOUND when the path
 * does not exist. */
enum forge_rc gitlab_list_dir(struct forge_call *call, const char *project,
    const char *path, const char *sha, forge_entry_fn fn, void *arg);

/* The bytes of file path at ref, from GET /projects/{id}/repository/
 * files/{url-encoded path}/raw?ref=..., at most max bytes. */
enum forge_rc gitlab_read_file(struct forge_call *call, const char *project,
    const char *path, const char *sha, size_t max, struct buf *out);

#endif
