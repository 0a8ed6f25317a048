/*
 * Unit tests for store/bases.c through store/store.h: each prewarmed
 * repository's default branch and head (issue 15), on a real sqlite file
 * in a per-test mkdtemp directory.
 *
 *   - a push records the head and enqueues ("base", "<provider>:<repo>");
 *     the same delivery again is a duplicate and changes nothing;
 *   - an ignored push records its delivery only (still deduplicated);
 *   - an older push (event_at) is stale: recorded, not applied;
 *   - a newer push with the same head enqueues nothing;
 *   - the forge's answer (store_base_set) applies whatever the recorded
 *     time, moves that time to now, and enqueues only on a change;
 *   - repositories compare without case; the job keeps the first case;
 *   - an installation id of 0 keeps the recorded one;
 *   - a long repository name reaches the job whole;
 *   - the schema step from version 5.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <limits.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lib/log.h"
#include "store/store.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccc"

struct fx {
	char dir[PATH_MAX];
	char path[PATH_MAX];
	struct store *st;
};

static int
open_store(struct fx *f)
{
	char err[512] = "";

	if (store_open(f->path, &f->st, err, sizeof(err)) != 0 ||
	    store_migrate(f->st, err, sizeof(err)) != 0) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_store_bases.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
	if (open_store(f) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	struct dirent *de;
	char p[PATH_MAX + 256];
	DIR *d;

	store_close(f->st);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static enum pr_result
push(struct store *st, const char *delivery, const char *repo,
    const char *sha, int64_t at, const char *ignore)
{
	struct base_push ev = {
		.provider = "github", .delivery = delivery, .event = "push",
		.ref = "refs/heads/main", .repo = repo, .branch = "main",
		.sha = sha, .event_at = at, .ignore = ignore,
	};
	enum pr_result r;

	assert_int_equal(store_base_push(st, &ev, &r), 0);
	return r;
}

static void
get_head(struct store *st, const char *repo, struct base_head *h)
{
	if (store_base_get(st, "github", repo, h) != 0)
		fail_msg("no base head for %s", repo);
}

/* Take the job due: it must be ("base", target); finish it. */
static void
expect_base_job(struct store *st, const char *target)
{
	struct job j;
	int64_t next;

	if (store_job_take(st, now_ms(), &j, &next) != 0)
		fail_msg("no job due, expected base %s", target);
	assert_string_equal(j.kind, "base");
	assert_string_equal(j.target, target);
	assert_int_equal(store_job_done(st, &j), 0);
}

static void
expect_no_job(struct store *st)
{
	struct job j;
	int64_t next;

	if (store_job_take(st, now_ms(), &j, &next) != 1)
		fail_msg("a job was due: %s %s", j.kind, j.target);
}

/* A delivery's recorded result, straight from the file ("" if none). */
static void
delivery_result(struct fx *f, const char *id, char *out, size_t outsz)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT result || '/' || "
	    "event || '/' || action FROM deliveries WHERE id = ?1", -1, &s,
	    NULL), SQLITE_OK);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(out, outsz, "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* ---- tests ---- */

static void
test_push_records_head_and_enqueues(void **state)
{
	struct fx *f = *state;
	struct base_head h;
	char res[128];

	assert_int_equal(store_base_get(f->st, "github", "acme/shop", &h), 1);
	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_A, 1000, NULL),
	    PR_ACCEPTED);
	get_head(f->st, "acme/shop", &h);
	assert_string_equal(h.provider, "github");
	assert_string_equal(h.repo, "acme/shop");
	assert_string_equal(h.api_target, "acme/shop");   /* NULL: repo */
	assert_string_equal(h.branch, "main");
	assert_string_equal(h.sha, SHA_A);
	assert_int_equal(h.event_at, 1000);
	assert_true(h.updated_at >= now_s() - 5);
	expect_base_job(f->st, "github:acme/shop");
	expect_no_job(f->st);
	delivery_result(f, "d1", res, sizeof(res));
	assert_string_equal(res, "accepted/push/refs/heads/main");
	/* Another provider's repository of the same name is another row. */
	assert_int_equal(store_base_get(f->st, "gitlab", "acme/shop", &h), 1);
}

static void
test_duplicate_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct base_head h;

	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_A, 1000, NULL),
	    PR_ACCEPTED);
	expect_base_job(f->st, "github:acme/shop");
	/* The same delivery id, whatever it now says. */
	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_B, 2000, NULL),
	    PR_DUPLICATE);
	get_head(f->st, "acme/shop", &h);
	assert_string_equal(h.sha, SHA_A);
	assert_int_equal(h.event_at, 1000);
	expect_no_job(f->st);
}

