/*
 * pool: the "pool" job, which keeps pool_size idle databases ready on one
 * server so that a claim never waits for CREATE DATABASE.
 *
 * Every pool database is recorded ("creating") before it is created and
 * marked idle after; a crash in between leaves a row that the next run
 * finishes. Claims take idle rows (store_env_claim) and enqueue this job
 * to refill.
 */
#ifndef PREVIEWD_POOL_H
#define PREVIEWD_POOL_H

#include "server/jobs.h"

/* target: the engine name. */
enum job_result pool_run(struct worker *w, const struct job *j,
    struct job_outcome *o);

#endif
