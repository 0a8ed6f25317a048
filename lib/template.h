/*
 * template: a small Mustache subset for the text operators may replace
 * (the pull request comment, the admin page).
 *
 *   {{name}}               the value, escaped for the template's kind
 *   {{{name}}}             the value as it is: only for values previewd
 *                          built or cleaned itself (URLs, code blocks)
 *   {{#name}} ... {{/name}} the block if name is truthy (a non-empty
 *                          string, true, a non-zero number, a non-empty
 *                          array or object); once per element for an
 *                          array, with the element as the innermost context
 *   {{^name}} ... {{/name}} the block if name is falsy or missing
 *   {{! comment }}
 *
 * Names may be dotted ("pool.idle"); "." is the current element. A name
 * is looked up from the innermost context outwards, as Mustache does.
 * Escaping is done here, once, for every {{name}}: no call site escapes
 * by hand. Templates are parsed when loaded, so a broken template is an
 * error at start-up with its line, not a broken comment later.
 */
#ifndef PREVIEWD_TEMPLATE_H
#define PREVIEWD_TEMPLATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "lib/util.h"

enum template_escape {
	TEMPLATE_HTML,       /* & < > " ' as entities */
	TEMPLATE_MARKDOWN,   /* ASCII punctuation backslash-escaped, < > & as
	                        entities: no markup, links or mentions */
};

struct template;

#define TEMPLATE_MAX_SIZE ((size_t)1 << 20)

/* Parse text (len bytes). 0 ok; -1 with "N: reason" (N: the line) in
 * err. */
int template_parse(const char *text, size_t len, enum template_escape esc,
    struct template **out, char *err, size_t errlen) MUST_CHECK;

/* Read and parse a file; err names the file. */
int template_load(const char *path, enum template_escape esc,
    struct template **out, char *err, size_t errlen) MUST_CHECK;

/* Render with data (a cJSON object) appended to out. 0 ok, -1 when out
 * reached its maximum. Thread-safe: a template is read-only once parsed. */
int template_render(const struct template *t, const cJSON *data,
    struct buf *out) MUST_CHECK;

void template_free(struct template *t);

/* s escaped for esc, appended to out; -1 when out is full. */
int template_escape(enum template_escape esc, const char *s, struct buf *out);

#endif
