/*
 * store: previewd's state on disk — a sqlite database in WAL mode holding
 * environments, the warm pool, webhook deliveries and the job queue.
 *
 * One struct store is one sqlite connection and belongs to one thread at a
 * time; every thread that needs state opens its own (sqlite serialises the
 * writers, WAL lets readers run beside them). Each function below is one
 * transaction unless it says otherwise.
 *
 * An environment row has two sets of columns with different owners:
 *   - desired state, written by events (webhooks, the API, the reaper):
 *     want, want_sha, event_at, activity_at, expires_at;
 *   - actual state, written only by the worker running the environment's
 *     job: status, head_sha, pool_db, secret, error.
 * Workers move actual towards desired, one idempotent step at a time,
 * rereading desired state between steps; so a close that arrives during
 * provisioning wins, and a crash at any point means "run the step again".
 *
 * This header is the whole interface: callers see struct store as opaque
 * and nothing of sqlite. The backend's files are one per concern, each
 * implementing its section below: store/sqlite.c (connections, schema,
 * statement helpers, shared through store/sqlite.h), webhooks.c, envs.c,
 * pool.c, reaper.c, jobs.c, databases.c and bases.c. A second backend
 * (PostgreSQL, for replicas) implements these same functions beside them,
 * with store_open choosing by the state path's scheme; no caller
 * changes.
 */
#ifndef PREVIEWD_STORE_H
#define PREVIEWD_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/names.h"
#include "lib/util.h"

/* Latest schema version; see the migrations table in store/sqlite.c. */
#define STORE_SCHEMA_VERSION 8

enum env_status {
	ENV_PROVISIONING, ENV_MIGRATING, ENV_SEEDING, ENV_READY, ENV_FAILED,
	ENV_DELETING, ENV_DELETED,
	ENV_QUEUED,                  /* waiting for a slot under a cap */
};

const char *env_status_name(enum env_status s);
/* Whether s looks like an environment id: "env_" and hex. */
bool env_id_ok(const char *s);
int env_status_parse(const char *s, enum env_status *out) MUST_CHECK;
/* ready, failed and deleted: what a long poll waits for. */
bool env_status_settled(enum env_status s);

#define ENV_ID_SIZE 24          /* "env_" + 16 hex + NUL */
#define ENV_SHA_SIZE 72
#define ENV_REPO_SIZE 256
#define ENV_SECRET_MAX 128      /* a sealed password */
/* A repository's base (issue 15: the pre-migrated pool) is an
 * environment of its own, numbered 0: the default branch's head migrated
 * and seeded, which pool members are copied from. No pull request has
 * that number; bases have no comment, no TTL and no slot under the caps,
 * and the API's lists leave them out. */
#define ENV_BASE_NUMBER 0

struct env {
	char id[ENV_ID_SIZE];
	char provider[16];
	char repo[ENV_REPO_SIZE];
	int64_t number;
	char name[48];               /* preview-pr-N */
	char engine[16];
	char api_target[ENV_REPO_SIZE]; /* the repository in the forge's API */
	bool private_repo;
	int64_t installation_id;
	/* the pull request comment, owned by the "notify" job */
	int64_t comment_id;
	char comment_hash[72];
	/* a retry of a failed environment: asked for (event-owned) and acted
	 * on (worker-owned) */
	int64_t retry_requested;
	int64_t retried;
	int64_t size_bytes;          /* the database's size, -1 unknown */
	char last_delivery[136];     /* the webhook that last moved it */
	char blueprint[64];          /* a CI database's blueprint, or "" */
	/* A deletion by the API, the admin page, the TTL or the
	 * reconciliation (event-owned): its point in time, never before the
	 * last event applied, and its reason; 0 and "" once an event
	 * brought the environment back. Events not newer stay ignored. */
	int64_t deleted_at;
	char deleted_why[128];
	/* desired */
	bool want_present;
	char want_sha[ENV_SHA_SIZE];
	int64_t event_at;
	int64_t activity_at;
	int64_t expires_at;
	int64_t ttl;
	/* actual */
	enum env_status status;
	char head_sha[ENV_SHA_SIZE];
	char db_name[NAMES_SIZE];    /* worker-owned once claimed */
	char role_name[NAMES_SIZE];
	char pool_db[NAMES_SIZE];    /* pool database claimed, until renamed */
	unsigned char secret[ENV_SECRET_MAX];
	size_t secret_len;
	bool reset_db;               /* drop the database before the next
	                                claim (a rebuild) */
	/* The migration file (or the seed) about to run on a server whose
	 * DDL is not transactional: set before it runs, cleared once it is
	 * recorded. Set at a step's start, it says the file was cut short. */
	char applying[256];
	/* The migration tool the environment's migrations were last applied
	 * with (core/tools.c: "sql", "golang-migrate", "dbmate"); "" before
	 * it is known or without migrations. */
	char migrations_tool[24];
	/* Where its schema came from: "base:<sha>" (a pool member copied
	 * from its repository's base at that commit), "empty" (an empty
	 * member, or created cold), "" before the claim. */
	char schema_from[64];
	char error[1024];
	int64_t created_at;
	int64_t updated_at;
};

