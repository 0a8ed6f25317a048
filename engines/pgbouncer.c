/*
 * pgbouncer: files, admin console and process (see pgbouncer.h).
 */
#include "engines/pgbouncer.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lib/log.h"
#include "lib/scrub.h"
#include "lib/util.h"

#define PGB_STOP_WAIT_MS 5000    /* SIGTERM, then SIGKILL after this */

struct pgb_admin {
	PGconn *conn;
};

/* pgbouncer parses both files itself: only previewd's own characters go
 * into them unquoted. */
static bool
name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) >= PGB_NAME_SIZE)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_'))
			return false;
	return true;
}

/* A host (or a socket directory) goes into a "key=value" list: no space,
 * quote, '=' or backslash in it. */
static bool
host_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s == '\'' || *s == '"' || *s == '=' ||
		    *s == '\\' || *s == ';' || *s == '#')
			return false;
	return true;
}

/* Write b to dir/name through dir/name.tmp: 0600, owned by uid/gid. */
static int
write_file(const struct pgb_settings *s, const char *name,
    const struct buf *b, char *err, size_t errlen)
{
	char path[1024], tmp[1040];
	size_t off = 0;
	ssize_t w;
	int fd = -1, rc = -1;

	if (str_printf(path, sizeof(path), "%s/%s", s->dir, name) != 0 ||
	    str_printf(tmp, sizeof(tmp), "%s.tmp", path) != 0) {
		snprintf(err, errlen, "config_dir too long");
		return -1;
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
		    strerror(errno));
		return -1;
	}
	if (s->uid != (uid_t)-1 && fchown(fd, s->uid, s->gid) != 0) {
		snprintf(err, errlen, "cannot give %s to uid %ld: %s", tmp,
		    (long)s->uid, strerror(errno));
		goto out;
	}
	while (off < b->len) {
		if ((w = write(fd, b->data + off, b->len - off)) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot write %s: %s", tmp,
			    strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	if (rc != 0)
		(void)unlink(tmp);
	return rc;
}

int
pgbouncer_write(const struct pgb_settings *s, const struct pgb_entry *e,
    size_t n, char *err, size_t errlen)
{
	struct buf ini, users;
	size_t i;
	int rc = -1;

	buf_init(&ini, 64u << 20);
	buf_init(&users, 64u << 20);
	if (!host_ok(s->server_host) || !name_ok(s->admin_user)) {
		snprintf(err, errlen, "PostgreSQL's host or the admin user "
		    "cannot be written into pgbouncer.ini");
		goto out;
	}
	if (buf_addstr(&ini, "; Written by previewd, which rewrites it at "
	    "every change: do not edit.\n[databases]\n") != 0 ||
	    buf_printf(&users, "\"%s\" \"%s\"\n", s->admin_user,
	    s->admin_verifier) != 0)
		goto oom;
	for (i = 0; i < n; i++) {
		if (!name_ok(e[i].db) || !name_ok(e[i].role)) {
			snprintf(err, errlen, "refusing to write database "
			    "\"%.64s\" into pgbouncer.ini", e[i].db);
			goto out;
		}
		if (buf_printf(&ini, "%s = host=%s port=%d dbname=%s "
		    "pool_size=%d max_db_connections=%d\n", e[i].db,
		    s->server_host, s->server_port, e[i].db, e[i].pool_size,
		    e[i].pool_size) != 0 ||
		    buf_printf(&users, "\"%s\" \"%s\"\n", e[i].role,
		    e[i].verifier) != 0)
			goto oom;
	}
	if (s->managed && buf_printf(&ini, "\n[pgbouncer]\n"
	    "listen_addr = %s\n"
	    "listen_port = %d\n"
	    "unix_socket_dir =\n"
	    "auth_type = scram-sha-256\n"
	    "auth_file = %s/userlist.txt\n"
	    "admin_users = %s\n"
	    "pool_mode = %s\n"
	    "default_pool_size = %lld\n"
	    "max_client_conn = %lld\n"
	    "pidfile = %s/pgbouncer.pid\n"
	    "ignore_startup_parameters = extra_float_digits\n"
	    /* A serverless preview connects per request: a log line
	     * each would drown previewd's own (pgbouncer's standard
	     * error is previewd's). */
	    "log_connections = 0\n"
	    "log_disconnections = 0\n",
	    s->listen_host, s->listen_port, s->dir, s->admin_user,
	    s->pool_mode, (long long)s->default_pool_size,
	    (long long)s->max_client_conn, s->dir) != 0)
		goto oom;
	/* The users first: a database whose role pgbouncer does not know
	 * yet would refuse its first client. */
	if (write_file(s, "userlist.txt", &users, err, errlen) != 0 ||
	    write_file(s, "pgbouncer.ini", &ini, err, errlen) != 0)
		goto out;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "pgbouncer's files: out of memory");
out:
	if (users.data != NULL)
		crypto_wipe(users.data, users.cap);
	buf_release(&ini);
	buf_release(&users);
	return rc;
}

