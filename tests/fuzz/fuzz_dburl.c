/*
 * fuzz_dburl: dburl_parse, dburl_hostport and dburl_build -> dburl_parse.
 *
 * Input: control NUL url NUL hostport NUL user NUL password NUL dbname.
 * control[0] picks the scheme, control[1..2] the port.
 *
 * Invariants:
 *   - dburl_parse: a parsed URL has a scheme, a host without brackets and
 *     a port in 0..65535; a refused one gets one of dburl_parse's own
 *     fixed reasons, which cannot hold the password;
 *   - dburl_hostport: an accepted host is not empty and holds none of
 *     "/@?# "; the port is 1..65535 or left as it was;
 *   - round trip (what engine_url does with the admin URL's host or
 *     public_host and a role, password and database name): when
 *     dburl_build succeeds, dburl_parse of its URL gives back the same
 *     scheme, user, password, host (without case; an IP address may come
 *     back in curl's normal form: "fe:0::1" as "fe::1", "127.1" as
 *     "127.0.0.1"),
 *     port and database name. Checked for
 *     parts that fit struct dburl, without control characters (curl
 *     refuses to decode those) and for database names without "." or
 *     ".." segments (curl removes those, as RFC 3986 says; previewd's
 *     names never have them).
 */
#include "tests/fuzz/fuzz.h"

#include <arpa/inet.h>
#include <strings.h>

#include "lib/dburl.h"

#define SHOW(s) fuzz_show((s), strlen(s))

enum { P_CONTROL, P_URL, P_HOSTPORT, P_USER, P_PASSWORD, P_DBNAME, P_COUNT };

static const char *const schemes[] = { "postgresql", "mysql", "postgres" };

static const char *const reasons[] = {
	"out of memory",
	"URL needs a host (Unix sockets are not supported)",
	"not a valid URL",
	"URL needs a scheme and a host",
	"URL part too long",
	"bad port",
	"database name too long",
	"IPv6 zone ids are not supported",
	"invalid percent-escape in the user name (a literal % is written %25)",
	"invalid percent-escape in the password (a literal % is written %25)",
	"invalid percent-escape in the URL (a literal % is written %25)",
};

static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool
dot_segment(const char *path)
{
	const char *p = path;

	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' &&
		    p[1] == '.'))
			return true;
		p += n;
		if (*p == '/')
			p++;
	}
	return false;
}

/* The same host (names compare without case, RFC 4343, and so do
 * percent-escapes), or the same IP address written another way. */
static bool
same_host(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	struct in_addr v4;

	if (strcasecmp(a, b) == 0)
		return true;
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return memcmp(x, y, 16) == 0;
	if (inet_aton(a, &v4) == 1 && inet_pton(AF_INET, b, y) == 1)
		return memcmp(&v4, y, 4) == 0;
	return false;
}

