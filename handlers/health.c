/*
 * health: liveness.
 */
#include "handlers/health.h"

int
health_healthz(struct request *req)
{
	http_reply(req, 200, "text/plain; charset=utf-8", "ok\n", 3);
	return 0;
}
