/*
 * engine: the registry of engines and the connect-on-use wrappers.
 */
#include "engines/engine.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/dburl.h"
#include "lib/scrub.h"

static const struct engine_ops *const engines[] = {
	&postgres_ops,
	&mysql_ops,
};

const struct engine_ops *
engine_at(size_t i)
{
	return i < ARRAY_SIZE(engines) ? engines[i] : NULL;
}

const struct engine_ops *
engine_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(engines); i++)
		if (strcmp(engines[i]->name, name) == 0)
			return engines[i];
	return NULL;
}

struct engine *
engine_new(const struct engine_ops *ops, const struct engine_cfg *cfg)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (e != NULL) {
		e->ops = ops;
		e->cfg = cfg;
	}
	return e;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	if (e->conn != NULL)
		e->ops->disconnect(e);
	free(e);
}

static int
engine_ready(struct engine *e, char *err, size_t errlen)
{
	if (e->conn != NULL)
		return ENGINE_OK;
	return e->ops->connect(e, err, errlen);
}

/* err holds what a client library or a server wrote, which may quote
 * what it was given: it is scrubbed (lib/scrub.h) before any caller can
 * log or store it, with password, the one the call was given, too. */
static int
engine_out(int rc, char *err, size_t errlen, const char *password)
{
	if (rc != ENGINE_OK)
		(void)scrub_text_with(err, errlen, password);
	return rc;
}

/* After a failure that may have broken the connection, drop it so the
 * next call reconnects instead of reusing a dead session. */
static int
engine_after(struct engine *e, int rc, char *err, size_t errlen,
    const char *password)
{
	if (rc == ENGINE_RETRY && e->conn != NULL)
		e->ops->disconnect(e);
	return engine_out(rc, err, errlen, password);
}

int
engine_ping(struct engine *e, char *err, size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK)
		rc = e->ops->ping(e, err, errlen);
	return engine_after(e, rc, err, errlen, NULL);
}

int
engine_db_create(struct engine *e, const char *db, const char *password,
    char *err, size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK)
		rc = e->ops->db_create(e, db, password, err, errlen);
	return engine_after(e, rc, err, errlen, password);
}

int
engine_claim(struct engine *e, const char *pool_db, const char *db,
    const char *role, const char *password, char *err, size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK)
		rc = e->ops->claim(e, pool_db, db, role, password, err, errlen);
	return engine_after(e, rc, err, errlen, password);
}

int
engine_role_limit(struct engine *e, const char *role, int limit, char *err,
    size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK)
		rc = e->ops->role_limit(e, role, limit, err, errlen);
	return engine_after(e, rc, err, errlen, NULL);
}

int
engine_role_password(struct engine *e, const char *role, const char *password,
    char *err, size_t errlen)
{
	int rc;

	if (e->ops->role_password == NULL)
		return ENGINE_OK;
	if ((rc = engine_ready(e, err, errlen)) == ENGINE_OK)
		rc = e->ops->role_password(e, role, password, err, errlen);
	return engine_after(e, rc, err, errlen, password);
}

int
engine_drop(struct engine *e, const char *db, const char *pool_db,
    const char *role, char *err, size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK)
		rc = e->ops->drop(e, db, pool_db, role, err, errlen);
	return engine_after(e, rc, err, errlen, NULL);
}

struct engine_session {
	const struct engine_ops *ops;
	void *handle;
};

int
engine_session_open(const struct engine_ops *ops, const struct engine_cfg *cfg,
    const char *db, const char *role, const char *password, int64_t timeout_ms,
    struct engine_session **out, char *err, size_t errlen)
{
	struct engine_session *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (s == NULL) {
		str_copy(err, "out of memory", errlen);
		return ENGINE_RETRY;
	}
	s->ops = ops;
	rc = ops->session_open(cfg, db, role, password, timeout_ms, &s->handle,
	    err, errlen);
	if (rc != ENGINE_OK) {
		free(s);
		return engine_out(rc, err, errlen, password);
	}
	*out = s;
	return ENGINE_OK;
}

struct engine_cancel {
	const struct engine_ops *ops;
	void *token;
};