static void
round_trip(const char *scheme, const char *user, const char *password,
    const char *host, int port, const char *dbname)
{
	struct dburl u;
	char url[2048], err[128];

	if (strlen(user) >= sizeof(u.user) ||
	    strlen(password) >= sizeof(u.password) ||
	    strlen(host) >= sizeof(u.host) ||
	    strlen(dbname) >= sizeof(u.dbname))
		return;
	if (dburl_build(scheme, user, password, host, port, dbname, url,
	    sizeof(url)) != 0)
		return;
	if (!printable(user) || !printable(password) || !printable(dbname) ||
	    dot_segment(dbname))
		return;
	err[0] = '\0';
	FUZZ_CHECK(dburl_parse(url, &u, err, sizeof(err)) == 0,
	    "dburl_build(\"%s\", \"%s\", \"%s\", \"%s\", %d, \"%s\") made "
	    "\"%s\", which dburl_parse refuses: %s", scheme, SHOW(user),
	    SHOW(password), SHOW(host), port, SHOW(dbname), SHOW(url), err);
	FUZZ_CHECK(strcmp(u.scheme, scheme) == 0, "scheme \"%s\" came back "
	    "as \"%s\" from %s", scheme, u.scheme, SHOW(url));
	FUZZ_CHECK(strcmp(u.user, user) == 0, "user \"%s\" came back as "
	    "\"%s\" from %s", SHOW(user), SHOW(u.user), SHOW(url));
	FUZZ_CHECK(strcmp(u.password, password) == 0, "password \"%s\" came "
	    "back as \"%s\" from %s", SHOW(password), SHOW(u.password),
	    SHOW(url));
	FUZZ_CHECK(same_host(host, u.host), "host \"%s\" came back as "
	    "\"%s\" from %s", SHOW(host), SHOW(u.host), SHOW(url));
	FUZZ_CHECK(u.port == port, "port %d came back as %d from %s", port,
	    u.port, SHOW(url));
	FUZZ_CHECK(strcmp(u.dbname, dbname) == 0, "database \"%s\" came back "
	    "as \"%s\" from %s", SHOW(dbname), SHOW(u.dbname), SHOW(url));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_parts p;
	struct dburl u;
	const char *scheme;
	char err[128], host[256];
	int port, hp_port, rc;
	size_t i;

	fuzz_split(data, size, P_COUNT, &p);
	scheme = schemes[fuzz_byte(&p, P_CONTROL, 0) % 3];
	port = (int)((fuzz_byte(&p, P_CONTROL, 1) << 8 |
	    fuzz_byte(&p, P_CONTROL, 2)) % 65535) + 1;

	/* dburl_parse */
	err[0] = '\0';
	rc = dburl_parse(p.s[P_URL], &u, err, sizeof(err));
	if (rc == 0) {
		FUZZ_CHECK(u.scheme[0] != '\0' && u.host[0] != '\0' &&
		    u.host[0] != '[' && u.port >= 0 && u.port <= 65535,
		    "parsed \"%s\" into scheme \"%s\" host \"%s\" port %d",
		    SHOW(p.s[P_URL]), SHOW(u.scheme), SHOW(u.host), u.port);
		/* The admin URL's host, with a role, password and database. */
		round_trip(scheme, p.s[P_USER], p.s[P_PASSWORD], u.host,
		    u.port ? u.port : port, p.s[P_DBNAME]);
		/* And the URL's own parts. */
		round_trip(u.scheme, u.user, u.password, u.host,
		    u.port ? u.port : port, u.dbname);
	} else {
		for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
			if (strcmp(err, reasons[i]) == 0)
				break;
		FUZZ_CHECK(i < sizeof(reasons) / sizeof(reasons[0]),
		    "dburl_parse gave an unexpected reason \"%s\"", SHOW(err));
	}

	/* dburl_hostport, as public_host */
	hp_port = -7;
	if (dburl_hostport(p.s[P_HOSTPORT], host, sizeof(host), &hp_port) == 0) {
		FUZZ_CHECK(host[0] != '\0' && strpbrk(host, "/@?# ") == NULL,
		    "dburl_hostport(\"%s\") accepted host \"%s\"",
		    SHOW(p.s[P_HOSTPORT]), SHOW(host));
		FUZZ_CHECK(hp_port == -7 || (hp_port >= 1 && hp_port <= 65535),
		    "dburl_hostport(\"%s\") gave port %d",
		    SHOW(p.s[P_HOSTPORT]), hp_port);
		round_trip(scheme, p.s[P_USER], p.s[P_PASSWORD], host,
		    hp_port == -7 ? port : hp_port, p.s[P_DBNAME]);
	}

	/* A plain host, so user, password and name get fuzzed on their own. */
	round_trip(scheme, p.s[P_USER], p.s[P_PASSWORD], "db.internal", port,
	    p.s[P_DBNAME]);

	fuzz_parts_free(&p);
	return 0;
}
