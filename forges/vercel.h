/*
 * vercel: Vercel's REST API — a project's environment variables.
 *
 * Requests go to {[vercel] api_url} with Authorization: Bearer
 * {[vercel] token}. Calls run on job workers only.
 */
#ifndef PREVIEWD_VERCEL_API_H
#define PREVIEWD_VERCEL_API_H

#include "forges/forge.h"

/* Create or replace key on project (team may be "") as an encrypted
 * variable for Preview deployments of git_branch only — never
 * production: POST /v10/projects/{project}/env?upsert=true[&teamId=]. */
enum forge_rc vercel_env_upsert(struct forge_call *call, const char *project,
    const char *team, const char *key, const char *value,
    const char *git_branch);

#endif
