/*
 * main: the command line, start-up and shutdown.
 *
 *   previewd serve --config FILE
 *   previewd check-config --config FILE
 *   previewd --version
 *
 * Threads: civetweb's HTTP workers, the job workers, the reaper, and this
 * main thread, which only waits for signals (sigwait: signals are read,
 * not handled, so nothing runs in signal context).
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <civetweb.h>
#include <curl/curl.h>
#include <mysql.h>

#include "core/base_head.h"
#include "core/prewarm.h"
#include "core/health.h"
#include "core/jobs.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "core/pooler.h"
#include "engines/engine.h"
#include "forges/http.h"
#include "handlers/admin.h"
#include "lib/config.h"
#include "lib/fault.h"
#include "lib/log.h"
#include "lib/watch.h"
#include "reaper/reaper.h"
#include "server/httpd.h"
#include "store/store.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: previewd serve --config FILE\n"
	    "       previewd check-config --config FILE\n"
	    "       previewd --version\n");
}

/* Load the configuration or print every error. */
static struct config *
load_config(const char *path)
{
	struct config *cfg = NULL;
	struct buf errors;

	buf_init(&errors, 1 << 20);
	if (config_load(path, &cfg, &errors) != 0)
		fputs(errors.data ? errors.data : "configuration error\n",
		    stderr);
	buf_release(&errors);
	return cfg;
}

/* The state file: created or upgraded, and jobs a crash cut off made
 * runnable again; the pools get a refill job. */
static int
prepare_state(const struct config *cfg)
{
	struct store *st = NULL;
	char err[512];
	size_t i;
	int rc = -1;

	if (store_open(cfg->server.state_path, &st, err, sizeof(err)) != 0 ||
	    store_migrate(st, err, sizeof(err)) != 0) {
		log_errorx("state file: %s", err);
		goto out;
	}
	if (store_job_reset(st) != 0) {
		log_errorx("state file: cannot prepare the job queue");
		goto out;
	}
	for (i = 0; engine_at(i) != NULL; i++) {
		const char *name = engine_at(i)->name;

		if (config_engine(cfg, name) != NULL &&
		    store_job_enqueue(st, "pool", name, 0) != 0) {
			log_errorx("state file: cannot prepare the job queue");
			goto out;
		}
	}
	/* Each prewarmed repository's head, asked of its forge; and each
	 * base's copies made, or those a crash left half made dropped. */
	if (base_head_enqueue(cfg, st) < 0 || prewarm_enqueue_all(st) != 0) {
		log_errorx("state file: cannot prepare the job queue");
		goto out;
	}
	rc = 0;
out:
	store_close(st);
	return rc;
}

/* After a reload: the heads again, for sections a reload added or
 * changed (a lookup of an unchanged head enqueues no rebuild). */
static void
learn_bases(const struct config *cfg)
{
	struct store *st = NULL;
	char err[512];

	if (store_open(cfg->server.state_path, &st, err, sizeof(err)) != 0) {
		log_warnx("reload: state file: %s", err);
		return;
	}
	/* prewarm or prewarm_size may have changed: each base looks again. */
	if (base_head_enqueue(cfg, st) < 0 || prewarm_enqueue_all(st) != 0)
		log_warnx("reload: cannot enqueue the lookups of the "
		    "default branches");
	else
		jobs_notify();
	store_close(st);
}

/* A config's warnings (config.h) into the log, line by line: they never
 * stop a start or a reload. */
static void
log_warnings(const struct config *cfg)
{
	char *copy, *line, *save = NULL;

	if (cfg->warnings == NULL || (copy = strdup(cfg->warnings)) == NULL)
		return;
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		log_warnx("%s", line);
	free(copy);
}

static void
log_apply(const struct config *cfg)
{
	enum log_level level = LL_INFO;

	if (log_parse_level(cfg->server.log_level, &level) != 0)
		level = LL_INFO;
	log_setup(level, strcmp(cfg->server.log_format, "json") == 0 ?
	    LOG_JSON : LOG_TEXT);
}

/* SIGHUP: read the file again; a valid one replaces the configuration in
 * force (but for what only a restart can change), an invalid one is
 * reported, line by line, and changes nothing. */
static void
reload(const char *path)
{
	struct config *fresh = NULL;
	struct buf errors;
	char *line, *save = NULL;

	buf_init(&errors, 1 << 20);
	if (config_load(path, &fresh, &errors) != 0) {
		for (line = errors.data ? strtok_r(errors.data, "\n", &save) :
		    NULL; line != NULL; line = strtok_r(NULL, "\n", &save))
			log_errorx("reload: %s", line);
		log_errorx("reload: %s is not valid; the configuration in force "
		    "stays", path);
		buf_release(&errors);
		return;
	}
	buf_release(&errors);
	config_keep_fixed(fresh, config_current());
	log_apply(fresh);
	log_warnings(fresh);
	config_install(fresh);
	log_info("reload: configuration from %s in force", path);
	learn_bases(fresh);
	/* Pool sizes and servers may have changed: the reaper's jobs, now. */
	reaper_wake();
}

