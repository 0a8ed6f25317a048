/*
 * bases: each prewarmed repository's default branch and the commit at its
 * head, from push webhooks and from the forge's answer at start, and the
 * "base" job enqueued in the same transaction whenever that head changes.
 */
#include "store/sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/log.h"

#define BASE_COLUMNS "provider, repo, api_target, installation_id, branch, " \
	"sha, event_at, updated_at"

/* What a push or the forge said about a repository's default branch. */
struct head {
	const char *provider;
	const char *repo;
	const char *api_target;
	int64_t installation_id;
	const char *branch;
	const char *sha;
	int64_t event_at;
};

static void
row_read(sqlite3_stmt *s, struct base_head *out)
{
	memset(out, 0, sizeof(*out));
	store_column_text(s, 0, out->provider, sizeof(out->provider));
	store_column_text(s, 1, out->repo, sizeof(out->repo));
	store_column_text(s, 2, out->api_target, sizeof(out->api_target));
	out->installation_id = sqlite3_column_int64(s, 3);
	store_column_text(s, 4, out->branch, sizeof(out->branch));
	store_column_text(s, 5, out->sha, sizeof(out->sha));
	out->event_at = sqlite3_column_int64(s, 6);
	out->updated_at = sqlite3_column_int64(s, 7);
}

int
store_base_get(struct store *st, const char *provider, const char *repo,
    struct base_head *out)
{
	sqlite3_stmt *s = NULL;
	int step, rc = -1;

	if (store_prepare(st, "SELECT " BASE_COLUMNS " FROM base_heads "
	    "WHERE provider = ?1 AND repo = ?2", &s) != 0)
		return -1;
	store_bind_text(s, 1, provider);
	store_bind_text(s, 2, repo);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		row_read(s, out);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = 1;
	} else {
		store_log_error(st, "read base head");
	}
	sqlite3_finalize(s);
	return rc;
}

struct each {
	int (*fn)(const struct base_head *, void *);
	void *arg;
};

static int
each_row(sqlite3_stmt *s, void *arg)
{
	struct each *e = arg;
	struct base_head h;

	row_read(s, &h);
	return e->fn(&h, e->arg);
}

int
store_base_each(struct store *st, int (*fn)(const struct base_head *, void *),
    void *arg)
{
	struct each e = { fn, arg };

	return store_each_row(st, "SELECT " BASE_COLUMNS " FROM base_heads "
	    "ORDER BY provider, repo", NULL, 0, each_row, &e,
	    "list base heads");
}

/* Every column is read back into a struct base_head: refuse what would
 * not fit rather than keep a name cut short. */
static bool
head_fits(const struct head *h)
{
	struct base_head b;

	return strlen(h->provider) < sizeof(b.provider) &&
	    strlen(h->repo) < ENV_REPO_SIZE &&
	    strlen(h->api_target) < ENV_REPO_SIZE &&
	    strlen(h->branch) < BASE_BRANCH_SIZE && h->sha[0] != '\0' &&
	    strlen(h->sha) < ENV_SHA_SIZE;
}

/*
 * Inside the caller's transaction: apply h unless ordered and older than
 * the recorded head (PR_STALE), and enqueue the base's job when the head
 * moved. The recorded time never goes back. The job's target keeps the
 * case of the repository's first record, so that one repository never
 * has two "base" jobs.
 */
static int
head_apply(struct store *st, const struct head *h, bool ordered,
    enum pr_result *result)
{
	struct base_head cur;
	char target[ENV_REPO_SIZE + 16];
	int64_t at = h->event_at;
	int found;

	if (!head_fits(h)) {
		log_warnx("state store: base head of %.64s: a name is too long",
		    h->repo);
		return -1;
	}
	if ((found = store_base_get(st, h->provider, h->repo, &cur)) < 0)
		return -1;
	if (found == 0 && ordered && h->event_at < cur.event_at) {
		*result = PR_STALE;
		return 0;
	}
	if (found == 0 && cur.event_at > at)
		at = cur.event_at;
	if (store_stmt_exec(st, "record base head", "INSERT INTO base_heads ("
	    BASE_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
	    "ON CONFLICT (provider, repo) DO UPDATE SET "
	    "api_target = excluded.api_target, "
	    "installation_id = CASE WHEN excluded.installation_id > 0 "
	    "THEN excluded.installation_id ELSE installation_id END, "
	    "branch = excluded.branch, sha = excluded.sha, "
	    "event_at = excluded.event_at, updated_at = excluded.updated_at",
	    "tttittii", h->provider, h->repo, h->api_target, h->installation_id,
	    h->branch, h->sha, at, now_s()) < 0)
		return -1;
	*result = PR_ACCEPTED;
	if (found == 0 && strcmp(cur.sha, h->sha) == 0)
		return 0;
	if (str_printf(target, sizeof(target), "%s:%s", h->provider,
	    found == 0 ? cur.repo : h->repo) != 0)
		return -1;
	return store_job_insert(st, "base", target, 0);
}

