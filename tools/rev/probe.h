/*
 * probe.h - a TLS client handshake with a peer, bounded in time (prefix
 * rev_probe_): what 'p11ca tls probe' shows and judges.  A TCP connection
 * (non-blocking connect, poll), a TLS 1.2/1.3 handshake in the caller's
 * library context (a client key on the token works through the p11ca
 * provider), SNI, a stapled OCSP response asked for (status_request).
 * Nothing is verified here: the handshake accepts any peer certificate and
 * hands the chain back for the verdict (check.h).  Part of tools/rev/.
 *
 * Results follow tools/common/result.h.  No printing, no process-wide state.
 */
#ifndef P11CA_REV_PROBE_H
#define P11CA_REV_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct rev_probe_opts {
	const char *host;              /* DNS name or IP literal to connect to */
	const char *port;              /* service or number */
	const char *servername;        /* SNI, NULL: none */
	X509 *client_cert;             /* mutual TLS: our certificate (read only), NULL: none */
	EVP_PKEY *client_key;          /* its key (a token key through the provider) */
	STACK_OF(X509) * client_chain; /* intermediates sent with it, may be NULL */
	long timeout_ms;               /* the whole probe: connect, handshake, wait for an
	                                  alert (0: 10 s) */
	long alert_wait_ms;            /* after a TLS 1.3 handshake with our certificate, how long
	                                  to wait for the server's verdict on it (0: 1 s) */
};

struct rev_probe_result {
	char address[64];      /* the address connected to, "a.b.c.d" or "x:y::z" */
	int handshake_ok;      /* the handshake finished */
	char error[256];       /* why not, one line */
	char protocol[32];     /* "TLSv1.3" */
	char cipher[64];       /* "TLS_AES_256_GCM_SHA384" */
	STACK_OF(X509) * peer; /* what the peer sent, leaf first (owned; may be NULL) */
	unsigned char *ocsp;   /* a stapled OCSP response (DER, owned), NULL: none */
	size_t ocsp_len;
	int cert_requested;  /* the server asked for a client certificate */
	int cert_sent;       /* and we sent one */
	int alert;           /* the last alert the peer sent (TLS AlertDescription), -1 none */
	int alert_after;     /* it came after the handshake had finished */
	char alert_text[64]; /* its name, "bad certificate" */
	int closed_after;    /* the peer closed the connection after the handshake */
};

/*
 * Connects and shakes hands.  RES_OK with *pres (the caller's,
 * rev_probe_result_free) whenever a TCP connection was made, also when the
 * handshake failed (then handshake_ok == 0 and error says why);
 * RES_NETWORK when no connection could be made (refused, unreachable,
 * timed out, the name not resolved) or the handshake timed out; RES_BAD_INPUT
 * for a bad client key or certificate.
 */
int rev_probe_run(OSSL_LIB_CTX *libctx, const struct rev_probe_opts *o,
                  struct rev_probe_result **pres);
void rev_probe_result_free(struct rev_probe_result *r);

#endif