static int
serve(struct config *cfg)
{
	sigset_t sigs;
	char err[512];
	int sig, rc = 1;

	config_install(cfg);
	log_apply(cfg);
	log_warnings(cfg);

	/* glibc gives each thread that allocates its own arena (up to 8 per
	 * core); with 128 HTTP threads each keeping freed webhook bodies,
	 * that is most of the resident memory under load. Two arenas keep
	 * lock contention low on these small machines. */
	mallopt(M_ARENA_MAX, 2);

	/* Libraries are initialised once, before any thread starts. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_errorx("cannot initialise libcurl");
		return 1;
	}
	/* Every forge call's outcome is counted by the core's metrics. */
	http_set_observer(metrics_forge);
	if (httpd_init(cfg, err, sizeof(err)) != 0) {
		log_errorx("%s", err);
		return 1;
	}
	if (mysql_library_init(0, NULL, NULL) != 0) {
		log_errorx("cannot initialise the MySQL client library");
		return 1;
	}
	fault_init();
	watch_init();

	/* Every thread inherits this mask; the main thread reads the
	 * signals with sigwait. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (notify_init(cfg, err, sizeof(err)) != 0 ||
	    admin_init(cfg, err, sizeof(err)) != 0 ||
	    reaper_init(err, sizeof(err)) != 0) {
		log_errorx("%s", err);
		goto out;
	}
	if (prepare_state(cfg) != 0)
		goto out;
	if (pooler_start(cfg, err, sizeof(err)) != 0) {
		log_errorx("pgbouncer: %s", err);
		goto out;
	}
	if (jobs_start(cfg, err, sizeof(err)) != 0) {
		log_errorx("%s", err);
		goto pooler;
	}
	if (reaper_start(cfg, err, sizeof(err)) != 0 ||
	    health_start(cfg, err, sizeof(err)) != 0) {
		log_errorx("%s", err);
		goto stop;
	}
	if (httpd_start(cfg, err, sizeof(err)) != 0) {
		log_errorx("%s", err);
		goto stop;
	}
	log_info("previewd %s serving on %s (state %s, %lld workers)",
	    PREVIEWD_VERSION, cfg->server.listen, cfg->server.state_path,
	    (long long)cfg->server.workers);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: reloading %s", cfg->path);
			reload(cfg->path);
			continue;
		}
		break;
	}
	log_info("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;

	/* New webhooks get 503 (the forge shows the delivery failed and it
	 * can be redelivered); long polls answer now; each worker finishes
	 * the step it is in, within shutdown_timeout; what is left stays in
	 * the state file for the next start. HTTP stops last, so the 503s
	 * are answered rather than refused. */
	httpd_drain();
	watch_shutdown();
stop:
	reaper_stop();
	health_stop();
	if (!jobs_stop(config_current()->server.shutdown_timeout * 1000)) {
		httpd_stop();
		log_info("stopped (with steps left to the next start)");
		/* Threads are still running: no library may be torn down
		 * under them. */
		_exit(rc);
	}
	httpd_stop();
pooler:
	pooler_stop();
out:
	notify_release();
	admin_release();
	mg_exit_library();
	mysql_library_end();
	curl_global_cleanup();
	if (rc == 0)
		log_info("stopped");
	return rc;
}

int
main(int argc, char **argv)
{
	const char *cmd, *path = NULL;
	struct config *cfg;
	int i, rc;

	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0)) {
		printf("previewd %s\n", PREVIEWD_VERSION);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	for (i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "--config") == 0 ||
		    strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
			path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			path = argv[i] + 9;
		} else {
			fprintf(stderr, "previewd: unknown argument \"%s\"\n",
			    argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if ((strcmp(cmd, "serve") != 0 && strcmp(cmd, "check-config") != 0) ||
	    path == NULL) {
		usage(stderr);
		return 2;
	}

	/* The state file holds sealed credentials: private to us. */
	umask(077);
	if ((cfg = load_config(path)) == NULL)
		return 1;
	if (strcmp(cmd, "check-config") == 0) {
		char err[512];

		/* The templates are part of the configuration. */
		if (notify_init(cfg, err, sizeof(err)) != 0 ||
		    admin_init(cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			config_free(cfg);
			return 1;
		}
		notify_release();
		admin_release();
		/* Warnings go with the errors, to stderr; they do not fail
		 * the check. */
		if (cfg->warnings != NULL)
			fputs(cfg->warnings, stderr);
		printf("configuration OK\n");
		config_free(cfg);
		return 0;
	}
	rc = serve(cfg);
	config_release_all();
	return rc;
}
