/*
 * fuzz_jscan: jscan_parse on arbitrary bytes with a few fixed paths, and
 * on success jscan_string / jscan_int64 / jscan_bool on every field.
 *
 * Invariants, beyond "no sanitizer report":
 *   - a missing field has raw NULL and raw_len 0; a found one lies inside
 *     the document, and its raw text is itself valid JSON (strings once
 *     put back between quotes);
 *   - two fields with the same path get the same answer, a NULL path none;
 *   - jscan_string: a buffer of raw_len + 1 bytes always suffices unless
 *     the value holds U+0000; a smaller buffer either fails with "" or
 *     gives the same text; never a byte written past outsz;
 *   - jscan_int64 agrees with strtoll on "-?[0-9]+" and refuses the rest;
 *   - cJSON agrees (jscan.h promises it: previewd reads some payloads with
 *     cJSON, and the two must never disagree about what a webhook said):
 *     whenever both accept the document, every path is present in both or
 *     in neither, with the same type, string and integer value. Documents
 *     with "\u0000" are not compared (cJSON cuts keys there, documented).
 */
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <limits.h>

#include <cjson/cJSON.h>

#include "lib/jscan.h"

static const char *const paths[] = {
	"action",
	"number",
	"a",
	"a.b",
	"a.b.c",
	"pull_request.head.sha",
	"repository.full_name",
	"",
	"a..b",
	"a.",
	"\xc3\xa9",          /* a non-ASCII key */
	"A",                 /* case matters */
	NULL,                /* never matches */
	"a.b",               /* the same path twice: the same answer */
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

static void
check_valid_alone(const struct jscan_field *f)
{
	char *copy;
	size_t n;

	if (f->type == JSCAN_STRING) {
		n = f->raw_len + 2;
		copy = malloc(n);
		if (copy == NULL)
			abort();
		copy[0] = '"';
		memcpy(copy + 1, f->raw, f->raw_len);
		copy[n - 1] = '"';
	} else {
		n = f->raw_len;
		copy = fuzz_strndup(f->raw, n);
	}
	FUZZ_CHECK(jscan_parse(copy, n, NULL, 0) == 0,
	    "the raw text of a %d field (%zu bytes) is not valid JSON alone",
	    (int)f->type, f->raw_len);
	free(copy);
}

/* strtoll's reading of an integer token, the reference for jscan_int64. */
static int
ref_int64(const struct jscan_field *f, long long *out)
{
	char *s, *end;
	size_t i = 0;
	int rc = -1;

	if (f->type != JSCAN_NUMBER)
		return -1;
	s = fuzz_strndup(f->raw, f->raw_len);
	if (s[0] == '-')
		i = 1;
	if (s[i] == '\0' || strspn(s + i, "0123456789") != strlen(s + i))
		goto out;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno == 0 && *end == '\0')
		rc = 0;
out:
	free(s);
	return rc;
}

static void
check_string(const struct jscan_field *f, char **decoded)
{
	size_t bigsz = f->raw_len + 1, sz;
	char *big = malloc(bigsz), *small;
	int rc;

	if (big == NULL)
		abort();
	*decoded = NULL;
	rc = jscan_string(f, big, bigsz);
	if (f->type != JSCAN_STRING) {
		FUZZ_CHECK(rc == -1 && big[0] == '\0',
		    "jscan_string accepted a field of type %d", (int)f->type);
		free(big);
		return;
	}
	if (rc != 0) {
		FUZZ_CHECK(big[0] == '\0', "jscan_string failed but left text");
		FUZZ_CHECK(fuzz_contains(f->raw, f->raw_len, "\\u0000"),
		    "jscan_string refused a %zu-byte string without \\u0000 "
		    "given %zu bytes", f->raw_len, bigsz);
	} else {
		FUZZ_CHECK(strlen(big) <= f->raw_len,
		    "decoded longer than the escaped text");
		*decoded = big;
	}

	/* Exactly sized blocks: ASan sees a write at out[outsz]. */
	for (sz = 1; sz <= 9; sz++) {
		small = malloc(sz);
		if (small == NULL)
			abort();
		rc = jscan_string(f, small, sz);
		if (rc == 0) {
			FUZZ_CHECK(*decoded != NULL && strcmp(small, *decoded) == 0,
			    "jscan_string with %zu bytes gave other text", sz);
		} else {
			FUZZ_CHECK(small[0] == '\0', "failed but left text");
			FUZZ_CHECK(*decoded == NULL || strlen(*decoded) + 1 > sz,
			    "jscan_string refused %zu bytes for %zu-byte text",
			    sz, strlen(*decoded));
		}
		free(small);
	}
	FUZZ_CHECK(jscan_string(f, big, 0) == -1, "outsz 0 accepted");
	if (*decoded == NULL)
		free(big);
}

