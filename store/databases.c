/*
 * databases: the databases API: a CI run's database created once per
 * Idempotency-Key.
 */
#include "store/sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/log.h"

/* The key's record: 0 found (same request: *same), 1 none, -1 error. */
static int
idem_find(struct store *st, const struct ci_request *r, bool *same,
    char env_id[ENV_ID_SIZE])
{
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	if (store_prepare(st, "SELECT request_hash, env_id FROM idempotency "
	    "WHERE token_key = ?1 AND key = ?2 AND created_at >= ?3", &s) != 0)
		return -1;
	store_bind_text(s, 1, r->token_key);
	store_bind_text(s, 2, r->key);
	sqlite3_bind_int64(s, 3, now_s() - IDEMPOTENCY_TTL);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*same = strcmp((const char *)sqlite3_column_text(s, 0),
		    r->request_hash) == 0;
		store_column_text(s, 1, env_id, ENV_ID_SIZE);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = 1;
	} else {
		store_log_error(st, "look up Idempotency-Key");
	}
	sqlite3_finalize(s);
	return rc;
}

/* One integer from a query with up to one text parameter. */
static int
query_int(struct store *st, const char *sql, const char *param, int64_t *out,
    const char *what)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, sql, &s) != 0)
		return -1;
	if (param != NULL)
		store_bind_text(s, 1, param);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		store_log_error(st, what);
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_ci_create(struct store *st, const struct ci_request *r,
    enum ci_result *res, char env_id[ENV_ID_SIZE])
{
	struct pr_event ev;
	char hex[17];
	int64_t live, number;
	bool same = false, created = false;
	int rc = -1, found;

	env_id[0] = '\0';
	if (store_begin(st) != 0)
		return -1;
	if (r->key != NULL) {
		/* An expired record makes way for a new one. */
		if (store_stmt_exec(st, "expire Idempotency-Key", "DELETE FROM "
		    "idempotency WHERE token_key = ?1 AND key = ?2 AND "
		    "created_at < ?3", "tti", r->token_key, r->key,
		    now_s() - IDEMPOTENCY_TTL) < 0)
			goto out;
		if ((found = idem_find(st, r, &same, env_id)) < 0)
			goto out;
		if (found == 0) {
			*res = same ? CI_REPLAYED : CI_KEY_REUSED;
			if (!same)
				env_id[0] = '\0';
			rc = 0;
			goto out;     /* nothing written: rolled back */
		}
	}
	if (query_int(st, "SELECT COUNT(*) FROM environments WHERE provider = "
	    "?1 AND want_present = 1", ENV_CI, &live, "count CI databases") != 0)
		goto out;
	if (live >= r->max_databases) {
		*res = CI_QUOTA;
		rc = 0;
		goto out;
	}
	if (query_int(st, "SELECT COALESCE(MAX(number), 0) + 1 FROM "
	    "environments WHERE provider = ?1", ENV_CI, &number,
	    "number CI database") != 0)
		goto out;

	memset(&ev, 0, sizeof(ev));
	ev.provider = ENV_CI;
	ev.repo = ENV_CI;
	ev.number = number;
	ev.head_sha = "";
	ev.event_at = now_s();
	ev.engine = r->engine;
	ev.ttl = r->ttl;
	ev.api_target = "";
	if (crypto_hex_token(hex, sizeof(hex), 8) != 0 ||
	    str_printf(env_id, ENV_ID_SIZE, "env_%s", hex) != 0 ||
	    store_env_insert(st, &ev, env_id, true, r->name) != 0)
		goto out;
	if (store_stmt_exec(st, "record blueprint", "UPDATE environments SET "
	    "blueprint = ?2 WHERE id = ?1", "tt", env_id, r->blueprint) < 0 ||
	    (r->key != NULL && store_stmt_exec(st, "record Idempotency-Key", "INSERT "
	    "INTO idempotency (token_key, key, request_hash, env_id, created_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)", "tttti", r->token_key, r->key,
	    r->request_hash, env_id, now_s()) < 0) ||
	    store_job_insert(st, "env", env_id, 0) != 0)
		goto out;
	*res = CI_CREATED;
	created = true;
	rc = 0;
out:
	/* Only a creation writes; every other answer leaves nothing. */
	if (created && store_commit(st) != 0) {
		env_id[0] = '\0';
		rc = -1;
	}
	store_rollback(st);
	return rc;
}

int
store_idempotency_prune(struct store *st, int64_t before)
{
	return store_stmt_exec(st, "prune Idempotency-Keys", "DELETE FROM idempotency "
	    "WHERE created_at < ?1", "i", before) < 0 ? -1 : 0;
}