/* The status clients see: an environment asked to go that no worker has
 * picked up yet is already "deleting", so nobody is handed a URL about
 * to vanish. */
enum env_status env_status_shown(const struct env *e);

struct store;

/* Open (creating if need be) the state database at path. Does not touch
 * the schema: the main thread calls store_migrate once at start-up.
 * 0 ok; -1 with a reason in err. */
int store_open(const char *path, struct store **out, char *err, size_t errlen)
    MUST_CHECK;  /* *out is NULL on failure */
void store_close(struct store *st);
/* For a job worker's connection: its commits are synced only where they
 * write a password or at the next synced commit of any connection, not
 * one by one (store/sqlite.c says why that loses nothing a re-run does
 * not make again). 0 or -1. */
int store_relax(struct store *st) MUST_CHECK;

/* Create or upgrade the schema to STORE_SCHEMA_VERSION in one
 * transaction; refuses a file written by a newer previewd. */
int store_migrate(struct store *st, char *err, size_t errlen) MUST_CHECK;

/* ---- webhooks ---- */

enum pr_op { PR_OPEN, PR_SYNC, PR_CLOSE };
enum pr_result { PR_ACCEPTED, PR_DUPLICATE, PR_STALE, PR_IGNORED,
	PR_DELETED };

/* The deletion a PR_DELETED event would have undone. */
struct pr_deleted {
	int64_t at;                  /* env.deleted_at */
	char why[128];               /* env.deleted_why */
};

struct pr_event {
	const char *provider;    /* "github" */
	const char *delivery;    /* the forge's delivery id, for deduplication */
	const char *event;       /* "pull_request" */
	const char *action;      /* the forge's action, for the record */
	enum pr_op op;
	const char *repo;
	int64_t number;
	const char *head_sha;
	int64_t event_at;        /* the forge's updated_at: orders events */
	const char *engine;      /* from the repository's configuration */
	int64_t ttl;
	const char *api_target;  /* how the forge's API names the repository:
	                            GitHub owner/name, GitLab project id;
	                            NULL: repo */
	bool private_repo;       /* the forge said the repository is private */
	int64_t installation_id; /* GitHub App installation, 0 if none */
	/* A Vercel preview deployment of the pull request: the project (and
	 * team) that wants DATABASE_URL for builds of git_branch. */
	const char *vercel_project;
	const char *vercel_team;
	const char *git_branch;
};

/* Record a delivery and apply its pull request event, enqueueing the
 * environment's job, in one transaction. Deliveries already seen are
 * PR_DUPLICATE; events older than the last applied one are PR_STALE
 * (recorded, not applied); a close for an unknown pull request is recorded
 * as PR_IGNORED so that an older open arriving later stays ignored. An
 * open or a push for an environment deleted by store_env_request_delete,
 * not newer than the deletion, is PR_DELETED (recorded as ignored, not
 * applied; *deleted, when given, says which deletion): a captured body
 * sent again under a new delivery id does not bring it back, a new push
 * or a reopen (a newer updated_at) does. */
int store_pr_event(struct store *st, const struct pr_event *ev,
    enum pr_result *result, char env_id[ENV_ID_SIZE],
    struct pr_deleted *deleted) MUST_CHECK;

/* ---- base heads ---- */

/*
 * Each prewarmed repository's default branch and the commit at its head
 * (issue 15): learnt from the forge at start (store_base_set) and from
 * push webhooks to that branch (store_base_push). Whenever the recorded
 * head changes, the job ("base", "<provider>:<repo>") is enqueued in the
 * same transaction; its runner builds the repository's base. One row per
 * (provider, repo); repo compares without case, as the forges do.
 */
