/*
 * httpd: civetweb glue and routing.
 */
#include "server/httpd.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>
#include <openssl/ssl.h>

#include "handlers/admin.h"
#include "handlers/api.h"
#include "handlers/databases.h"
#include "handlers/github.h"
#include "handlers/gitlab.h"
#include "handlers/health.h"
#include "handlers/http.h"
#include "handlers/intake.h"
#include "handlers/vercel.h"
#include "lib/dburl.h"
#include "lib/log.h"
#include "core/metrics.h"

typedef int (*handler_fn)(struct request *);

/*
 * The routes. A pattern segment "{}" matches one path segment, "{+}" one
 * or more (as many as still lets the rest match, so for GitLab's nested
 * groups the repository is everything up to the last "/pulls/").
 */
/* webhook: which provider's deliveries the route takes (counted in the
 * metrics), or -1. */
static const struct route {
	const char *method;
	const char *pattern;
	handler_fn fn;
	int webhook;
} routes[] = {
	{ "GET", "/healthz", health_healthz, -1 },
	{ "GET", "/readyz", health_readyz, -1 },
	{ "GET", "/metrics", health_metrics, -1 },
	{ "POST", "/webhooks/github", github_webhook, MP_GITHUB },
	{ "POST", "/webhooks/gitlab", gitlab_webhook, MP_GITLAB },
	{ "POST", "/webhooks/vercel", vercel_webhook, MP_VERCEL },
	{ "GET", "/api/v1/repos/{+}/pulls/{}/environment", api_pr_environment,
	  -1 },
	{ "GET", "/api/v1/environments", api_env_list, -1 },
	{ "DELETE", "/api/v1/environments/{}", api_env_delete, -1 },
	{ "POST", "/api/v1/environments/{}/extend", api_env_extend, -1 },
	{ "POST", "/api/v1/environments/{}/retry", api_env_retry, -1 },
	{ "POST", "/api/v1/databases", databases_create, -1 },
	{ "GET", "/api/v1/databases", databases_list, -1 },
	{ "GET", "/api/v1/databases/{}", databases_get, -1 },
	{ "DELETE", "/api/v1/databases/{}", databases_delete, -1 },
	{ "GET", "/", admin_page, -1 },
	{ "POST", "/admin/environments/{}/{}", admin_action, -1 },
	{ "GET", "/api/v1/health", health_api, -1 },
};

/* The outcome a webhook's status says, when its handler said nothing. */
static enum metric_outcome
status_outcome(int status)
{
	switch (status) {
	case 401: return MO_BAD_SIGNATURE;
	case 413: return MO_TOO_LARGE;
	case 503: return MO_UNAVAILABLE;
	case 204: return MO_IGNORED;
	case 200: case 202: return MO_ACCEPTED;
	default: return MO_BAD_REQUEST;
	}
}

static struct mg_context *httpd_ctx;
static const struct config *httpd_cfg;


/* ---- matching ---- */

struct seg {
	const char *p;
	size_t len;
};

#define MAX_SEGS 32

static int
split(const char *path, struct seg *segs, int max)
{
	int n = 0;

	while (*path == '/')
		path++;
	while (*path != '\0') {
		const char *end = strchr(path, '/');
		size_t len = end ? (size_t)(end - path) : strlen(path);

		if (n == max)
			return -1;
		segs[n].p = path;
		segs[n++].len = len;
		path += len;
		while (*path == '/')
			path++;
	}
	return n;
}

static bool
match(const struct seg *pat, int np, const struct seg *path, int n,
    struct seg *caps, int *ncap)
{
	int k;

	if (np == 0)
		return n == 0;
	if (pat->len == 3 && memcmp(pat->p, "{+}", 3) == 0) {
		/* Longest first: the capture ends at the last place the rest
		 * of the pattern can match. */
		for (k = n - (np - 1); k >= 1; k--) {
			int save = *ncap;

			if (*ncap == HTTP_MAX_CAPTURES)
				return false;
			caps[*ncap].p = path[0].p;
			caps[*ncap].len = (size_t)(path[k - 1].p +
			    path[k - 1].len - path[0].p);
			(*ncap)++;
			if (match(pat + 1, np - 1, path + k, n - k, caps, ncap))
				return true;
			*ncap = save;
		}
		return false;
	}
	if (n == 0)
		return false;
	if (pat->len == 2 && memcmp(pat->p, "{}", 2) == 0) {
		if (*ncap == HTTP_MAX_CAPTURES)
			return false;
		caps[(*ncap)++] = path[0];
	} else if (pat->len != path->len || memcmp(pat->p, path->p,
	    pat->len) != 0) {
		return false;
	}
	return match(pat + 1, np - 1, path + 1, n - 1, caps, ncap);
}

/* ---- dispatch ---- */

/*
 * Where request_timeout counts from. For a connection's first request:
 * when a thread took the connection and began to read its headers (also
 * where civetweb's own header timeout starts), so that headers and body
 * together get request_timeout. For the next requests of a kept-alive
 * connection, whose headers civetweb bounds by keep_alive_timeout_ms: when
 * their headers were in.
 */