struct engine_cancel *
engine_cancel_token(struct engine_session *s)
{
	struct engine_cancel *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->ops = s->ops;
	if ((c->token = s->ops->cancel_token(s->handle)) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

int
engine_cancel(struct engine_cancel *c, const struct engine_cfg *cfg,
    char *err, size_t errlen)
{
	return engine_out(c->ops->cancel(cfg, c->token, err, errlen), err,
	    errlen, NULL);
}

void
engine_cancel_free(struct engine_cancel *c)
{
	if (c == NULL)
		return;
	c->ops->cancel_free(c->token);
	free(c);
}

int
engine_session_run(struct engine_session *s, const char *sql, size_t len,
    char *err, size_t errlen)
{
	return engine_out(s->ops->session_run(s->handle, sql, len, err, errlen),
	    err, errlen, NULL);
}

int
engine_record_prepare(struct engine_session *s, char *err, size_t errlen)
{
	return engine_out(s->ops->record_prepare(s->handle, err, errlen), err,
	    errlen, NULL);
}

int
engine_record_list(struct engine_session *s, int (*fn)(const char *name,
    const char *checksum, void *arg), void *arg, char *err, size_t errlen)
{
	return engine_out(s->ops->record_list(s->handle, fn, arg, err, errlen),
	    err, errlen, NULL);
}

int
engine_record_apply(struct engine_session *s, const struct engine_apply *a,
    char *err, size_t errlen)
{
	return engine_out(s->ops->record_apply(s->handle, a, err, errlen), err,
	    errlen, NULL);
}

int
engine_db_drop(struct engine *e, const char *db, const char *role, char *err,
    size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK)
		rc = e->ops->db_drop(e, db, role, err, errlen);
	return engine_after(e, rc, err, errlen, NULL);
}

int
engine_db_clone(struct engine *e, const char *base_db, const char *base_role,
    const char *db, const char *password, char *err, size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK)
		rc = e->ops->db_clone(e, base_db, base_role, db, password, err,
		    errlen);
	return engine_after(e, rc, err, errlen, password);
}

int
engine_db_adopt(struct engine *e, const char *db, const char *from_role,
    const char *to_role, char *err, size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK)
		rc = e->ops->db_adopt(e, db, from_role, to_role, err, errlen);
	return engine_after(e, rc, err, errlen, NULL);
}

int
engine_list(struct engine *e, bool role, const char *after, int limit,
    int (*fn)(const char *name, void *arg), void *arg,
    char last[ENGINE_LIST_NAME], char *err, size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	last[0] = '\0';
	if (rc == ENGINE_OK)
		rc = e->ops->list(e, role, after, limit, fn, arg, last,
		    ENGINE_LIST_NAME, err, errlen);
	return engine_after(e, rc, err, errlen, NULL);
}

int
engine_sizes(struct engine *e, const char *const *dbs, size_t n,
    int (*fn)(const char *db, int64_t bytes, void *arg), void *arg,
    char *err, size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK && n > 0)
		rc = e->ops->sizes(e, dbs, n, fn, arg, err, errlen);
	return engine_after(e, rc, err, errlen, NULL);
}

int
engine_drop_orphan(struct engine *e, bool role, const char *name, char *err,
    size_t errlen)
{
	int rc = engine_ready(e, err, errlen);

	if (rc == ENGINE_OK)
		rc = e->ops->drop_orphan(e, role, name, err, errlen);
	return engine_after(e, rc, err, errlen, NULL);
}

void
engine_session_close(struct engine_session *s)
{
	if (s == NULL)
		return;
	s->ops->session_close(s->handle);
	free(s);
}

int
engine_endpoint(const struct engine_ops *ops, const struct engine_cfg *cfg,
    char *host, size_t hostsz, int *port)
{
	struct dburl u;
	char err[128];
	int rc = -1;

	if (dburl_parse(cfg->admin_url, &u, err, sizeof(err)) != 0)
		goto out;
	*port = u.port ? u.port : ops->default_port;
	if (cfg->public_host != NULL)
		rc = dburl_hostport(cfg->public_host, host, hostsz, port);
	else
		rc = str_copy(host, u.host, hostsz);
out:
	crypto_wipe(&u, sizeof(u));
	return rc;
}

int
engine_url(const struct engine_ops *ops, const struct engine_cfg *cfg,
    const char *role, const char *password, const char *db, char *out,
    size_t outsz)
{
	char host[256];
	int port;

	if (engine_endpoint(ops, cfg, host, sizeof(host), &port) != 0)
		return -1;
	return dburl_build(ops->url_scheme, role, password, host, port, db,
	    out, outsz);
}

size_t
engine_history_nparams(const char *stmt)
{
	const char *p;
	size_t n = 0, k;

	for (p = strchr(stmt, '$'); p != NULL; p = strchr(p + 1, '$')) {
		if (p[1] < '1' || p[1] > '9')
			continue;
		k = (size_t)(p[1] - '0');
		n = k > n ? k : n;
	}
	return n;
}
