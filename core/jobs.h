/*
 * jobs: the durable job queue's workers.
 *
 * Jobs live in the state store (see store.h), so a job enqueued before a
 * crash runs after the restart. N worker threads (config "workers") take
 * due jobs one at a time and run them through the table of job kinds in
 * jobs.c. A job function does its work in idempotent steps, checks
 * jobs_stopping() between them, and either finishes (JOB_DONE) or asks to
 * run again later (JOB_RETRY, with a delay and a reason).
 *
 * Each worker owns its store connection and one engine handle per
 * database server; nothing in struct worker is shared between threads.
 */
#ifndef PREVIEWD_JOBS_H
#define PREVIEWD_JOBS_H

#include <pthread.h>
#include <stdbool.h>

#include "engines/engine.h"
#include "forges/http.h"
#include "lib/config.h"
#include "store/store.h"

#define WORKER_ENGINES 4

struct worker {
	int index;
	const struct config *cfg;
	struct store *store;
	struct engine *engines[WORKER_ENGINES];
	struct http_client *http;      /* for forge calls; made on first use */
	pthread_t thread;
};

enum job_result { JOB_DONE, JOB_RETRY };

struct job_outcome {
	int64_t retry_ms;        /* with JOB_RETRY: how long to wait */
	char error[512];         /* with JOB_RETRY: why, for the log */
};

/* What runs one job of a kind: JOB_DONE, or JOB_RETRY with o filled. */
typedef enum job_result (*job_fn)(struct worker *w, const struct job *j,
    struct job_outcome *o);

/* Add (or replace) the runner of a job kind; kind must outlive the
 * process (a string literal). For the layers above the core, which the
 * core does not include. Main thread, before jobs_start. 0 ok, -1 when
 * the table is full. */
int jobs_register(const char *kind, job_fn run) MUST_CHECK;

/* Start cfg->server.workers threads. 0 ok, -1 with err. */
int jobs_start(const struct config *cfg, char *err, size_t errlen) MUST_CHECK;

/* A job was enqueued: wake a worker. Any thread. */
void jobs_notify(void);

/* Ask workers to stop after their current step and join them, waiting at
 * most timeout_ms. Jobs not finished stay in the store for the next
 * start. false when a worker is still busy at the deadline (the caller
 * then exits without joining it). Main thread only. */
bool jobs_stop(int64_t timeout_ms);
bool jobs_stopping(void);

/* This worker's handle for the named engine (created on first use). NULL
 * when the engine is unknown or not configured. */
struct engine *worker_engine(struct worker *w, const char *name);

/* This worker's HTTP client (created on first use); NULL when out of
 * memory. */
struct http_client *worker_http(struct worker *w);

/* Exponential backoff with jitter: ~1 s, 2 s, 4 s ... up to 60 s. */
int64_t jobs_backoff(int64_t attempts);

#endif
