/* codec.c - placeholder: its owner replaces it. */
#include "config.h"

#include "codec.h"
#include "result.h"

int srv_ocsp_req_parse(const unsigned char *der, size_t len, struct srv_ocsp_req *r)
{
	(void)der;
	(void)len;
	(void)r;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
int srv_ocsp_get_decode(const char *raw, size_t rawlen, unsigned char *out, size_t cap,
                        size_t *plen)
{
	(void)raw;
	(void)rawlen;
	(void)out;
	(void)cap;
	(void)plen;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
int srv_ocsp_issuer_hashes(X509 *ca, int md_nid, unsigned char *name_hash, unsigned char *key_hash,
                           size_t *plen)
{
	(void)ca;
	(void)md_nid;
	(void)name_hash;
	(void)key_hash;
	(void)plen;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
int srv_ocsp_sign(const struct srv_signer *sg, const struct srv_single *s, size_t n,
                  const unsigned char *nonce, size_t nonce_len, int64_t produced_at,
                  unsigned char **pder, size_t *plen)
{
	(void)sg;
	(void)s;
	(void)n;
	(void)nonce;
	(void)nonce_len;
	(void)produced_at;
	(void)pder;
	(void)plen;
	return res_set(RES_UNSUPPORTED, "not built yet");
}
const unsigned char *srv_ocsp_error(int status, size_t *plen)
{
	(void)status;
	*plen = 0;
	return NULL;
}