static void
test_ignored_records_delivery_only(void **state)
{
	struct fx *f = *state;
	struct base_head h;
	char res[128];

	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_A, 1000,
	    "not the default branch"), PR_IGNORED);
	assert_int_equal(store_base_get(f->st, "github", "acme/shop", &h), 1);
	expect_no_job(f->st);
	delivery_result(f, "d1", res, sizeof(res));
	assert_string_equal(res, "ignored/push/refs/heads/main");
	/* Recorded, so deduplicated like any other. */
	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_A, 1000, NULL),
	    PR_DUPLICATE);
	assert_int_equal(store_base_get(f->st, "github", "acme/shop", &h), 1);
}

static void
test_older_push_is_stale(void **state)
{
	struct fx *f = *state;
	struct base_head h;
	char res[128];

	assert_int_equal(push(f->st, "d2", "acme/shop", SHA_B, 2000, NULL),
	    PR_ACCEPTED);
	expect_base_job(f->st, "github:acme/shop");
	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_A, 1999, NULL),
	    PR_STALE);
	get_head(f->st, "acme/shop", &h);
	assert_string_equal(h.sha, SHA_B);
	assert_int_equal(h.event_at, 2000);
	expect_no_job(f->st);
	delivery_result(f, "d1", res, sizeof(res));
	assert_string_equal(res, "stale/push/refs/heads/main");
	/* Equal times apply in arrival order. */
	assert_int_equal(push(f->st, "d3", "acme/shop", SHA_C, 2000, NULL),
	    PR_ACCEPTED);
	get_head(f->st, "acme/shop", &h);
	assert_string_equal(h.sha, SHA_C);
	expect_base_job(f->st, "github:acme/shop");
}

static void
test_same_head_enqueues_nothing(void **state)
{
	struct fx *f = *state;
	struct base_head h;

	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_A, 1000, NULL),
	    PR_ACCEPTED);
	expect_base_job(f->st, "github:acme/shop");
	assert_int_equal(push(f->st, "d2", "acme/shop", SHA_A, 1500, NULL),
	    PR_ACCEPTED);
	expect_no_job(f->st);
	get_head(f->st, "acme/shop", &h);
	assert_int_equal(h.event_at, 1500);
	/* A job still queued is not queued twice by more pushes. */
	assert_int_equal(push(f->st, "d3", "acme/shop", SHA_B, 1600, NULL),
	    PR_ACCEPTED);
	assert_int_equal(push(f->st, "d4", "acme/shop", SHA_C, 1700, NULL),
	    PR_ACCEPTED);
	expect_base_job(f->st, "github:acme/shop");
	expect_no_job(f->st);
}

static void
test_set_applies_and_moves_time(void **state)
{
	struct fx *f = *state;
	struct base_head h;
	int64_t before = now_s();

	assert_int_equal(store_base_set(f->st, "gitlab", "grp/sub/shop",
	    "4711", 0, "trunk", SHA_A), 0);
	assert_int_equal(store_base_get(f->st, "gitlab", "grp/sub/shop", &h),
	    0);
	assert_string_equal(h.api_target, "4711");
	assert_string_equal(h.branch, "trunk");
	assert_string_equal(h.sha, SHA_A);
	assert_true(h.event_at >= before && h.event_at <= now_s());
	expect_base_job(f->st, "gitlab:grp/sub/shop");
	/* The same answer again (a reload): nothing to build. */
	assert_int_equal(store_base_set(f->st, "gitlab", "grp/sub/shop",
	    "4711", 0, "trunk", SHA_A), 0);
	expect_no_job(f->st);

	/* A recorded push newer than now (a forge clock ahead) keeps its
	 * time, but the forge's answer still applies. */
	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_A,
	    now_s() + 3600, NULL), PR_ACCEPTED);
	expect_base_job(f->st, "github:acme/shop");
	assert_int_equal(store_base_set(f->st, "github", "acme/shop", NULL, 0,
	    "main", SHA_B), 0);
	get_head(f->st, "acme/shop", &h);
	assert_string_equal(h.sha, SHA_B);
	assert_true(h.event_at > now_s() + 3000);
	expect_base_job(f->st, "github:acme/shop");
}

static void
test_push_made_before_lookup_is_stale(void **state)
{
	struct fx *f = *state;
	struct base_head h;
	int64_t before = now_s();

	assert_int_equal(store_base_set(f->st, "github", "acme/shop", NULL, 0,
	    "main", SHA_B), 0);
	expect_base_job(f->st, "github:acme/shop");
	/* Pushed an hour ago, delivered after the forge was asked. */
	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_A, before - 3600,
	    NULL), PR_STALE);
	get_head(f->st, "acme/shop", &h);
	assert_string_equal(h.sha, SHA_B);
	expect_no_job(f->st);
}

