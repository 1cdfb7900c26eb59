/*
 * reply.c - reference-counted immutable blobs (a pre-signed response, a CRL,
 * a /metrics page) and the reply the request path hands the HTTP layer.
 * A blob is one allocation: the count, the length and the bytes.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

struct srv_blob {
	atomic_size_t refs;
	size_t len;
	void *taken; /* srv_blob_take()'s buffer (freed with the blob), else NULL */
	unsigned char data[];
};

struct srv_blob *srv_blob_new(const void *data, size_t len)
{
	struct srv_blob *b;

	if (len > SIZE_MAX - sizeof(*b) || (b = malloc(sizeof(*b) + len)) == NULL)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	b->taken = NULL;
	if (len > 0)
		memcpy(b->data, data, len);
	return b;
}

struct srv_blob *srv_blob_take(void *data, size_t len)
{
	struct srv_blob *b = malloc(sizeof(*b));

	if (b == NULL) {
		free(data);
		return NULL;
	}
	atomic_init(&b->refs, 1);
	b->len = len;
	b->taken = data; /* transferred */
	return b;
}

struct srv_blob *srv_blob_ref(struct srv_blob *b)
{
	if (b != NULL)
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void srv_blob_unref(struct srv_blob *b)
{
	if (b == NULL || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(b->taken);
	free(b);
}

const unsigned char *srv_blob_data(const struct srv_blob *b)
{
	if (b == NULL)
		return NULL;
	return b->taken != NULL ? b->taken : b->data;
}

size_t srv_blob_len(const struct srv_blob *b)
{
	return b != NULL ? b->len : 0;
}

void srv_reply_clear(struct srv_reply *r)
{
	srv_blob_unref(r->body);
	memset(r, 0, sizeof(*r));
}
