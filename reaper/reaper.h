/*
 * reaper: the background thread that decides what should go and what
 * should be refilled, every [reaper] interval.
 *
 * It only decides and enqueues; workers do the work, so a delete by TTL
 * and a delete by webhook are the same code. Each pass:
 *   - environments idle past their repository's ttl are asked to go;
 *   - each configured engine gets a pool refill job and an orphan sweep
 *     (reaper/sweep.h);
 *   - each repository with environments gets a reconciliation against its
 *     forge's open pull requests (reaper/reconcile.h);
 *   - deleted environments and deliveries older than 7 days are forgotten.
 * Queued jobs are never duplicated, so a slow job is not piled up on.
 * The thread owns its store connection and wakes at once on shutdown.
 */
#ifndef PREVIEWD_REAPER_H
#define PREVIEWD_REAPER_H

#include <stddef.h>

#include "lib/config.h"

/* Give the workers the reaper's job kinds ("sweep", "reconcile"): the
 * core runs them but does not know them. Main thread, before jobs_start.
 * 0 ok, -1 with err. */
int reaper_init(char *err, size_t errlen) MUST_CHECK;

int reaper_start(const struct config *cfg, char *err, size_t errlen)
    MUST_CHECK;
void reaper_stop(void);

/* Run a pass now (after a reload). Any thread. */
void reaper_wake(void);

#endif
