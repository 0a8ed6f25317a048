/*
 * Unit tests for the store's lists a page at a time (store_env_page,
 * store_env_status_counts, store_env_repos), through store/store.h, on a
 * real sqlite file in a per-test mkdtemp directory.
 *
 *   - paging forward by creation from the first page to the last sees
 *     every environment once, in the order the whole list has, while
 *     environments are created, closed and deleted between the pages;
 *     *more is false on the last page only;
 *   - ties: environments made in the same second (all of them here) are
 *     ordered, and paged, by their row;
 *   - the lists: pull requests without CI databases or bases, CI
 *     databases only, everything; deleted ones never;
 *   - backward from a position: the rows before it, nearest first, and
 *     *more when more lie before;
 *   - the filters in SQL: repository (without case), the status shown
 *     ("deleting" for one asked to go), and the expiry order;
 *   - the counts by status shown, with and without a repository, and
 *     the repositories by name.
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

#include "lib/log.h"
#include "store/store.h"

struct fx {
	char dir[PATH_MAX];
	char path[PATH_MAX];
	struct store *st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char err[512] = "";

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_store_pages.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
	if (store_open(f->path, &f->st, err, sizeof(err)) != 0 ||
	    store_migrate(f->st, err, sizeof(err)) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
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

static void
open_pr(struct store *st, const char *repo, int64_t number, int64_t ttl,
    char id[ENV_ID_SIZE])
{
	char delivery[64];
	struct pr_event ev = {
		.provider = "github",
		.delivery = delivery,
		.event = "pull_request",
		.action = "opened",
		.op = PR_OPEN,
		.repo = repo,
		.number = number,
		.head_sha = "0123456789abcdef0123456789abcdef01234567",
		.event_at = 1000,
		.engine = "postgres",
		.ttl = ttl,
	};
	enum pr_result r;
	char scratch[ENV_ID_SIZE];

	snprintf(delivery, sizeof(delivery), "d-%s-%lld", repo,
	    (long long)number);
	if (store_pr_event(st, &ev, &r, id != NULL ? id : scratch, NULL) != 0 ||
	    r != PR_ACCEPTED)
		fail_msg("open %s#%lld", repo, (long long)number);
}

static void
close_pr(struct store *st, const char *repo, int64_t number)
{
	char delivery[64], id[ENV_ID_SIZE];
	struct pr_event ev = {
		.provider = "github",
		.delivery = delivery,
		.event = "pull_request",
		.action = "closed",
		.op = PR_CLOSE,
		.repo = repo,
		.number = number,
		.head_sha = "0123456789abcdef0123456789abcdef01234567",
		.event_at = 2000,
		.engine = "postgres",
		.ttl = 3600,
	};
	enum pr_result r;

	snprintf(delivery, sizeof(delivery), "c-%s-%lld", repo,
	    (long long)number);
	if (store_pr_event(st, &ev, &r, id, NULL) != 0 || r != PR_ACCEPTED)
		fail_msg("close %s#%lld", repo, (long long)number);
}

/* What a worker does at the end of a teardown. */
static void
mark_deleted(struct store *st, const char *id)
{
	struct env e;

	assert_int_equal(store_env_get(st, id, &e), 0);
	e.status = ENV_DELETED;
	e.secret_len = 0;
	assert_int_equal(store_env_save(st, &e), 0);
}

static void
ci_db(struct store *st, const char *name, char id[ENV_ID_SIZE])
{
	struct ci_request r = {
		.name = name, .engine = "postgres", .ttl = 3600,
		.blueprint = "", .max_databases = 100,
	};
	enum ci_result res;

	if (store_ci_create(st, &r, &res, id) != 0 || res != CI_CREATED)
		fail_msg("CI database %s", name);
}

#define SEEN_MAX 64

struct seen {
	int64_t number[SEEN_MAX];
	char repo[SEEN_MAX][32];
	struct env_pos pos[SEEN_MAX];
	int n;
};

static int
collect(const struct env *e, const struct env_pos *pos, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < SEEN_MAX);
	s->number[s->n] = e->number;
	snprintf(s->repo[s->n], sizeof(s->repo[0]), "%s", e->repo);
	s->pos[s->n] = *pos;
	s->n++;
	return 0;
}

/* One page into s (reset first); returns *more. */
static bool
page(struct store *st, const struct env_query *q, struct seen *s)
{
	bool more = true;

	memset(s, 0, sizeof(*s));
	assert_int_equal(store_env_page(st, q, collect, s, &more), 0);
	return more;
}

/* ---- tests ---- */

