/*
 * template: parsing into a tree of nodes, rendering against cJSON.
 */
#include "lib/template.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/inert.h"

#define MAX_DEPTH 16
#define MAX_NAME 128

enum node_kind { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED };

struct node {
	enum node_kind kind;
	const char *text;          /* N_TEXT: points into the template text */
	size_t len;
	char name[MAX_NAME];       /* the others */
	struct node *child;        /* sections: their body */
	struct node *next;
};

struct template {
	char *text;
	enum template_escape esc;
	struct node *root;
};

static void
nodes_free(struct node *n)
{
	while (n != NULL) {
		struct node *next = n->next;

		nodes_free(n->child);
		free(n);
		n = next;
	}
}

void
template_free(struct template *t)
{
	if (t == NULL)
		return;
	nodes_free(t->root);
	free(t->text);
	free(t);
}

static int
line_at(const char *start, const char *p)
{
	int line = 1;

	for (; start < p; start++)
		if (*start == '\n')
			line++;
	return line;
}

/* A tag's name, trimmed, into out. */
static int
tag_name(const char *p, size_t len, char out[MAX_NAME])
{
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= MAX_NAME)
		return -1;
	memcpy(out, p, len);
	out[len] = '\0';
	return strspn(out, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") == len ? 0 : -1;
}

static struct node *
node_new(enum node_kind kind)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n != NULL)
		n->kind = kind;
	return n;
}

/*
 * Mustache's standalone rule: a section, inverted, closing or comment tag
 * alone on its line (but for blanks) takes the whole line with it, so
 * templates can put their logic on lines of its own without leaving blank
 * lines in the output. before is the text node just ahead of the tag (or
 * NULL); returns where parsing goes on.
 */
static const char *
standalone(const char *start, const char *tag, const char *after,
    const char *end, struct node *before)
{
	const char *ls = tag, *q = after;

	while (ls > start && (ls[-1] == ' ' || ls[-1] == '\t'))
		ls--;
	if (ls > start && ls[-1] != '\n')
		return after;
	if (before == NULL && ls != tag)
		return after;
	while (q < end && (*q == ' ' || *q == '\t' || *q == '\r'))
		q++;
	if (q < end && *q != '\n')
		return after;
	if (before != NULL) {
		if (before->text > ls)
			return after;   /* another tag earlier on this line */
		before->len = (size_t)(ls - before->text);
	}
	return q < end ? q + 1 : q;
}

int
template_parse(const char *text, size_t len, enum template_escape esc,
    struct template **out, char *err, size_t errlen)
{
	struct template *t = NULL;
	struct node **tail[MAX_DEPTH + 1];
	struct node *open[MAX_DEPTH + 1];
	const char *p, *end;
	int depth = 0;