static int
httpd_init_connection(const struct mg_connection *conn, void **conn_data)
{
	int64_t now = mono_ms();

	(void)conn;
	*conn_data = (void *)(uintptr_t)(now > 0 ? now : 1);
	return 0;
}

static int64_t
request_started(struct mg_connection *conn)
{
	void *first = mg_get_user_connection_data(conn);

	if (first == NULL)
		return mono_ms();
	mg_set_user_connection_data(conn, NULL);
	return (int64_t)(uintptr_t)first;
}

static int
httpd_dispatch(struct mg_connection *conn, void *cbdata)
{
	struct seg psegs[MAX_SEGS], usegs[MAX_SEGS], caps[HTTP_MAX_CAPTURES];
	struct request req;
	bool path_known = false;
	int np, nu, ncap, i;
	size_t r;

	(void)cbdata;
	memset(&req, 0, sizeof(req));
	req.conn = conn;
	req.ri = mg_get_request_info(conn);
	req.started_ms = request_started(conn);
	req.cfg = config_current() != NULL ? config_current() : httpd_cfg;
	req.method = req.ri->request_method;
	buf_init(&req.body, 0);

	nu = req.ri->local_uri ? split(req.ri->local_uri, usegs, MAX_SEGS) : -1;
	for (r = 0; nu >= 0 && r < ARRAY_SIZE(routes); r++) {
		np = split(routes[r].pattern, psegs, MAX_SEGS);
		ncap = 0;
		if (!match(psegs, np, usegs, nu, caps, &ncap))
			continue;
		path_known = true;
		if (strcmp(routes[r].method, req.method) != 0)
			continue;
		for (i = 0; i < ncap; i++) {
			if (caps[i].len >= sizeof(req.cap[i])) {
				http_error(&req, 414, "too_long", "path segment "
				    "too long");
				goto out;
			}
			memcpy(req.cap[i], caps[i].p, caps[i].len);
			req.cap[i][caps[i].len] = '\0';
		}
		req.ncap = ncap;
		req.outcome = -1;
		routes[r].fn(&req);
		if (routes[r].webhook >= 0)
			metrics_webhook((enum metric_provider)routes[r].webhook,
			    req.event, req.outcome >= 0 ?
			    (enum metric_outcome)req.outcome :
			    status_outcome(req.status));
		goto out;
	}
	if (path_known)
		http_error(&req, 405, "method_not_allowed", "method %s not "
		    "allowed here", req.method);
	else
		http_error(&req, 404, "not_found", "no such route");
out:
	http_request_end(&req);
	return req.status ? req.status : 500;
}

int
httpd_init(const struct config *cfg, char *err, size_t errlen)
{
	/* Loaded before civetweb asks for "libssl.so" and "libcrypto.so",
	 * these answer to those names (server/tlsshim/ssl.c says why); they
	 * stay loaded for the life of the process. */
	static const char *const shims[] = {
		PREVIEWD_LIBDIR "/libpreviewd-crypto.so",
		PREVIEWD_LIBDIR "/libpreviewd-ssl.so",
	};
	size_t i;

	if (cfg->server.tls_cert == NULL) {
		mg_init_library(0);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(shims); i++) {
		if (dlopen(shims[i], RTLD_NOW | RTLD_LOCAL) == NULL) {
			snprintf(err, errlen, "tls: cannot load %s (%s); "
			    "was previewd installed with make install?",
			    shims[i], dlerror());
			return -1;
		}
	}
	if ((mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS) == 0) {
		snprintf(err, errlen, "tls: civetweb cannot load OpenSSL");
		return -1;
	}
	return 0;
}

/* civetweb hands us its SSL_CTX: load the certificate chain and the key
 * from their own files (civetweb alone wants both in one). */
static int
httpd_init_ssl(void *ctx, void *user_data)
{
	const struct config *cfg = user_data;

	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->server.tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->server.tls_key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		log_errorx("tls: cannot use %s and %s (a PEM certificate chain "
		    "and its private key?)", cfg->server.tls_cert,
		    cfg->server.tls_key);
		return -1;
	}
	return 1;
}

static int
httpd_log_message(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	log_warnx("http: %s", message);
	return 1;
}

/* civetweb wants "ip:port" or "[v6]:port"; previewd's config says
 * host:port with an IP literal. */
static int
listen_spec(const char *listen, char *out, size_t outsz, char *err,
    size_t errlen)
{
	unsigned char addr[16];
	char host[256];
	int port = 0;

	if (dburl_hostport(listen, host, sizeof(host), &port) != 0 ||
	    port == 0) {
		snprintf(err, errlen, "listen: expected host:port");
		return -1;
	}
	if (inet_pton(AF_INET, host, addr) == 1)
		return str_printf(out, outsz, "%s:%d", host, port);
	if (inet_pton(AF_INET6, host, addr) == 1)
		return str_printf(out, outsz, "[%s]:%d", host, port);
	if (strcmp(host, "localhost") == 0)
		return str_printf(out, outsz, "127.0.0.1:%d", port);
	snprintf(err, errlen, "listen: \"%s\" is not an IP address", host);
	return -1;
}

