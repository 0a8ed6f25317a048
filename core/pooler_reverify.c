/*
 * pooler_reverify: once, the verifiers of roles an earlier previewd made.
 *
 * previewd used to let libpq draw each verifier's salt at random; pgbouncer
 * can log in for a role only when the server has the verifier previewd
 * computes (lib/crypto.h). Once per config_dir — the first start with
 * pgbouncer — every live environment's role and every idle pool member's
 * gets its own password again, as that verifier. The server cannot be
 * asked which verifiers are old (pg_authid is a superuser's), so all are
 * set: ~6 ms of server CPU each, in this thread, beside the claims.
 */
#include "core/pooler_reverify.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/pool.h"
#include "engines/engine.h"
#include "lib/crypto.h"
#include "lib/log.h"

#define REVERIFIED_MARK "verifiers-derived"

struct repass {
	const struct config *cfg;
	bool (*wanted)(const struct env *e);
	const atomic_bool *stop;
	struct engine *eng;
	int done, gone;
	bool down;
	char err[512];
};

static void
repass_one(struct repass *r, const char *role, const char *password)
{
	int rc = engine_role_password(r->eng, role, password, r->err,
	    sizeof(r->err));

	if (atomic_load(r->stop))
		r->down = true;   /* shutting down: again at the next start */
	if (rc == ENGINE_OK)
		r->done++;
	else if (rc == ENGINE_RETRY)
		r->down = true;
	else if (r->gone++ == 0)
		/* Dropped or renamed meanwhile, most likely (nothing to do
		 * then); said once in case it is something else. */
		log_warnx("pgbouncer: cannot set role %s's verifier: %s", role,
		    r->err);
}

static int
repass_env(const struct env *e, void *arg)
{
	struct repass *r = arg;
	char pw[CRYPTO_PASSWORD_LEN + 1];

	if (!r->wanted(e))
		return 0;
	if (crypto_open(r->cfg->server.secret_key, e->id, e->secret,
	    e->secret_len, pw, sizeof(pw)) == 0)
		repass_one(r, e->role_name, pw);
	crypto_wipe(pw, sizeof(pw));
	return r->down ? 1 : 0;
}

static int
repass_pool(const char *db, const unsigned char *secret, size_t len,
    void *arg)
{
	struct repass *r = arg;
	char pw[CRYPTO_PASSWORD_LEN + 1];

	/* A pool member's role is named like its database. */
	if (pool_secret_open(r->cfg, db, secret, len, pw, sizeof(pw)) == 0)
		repass_one(r, db, pw);
	crypto_wipe(pw, sizeof(pw));
	return r->down ? 1 : 0;
}

int
pooler_reverify(const struct config *cfg, const char *dir,
    bool (*wanted)(const struct env *e), const atomic_bool *stop)
{
	struct repass r = { cfg, wanted, stop, NULL, 0, 0, false, "" };
	struct store *st = NULL;
	char mark[1040];
	int fd, rc = -1;

	if (str_printf(mark, sizeof(mark), "%s/%s", dir, REVERIFIED_MARK) != 0)
		return 0;
	if (access(mark, F_OK) == 0)
		return 0;
	if ((r.eng = engine_new(engine_find("postgres"), &cfg->postgres)) ==
	    NULL || store_open(cfg->server.state_path, &st, r.err,
	    sizeof(r.err)) != 0)
		goto out;
	if (store_env_each(st, repass_env, &r) != 0 || r.down ||
	    store_pool_each_idle(st, "postgres", repass_pool, &r) != 0 ||
	    r.down)
		goto out;
	if ((fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		(void)close(fd);
	log_info("pgbouncer: %d roles have their password again as previewd's "
	    "verifier (once per config_dir; %d were gone meanwhile)", r.done,
	    r.gone);
	rc = 0;
out:
	if (rc != 0 && !atomic_load(stop))
		log_warnx("pgbouncer: cannot set the roles' verifiers yet, "
		    "trying again in a minute: %s", r.down || r.err[0] ? r.err :
		    "out of memory");
	store_close(st);
	engine_free(r.eng);
	return rc;
}