	*out = NULL;
	if (len > TEMPLATE_MAX_SIZE) {
		snprintf(err, errlen, "template larger than %zu bytes",
		    TEMPLATE_MAX_SIZE);
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->text = malloc(len + 1)) == NULL)
		goto oom;
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	t->esc = esc;
	tail[0] = &t->root;
	open[0] = NULL;
	p = t->text;
	end = t->text + len;

	while (p < end) {
		const char *tag = strstr(p, "{{");
		const char *close, *inner;
		struct node *n, *before = NULL;
		size_t ilen;
		char name[MAX_NAME], sigil = 0;
		bool triple;

		if (tag == NULL || tag >= end)
			tag = end;
		if (tag > p) {
			if ((n = node_new(N_TEXT)) == NULL)
				goto oom;
			n->text = p;
			n->len = (size_t)(tag - p);
			*tail[depth] = n;
			tail[depth] = &n->next;
			before = n;
		}
		if (tag == end)
			break;
		triple = tag[2] == '{';
		inner = tag + (triple ? 3 : 2);
		close = strstr(inner, triple ? "}}}" : "}}");
		if (close == NULL) {
			snprintf(err, errlen, "%d: \"{{\" without a closing "
			    "\"%s\"", line_at(t->text, tag), triple ? "}}}" : "}}");
			goto fail;
		}
		ilen = (size_t)(close - inner);
		p = close + (triple ? 3 : 2);
		if (!triple && ilen > 0 && strchr("!#^/", inner[0]) != NULL) {
			sigil = inner[0];
			inner++;
			ilen--;
		}
		if (sigil != 0)
			p = standalone(t->text, tag, p, end, before);
		if (sigil == '!')
			continue;
		if (tag_name(inner, ilen, name) != 0) {
			snprintf(err, errlen, "%d: bad tag \"%.*s\"",
			    line_at(t->text, tag), (int)(p - tag), tag);
			goto fail;
		}
		if (sigil == '/') {
			if (depth == 0 || strcmp(open[depth]->name, name) != 0) {
				snprintf(err, errlen, "%d: \"{{/%s}}\" closes "
				    "%s%s%s", line_at(t->text, tag), name,
				    depth ? "\"" : "nothing",
				    depth ? open[depth]->name : "", depth ? "\"" : "");
				goto fail;
			}
			depth--;
			continue;
		}
		if ((n = node_new(triple ? N_RAW : sigil == '#' ? N_SECTION :
		    sigil == '^' ? N_INVERTED : N_VAR)) == NULL)
			goto oom;
		str_copy(n->name, name, sizeof(n->name));
		n->text = tag;       /* for errors about the section */
		*tail[depth] = n;
		tail[depth] = &n->next;
		if (n->kind == N_SECTION || n->kind == N_INVERTED) {
			if (depth == MAX_DEPTH) {
				snprintf(err, errlen, "%d: sections nested "
				    "deeper than %d", line_at(t->text, tag),
				    MAX_DEPTH);
				goto fail;
			}
			depth++;
			open[depth] = n;
			tail[depth] = &n->child;
		}
	}
	if (depth > 0) {
		snprintf(err, errlen, "%d: \"{{#%s}}\" is never closed",
		    line_at(t->text, open[depth]->text), open[depth]->name);
		goto fail;
	}
	*out = t;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	template_free(t);
	return -1;
}

int
template_load(const char *path, enum template_escape esc,
    struct template **out, char *err, size_t errlen)
{
	struct buf b;
	char chunk[8192], why[256];
	size_t n;
	FILE *fp;
	int rc = -1;

	*out = NULL;
	buf_init(&b, TEMPLATE_MAX_SIZE);
	if ((fp = fopen(path, "r")) == NULL) {
		if (strerror_r(errno, why, sizeof(why)) != 0)
			str_copy(why, "cannot open", sizeof(why));
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (buf_add(&b, chunk, n) != 0) {
			snprintf(err, errlen, "%s: larger than %zu bytes", path,
			    TEMPLATE_MAX_SIZE);
			goto out;
		}
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	if (template_parse(b.data ? b.data : "", b.len, esc, out, why,
	    sizeof(why)) != 0) {
		snprintf(err, errlen, "%s:%s", path, why);
		goto out;
	}
	rc = 0;
out:
	fclose(fp);
	buf_release(&b);
	return rc;
}

int
template_escape(enum template_escape esc, const char *s, struct buf *out)
{
	struct buf clean;
	const char *first;
	int rc = 0;

	/* Markdown first loses what could start a line or hide text: line
	 * breaks and other controls are shown as escapes (\n), bytes that
	 * are not UTF-8 become U+FFFD (lib/inert.h). */
	buf_init(&clean, out->max);
	if (esc == TEMPLATE_MARKDOWN) {
		if (inert_md_text(s, false, &clean) != 0) {
			buf_release(&clean);
			return -1;
		}
		s = clean.data;
	}
	for (first = s; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		const char *rep = NULL;
		char two[3];

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = esc == TEMPLATE_HTML ? "&quot;" : "\\\""; break;
		case '\'': rep = esc == TEMPLATE_HTML ? "&#39;" : "\\'"; break;
		default:
			/* CommonMark lets any ASCII punctuation be escaped
			 * with a backslash, which makes it plain text. These
			 * start markup anywhere (emphasis, code, links,
			 * images, tables, strikethrough, @mentions); the
			 * second set only at the start of a line, where a
			 * value may land (lists, headings, quotes). */
			if (esc == TEMPLATE_MARKDOWN && c < 0x80 &&
			    (strchr("\\`*_[]()!|~@", c) != NULL ||
			    (s == first && strchr("-+=.#", c) != NULL))) {
				two[0] = '\\';
				two[1] = (char)c;
				two[2] = '\0';
				rep = two;
			}
			break;
		}
		if (rep != NULL)
			rc |= buf_addstr(out, rep);
		else
			rc |= buf_add(out, s, 1);
	}
	buf_release(&clean);
	return rc;
}

