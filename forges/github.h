/*
 * github: GitHub's REST API.
 *
 * Every request sends Authorization: Bearer {[github] token} (when one is
 * configured), X-GitHub-Api-Version: 2022-11-28 and previewd's
 * User-Agent, to {[github] api_url}. Calls run on job workers only.
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

/* The bytes of file path at sha (Accept: application/vnd.github.raw+json)
 * into out (reset first), at most max bytes: a larger file fails. */
enum forge_rc github_read_file(struct forge_call *call, const char *repo,
    const char *path, const char *sha, size_t max, struct buf *out);

#endif