int
pgbouncer_admin_open(const char *host, int port, const char *user,
    const char *password, struct pgb_admin **out, char *err, size_t errlen)
{
	static const char *const keys[] = { "host", "port", "dbname", "user",
	    "password", "connect_timeout", "sslmode", NULL };
	char portstr[16];
	const char *values[8];
	struct pgb_admin *a;

	*out = NULL;
	snprintf(portstr, sizeof(portstr), "%d", port);
	values[0] = host;
	values[1] = portstr;
	values[2] = "pgbouncer";
	values[3] = user;
	values[4] = password;
	values[5] = "5";
	values[6] = "disable";
	values[7] = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->conn = PQconnectdbParams(keys, values, 0);
	if (a->conn == NULL || PQstatus(a->conn) != CONNECTION_OK) {
		str_first_line(err, a->conn ? PQerrorMessage(a->conn) :
		    "out of memory", errlen);
		(void)scrub_text(err, errlen);
		pgbouncer_admin_close(a);
		return -1;
	}
	*out = a;
	return 0;
}

void
pgbouncer_admin_close(struct pgb_admin *a)
{
	if (a == NULL)
		return;
	PQfinish(a->conn);
	free(a);
}

/* Run one admin command; *res (when res) gets the result to PQclear. */
static int
admin_exec(struct pgb_admin *a, const char *cmd, PGresult **res, char *err,
    size_t errlen)
{
	PGresult *r = PQexec(a->conn, cmd);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *msg = r ? PQresultErrorMessage(r) : "";

		str_first_line(err, msg[0] ? msg : PQerrorMessage(a->conn),
		    errlen);
		(void)scrub_text(err, errlen);
		PQclear(r);
		return -1;
	}
	if (res != NULL)
		*res = r;
	else
		PQclear(r);
	return 0;
}

int
pgbouncer_reload(struct pgb_admin *a, char *err, size_t errlen)
{
	return admin_exec(a, "RELOAD", NULL, err, errlen);
}

int
pgbouncer_kill(struct pgb_admin *a, const char *db, char *err,
    size_t errlen)
{
	char cmd[PGB_NAME_SIZE + 8];

	if (!name_ok(db) || str_printf(cmd, sizeof(cmd), "KILL %s", db) != 0) {
		snprintf(err, errlen, "not a database name");
		return -1;
	}
	if (admin_exec(a, cmd, NULL, err, errlen) == 0)
		return 0;
	/* Gone already (an earlier teardown, or pgbouncer restarted with
	 * the files that no longer name it). */
	if (strstr(err, "no such database") != NULL &&
	    PQstatus(a->conn) == CONNECTION_OK)
		return 0;
	return -1;
}

/* The column named name of res, or -1. */
static int
column(PGresult *res, const char *name)
{
	return PQfnumber(res, name);
}

int
pgbouncer_has_db(struct pgb_admin *a, const char *db, bool *has, char *err,
    size_t errlen)
{
	PGresult *res;
	int i, c;

	*has = false;
	if (admin_exec(a, "SHOW DATABASES", &res, err, errlen) != 0)
		return -1;
	if ((c = column(res, "name")) < 0) {
		snprintf(err, errlen, "SHOW DATABASES has no name column");
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(res) && !*has; i++)
		*has = strcmp(PQgetvalue(res, i, c), db) == 0;
	PQclear(res);
	return 0;
}