#define BASE_BRANCH_SIZE 256

struct base_head {
	char provider[16];
	char repo[ENV_REPO_SIZE];
	char api_target[ENV_REPO_SIZE]; /* GitHub owner/name, GitLab project
	                                   id */
	int64_t installation_id;     /* GitHub App installation, 0 if none */
	char branch[BASE_BRANCH_SIZE];
	char sha[ENV_SHA_SIZE];
	int64_t event_at;            /* orders pushes: see store_base_push */
	int64_t updated_at;
};

struct base_push {
	const char *provider;        /* "github", "gitlab" */
	const char *delivery;        /* the forge's delivery id, for
	                                deduplication */
	const char *event;           /* "push", "Push Hook" */
	const char *ref;             /* "refs/heads/main", for the record */
	const char *repo;
	const char *api_target;      /* NULL: repo */
	int64_t installation_id;     /* 0 if none */
	const char *branch;          /* the default branch pushed to */
	const char *sha;             /* its head after the push */
	int64_t event_at;            /* GitHub's pushed_at; GitLab: arrival */
	/* Not NULL: the push changes no base (a section with prewarm =
	 * none, another branch, a deletion): only the delivery is recorded,
	 * as ignored, so that it stays deduplicated; this says why. */
	const char *ignore;
};

/* Record a push delivery and apply it, in one transaction: a delivery
 * already seen is PR_DUPLICATE (nothing changes); one with ev->ignore is
 * PR_IGNORED; a push older than the recorded head (event_at before the
 * recorded one) is PR_STALE (recorded, not applied); otherwise
 * PR_ACCEPTED: the row takes branch, sha, api_target and event_at (and
 * installation_id when given), and the "base" job is enqueued when the
 * sha changed (or the row is new). Equal times apply in arrival order. */
int store_base_push(struct store *st, const struct base_push *ev,
    enum pr_result *result) MUST_CHECK;

/* What the forge said at start: the same row update and enqueue rule, no
 * delivery, applied whatever the recorded time; event_at becomes now (or
 * stays, if later), so that pushes made before the lookup and delivered
 * after it are stale. installation 0 keeps the recorded one. */
int store_base_set(struct store *st, const char *provider, const char *repo,
    const char *api_target, int64_t installation, const char *branch,
    const char *sha) MUST_CHECK;

/* 0 found, 1 none, -1 error. */
int store_base_get(struct store *st, const char *provider, const char *repo,
    struct base_head *out) MUST_CHECK;

/* The repository's base environment (number ENV_BASE_NUMBER, see
 * struct env) wanted at h's commit on engine: created when there is none
 * and moved to h's commit otherwise, its "env" job enqueued when either
 * happened, in one transaction. id gets its id. 0, or -1. */
int store_base_env_want(struct store *st, const struct base_head *h,
    const char *engine, char id[ENV_ID_SIZE]) MUST_CHECK;

/* Every recorded head, by provider and repo; fn returns 0 to go on and
 * must not write through st (the listing holds a read open on it). */
int store_base_each(struct store *st, int (*fn)(const struct base_head *,
    void *), void *arg) MUST_CHECK;

/* ---- CI databases ---- */

/* A database a CI run asks for (POST /api/v1/databases) is an
 * environment whose provider and repository are ENV_CI, numbered in
 * creation order: it shares the pool, the engines, the jobs, the reaper
 * and the admin page with pull requests, and has no forge to tell. */
#define ENV_CI "ci"

struct ci_request {
	const char *name;            /* checked by the caller */
	const char *engine;
	int64_t ttl;
	const char *blueprint;       /* "" for none */
	int64_t max_databases;       /* CI databases wanted present, at most */
	/* Idempotency-Key, scoped to the caller's token (token_key, a keyed
	 * hash of it); key NULL: none. request_hash: what was asked. */
	const char *token_key;
	const char *key;
	const char *request_hash;
};

enum ci_result {
	CI_CREATED,
	CI_REPLAYED,      /* the key was seen with the same request */
	CI_KEY_REUSED,    /* the key was seen with another request */
	CI_QUOTA,         /* max_databases reached */
};

