/* core.c - placeholder: its owner replaces it. */
#include "config.h"

#include "core.h"
#include "result.h"

int srv_core_new(const struct srv_opts *o, struct srv_core **pc)
{
	(void)o;
	*pc = NULL;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
int srv_core_reload(struct srv_core *c)
{
	(void)c;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
void srv_core_free(struct srv_core *c)
{
	(void)c;
}
int srv_core_ocsp(struct srv_core *c, const unsigned char *req, size_t len, int get,
                  struct srv_reply *out)
{
	(void)c;
	(void)req;
	(void)len;
	(void)get;
	(void)out;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
int srv_core_get(struct srv_core *c, const char *path, size_t len, struct srv_reply *out)
{
	(void)c;
	(void)path;
	(void)len;
	(void)out;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
int srv_core_health(struct srv_core *c, struct srv_reply *out)
{
	(void)c;
	(void)out;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
int srv_core_metrics(struct srv_core *c, char **pbuf, size_t *plen, size_t *pcap)
{
	(void)c;
	(void)pbuf;
	(void)plen;
	(void)pcap;
	return RES_OK;
}
