/*
 * blobs: repository files by their git blob id, kept in memory so that a
 * file read once is not asked of the forge again. A blob id names its
 * contents (the hash of them), so a kept blob is right for every commit
 * and every environment that lists the same id: a push that adds one
 * migration to a folder of 300 costs one read, not 300.
 *
 * Kept blobs are bounded by BLOBS_MAX_BYTES in all; the oldest kept goes
 * first. Thread-safe.
 */
#ifndef PREVIEWD_BLOBS_H
#define PREVIEWD_BLOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/util.h"

#define BLOBS_MAX_BYTES ((size_t)64 << 20)

/* The bytes of blob id of forge ("github", "gitlab") into out (reset
 * first): true when kept, false when it must be read. */
bool blobs_get(const char *forge, const char *id, struct buf *out);

/* Keep the bytes of blob id; a blob larger than a quarter of the budget
 * is not kept. */
void blobs_put(const char *forge, const char *id, const char *data,
    size_t len);

/* Forget every blob (tests, shutdown). */
void blobs_clear(void);

#endif
