/*
 * libpreviewd-crypto.so: soname "libcrypto.so", linked against
 * libcrypto.so.3, and nothing of its own.
 *
 * civetweb loads libcrypto with dlopen("libcrypto.so"), a name only the
 * libssl-dev package provides. With this object loaded first (httpd.c),
 * glibc matches that name to its soname and civetweb finds libcrypto.so.3
 * behind it, so a server without development packages can serve HTTPS.
 * See ssl.c for the libssl half.
 */
typedef int previewd_crypto_shim_is_empty;
