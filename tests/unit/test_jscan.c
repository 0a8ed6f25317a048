/*
 * Unit tests for lib/jscan: what a webhook handler relies on when it
 * validates a delivery and picks its values out of it.
 *
 * Every document is copied into a heap block of exactly its length before
 * it is scanned, so under -fsanitize=address a read at or past doc + len
 * fails the test instead of passing by luck on a NUL-terminated literal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/jscan.h"

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

struct doc {
	const char *text;
	size_t len;
};

/* A string literal with its length, so embedded NULs count. */
#define DOC(s) { (s), sizeof(s) - 1 }

/* Held between scan() and done() so field raw pointers stay valid. */
static char *held;

static int
scan_n(const char *text, size_t len, struct jscan_field *f, size_t n)
{
	free(held);
	held = malloc(len > 0 ? len : 1);
	assert_non_null(held);
	if (len > 0)
		memcpy(held, text, len);
	return jscan_parse(held, len, f, n);
}

static int
scan(const char *text, struct jscan_field *f, size_t n)
{
	return scan_n(text, strlen(text), f, n);
}

static int
teardown(void **state)
{
	(void)state;
	free(held);
	held = NULL;
	return 0;
}

/* The field was found with this type and exactly these raw bytes. */
static void
assert_field(const struct jscan_field *f, enum jscan_type type, const char *raw)
{
	assert_int_equal(f->type, type);
	assert_non_null(f->raw);
	assert_int_equal(f->raw_len, strlen(raw));
	if (f->raw_len > 0)
		assert_memory_equal(f->raw, raw, f->raw_len);
}

static void
assert_missing(const struct jscan_field *f)
{
	assert_int_equal(f->type, JSCAN_MISSING);
	assert_null(f->raw);
	assert_int_equal(f->raw_len, 0);
}

