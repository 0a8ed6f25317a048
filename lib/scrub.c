/*
 * scrub: the registry and the masking.
 */
#include "lib/scrub.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"

struct secret {
	const char *s;
	size_t len;
};

/* A set of secrets to look for: the registry's and the caller's. */
struct secrets {
	const struct secret *a;
	size_t na;
	const struct secret *b;
	size_t nb;
};

/* A plain mutex, not a read-write lock: glibc's rwlock prefers readers,
 * so threads logging in a tight loop could keep a reload from ever
 * installing its secrets (seen: test_reregister_while_scrubbing spun for
 * minutes). Scrubbing a message takes microseconds; the log already
 * writes one line at a time. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secret *registry;      /* owns each s */
static size_t nregistry;

#define MASK_LEN (sizeof(SCRUB_MASK) - 1)

static void
secrets_free(struct secret *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		crypto_wipe((char *)v[i].s, v[i].len);
		free((char *)v[i].s);
	}
	free(v);
}

int
scrub_register(const char *const *secrets, size_t n)
{
	struct secret *fresh = NULL, *old;
	size_t i, k = 0, nold;

	if (n > 0 && (fresh = calloc(n, sizeof(*fresh))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		char *copy;

		if (secrets[i] == NULL || strlen(secrets[i]) < SCRUB_MIN_LEN)
			continue;
		if ((copy = strdup(secrets[i])) == NULL) {
			secrets_free(fresh, k);
			return -1;
		}
		fresh[k].s = copy;
		fresh[k++].len = strlen(copy);
	}
	pthread_mutex_lock(&registry_lock);
	old = registry;
	nold = nregistry;
	registry = fresh;
	nregistry = k;
	pthread_mutex_unlock(&registry_lock);
	/* No reader can hold the old set now: the lock was ours alone. */
	secrets_free(old, nold);
	return 0;
}

void
scrub_release(void)
{
	/* With nothing to copy, registering cannot fail. */
	if (scrub_register(NULL, 0) != 0)
		return;
}

/* The length of the secret that starts at text[i], 0 when none does: the
 * longest full match, else (at the end of the text only) a start of a
 * secret at least SCRUB_MIN_LEN long that the end cut off. */
static size_t
match_at(const char *text, size_t len, size_t i, const struct secrets *set)
{
	const struct secret *v[2] = { set->a, set->b };
	size_t nv[2] = { set->na, set->nb };
	size_t best = 0, rest = len - i, j, k;

	for (j = 0; j < 2; j++) {
		for (k = 0; k < nv[j]; k++) {
			const struct secret *sec = &v[j][k];

			if (sec->len <= rest) {
				if (sec->len > best &&
				    memcmp(text + i, sec->s, sec->len) == 0)
					best = sec->len;
			} else if (rest >= SCRUB_MIN_LEN && rest > best &&
			    memcmp(text + i, sec->s, rest) == 0) {
				best = rest;
			}
		}
	}
	return best;
}

/* Whether needle is in text (memmem is a GNU extension). */
static bool
find(const char *text, size_t len, const char *needle, size_t n)
{
	const char *p = text, *end = text + len;

	while (n > 0 && (size_t)(end - p) >= n &&
	    (p = memchr(p, needle[0], (size_t)(end - p) - n + 1)) != NULL) {
		if (memcmp(p, needle, n) == 0)
			return true;
		p++;
	}
	return false;
}

/* Whether any secret, or a start of one cut off by the end, is in text. */
static bool
contains(const char *text, size_t len, const struct secrets *set)
{
	const struct secret *v[2] = { set->a, set->b };
	size_t nv[2] = { set->na, set->nb };
	size_t j, k, r;

	for (j = 0; j < 2; j++) {
		for (k = 0; k < nv[j]; k++) {
			const struct secret *sec = &v[j][k];

			if (find(text, len, sec->s, sec->len))
				return true;
			for (r = SCRUB_MIN_LEN; r < sec->len && r <= len; r++)
				if (memcmp(text + len - r, sec->s, r) == 0)
					return true;
		}
	}
	return false;
}

static size_t
scrub_set(char *s, size_t size, const struct secrets *set)
{
	size_t len, i, o = 0, masked = 0, m;
	char *out;

	if (size == 0 || set->na + set->nb == 0)
		return 0;
	len = strnlen(s, size);
	if (len == size) {
		/* Not terminated within size: what follows is not ours. */
		len = size - 1;
		s[len] = '\0';
	}
	if (!contains(s, len, set))
		return 0;
	if ((out = malloc(size)) == NULL) {
		/* Nothing to build the scrubbed text in: show nothing. */
		(void)str_copy(s, SCRUB_MASK, size);
		memset(s + strlen(s), 0, size - strlen(s));
		return 1;
	}
	for (i = 0; i < len;) {
		if ((m = match_at(s, len, i, set)) != 0) {
			/* A mask that does not fit ends the text: half a mask
			 * would read as if it were the message. */
			if (o + MASK_LEN >= size)
				break;
			memcpy(out + o, SCRUB_MASK, MASK_LEN);
			o += MASK_LEN;
			i += m;
			masked++;
		} else {
			if (o + 1 >= size)
				break;
			out[o++] = s[i++];
		}
	}
	out[o] = '\0';
	/* A mask next to the text around it could spell a secret that
	 * overlaps "[redacted]" itself: then the mask alone, or nothing. */
	if (contains(out, o, set)) {
		if (str_copy(out, SCRUB_MASK, size) != 0 ||
		    contains(out, strlen(out), set))
			out[0] = '\0';
	}
	o = strlen(out);
	memcpy(s, out, o);
	memset(s + o, 0, size - o);
	crypto_wipe(out, size);
	free(out);
	return masked > 0 ? masked : 1;
}

size_t
scrub_text_with(char *s, size_t size, const char *extra)
{
	struct secret x = { extra, extra != NULL ? strlen(extra) : 0 };
	struct secrets set = { NULL, 0, &x, 0 };
	size_t n;

	if (extra != NULL && x.len >= SCRUB_MIN_LEN)
		set.nb = 1;
	pthread_mutex_lock(&registry_lock);
	set.a = registry;
	set.na = nregistry;
	n = scrub_set(s, size, &set);
	pthread_mutex_unlock(&registry_lock);
	return n;
}

size_t
scrub_text(char *s, size_t size)
{
	return scrub_text_with(s, size, NULL);
}

size_t
scrub_list(char *s, size_t size, const char *const *secrets, size_t n)
{
	struct secret *v;
	struct secrets set = { NULL, 0, NULL, 0 };
	size_t i, k = 0, r;

	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL) {
		if (size > 0) {
			(void)str_copy(s, SCRUB_MASK, size);
			memset(s + strlen(s), 0, size - strlen(s));
		}
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (secrets[i] == NULL || strlen(secrets[i]) < SCRUB_MIN_LEN)
			continue;
		v[k].s = secrets[i];
		v[k++].len = strlen(secrets[i]);
	}
	set.a = v;
	set.na = k;
	r = scrub_set(s, size, &set);
	free(v);
	return r;
}
