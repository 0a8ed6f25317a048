/*
 * forge: what the forge clients (github.c, gitlab.c) have in common.
 *
 * A call takes a struct forge_call: the thread's HTTP client, the
 * configuration, and how many times this work has failed before (for the
 * backoff); it returns an enum forge_rc (see http.h) and, for
 * FORGE_RETRY, how long to wait. Errors name the forge and the status,
 * never a token.
 */
#ifndef PREVIEWD_FORGE_H
#define PREVIEWD_FORGE_H

#include <stdbool.h>
#include <stdint.h>

#include "forges/http.h"
#include "lib/config.h"

struct forge_call {
	struct http_client *http;
	const struct config *cfg;
	int64_t attempts;          /* in: failures so far */
	int64_t installation;      /* in: GitHub App installation, or 0 */
	int64_t retry_ms;          /* out, with FORGE_RETRY */
	char error[512];           /* out, with anything but FORGE_OK */
};

/* An entry of a repository folder. */
struct forge_entry {
	char name[256];
	char path[1024];           /* from the repository's root */
	char blob[41];             /* a file's git blob id, or "" */
	bool is_file;
};

typedef int (*forge_entry_fn)(const struct forge_entry *e, void *arg);

/* One page of a repository's open pull (merge) requests, asked for
 * conditionally: the caller keeps each page's URL, ETag and numbers, so
 * that a page the forge answers 304 (on GitHub, free of rate limit)
 * costs a round trip and nothing else. */
#define FORGE_URL_SIZE 1024
#define FORGE_PER_PAGE 100         /* items a page asks for */
struct forge_page {
	char url[FORGE_URL_SIZE];  /* in: the page; "" the first */
	char etag[128];            /* in: its ETag when last read, or "";
	                            * out: this answer's */
	bool unchanged;            /* out: 304, as it was at etag: nothing
	                            * below is set */
	char next[FORGE_URL_SIZE]; /* out: the next page, "" after the last */
	int64_t *numbers;          /* out: n of them; the caller frees */
	size_t n;
};

/* Whether url is under the forge's API at api_url: a page's URL comes
 * from the forge's Link header, and the request to it carries a token. */
bool forge_url_under(const char *url, const char *api_url);

/* The page's numbers: the integer under key ("number", "iid") of each
 * object of the JSON array in res, appended to p->numbers. FORGE_FAIL
 * with call->error naming what for an answer that is no array, or when
 * out of memory. */
enum forge_rc forge_page_numbers(struct forge_call *call,
    const struct http_response *res, const char *key, const char *what,
    struct forge_page *p);

/* Files are read whole, up to this size (the caller's cap may be lower). */
#define FORGE_MAX_FILE ((size_t)5 << 20)

/* The end of a file read: with rc FORGE_OK, res's body into out (a body
 * over max fails, naming what); res is released whatever rc. Returns the
 * outcome. */
enum forge_rc forge_file_body(struct forge_call *call, enum forge_rc rc,
    struct http_response *res, const char *what, size_t max,
    struct buf *out);

/* Whether id can be a git blob id (lower-case hex, as both forges give
 * it): it goes into a URL. */
bool forge_blob_ok(const char *id);

/* Percent-encode each segment of a repository path ("db/my migrations"
 * -> "db/my%20migrations"), or the whole of it with '/' encoded too
 * (GitLab's file endpoint). 0 ok, -1 too long. */
int forge_escape_path(const char *path, bool slashes, char *out, size_t outsz)
    MUST_CHECK;

/* A repository's default branch and the commit at its head (issue 15's
 * prewarming), and how the forge's API names the repository: GitHub
 * owner/name, GitLab the project's numeric id. */
struct forge_head {
	char branch[256];
	char sha[72];
	char api_target[256];
};

/* From the JSON object in res, the string (or integer, written in
 * decimal) under the keys of path (NULL-terminated) into out. FORGE_OK;
 * FORGE_FAIL with call->error naming what when it is missing, of another
 * type, empty or longer than out. */
enum forge_rc forge_answer_string(struct forge_call *call,
    const struct http_response *res, const char *const *path, char *out,
    size_t outsz, const char *what);

/* Who previewd is on a forge: the account its comments are written by
 * (the token's user, or a GitHub App's bot). */
struct forge_identity {
	int64_t id;
	char login[256];
};

/* Identities are fetched by a job worker when first needed, and cached
 * by a digest of the configuration that decides them (the API's URL and
 * the token, or the App), so a reload with another token asks again;
 * an entry older than FORGE_IDENTITY_TTL seconds is asked again too.
 * forge_identity_key makes the digest (hex, 65 bytes) of parts joined by
 * newlines; no token is kept. Thread-safe. */
#define FORGE_IDENTITY_TTL 3600
void forge_identity_key(const char *const *parts, char key[65]);
bool forge_identity_get(const char *key, struct forge_identity *out);
void forge_identity_put(const char *key, const struct forge_identity *in);

/* One page of a pull request's comments (GitHub) or notes (GitLab): a
 * JSON array of objects with "id", "body" and the writer under author
 * ("user" on GitHub, "author" on GitLab, each with its "id"). Sets *id to
 * the first whose body holds marker and whose writer is self (left alone
 * when none): anyone can write the marker into a comment of their own,
 * and previewd must never take over (and fill with a password) a comment
 * someone else wrote. Such a comment is logged, by id, and passed over.
 * Returns how many items the page had, so the caller knows whether there
 * is another. */
int forge_find_marked(const char *json, size_t len, const char *marker,
    const char *author, int64_t self, int64_t *id);

#endif
