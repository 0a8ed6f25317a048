/*
 * jobs: the job queue: one row per (kind, target), taken by one worker at a
 * time, retried with a delay, reset at start-up.
 */
#include "store/sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/log.h"

/* The body of store_job_enqueue, for use inside a caller's transaction. */
int
store_job_insert(struct store *st, const char *kind, const char *target,
    int64_t delay_ms)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st,
	    "INSERT INTO jobs (kind, target, run_after, created_at) "
	    "VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (kind, target) DO UPDATE SET seq = seq + 1, "
	    "run_after = MIN(run_after, excluded.run_after)", &s) != 0)
		return -1;
	store_bind_text(s, 1, kind);
	store_bind_text(s, 2, target);
	sqlite3_bind_int64(s, 3, now_ms() + delay_ms);
	sqlite3_bind_int64(s, 4, now_s());
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_log_error(st, "enqueue job");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

int
store_job_enqueue(struct store *st, const char *kind, const char *target,
    int64_t delay_ms)
{
	return store_job_insert(st, kind, target, delay_ms);
}

/* The filter both queries of store_job_take_lane share: ?2 the kinds
 * taken ("" for all), ?3 the serial kinds, ?4 the kinds skipped. */
#define JOB_TAKEABLE \
	"running = 0 " \
	"AND (?2 = '' OR instr(',' || ?2 || ',', ',' || kind || ',') > 0) " \
	"AND instr(',' || ?4 || ',', ',' || kind || ',') = 0 " \
	"AND NOT (instr(',' || ?3 || ',', ',' || kind || ',') > 0 AND EXISTS (" \
	"  SELECT 1 FROM jobs AS r WHERE r.running = 1 " \
	"  AND r.target = jobs.target " \
	"  AND instr(',' || ?3 || ',', ',' || r.kind || ',') > 0)) "

int
store_job_take_lane(struct store *st, int64_t now, const struct job_lane *lane,
    struct job *out, int64_t *next_ms)
{
	const char *only = lane && lane->only ? lane->only : "";
	const char *serial = lane && lane->serial ? lane->serial : "";
	const char *skip = lane && lane->skip ? lane->skip : "";
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	*next_ms = INT64_MAX;
	if (store_prepare(st,
	    "UPDATE jobs SET running = 1 WHERE id = ("
	    "  SELECT id FROM jobs WHERE run_after <= ?1 AND " JOB_TAKEABLE
	    "  ORDER BY run_after, id LIMIT 1) "
	    "RETURNING id, kind, target, seq, attempts", &s) != 0)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	store_bind_text(s, 2, only);
	store_bind_text(s, 3, serial);
	store_bind_text(s, 4, skip);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		out->id = sqlite3_column_int64(s, 0);
		store_column_text(s, 1, out->kind, sizeof(out->kind));
		store_column_text(s, 2, out->target, sizeof(out->target));
		out->seq = sqlite3_column_int64(s, 3);
		out->attempts = sqlite3_column_int64(s, 4);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = 1;
	} else {
		store_log_error(st, "take job");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (store_prepare(st, "SELECT MIN(run_after) FROM jobs WHERE "
	    JOB_TAKEABLE, &s) != 0)
		return -1;
	store_bind_text(s, 2, only);
	store_bind_text(s, 3, serial);
	store_bind_text(s, 4, skip);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		*next_ms = sqlite3_column_int64(s, 0);
out:
	sqlite3_finalize(s);
	return rc;
}

int
store_job_take(struct store *st, int64_t now, struct job *out,
    int64_t *next_ms)
{
	return store_job_take_lane(st, now, NULL, out, next_ms);
}

int
store_job_done(struct store *st, const struct job *j)
{
	int n = store_stmt_exec(st, "finish job", "DELETE FROM jobs WHERE id = ?1 "
	    "AND seq = ?2", "ii", j->id, j->seq);

	if (n != 0)
		return n < 0 ? -1 : 0;
	/* Enqueued again while it ran: release it to run once more. */
	return store_stmt_exec(st, "finish job", "UPDATE jobs SET running = 0, "
	    "attempts = 0 WHERE id = ?1", "i", j->id) < 0 ? -1 : 0;
}

int
store_job_retry(struct store *st, const struct job *j, int64_t delay_ms,
    const char *error)
{
	return store_stmt_exec(st, "retry job", "UPDATE jobs SET running = 0, "
	    "attempts = attempts + 1, last_error = ?2, "
	    "run_after = CASE WHEN seq = ?3 THEN ?4 ELSE run_after END "
	    "WHERE id = ?1", "itii", j->id, error ? error : "", j->seq,
	    now_ms() + delay_ms) < 0 ? -1 : 0;
}

int
store_job_reset(struct store *st)
{
	return store_exec(st, "UPDATE jobs SET running = 0 WHERE running = 1");
}

int
store_job_count(struct store *st, int64_t *count)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, "SELECT COUNT(*) FROM jobs", &s) != 0)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*count = sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}
