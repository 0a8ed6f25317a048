/*
 * gitlab: POST /webhooks/gitlab — GitLab merge request hooks, and push
 * hooks for projects that prewarm (webhook_push).
 *
 * Authentication, as [gitlab] configures it: a webhook_token compared in
 * constant time with X-Gitlab-Token, and/or a signing_token for GitLab's
 * Standard Webhooks signatures (webhook-id, webhook-timestamp,
 * webhook-signature). A request must pass the one its headers claim;
 * with neither header it is 401.
 */
#ifndef PREVIEWD_GITLAB_HOOK_H
#define PREVIEWD_GITLAB_HOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "handlers/http.h"

int gitlab_webhook(struct request *req);

/* Standard Webhooks: header holds space-separated "v1,<base64>"
 * signatures; one must be the HMAC-SHA256, keyed with the base64 after
 * "whsec_" in secret, of "{id}.{timestamp}.{body}", and timestamp must be
 * within tolerance seconds of now. Constant time in the signatures. */
bool standard_webhook_ok(const char *secret, const char *id,
    const char *timestamp, const char *body, size_t len, const char *header,
    int64_t now, int64_t tolerance);

#endif
