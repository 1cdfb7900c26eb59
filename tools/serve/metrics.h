/*
 * metrics.h - the HTTP layer's counters for /metrics (tools/serve/, prefix
 * srv_counters_): requests by kind and result and the latency histogram, as a fixed table of
 * atomics that the HTTP threads add to without a lock.  Internal to tools/serve/ (http.c).
 */
#ifndef P11CA_SRV_METRICS_H
#define P11CA_SRV_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_NKINDS   5  /* ocsp, crl, health, metrics, other */
#define SRV_NRESULTS 17 /* reply.h's results, "other" last for the rest */
#define SRV_NBUCKETS 8  /* 0.0005 .. 1 s, and +Inf after them */

struct srv_counters {
	atomic_uint_fast64_t req[SRV_NKINDS][SRV_NRESULTS];
	atomic_uint_fast64_t bucket[SRV_NBUCKETS + 1]; /* not cumulative */
	atomic_uint_fast64_t sum_ns;
};

/* One request answered: @kind and @result as in struct srv_reply (unknown: "other"). */
void srv_counters_add(struct srv_counters *n, const char *kind, const char *result, uint64_t ns);
/*
 * Appends the counters in Prometheus text format to *pbuf (malloc'ed,
 * *plen bytes used of *pcap, NUL-terminated): p11ca_serve_requests_total
 * {kind,result} (those above 0) and p11ca_serve_request_seconds (a
 * histogram); the core adds the rest (p11ca_serve_live_signatures_total
 * among them: it knows which live signatures were made).  RES_NOMEM (*pbuf stays the
 * caller's).
 */
int srv_counters_text(struct srv_counters *n, char **pbuf, size_t *plen, size_t *pcap);

#endif
