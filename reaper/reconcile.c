/*
 * reconcile: environments whose pull request closed without a webhook.
 */
#include "reaper/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forges/github.h"
#include "forges/gitlab.h"
#include "lib/log.h"
#include "core/metrics.h"


struct target {
	char provider[16], repo[ENV_REPO_SIZE], api[ENV_REPO_SIZE];
	int64_t installation;
	bool found;
};

static int
on_target(const char *provider, const char *repo, const char *api,
    int64_t installation, void *arg)
{
	struct target *t = arg;

	if (strcmp(t->provider, provider) != 0 || strcmp(t->repo, repo) != 0)
		return 0;
	str_copy(t->api, api[0] ? api : repo, sizeof(t->api));
	t->installation = installation;
	t->found = true;
	return 1;
}

/* Pages of a list followed at most: a million open pull requests, past
 * any repository; the bound is for a forge whose next links go round in
 * a circle. */
#define RECONCILE_PAGES 10000

/* The open numbers: every page's, sorted once they are all in. */
struct open_set {
	int64_t *v;
	size_t n, cap;
};

static int
open_add(struct open_set *s, int64_t number)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		int64_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = number;
	return 0;
}

static int
cmp_number(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static bool
open_has(const struct open_set *s, int64_t number)
{
	return s->n > 0 && bsearch(&number, s->v, s->n, sizeof(*s->v),
	    cmp_number) != NULL;
}

/* A page's numbers as the state keeps them: "12,7,3". */
static int
numbers_parse(const char *text, struct open_set *s)
{
	const char *p = text;
	char *end;
	long long n;

	while (p != NULL && *p != '\0') {
		n = strtoll(p, &end, 10);
		if (end == p || n < 1 || open_add(s, n) != 0)
			return -1;
		p = *end == ',' ? end + 1 : NULL;
	}
	return 0;
}

static enum forge_rc
fetch_page(struct forge_call *call, const char *api, bool gitlab,
    struct forge_page *p)
{
	return gitlab ? gitlab_open_merge_requests_page(call, api, p) :
	    github_open_pulls_page(call, api, p);
}

/* The whole list of open pull (merge) requests into open, a page at a
 * time, each page asked for with the ETag it had when last read: a page
 * answered 304 is taken from the state, one answered 200 is recorded
 * there. Returns the forge's outcome; FORGE_OK only when every page was
 * read. */
static enum forge_rc
read_open(struct worker *w, const struct job *j, struct forge_call *call,
    const char *api, bool gitlab, struct open_set *open, int *unchanged)
{
	struct reconcile_page cached, in;
	struct forge_page p;
	struct buf text, cached_numbers;
	char url[FORGE_URL_SIZE];
	enum forge_rc rc = FORGE_FAIL;
	int page, have;
	size_t i, before;

	memset(&p, 0, sizeof(p));
	buf_init(&text, (size_t)64 << 20);
	buf_init(&cached_numbers, (size_t)64 << 20);
	url[0] = '\0';
	for (page = 1; page <= RECONCILE_PAGES; page++) {
		free(p.numbers);
		memset(&p, 0, sizeof(p));
		str_copy(p.url, url, sizeof(p.url));
		have = store_reconcile_page(w->store, j->target, page, &cached,
		    &cached_numbers);
		if (have == 1 && strcmp(cached.url, url) == 0)
			str_copy(p.etag, cached.etag, sizeof(p.etag));
		rc = fetch_page(call, api, gitlab, &p);
		before = open->n;
		if (rc == FORGE_OK && p.unchanged) {
			if (numbers_parse(cached_numbers.data, open) != 0)
				goto nomem;
			/* A full last page may have gained a page after it
			 * without changing itself: asked for again, whole. */
			if (cached.next[0] == '\0' && open->n - before >=
			    FORGE_PER_PAGE) {
				open->n = before;
				str_copy(p.url, url, sizeof(p.url));
				p.etag[0] = '\0';
				rc = fetch_page(call, api, gitlab, &p);
			}
		}
		if (rc != FORGE_OK)
			goto out;
		if (p.unchanged) {
			str_copy(url, cached.next, sizeof(url));
			(*unchanged)++;
		} else {
			buf_reset(&text);
			for (i = 0; i < p.n; i++)
				if (open_add(open, p.numbers[i]) != 0 ||
				    buf_printf(&text, i ? ",%lld" : "%lld",
				    (long long)p.numbers[i]) != 0)
					goto nomem;
			str_copy(in.url, url, sizeof(in.url));
			str_copy(in.etag, p.etag, sizeof(in.etag));
			str_copy(in.next, p.next, sizeof(in.next));
			/* Not kept: the next pass reads the page again. */
			if (store_reconcile_set_page(w->store, j->target, page,
			    &in, text.data ? text.data : "") != 0)
				log_warnx("reconcile %s: cannot record page %d",
				    j->target, page);
			str_copy(url, p.next, sizeof(url));
		}
		if (url[0] == '\0') {
			if (store_reconcile_trim(w->store, j->target, page) != 0)
				log_warnx("reconcile %s: cannot forget the pages "
				    "after %d", j->target, page);
			rc = FORGE_OK;
			goto out;
		}
	}
	snprintf(call->error, sizeof(call->error), "the list of open pull "
	    "requests goes on past %d pages", RECONCILE_PAGES);
	rc = FORGE_FAIL;
	goto out;
nomem:
	str_copy(call->error, "out of memory", sizeof(call->error));
	rc = FORGE_FAIL;
out:
	free(p.numbers);
	buf_release(&text);
	buf_release(&cached_numbers);
	return rc;
}

/* Environments whose pull request the list leaves out: candidates, each
 * confirmed with the forge before it goes. The array is the cap on
 * confirmations a pass makes, one request each, so that a list that
 * lies wholesale costs a bounded number of requests; the rest wait for
 * the next pass. */
#define RECONCILE_CONFIRMS 256
struct closed {
	const struct open_set *open;
	int64_t before;
	char ids[RECONCILE_CONFIRMS][ENV_ID_SIZE];
	int64_t numbers[RECONCILE_CONFIRMS];
	int n;
	int deferred;          /* missing, but within the grace or past the cap */
};

static int
on_env(const char *id, int64_t number, int64_t activity_at, void *arg)
{
	struct closed *c = arg;

	if (open_has(c->open, number))
		return 0;
	if (activity_at >= c->before || c->n == (int)ARRAY_SIZE(c->ids)) {
		c->deferred++;
	} else {
		str_copy(c->ids[c->n], id, ENV_ID_SIZE);
		c->numbers[c->n++] = number;
	}
	return 0;
}

static enum forge_rc
confirm_closed(struct forge_call *call, const char *api, bool gitlab,
    int64_t number, bool *closed)
{
	return gitlab ? gitlab_merge_request_closed(call, api, number, closed) :
	    github_pull_closed(call, api, number, closed);
}

/* Ask the forge about each candidate, and delete only those it says are
 * closed: a pull request that opens or closes while the list is read
 * shifts the later pages by one, and the one at a page's edge is on
 * neither, so the list alone is never proof. Anything but a clear
 * "closed" keeps the environment for this pass. FORGE_RETRY (a rate
 * limit, a forge down) stops the asking, with call->retry_ms set: the
 * requests after it would fare no better. */
static enum forge_rc
delete_confirmed(struct worker *w, struct forge_call *call,
    const struct target *t, bool gitlab, const struct closed *c)
{
	const char *forge = gitlab ? "GitLab" : "GitHub";
	char reason[128];
	enum forge_rc rc = FORGE_OK;
	bool closed;
	int i;

	snprintf(reason, sizeof(reason), "closed on %s (no close webhook "
	    "arrived; found by the reconciliation)", forge);
	for (i = 0; i < c->n; i++) {
		rc = confirm_closed(call, t->api, gitlab, c->numbers[i], &closed);
		if (rc == FORGE_RETRY) {
			log_info("environment %s of %s: missing from the list "
			    "of open pull requests; #%lld cannot be asked about "
			    "now (%s): kept, asked again later", c->ids[i],
			    t->repo, (long long)c->numbers[i], call->error);
			goto out;
		}
		if (rc == FORGE_NOT_FOUND) {
			/* As for a list answered 404: the repository may be
			 * gone, or the credentials may no longer see it, and
			 * neither says the pull request closed. The TTL
			 * removes the environment if it stays so. */
			log_warnx("environment %s of %s: missing from the list "
			    "of open pull requests, but %s answers 404 for "
			    "#%lld itself: kept", c->ids[i], t->repo, forge,
			    (long long)c->numbers[i]);
			continue;
		}
		if (rc != FORGE_OK) {
			log_warnx("environment %s of %s: missing from the list "
			    "of open pull requests, and #%lld cannot be asked "
			    "about (%s): kept", c->ids[i], t->repo,
			    (long long)c->numbers[i], call->error);
			continue;
		}
		if (!closed) {
			log_info("environment %s of %s: #%lld is open on %s "
			    "though its list left it out (a page shifted "
			    "while it was read): kept", c->ids[i], t->repo,
			    (long long)c->numbers[i], forge);
			continue;
		}
		if (store_env_request_delete(w->store, c->ids[i], reason) == 0) {
			log_warnx("environment %s of %s: the pull request is "
			    "closed (confirmed with %s): deleting", c->ids[i],
			    t->repo, forge);
			metrics_deletion("reconcile");
			jobs_notify();
		}
	}
	rc = FORGE_OK;
out:
	return rc;
}

enum job_result
reconcile_run(struct worker *w, const struct job *j, struct job_outcome *o)
{
	struct target t;
	struct forge_call call;
	struct open_set open = { NULL, 0, 0 };
	struct closed *closed = NULL;
	const char *colon = strchr(j->target, ':');
	bool gitlab;
	enum forge_rc rc;
	enum job_result res = JOB_DONE;
	int64_t started = now_s();
	int unchanged = 0;

	memset(&t, 0, sizeof(t));
	if (colon == NULL || (size_t)(colon - j->target) >= sizeof(t.provider))
		return JOB_DONE;
	memcpy(t.provider, j->target, (size_t)(colon - j->target));
	str_copy(t.repo, colon + 1, sizeof(t.repo));
	gitlab = strcmp(t.provider, "gitlab") == 0;
	if (store_reconcile_targets(w->store, on_target, &t) != 0 || !t.found)
		return JOB_DONE;      /* nothing open there any more */
	if ((closed = calloc(1, sizeof(*closed))) == NULL)
		goto out;

	memset(&call, 0, sizeof(call));
	call.http = worker_http(w);
	call.cfg = w->cfg;
	call.attempts = j->attempts;
	call.installation = t.installation;
	if (call.http == NULL)
		goto out;
	rc = read_open(w, j, &call, t.api, gitlab, &open, &unchanged);
	if (rc == FORGE_RETRY) {
		o->retry_ms = call.retry_ms;
		str_copy(o->error, call.error, sizeof(o->error));
		res = JOB_RETRY;
		goto out;
	}
	/* A list not read to its end cannot prove a pull request closed. */
	if (rc != FORGE_OK) {
		log_warnx("reconcile %s: %s", j->target, call.error);
		goto out;
	}
	if (open.n > 1)
		qsort(open.v, open.n, sizeof(*open.v), cmp_number);
	log_debug("reconcile %s: %zu open (%d pages unchanged)", j->target,
	    open.n, unchanged);
	closed->open = &open;
	/* A list can lag a pull request opened moments ago, and a close
	 * webhook may still be on its way: act only on environments quiet
	 * for the orphan grace. An unchanged list is acted on as much as a
	 * new one: its pages are the state's, and what waited for the
	 * grace is decided when it is over. */
	closed->before = started - w->cfg->reaper.orphan_grace;
	if (store_env_each_open(w->store, t.provider, t.repo, on_env,
	    closed) != 0)
		goto out;
	if (delete_confirmed(w, &call, &t, gitlab, closed) == FORGE_RETRY) {
		o->retry_ms = call.retry_ms;
		str_copy(o->error, call.error, sizeof(o->error));
		res = JOB_RETRY;
	}
out:
	free(open.v);
	free(closed);
	return res;
}
