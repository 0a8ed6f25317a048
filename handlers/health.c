/*
 * health: liveness, readiness and the health detail.
 */
#include "handlers/health.h"

#include "core/health.h"
#include "core/metrics.h"
#include "handlers/auth.h"

int
health_healthz(struct request *req)
{
	http_reply(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
	return 0;
}

int
health_metrics(struct request *req)
{
	struct buf b;

	buf_init(&b, (size_t)4 << 20);
	if (http_store(req) == NULL || metrics_render(req->store, req->cfg,
	    &b) != 0)
		http_error(req, 503, "unavailable", "cannot read the state");
	else
		http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
		    b.data, b.len);
	buf_release(&b);
	return 0;
}

/* The checks of core/health.h, and the listener: during shutdown
 * webhooks are refused, so previewd is not ready even though its store
 * answers. */
static cJSON *
health_now(bool detail, bool *ready)
{
	cJSON *root = health_json(detail, ready);
	cJSON *checks = cJSON_GetObjectItemCaseSensitive(root, "checks");

	if (root == NULL)
		return NULL;
	cJSON_AddStringToObject(checks, "listener", http_draining() ?
	    "draining" : "ok");
	if (http_draining()) {
		*ready = false;
		cJSON_ReplaceItemInObjectCaseSensitive(root, "ready",
		    cJSON_CreateFalse());
	}
	return root;
}

int
health_readyz(struct request *req)
{
	bool ready = false;
	cJSON *root = health_now(false, &ready);

	if (root == NULL) {
		http_error(req, 503, "unavailable", "out of memory");
		return 0;
	}
	http_json(req, ready ? 200 : 503, root);
	return 0;
}

int
health_api(struct request *req)
{
	bool ready = false;
	cJSON *root;

	if (auth_bearer(req, NULL) != AUTH_ADMIN) {
		auth_deny(req);
		return 0;
	}
	if ((root = health_now(true, &ready)) == NULL) {
		http_error(req, 503, "unavailable", "out of memory");
		return 0;
	}
	/* 200 whatever the state: the request itself succeeded. */
	http_json(req, 200, root);
	return 0;
}
