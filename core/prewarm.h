/*
 * prewarm: the pre-migrated pool — each prewarmed repository's base, and
 * its copies kept in the pool (see core/prewarm.c for how).
 */
#ifndef PREVIEWD_PREWARM_H
#define PREVIEWD_PREWARM_H

#include "core/jobs.h"

/* The "base" job: target "<provider>:<repo>". */
enum job_result prewarm_run(struct worker *w, const struct job *j,
    struct job_outcome *o);

/* At start: a "base" job for every repository with a recorded head, so
 * that members a crash left half made are dropped and the rest made. 0,
 * or -1. */
int prewarm_enqueue_all(struct store *st);

#endif
