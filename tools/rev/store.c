/* store.c - placeholder (its owner replaces it): see store.h. */
#include "config.h"
#include <string.h>
#include "store.h"
#include "result.h"

#define STUB(name) return res_set(RES_UNSUPPORTED, "%s: not built yet", name)
void rev_crl_info_clear(struct rev_crl_info *info)
{
	memset(info, 0, sizeof(*info));
}
int rev_store_open(const char *dir, int create, struct rev_store **ps)
{
	(void)dir, (void)create, (void)ps;
	STUB("rev_store_open");
}
void rev_store_close(struct rev_store *s)
{
	(void)s;
}
int rev_store_put(struct rev_store *s, const unsigned char *der, size_t len,
                  const struct rev_put_opts *opts, struct rev_crl_info *pinfo)
{
	(void)s, (void)der, (void)len, (void)opts, (void)pinfo;
	STUB("rev_store_put");
}
void rev_crl_answer_clear(struct rev_crl_answer *a)
{
	memset(a, 0, sizeof(*a));
}
int rev_store_lookup(struct rev_store *s, X509 *cert, X509 *issuer, int64_t at, int use_both,
                     struct rev_crl_answer *a)
{
	(void)s, (void)cert, (void)issuer, (void)at, (void)use_both, (void)a;
	STUB("rev_store_lookup");
}
int rev_store_foreach(struct rev_store *s, int (*cb)(void *ctx, const struct rev_crl_info *info),
                      void *ctx)
{
	(void)s, (void)cb, (void)ctx;
	STUB("rev_store_foreach");
}
int rev_store_get(struct rev_store *s, const char *id, struct rev_crl_info *pinfo,
                  unsigned char **pder, size_t *plen)
{
	(void)s, (void)id, (void)pinfo, (void)pder, (void)plen;
	STUB("rev_store_get");
}
int rev_store_remove(struct rev_store *s, const char *id)
{
	(void)s, (void)id;
	STUB("rev_store_remove");
}
int rev_store_find_source(struct rev_store *s, const char *url, struct rev_crl_info *pinfo)
{
	(void)s, (void)url, (void)pinfo;
	STUB("rev_store_find_source");
}
int rev_store_find(struct rev_store *s, X509 *issuer, enum rev_origin origin,
                   struct rev_crl_info *pinfo)
{
	(void)s, (void)issuer, (void)origin, (void)pinfo;
	STUB("rev_store_find");
}