int
store_base_push(struct store *st, const struct base_push *ev,
    enum pr_result *result)
{
	struct head h = { ev->provider, ev->repo, ev->api_target &&
	    ev->api_target[0] ? ev->api_target : ev->repo,
	    ev->installation_id, ev->branch, ev->sha, ev->event_at };
	int n;

	if (store_begin(st) != 0)
		return -1;
	n = store_stmt_exec(st, "record delivery", "INSERT INTO deliveries "
	    "(provider, id, received_at, event, action, result) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, 'pending') ON CONFLICT DO NOTHING", "ttitt",
	    ev->provider, ev->delivery, now_s(), ev->event,
	    ev->ref ? ev->ref : "");
	if (n < 0)
		goto fail;
	if (n == 0) {
		*result = PR_DUPLICATE;
		store_rollback(st);
		return 0;
	}
	if (ev->ignore != NULL)
		*result = PR_IGNORED;
	else if (head_apply(st, &h, true, result) != 0)
		goto fail;
	if (store_stmt_exec(st, "record delivery result", "UPDATE deliveries "
	    "SET result = ?3 WHERE provider = ?1 AND id = ?2", "ttt",
	    ev->provider, ev->delivery, *result == PR_ACCEPTED ? "accepted" :
	    *result == PR_STALE ? "stale" : "ignored") < 0 ||
	    store_commit(st) != 0)
		goto fail;
	return 0;
fail:
	store_rollback(st);
	return -1;
}

int
store_base_set(struct store *st, const char *provider, const char *repo,
    const char *api_target, int64_t installation, const char *branch,
    const char *sha)
{
	struct head h = { provider, repo, api_target && api_target[0] ?
	    api_target : repo, installation, branch, sha, now_s() };
	enum pr_result result;

	if (store_begin(st) != 0)
		return -1;
	if (head_apply(st, &h, false, &result) != 0 || store_commit(st) != 0) {
		store_rollback(st);
		return -1;
	}
	return 0;
}

/* A base lives as long as its repository is prewarmed: no TTL (a century
 * is none). */
#define BASE_TTL ((int64_t)100 * 365 * 86400)

int
store_base_env_want(struct store *st, const struct base_head *h,
    const char *engine, char id[ENV_ID_SIZE])
{
	struct pr_event ev;
	struct env *cur;
	char hex[17];
	int found, rc = -1;

	if ((cur = malloc(sizeof(*cur))) == NULL)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.provider = h->provider;
	ev.repo = h->repo;
	ev.number = ENV_BASE_NUMBER;
	ev.op = PR_SYNC;
	ev.head_sha = h->sha;
	ev.event_at = now_s();
	ev.engine = engine;
	ev.ttl = BASE_TTL;
	ev.api_target = h->api_target;
	ev.installation_id = h->installation_id;
	if (store_begin(st) != 0)
		goto out;
	found = store_env_find_pr(st, h->provider, h->repo, ENV_BASE_NUMBER,
	    cur);
	if (found < 0)
		goto fail;
	if (found == 1) {
		if (crypto_hex_token(hex, sizeof(hex), 8) != 0 ||
		    str_printf(id, ENV_ID_SIZE, "env_%s", hex) != 0 ||
		    store_env_insert(st, &ev, id, true, "base") != 0 ||
		    store_job_insert(st, "env", id, 0) != 0)
			goto fail;
	} else {
		str_copy(id, cur->id, ENV_ID_SIZE);
		/* Moved, or back after prewarm was turned off and on. */
		if ((strcmp(cur->want_sha, h->sha) != 0 || !cur->want_present) &&
		    (store_env_apply(st, &ev, id) != 0 ||
		    store_job_insert(st, "env", id, 0) != 0))
			goto fail;
	}
	if (store_commit(st) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	store_rollback(st);
out:
	crypto_wipe(cur, sizeof(*cur));
	free(cur);
	return rc;
}
