/*
 * Unit tests for lib/names: the names of the databases and roles
 * previewd creates on a shared server.
 *
 *   - names_pr: always ^pvd_[a-z0-9_]+$ and at most 32 characters, in the
 *     documented pvd_{slug}_{hash8}_{number} shape, whatever the repository
 *     name (case, punctuation, UTF-8, length, GitLab nesting) and number;
 *     stable for the same input, the same for repositories that differ
 *     only in case, different for different repositories, numbers and
 *     salts;
 *   - names_pool: pvd_pool_{12 hex}, fresh each time;
 *   - names_valid: what the orphan sweep may touch, and what it must not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <regex.h>

#include <cmocka.h>

#include "lib/names.h"

/* Checked independently of names_valid, so a bug there cannot hide one
 * in names_pr. */
static void
assert_identifier(const char *name)
{
	regex_t re;

	assert_int_equal(regcomp(&re, "^pvd_[a-z0-9_]+$", REG_EXTENDED |
	    REG_NOSUB), 0);
	if (regexec(&re, name, 0, NULL, 0) != 0) {
		regfree(&re);
		fail_msg("\"%s\" does not match ^pvd_[a-z0-9_]+$", name);
	}
	regfree(&re);
	if (strlen(name) > NAMES_MAX)
		fail_msg("\"%s\" is %zu characters, more than %d", name,
		    strlen(name), NAMES_MAX);
	assert_true(names_valid(name));
}

/* pvd_{slug}_{hash8}_{number}: returns the slug in slug[]. */
static void
assert_pr_shape(const char *name, int64_t number, char *slug, size_t slugsz)
{
	char num[24];
	const char *last, *p;
	size_t n, i;

	assert_identifier(name);
	snprintf(num, sizeof(num), "_%lld", (long long)number);
	n = strlen(name);
	if (n < strlen(num) || strcmp(name + n - strlen(num), num) != 0)
		fail_msg("\"%s\" does not end in \"%s\"", name, num);
	last = name + n - strlen(num);      /* the '_' before the number */
	if (last - name < 4 + 1 + 1 + 8)
		fail_msg("\"%s\" is too short for slug and hash", name);
	p = last - 8;
	for (i = 0; i < 8; i++)
		if (strchr("0123456789abcdef", p[i]) == NULL)
			fail_msg("\"%s\": hash \"%.8s\" is not 8 hex digits",
			    name, p);
	if (p[-1] != '_')
		fail_msg("\"%s\": no '_' before the hash", name);
	n = (size_t)(p - 1 - (name + 4));
	assert_true(n >= 1);
	assert_true(n < slugsz);
	memcpy(slug, name + 4, n);
	slug[n] = '\0';
}

static bool
prefix_ignoring_sep(const char *prefix, const char *s)
{
	for (;;) {
		while (*prefix == '_')
			prefix++;
		while (*s == '_')
			s++;
		if (*prefix == '\0')
			return true;
		if (*prefix++ != *s++)
			return false;
	}
}

static void
pr(const char *provider, const char *repo, int64_t number, unsigned salt,
    char out[NAMES_SIZE])
{
	memset(out, 'X', NAMES_SIZE);
	if (names_pr(provider, repo, number, salt, out) != 0)
		fail_msg("names_pr(\"%s\", \"%s\", %lld, %u) failed", provider,
		    repo, (long long)number, salt);
}

