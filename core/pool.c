/*
 * pool: refilling the warm pool.
 */
#include "core/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/fault.h"
#include "lib/log.h"
#include "lib/names.h"

#define POOL_MAX 100     /* the config's upper bound on pool_size */

/* The associated data a member's sealed password is bound to. */
static void
pool_aad(const char *db, char *out, size_t outsz)
{
	snprintf(out, outsz, "pool:%s", db);
}

int
pool_secret_new(const struct config *cfg, const char *db,
    unsigned char out[POOL_SECRET_MAX], size_t *outlen)
{
	char password[CRYPTO_PASSWORD_LEN], aad[64];
	int rc;

	if (crypto_token(password, sizeof(password), CRYPTO_PASSWORD_BYTES) != 0)
		return -1;
	pool_aad(db, aad, sizeof(aad));
	rc = crypto_seal(cfg->server.secret_key, aad, password, strlen(password),
	    out, POOL_SECRET_MAX);
	*outlen = rc == 0 ? strlen(password) + CRYPTO_SEAL_OVERHEAD : 0;
	crypto_wipe(password, sizeof(password));
	return rc;
}

int
pool_secret_open(const struct config *cfg, const char *db,
    const unsigned char *in, size_t len, char *password, size_t pwsz)
{
	char aad[64];

	pool_aad(db, aad, sizeof(aad));
	return crypto_open(cfg->server.secret_key, aad, in, len, password, pwsz);
}

static int
reseal(const char *db, const unsigned char *in, size_t len, struct env *e,
    void *arg)
{
	const struct config *cfg = arg;
	char password[CRYPTO_PASSWORD_LEN + 1];
	int rc = -1;

	if (pool_secret_open(cfg, db, in, len, password, sizeof(password)) != 0)
		return -1;
	if (crypto_seal(cfg->server.secret_key, e->id, password,
	    strlen(password), e->secret, sizeof(e->secret)) == 0) {
		e->secret_len = strlen(password) + CRYPTO_SEAL_OVERHEAD;
		rc = 0;
	}
	crypto_wipe(password, sizeof(password));
	return rc;
}

void
pool_reseal_init(struct store_reseal *rs, const struct config *cfg)
{
	rs->fn = reseal;
	rs->arg = (void *)(uintptr_t)cfg;
}

struct pending {
	char names[POOL_MAX][NAMES_SIZE];
	unsigned char secrets[POOL_MAX][POOL_SECRET_MAX];
	size_t lens[POOL_MAX];
	int n;
};

static int
collect(const char *db, const unsigned char *secret, size_t len, void *arg)
{
	struct pending *p = arg;

	if (p->n == POOL_MAX)
		return 1;
	str_copy(p->names[p->n], db, NAMES_SIZE);
	p->lens[p->n] = 0;
	if (secret != NULL && len > 0 && len <= POOL_SECRET_MAX) {
		memcpy(p->secrets[p->n], secret, len);
		p->lens[p->n] = len;
	}
	p->n++;
	return 0;
}

static enum job_result
pool_retry(struct job_outcome *o, const struct job *j, const char *engine,
    const char *err)
{
	o->retry_ms = jobs_backoff(j->attempts);
	snprintf(o->error, sizeof(o->error), "%s: %s", engine, err);
	return JOB_RETRY;
}

/* Create db (and its role, with the sealed password) on the server and
 * mark it idle; the row already exists. */
static int
pool_create(struct worker *w, struct engine *eng, const char *db,
    const unsigned char *secret, size_t len, char *err, size_t errlen)
{
	char password[CRYPTO_PASSWORD_LEN + 1];
	bool have_pw = false;
	int rc;

	if (eng->ops->pool_roles) {
		if (len == 0 || pool_secret_open(w->cfg, db, secret, len,
		    password, sizeof(password)) != 0) {
			str_copy(err, "the pool member's password does not "
			    "decrypt (was secret_key changed?)", errlen);
			return ENGINE_FAIL;
		}
		have_pw = true;
	}
	fault_point("pool.before_create");
	rc = engine_db_create(eng, db, have_pw ? password : NULL, err, errlen);
	crypto_wipe(password, sizeof(password));
	if (rc != ENGINE_OK)
		return rc;
	fault_point("pool.after_create");
	if (store_pool_ready(w->store, eng->ops->name, db) != 0) {
		str_copy(err, "cannot record pool database", errlen);
		return ENGINE_RETRY;
	}
	log_info("pool database %s ready on %s", db, eng->ops->name);
	return ENGINE_OK;
}

enum job_result
pool_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	const struct engine_cfg *cfg = config_engine(w->cfg, j->target);
	struct engine *eng = worker_engine(w, j->target);
	struct pending *p = NULL;
	char err[512], db[NAMES_SIZE];
	unsigned char secret[POOL_SECRET_MAX];
	size_t secret_len;
	int idle, creating, i, rc;
	enum job_result res = JOB_DONE;

	if (cfg == NULL || eng == NULL)
		return JOB_DONE;   /* the engine is no longer configured */
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return pool_retry(o, j, j->target, "out of memory");

	/* First finish what a crash interrupted. */
	if (store_pool_each_creating(w->store, j->target, collect, p) != 0) {
		res = pool_retry(o, j, j->target, "cannot read the pool");
		goto out;
	}
	for (i = 0; i < p->n; i++) {
		rc = pool_create(w, eng, p->names[i], p->secrets[i], p->lens[i],
		    err, sizeof(err));
		if (rc != ENGINE_OK) {
			res = pool_retry(o, j, j->target, err);
			goto out;
		}
	}

	for (;;) {
		if (jobs_stopping()) {
			o->retry_ms = 0;
			str_copy(o->error, "shutting down", sizeof(o->error));
			res = JOB_RETRY;
			goto out;
		}
		if (store_pool_counts(w->store, j->target, &idle, &creating) != 0) {
			res = pool_retry(o, j, j->target, "cannot count the pool");
			goto out;
		}
		if (idle + creating >= cfg->pool_size)
			break;
		if (names_pool(db) != 0 ||
		    pool_secret_new(w->cfg, db, secret, &secret_len) != 0 ||
		    store_pool_add(w->store, j->target, db, secret,
		    secret_len) != 0) {
			res = pool_retry(o, j, j->target,
			    "cannot record pool database");
			goto out;
		}
		rc = pool_create(w, eng, db, secret, secret_len, err,
		    sizeof(err));
		if (rc != ENGINE_OK) {
			/* The row stays "creating": the next run finishes it
			 * (or the orphan sweep removes a half-made one). */
			res = pool_retry(o, j, j->target, err);
			goto out;
		}
	}
out:
	crypto_wipe(secret, sizeof(secret));
	if (p != NULL)
		crypto_wipe(p, sizeof(*p));
	free(p);
	return res;
}
