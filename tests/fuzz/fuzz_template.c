/*
 * fuzz_template: template_parse on arbitrary text, for both escape kinds,
 * and template_render of what parses against a fixed cJSON context like
 * the one notify.c builds (strings with markup, numbers, booleans, null,
 * nested objects and arrays), into a bounded buffer.
 *
 * Input: the first byte picks the escape kind (bit 0), the rest is the
 * template (NULs included: template_parse takes a length).
 *
 * Invariants, beyond "no sanitizer report, no leak":
 *   - a refused template gets "LINE: reason" in err;
 *   - rendering is deterministic (twice, same bytes) and stays within the
 *     buffer's maximum, failing cleanly when it would not;
 *   - escaping holds: in the context's strings U+0001 stands before every
 *     character that could start markup; unless the template itself holds
 *     U+0001 or a {{{raw}}} tag, no U+0001 in the output may be followed
 *     by markup (HTML: < > " '; Markdown: those and * _ [ ] ` | ~ @ ( ) !
 *     and newline); and template_escape of the input alone leaves no
 *     '<' or '>' (for HTML no quote; for Markdown no newline).
 */
#include "tests/fuzz/fuzz.h"

#include <cjson/cJSON.h>

#include "lib/template.h"

#define OUT_MAX (64 * 1024)

static cJSON *ctx;

/* Every place a value could start markup is marked with U+0001 just
 * before it: after escaping, no U+0001 may be followed by markup. */
static const char context_json[] =
    "{"
    "\"id\": \"\\u0001<!-- -->env_01\","
    "\"name\": \"pvd_shop_1a2b3c4d_42\","
    "\"repo\": \"acme/shop\","
    "\"number\": 42, \"port\": 5432, \"zero\": 0, \"neg\": -1,"
    "\"frac\": 3.25, \"big\": 1e15,"
    "\"ready\": true, \"failed\": false, \"deleted\": false,"
    "\"password_shown\": false, \"none\": null, \"empty\": \"\","
    "\"engine\": \"postgres\","
    "\"database_url\": \"postgresql://u:p%40ss@db.example.com:5432/pvd\","
    "\"note\": \"\\u0001<b>bold</b> \\u0001*em* \\u0001_u_ \\u0001[l]"
    "\\u0001(http://x) \\u0001@user \\u0001`c` \\u0001~s~ \\u0001|t| "
    "\\u0001!img \\u0001\\\"q\\u0001\\\" \\u0001'a' & \\\\ \\u0001\\n# h\\n- i\","
    "\"error_block\": \"\\u0001<script>alert(1)\\u0001</script>\\u0001\\n```\","
    "\"host\": \"\\u0001*db*.example.com\","
    "\"pool\": {\"idle\": 3, \"name\": \"\\u0001<i>pool\\u0001</i>\","
    "  \"deep\": {\"er\": {\"est\": \"\\u0001>x\"}}},"
    "\"list\": [{\"x\": \"\\u0001<1>\", \"y\": true}, {\"x\": \"\\u0001*2*\"}],"
    "\"nums\": [1, 2],"
    "\"nested\": [[\"\\u0001<a>\", \"b\"], []],"
    "\"emptylist\": [], \"emptyobj\": {}"
    "}";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((ctx = cJSON_Parse(context_json)) == NULL)
		abort();
	return 0;
}

static void
check_escape(enum template_escape esc, const char *s)
{
	struct buf out;
	size_t i;

	buf_init(&out, OUT_MAX);
	if (template_escape(esc, s, &out) == 0 && out.data != NULL) {
		for (i = 0; i < out.len; i++) {
			char c = out.data[i];

			FUZZ_CHECK(c != '<' && c != '>', "'%c' left by escaping", c);
			if (esc == TEMPLATE_HTML)
				FUZZ_CHECK(c != '"' && c != '\'',
				    "quote left by HTML escaping");
			else
				FUZZ_CHECK(c != '\n', "newline left by Markdown "
				    "escaping");
		}
	}
	buf_release(&out);
}

static void
check_output(enum template_escape esc, const struct buf *out)
{
	const char *markup = esc == TEMPLATE_HTML ? "<>\"'" :
	    "<>*_[]`|~@()!\"'\n";
	const char *p = out->data, *end = out->data + out->len;

	while (p < end && (p = memchr(p, '\x01', (size_t)(end - p))) != NULL) {
		p++;
		FUZZ_CHECK(p == end || *p == '\0' || strchr(markup, *p) == NULL,
		    "a value's '%c' reached the %s output unescaped", *p,
		    esc == TEMPLATE_HTML ? "HTML" : "Markdown");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum template_escape esc;
	struct template *t = NULL;
	struct buf out, again;
	const char *text;
	char err[256], *s;
	size_t len;
	int rc, rc2;

	if (size == 0)
		return 0;
	esc = data[0] & 1 ? TEMPLATE_MARKDOWN : TEMPLATE_HTML;
	text = (const char *)data + 1;
	len = size - 1;

	s = fuzz_strndup(text, len);
	check_escape(esc, s);
	free(s);

	err[0] = '\0';
	if (template_parse(text, len, esc, &t, err, sizeof(err)) != 0) {
		FUZZ_CHECK(t == NULL, "refused but *out set");
		FUZZ_CHECK(err[0] >= '0' && err[0] <= '9' &&
		    strstr(err, ": ") != NULL, "error \"%s\" without a line",
		    err);
		return 0;
	}
	FUZZ_CHECK(t != NULL, "parsed without a template");

	buf_init(&out, OUT_MAX);
	buf_init(&again, OUT_MAX);
	rc = template_render(t, ctx, &out);
	rc2 = template_render(t, ctx, &again);
	FUZZ_CHECK(rc == rc2, "render gave %d, then %d", rc, rc2);
	FUZZ_CHECK(out.len <= OUT_MAX && out.data != NULL, "output %zu bytes",
	    out.len);
	if (rc == 0) {
		FUZZ_CHECK(out.len == again.len &&
		    memcmp(out.data, again.data, out.len) == 0,
		    "two renders differ");
		if (memchr(text, '\x01', len) == NULL &&
		    !fuzz_contains(text, len, "{{{"))
			check_output(esc, &out);
	}
	buf_release(&out);
	buf_release(&again);
	template_free(t);
	return 0;
}
