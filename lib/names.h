/*
 * names: the physical names of databases and roles on a server.
 *
 * Every name previewd creates is a lower-case unquoted identifier of at
 * most 32 characters (valid in PostgreSQL and MySQL alike) that starts
 * with NAMES_PREFIX, so the orphan sweep can tell previewd's objects from
 * everything else on a shared server. Names are built from the sanitised
 * repository name, a hash of the full repository (so "acme/shop" and
 * "acme-shop/shop" never collide) and the pull request number. They are
 * still always quoted with the driver's escaping when used in SQL.
 */
#ifndef PREVIEWD_NAMES_H
#define PREVIEWD_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/util.h"

#define NAMES_PREFIX "pvd_"
#define NAMES_MAX 32
#define NAMES_SIZE (NAMES_MAX + 1)

/* pvd_{slug}_{hash8}_{number}, e.g. pvd_shop_1a2b3c4d_42. salt > 0 picks
 * another hash for the rare collision the store detects. */
int names_pr(const char *provider, const char *repo, int64_t number,
    unsigned salt, char out[NAMES_SIZE]) MUST_CHECK;

/* pvd_pool_{12 random hex}: an idle pool database. */
int names_pool(char out[NAMES_SIZE]) MUST_CHECK;

/* True when s is a name previewd could have made: the prefix followed by
 * [a-z0-9_], at most NAMES_MAX characters. */
bool names_valid(const char *s);

#endif
