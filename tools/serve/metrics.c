/*
 * metrics.c - the HTTP layer's counters and their /metrics text (metrics.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "result.h"

static const char *const kinds[SRV_NKINDS] = { "ocsp", "crl", "health", "metrics", "other" };
static const char *const results[SRV_NRESULTS] = {
	"good",         "revoked",  "unknown",       "multi",     "malformedRequest",
	"unauthorized", "tryLater", "internalError", "crl",       "ok",
	"degraded",     "failing",  "notFound",      "badMethod", "tooLarge",
	"notModified",  "other",
};
/* the buckets' upper bounds in nanoseconds (Prometheus "le") */
static const uint64_t bucket_ns[SRV_NBUCKETS] = { 500000,   1000000,  2500000,   5000000,
	                                          10000000, 25000000, 100000000, 1000000000 };

static size_t index_of(const char *const *names, size_t n, const char *name)
{
	if (name == NULL)
		return n - 1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return n - 1;
}

void srv_counters_add(struct srv_counters *n, const char *kind, const char *result, uint64_t ns)
{
	size_t b = 0;

	atomic_fetch_add_explicit(
	    &n->req[index_of(kinds, SRV_NKINDS, kind)][index_of(results, SRV_NRESULTS, result)], 1,
	    memory_order_relaxed);
	while (b < SRV_NBUCKETS && ns > bucket_ns[b])
		b++;
	atomic_fetch_add_explicit(&n->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&n->sum_ns, ns, memory_order_relaxed);
}

/* printf onto a growing buffer; 0 when out of memory. */
static int put(char **pbuf, size_t *plen, size_t *pcap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char **pbuf, size_t *plen, size_t *pcap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = *pcap - *plen, cap;
		char *nb;

		va_start(ap, fmt);
		n = vsnprintf(*pbuf != NULL ? *pbuf + *plen : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return 0;
		if ((size_t)n < room) {
			*plen += (size_t)n;
			return 1;
		}
		cap = *pcap ? *pcap * 2 : 4096;
		while (cap - *plen <= (size_t)n)
			cap *= 2;
		if ((nb = realloc(*pbuf, cap)) == NULL)
			return 0;
		*pbuf = nb;
		*pcap = cap;
	}
}

int srv_counters_text(struct srv_counters *n, char **pbuf, size_t *plen, size_t *pcap)
{
	uint64_t cum = 0;
	int ok;

	ok = put(pbuf, plen, pcap,
	         "# HELP p11ca_serve_requests_total Requests answered, by kind and result.\n"
	         "# TYPE p11ca_serve_requests_total counter\n");
	for (size_t k = 0; ok && k < SRV_NKINDS; k++)
		for (size_t r = 0; ok && r < SRV_NRESULTS; r++) {
			uint64_t v = atomic_load_explicit(&n->req[k][r], memory_order_relaxed);

			if (v > 0)
				ok = put(
				    pbuf, plen, pcap,
				    "p11ca_serve_requests_total{kind=\"%s\",result=\"%s\"} %llu\n",
				    kinds[k], results[r], (unsigned long long)v);
		}
	ok = ok && put(pbuf, plen, pcap,
	               "# HELP p11ca_serve_request_seconds Time from the request line to the "
	               "reply queued.\n"
	               "# TYPE p11ca_serve_request_seconds histogram\n");
	for (size_t b = 0; ok && b <= SRV_NBUCKETS; b++) {
		cum += atomic_load_explicit(&n->bucket[b], memory_order_relaxed);
		if (b < SRV_NBUCKETS)
			ok = put(pbuf, plen, pcap,
			         "p11ca_serve_request_seconds_bucket{le=\"%g\"} %llu\n",
			         (double)bucket_ns[b] / 1e9, (unsigned long long)cum);
		else
			ok = put(pbuf, plen, pcap,
			         "p11ca_serve_request_seconds_bucket{le=\"+Inf\"} %llu\n",
			         (unsigned long long)cum);
	}
	ok = ok && put(pbuf, plen, pcap,
	               "p11ca_serve_request_seconds_sum %.6f\n"
	               "p11ca_serve_request_seconds_count %llu\n",
	               (double)atomic_load(&n->sum_ns) / 1e9, (unsigned long long)cum);
	return ok ? RES_OK : res_set(RES_NOMEM, "out of memory");
}
