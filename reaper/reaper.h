/*
 * reaper: the background thread that decides what should go and what
 * should be refilled, every [reaper] interval.
 *
 * It only decides and enqueues; workers do the work, so a delete by TTL
 * and a delete by webhook are the same code. Each pass:
 *   - environments idle past their repository's ttl are asked to go;
 *   - each configured engine's pool gets a refill job (which does nothing
 *     when the pool is full);
 *   - deleted environments and deliveries older than 7 days are forgotten.
 * The thread owns its store connection and wakes at once on shutdown.
 */
#ifndef PREVIEWD_REAPER_H
#define PREVIEWD_REAPER_H

#include <stddef.h>

#include "server/config.h"

int reaper_start(const struct config *cfg, char *err, size_t errlen)
    MUST_CHECK;
void reaper_stop(void);

/* Run a pass now (after a reload). Any thread. */
void reaper_wake(void);

#endif
