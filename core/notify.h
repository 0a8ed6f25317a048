/*
 * notify: the "notify" job — the pull request's one comment (a note on a
 * GitLab merge request), posted when its environment first settles and
 * edited in place whenever what it shows changes.
 *
 * The job is enqueued in the same transaction as the status change it
 * reports (store_env_save), so a crash cannot lose it, and because a
 * queued job is never duplicated, quick changes coalesce into one edit
 * that renders the latest state. The text comes from
 * {templates_dir}/comment.md (Markdown; every {{value}} escaped by the
 * template engine). It shows the full DATABASE_URL only as
 * comment_password allows (private-only: only in a private repository);
 * otherwise the password is masked and the comment shows the curl
 * command that fetches the URL from the API. A comment that cannot be
 * posted never holds up the database.
 *
 * The same job gives each Vercel project linked to the environment (a
 * Vercel preview deployment of the pull request) a branch-scoped
 * DATABASE_URL for its preview builds, once the environment is ready.
 */
#ifndef PREVIEWD_NOTIFY_H
#define PREVIEWD_NOTIFY_H

#include "core/jobs.h"

/* Load and check the comment template. 0 ok; -1 with the reason (file and
 * line) in err. Main thread, before the workers start. */
int notify_init(const struct config *cfg, char *err, size_t errlen)
    MUST_CHECK;
void notify_release(void);

/* target: the environment id. */
enum job_result notify_run(struct worker *w, const struct job *j,
    struct job_outcome *o);

#endif
