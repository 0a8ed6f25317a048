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

#include "core/jobs.h"

/* target: the engine name. */
enum job_result pool_run(struct worker *w, const struct job *j,
    struct job_outcome *o);

/* A pool member's password is made when the pool is filled (engines with
 * pool_roles give it to the member's role then) and sealed for the pool
 * database db; the claim moves it, sealed again, to the environment. */
#define POOL_SECRET_MAX (CRYPTO_PASSWORD_LEN + CRYPTO_SEAL_OVERHEAD)
int pool_secret_new(const struct config *cfg, const char *db,
    unsigned char out[POOL_SECRET_MAX], size_t *outlen) MUST_CHECK;
int pool_secret_open(const struct config *cfg, const char *db,
    const unsigned char *in, size_t len, char *password, size_t pwsz)
    MUST_CHECK;

/* The store_reseal (store.h) that moves a member's password to the
 * environment claiming it. */
void pool_reseal_init(struct store_reseal *rs, const struct config *cfg);

#endif
