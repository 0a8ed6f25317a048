/*
 * health: liveness.
 */
#include "handlers/health.h"

#include "core/health.h"
#include "core/metrics.h"

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

int
health_readyz(struct request *req)
{
	struct buf b;
	bool ready;

	buf_init(&b, 8192);
	ready = health_report(&b);
	http_reply(req, ready ? 200 : 503, "application/json",
	    b.data ? b.data : "{}", b.data ? b.len : 2);
	buf_release(&b);
	return 0;
}
