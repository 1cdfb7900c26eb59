/*
 * cmd-tls.h - what 'p11ca tls probe' shares between its parts (prefix
 * tls_): cmd-tls-probe.c (options, the handshake, the verdict),
 * cmd-tls-diag.c (the diagnoses in words), cmd-tls-out.c (text and JSON).
 */
#ifndef P11CA_CMD_TLS_H
#define P11CA_CMD_TLS_H

#include <openssl/x509.h>

#include "check.h"
#include "probe.h"
#include "tool.h"

#define TLS_MAX_DIAGS 32

/* One diagnosis: a short code for --json and tests, a line in words. */
struct tls_diag {
	const char *code; /* "name-mismatch", "ip-peer", "chain-incomplete", ... */
	char text[768];
};

/* Everything one probe found. */
struct tls_probe {
	const char *target; /* HOST:PORT as given */
	const char *host, *port;
	const char *peer_name;  /* the name the certificate must carry */
	const char *servername; /* SNI sent, NULL none */
	const char *trust;      /* the trust bundle's path */
	int mutual;             /* a client certificate was offered */
	int fallback_revoked;   /* --fallback revoked: an undetermined element fails */
	X509 *own_cert;         /* ours (--cert), NULL none */
	struct rev_probe_result *res;
	struct rev_report *verdict; /* NULL: the verdict could not run */
	char verdict_error[256];
	struct tls_diag diags[TLS_MAX_DIAGS];
	size_t ndiags;
	int fit;
};

/* Fills p->diags and p->fit from what the probe and the verdict found. */
void tls_diagnose(struct tls_probe *p);
/* Adds one diagnosis (printf-style text). */
void tls_diag_add(struct tls_probe *p, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The output: text or JSON (TOOL_EXIT_FAIL when it cannot be written). */
int tls_print_text(const struct tls_probe *p);
int tls_print_json(const struct tls_probe *p);

int tool_tls_probe(int argc, char **argv);

#endif