/* Create the database's environment and its job, and remember the key,
 * in one transaction; or find the one the key made. env_id is set for
 * CI_CREATED and CI_REPLAYED. Keys older than IDEMPOTENCY_TTL are
 * forgotten. 0 ok (see *res), -1 error. */
#define IDEMPOTENCY_TTL 86400
int store_ci_create(struct store *st, const struct ci_request *r,
    enum ci_result *res, char env_id[ENV_ID_SIZE]) MUST_CHECK;
/* Forget Idempotency-Keys recorded before the cutoff. */
int store_idempotency_prune(struct store *st, int64_t before) MUST_CHECK;

/* ---- environments ---- */

/* 0 found, 1 not found, -1 error. */
int store_env_get(struct store *st, const char *id, struct env *out)
    MUST_CHECK;
int store_env_find_pr(struct store *st, const char *provider,
    const char *repo, int64_t number, struct env *out) MUST_CHECK;

/* Environments not deleted, oldest first. fn returns 0 to go on. */
int store_env_each(struct store *st, int (*fn)(const struct env *, void *),
    void *arg) MUST_CHECK;

/* ---- lists, a page at a time ---- */

/*
 * The API's lists and the admin page read environments a page at a time,
 * by keyset: a page starts after (or ends before) a position in the
 * list's order, never at an offset, so rows that come or go between two
 * requests neither repeat nor skip the others. A position is the
 * ordering column's value and the row's rowid (insertion order, unique,
 * never reused while a larger one exists; previewd never runs VACUUM,
 * which could renumber it). created_at never changes, so paging by
 * creation sees every environment that lived throughout exactly once;
 * expires_at moves with an extension, and a row extended between two
 * pages may move past the position (or back before it).
 */
enum env_list {
	ENV_LIST_PR,                 /* pull request environments (no CI
	                                databases, no bases) */
	ENV_LIST_CI,                 /* CI databases */
	ENV_LIST_ALL,                /* every one, bases included */
};

enum env_order {
	ENV_ORDER_CREATED,           /* created_at, rowid: oldest first */
	ENV_ORDER_EXPIRES,           /* expires_at, rowid */
};

struct env_pos {
	int64_t key;                 /* created_at or expires_at */
	int64_t row;                 /* the rowid */
};

struct env_query {
	enum env_list list;
	enum env_order order;
	const char *repo;            /* NULL or "": every repository; compared
	                                without case, as the forges do */
	const char *status;          /* NULL or "": every status; else the
	                                status shown (env_status_shown) */
	const struct env_pos *from;  /* NULL: from the list's start (its end
	                                when backward) */
	bool backward;               /* the rows before from, nearest first */
	int64_t limit;               /* rows at most, >= 1 */
};

/* Environments not deleted that q selects, in q's order (reversed when
 * backward), at most q->limit of them, each handed to fn with its
 * position; fn returns 0 to go on and must not write through st. *more
 * says whether another row lies beyond the last one handed over. One
 * struct env at a time: memory is the page's, not the fleet's. 0 or -1. */
int store_env_page(struct store *st, const struct env_query *q,
    int (*fn)(const struct env *e, const struct env_pos *pos, void *arg),
    void *arg, bool *more) MUST_CHECK;

/* The environments not deleted of list (and of repo, unless NULL or ""),
 * counted by the status shown, in one aggregate query. */
int store_env_status_counts(struct store *st, enum env_list list,
    const char *repo, int (*fn)(const char *status, int64_t n, void *arg),
    void *arg) MUST_CHECK;

/* The repositories with environments not deleted, by name, at most
 * limit of them (the admin page's filter). */
int store_env_repos(struct store *st, int64_t limit,
    int (*fn)(const char *repo, void *arg), void *arg) MUST_CHECK;

/* Save the worker-owned columns of e (status, head_sha, db_name, pool_db,
 * secret, reset_db, applying, migrations_tool, error) and updated_at. Only the worker holding the
 * env's job calls it. When e is ready, failed or deleted, the "notify" job
 * (the pull request comment) is enqueued in the same transaction. Joins
 * the caller's transaction when one is open. */
int store_env_save(struct store *st, const struct env *e) MUST_CHECK;

/* The Vercel projects linked to an environment; fn returns 0 to go on. */
int store_vercel_links(struct store *st, const char *env_id,
    int (*fn)(const char *project, const char *team, const char *branch,
    const char *synced_hash, void *arg), void *arg) MUST_CHECK;