static void
test_forward_pages_see_each_survivor_once(void **state)
{
	struct fx *f = *state;
	struct env_query q = { .list = ENV_LIST_PR, .limit = 3 };
	struct env_pos from;
	struct seen s;
	int hits[64] = { 0 };
	int64_t i, last = 0;
	char ids[64][ENV_ID_SIZE], ci[ENV_ID_SIZE];
	int pages = 0;
	bool more;

	/* 1..10 open; a CI database, which this list leaves out; #20 is
	 * closed before the listing starts. */
	for (i = 1; i <= 10; i++)
		open_pr(f->st, "acme/shop", i, 3600, ids[i]);
	ci_db(f->st, "ci-run", ci);
	open_pr(f->st, "acme/shop", 20, 3600, ids[20]);
	close_pr(f->st, "acme/shop", 20);
	mark_deleted(f->st, ids[20]);

	do {
		more = page(f->st, &q, &s);
		pages++;
		assert_true(s.n <= 3);
		assert_true(s.n > 0);
		for (i = 0; i < s.n; i++) {
			assert_true(s.number[i] > 0 && s.number[i] < 64);
			hits[s.number[i]]++;
			/* Oldest first: rows rise in the order. */
			assert_true(s.pos[i].row > last);
			last = s.pos[i].row;
		}
		from = s.pos[s.n - 1];
		q.from = &from;
		/* Between pages: one new, one closed (still listed, as
		 * "deleting"), one deleted outright, of those not yet
		 * seen and already seen. */
		if (pages == 1) {
			open_pr(f->st, "acme/shop", 30, 3600, ids[30]);
			close_pr(f->st, "acme/shop", 9);
			close_pr(f->st, "acme/shop", 2);
			mark_deleted(f->st, ids[2]);
			close_pr(f->st, "acme/shop", 8);
			mark_deleted(f->st, ids[8]);
		}
	} while (more);

	/* 1..10 lived throughout except 8, deleted before its page came:
	 * each seen once; 30, made during the listing after the position,
	 * shows too; the CI database and #20 never. */
	for (i = 1; i <= 10; i++)
		assert_int_equal(hits[i], i == 8 ? 0 : 1);
	assert_int_equal(hits[30], 1);
	assert_int_equal(hits[20], 0);
	/* The last page said so, and a page past it is empty. */
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 0);
	/* 10 rows (1..10 less 8, plus 30) in pages of 3: 4 pages. */
	assert_int_equal(pages, 4);
}

static void
test_exact_multiple_has_no_empty_last_page(void **state)
{
	struct fx *f = *state;
	struct env_query q = { .list = ENV_LIST_PR, .limit = 3 };
	struct env_pos from;
	struct seen s;
	int64_t i;

	for (i = 1; i <= 6; i++)
		open_pr(f->st, "acme/shop", i, 3600, NULL);
	assert_true(page(f->st, &q, &s));
	assert_int_equal(s.n, 3);
	from = s.pos[2];
	q.from = &from;
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 3);
	assert_int_equal(s.number[0], 4);
	assert_int_equal(s.number[2], 6);
}

static void
test_lists_pr_ci_all(void **state)
{
	struct fx *f = *state;
	struct env_query q = { .limit = 100 };
	struct base_head h;
	char id[ENV_ID_SIZE];
	struct seen s;

	open_pr(f->st, "acme/shop", 1, 3600, NULL);
	ci_db(f->st, "one", id);
	ci_db(f->st, "two", id);
	memset(&h, 0, sizeof(h));
	snprintf(h.provider, sizeof(h.provider), "github");
	snprintf(h.repo, sizeof(h.repo), "acme/shop");
	snprintf(h.api_target, sizeof(h.api_target), "acme/shop");
	snprintf(h.branch, sizeof(h.branch), "main");
	snprintf(h.sha, sizeof(h.sha), "%040d", 7);
	assert_int_equal(store_base_env_want(f->st, &h, "postgres", id), 0);

	q.list = ENV_LIST_PR;
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.number[0], 1);
	q.list = ENV_LIST_CI;
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 2);
	assert_string_equal(s.repo[0], ENV_CI);
	assert_int_equal(s.number[0], 1);
	assert_int_equal(s.number[1], 2);
	q.list = ENV_LIST_ALL;
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 4);
	assert_int_equal(s.number[3], ENV_BASE_NUMBER);
}

static void
test_backward_nearest_first(void **state)
{
	struct fx *f = *state;
	struct env_query q = { .list = ENV_LIST_PR, .limit = 100 };
	struct env_pos at;
	struct seen all, s;
	int64_t i;

	for (i = 1; i <= 7; i++)
		open_pr(f->st, "acme/shop", i, 3600, NULL);
	assert_false(page(f->st, &q, &all));
	assert_int_equal(all.n, 7);

	/* Before #6: 5 and 4, and more before them. */
	at = all.pos[5];
	q.from = &at;
	q.backward = true;
	q.limit = 2;
	assert_true(page(f->st, &q, &s));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.number[0], 5);
	assert_int_equal(s.number[1], 4);
	/* Before #3: 2 and 1, the start. */
	at = all.pos[2];
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.number[0], 2);
	assert_int_equal(s.number[1], 1);
	/* Backward from nowhere: the list's end. */
	q.from = NULL;
	assert_true(page(f->st, &q, &s));
	assert_int_equal(s.number[0], 7);
	assert_int_equal(s.number[1], 6);
}