static int64_t
cell(PGresult *res, int row, int col)
{
	return col < 0 ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int
pgbouncer_pools(struct pgb_admin *a,
    void (*fn)(const struct pgb_pool *p, void *arg), void *arg, char *err,
    size_t errlen)
{
	struct pgb_pool p;
	PGresult *res;
	int i, cdb, cca, ccw, csa, csi, csu;

	if (admin_exec(a, "SHOW POOLS", &res, err, errlen) != 0)
		return -1;
	cdb = column(res, "database");
	cca = column(res, "cl_active");
	ccw = column(res, "cl_waiting");
	csa = column(res, "sv_active");
	csi = column(res, "sv_idle");
	csu = column(res, "sv_used");
	if (cdb < 0) {
		snprintf(err, errlen, "SHOW POOLS has no database column");
		PQclear(res);
		return -1;
	}
	/* One row per (database, user): rows of one database are summed;
	 * pgbouncer lists them together. */
	memset(&p, 0, sizeof(p));
	for (i = 0; i < PQntuples(res); i++) {
		const char *db = PQgetvalue(res, i, cdb);

		if (strcmp(db, "pgbouncer") == 0)
			continue;
		if (p.db[0] != '\0' && strcmp(p.db, db) != 0) {
			fn(&p, arg);
			memset(&p, 0, sizeof(p));
		}
		str_copy(p.db, db, sizeof(p.db));
		p.cl_active += cell(res, i, cca);
		p.cl_waiting += cell(res, i, ccw);
		p.sv_active += cell(res, i, csa);
		p.sv_idle += cell(res, i, csi);
		p.sv_used += cell(res, i, csu);
	}
	if (p.db[0] != '\0')
		fn(&p, arg);
	PQclear(res);
	return 0;
}

int
pgbouncer_stats(struct pgb_admin *a, struct pgb_stats *out, char *err,
    size_t errlen)
{
	PGresult *res;
	int i, cdb, cx, cq, cw;

	memset(out, 0, sizeof(*out));
	if (admin_exec(a, "SHOW STATS", &res, err, errlen) != 0)
		return -1;
	cdb = column(res, "database");
	cx = column(res, "total_xact_count");
	cq = column(res, "total_query_count");
	cw = column(res, "total_wait_time");
	for (i = 0; i < PQntuples(res); i++) {
		if (cdb >= 0 && strcmp(PQgetvalue(res, i, cdb), "pgbouncer") == 0)
			continue;
		out->xacts += cell(res, i, cx);
		out->queries += cell(res, i, cq);
		out->wait_us += cell(res, i, cw);
	}
	PQclear(res);
	return 0;
}

pid_t
pgbouncer_spawn(const char *binary, const char *dir, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
	char ini[1040];
	pid_t parent = getpid(), pid;
	int devnull;

	if (str_printf(ini, sizeof(ini), "%s/pgbouncer.ini", dir) != 0) {
		snprintf(err, errlen, "config_dir too long");
		return -1;
	}
	if (access(binary, X_OK) != 0) {
		snprintf(err, errlen, "cannot run %s: %s (is Debian's pgbouncer "
		    "package installed?)", binary, strerror(errno));
		return -1;
	}
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open /dev/null: %s",
		    strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		(void)close(devnull);
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec: the parent
		 * has threads. The user is changed here rather than by
		 * pgbouncer's -u, which would clear the death signal. */
		char *argv[3];
		sigset_t none;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGPIPE, SIG_DFL);
		argv[0] = (char *)binary;
		argv[1] = ini;
		argv[2] = NULL;
		(void)dup2(devnull, 0);
		(void)syscall(SYS_close_range, 3U, ~0U, 0U);
		if (uid != (uid_t)-1 && (setgroups(0, NULL) != 0 ||
		    setgid(gid) != 0 || setuid(uid) != 0))
			_exit(126);
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(0);
		execv(binary, argv);
		_exit(127);
	}
	(void)close(devnull);
	return pid;
}

void
pgbouncer_stop(pid_t pid, bool child)
{
	int64_t until = mono_ms() + PGB_STOP_WAIT_MS;
	struct timespec ts = { 0, 20 * 1000000 };
	int status;

	(void)kill(pid, SIGTERM);
	for (;;) {
		if (child ? waitpid(pid, &status, WNOHANG) != 0 :
		    kill(pid, 0) != 0)
			return;
		if (mono_ms() > until) {
			(void)kill(pid, SIGKILL);
			if (child)
				(void)waitpid(pid, &status, 0);
			return;
		}
		nanosleep(&ts, NULL);
	}
}

pid_t
pgbouncer_leftover(const char *dir)
{
	char path[1040], comm[64];
	long pid = 0;
	FILE *f;

	if (str_printf(path, sizeof(path), "%s/pgbouncer.pid", dir) != 0 ||
	    (f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	(void)fclose(f);
	if (pid <= 1 || str_printf(path, sizeof(path), "/proc/%ld/comm",
	    pid) != 0 || (f = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	(void)fclose(f);
	return str_starts(comm, "pgbouncer") ? (pid_t)pid : 0;
}
