/*
 * webhooks: a webhook's pull-request event applied to the state in one
 * transaction (new, duplicate, stale, ignored), and Vercel's links.
 */
#include "store/sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/log.h"

int
store_env_apply(struct store *st, const struct pr_event *ev, const char *id)
{
	sqlite3_stmt *s = NULL;
	int64_t now = now_s();
	int rc = -1;

	if (ev->op == PR_CLOSE) {
		if (store_prepare(st, "UPDATE environments SET "
		    "want_present = 0, event_at = ?2, updated_at = ?3 "
		    "WHERE id = ?1", &s) != 0)
			return -1;
	} else {
		/* A deleted environment comes back (reopened): it starts
		 * over with a fresh claim and a fresh password, and the
		 * deletion no longer holds events back. */
		if (store_prepare(st, "UPDATE environments SET "
		    "want_present = 1, want_sha = ?4, event_at = ?2, "
		    "deleted_at = 0, deleted_why = '', "
		    "activity_at = ?3, expires_at = ?3 + ?5, ttl = ?5, "
		    "updated_at = ?3, private_repo = ?6, "
		    "installation_id = CASE WHEN ?7 > 0 THEN ?7 "
		    "ELSE installation_id END, "
		    "error = CASE WHEN status = 'deleted' THEN '' ELSE error END, "
		    "secret = CASE WHEN status = 'deleted' THEN NULL ELSE secret END, "
		    "head_sha = CASE WHEN status = 'deleted' THEN '' ELSE head_sha END, "
		    "db_name = CASE WHEN status = 'deleted' THEN role_name ELSE db_name END, "
		    "status = CASE WHEN status = 'deleted' THEN 'provisioning' "
		    "ELSE status END WHERE id = ?1", &s) != 0)
			return -1;
		store_bind_text(s, 4, ev->head_sha ? ev->head_sha : "");
		sqlite3_bind_int64(s, 5, ev->ttl);
		sqlite3_bind_int(s, 6, ev->private_repo);
		sqlite3_bind_int64(s, 7, ev->installation_id);
	}
	store_bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, ev->event_at);
	sqlite3_bind_int64(s, 3, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, "update environment");
	else
		rc = 0;
	sqlite3_finalize(s);
	return rc;
}

static int
env_note_delivery(struct store *st, const char *id, const char *delivery)
{
	return store_stmt_exec(st, "record delivery id", "UPDATE environments SET "
	    "last_delivery = ?2 WHERE id = ?1", "tt", id, delivery) < 0 ? -1 : 0;
}

/* A Vercel project deploying the pull request gets DATABASE_URL from the
 * notify job; a new or changed link enqueues it. */
static int
vercel_link(struct store *st, const struct pr_event *ev, const char *env_id)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (store_prepare(st, "INSERT INTO vercel_links (env_id, project_id, "
	    "team_id, git_branch) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (env_id, project_id) DO UPDATE SET "
	    "team_id = excluded.team_id, git_branch = excluded.git_branch, "
	    "synced_hash = CASE WHEN git_branch = excluded.git_branch "
	    "THEN synced_hash ELSE '' END", &s) != 0)
		return -1;
	store_bind_text(s, 1, env_id);
	store_bind_text(s, 2, ev->vercel_project);
	store_bind_text(s, 3, ev->vercel_team ? ev->vercel_team : "");
	store_bind_text(s, 4, ev->git_branch ? ev->git_branch : "");
	if (sqlite3_step(s) != SQLITE_DONE)
		store_log_error(st, "link Vercel project");
	else
		rc = store_job_insert(st, "notify", env_id, 0);
	sqlite3_finalize(s);
	return rc;
}

int
store_vercel_links(struct store *st, const char *env_id,
    int (*fn)(const char *project, const char *team, const char *branch,
    const char *synced_hash, void *arg), void *arg)
{
	sqlite3_stmt *s = NULL;
	char project[128], team[128], branch[256], hash[72];
	int step, rc = -1;

	if (store_prepare(st, "SELECT project_id, team_id, git_branch, "
	    "synced_hash FROM vercel_links WHERE env_id = ?1 ORDER BY "
	    "project_id", &s) != 0)
		return -1;
	store_bind_text(s, 1, env_id);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		store_column_text(s, 0, project, sizeof(project));
		store_column_text(s, 1, team, sizeof(team));
		store_column_text(s, 2, branch, sizeof(branch));
		store_column_text(s, 3, hash, sizeof(hash));
		if (fn(project, team, branch, hash, arg) != 0)
			break;
	}
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
	else
		store_log_error(st, "list Vercel links");
	sqlite3_finalize(s);
	return rc;
}

