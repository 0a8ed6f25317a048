/*
 * canceller: a deadline, and the close, for the pull request's SQL.
 *
 * A migration file or a seed is code a stranger wrote: it may run for
 * ever. While a worker runs one it arms its slot here with a cancel token
 * (engines/engine.h), its environment and a deadline; the canceller's
 * thread looks at the armed slots every CANCELLER_PERIOD_MS and cancels
 * the statement on the server once the deadline has passed, or once the
 * environment is no longer wanted (closed, deleted, expired), so the
 * worker is back within a second and the teardown follows at once.
 *
 * One slot per worker: the thread's work is bounded by the workers, not
 * by the environments. The thread has its own store connection.
 */
#ifndef PREVIEWD_CANCELLER_H
#define PREVIEWD_CANCELLER_H

#include <stdint.h>

#include "engines/engine.h"
#include "lib/config.h"

#define CANCELLER_PERIOD_MS 200

enum cancel_reason {
	CANCEL_NONE,        /* the file ended by itself */
	CANCEL_TIMEOUT,     /* its deadline passed */
	CANCEL_UNWANTED     /* its environment is to go */
};

/* Start the thread with nslots slots (one per worker). Main thread,
 * before the workers start. 0 ok, -1 with err. */
int canceller_start(const struct config *cfg, int nslots, char *err,
    size_t errlen) MUST_CHECK;

/* Stop the thread. Main thread, after the workers have stopped. */
void canceller_stop(void);

/* The worker owning slot begins a file: cancel c (borrowed until
 * canceller_disarm returns) on ecfg's server at deadline (mono_ms()), or
 * when env_id is no longer wanted. */
void canceller_arm(int slot, struct engine_cancel *c,
    const struct engine_cfg *ecfg, const char *env_id, int64_t deadline);

/* The file has ended: why it was cancelled, if the server was told to
 * (CANCEL_NONE otherwise). Once this returns the canceller no longer
 * touches the token. */
enum cancel_reason canceller_disarm(int slot);

#endif
