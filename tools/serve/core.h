/*
 * core.h - the CAs a server answers for (tools/serve/, prefix srv_core_):
 * each CA opened through ca.h, a snapshot of its records (serial -> status,
 * revocation, expiry) refreshed when the database changes
 * (cadb_data_version, polled), the pre-signed responses (cache.c) and the
 * CRL, kept signed by the signer threads (sign.c) within the budget.  The
 * request path (srv_core_ocsp, srv_core_get) takes only a read lock and
 * never waits for the token.
 *
 * Results follow tools/common/result.h.  Lines go to opts->event.
 */
#ifndef P11CA_SRV_CORE_H
#define P11CA_SRV_CORE_H

#include "serve.h"
#include "reply.h"

struct srv_core;

/*
 * Opens every CA of @o (o->dirs), loads D/serve/ (creating it, 0700) and
 * starts the poller and signer threads.  Lines of what happened go to
 * o->event.  *pc the caller's (srv_core_free).  @o and what it points to
 * must outlive *pc.
 */
int srv_core_new(const struct srv_opts *o, struct srv_core **pc);
/* SIGHUP: as srv_reload() says. */
int srv_core_reload(struct srv_core *c);
/* Stops the threads, stores the responses, closes the CAs. */
void srv_core_free(struct srv_core *c);

/*
 * An OCSP request's bytes (a POST body, or a GET path decoded by the
 * caller through srv_ocsp_get_decode) into @out: always RES_OK with a
 * reply (HTTP 200 with an OCSP response: successful, or malformedRequest,
 * unauthorized, tryLater, internalError), so that the caller only sends it.
 * @get: 1 when it came by GET (cacheable: Cache-Control, ETag,
 * Last-Modified per RFC 5019 6).
 */
int srv_core_ocsp(struct srv_core *c, const unsigned char *req, size_t len, int get,
                  struct srv_reply *out);
/*
 * A GET of @path (the raw path, query string cut off) that is not /metrics
 * or /health: a CRL at the path of one of a CA's distribution points
 * (ca.conf crl_url; a CA without one: /crl/NAME.crl, NAME its directory's
 * base name) with ETag, Last-Modified, max-age up to nextUpdate; or an
 * OCSP GET under a CA's OCSP path (the path of ca.conf's ocsp_url, "/" when
 * none) decoded and answered as srv_core_ocsp; or 404.  RES_OK with a reply.
 */
int srv_core_get(struct srv_core *c, const char *path, size_t len, struct srv_reply *out);
/*
 * /health: JSON {"status": "ok"|"degraded"|"failing", "token":
 * "available"|"unavailable"|"pin-locked", "cas": [{"name", "token",
 * "certificates" (unexpired), "responses" (valid, both CertID digests),
 * "stale", "queued", "cache_age" (seconds since the oldest valid
 * thisUpdate), "crl_number", "crl_this_update", "crl_next_update" (epoch
 * seconds), "signatures", "sign_failures", "message" (why the token is
 * away, "" none)}, ...]}: ok; degraded (a token unavailable, or responses
 * missing for some certificates, the stored ones still valid) with HTTP
 * 200; failing (a CA with certificates but no valid response, or no
 * unexpired CRL) with HTTP 503.
 */
int srv_core_health(struct srv_core *c, struct srv_reply *out);
/* Appends the core's metric lines (cache age, signatures made, token state, ...) to *buf. */
int srv_core_metrics(struct srv_core *c, char **pbuf, size_t *plen, size_t *pcap);

#endif
