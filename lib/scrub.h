/*
 * scrub: secrets out of text that leaves the process.
 *
 * Database client libraries, database servers and forges write their own
 * messages, and some quote what they were given: libpq's URI parser
 * quotes a password it cannot decode ("invalid percent-encoded token:
 * \"...\""), servers quote the user name they refuse, and a future
 * version may quote more. previewd passes such messages on — to the log,
 * an environment's "error" (the API, the admin page, the pull request
 * comment) and GET /api/v1/health — so each is scrubbed where it enters
 * previewd, not where it leaves, since it leaves in many places:
 *
 *   - engines/engine.c, the wrapper every engine call goes through,
 *     scrubs err before its caller sees it, with the password the call
 *     was given (an environment's) as well as the registry;
 *   - forges/http.c scrubs the reason of every forge call it classifies;
 *   - lib/log.c scrubs every line, the last line of defence for text
 *     that reaches the log some other way;
 *   - the handlers scrub stored error text again as they show it, so rows
 *     written before the scrubber existed show nothing either.
 *
 * The registry holds the configuration's secrets: every database admin
 * URL's password, as written and percent-decoded (libpq quotes the one,
 * a server the other), and the tokens and webhook secrets. config_install
 * replaces it at start-up and on every reload (SIGHUP). Scrubs and the
 * replacement take one mutex (scrub.c says why not a read-write lock): a
 * scrub runs against one whole registry, the old or the new, and the old
 * one is freed only once no scrub holds it.
 *
 * Each occurrence becomes SCRUB_MASK. So does the start of a secret at the
 * very end of the text: messages are cut to fit their buffers, and a cut
 * may fall inside a quoted password. Secrets shorter than SCRUB_MIN_LEN
 * are not registered: masking every "pw" would make messages unreadable,
 * and a secret that short is guessed, not leaked. A secret that is also a
 * common word (a password "postgres") masks that word everywhere: the
 * price of never showing it.
 */
#ifndef PREVIEWD_SCRUB_H
#define PREVIEWD_SCRUB_H

#include <stddef.h>

#include "lib/util.h"

#define SCRUB_MASK "[redacted]"
#define SCRUB_MIN_LEN 4

/* Make the n strings of secrets (NULL and short entries skipped) the
 * registry, copied. Any thread; config_install calls it. 0 ok, -1 out of
 * memory (the old registry stays). */
int scrub_register(const char *const *secrets, size_t n) MUST_CHECK;

/* Free the registry (at exit, after every thread stopped). */
void scrub_release(void);

/* Replace in s — a NUL-terminated string in a buffer of size bytes — each
 * registered secret, and also extra unless it is NULL (an environment's
 * password), by SCRUB_MASK. The result is NUL-terminated within size; it
 * is cut when masks are longer than what they replace. When anything was
 * masked the bytes after the result are zeroed (no tail of the old text
 * stays behind the NUL); a text without a secret is left untouched.
 * Never leaves a secret: text it cannot scrub becomes SCRUB_MASK alone,
 * or "". Any thread. Returns how many were masked (0: none). */
size_t scrub_text(char *s, size_t size);
size_t scrub_text_with(char *s, size_t size, const char *extra);

/* The same against the n strings of secrets only (no registry). */
size_t scrub_list(char *s, size_t size, const char *const *secrets, size_t n);

#endif
