/*
 * base_head: each prewarmed repository's default branch and the commit at
 * its head, learnt from the forge (issue 15).
 *
 * At start and on every reload, base_head_enqueue gives each [repo:...]
 * section with prewarm = base that names one repository (no wildcard) a
 * "base_head" job for each forge configured (target "<provider>:<repo>").
 * The job asks the forge on a worker, never on the main or an HTTP
 * thread, retries with backoff while the forge is unreachable or
 * answers 5xx, and records the answer with store_base_set, which enqueues
 * the "base" job when the head moved. A section with a wildcard learns
 * each repository's head from its first push (handlers/webhook.c).
 */
#ifndef PREVIEWD_BASE_HEAD_H
#define PREVIEWD_BASE_HEAD_H

#include "core/jobs.h"

/* Enqueue the lookups cfg asks for into st: how many, or -1. */
int base_head_enqueue(const struct config *cfg, struct store *st);

/* The "base_head" job: target "github:owner/name" or "gitlab:group/name". */
enum job_result base_head_run(struct worker *w, const struct job *j,
    struct job_outcome *o);

/* A "base_head" or "base" job's target, "<provider>:<repo>", into its
 * parts; -1 when it is not that. */
int base_target_split(const char *target, char provider[16],
    char repo[ENV_REPO_SIZE]);

#endif
