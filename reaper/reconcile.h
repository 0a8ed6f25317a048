/*
 * reconcile: the "reconcile" job — one repository's environments against
 * the forge's list of open pull (merge) requests.
 *
 * GitHub does not retry a webhook it failed to deliver, so a close can be
 * lost. For each repository with environments, the reaper enqueues this
 * job; it lists the open pull requests (GitHub with If-None-Match, so an
 * unchanged list is free of rate limit; GitLab by pages), and for every
 * environment whose pull request is not among them and has seen no
 * activity for [reaper] orphan_grace (a list may lag a fresh open, and a
 * close webhook may still be on its way) asks the forge about that pull
 * request alone, and asks for the deletion only when the answer is
 * "closed": a list read while pull requests open or close can miss an
 * open one at a page's edge.
 */
#ifndef PREVIEWD_RECONCILE_H
#define PREVIEWD_RECONCILE_H

#include "core/jobs.h"

/* target: "provider:repo". */
enum job_result reconcile_run(struct worker *w, const struct job *j,
    struct job_outcome *o);

#endif