static void
test_pr_names_are_identifiers(void **state)
{
	char long_name[256], long_nested[256], out[NAMES_SIZE], slug[NAMES_SIZE];
	const struct {
		const char *provider, *repo;
		const char *slug;     /* NULL: only the shape is checked */
	} cases[] = {
		{ "github", "acme/shop", "shop" },
		{ "github", "Acme/Shop", "shop" },
		{ "github", "ACME/SHOP-API", "shop_api" },
		{ "github", "acme/my.site-v2", "my_site_v2" },
		{ "github", "acme/..dots..and--dashes__", "dots_and_dashes" },
		{ "github", "acme/caf\xc3\xa9-\xe2\x82\xac-app", NULL },
		{ "github", "acme/\xf0\x9f\x9a\x80rocket", "rocket" },
		{ "gitlab", "group/sub/proj", "proj" },
		{ "gitlab", "group/sub/deeper/Proj.Name", "proj_name" },
		{ "github", long_name, NULL },
		{ "gitlab", long_nested, NULL },
		{ "github", "acme/x", "x" },
		{ "github", "acme/0", "0" },
		{ "github", "shop", "shop" },       /* no owner */
	};
	static const int64_t numbers[] = {
		1, 42, 9999, 1000000, 9999999999LL, 99999999999999LL,
	};
	size_t i, j;

	(void)state;
	memset(long_name, 'a', sizeof(long_name));
	memcpy(long_name, "owner/", 6);
	long_name[sizeof(long_name) - 1] = '\0';
	memset(long_nested, 'B', sizeof(long_nested));
	for (i = 10; i + 1 < sizeof(long_nested); i += 10)
		long_nested[i] = '/';
	long_nested[sizeof(long_nested) - 1] = '\0';

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		for (j = 0; j < ARRAY_SIZE(numbers); j++) {
			pr(cases[i].provider, cases[i].repo, numbers[j], 0, out);
			assert_pr_shape(out, numbers[j], slug, sizeof(slug));
			/* A cut slug is a prefix of the full one (separators
			 * aside: the cut may drop a '_'). */
			if (cases[i].slug != NULL &&
			    !prefix_ignoring_sep(slug, cases[i].slug))
				fail_msg("\"%s\": slug \"%s\", want (a prefix of) "
				    "\"%s\"", out, slug, cases[i].slug);
		}
	}
	/* With room, the slug is whole. */
	pr("github", "acme/shop", 42, 0, out);
	assert_pr_shape(out, 42, slug, sizeof(slug));
	assert_string_equal(slug, "shop");
	pr("gitlab", "group/sub/proj", 1, 0, out);
	assert_pr_shape(out, 1, slug, sizeof(slug));
	assert_string_equal(slug, "proj");
}

static void
test_pr_name_without_alphanumerics(void **state)
{
	static const char *const repos[] = {
		"acme/---", "acme/___", "acme/...", "acme/\xc3\xa9\xc3\xa9",
		"acme/", "acme/-_.-", "///",
	};
	char out[NAMES_SIZE], slug[NAMES_SIZE];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(repos); i++) {
		pr("github", repos[i], 7, 0, out);
		assert_pr_shape(out, 7, slug, sizeof(slug));
	}
}

static void
test_pr_names_stable_and_case_insensitive(void **state)
{
	char a[NAMES_SIZE], b[NAMES_SIZE];

	(void)state;
	pr("github", "acme/shop", 42, 0, a);
	pr("github", "acme/shop", 42, 0, b);
	assert_string_equal(a, b);
	/* The forges treat these as one repository. */
	pr("github", "ACME/shop", 42, 0, b);
	assert_string_equal(a, b);
	pr("github", "Acme/Shop", 42, 0, b);
	assert_string_equal(a, b);
	pr("gitlab", "Group/Sub/Proj", 3, 0, a);
	pr("gitlab", "group/sub/proj", 3, 0, b);
	assert_string_equal(a, b);
}

static void
test_pr_names_distinguish_repositories(void **state)
{
	/* Same slug, different repositories: the hash must differ. */
	static const char *const repos[] = {
		"acme/shop", "acme-shop/shop", "acme/shop-", "other/shop",
		"acme/sub/shop", "acm/eshop", "acme/Sho.p",
	};
	char names[ARRAY_SIZE(repos)][NAMES_SIZE];
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(repos); i++)
		pr("github", repos[i], 42, 0, names[i]);
	for (i = 0; i < ARRAY_SIZE(repos); i++)
		for (j = i + 1; j < ARRAY_SIZE(repos); j++)
			if (strcmp(names[i], names[j]) == 0)
				fail_msg("\"%s\" and \"%s\" both named \"%s\"",
				    repos[i], repos[j], names[i]);
}

static void
test_pr_names_distinguish_numbers_and_long_repos(void **state)
{
	char a[NAMES_SIZE], b[NAMES_SIZE], r1[200], r2[200];

	(void)state;
	pr("github", "acme/shop", 1, 0, a);
	pr("github", "acme/shop", 11, 0, b);
	assert_string_not_equal(a, b);
	pr("github", "acme/shop", 9999999999LL, 0, a);
	pr("github", "acme/shop", 999999999LL, 0, b);
	assert_string_not_equal(a, b);

	/* Long names whose slugs are cut to the same prefix. */
	memset(r1, 'x', sizeof(r1));
	memcpy(r1, "acme/", 5);
	r1[sizeof(r1) - 1] = '\0';
	memcpy(r2, r1, sizeof(r2));
	r2[sizeof(r2) - 2] = 'y';
	pr("github", r1, 5, 0, a);
	pr("github", r2, 5, 0, b);
	assert_string_not_equal(a, b);
}

