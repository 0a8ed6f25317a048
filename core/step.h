/*
 * step: what the files of an environment's lifecycle share —
 * core/lifecycle.c (the claim, the teardown, the state machine) and
 * core/migrate.c (the repository's SQL). Nothing else includes it.
 *
 * A step reads and changes one struct env and says whether the run goes
 * on. Each step records its result in the store only after it succeeded.
 */
#ifndef PREVIEWD_STEP_H
#define PREVIEWD_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/jobs.h"

/* What a step did: go on with the next step, or end this run. */
enum step { STEP_NEXT, STEP_END };

struct run {
	struct worker *w;
	const struct job *job;
	struct job_outcome *o;
	enum job_result result;
	int64_t started;          /* mono_ms() when the run began */
	char blueprint[80];       /* a CI database's "blueprint:NAME" */
	bool slow;                /* a "migrate" job: the SQL lane */
};

/* The note a rebuild leaves in the error column; it survives until the
 * next failure or rebuild, since the API has no other field for it. */
#define REBUILT_NOTE "rebuilt"

/* The record's name for the seed: no migration file is called this, since
 * migrations end in ".sql". */
#define SEED_RECORD "(seed)"

/* End this run and retry the job after delay_ms; fmt says why (log). */
enum step step_retry(struct run *r, int64_t delay_ms, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
/* Save the worker-owned columns and wake long polls. 0 or -1. */
int step_commit(struct run *r, struct env *e);
/* step_commit as a step: next, or a retry when the store fails. */
enum step step_save(struct run *r, struct env *e);
/* Drop a transient note ("waiting for ..."); a rebuild's note stays. */
void step_clear_note(struct env *e);
/* Failed for good at sha: the database stays for inspection; the next
 * push retries. */
enum step step_fail(struct run *r, struct env *e, const char *sha,
    const char *fmt, ...) PRINTF_LIKE(4, 5);
/* Keep the status, say why it waits, and try again after delay_ms. */
enum step step_wait(struct run *r, struct env *e, int64_t delay_ms,
    const char *why);
/* The environment's password, opened from its sealed secret. */
int step_password(struct run *r, const struct env *e, char *out,
    size_t outsz);
/* The repository's SQL sources ("none" when it has none). */
void step_sources(struct run *r, const struct env *e,
    const char **migrations, const char **seed);
/* How long one file of e's SQL may run, in seconds. */
int64_t step_sql_timeout(struct run *r, const struct env *e);

/* The steps of core/migrate.c. */
enum step step_migrate(struct run *r, struct env *e);
enum step step_seed(struct run *r, struct env *e);

#endif
