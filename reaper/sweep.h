/*
 * sweep: the "sweep" job — the orphan sweep of one database server.
 *
 * Lists every database and role carrying previewd's prefix on the server,
 * then (in that order, so that nothing created meanwhile is missed) what
 * previewd stands behind (store_known_names). Anything on the server and
 * unknown to previewd is remembered with when it was first seen and
 * dropped once that is older than [reaper] orphan_grace — the grace
 * covers objects a crash left between CREATE and the state file's commit
 * as well as a claim in flight. Names without the prefix are never
 * touched. Idle pool members that vanished from the server are forgotten
 * and the pool refilled.
 */
#ifndef PREVIEWD_SWEEP_H
#define PREVIEWD_SWEEP_H

#include "core/jobs.h"

/* target: the engine name. */
enum job_result sweep_run(struct worker *w, const struct job *j,
    struct job_outcome *o);

#endif