static void
test_pr_salt_changes_name(void **state)
{
	char names[16][NAMES_SIZE], slug[NAMES_SIZE];
	unsigned i, j;

	(void)state;
	for (i = 0; i < 16; i++) {
		pr("github", "acme/shop", 42, i, names[i]);
		assert_pr_shape(names[i], 42, slug, sizeof(slug));
		assert_string_equal(slug, "shop");
	}
	for (i = 0; i < 16; i++)
		for (j = i + 1; j < 16; j++)
			if (strcmp(names[i], names[j]) == 0)
				fail_msg("salts %u and %u both give \"%s\"", i, j,
				    names[i]);
}

static void
test_pr_huge_numbers_never_give_bad_names(void **state)
{
	static const int64_t numbers[] = {
		99999999999999999LL,     /* 17 digits */
		999999999999999999LL,    /* 18 */
		INT64_MAX,               /* 19 */
	};
	char out[NAMES_SIZE], slug[NAMES_SIZE];
	size_t i;

	(void)state;
	/* A number too long to fit may fail; it must not give a name that
	 * is too long or has lost digits. */
	for (i = 0; i < ARRAY_SIZE(numbers); i++)
		if (names_pr("github", "acme/shop", numbers[i], 0, out) == 0)
			assert_pr_shape(out, numbers[i], slug, sizeof(slug));
}

/* ---- pool names ---- */

static void
test_pool_names(void **state)
{
	char names[200][NAMES_SIZE];
	regex_t re;
	size_t i, j;

	(void)state;
	assert_int_equal(regcomp(&re, "^pvd_pool_[0-9a-f]{12}$", REG_EXTENDED |
	    REG_NOSUB), 0);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		assert_int_equal(names_pool(names[i]), 0);
		if (regexec(&re, names[i], 0, NULL, 0) != 0)
			fail_msg("pool name \"%s\" is not pvd_pool_ + 12 hex",
			    names[i]);
		assert_identifier(names[i]);
		for (j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	regfree(&re);
}

/* ---- names_valid ---- */

static void
test_names_valid(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "pvd_shop_1a2b3c4d_42", true },
		{ "pvd_pool_0123456789ab", true },
		{ "pvd_a", true },
		{ "pvd_0", true },
		{ "pvd__", true },
		{ "pvd_aaaaaaaaaaaaaaaaaaaaaaaaaaaa", true },     /* 32 */
		{ "pvd_aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },   /* 33 */
		{ "pvd_", false },
		{ "pvd", false },
		{ "", false },
		{ "shop_1a2b3c4d_42", false },
		{ "postgres", false },
		{ "template1", false },
		{ "PVD_shop", false },
		{ "Pvd_shop", false },
		{ "pvd_Shop", false },
		{ "pvd-shop", false },
		{ "xpvd_shop", false },
		{ " pvd_shop", false },
		{ "pvd_shop ", false },
		{ "pvd_sh op", false },
		{ "pvd_shop\"", false },
		{ "\"pvd_shop\"", false },
		{ "pvd_shop'", false },
		{ "pvd_shop;drop", false },
		{ "pvd_shop; DROP DATABASE x", false },
		{ "pvd_a-b", false },
		{ "pvd_a.b", false },
		{ "pvd_a\nb", false },
		{ "pvd_caf\xc3\xa9", false },
		{ "pvd_a`b", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (names_valid(cases[i].s) != cases[i].ok)
			fail_msg("names_valid(\"%s\") should be %s", cases[i].s,
			    cases[i].ok ? "true" : "false");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pr_names_are_identifiers),
		cmocka_unit_test(test_pr_name_without_alphanumerics),
		cmocka_unit_test(test_pr_names_stable_and_case_insensitive),
		cmocka_unit_test(test_pr_names_distinguish_repositories),
		cmocka_unit_test(test_pr_names_distinguish_numbers_and_long_repos),
		cmocka_unit_test(test_pr_salt_changes_name),
		cmocka_unit_test(test_pr_huge_numbers_never_give_bad_names),
		cmocka_unit_test(test_pool_names),
		cmocka_unit_test(test_names_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