/* The contexts in scope, innermost last. */
struct scope {
	const cJSON *ctx[MAX_DEPTH + 2];
	int n;
};

static const cJSON *
lookup(const struct scope *sc, const char *name)
{
	char part[MAX_NAME];
	const cJSON *v = NULL;
	const char *p, *dot;
	int i;

	if (strcmp(name, ".") == 0)
		return sc->ctx[sc->n - 1];
	dot = strchr(name, '.');
	str_copy(part, name, dot ? (size_t)(dot - name) + 1 : sizeof(part));
	for (i = sc->n - 1; i >= 0 && v == NULL; i--)
		if (cJSON_IsObject(sc->ctx[i]))
			v = cJSON_GetObjectItemCaseSensitive(sc->ctx[i], part);
	for (p = dot; v != NULL && p != NULL; p = dot) {
		p++;
		dot = strchr(p, '.');
		str_copy(part, p, dot ? (size_t)(dot - p) + 1 : sizeof(part));
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, part) :
		    NULL;
	}
	return v;
}

static bool
truthy(const cJSON *v)
{
	if (v == NULL || cJSON_IsNull(v) || cJSON_IsFalse(v))
		return false;
	if (cJSON_IsString(v))
		return v->valuestring[0] != '\0';
	if (cJSON_IsNumber(v))
		return v->valuedouble != 0;
	if (cJSON_IsArray(v) || cJSON_IsObject(v))
		return v->child != NULL;
	return true;
}

static void
value_text(const cJSON *v, char *num, size_t numsz, const char **out)
{
	*out = "";
	if (cJSON_IsString(v)) {
		*out = v->valuestring;
	} else if (cJSON_IsNumber(v)) {
		/* Whole numbers without a fraction; the cast is defined
		 * only inside long long's range (and not for NaN). */
		if (v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18 &&
		    v->valuedouble == (double)(long long)v->valuedouble)
			snprintf(num, numsz, "%lld", (long long)v->valuedouble);
		else
			snprintf(num, numsz, "%g", v->valuedouble);
		*out = num;
	} else if (cJSON_IsTrue(v)) {
		*out = "true";
	} else if (cJSON_IsFalse(v)) {
		*out = "false";
	}
}

static int
render(const struct template *t, const struct node *n, struct scope *sc,
    struct buf *out)
{
	char num[64];
	const char *s;
	const cJSON *v, *item;

	for (; n != NULL; n = n->next) {
		switch (n->kind) {
		case N_TEXT:
			if (buf_add(out, n->text, n->len) != 0)
				return -1;
			break;
		case N_VAR:
		case N_RAW:
			value_text(lookup(sc, n->name), num, sizeof(num), &s);
			if ((n->kind == N_RAW ? buf_addstr(out, s) :
			    template_escape(t->esc, s, out)) != 0)
				return -1;
			break;
		case N_SECTION:
			v = lookup(sc, n->name);
			if (!truthy(v) || sc->n == (int)ARRAY_SIZE(sc->ctx))
				break;
			if (cJSON_IsArray(v)) {
				cJSON_ArrayForEach(item, v) {
					sc->ctx[sc->n++] = item;
					if (render(t, n->child, sc, out) != 0)
						return -1;
					sc->n--;
				}
			} else {
				sc->ctx[sc->n++] = v;
				if (render(t, n->child, sc, out) != 0)
					return -1;
				sc->n--;
			}
			break;
		case N_INVERTED:
			if (!truthy(lookup(sc, n->name)) &&
			    render(t, n->child, sc, out) != 0)
				return -1;
			break;
		}
	}
	return 0;
}

int
template_render(const struct template *t, const cJSON *data, struct buf *out)
{
	struct scope sc;

	sc.ctx[0] = data;
	sc.n = 1;
	if (buf_add(out, "", 0) != 0)
		return -1;
	return render(t, t->root, &sc, out);
}