/* Record that project has DATABASE_URL as of hash. */
int store_vercel_synced(struct store *st, const char *env_id,
    const char *project, const char *hash) MUST_CHECK;

/* Record the comment the "notify" job posted and the hash of its text. */
int store_env_set_comment(struct store *st, const char *id,
    int64_t comment_id, const char *hash) MUST_CHECK;

/* Ask for an environment to be deleted (DELETE in the API, the reaper's
 * TTL) and enqueue its job. reason goes to the error column when the
 * environment is not otherwise failed, and with the point in time (now,
 * or the last event's time if that is later) to deleted_at and
 * deleted_why, which keep older events from undoing the deletion (see
 * store_pr_event). 0 ok, 1 not found or already deleted, -1 error. */
int store_env_request_delete(struct store *st, const char *id,
    const char *reason) MUST_CHECK;

/* Push the expiry of an environment wanted present to the later of now
 * and its expiry, plus seconds; enqueues the comment's update. 0 ok, 1 not
 * found or not wanted, -1 error. */
int store_env_extend(struct store *st, const char *id, int64_t seconds)
    MUST_CHECK;
/* Ask for a failed environment to be tried again at the same commit. 0 ok,
 * 1 not found or not failed, -1 error. */
int store_env_request_retry(struct store *st, const char *id) MUST_CHECK;
/* The size last measured of the live environment whose database on
 * engine is db (none: nothing changes). */
int store_env_set_size(struct store *st, const char *engine, const char *db,
    int64_t bytes) MUST_CHECK;
/* Environments not deleted, counted by engine and status. */
int store_env_counts(struct store *st, int (*fn)(const char *engine,
    const char *status, int64_t n, void *arg), void *arg) MUST_CHECK;

/* Ids of environments wanted present whose expiry has passed. */
int store_env_expired(struct store *st, int64_t now,
    int (*fn)(const char *id, void *), void *arg) MUST_CHECK;

/* Forget deleted environments and deliveries older than the cutoff. */
int store_prune(struct store *st, int64_t before) MUST_CHECK;

/* ---- the warm pool ---- */

/* Record intent to create pool database db (state "creating") with the
 * sealed password its role gets (secret may be NULL for engines whose
 * pool has no role). */
int store_pool_add(struct store *st, const char *engine, const char *db,
    const unsigned char *secret, size_t secret_len) MUST_CHECK;
/* creating -> idle. */
int store_pool_ready(struct store *st, const char *engine, const char *db)
    MUST_CHECK;
int store_pool_remove(struct store *st, const char *engine, const char *db)
    MUST_CHECK;
/* Forget a pool database that vanished from its server, if it is still
 * idle (a claim marks it first, then renames it). 0 forgotten, 1 not
 * idle (any more), -1 error. */
int store_pool_forget_idle(struct store *st, const char *engine,
    const char *db) MUST_CHECK;
int store_pool_counts(struct store *st, const char *engine, int *idle,
    int *creating) MUST_CHECK;
/* Empty pool databases left in "creating" (by a crash), with their
 * secrets. */
int store_pool_each_creating(struct store *st, const char *engine,
    int (*fn)(const char *db, const unsigned char *secret, size_t len,
    void *arg), void *arg) MUST_CHECK;

/* Idle pool members (empty ones and copies of a base) that have a
 * password of their own, with it sealed. */
int store_pool_each_idle(struct store *st, const char *engine,
    int (*fn)(const char *db, const unsigned char *secret, size_t len,
    void *arg), void *arg) MUST_CHECK;

/* Members copied from a base (the pre-migrated pool). store_pool_counts
 * and store_pool_each_creating count empty members only. */
int store_pool_add_base(struct store *st, const char *engine,
    const char *db, const unsigned char *secret, size_t secret_len,
    const char *base_env, const char *sha) MUST_CHECK;
/* Idle copies of each base, by its repository and engine. */
int store_pool_base_idle(struct store *st, int (*fn)(const char *provider,
    const char *repo, const char *engine, int64_t n, void *arg), void *arg)
    MUST_CHECK;
/* Members of base_env not claimed, with their state and commit. */
int store_pool_each_base(struct store *st, const char *base_env,
    int (*fn)(const char *db, const char *state, const char *sha,
    void *arg), void *arg) MUST_CHECK;

