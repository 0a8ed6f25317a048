/*
 * lifecycle: the "env" job, which moves one environment from what exists
 * towards what its events asked for.
 *
 *   want present:  provisioning -> ready   (a claim from the warm pool,
 *                  or a cold create when the pool is empty)
 *   want absent:   ... -> deleting -> deleted
 *
 * Each step is idempotent and is recorded in the store only after it
 * succeeded; the desired state is reread before every step, so a close
 * that arrives while provisioning runs wins at the next step boundary.
 * Server outages are retried with backoff (status stays, error says why);
 * a refusal by the server marks the environment failed.
 *
 * Two job kinds share the steps: "env" runs the fast ones (claim,
 * teardown) and "migrate" the repository's SQL (migrating, seeding), so
 * that a slow migration never holds the fast lane (core/jobs.c). Each
 * hands the environment to the other when the next step is the other's.
 * A file runs under [server]/[repo] migration_timeout and is cancelled on
 * the server by core/canceller.h at the deadline or when the environment
 * is closed.
 */
#ifndef PREVIEWD_LIFECYCLE_H
#define PREVIEWD_LIFECYCLE_H

#include "core/jobs.h"

enum job_result lifecycle_run(struct worker *w, const struct job *j,
    struct job_outcome *o);
enum job_result lifecycle_migrate_run(struct worker *w, const struct job *j,
    struct job_outcome *o);

#endif
