/*
 * metrics: the counters and their exposition.
 */
#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "core/health.h"
#include "core/pooler.h"
#include "engines/engine.h"
#include "lib/config.h"
#include "store/store.h"

#define ENGINES 2                 /* postgres, mysql: engine_at order */

static const char *const providers[MP_PROVIDERS] = {
	"github", "gitlab", "vercel",
};
static const char *const events[] = {
	"pull_request", "merge_request", "deployment", "push", "ping", "other",
};
/* Each provider's own event (index in events), shown even before the
 * first delivery so a dashboard has a series to draw. */
static const size_t main_event[MP_PROVIDERS] = { 0, 1, 2 };
static const char *const outcomes[MO_OUTCOMES] = {
	"accepted", "duplicate", "stale", "ignored", "bad_signature",
	"bad_request", "too_large", "unavailable",
};
static const char *const reasons[] = {
	"close", "ttl", "reconcile", "api", "other",
};
static const char *const forges[] = { "github", "gitlab", "vercel" };
static const char *const forge_outcomes[] = {
	"ok", "not_found", "retry", "rate_limited", "failed",
};
/* Seconds. */
static const double buckets[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};
#define NBUCKETS ARRAY_SIZE(buckets)

struct histogram {
	atomic_ullong le[NBUCKETS];       /* cumulative at render */
	atomic_ullong count;
	atomic_ullong sum_us;
};

static atomic_ullong webhooks[MP_PROVIDERS][ARRAY_SIZE(events)][MO_OUTCOMES];
static atomic_ullong claims[ENGINES][2];
static struct histogram provision[ENGINES], migration[ENGINES];
static struct histogram base_build[ENGINES], prewarm_copy[ENGINES];
static atomic_ullong schema_from[ENGINES][2];     /* [empty, base] */
static atomic_ullong prewarm_fallbacks[ENGINES];
static atomic_ullong reaper_runs, delete_failures;
static atomic_ullong deletions[ARRAY_SIZE(reasons)];
static atomic_ullong orphans[ENGINES];
static atomic_ullong forge_calls[ARRAY_SIZE(forges)][ARRAY_SIZE(forge_outcomes)];

/* The last hour's claims, for the admin page. */
#define RECENT 4096
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int64_t at;
	bool cold;
} recent[ENGINES][RECENT];
static size_t recent_next[ENGINES];

static int
engine_index(const char *engine)
{
	int i;

	for (i = 0; i < ENGINES && engine_at((size_t)i) != NULL; i++)
		if (strcmp(engine_at((size_t)i)->name, engine) == 0)
			return i;
	return -1;
}

static size_t
index_of(const char *const *names, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return n - 1;     /* the last entry is the catch-all */
}

void
metrics_webhook(enum metric_provider p, const char *event,
    enum metric_outcome o)
{
	size_t e = ARRAY_SIZE(events) - 1;

	if (event != NULL) {
		if (strcmp(event, "Merge Request Hook") == 0)
			e = 1;
		else if (strncmp(event, "deployment", 10) == 0)
			e = 2;
		else if (strcmp(event, "Push Hook") == 0)
			e = 3;
		else
			e = index_of(events, ARRAY_SIZE(events), event);
	}
	if (p < MP_PROVIDERS && o < MO_OUTCOMES)
		atomic_fetch_add(&webhooks[p][e][o], 1);
}

void
metrics_claim(const char *engine, bool cold)
{
	int i = engine_index(engine);

	if (i < 0)
		return;
	atomic_fetch_add(&claims[i][cold], 1);
	pthread_mutex_lock(&recent_lock);
	recent[i][recent_next[i]].at = now_s();
	recent[i][recent_next[i]].cold = cold;
	recent_next[i] = (recent_next[i] + 1) % RECENT;
	pthread_mutex_unlock(&recent_lock);
}

void
metrics_claims_last_hour(const char *engine, int *pool, int *cold)
{
	int64_t since = now_s() - 3600;
	int i = engine_index(engine);
	size_t k;

	*pool = *cold = 0;
	if (i < 0)
		return;
	pthread_mutex_lock(&recent_lock);
	for (k = 0; k < RECENT; k++) {
		if (recent[i][k].at == 0 || recent[i][k].at < since)
			continue;
		if (recent[i][k].cold)
			(*cold)++;
		else
			(*pool)++;
	}
	pthread_mutex_unlock(&recent_lock);
}