/* How a claim moves a pool member's sealed password to the environment:
 * fn opens in (sealed for the pool database db) and seals it again into
 * e->secret for e. The store itself does no cryptography. */
struct store_reseal {
	int (*fn)(const char *db, const unsigned char *in, size_t len,
	    struct env *e, void *arg);
	void *arg;
};

/* Claim the oldest idle pool database (the one made ready first) for env
 * e and record e's sealed password, in one transaction (the intent
 * recorded before the server is touched).
 * Sets e->pool_db to the database taken, or to "" when the pool is empty;
 * with keep_pool_name (engines that cannot rename) e->db_name becomes the
 * pool database's name too. When the member has a password of its own
 * and rs is given, e takes that password (rs->fn); otherwise e keeps the
 * one it has. 0 ok, -1 error. */
/* The caps an environment's claim is admitted under (0: none). An
 * environment holds a slot from its claim to its teardown (its sealed
 * password is what marks it), so the count is of databases, not of
 * events. CI databases (ENV_CI) have their own cap and do not count. */
struct store_cap {
	int64_t server_max;          /* [server] max_environments */
	int64_t repo_max;            /* [repo:...] max_environments */
	int64_t held;                /* out: slots held or owed to older
	                                environments, when refused */
	bool by_repo;                /* out: the repository's cap refused */
};

/* With cap (a first claim), the claim is refused when the slots held
 * have reached a cap: 1, with nothing changed and cap's out fields set. */
/* base_env: the id of e's repository's base when it is prewarmed: a
 * member copied from it is taken first (the newest commit's, then the
 * oldest made), else an empty one. e->schema_from says which. */
int store_env_claim(struct store *st, struct env *e, bool keep_pool_name,
    const struct store_reseal *rs, struct store_cap *cap,
    const char *base_env) MUST_CHECK;

/* A slot may have freed: give every queued environment its "env" job
 * again, oldest first, so the oldest is admitted first (first come,
 * first served); the others find the caps full and stay queued. 0 or
 * -1. */
int store_env_wake_queued(struct store *st) MUST_CHECK;

/* ---- the reaper's memory ---- */

/* Every name of a database or role previewd stands behind on engine
 * that sorts after `after` and not after `upto` (byte order), in that
 * order: those of environments not deleted (their database, role and
 * claimed pool database) and of every pool member (its database, and its
 * role, named alike). The orphan sweep reads them for each page of a
 * server's listing, after the page: what previewd creates is recorded
 * first, so nothing of its own is unknown by then. */
int store_known_names(struct store *st, const char *engine, const char *after,
    const char *upto, int (*fn)(const char *name, void *arg), void *arg)
    MUST_CHECK;

/* Pool members of engine with their state ("creating", "idle",
 * "claimed"). */
int store_pool_each(struct store *st, const char *engine,
    int (*fn)(const char *db, const char *state, void *arg), void *arg)
    MUST_CHECK;

/* Unknown objects of one kind seen on a server, names[0..n): each is
 * recorded as seen at now, first_seen[i] gets when names[i] was first
 * seen (now, the first time) and failed[i] whether a drop of it failed
 * before. One transaction. */
int store_orphans_seen(struct store *st, const char *engine, bool role,
    const char *const *names, size_t n, int64_t now, int64_t *first_seen,
    bool *failed) MUST_CHECK;
/* A drop of the orphan failed; *first: for the first time (so the
 * reason is logged once, not every pass). */
int store_orphan_drop_failed(struct store *st, const char *engine, bool role,
    const char *name, bool *first) MUST_CHECK;
/* Forget one orphan (it was dropped). */
int store_orphan_forget(struct store *st, const char *engine, bool role,
    const char *name) MUST_CHECK;
/* Forget engine's orphans not seen since before: gone from the server,
 * or known now. Only after a pass that listed the whole server. */
int store_orphans_forget_unseen(struct store *st, const char *engine,
    int64_t before) MUST_CHECK;

/* Up to limit databases of engine's environments not deleted, the least
 * recently measured first, for the sweep to measure. */
int store_sizes_due(struct store *st, const char *engine, int limit,
    int (*fn)(const char *db, void *arg), void *arg) MUST_CHECK;
/* dbs[0..n) of engine were measured at now: bytes[i] is the size, or -1
 * when the server gave none (gone, or not previewd's to measure), which
 * keeps the last figure. One transaction. */