static void
test_paths_at_depth_1_to_4(void **state)
{
	struct jscan_field f[] = {
		{ .path = "action" },
		{ .path = "pull_request.number" },
		{ .path = "pull_request.head.sha" },
		{ .path = "pull_request.head.repo.full_name" },
	};

	(void)state;
	assert_int_equal(scan(
	    "{\n"
	    "  \"zen\": \"Keep it logically awesome.\",\n"
	    "  \"pull_request\": {\n"
	    "    \"url\": \"https://api.github.com/repos/o/r/pulls/7\",\n"
	    "    \"number\": 7,\n"
	    "    \"labels\": [{\"name\": \"bug\"}],\n"
	    "    \"base\": {\"sha\": \"0000\", \"repo\": {\"full_name\": \"o/base\"}},\n"
	    "    \"head\": {\n"
	    "      \"ref\": \"feature\",\n"
	    "      \"sha\": \"ec26c3e57ca3a959ca5aad62de7213c562f8c821\",\n"
	    "      \"repo\": {\"id\": 1, \"full_name\": \"o/r\"}\n"
	    "    }\n"
	    "  },\n"
	    "  \"action\": \"opened\"\n"
	    "}\n", f, NFIELDS(f)), 0);
	assert_field(&f[0], JSCAN_STRING, "opened");
	assert_field(&f[1], JSCAN_NUMBER, "7");
	assert_field(&f[2], JSCAN_STRING, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
	assert_field(&f[3], JSCAN_STRING, "o/r");
}

static void
test_value_of_each_type(void **state)
{
	struct jscan_field f[] = {
		{ .path = "s" }, { .path = "e" }, { .path = "n" }, { .path = "t" },
		{ .path = "f" }, { .path = "z" }, { .path = "o" }, { .path = "a" },
		{ .path = "x" },
	};

	(void)state;
	assert_int_equal(scan("{\"s\":\"a\\\"b\",\"e\":\"\",\"n\":-12.5e+3,"
	    "\"t\":true,\"f\":false,\"z\":null,"
	    "\"o\": {\"k\": \"}]\", \"l\": [[], {}]} ,"
	    "\"a\":[1, \"]\", {\"q\": [2]}],\"x\":0}", f, NFIELDS(f)), 0);
	/* strings stay escaped; containers include their brackets even when
	 * a string inside holds a bracket */
	assert_field(&f[0], JSCAN_STRING, "a\\\"b");
	assert_field(&f[1], JSCAN_STRING, "");
	assert_field(&f[2], JSCAN_NUMBER, "-12.5e+3");
	assert_field(&f[3], JSCAN_TRUE, "true");
	assert_field(&f[4], JSCAN_FALSE, "false");
	assert_field(&f[5], JSCAN_NULL, "null");
	assert_field(&f[6], JSCAN_OBJECT, "{\"k\": \"}]\", \"l\": [[], {}]}");
	assert_field(&f[7], JSCAN_ARRAY, "[1, \"]\", {\"q\": [2]}]");
	assert_field(&f[8], JSCAN_NUMBER, "0");
}

static void
test_missing_paths(void **state)
{
	struct jscan_field f[] = {
		{ .path = "nope" },
		{ .path = "a.nope" },
		{ .path = "a.b.c" },        /* b is a number */
		{ .path = "n.x" },          /* through null */
		{ .path = "a.b.c.d.e" },
		{ .path = NULL },
		{ .path = "A" },            /* keys are case-sensitive */
		{ .path = "a.b" },
	};

	(void)state;
	assert_int_equal(scan("{\"a\":{\"b\":1},\"n\":null}", f, NFIELDS(f)), 0);
	assert_missing(&f[0]);
	assert_missing(&f[1]);
	assert_missing(&f[2]);
	assert_missing(&f[3]);
	assert_missing(&f[4]);
	assert_missing(&f[5]);
	assert_missing(&f[6]);
	assert_field(&f[7], JSCAN_NUMBER, "1");

	/* a root that is not an object has no keys */
	assert_int_equal(scan("[{\"a\":{\"b\":1}}]", f, NFIELDS(f)), 0);
	assert_missing(&f[7]);
	assert_int_equal(scan("\"a\"", f, NFIELDS(f)), 0);
	assert_missing(&f[7]);
}

static void
test_paths_do_not_descend_into_arrays(void **state)
{
	struct jscan_field f[] = {
		{ .path = "labels.name" },
		{ .path = "labels.0.name" },
		{ .path = "labels.0" },
		{ .path = "name" },
		{ .path = "labels" },
	};

	(void)state;
	assert_int_equal(scan("{\"labels\":[{\"name\":\"bug\"},{\"0\":{\"name\":\"x\"}}],"
	    "\"other\":[{\"name\":\"in-array\"}]}", f, NFIELDS(f)), 0);
	assert_missing(&f[0]);
	assert_missing(&f[1]);
	assert_missing(&f[2]);
	/* "name" inside array elements is not a root key */
	assert_missing(&f[3]);
	assert_field(&f[4], JSCAN_ARRAY,
	    "[{\"name\":\"bug\"},{\"0\":{\"name\":\"x\"}}]");
}

static void
test_first_duplicate_wins(void **state)
{
	struct jscan_field f[] = {
		{ .path = "a" },
		{ .path = "o.x" },
		{ .path = "o.y" },  /* only in the second "o": cJSON never sees it */
		{ .path = "s.k" },  /* first "s" is a string */
		{ .path = "l.k" },  /* first "l" is an array */
		{ .path = "o" },
	};

	(void)state;
	assert_int_equal(scan("{\"a\":1,\"o\":{\"x\":\"first\",\"x\":\"inner-second\"},"
	    "\"a\":2,\"o\":{\"x\":\"second\",\"y\":3},"
	    "\"s\":\"str\",\"s\":{\"k\":1},\"l\":[],\"l\":{\"k\":2}}",
	    f, NFIELDS(f)), 0);
	assert_field(&f[0], JSCAN_NUMBER, "1");
	assert_field(&f[1], JSCAN_STRING, "first");
	assert_missing(&f[2]);
	assert_missing(&f[3]);
	assert_missing(&f[4]);
	assert_field(&f[5], JSCAN_OBJECT, "{\"x\":\"first\",\"x\":\"inner-second\"}");

	/* keys compare byte for byte, as cJSON_GetObjectItemCaseSensitive
	 * does (plain cJSON_GetObjectItem would say "upper"), and a key with
	 * U+0000 in it is not a shorter key (cJSON would read it as "a") */
	assert_int_equal(scan("{\"A\":\"upper\",\"a\":\"lower\"}", f, 1), 0);
	assert_field(&f[0], JSCAN_STRING, "lower");
	assert_int_equal(scan("{\"a\\u0000b\":1,\"a\":2}", f, 1), 0);
	assert_field(&f[0], JSCAN_NUMBER, "2");
}

static void
test_sibling_objects_do_not_share_matches(void **state)
{
	struct jscan_field f[] = {
		{ .path = "a.y" },    /* "y" only exists under b */
		{ .path = "b.y" },
		{ .path = "c.d.e" },  /* "e" only exists under a later sibling of d */
		{ .path = "c.f.e" },
	};

	(void)state;
	assert_int_equal(scan("{\"a\":{\"x\":1},\"b\":{\"y\":2},"
	    "\"c\":{\"d\":{\"z\":0},\"f\":{\"e\":\"fe\"},\"g\":{\"e\":\"ge\"}}}",
	    f, NFIELDS(f)), 0);
	assert_missing(&f[0]);
	assert_field(&f[1], JSCAN_NUMBER, "2");
	assert_missing(&f[2]);
	assert_field(&f[3], JSCAN_STRING, "fe");
}

static void
test_escaped_keys_match_decoded(void **state)
{
	struct jscan_field f[] = {
		{ .path = "action" },
		{ .path = "caf\xc3\xa9.n" },
		{ .path = "smile\xf0\x9f\x98\x80" },
		{ .path = "q\"t" },
	};

	(void)state;
	assert_int_equal(scan("{\"\\u0061ction\":\"x\",\"caf\\u00e9\":{\"\\u006E\":1},"
	    "\"smile\\ud83d\\ude00\":true,\"q\\\"t\":null}", f, NFIELDS(f)), 0);
	assert_field(&f[0], JSCAN_STRING, "x");
	assert_field(&f[1], JSCAN_NUMBER, "1");
	assert_field(&f[2], JSCAN_TRUE, "true");
	assert_field(&f[3], JSCAN_NULL, "null");

	/* the escaped spelling of the same key is a duplicate: first wins */
	assert_int_equal(scan("{\"\\u0061ction\":\"first\",\"action\":\"second\"}",
	    f, 1), 0);
	assert_field(&f[0], JSCAN_STRING, "first");
}

static void
test_keys_with_dots_and_empty_keys(void **state)
{
	struct jscan_field f[] = {
		{ .path = "a.b" },
		{ .path = ".x" },   /* key "" then key "x" */
		{ .path = "a" },
	};

	(void)state;
	/* "a.b" names key "a" then key "b"; a key containing '.' (raw or
	 * escaped) cannot be named */
	assert_int_equal(scan("{\"a.b\":1,\"a\\u002eb\":2,\"\":{\"x\":3},\"a\":4}",
	    f, NFIELDS(f)), 0);
	assert_missing(&f[0]);
	assert_field(&f[1], JSCAN_NUMBER, "3");
	assert_field(&f[2], JSCAN_NUMBER, "4");
}

static void
test_overlapping_and_repeated_paths(void **state)
{
	struct jscan_field f[] = {
		{ .path = "pr" },
		{ .path = "pr.head.sha" },
		{ .path = "pr.head" },
		{ .path = "pr.head.sha" },
	};

	(void)state;
	assert_int_equal(scan("{\"pr\":{\"head\":{\"sha\":\"abc\"}}}", f, NFIELDS(f)), 0);
	assert_field(&f[0], JSCAN_OBJECT, "{\"head\":{\"sha\":\"abc\"}}");
	assert_field(&f[1], JSCAN_STRING, "abc");
	assert_field(&f[2], JSCAN_OBJECT, "{\"sha\":\"abc\"}");
	assert_field(&f[3], JSCAN_STRING, "abc");
}

static void
test_fields_are_reset_by_each_parse(void **state)
{
	struct jscan_field f[] = { { .path = "a" } };

	(void)state;
	assert_int_equal(scan("{\"a\":\"v\"}", f, 1), 0);
	assert_field(&f[0], JSCAN_STRING, "v");
	assert_int_equal(scan("{\"b\":\"v\"}", f, 1), 0);
	assert_missing(&f[0]);
	/* no fields at all: a pure validator */
	assert_int_equal(scan("{\"b\":[1,2]}", NULL, 0), 0);
	assert_int_equal(scan("{\"b\":[1,2}", NULL, 0), -1);
}

static void
test_string_unescaping(void **state)
{
	struct jscan_field f[] = { { .path = "s" }, { .path = "p" }, { .path = "c" } };
	char out[64];

	(void)state;
	assert_int_equal(scan("{\"s\":\"a\\nb\\/c\\u00e9\\ud83d\\ude00\\\"\\\\\\t\\b\\f\\r\","
	    "\"p\":\"plain \xc3\xa9\",\"c\":\"\\u20AC\"}", f, NFIELDS(f)), 0);
	assert_int_equal(jscan_string(&f[0], out, sizeof(out)), 0);
	assert_string_equal(out, "a\nb/c\xc3\xa9\xf0\x9f\x98\x80\"\\\t\b\f\r");
	assert_int_equal(jscan_string(&f[1], out, sizeof(out)), 0);
	assert_string_equal(out, "plain \xc3\xa9");
	assert_int_equal(jscan_string(&f[2], out, sizeof(out)), 0);
	assert_string_equal(out, "\xe2\x82\xac");
}

static void
test_string_buffer_must_fit_with_nul(void **state)
{
	struct jscan_field f[] = { { .path = "s" }, { .path = "e" }, { .path = "u" } };
	char out[16];

	(void)state;
	assert_int_equal(scan("{\"s\":\"abc\\n\",\"e\":\"\",\"u\":\"\\u00e9\"}",
	    f, NFIELDS(f)), 0);
	assert_int_equal(jscan_string(&f[0], out, 5), 0);  /* "abc\n" + NUL */
	assert_string_equal(out, "abc\n");
	assert_int_equal(jscan_string(&f[0], out, 4), -1);
	assert_string_equal(out, "");
	assert_int_equal(jscan_string(&f[0], out, 0), -1);
	/* the same edge for a value with no escapes at all */
	assert_int_equal(scan("{\"s\":\"abcd\"}", f, 1), 0);
	assert_int_equal(jscan_string(&f[0], out, 5), 0);
	assert_string_equal(out, "abcd");
	assert_int_equal(jscan_string(&f[0], out, 4), -1);
	assert_string_equal(out, "");
	assert_int_equal(scan("{\"s\":\"abc\\n\",\"e\":\"\",\"u\":\"\\u00e9\"}",
	    f, NFIELDS(f)), 0);
	assert_int_equal(jscan_string(&f[1], out, 1), 0);
	assert_string_equal(out, "");
	/* a multi-byte character is never cut in half */
	assert_int_equal(jscan_string(&f[2], out, 3), 0);
	assert_string_equal(out, "\xc3\xa9");
	assert_int_equal(jscan_string(&f[2], out, 2), -1);
	assert_string_equal(out, "");
}

static void
test_string_rejects_nul_and_non_strings(void **state)
{
	struct jscan_field f[] = {
		{ .path = "z" }, { .path = "z2" }, { .path = "n" }, { .path = "o" },
		{ .path = "missing" },
	};
	char out[16];

	(void)state;
	/* \u0000 is valid JSON, but never becomes a C string */
	assert_int_equal(scan("{\"z\":\"\\u0000\",\"z2\":\"ab\\u0000cd\",\"n\":1,"
	    "\"o\":{}}", f, NFIELDS(f)), 0);
	assert_int_equal(f[0].type, JSCAN_STRING);
	assert_int_equal(jscan_string(&f[0], out, sizeof(out)), -1);
	assert_int_equal(jscan_string(&f[1], out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(jscan_string(&f[2], out, sizeof(out)), -1);
	assert_int_equal(jscan_string(&f[3], out, sizeof(out)), -1);
	assert_int_equal(jscan_string(&f[4], out, sizeof(out)), -1);
}

static void
test_int64(void **state)
{
	struct jscan_field f[] = {
		{ .path = "max" }, { .path = "over" }, { .path = "min" },
		{ .path = "under" }, { .path = "negzero" }, { .path = "frac" },
		{ .path = "exp" }, { .path = "str" }, { .path = "zero" },
		{ .path = "big" }, { .path = "neg" },
	};
	long long v;

	(void)state;
	assert_int_equal(scan("{\"max\":9223372036854775807,"
	    "\"over\":9223372036854775808,\"min\":-9223372036854775808,"
	    "\"under\":-9223372036854775809,\"negzero\":-0,\"frac\":1.0,"
	    "\"exp\":1e3,\"str\":\"5\",\"zero\":0,"
	    "\"big\":100000000000000000000000,\"neg\":-42}", f, NFIELDS(f)), 0);
	assert_int_equal(jscan_int64(&f[0], &v), 0);
	assert_true(v == 9223372036854775807LL);
	v = 7;
	assert_int_equal(jscan_int64(&f[1], &v), -1);
	assert_true(v == 7);  /* untouched on failure */
	assert_int_equal(jscan_int64(&f[2], &v), 0);
	assert_true(v == -9223372036854775807LL - 1);
	assert_int_equal(jscan_int64(&f[3], &v), -1);
	assert_int_equal(jscan_int64(&f[4], &v), 0);
	assert_true(v == 0);
	assert_int_equal(jscan_int64(&f[5], &v), -1);
	assert_int_equal(jscan_int64(&f[6], &v), -1);
	assert_int_equal(jscan_int64(&f[7], &v), -1);
	assert_int_equal(jscan_int64(&f[8], &v), 0);
	assert_true(v == 0);
	assert_int_equal(jscan_int64(&f[9], &v), -1);
	assert_int_equal(jscan_int64(&f[10], &v), 0);
	assert_true(v == -42);
}

static void
test_bool(void **state)
{
	struct jscan_field f[] = {
		{ .path = "t" }, { .path = "f" }, { .path = "n" }, { .path = "s" },
		{ .path = "missing" },
	};

	(void)state;
	assert_int_equal(scan("{\"t\":true,\"f\":false,\"n\":null,\"s\":\"true\"}",
	    f, NFIELDS(f)), 0);
	assert_int_equal(jscan_bool(&f[0]), 1);
	assert_int_equal(jscan_bool(&f[1]), 0);
	assert_int_equal(jscan_bool(&f[2]), -1);
	assert_int_equal(jscan_bool(&f[3]), -1);
	assert_int_equal(jscan_bool(&f[4]), -1);
}

static const struct doc valid_docs[] = {
	DOC("{}"), DOC("[]"), DOC(" \t\r\n{ } \t\r\n"), DOC("[ ]"),
	DOC("0"), DOC("-0"), DOC("1"), DOC("-1"), DOC("0.5"), DOC("-0.0e-0"),
	DOC("1E+2"), DOC("1e400"), DOC("123456789012345678901234567890"),
	DOC("true"), DOC("false"), DOC("null"), DOC("\"\""), DOC(" \"x\" "),
	DOC("[1,-2.5,true,false,null,\"s\",[],{}]"),
	DOC("{\"a\":{\"b\":[{\"c\":null}]}}"),
	DOC("{\"\":0}"),
	DOC("{\"a\":1,\"a\":2}"),
	DOC("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000 \\uFFFF \\uD83D\\uDE00\""),
	/* 2-, 3- and 4-byte UTF-8 at the edges of what is allowed */
	DOC("\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf\""),
	DOC("\"\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf \xf3\xbf\xbf\xbf\""),
	/* U+FEFF is fine inside a string, just not as a document prefix */
	DOC("\"\xef\xbb\xbf\""),
	DOC("\"\x7f\""),
};

static void
test_valid_documents(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NFIELDS(valid_docs); i++) {
		if (scan_n(valid_docs[i].text, valid_docs[i].len, NULL, 0) != 0)
			fail_msg("valid document %zu rejected: %s", i, valid_docs[i].text);
	}
}

static const struct doc invalid_docs[] = {
	/* structure */
	DOC(""), DOC(" "), DOC("{"), DOC("}"), DOC("["), DOC("]"), DOC("[[]"),
	DOC("[]]"), DOC("{\"a\":1}}"), DOC("{\"a\":1]"), DOC("[1}"),
	DOC("{,}"), DOC("[,]"), DOC("[1,]"), DOC("[,1]"), DOC("[1,,2]"),
	DOC("{\"a\":1,}"), DOC("{\"a\"}"), DOC("{\"a\":}"), DOC("{\"a\" 1}"),
	DOC("{\"a\"::1}"), DOC("{a:1}"), DOC("{1:1}"), DOC("{null:1}"),
	DOC("{'a':1}"), DOC("['a']"), DOC("[1 2]"), DOC("{\"a\":1 \"b\":2}"),
	DOC("[1]x"), DOC("[1] [2]"), DOC("1 2"), DOC("{} {}"), DOC("\"a\" \"b\""),
	/* comments */
	DOC("//c\n1"), DOC("/*c*/1"), DOC("[1]//"), DOC("[1/*c*/]"), DOC("# c\n1"),
	/* numbers */
	DOC("NaN"), DOC("Infinity"), DOC("-Infinity"), DOC("[NaN]"), DOC("01"),
	DOC("-01"), DOC("00"), DOC("+1"), DOC("1."), DOC(".5"), DOC("1e"),
	DOC("1e+"), DOC("1E-"), DOC("-"), DOC("1.e3"), DOC("1.5.5"), DOC("0x10"),
	DOC("1_000"), DOC("- 1"), DOC("--1"), DOC("1e1.5"), DOC("[01]"), DOC("[1.]"),
	/* literals */
	DOC("tru"), DOC("True"), DOC("TRUE"), DOC("nul"), DOC("NULL"), DOC("fals"),
	DOC("falsey"), DOC("nulll"), DOC("truefalse"), DOC("undefined"),
	/* strings: structure and control bytes */
	DOC("\"abc"), DOC("\""), DOC("\"\\\""), DOC("\"a\tb\""), DOC("\"a\nb\""),
	DOC("\"\x01\""), DOC("\"\x1f\""),
	/* escapes */
	DOC("\"\\x41\""), DOC("\"\\a\""), DOC("\"\\'\""), DOC("\"\\U0041\""),
	DOC("\"\\u12\""), DOC("\"\\u12G4\""), DOC("\"\\u\""), DOC("\"\\"),
	DOC("\"\\ud800\""), DOC("\"\\udc00\""), DOC("\"\\udfff\\ud800\""),
	DOC("\"\\ud800\\u0041\""), DOC("\"\\ud800x\""), DOC("\"\\ud800\\\""),
	DOC("\"\\ud83d\\ud83d\""), DOC("\"\\ud83d\\ude0\""), DOC("{\"\\ud800\":1}"),
	/* UTF-8 */
	DOC("\"\x80\""), DOC("\"\xbf\""), DOC("\"\xc0\xaf\""), DOC("\"\xc1\xbf\""),
	DOC("\"\xe0\x80\xaf\""), DOC("\"\xe0\x9f\xbf\""), DOC("\"\xf0\x80\x80\xaf\""),
	DOC("\"\xf0\x8f\xbf\xbf\""), DOC("\"\xed\xa0\x80\""), DOC("\"\xed\xbf\xbf\""),
	DOC("\"\xf4\x90\x80\x80\""), DOC("\"\xf5\x80\x80\x80\""), DOC("\"\xf8\x88\x80\x80\x80\""),
	DOC("\"\xfe\""), DOC("\"\xff\""), DOC("\"\xc3\""), DOC("\"\xc3\x28\""),
	DOC("\"\xe2\x82\""), DOC("\"\xe2\x28\xa1\""), DOC("\"\xf0\x9f\x98\""),
	DOC("\"\xf0\x9f\x98\x28\""), DOC("{\"\xc3\":1}"), DOC("\"\xc3"),
	/* bytes outside strings */
	DOC("\xef\xbb\xbf{}"), DOC("[\xc3\xa9]"), DOC("\xc2\xa0" "1"),
	DOC("\f1"), DOC("\v1"), DOC("[1,\f2]"),
	/* NUL anywhere */
	DOC("\"a\0b\""), DOC("{}\0"), DOC("\0{}"), DOC("[1,\0 2]"), DOC("{\"a\0\":1}"),
	DOC("\0"),
};

static void
test_invalid_documents(void **state)
{
	struct jscan_field f[] = { { .path = "a" } };
	size_t i;

	(void)state;
	for (i = 0; i < NFIELDS(invalid_docs); i++) {
		if (scan_n(invalid_docs[i].text, invalid_docs[i].len, f, 1) != -1)
			fail_msg("invalid document %zu accepted: %s", i,
			    invalid_docs[i].text);
	}
	/* a NULL document is not a document */
	assert_int_equal(jscan_parse(NULL, 0, f, 1), -1);
}

static void
test_every_truncation_is_invalid(void **state)
{
	/* every token type, escapes and multi-byte UTF-8 at several depths;
	 * no proper prefix of it is a JSON text, because the root object is
	 * only closed by the last byte */
	static const char whole[] =
	    " {\"action\" : \"opened\",\"n\":-12.5e+3,\"pr\":{\"head\":{\"sha\":"
	    "\"ab\\u00e9\\ud83d\\ude00 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
	    "\"ok\":true,\"no\":false,\"x\":null,\"z\":0},\"l\":[1,[],{},\"\\\"\"]},"
	    "\"\\u0061\":{\"b\":{\"c\":{\"d\":[[[-0.0e-1]]]}}}}";
	const size_t len = sizeof(whole) - 1;
	struct jscan_field f[] = { { .path = "pr.head.sha" }, { .path = "a.b.c.d" } };
	size_t cut;

	(void)state;
	assert_int_equal(scan_n(whole, len, f, NFIELDS(f)), 0);
	assert_field(&f[0], JSCAN_STRING,
	    "ab\\u00e9\\ud83d\\ude00 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_field(&f[1], JSCAN_ARRAY, "[[[-0.0e-1]]]");
	for (cut = 0; cut < len; cut++) {
		if (scan_n(whole, cut, f, NFIELDS(f)) != -1)
			fail_msg("prefix of %zu bytes accepted", cut);
	}
}

/*
 * Long strings are scanned 8 bytes at a time: a bad byte must be caught at
 * every offset within such a block, and near the end of the document.
 */
static void
test_bad_byte_at_every_offset_of_a_long_string(void **state)
{
	static const unsigned char bad[] = {
		0x00, 0x01, 0x0a, 0x1f, 0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff,
	};
	static const unsigned char good[] = { 0x20, 0x7e, 0x7f, '/', '\'' };
	char doc[64], out[64], want[64];
	struct jscan_field f[] = { { .path = "k" } };
	size_t len, off, i;

	(void)state;
	len = (size_t)snprintf(doc, sizeof(doc), "{\"k\":\"%s\"}",
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	for (off = 6; off < len - 2; off++) {
		for (i = 0; i < sizeof(bad); i++) {
			char saved = doc[off];

			doc[off] = (char)bad[i];
			if (scan_n(doc, len, f, 1) != -1)
				fail_msg("byte 0x%02x at %zu accepted", bad[i], off);
			doc[off] = saved;
		}
		for (i = 0; i < sizeof(good); i++) {
			char saved = doc[off];

			doc[off] = (char)good[i];
			if (scan_n(doc, len, f, 1) != 0)
				fail_msg("byte 0x%02x at %zu rejected", good[i], off);
			assert_int_equal(jscan_string(&f[0], out, sizeof(out)), 0);
			memcpy(want, doc + 6, len - 8);
			want[len - 8] = '\0';
			assert_string_equal(out, want);
			doc[off] = saved;
		}
	}
	/* a quote or backslash (before a letter that is no escape) inside the
	 * block changes the structure */
	for (off = 6; off < len - 2; off++) {
		char saved = doc[off];

		doc[off] = '"';
		assert_int_equal(scan_n(doc, len, f, 1), -1);
		doc[off] = '\\';
		assert_int_equal(scan_n(doc, len, f, 1), -1);
		doc[off] = saved;
	}
}

/* depth levels of "[" ... "]" or of {"a": ... } around 1 */
static int
scan_nested(size_t depth, int objects, struct jscan_field *f, size_t n)
{
	static char buf[(JSCAN_MAX_DEPTH + 100) * 6 + 16];
	size_t i, o = 0;

	assert_true(depth * 6 + 1 < sizeof(buf));
	for (i = 0; i < depth; i++) {
		if (objects) {
			memcpy(buf + o, "{\"a\":", 5);
			o += 5;
		} else {
			buf[o++] = '[';
		}
	}
	buf[o++] = '1';
	for (i = 0; i < depth; i++)
		buf[o++] = objects ? '}' : ']';
	return scan_n(buf, o, f, n);
}

static void
test_depth_limit(void **state)
{
	/* 64 components: the value at the deepest allowed object */
	static char path[JSCAN_MAX_DEPTH * 2];
	struct jscan_field f[] = { { .path = path } };
	size_t i;

	(void)state;
	assert_int_equal(scan_nested(JSCAN_MAX_DEPTH, 0, NULL, 0), 0);
	assert_int_equal(scan_nested(JSCAN_MAX_DEPTH + 1, 0, NULL, 0), -1);
	assert_int_equal(scan_nested(JSCAN_MAX_DEPTH + 100, 0, NULL, 0), -1);

	for (i = 0; i < JSCAN_MAX_DEPTH; i++) {
		path[2 * i] = 'a';
		path[2 * i + 1] = '.';
	}
	path[2 * JSCAN_MAX_DEPTH - 1] = '\0';
	assert_int_equal(scan_nested(JSCAN_MAX_DEPTH, 1, f, 1), 0);
	assert_field(&f[0], JSCAN_NUMBER, "1");
	assert_int_equal(scan_nested(JSCAN_MAX_DEPTH + 1, 1, f, 1), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_paths_at_depth_1_to_4, teardown),
		cmocka_unit_test_teardown(test_value_of_each_type, teardown),
		cmocka_unit_test_teardown(test_missing_paths, teardown),
		cmocka_unit_test_teardown(test_paths_do_not_descend_into_arrays, teardown),
		cmocka_unit_test_teardown(test_first_duplicate_wins, teardown),
		cmocka_unit_test_teardown(test_sibling_objects_do_not_share_matches, teardown),
		cmocka_unit_test_teardown(test_escaped_keys_match_decoded, teardown),
		cmocka_unit_test_teardown(test_keys_with_dots_and_empty_keys, teardown),
		cmocka_unit_test_teardown(test_overlapping_and_repeated_paths, teardown),
		cmocka_unit_test_teardown(test_fields_are_reset_by_each_parse, teardown),
		cmocka_unit_test_teardown(test_string_unescaping, teardown),
		cmocka_unit_test_teardown(test_string_buffer_must_fit_with_nul, teardown),
		cmocka_unit_test_teardown(test_string_rejects_nul_and_non_strings, teardown),
		cmocka_unit_test_teardown(test_int64, teardown),
		cmocka_unit_test_teardown(test_bool, teardown),
		cmocka_unit_test_teardown(test_valid_documents, teardown),
		cmocka_unit_test_teardown(test_invalid_documents, teardown),
		cmocka_unit_test_teardown(test_every_truncation_is_invalid, teardown),
		cmocka_unit_test_teardown(test_bad_byte_at_every_offset_of_a_long_string, teardown),
		cmocka_unit_test_teardown(test_depth_limit, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
