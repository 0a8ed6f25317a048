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
 *   - escaping holds: in the context's strings U+E000 stands before every
 *     character that could start markup; unless the template itself holds
 *     U+E000 or a {{{raw}}} tag, no U+E000 in the output may be followed
 *     by markup (HTML: < > " '; Markdown: those and * _ [ ] ` | ~ @ ( ) !
 *     and line breaks); and template_escape of the input alone leaves no
 *     '<' or '>' (for HTML no quote; for Markdown no newline).
 */
#include "tests/fuzz/fuzz.h"

#include <cjson/cJSON.h>

#include "lib/template.h"

#define OUT_MAX (64 * 1024)

static cJSON *ctx;

/* Every place a value could start markup is marked with U+E000 just
 * before it: after escaping, no U+E000 may be followed by markup. (A
 * private-use character: Markdown escaping shows control characters
 * such as U+0001 as escapes, which would hide the marks.) */
#define MARK "\xee\x80\x80"
static const char context_json[] =
    "{"
    "\"id\": \"\\ue000<!-- -->env_01\","
    "\"name\": \"pvd_shop_1a2b3c4d_42\","
    "\"repo\": \"acme/shop\","
    "\"number\": 42, \"port\": 5432, \"zero\": 0, \"neg\": -1,"
    "\"frac\": 3.25, \"big\": 1e15,"
    "\"ready\": true, \"failed\": false, \"deleted\": false,"
    "\"password_shown\": false, \"none\": null, \"empty\": \"\","
    "\"engine\": \"postgres\","
    "\"database_url\": \"postgresql://u:p%40ss@db.example.com:5432/pvd\","
    "\"note\": \"\\ue000<b>bold</b> \\ue000*em* \\ue000_u_ \\ue000[l]"
    "\\ue000(http://x) \\ue000@user \\ue000`c` \\ue000~s~ \\ue000|t| "
    "\\ue000!img \\ue000\\\"q\\ue000\\\" \\ue000'a' & \\\\ \\ue000\\n# h\\n- i \\ue000\\r# cr\","
    "\"error_block\": \"\\ue000<script>alert(1)\\ue000</script>\\ue000\\n```\","
    "\"host\": \"\\ue000*db*.example.com\","
    "\"pool\": {\"idle\": 3, \"name\": \"\\ue000<i>pool\\ue000</i>\","
    "  \"deep\": {\"er\": {\"est\": \"\\ue000>x\"}}},"
    "\"list\": [{\"x\": \"\\ue000<1>\", \"y\": true}, {\"x\": \"\\ue000*2*\"}],"
    "\"nums\": [1, 2],"
    "\"nested\": [[\"\\ue000<a>\", \"b\"], []],"
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
	    "<>*_[]`|~@()!\"'\n\r";
	const char *p = out->data, *end = out->data + out->len;

	while (end - p >= (ptrdiff_t)sizeof(MARK) - 1) {
		if (memcmp(p, MARK, sizeof(MARK) - 1) != 0) {
			p++;
			continue;
		}
		p += sizeof(MARK) - 1;
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
		if (!fuzz_contains(text, len, MARK) &&
		    !fuzz_contains(text, len, "{{{"))
			check_output(esc, &out);
	}
	buf_release(&out);
	buf_release(&again);
	template_free(t);
	return 0;
}