int store_sizes_record(struct store *st, const char *engine,
    const char *const *dbs, const int64_t *bytes, size_t n, int64_t now)
    MUST_CHECK;

/* The repositories with environments wanted present, and for each the
 * forge's API target and an installation id (GitHub App), for the
 * reconciliation against the forges' lists of open pull requests. */
int store_reconcile_targets(struct store *st, int (*fn)(const char *provider,
    const char *repo, const char *api_target, int64_t installation,
    void *arg), void *arg) MUST_CHECK;
/* The same, at most limit of them, those after (provider, repo) in the
 * store's order ("", "" from the first): the reaper's round robin. */
int store_reconcile_targets_after(struct store *st, const char *provider,
    const char *repo, int limit, int (*fn)(const char *provider,
    const char *repo, const char *api_target, int64_t installation,
    void *arg), void *arg) MUST_CHECK;
/* The environments of one repository wanted present, with their pull
 * request number and last activity. */
int store_env_each_open(struct store *st, const char *provider,
    const char *repo, int (*fn)(const char *id, int64_t number,
    int64_t activity_at, void *arg), void *arg) MUST_CHECK;

/* Page `page` (from 1) of target's open pull request list as last read:
 * the URL it was read from, its ETag, the next page's URL ("" after the
 * last) and its numbers (decimal, comma-separated) into numbers. 1 when
 * there is one, 0 none, -1 error. */
struct reconcile_page {
	char url[1024];
	char etag[128];
	char next[1024];
};
int store_reconcile_page(struct store *st, const char *target, int page,
    struct reconcile_page *out, struct buf *numbers) MUST_CHECK;
int store_reconcile_set_page(struct store *st, const char *target, int page,
    const struct reconcile_page *in, const char *numbers) MUST_CHECK;
/* Forget target's pages after the first `pages`. */
int store_reconcile_trim(struct store *st, const char *target, int pages)
    MUST_CHECK;

/* ---- jobs ---- */

struct job {
	int64_t id;
	char kind[16];
	char target[ENV_REPO_SIZE + 16]; /* "<provider>:<repo>" fits */
	int64_t seq;
	int64_t attempts;
};

/* Enqueue (kind, target) to run after delay_ms. A job already queued for
 * the same pair is not duplicated: it runs at the earlier time, and once
 * more after its current run if it is running now. */
int store_job_enqueue(struct store *st, const char *kind, const char *target,
    int64_t delay_ms) MUST_CHECK;

/* Take the next due job not already running. Times in this section are
 * epoch milliseconds (now_ms()); elsewhere in this header, seconds. 0 took one, 1 none due, -1
 * error. *next_ms gets when the next not-running job is due (INT64_MAX if
 * none), so the worker knows how long it may sleep. */
/* Which jobs a worker may take: only: kinds it takes, comma-separated
 * ("env,pool"), NULL for all; skip: kinds it never takes, NULL for none;
 * serial: kinds of which two jobs with the same target never run at once
 * ("env,migrate": one environment's steps stay in order across lanes),
 * NULL for none. A job held back by serial does not count towards
 * *next_ms: the worker that ends the running one wakes the others. */
struct job_lane {
	const char *only;
	const char *skip;
	const char *serial;
};
int store_job_take_lane(struct store *st, int64_t now,
    const struct job_lane *lane, struct job *out, int64_t *next_ms)
    MUST_CHECK;
/* store_job_take_lane for any job (no lane). */
int store_job_take(struct store *st, int64_t now, struct job *out,
    int64_t *next_ms) MUST_CHECK;

/* The run is over: delete the job, unless it was enqueued again meanwhile. */
int store_job_done(struct store *st, const struct job *j) MUST_CHECK;

/* Try again after delay_ms (sooner if enqueued again meanwhile). */
int store_job_retry(struct store *st, const struct job *j, int64_t delay_ms,
    const char *error) MUST_CHECK;

/* At start-up: jobs marked running by a previous process run again. */
int store_job_reset(struct store *st) MUST_CHECK;

int store_job_count(struct store *st, int64_t *count) MUST_CHECK;

/* ---- health ---- */

/* Whether the state file answers a read and its write lock can be taken
 * (BEGIN IMMEDIATE, then rolled back): what accepting a webhook needs.
 * 0 ok, -1 (logged) otherwise. */
int store_ping(struct store *st) MUST_CHECK;

#endif