static void
test_repo_case_and_installation(void **state)
{
	struct fx *f = *state;
	struct base_push ev = {
		.provider = "github", .delivery = "d1", .event = "push",
		.ref = "refs/heads/main", .repo = "Acme/Shop", .branch = "main",
		.sha = SHA_A, .event_at = 1000, .installation_id = 42,
	};
	struct base_head h;
	enum pr_result r;

	assert_int_equal(store_base_push(f->st, &ev, &r), 0);
	assert_int_equal(r, PR_ACCEPTED);
	expect_base_job(f->st, "github:Acme/Shop");
	/* Another case is the same repository: one row, one job target. */
	assert_int_equal(push(f->st, "d2", "acme/shop", SHA_B, 1001, NULL),
	    PR_ACCEPTED);
	expect_base_job(f->st, "github:Acme/Shop");
	get_head(f->st, "ACME/SHOP", &h);
	assert_string_equal(h.sha, SHA_B);
	assert_int_equal(h.installation_id, 42);   /* 0 kept it */
	assert_int_equal(store_base_set(f->st, "github", "acme/shop", NULL, 0,
	    "main", SHA_C), 0);
	get_head(f->st, "acme/shop", &h);
	assert_int_equal(h.installation_id, 42);
	expect_base_job(f->st, "github:Acme/Shop");
}

static int
collect(const struct base_head *h, void *arg)
{
	char *out = arg;

	snprintf(out + strlen(out), 512 - strlen(out), "%s:%s@%.1s ",
	    h->provider, h->repo, h->sha);
	return 0;
}

static void
test_each_lists_every_head(void **state)
{
	struct fx *f = *state;
	char seen[512] = "";

	assert_int_equal(store_base_each(f->st, collect, seen), 0);
	assert_string_equal(seen, "");
	assert_int_equal(push(f->st, "d1", "b/two", SHA_B, 1, NULL),
	    PR_ACCEPTED);
	assert_int_equal(push(f->st, "d2", "a/one", SHA_A, 1, NULL),
	    PR_ACCEPTED);
	assert_int_equal(store_base_set(f->st, "gitlab", "g/three", "7", 0,
	    "main", SHA_C), 0);
	assert_int_equal(store_base_each(f->st, collect, seen), 0);
	assert_string_equal(seen, "github:a/one@a github:b/two@b "
	    "gitlab:g/three@c ");
}

static void
test_long_repo_reaches_job_whole(void **state)
{
	struct fx *f = *state;
	char repo[ENV_REPO_SIZE], target[ENV_REPO_SIZE + 16];

	memset(repo, 'x', sizeof(repo) - 1);
	repo[sizeof(repo) - 1] = '\0';
	repo[3] = '/';
	assert_int_equal(push(f->st, "d1", repo, SHA_A, 1, NULL), PR_ACCEPTED);
	snprintf(target, sizeof(target), "github:%s", repo);
	expect_base_job(f->st, target);
}

static void
test_too_long_branch_refused(void **state)
{
	struct fx *f = *state;
	char branch[BASE_BRANCH_SIZE + 1];
	struct base_head h;

	memset(branch, 'b', sizeof(branch) - 1);
	branch[sizeof(branch) - 1] = '\0';
	assert_int_equal(store_base_set(f->st, "github", "acme/shop", NULL, 0,
	    branch, SHA_A), -1);
	assert_int_equal(store_base_get(f->st, "github", "acme/shop", &h), 1);
	expect_no_job(f->st);
}

/* A file written by the previous schema gets the table on upgrade. */
static void
test_upgrade_from_version_5(void **state)
{
	struct fx *f = *state;
	struct base_head h;
	sqlite3 *db;

	store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	/* Back to version 5: without version 6's table, version 7's
	 * columns and version 8's changes (the reconcile table it drops
	 * back). */
	assert_int_equal(sqlite3_exec(db, "DROP TABLE base_heads; "
	    "ALTER TABLE pool DROP COLUMN base_env; "
	    "ALTER TABLE pool DROP COLUMN base_sha; "
	    "ALTER TABLE environments DROP COLUMN schema_from; "
	    "ALTER TABLE environments DROP COLUMN size_at; "
	    "ALTER TABLE orphans DROP COLUMN seen_at; "
	    "DROP TABLE reconcile_pages; "
	    "CREATE TABLE reconcile (target TEXT PRIMARY KEY, etag TEXT NOT "
	    "NULL DEFAULT '', checked_at INTEGER NOT NULL DEFAULT 0); "
	    "PRAGMA user_version = 5", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(open_store(f), 0);
	assert_int_equal(store_base_get(f->st, "github", "acme/shop", &h), 1);
	assert_int_equal(push(f->st, "d1", "acme/shop", SHA_A, 1, NULL),
	    PR_ACCEPTED);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_push_records_head_and_enqueues),
		T(test_duplicate_changes_nothing),
		T(test_ignored_records_delivery_only),
		T(test_older_push_is_stale),
		T(test_same_head_enqueues_nothing),
		T(test_set_applies_and_moves_time),
		T(test_push_made_before_lookup_is_stale),
		T(test_repo_case_and_installation),
		T(test_each_lists_every_head),
		T(test_long_repo_reaches_job_whole),
		T(test_too_long_branch_refused),
		T(test_upgrade_from_version_5),
	};

	log_setup(LL_ERROR, LOG_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
