/*
 * cmd-trust.h - shared by the files of p11ca trust (cmd-trust*.c): a
 * bundle's certificates and embedded CRLs as read, and the readers.
 */
#ifndef P11CA_CMD_TRUST_H
#define P11CA_CMD_TRUST_H

#include <stddef.h>
#include <openssl/x509.h>

#include "pki.h"
#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
/* Files larger than this are refused (a bundle is a few hundred KiB). */
#define MAX_FILE_SIZE (64L * 1024 * 1024)
#define FP_LEN        32 /* SHA-256 */

/* One certificate of a bundle or an input file. */
struct tcert {
	X509 *x;
	char fphex[2 * FP_LEN + 1]; /* SHA-256, lowercase, no colons */
	char fp[3 * FP_LEN];        /* AB:CD:... as `openssl x509 -fingerprint` */
	char *subject;              /* "/C=../CN=.." (pki_name_oneline) */
	size_t end;                 /* bundle: offset just past its END line */
	int drop;                   /* remove: this one goes */
};

/* One X509 CRL block of a bundle: where its bytes are, and the CRL. */
struct tcrl {
	size_t start, end; /* [start, end): BEGIN line to past the END line's newline */
	X509_CRL *crl;
};

struct certs {
	struct tcert *v;
	size_t n, cap;
	unsigned char *raw; /* the file's bytes */
	size_t rawlen;
	struct tcrl *crls; /* bundle: its X509 CRL blocks, in order */
	size_t ncrls;
};

#define CRL_BEGIN "-----BEGIN X509 CRL-----"
#define CRL_END   "-----END X509 CRL-----"

/* A CRL's number as hex ("none"), its dates, whether expired at @now. */
struct crl_desc {
	char issuer[1024], number[PKI_SERIAL_MAX], this_update[PKI_TIME_ISO_MAX],
	    next_update[PKI_TIME_ISO_MAX];
	int has_next, expired, entries;
};

/* A CRL given to trust add: the CRL, and its file for messages. */
struct newcrl {
	X509_CRL *crl;
	const char *file;
};

void trust_certs_free(struct certs *cs);
/* A name as "/C=../CN=.." (pki_name_oneline); malloc'ed, NULL when out of memory. */
char *trust_name_str(const X509_NAME *name);
/* Appends @x (taking it) to @cs; returns 0 when out of memory (and frees @x). */
int trust_certs_push(struct certs *cs, X509 *x, size_t end);
/* Reads @path whole into @cs->raw (missing: empty when @missing_ok); reports. */
int trust_read_file(const char *path, struct certs *cs, int missing_ok, int *missing);
/* The X509 CRL blocks of @cs->raw into @cs->crls; reports. */
int trust_scan_crls(const char *path, struct certs *cs);
/* A bundle: PEM certificates and CRLs, or empty; reports. */
int trust_load_bundle(const char *path, struct certs *cs, int missing_ok, int *missing);
/* An input file: PEM (one or more certificates) or one DER certificate; reports. */
int trust_load_input(const char *path, struct certs *cs);
/* notAfter as YYYY-MM-DDTHH:MM:SSZ; whether it has passed in *@expired. */
void trust_not_after(const X509 *x, char *out, size_t cap, int *expired);
/* Plain-text one-line summary of a certificate. */
int trust_print_line(const struct tcert *t);
void trust_crl_describe(X509_CRL *crl, struct crl_desc *d);
/* Appends the CRL blocks of @cs lying inside [@from, @to) to @buf (at *@len). */
void trust_keep_crls(const struct certs *cs, size_t from, size_t to, unsigned char *buf,
                     size_t *len);
/* @path as a CRL file: 1 (*pcrl set), 0 (not a CRL), -1 (reported). */
int trust_input_crl(const char *path, X509_CRL **pcrl);
/*
 * @nc against @bundle: signed by a CA of it; marks (@dropcrl) the older CRLs
 * of that CA.  1: add it, 0: the same is there, -1: refused (reported).
 */
int trust_crl_fits(struct certs *bundle, int *dropcrl, const struct newcrl *nc);

#endif
