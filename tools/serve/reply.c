/* reply.c - placeholder: its owner replaces it. */
#include "config.h"

#include "reply.h"
#include "result.h"

#include <stdlib.h>
struct srv_blob *srv_blob_new(const void *data, size_t len)
{
	(void)data;
	(void)len;
	return NULL;
}
struct srv_blob *srv_blob_take(void *data, size_t len)
{
	(void)len;
	free(data);
	return NULL;
}
struct srv_blob *srv_blob_ref(struct srv_blob *b)
{
	return b;
}
void srv_blob_unref(struct srv_blob *b)
{
	(void)b;
}
const unsigned char *srv_blob_data(const struct srv_blob *b)
{
	(void)b;
	return NULL;
}
size_t srv_blob_len(const struct srv_blob *b)
{
	(void)b;
	return 0;
}
void srv_reply_clear(struct srv_reply *r)
{
	(void)r;
}