/* The value at path in the cJSON tree: objects only, first key wins. */
static const cJSON *
cjson_lookup(const cJSON *root, const char *path)
{
	char *copy = fuzz_strndup(path, strlen(path)), *comp = copy, *dot;
	const cJSON *v = root;

	for (;;) {
		dot = strchr(comp, '.');
		if (dot != NULL)
			*dot = '\0';
		v = cJSON_IsObject(v) ?
		    cJSON_GetObjectItemCaseSensitive(v, comp) : NULL;
		if (v == NULL || dot == NULL)
			break;
		comp = dot + 1;
	}
	free(copy);
	return v;
}

static enum jscan_type
cjson_type(const cJSON *v)
{
	if (v == NULL)
		return JSCAN_MISSING;
	if (cJSON_IsString(v))
		return JSCAN_STRING;
	if (cJSON_IsNumber(v))
		return JSCAN_NUMBER;
	if (cJSON_IsTrue(v))
		return JSCAN_TRUE;
	if (cJSON_IsFalse(v))
		return JSCAN_FALSE;
	if (cJSON_IsNull(v))
		return JSCAN_NULL;
	if (cJSON_IsObject(v))
		return JSCAN_OBJECT;
	if (cJSON_IsArray(v))
		return JSCAN_ARRAY;
	return (enum jscan_type)-1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libFuzzer's data is a heap block of exactly size bytes. */
	const char *doc = (const char *)data;
	struct jscan_field f[NPATHS];
	char *decoded[NPATHS];
	cJSON *root = NULL;
	long long v, ref;
	size_t i;
	int rc;

	for (i = 0; i < NPATHS; i++)
		f[i].path = paths[i];
	if (jscan_parse(doc, size, f, NPATHS) != 0)
		return 0;

	for (i = 0; i < NPATHS; i++) {
		if (f[i].type == JSCAN_MISSING) {
			FUZZ_CHECK(f[i].raw == NULL && f[i].raw_len == 0,
			    "missing field %zu has raw set", i);
		} else {
			FUZZ_CHECK(f[i].path != NULL, "a NULL path matched");
			FUZZ_CHECK(f[i].raw >= doc && f[i].raw_len <= size &&
			    f[i].raw <= doc + size - f[i].raw_len,
			    "field %zu lies outside the document", i);
			check_valid_alone(&f[i]);
		}
		check_string(&f[i], &decoded[i]);

		rc = jscan_int64(&f[i], &v);
		FUZZ_CHECK(rc == ref_int64(&f[i], &ref) && (rc != 0 || v == ref),
		    "jscan_int64 and strtoll disagree on field %zu", i);
		rc = jscan_bool(&f[i]);
		FUZZ_CHECK(rc == (f[i].type == JSCAN_TRUE ? 1 :
		    f[i].type == JSCAN_FALSE ? 0 : -1), "jscan_bool");
	}
	for (i = 0; i < NPATHS; i++) {
		size_t j;

		for (j = 0; j < i; j++)
			if (paths[i] != NULL && paths[j] != NULL &&
			    strcmp(paths[i], paths[j]) == 0)
				FUZZ_CHECK(f[i].type == f[j].type &&
				    f[i].raw == f[j].raw &&
				    f[i].raw_len == f[j].raw_len,
				    "fields %zu and %zu (\"%s\") got different "
				    "answers", j, i, paths[i]);
	}

	/* Differential: cJSON must read the same values. */
	if (!fuzz_contains(doc, size, "\\u0000") &&
	    (root = cJSON_ParseWithLength(doc, size)) != NULL) {
		for (i = 0; i < NPATHS; i++) {
			const cJSON *c;

			if (paths[i] == NULL)
				continue;
			c = cjson_lookup(root, paths[i]);
			FUZZ_CHECK(cjson_type(c) == f[i].type,
			    "path \"%s\": jscan type %d, cJSON type %d", paths[i],
			    (int)f[i].type, (int)cjson_type(c));
			if (decoded[i] != NULL)
				FUZZ_CHECK(strcmp(decoded[i], c->valuestring) == 0,
				    "path \"%s\": jscan \"%s\", cJSON \"%s\"",
				    paths[i], decoded[i], c->valuestring);
			if (jscan_int64(&f[i], &v) == 0 && v > -(1LL << 53) &&
			    v < (1LL << 53))
				FUZZ_CHECK(c->valuedouble == (double)v,
				    "path \"%s\": jscan %lld, cJSON %.17g", paths[i],
				    v, c->valuedouble);
		}
		cJSON_Delete(root);
	}
	for (i = 0; i < NPATHS; i++)
		free(decoded[i]);
	return 0;
}
