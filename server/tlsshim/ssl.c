/*
 * libpreviewd-ssl.so: soname "libssl.so", linked against libssl.so.3.
 *
 * Debian 12's civetweb (1.15) is built for the OpenSSL 1.1 API and loads
 * OpenSSL at run time: dlopen("libssl.so"), then dlsym() for each function
 * it uses. One of them, SSL_get_peer_certificate, is only a macro in
 * OpenSSL 3, so civetweb's pointer stays NULL and its worker calls it on
 * the first HTTPS connection: a crash.
 *
 * httpd.c loads this object before civetweb initialises TLS. glibc's
 * dlopen() hands an already-loaded object to anyone asking for its soname,
 * so civetweb gets this library, and dlsym() on it finds this function
 * here and everything else in libssl.so.3 behind it. It also makes TLS
 * work where the libssl.so development symlink is not installed.
 */
#include <openssl/ssl.h>

/* OpenSSL 3's header makes the name a macro for the new function. */
#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *ssl);

/* OpenSSL 1.1's function took a reference, as SSL_get1_peer_certificate
 * does; civetweb frees it with X509_free. */
X509 *
SSL_get_peer_certificate(const SSL *ssl)
{
	return SSL_get1_peer_certificate(ssl);
}
