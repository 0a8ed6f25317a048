/*
 * pooler_reverify: once per config_dir, the verifiers of roles an earlier
 * previewd made (pooler_reverify.c says why). core/pooler.c's thread runs
 * it; it knows nothing of pooler.c's state.
 */
#ifndef PREVIEWD_POOLER_REVERIFY_H
#define PREVIEWD_POOLER_REVERIFY_H

#include <stdatomic.h>
#include <stdbool.h>

#include "lib/config.h"
#include "store/store.h"

/* Unless dir holds its mark, set the password of every environment
 * wanted() keeps and of every idle PostgreSQL pool member again, as
 * previewd's verifier, then leave the mark. 0 done (now or before), -1 to
 * try again later (the server did not answer, or *stop came true:
 * shutdown). */
int pooler_reverify(const struct config *cfg, const char *dir,
    bool (*wanted)(const struct env *e), const atomic_bool *stop);

#endif