int
store_vercel_synced(struct store *st, const char *env_id, const char *project,
    const char *hash)
{
	return store_stmt_exec(st, "record Vercel sync", "UPDATE vercel_links SET "
	    "synced_hash = ?3 WHERE env_id = ?1 AND project_id = ?2", "ttt",
	    env_id, project, hash) < 0 ? -1 : 0;
}

static const char *const pr_result_names[] = {
	[PR_ACCEPTED] = "accepted", [PR_DUPLICATE] = "duplicate",
	[PR_STALE] = "stale", [PR_IGNORED] = "ignored",
	[PR_DELETED] = "ignored",
};

int
store_pr_event(struct store *st, const struct pr_event *ev,
    enum pr_result *result, char env_id[ENV_ID_SIZE],
    struct pr_deleted *deleted)
{
	sqlite3_stmt *s = NULL;
	struct env *cur = NULL;
	char hex[17];
	int rc = -1, found;

	env_id[0] = '\0';
	if (store_begin(st) != 0)
		return -1;
	if (store_prepare(st, "INSERT INTO deliveries (provider, id, "
	    "received_at, event, action, result) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "'pending') ON CONFLICT DO NOTHING", &s) != 0)
		goto out;
	store_bind_text(s, 1, ev->provider);
	store_bind_text(s, 2, ev->delivery);
	sqlite3_bind_int64(s, 3, now_s());
	store_bind_text(s, 4, ev->event);
	store_bind_text(s, 5, ev->action);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_log_error(st, "record delivery");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_changes(st->db) == 0) {
		*result = PR_DUPLICATE;
		store_rollback(st);
		return 0;
	}

	if ((cur = malloc(sizeof(*cur))) == NULL)
		goto out;
	found = store_env_find_pr(st, ev->provider, ev->repo, ev->number, cur);
	if (found < 0)
		goto out;
	if (found == 1) {
		if (crypto_hex_token(hex, sizeof(hex), 8) != 0 ||
		    str_printf(env_id, ENV_ID_SIZE, "env_%s", hex) != 0 ||
		    store_env_insert(st, ev, env_id, ev->op != PR_CLOSE, NULL) != 0)
			goto out;
		*result = ev->op == PR_CLOSE ? PR_IGNORED : PR_ACCEPTED;
	} else {
		str_copy(env_id, cur->id, ENV_ID_SIZE);
		/* Forges do not promise delivery order; the pull request's own
		 * updated_at does. Equal times apply in arrival order; but
		 * what an admin or the TTL deleted stays deleted for every
		 * event not newer than the deletion: a captured "opened"
		 * body, signed and all, sent again with a new delivery id
		 * carries its old updated_at. */
		if (ev->op != PR_CLOSE && !cur->want_present &&
		    cur->deleted_at > 0 && ev->event_at <= cur->deleted_at) {
			*result = PR_DELETED;
			if (deleted != NULL) {
				deleted->at = cur->deleted_at;
				str_copy(deleted->why, cur->deleted_why,
				    sizeof(deleted->why));
			}
		} else if (ev->event_at < cur->event_at) {
			*result = PR_STALE;
		} else if (ev->op == PR_CLOSE && !cur->want_present &&
		    cur->status == ENV_DELETED) {
			*result = PR_IGNORED;
		} else if (store_env_apply(st, ev, env_id) != 0) {
			goto out;
		} else {
			*result = PR_ACCEPTED;
		}
	}
	if (*result == PR_ACCEPTED && store_job_insert(st, "env", env_id, 0) != 0)
		goto out;
	/* The delivery that last moved the environment follows it into the
	 * job's log lines. */
	if (*result == PR_ACCEPTED && env_note_delivery(st, env_id,
	    ev->delivery) != 0)
		goto out;
	if (ev->vercel_project != NULL && *result != PR_IGNORED &&
	    *result != PR_DELETED && vercel_link(st, ev, env_id) != 0)
		goto out;

	if (store_prepare(st, "UPDATE deliveries SET env_id = ?3, result = ?4 "
	    "WHERE provider = ?1 AND id = ?2", &s) != 0)
		goto out;
	store_bind_text(s, 1, ev->provider);
	store_bind_text(s, 2, ev->delivery);
	store_bind_text(s, 3, env_id);
	store_bind_text(s, 4, pr_result_names[*result]);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_log_error(st, "record delivery result");
		goto out;
	}
	if (store_commit(st) != 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(s);
	free(cur);
	if (rc != 0)
		store_rollback(st);
	return rc;
}