static void
observe(struct histogram *h, double seconds)
{
	size_t b;

	for (b = 0; b < NBUCKETS; b++)
		if (seconds <= buckets[b])
			atomic_fetch_add(&h->le[b], 1);
	atomic_fetch_add(&h->count, 1);
	atomic_fetch_add(&h->sum_us, (unsigned long long)(seconds * 1e6));
}

void
metrics_provisioned(const char *engine, double seconds)
{
	int i = engine_index(engine);

	if (i >= 0)
		observe(&provision[i], seconds);
}

void
metrics_migrated(const char *engine, double seconds)
{
	int i = engine_index(engine);

	if (i >= 0)
		observe(&migration[i], seconds);
}

void
metrics_schema_from(const char *engine, bool base)
{
	int i = engine_index(engine);

	if (i >= 0)
		atomic_fetch_add(&schema_from[i][base], 1);
}

void
metrics_prewarm_fallback(const char *engine)
{
	int i = engine_index(engine);

	if (i >= 0)
		atomic_fetch_add(&prewarm_fallbacks[i], 1);
}

void
metrics_base_built(const char *engine, double seconds)
{
	int i = engine_index(engine);

	if (i >= 0)
		observe(&base_build[i], seconds);
}

void
metrics_prewarm_copied(const char *engine, double seconds)
{
	int i = engine_index(engine);

	if (i >= 0)
		observe(&prewarm_copy[i], seconds);
}

/* previewd_prewarm_idle: each prewarmed repository's idle copies. */
struct idle_cb {
	struct buf *out;
	int rc;
};

static int
prewarm_idle_row(const char *provider, const char *repo,
    const char *engine, int64_t n, void *arg)
{
	struct idle_cb *c = arg;

	/* Repository names are [A-Za-z0-9._/-] (webhook_repo_ok): nothing to
	 * escape in a label. */
	c->rc |= buf_printf(c->out, "previewd_prewarm_idle{provider=\"%s\","
	    "repo=\"%s\",engine=\"%s\"} %lld\n", provider, repo, engine,
	    (long long)n);
	return 0;
}

void
metrics_reaper_run(void)
{
	atomic_fetch_add(&reaper_runs, 1);
}

void
metrics_deletion(const char *reason)
{
	atomic_fetch_add(&deletions[index_of(reasons, ARRAY_SIZE(reasons),
	    reason)], 1);
}

void
metrics_orphan_dropped(const char *engine)
{
	int i = engine_index(engine);

	if (i >= 0)
		atomic_fetch_add(&orphans[i], 1);
}

void
metrics_delete_failed(void)
{
	atomic_fetch_add(&delete_failures, 1);
}

void
metrics_forge(const char *forge, const char *outcome, const char *reason)
{
	size_t f, o;

	for (f = 0; f < ARRAY_SIZE(forges); f++)
		if (strncasecmp(forge, forges[f], strlen(forges[f])) == 0)
			break;
	if (f == ARRAY_SIZE(forges))
		return;
	o = index_of(forge_outcomes, ARRAY_SIZE(forge_outcomes), outcome);
	atomic_fetch_add(&forge_calls[f][o], 1);
	health_forge_seen(forges[f], strcmp(outcome, "retry") != 0, reason);
}

static bool
forge_configured(const struct config *cfg, size_t f)
{
	return f == 0 ? cfg->github.configured : f == 1 ?
	    cfg->gitlab.configured : cfg->vercel.configured;
}

/* ---- the exposition ---- */

static int
head(struct buf *b, const char *name, const char *type, const char *help)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static int
histogram(struct buf *b, const char *name, const char *help,
    struct histogram *h)
{
	int rc = head(b, name, "histogram", help);
	size_t i, b2;

	for (i = 0; i < ENGINES && engine_at(i) != NULL; i++) {
		const char *e = engine_at(i)->name;

		for (b2 = 0; b2 < NBUCKETS; b2++)
			rc |= buf_printf(b, "%s_bucket{engine=\"%s\",le=\"%g\"} "
			    "%llu\n", name, e, buckets[b2],
			    atomic_load(&h[i].le[b2]));
		rc |= buf_printf(b, "%s_bucket{engine=\"%s\",le=\"+Inf\"} %llu\n"
		    "%s_sum{engine=\"%s\"} %.6f\n%s_count{engine=\"%s\"} %llu\n",
		    name, e, atomic_load(&h[i].count), name, e,
		    (double)atomic_load(&h[i].sum_us) / 1e6, name, e,
		    atomic_load(&h[i].count));
	}
	return rc;
}

