/*
 * admin: the admin page — GET / and its actions.
 *
 * HTTP Basic auth: any user name, the password is [server] admin_token
 * (compared in constant time); the user name is who the log says acted.
 * The page is templates/admin.html, rendered with HTML escaping by the
 * template engine, from the state store only (database sizes come from
 * the sweep), so it never waits on a database server.
 *
 * Actions are POST forms to /admin/environments/{id}/{extend|destroy|
 * retry} carrying a CSRF token bound to the user name (an HMAC under
 * secret_key that changes daily; yesterday's still counts): a form posted
 * from another site, which the browser would send with the saved Basic
 * credentials, lacks it and is refused with 403. Each answers 303 back
 * to the page.
 */
#ifndef PREVIEWD_ADMIN_H
#define PREVIEWD_ADMIN_H

#include "handlers/http.h"

/* Load and check templates/admin.html. Main thread, at start. */
int admin_init(const struct config *cfg, char *err, size_t errlen) MUST_CHECK;
void admin_release(void);

int admin_page(struct request *req);
int admin_action(struct request *req);

#endif
