/*
 * test_webhooks: signature checks of the webhook handlers that are not
 * plain HMACs — GitLab's Standard Webhooks signing — against the spec's
 * published vector, and what must not pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "handlers/gitlab.h"
#include "handlers/webhook.h"
#include "lib/crypto.h"

static const char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char ts[] = "1614265330";
static const char body[] = "{\"test\": 2432232314}";
static const char good[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
#define NOW 1614265330

static bool
check(const char *s, const char *i, const char *t, const char *b,
    const char *header, int64_t now)
{
	return standard_webhook_ok(s, i, t, b, strlen(b), header, now, 300);
}

static void
test_spec_vector(void **state)
{
	(void)state;
	assert_true(check(secret, id, ts, body, good, NOW));
	/* Within the five-minute window either way. */
	assert_true(check(secret, id, ts, body, good, NOW + 300));
	assert_true(check(secret, id, ts, body, good, NOW - 300));
}

static void
test_several_signatures(void **state)
{
	(void)state;
	/* Key rotation: any one of the listed signatures may match. */
	assert_true(check(secret, id, ts, body,
	    "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "
	    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", NOW));
	assert_true(check(secret, id, ts, body,
	    "v1a,whatever v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	    NOW));
}

static void
test_refused(void **state)
{
	(void)state;
	/* Stale or future timestamps: replays are refused. */
	assert_false(check(secret, id, ts, body, good, NOW + 301));
	assert_false(check(secret, id, ts, body, good, NOW - 301));
	/* Anything signed differs: body, id, timestamp, key. */
	assert_false(check(secret, id, ts, "{\"test\": 2432232315}", good, NOW));
	assert_false(check(secret, "msg_other", ts, body, good, NOW));
	assert_false(check(secret, id, "1614265331", body, good, NOW));
	assert_false(check("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", id, ts,
	    body, good, NOW));
	/* Malformed headers and secrets. */
	assert_false(check(secret, id, ts, body, "", NOW));
	assert_false(check(secret, id, ts, body,
	    "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", NOW));
	assert_false(check(secret, id, ts, body,
	    "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", NOW));
	assert_false(check(secret, id, ts, body,
	    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", NOW));
	assert_false(check(secret + 6, id, ts, body, good, NOW));
	assert_false(check("whsec_!!!", id, ts, body, good, NOW));
	assert_false(check(secret, id, "soon", body, good, NOW));
	assert_false(standard_webhook_ok(NULL, id, ts, body, strlen(body), good,
	    NOW, 300));
	assert_false(standard_webhook_ok(secret, NULL, ts, body, strlen(body),
	    good, NOW, 300));
	/* Regression (make fuzz): malformed padding in the secret decoded
	 * to a different key instead of being refused. */
	assert_false(check("whsec_====", id, ts, body, good, NOW));
	assert_false(check("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw====", id, ts,
	    body, good, NOW));
}

/* Regression (make fuzz): a correctly signed delivery was refused once
 * its id and timestamp passed 510 bytes. */
static void
test_long_webhook_id(void **state)
{
	unsigned char key[64], mac[64];
	char longid[2048], msg[4096], sig[200];
	unsigned maclen = 0;
	int keylen;

	(void)state;
	memset(longid, 'm', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	keylen = crypto_base64_decode(secret + 6, key, sizeof(key));
	assert_true(keylen > 0);
	snprintf(msg, sizeof(msg), "%s.%s.%s", longid, ts, body);
	assert_int_equal(crypto_hmac("sha256", key, (size_t)keylen, msg,
	    strlen(msg), mac, &maclen), 0);
	memcpy(sig, "v1,", 3);
	crypto_base64_encode(mac, maclen, sig + 3);
	assert_true(check(secret, longid, ts, body, sig, NOW));
}

static void
test_repo_and_sha_shapes(void **state)
{
	(void)state;
	assert_true(webhook_repo_ok("acme/shop"));
	assert_true(webhook_repo_ok("grp/sub/shop.api-v2_x"));
	assert_false(webhook_repo_ok("shop"));
	assert_false(webhook_repo_ok("/acme/shop"));
	assert_false(webhook_repo_ok("acme//shop"));
	assert_false(webhook_repo_ok("acme/shop/"));
	assert_false(webhook_repo_ok("acme/sh op"));
	assert_false(webhook_repo_ok("acme/shop;drop"));
	assert_false(webhook_repo_ok("acme/shop\n"));
	/* Regression (make fuzz): dot segments reached forge API paths. */
	assert_false(webhook_repo_ok("acme/.."));
	assert_false(webhook_repo_ok("../shop"));
	assert_false(webhook_repo_ok("acme/./shop"));
	assert_false(webhook_repo_ok("acme/../shop"));
	assert_false(webhook_repo_ok("acme/."));
	assert_true(webhook_repo_ok("acme/.github"));
	assert_true(webhook_repo_ok("acme/shop..v2"));
	assert_true(webhook_sha_ok("0123456789abcdef0123456789abcdef01234567"));
	assert_true(webhook_sha_ok("abcdef0"));
	assert_false(webhook_sha_ok("abcdef"));
	assert_false(webhook_sha_ok("ABCDEF0"));
	assert_false(webhook_sha_ok("0123456789abcdefg"));
}

/* The default branch a push names goes into forge API paths and logs. */
static void
test_branch_shapes(void **state)
{
	char long_name[BASE_BRANCH_SIZE + 1];

	(void)state;
	assert_true(webhook_branch_ok("main"));
	assert_true(webhook_branch_ok("release/2.x"));
	assert_true(webhook_branch_ok("feature_\xc3\xa9t\xc3\xa9-1"));
	assert_false(webhook_branch_ok(""));
	assert_false(webhook_branch_ok("has space"));
	assert_false(webhook_branch_ok("a..b"));
	assert_false(webhook_branch_ok("tab\there"));
	assert_false(webhook_branch_ok("line\nbreak"));
	assert_false(webhook_branch_ok("del\x7f"));
	assert_false(webhook_branch_ok("x~1"));
	assert_false(webhook_branch_ok("x^1"));
	assert_false(webhook_branch_ok("a:b"));
	assert_false(webhook_branch_ok("a?b"));
	assert_false(webhook_branch_ok("a*b"));
	assert_false(webhook_branch_ok("a[b"));
	assert_false(webhook_branch_ok("a\\b"));
	memset(long_name, 'b', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(webhook_branch_ok(long_name));
	long_name[BASE_BRANCH_SIZE - 1] = '\0';
	assert_true(webhook_branch_ok(long_name));
}

/* The signature shapes checked before a body is read. */
static void
test_signature_hex_shapes(void **state)
{
	static const char h64[] = "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef";

	(void)state;
	assert_true(webhook_hex_ok(h64, 64));
	assert_true(webhook_hex_ok(h64 + 24, 40));
	assert_false(webhook_hex_ok(h64 + 1, 64));          /* 63 */
	assert_false(webhook_hex_ok(h64, 40));              /* 64 */
	assert_false(webhook_hex_ok("", 40));
	assert_false(webhook_hex_ok("0123456789ABCDEF0123456789abcdef01234567",
	    40));
	assert_false(webhook_hex_ok("0123456789abcdef0123456789abcdef0123456 ",
	    40));
	assert_false(webhook_hex_ok("0123456789abcdef0123456789abcdef0123456g",
	    40));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_vector),
		cmocka_unit_test(test_several_signatures),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_long_webhook_id),
		cmocka_unit_test(test_repo_and_sha_shapes),
		cmocka_unit_test(test_branch_shapes),
		cmocka_unit_test(test_signature_hex_shapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