static void
test_filters_and_expiry_order(void **state)
{
	struct fx *f = *state;
	struct env_query q = { .list = ENV_LIST_ALL, .limit = 100 };
	struct env_pos from;
	struct seen s;
	char id[ENV_ID_SIZE];

	/* Expiry: #1 last, #3 first. */
	open_pr(f->st, "acme/shop", 1, 3 * 3600, NULL);
	open_pr(f->st, "acme/shop", 2, 2 * 3600, NULL);
	open_pr(f->st, "acme/shop", 3, 1 * 3600, id);
	open_pr(f->st, "Other/Repo", 4, 4 * 3600, NULL);
	close_pr(f->st, "acme/shop", 2);

	/* The repository compares without case. */
	q.repo = "ACME/shop";
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 3);
	q.repo = "other/repo";
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.number[0], 4);

	/* The status shown: #2 was closed and is "deleting", not
	 * "provisioning". */
	q.repo = NULL;
	q.status = "deleting";
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.number[0], 2);
	q.status = "provisioning";
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 3);
	q.status = "no-such-status";
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 0);

	/* By expiry, paged: 3, 2, then 1, 4. */
	q.status = NULL;
	q.order = ENV_ORDER_EXPIRES;
	q.limit = 2;
	assert_true(page(f->st, &q, &s));
	assert_int_equal(s.number[0], 3);
	assert_int_equal(s.number[1], 2);
	assert_true(s.pos[0].key <= s.pos[1].key);
	from = s.pos[1];
	q.from = &from;
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.number[0], 1);
	assert_int_equal(s.number[1], 4);
	/* Filters and position together. */
	q.repo = "acme/shop";
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.number[0], 1);
	/* Deleted ones are in no list. */
	close_pr(f->st, "acme/shop", 3);
	mark_deleted(f->st, id);
	q.from = NULL;
	q.limit = 100;
	assert_false(page(f->st, &q, &s));
	assert_int_equal(s.n, 2);
}

struct counts {
	char status[8][16];
	int64_t n[8];
	int k;
	char repos[8][32];
	int r;
};

static int
count_one(const char *status, int64_t n, void *arg)
{
	struct counts *c = arg;

	assert_true(c->k < 8);
	snprintf(c->status[c->k], sizeof(c->status[0]), "%s", status);
	c->n[c->k++] = n;
	return 0;
}

static int
repo_one(const char *repo, void *arg)
{
	struct counts *c = arg;

	assert_true(c->r < 8);
	snprintf(c->repos[c->r++], sizeof(c->repos[0]), "%s", repo);
	return 0;
}

static void
test_status_counts_and_repos(void **state)
{
	struct fx *f = *state;
	struct counts c;
	char id[ENV_ID_SIZE], gone[ENV_ID_SIZE];

	open_pr(f->st, "zeta/app", 1, 3600, NULL);
	open_pr(f->st, "acme/shop", 1, 3600, NULL);
	open_pr(f->st, "acme/shop", 2, 3600, NULL);
	open_pr(f->st, "acme/shop", 3, 3600, gone);
	close_pr(f->st, "acme/shop", 2);
	close_pr(f->st, "acme/shop", 3);
	mark_deleted(f->st, gone);
	ci_db(f->st, "x", id);

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_env_status_counts(f->st, ENV_LIST_ALL, NULL,
	    count_one, &c), 0);
	assert_int_equal(c.k, 2);
	assert_string_equal(c.status[0], "deleting");
	assert_int_equal(c.n[0], 1);
	assert_string_equal(c.status[1], "provisioning");
	assert_int_equal(c.n[1], 3);      /* zeta#1, acme#1, the CI one */

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_env_status_counts(f->st, ENV_LIST_ALL,
	    "ACME/SHOP", count_one, &c), 0);
	assert_int_equal(c.k, 2);
	assert_int_equal(c.n[0], 1);
	assert_int_equal(c.n[1], 1);

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_env_status_counts(f->st, ENV_LIST_CI, NULL,
	    count_one, &c), 0);
	assert_int_equal(c.k, 1);
	assert_int_equal(c.n[0], 1);

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_env_repos(f->st, 10, repo_one, &c), 0);
	assert_int_equal(c.r, 3);
	assert_string_equal(c.repos[0], "acme/shop");
	assert_string_equal(c.repos[1], ENV_CI);
	assert_string_equal(c.repos[2], "zeta/app");
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_env_repos(f->st, 1, repo_one, &c), 0);
	assert_int_equal(c.r, 1);
}

static void
test_bad_query_refused(void **state)
{
	struct fx *f = *state;
	struct env_query q = { .list = ENV_LIST_PR, .limit = 0 };
	struct seen s;
	bool more;

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_env_page(f->st, &q, collect, &s, &more), -1);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_forward_pages_see_each_survivor_once),
		T(test_exact_multiple_has_no_empty_last_page),
		T(test_lists_pr_ci_all),
		T(test_backward_nearest_first),
		T(test_filters_and_expiry_order),
		T(test_status_counts_and_repos),
		T(test_bad_query_refused),
	};

	log_setup(LL_WARN, LOG_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
