/*
 * webhook: what every forge's webhook handler shares once the delivery is
 * verified and parsed — the repository's [repo:...] section, the fork
 * policy, recording the delivery with its event and job in one
 * transaction (store_pr_event), and the answer.
 *
 * Each forge's handler (github.c, gitlab.c, vercel.c) only verifies its
 * own signature and maps its own payload into a struct pr_event.
 */
#ifndef PREVIEWD_WEBHOOK_H
#define PREVIEWD_WEBHOOK_H

#include <stdbool.h>

#include "handlers/http.h"

/* Forges cap a delivery at 25 MiB; refused from Content-Length. */
#define WEBHOOK_MAX_BODY (25u * 1024 * 1024)

/* A forge's checks of what its headers alone can show — a signature
 * header present and well-formed, a token compared, an event named — made
 * before the body is read, so that a request refused anyway holds no
 * thread while its body arrives. 0 to go on, or -1 once it has answered
 * (401, 400). */
typedef int (*webhook_headers_fn)(struct request *req);

/* Refuse while shutting down (503), check the headers, then read the body
 * (413, 503, 408, 400: http_read_body). 0 to go on; otherwise the answer
 * was sent. */
int webhook_begin(struct request *req, const char *forge,
    webhook_headers_fn check_headers) MUST_CHECK;

/* True when s is exactly n lower-case hex digits: how GitHub and Vercel
 * write their signatures. */
bool webhook_hex_ok(const char *s, size_t n);

/* Repository paths as the forges allow them (no "." or ".." segment:
 * they go into forge API paths), and commit ids. */
bool webhook_repo_ok(const char *repo);
/* Pull and merge request numbers: the forges' are 32-bit. */
#define WEBHOOK_NUMBER_MAX 2147483647LL
bool webhook_sha_ok(const char *sha);

/* A branch name as a push names it ("main", "release/2.x"): it goes
 * into forge API paths (escaped) and log lines; what git itself refuses
 * in a branch name (control characters, space, ~ ^ : ? * [ \, "..") is
 * refused, and it must fit a struct base_head. */
bool webhook_branch_ok(const char *branch);

/* A push (GitHub's push event, GitLab's Push Hook), verified and parsed:
 * ev filled but for branch and ignore, with default_branch the
 * repository's default branch as the payload names it and deleted set
 * when the push deleted its ref. 204 when the repository has no
 * [repo:...] section; else recorded (store_base_push) and answered 202
 * (accepted; stale; ignored, with a reason, for a section with prewarm =
 * none, a ref other than the default branch, or a deletion) or 200 (a
 * duplicate delivery). */
int webhook_push(struct request *req, const char *via, struct base_push *ev,
    const char *default_branch, bool deleted);

/* Apply ev (filled but for engine and ttl) for the repository's section:
 * 204 when there is none or when the head is a fork the section denies;
 * else record it and answer 202 (accepted, stale or ignored) or 200 (a
 * duplicate delivery). via names the webhook in the log. */
int webhook_apply(struct request *req, const char *via, struct pr_event *ev,
    bool fork);

#endif
