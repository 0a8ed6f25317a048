/*
 * watch: wakes long polls when an environment's status changes.
 *
 * A single generation counter and condition variable: writers bump it
 * after committing a status change; a waiter remembers the generation it
 * saw, rereads the state store, and sleeps until the counter moves, its
 * deadline passes or the daemon shuts down. One counter for all
 * environments keeps it simple; a spurious wake costs one sqlite read.
 */
#ifndef PREVIEWD_WATCH_H
#define PREVIEWD_WATCH_H

#include <stdbool.h>
#include <stdint.h>

void watch_init(void);
uint64_t watch_generation(void);
void watch_bump(void);

/* Wait while the generation equals seen, up to deadline (mono_ms()).
 * Returns the current generation. Returns at once after watch_shutdown. */
uint64_t watch_wait(uint64_t seen, int64_t deadline);

/* Wake all waiters now and make later waits return at once. */
void watch_shutdown(void);
bool watch_stopping(void);

#endif
