/*
 * dburl: database URLs parsed and built with libcurl's URL API.
 *
 * Handed-out URLs carry passwords, so they are never assembled by string
 * pasting: curl_url percent-encodes the user and password, brackets IPv6
 * hosts, and the result round-trips through libpq, psql, node-postgres and
 * the MySQL clients.
 */
#ifndef PREVIEWD_DBURL_H
#define PREVIEWD_DBURL_H

#include <stddef.h>

#include "lib/util.h"

struct dburl {
	char scheme[16];
	char user[128];
	char password[256];
	char host[256];     /* without brackets */
	int port;           /* 0 when the URL has none */
	char dbname[128];   /* decoded path without the leading '/' */
};

/* Parse url, decoding user, password and path. err gets a reason that
 * never contains the password. A '%' that does not start an escape of
 * two hex digits, or one that decodes to NUL, is refused wherever it is:
 * libpq refuses it too (quoting the part, the password for one), and
 * curl would pass it on undecoded, so the two would disagree on what the
 * password is. 0 ok, -1 otherwise. */
int dburl_parse(const char *url, struct dburl *out, char *err, size_t errlen)
    MUST_CHECK;

/* The password of url as written, escapes and all (what libpq quotes
 * when it cannot decode it), for lib/scrub.h: "" when there is none. 0
 * ok, -1 when url does not parse. */
int dburl_password_raw(const char *url, char *out, size_t outsz) MUST_CHECK;

/* Parse "host", "host:port", "[v6]" or "[v6]:port". 0 ok, -1 otherwise;
 * *port stays as given when the text has no port. */
int dburl_hostport(const char *s, char *host, size_t hostsz, int *port)
    MUST_CHECK;

/* scheme://user:password@host:port/dbname with user and password
 * percent-encoded. 0 ok, -1 otherwise. */
int dburl_build(const char *scheme, const char *user, const char *password,
    const char *host, int port, const char *dbname, char *out, size_t outsz)
    MUST_CHECK;

#endif
