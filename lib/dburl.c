/*
 * dburl: curl_url wrappers.
 */
#include "lib/dburl.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "lib/crypto.h"

/* A part of the URL into out. An absent optional part is "" (0); a part
 * that is there but does not decode (e.g. "%00") is an error (-1). */
static int
get_part(CURLU *u, CURLUPart part, unsigned flags, char *out, size_t outsz,
    int optional)
{
	char *v = NULL;
	CURLUcode uc;
	int rc;

	uc = curl_url_get(u, part, &v, flags);
	out[0] = '\0';
	if (uc == CURLUE_NO_USER || uc == CURLUE_NO_PASSWORD ||
	    uc == CURLUE_NO_PORT || uc == CURLUE_NO_HOST)
		return optional ? 0 : -1;
	if (uc != CURLUE_OK)
		return -1;
	rc = str_copy(out, v, outsz);
	if (part == CURLUPART_PASSWORD)
		crypto_wipe(v, strlen(v));
	curl_free(v);
	return rc;
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* Where url has a '%' that is not an escape of two hex digits, or one of
 * NUL: "the user name", "the password", "the URL"; NULL when none. The
 * user information is what precedes the '@' of the authority (the part
 * after "://" up to the first '/', '?' or '#'), the password what follows
 * its first ':'. */
static const char *
bad_escape(const char *url)
{
	const char *sep = strstr(url, "://");
	const char *auth = sep != NULL ? sep + 3 : url;
	const char *auth_end = auth + strcspn(auth, "/?#");
	const char *at = NULL, *colon = NULL, *p;

	for (p = auth; p < auth_end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL)
		colon = memchr(auth, ':', (size_t)(at - auth));
	for (p = url; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		if (is_hex(p[1]) && is_hex(p[2]) && !(p[1] == '0' && p[2] == '0')) {
			p += 2;
			continue;
		}
		if (at != NULL && p >= auth && p < at)
			return colon != NULL && p > colon ? "the password" :
			    "the user name";
		return "the URL";
	}
	return NULL;
}

int
dburl_parse(const char *url, struct dburl *out, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char port[16], path[192];
	int64_t p;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* curl reads "scheme:///db" as host "db"; libpq reads it as a
	 * local socket. previewd needs a network host: refuse it. */
	{
		const char *sep = strstr(url, "://");

		if (sep != NULL && sep[3] == '/') {
			snprintf(err, errlen, "URL needs a host (Unix sockets "
			    "are not supported)");
			goto out;
		}
	}
	{
		const char *where = bad_escape(url);

		if (where != NULL) {
			snprintf(err, errlen, "invalid percent-escape in %s "
			    "(a literal %% is written %%25)", where);
			goto out;
		}
	}
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK) {
		snprintf(err, errlen, "not a valid URL");
		goto out;
	}
	if (get_part(u, CURLUPART_SCHEME, 0, out->scheme, sizeof(out->scheme),
	    0) != 0 || get_part(u, CURLUPART_HOST, 0, out->host,
	    sizeof(out->host), 0) != 0 || out->host[0] == '\0') {
		snprintf(err, errlen, "URL needs a scheme and a host");
		goto out;
	}
	if (get_part(u, CURLUPART_USER, CURLU_URLDECODE, out->user,
	    sizeof(out->user), 1) != 0 || get_part(u, CURLUPART_PASSWORD,
	    CURLU_URLDECODE, out->password, sizeof(out->password), 1) != 0 ||
	    get_part(u, CURLUPART_PORT, 0, port, sizeof(port), 1) != 0 ||
	    get_part(u, CURLUPART_PATH, CURLU_URLDECODE, path, sizeof(path),
	    1) != 0) {
		snprintf(err, errlen, "URL part too long");
		goto out;
	}
	/* A zone id ("[fe80::1%25eth0]") would be lost on the way to the
	 * URLs previewd hands out: say so rather than drop it. */
	{
		char *zone = NULL;

		if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK) {
			curl_free(zone);
			snprintf(err, errlen, "IPv6 zone ids are not "
			    "supported");
			goto out;
		}
	}
	/* curl keeps IPv6 literals bracketed; callers want the bare address. */
	if (out->host[0] == '[') {
		size_t n = strlen(out->host);

		memmove(out->host, out->host + 1, n - 2);
		out->host[n - 2] = '\0';
	}
	if (port[0] != '\0') {
		if (parse_int64(port, 1, 65535, &p) != 0) {
			snprintf(err, errlen, "bad port");
			goto out;
		}
		out->port = (int)p;
	}
	if (str_copy(out->dbname, path[0] == '/' ? path + 1 : path,
	    sizeof(out->dbname)) != 0) {
		snprintf(err, errlen, "database name too long");
		goto out;
	}
	rc = 0;
out:
	curl_url_cleanup(u);
	if (rc != 0)
		crypto_wipe(out->password, sizeof(out->password));
	return rc;
}

int
dburl_password_raw(const char *url, char *out, size_t outsz)
{
	CURLU *u = curl_url();
	int rc = -1;

	if (outsz > 0)
		out[0] = '\0';
	if (u == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ==
	    CURLUE_OK)
		rc = get_part(u, CURLUPART_PASSWORD, 0, out, outsz, 1);
	curl_url_cleanup(u);
	if (rc != 0 && outsz > 0)
		crypto_wipe(out, outsz);   /* no part of a password left */
	return rc;
}

int
dburl_hostport(const char *s, char *host, size_t hostsz, int *port)
{
	const char *colon;
	int64_t p;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || (size_t)(end - s - 1) >= hostsz ||
		    end == s + 1)
			return -1;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon)
			return -1;  /* a bare IPv6 address needs brackets */
		if (colon == s || (colon ? (size_t)(colon - s) : strlen(s)) >=
		    hostsz || s[0] == '\0')
			return -1;
		memcpy(host, s, colon ? (size_t)(colon - s) : strlen(s));
		host[colon ? (size_t)(colon - s) : strlen(s)] = '\0';
	}
	/* A name or an address, nothing that would need quoting in a URL
	 * (the host goes into every URL handed out). */
	if (strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789.-_") != strlen(host) && (s[0] != '[' ||
	    strspn(host, "0123456789abcdefABCDEF:.") != strlen(host)))
		return -1;
	if (colon != NULL) {
		if (parse_int64(colon + 1, 1, 65535, &p) != 0)
			return -1;
		*port = (int)p;
	}
	return 0;
}

int
dburl_build(const char *scheme, const char *user, const char *password,
    const char *host, int port, const char *dbname, char *out, size_t outsz)
{
	CURLU *u = curl_url();
	char hostpart[300], portstr[16], path[192];
	char *url = NULL;
	int rc = -1;

	if (u == NULL)
		return -1;
	if (str_printf(hostpart, sizeof(hostpart), strchr(host, ':') ?
	    "[%s]" : "%s", host) != 0 ||
	    str_printf(portstr, sizeof(portstr), "%d", port) != 0 ||
	    str_printf(path, sizeof(path), "/%s", dbname) != 0)
		goto out;
	if (curl_url_set(u, CURLUPART_SCHEME, scheme,
	    CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, hostpart, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PORT, portstr, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_USER, user, CURLU_URLENCODE) !=
	    CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PASSWORD, password, CURLU_URLENCODE) !=
	    CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PATH, path, CURLU_URLENCODE) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_URL, &url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK)
		goto out;
	rc = str_copy(out, url, outsz);
out:
	if (url != NULL) {
		crypto_wipe(url, strlen(url));
		curl_free(url);
	}
	curl_url_cleanup(u);
	return rc;
}
