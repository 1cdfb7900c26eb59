/* http.c - placeholder: its owner replaces it. */
#include "config.h"

#include "serve.h"
#include "core.h"
#include "result.h"

#include <stdlib.h>
void srv_opts_default(struct srv_opts *o)
{
	(void)o;
}
int srv_start(const struct srv_opts *o, struct srv **ps)
{
	(void)o;
	*ps = NULL;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
unsigned srv_port(const struct srv *s)
{
	(void)s;
	return 0;
}
int srv_reload(struct srv *s)
{
	(void)s;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
int srv_metrics_text(struct srv *s, char **ptext, size_t *plen)
{
	(void)s;
	(void)ptext;
	(void)plen;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
void srv_free(struct srv *s)
{
	(void)s;
}
