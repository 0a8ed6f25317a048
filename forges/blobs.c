/*
 * blobs: a bounded, first-in first-out store of blob contents (see
 * blobs.h). A list in insertion order is enough: a blob is the same
 * bytes forever, so there is nothing to refresh, and the folders read
 * together are kept together.
 */
#include "forges/blobs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct blob {
	struct blob *next;
	char key[64];              /* forge ":" id */
	size_t len;
	char data[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct blob *oldest, *newest;
static size_t kept;

static int
blob_key(const char *forge, const char *id, char key[64])
{
	return str_printf(key, 64, "%s:%s", forge, id);
}

bool
blobs_get(const char *forge, const char *id, struct buf *out)
{
	struct blob *b;
	char key[64];
	bool found = false;

	buf_reset(out);
	if (blob_key(forge, id, key) != 0)
		return false;
	pthread_mutex_lock(&lock);
	for (b = oldest; b != NULL; b = b->next)
		if (strcmp(b->key, key) == 0)
			break;
	if (b != NULL)
		found = buf_add(out, b->data, b->len) == 0;
	pthread_mutex_unlock(&lock);
	return found;
}

void
blobs_put(const char *forge, const char *id, const char *data, size_t len)
{
	struct blob *b, *old;
	char key[64];

	if (len > BLOBS_MAX_BYTES / 4 || blob_key(forge, id, key) != 0 ||
	    (b = malloc(sizeof(*b) + len)) == NULL)
		return;
	memcpy(b->key, key, sizeof(key));
	memcpy(b->data, data, len);
	b->len = len;
	b->next = NULL;
	pthread_mutex_lock(&lock);
	for (old = oldest; old != NULL; old = old->next)
		if (strcmp(old->key, key) == 0)
			break;
	if (old != NULL) {         /* another worker read it meanwhile */
		pthread_mutex_unlock(&lock);
		free(b);
		return;
	}
	while (oldest != NULL && kept + len > BLOBS_MAX_BYTES) {
		old = oldest;
		oldest = old->next;
		kept -= old->len;
		free(old);
	}
	if (oldest == NULL)
		newest = NULL;
	if (newest != NULL)
		newest->next = b;
	else
		oldest = b;
	newest = b;
	kept += len;
	pthread_mutex_unlock(&lock);
}

void
blobs_clear(void)
{
	struct blob *b;

	pthread_mutex_lock(&lock);
	while ((b = oldest) != NULL) {
		oldest = b->next;
		free(b);
	}
	newest = NULL;
	kept = 0;
	pthread_mutex_unlock(&lock);
}