int
httpd_start(const struct config *cfg, char *err, size_t errlen)
{
	struct mg_callbacks cb;
	char ports[300], threads[16], timeout_ms[32];
	const char *options[] = {
		"listening_ports", ports,
		/* Long polls hold a thread each; the API caps how many may
		 * wait at once (api.c) so webhooks always find a thread, and
		 * http.c caps how many may be reading a body. */
		"num_threads", threads,
		"connection_queue", "1024",
		"listen_backlog", "1024",
		"enable_keep_alive", "yes",
		"keep_alive_timeout_ms", "5000",
		/*
		 * civetweb's own timeout. For the header block it is a
		 * deadline from when a thread takes the connection (checked
		 * after each read, so a header trickled in may take up to
		 * about twice as long). In mg_read it only bounds the silence
		 * between two bytes: a body that arrives a byte a second never
		 * times out there. http_read_body enforces the whole-request
		 * deadline itself, from the same start.
		 */
		"request_timeout_ms", timeout_ms,
		"tcp_nodelay", "1",
		NULL, NULL,     /* room for the TLS option */
		NULL,
	};

	if (listen_spec(cfg->server.listen, ports, sizeof(ports), err,
	    errlen) != 0)
		return -1;
	snprintf(threads, sizeof(threads), "%d", HTTP_THREADS);
	snprintf(timeout_ms, sizeof(timeout_ms), "%lld",
	    (long long)cfg->server.request_timeout * 1000);
	httpd_cfg = cfg;
	memset(&cb, 0, sizeof(cb));
	cb.log_message = httpd_log_message;
	cb.init_connection = httpd_init_connection;
	if (cfg->server.tls_cert != NULL) {
		/* "s": this port speaks TLS; 4: TLS 1.2 and later only. */
		if (str_printf(ports + strlen(ports), sizeof(ports) -
		    strlen(ports), "s") != 0)
			return -1;
		options[ARRAY_SIZE(options) - 3] = "ssl_protocol_version";
		options[ARRAY_SIZE(options) - 2] = "4";
		cb.init_ssl = httpd_init_ssl;
	}
	if (intake_start(err, errlen) != 0)
		return -1;
	httpd_ctx = mg_start(&cb, (void *)(uintptr_t)cfg, options);
	if (httpd_ctx == NULL) {
		intake_stop();
		snprintf(err, errlen, "cannot listen on %s (in use, or not an "
		    "address of this machine?)", cfg->server.listen);
		return -1;
	}
	mg_set_request_handler(httpd_ctx, "/", httpd_dispatch, NULL);
	return 0;
}

void
httpd_drain(void)
{
	http_drain();
}

static atomic_bool httpd_stopped;

static void *
stop_thread(void *arg)
{
	mg_stop(arg);
	atomic_store(&httpd_stopped, true);
	return NULL;
}

/* A connection to our own listener (port, IPv6 or not), closed at once:
 * it ends civetweb's accept poll early. */
static void
poke_listener(int port, bool v6)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	int fd;

	if (v6) {
		memset(&a6, 0, sizeof(a6));
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)port);
		a6.sin6_addr = in6addr_loopback;
		if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) >= 0) {
			(void)connect(fd, (struct sockaddr *)&a6, sizeof(a6));
			close(fd);
		}
		return;
	}
	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	a4.sin_port = htons((uint16_t)port);
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0) {
		(void)connect(fd, (struct sockaddr *)&a4, sizeof(a4));
		close(fd);
	}
}

/*
 * civetweb's listener notices mg_stop only when its accept poll returns,
 * which it does every 2 s (a compile-time constant). Every stop of
 * previewd would wait that long, so while mg_stop runs on another thread
 * we knock on our own door until it is done.
 */
void
httpd_stop(void)
{
	struct timespec tick = { 0, 20 * 1000000 };
	struct mg_server_port ports[4];
	pthread_t t;
	int n;

	if (httpd_ctx != NULL) {
		/* Read before mg_stop starts tearing the context down. */
		n = mg_get_server_ports(httpd_ctx, 4, ports);
		atomic_store(&httpd_stopped, false);
		if (n <= 0 || pthread_create(&t, NULL, stop_thread,
		    httpd_ctx) != 0) {
			mg_stop(httpd_ctx);
		} else {
			while (!atomic_load(&httpd_stopped)) {
				poke_listener(ports[0].port,
				    ports[0].protocol == 2);
				nanosleep(&tick, NULL);
			}
			pthread_join(t, NULL);
		}
	}
	httpd_ctx = NULL;
	intake_stop();
	http_store_cache_close();
}