struct count_ctx {
	struct buf *b;
	int rc;
};

static int
env_count(const char *engine, const char *status, int64_t n, void *arg)
{
	struct count_ctx *c = arg;

	c->rc |= buf_printf(c->b, "previewd_environments{engine=\"%s\","
	    "status=\"%s\"} %lld\n", engine, status, (long long)n);
	return 0;
}

int
metrics_render(struct store *st, const struct config *cfg, struct buf *out)
{
	struct count_ctx cc = { out, 0 };
	int64_t depth = 0;
	size_t p, e, o, i;
	int rc = 0, idle, creating;

	rc |= head(out, "previewd_webhooks_total", "counter", "Webhook "
	    "deliveries answered, by provider, event and outcome.");
	for (p = 0; p < MP_PROVIDERS; p++)
		for (e = 0; e < ARRAY_SIZE(events); e++)
			for (o = 0; o < MO_OUTCOMES; o++) {
				unsigned long long v =
				    atomic_load(&webhooks[p][e][o]);

				if (v != 0 || (o == MO_ACCEPTED &&
				    e == main_event[p]))
					rc |= buf_printf(out,
					    "previewd_webhooks_total{provider="
					    "\"%s\",event=\"%s\",outcome=\"%s\"} "
					    "%llu\n", providers[p], events[e],
					    outcomes[o], v);
			}
	rc |= head(out, "previewd_webhook_signature_failures_total", "counter",
	    "Webhook deliveries refused for a missing or wrong signature or "
	    "token.");
	for (p = 0; p < MP_PROVIDERS; p++) {
		unsigned long long v = 0;

		for (e = 0; e < ARRAY_SIZE(events); e++)
			v += atomic_load(&webhooks[p][e][MO_BAD_SIGNATURE]);
		rc |= buf_printf(out, "previewd_webhook_signature_failures_total"
		    "{provider=\"%s\"} %llu\n", providers[p], v);
	}

	rc |= head(out, "previewd_environments", "gauge", "Environments not "
	    "deleted, by engine and status.");
	if (store_env_counts(st, env_count, &cc) != 0)
		rc = -1;
	rc |= cc.rc;

	rc |= head(out, "previewd_pool_idle", "gauge", "Idle databases in the "
	    "warm pool.");
	for (i = 0; i < ENGINES && engine_at(i) != NULL; i++) {
		const char *name = engine_at(i)->name;

		if (config_engine(cfg, name) == NULL)
			continue;
		if (store_pool_counts(st, name, &idle, &creating) != 0)
			idle = 0;
		rc |= buf_printf(out, "previewd_pool_idle{engine=\"%s\"} %d\n",
		    name, idle);
	}
	rc |= head(out, "previewd_pool_target", "gauge", "The configured "
	    "pool_size.");
	for (i = 0; i < ENGINES && engine_at(i) != NULL; i++) {
		const struct engine_cfg *ec = config_engine(cfg,
		    engine_at(i)->name);

		if (ec != NULL)
			rc |= buf_printf(out, "previewd_pool_target{engine="
			    "\"%s\"} %lld\n", engine_at(i)->name,
			    (long long)ec->pool_size);
	}
	rc |= head(out, "previewd_claims_total", "counter", "Databases handed "
	    "to environments: from the warm pool, or created cold.");
	for (i = 0; i < ENGINES && engine_at(i) != NULL; i++)
		rc |= buf_printf(out, "previewd_claims_total{engine=\"%s\","
		    "source=\"pool\"} %llu\npreviewd_claims_total{engine=\"%s\","
		    "source=\"cold\"} %llu\n", engine_at(i)->name,
		    atomic_load(&claims[i][0]), engine_at(i)->name,
		    atomic_load(&claims[i][1]));

	rc |= head(out, "previewd_claims_by_schema_total", "counter",
	    "Claims by where the schema came from: a copy of the repository's "
	    "base, or an empty database.");
	for (i = 0; i < ENGINES && engine_at(i) != NULL; i++)
		rc |= buf_printf(out, "previewd_claims_by_schema_total{engine="
		    "\"%s\",schema_from=\"base\"} %llu\n"
		    "previewd_claims_by_schema_total{engine=\"%s\","
		    "schema_from=\"empty\"} %llu\n", engine_at(i)->name,
		    atomic_load(&schema_from[i][1]), engine_at(i)->name,
		    atomic_load(&schema_from[i][0]));
	rc |= head(out, "previewd_prewarm_fallbacks_total", "counter",
	    "Copies of a base that did not fit their pull request, rebuilt "
	    "from an empty database.");
	for (i = 0; i < ENGINES && engine_at(i) != NULL; i++)
		rc |= buf_printf(out, "previewd_prewarm_fallbacks_total{engine="
		    "\"%s\"} %llu\n", engine_at(i)->name,
		    atomic_load(&prewarm_fallbacks[i]));
	rc |= head(out, "previewd_prewarm_idle", "gauge", "Idle copies of "
	    "each prewarmed repository's base.");
	{
		struct idle_cb ic = { out, 0 };

		if (store_pool_base_idle(st, prewarm_idle_row, &ic) != 0)
			rc = -1;
		rc |= ic.rc;
	}
	rc |= histogram(out, "previewd_base_build_duration_seconds", "From a "
	    "new default-branch head learnt to its base ready.", base_build);
	rc |= histogram(out, "previewd_prewarm_copy_duration_seconds", "Making "
	    "one copy of a base.", prewarm_copy);
	rc |= histogram(out, "previewd_provision_duration_seconds", "From the "
	    "job picking an environment up to its database being claimed.",
	    provision);
	rc |= histogram(out, "previewd_migration_duration_seconds", "Time "
	    "spent applying an environment's migrations.", migration);

	rc |= head(out, "previewd_reaper_runs_total", "counter", "Reaper "
	    "passes.");
	rc |= buf_printf(out, "previewd_reaper_runs_total %llu\n",
	    atomic_load(&reaper_runs));
	rc |= head(out, "previewd_deletions_total", "counter", "Environments "
	    "asked to go, by reason.");
	for (i = 0; i < ARRAY_SIZE(reasons); i++)
		rc |= buf_printf(out, "previewd_deletions_total{reason=\"%s\"} "
		    "%llu\n", reasons[i], atomic_load(&deletions[i]));
	rc |= head(out, "previewd_orphans_dropped_total", "counter",
	    "Databases and roles the orphan sweep dropped.");
	for (i = 0; i < ENGINES && engine_at(i) != NULL; i++)
		rc |= buf_printf(out, "previewd_orphans_dropped_total{engine="
		    "\"%s\"} %llu\n", engine_at(i)->name,
		    atomic_load(&orphans[i]));
	rc |= head(out, "previewd_delete_failures_total", "counter",
	    "Drops that failed and will be retried.");
	rc |= buf_printf(out, "previewd_delete_failures_total %llu\n",
	    atomic_load(&delete_failures));

	rc |= head(out, "previewd_forge_requests_total", "counter", "Calls to "
	    "the forges' APIs, by outcome (rate_limited: 429 or 403).");
	for (i = 0; i < ARRAY_SIZE(forges); i++)
		for (o = 0; o < ARRAY_SIZE(forge_outcomes); o++)
			rc |= buf_printf(out, "previewd_forge_requests_total"
			    "{forge=\"%s\",outcome=\"%s\"} %llu\n", forges[i],
			    forge_outcomes[o], atomic_load(&forge_calls[i][o]));

	rc |= head(out, "previewd_engine_up", "gauge", "1 when the database "
	    "server answered previewd's last check (every second), else 0.");
	for (i = 0; i < ENGINES && engine_at(i) != NULL; i++)
		if (config_engine(cfg, engine_at(i)->name) != NULL)
			rc |= buf_printf(out, "previewd_engine_up{engine=\"%s\"} "
			    "%d\n", engine_at(i)->name,
			    health_engine_ok(engine_at(i)->name));
	rc |= head(out, "previewd_forge_up", "gauge", "1 when the forge's "
	    "latest API call got an answer (or none was made yet), 0 when it "
	    "got none, a timeout or a 5xx.");
	for (i = 0; i < ARRAY_SIZE(forges); i++)
		if (forge_configured(cfg, i))
			rc |= buf_printf(out, "previewd_forge_up{forge=\"%s\"} "
			    "%d\n", forges[i], health_forge_ok(forges[i]));

	rc |= head(out, "previewd_job_queue_depth", "gauge", "Jobs waiting or "
	    "running in the state file.");
	if (store_job_count(st, &depth) != 0)
		rc = -1;
	rc |= buf_printf(out, "previewd_job_queue_depth %lld\n",
	    (long long)depth);
	rc |= pooler_metrics(out);
	return rc == 0 ? 0 : -1;
}
