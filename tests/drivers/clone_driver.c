/*
 * clone_driver: the engines' pool and clone operations, one call per
 * run, for tests/integration/test_engine_clone.py and
 * bench/clone_strategies.py (they have no HTTP route of their own yet).
 *
 *   clone_driver ENGINE ACTION NAME...
 *
 *   create  DB                        engine_db_create
 *   clone   BASE_DB BASE_ROLE DB      engine_db_clone
 *   claim   POOL_DB DB ROLE           engine_claim
 *   adopt   DB FROM_ROLE TO_ROLE      engine_db_adopt
 *   drop    DB POOL_DB ROLE           engine_drop   ("-" for "")
 *   db_drop DB ROLE                   engine_db_drop
 *
 * ENGINE is "postgres" or "mysql". The secrets come from the environment,
 * never the command line: PREVIEWD_ADMIN_URL (the admin connection) and
 * PREVIEWD_PASSWORD (create, clone, claim; unset, the call gets NULL:
 * a member without its role). It prints one JSON line,
 * {"rc": "ok"|"retry"|"fail", "error": "...", "ms": N}, where ms is the
 * call alone (the admin connection is made before it), and exits 0; 2 on
 * a usage error, 1 when the server cannot be reached at all. With
 * PREVIEWD_TWICE=1 the call is made again on the same connection, as the
 * daemon's long-lived one would, and "again_ms" is that one's time.
 *
 *   clone_driver ENGINE -
 *
 * reads one ACTION NAME... a line from standard input and makes each call
 * on the same admin connection, one JSON line each, as the daemon's
 * long-lived connection does (bench/role_growth.py: a fresh connection's
 * first catalog reads would otherwise be most of a claim's time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engines/engine.h"
#include "lib/inert.h"
#include "lib/util.h"

static double
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static const char *
arg(const char *s)
{
	return strcmp(s, "-") == 0 ? "" : s;
}

static int
usage(void)
{
	fprintf(stderr, "usage: clone_driver postgres|mysql create DB | "
	    "clone BASE_DB BASE_ROLE DB | claim POOL_DB DB ROLE | adopt DB "
	    "FROM TO | drop DB POOL_DB ROLE | db_drop DB ROLE | - (those, one a "
	    "line on standard input)\n"
	    "  (PREVIEWD_ADMIN_URL, PREVIEWD_PASSWORD in the environment)\n");
	return 2;
}

static int
call(struct engine *e, int argc, char **argv, const char *pw, char *err,
    size_t errlen)
{
	const char *a = argv[2];

	if (strcmp(a, "create") == 0 && argc == 4)
		return engine_db_create(e, argv[3], pw, err, errlen);
	if (strcmp(a, "clone") == 0 && argc == 6)
		return engine_db_clone(e, argv[3], argv[4], argv[5], pw, err,
		    errlen);
	if (strcmp(a, "claim") == 0 && argc == 6)
		return engine_claim(e, arg(argv[3]), argv[4], argv[5], pw, err,
		    errlen);
	if (strcmp(a, "adopt") == 0 && argc == 6)
		return engine_db_adopt(e, argv[3], argv[4], argv[5], err,
		    errlen);
	if (strcmp(a, "drop") == 0 && argc == 6)
		return engine_drop(e, argv[3], arg(argv[4]), argv[5], err,
		    errlen);
	if (strcmp(a, "db_drop") == 0 && argc == 5)
		return engine_db_drop(e, argv[3], argv[4], err, errlen);
	return 2;
}

/* One call, timed, and its JSON line; 2 on a usage error. */
static int
run_one(struct engine *e, int argc, char **argv, const char *pw)
{
	static const char *const rcs[] = { "ok", "retry", "fail" };
	struct buf out;
	char err[1024] = "", why[1024];
	double t0, ms, again = -1;
	int rc;

	t0 = clock_ms();
	rc = call(e, argc, argv, pw, err, sizeof(err));
	ms = clock_ms() - t0;
	if (rc == ENGINE_OK && getenv("PREVIEWD_TWICE") != NULL) {
		t0 = clock_ms();
		rc = call(e, argc, argv, pw, why, sizeof(why));
		again = clock_ms() - t0;
		if (rc != ENGINE_OK)
			str_copy(err, why, sizeof(err));
	}
	if (rc == 2)
		return 2;
	buf_init(&out, 8192);
	if (inert_json(err, &out) != 0)
		return 1;
	printf("{\"rc\": \"%s\", \"error\": \"%s\", \"ms\": %.3f, "
	    "\"again_ms\": %.3f}\n", rcs[-rc], out.data ? out.data : "", ms,
	    again);
	fflush(stdout);
	buf_release(&out);
	return 0;
}

/* The calls read from standard input, one a line, words split at
 * spaces. */
static int
run_lines(struct engine *e, char *engine, const char *pw)
{
	static char self[] = "clone_driver";
	char line[1024], *words[8], *p;
	int n, rc = 0;

	words[0] = self;
	words[1] = engine;
	while (rc == 0 && fgets(line, sizeof(line), stdin) != NULL) {
		n = 2;
		for (p = line; *p != '\0' && n < (int)ARRAY_SIZE(words); ) {
			while (*p == ' ' || *p == '\n')
				*p++ = '\0';
			if (*p == '\0')
				break;
			words[n++] = p;
			while (*p != '\0' && *p != ' ' && *p != '\n')
				p++;
		}
		if (n > 2)
			rc = run_one(e, n, words, pw);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	const char *pw = getenv("PREVIEWD_PASSWORD");
	struct engine_cfg cfg = { 0 };
	const struct engine_ops *ops;
	struct engine *e;
	char err[1024] = "";
	int rc;

	if (argc < 3 || (ops = engine_find(argv[1])) == NULL ||
	    (cfg.admin_url = getenv("PREVIEWD_ADMIN_URL")) == NULL ||
	    (argc == 3 && strcmp(argv[2], "-") != 0))
		return usage();
	cfg.configured = true;
	if ((e = engine_new(ops, &cfg)) == NULL)
		return 1;
	if (engine_ping(e, err, sizeof(err)) != ENGINE_OK) {
		fprintf(stderr, "clone_driver: %s\n", err);
		engine_free(e);
		return 1;
	}
	rc = argc == 3 ? run_lines(e, argv[1], pw) : run_one(e, argc, argv, pw);
	engine_free(e);
	return rc == 2 ? usage() : rc;
}
