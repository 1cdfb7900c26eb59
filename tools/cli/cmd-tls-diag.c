/*
 * cmd-tls-diag.c - p11ca tls probe: what is wrong with a peer, in words,
 * a line each: the name (and the nearest one the certificate has), an IP
 * peer address where the certificate names FQDNs, the chain (incomplete:
 * which issuer; untrusted; expired), revocation from the verdict, an RSA key
 * too big for SIP TLS, the EKU mutual TLS needs, the server refusing our
 * client certificate.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "cmd-cert.h"
#include "cmd-tls.h"
#include "result.h"

void tls_diag_add(struct tls_probe *p, const char *code, const char *fmt, ...)
{
	struct tls_diag *d;
	va_list ap;

	if (p->ndiags >= TLS_MAX_DIAGS)
		return;
	d = &p->diags[p->ndiags++];
	d->code = code;
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof(d->text), fmt, ap);
	va_end(ap);
}

static int is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int tolower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Levenshtein distance, case-insensitive (names up to 253 octets). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, *row, prev, tmp, best;

	if (la > 255 || lb > 255)
		return (size_t)-1;
	if ((row = calloc(lb + 1, sizeof(*row))) == NULL)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			best = prev + (tolower_ascii(a[i - 1]) != tolower_ascii(b[j - 1]));
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	best = row[lb];
	free(row);
	return best;
}

/*
 * The names @x carries for a peer: DNS SANs and, as TLS verify mode reads
 * them, the CN (not an IP), into @names; *@nip counts the IP SANs.
 */
static size_t cert_names(X509 *x, char names[][256], size_t cap, size_t *nip)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	const X509_NAME *subj = X509_get_subject_name(x);
	size_t n = 0;
	int i = -1;

	*nip = 0;
	for (int k = 0; k < sk_GENERAL_NAME_num(gens); k++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
		if (g->type == GEN_IPADD)
			(*nip)++;
		if (g->type != GEN_DNS || n >= cap)
			continue;
		snprintf(names[n++], 256, "%.*s", ASN1_STRING_length(g->d.dNSName),
		         (const char *)ASN1_STRING_get0_data(g->d.dNSName));
	}
	GENERAL_NAMES_free(gens);
	while (n < cap && (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0) {
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		unsigned char *u = NULL;
		int len = ASN1_STRING_to_UTF8(&u, s);
		size_t k;
		for (k = 0; len > 0 && k < n; k++)
			if (strncasecmp(names[k], (char *)u, (size_t)len) == 0 &&
			    names[k][len] == '\0')
				break;
		if (len > 0 && k == n && !is_ip((char *)u))
			snprintf(names[n++], 256, "%.*s", len, (char *)u);
		OPENSSL_free(u);
	}
	return n;
}

static void check_name(struct tls_probe *p, X509 *leaf)
{
	char names[16][256], list[768] = "";
	size_t n, nip, i, d, best = (size_t)-1, at = 0;
	const char *nearest = NULL;

	if (is_ip(p->peer_name)) {
		if (X509_check_ip_asc(leaf, p->peer_name, 0) == 1)
			return;
		n = cert_names(leaf, names, 16, &nip);
		for (i = 0; i < n && at < sizeof(list); i++)
			at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "",
			                       names[i]);
		if (n > 0)
			tls_diag_add(
			    p, "ip-peer",
			    "the peer address %s is an IP address, but the certificate names "
			    "FQDNs (%s): TLS verify mode checks the peer address against CN/SAN; "
			    "address the peer by its FQDN (or --name FQDN)",
			    p->peer_name, list);
		else
			tls_diag_add(p, "name-mismatch",
			             "the IP address %s is not in the certificate's SAN",
			             p->peer_name);
		return;
	}
	if (X509_check_host(leaf, p->peer_name, 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1)
		return;
	n = cert_names(leaf, names, 16, &nip);
	for (i = 0; i < n; i++) {
		d = edit_distance(p->peer_name, names[i]);
		if (d < best) {
			best = d;
			nearest = names[i];
		}
	}
	if (nearest != NULL)
		tls_diag_add(p, "name-mismatch",
		             "name %s is not in the certificate's CN or SAN (nearest: %s)",
		             p->peer_name, nearest);
	else
		tls_diag_add(p, "name-mismatch",
		             "name %s is not in the certificate's CN or SAN (it names no DNS name)",
		             p->peer_name);
}

/* The EKU bits of @x: 1 when it may serve the purpose (no EKU: any). */
static int eku_allows(X509 *x, uint32_t bit)
{
	if (!(X509_get_extension_flags(x) & EXFLAG_XKUSAGE))
		return 1;
	return (X509_get_extended_key_usage(x) & bit) != 0;
}

static void oneline(const X509_NAME *n, char *out, size_t cap)
{
	char *s = NULL;

	if (pki_name_oneline(n, &s) == RES_OK)
		snprintf(out, cap, "%s", s);
	else
		snprintf(out, cap, "?");
	free(s);
}

static void check_chain(struct tls_probe *p)
{
	const struct pki_chain_result *c = p->verdict->chain;
	const unsigned skip = PKI_E_NAME | PKI_E_PURPOSE | PKI_E_NOT_YET_VALID | PKI_E_EXPIRED |
	                      PKI_E_NO_ISSUER | PKI_E_UNTRUSTED_ROOT;
	char subj[512], iss[512], when[PKI_TIME_ISO_MAX];
	unsigned other, bit;
	size_t i;
	int untrusted_said = 0;

	for (i = 0; i < c->n; i++) {
		const struct pki_chain_elem *e = &c->elems[i];
		oneline(X509_get_subject_name(e->cert), subj, sizeof(subj));
		if (e->flags & PKI_E_EXPIRED) {
			pki_time_iso(pki_asn1_time_get(X509_get0_notAfter(e->cert)), when);
			tls_diag_add(p, "expired", "certificate [%zu] %s expired on %s", i, subj,
			             when);
		}
		if (e->flags & PKI_E_NOT_YET_VALID) {
			pki_time_iso(pki_asn1_time_get(X509_get0_notBefore(e->cert)), when);
			tls_diag_add(p, "not-yet-valid",
			             "certificate [%zu] %s is not valid before %s", i, subj, when);
		}
		if (e->flags & PKI_E_NO_ISSUER) {
			oneline(X509_get_issuer_name(e->cert), iss, sizeof(iss));
			tls_diag_add(
			    p, "chain-incomplete",
			    "chain incomplete: the issuer of [%zu] %s is missing: %s (the peer "
			    "did not send it and the trust bundle %s does not hold it)",
			    i, subj, iss, p->trust);
		}
		if ((e->flags & PKI_E_UNTRUSTED_ROOT) && !untrusted_said) {
			untrusted_said = 1;
			tls_diag_add(p, "untrusted",
			             "untrusted: the chain ends at %s, which is not in the trust "
			             "bundle %s",
			             subj, p->trust);
		}
		other = e->flags & ~skip;
		for (bit = 1; other != 0 && bit != 0; bit <<= 1)
			if (other & bit) {
				tls_diag_add(p, "chain", "certificate [%zu] %s: %s%s%s%s", i, subj,
				             pki_elem_flag_name(bit), e->x509_error ? " (" : "",
				             e->x509_error
				                 ? X509_verify_cert_error_string(e->x509_error)
				                 : "",
				             e->x509_error ? ")" : "");
				other &= ~bit;
			}
	}
	if (!c->ok && c->n > 0 && !c->elems[c->n - 1].trusted && !untrusted_said) {
		for (i = 0; i < c->n; i++)
			if (c->elems[i].flags & PKI_E_NO_ISSUER)
				return;
		oneline(X509_get_subject_name(c->elems[c->n - 1].cert), subj, sizeof(subj));
		tls_diag_add(p, "untrusted",
		             "untrusted: the chain ends at %s, which is not in the trust bundle %s",
		             subj, p->trust);
	}
}

static void check_revocation(struct tls_probe *p)
{
	const struct rev_report *v = p->verdict;
	char subj[512], when[PKI_TIME_ISO_MAX];
	size_t i;

	for (i = 0; i < v->chain->n; i++) {
		const struct rev_elem_report *e = &v->elems[i];
		const char *reason;
		oneline(X509_get_subject_name(v->chain->elems[i].cert), subj, sizeof(subj));
		if (e->state == REV_STATE_REVOKED) {
			reason = e->reason >= 0 ? ca_reason_name(e->reason) : NULL;
			pki_time_iso(e->revoked_at, when);
			tls_diag_add(
			    p, "revoked", "revoked: certificate [%zu] %s%s%s%s%s%s%s%s%s", i, subj,
			    e->expired_crl ? " counts as revoked (its CA's CRL has expired)"
			                   : " is revoked",
			    reason != NULL ? " (" : "", reason != NULL ? reason : "",
			    reason != NULL ? ")" : "", e->revoked_at > 0 ? " on " : "",
			    e->revoked_at > 0 ? when : "", e->decided_by != NULL ? "; " : "",
			    e->decided_by != NULL ? e->decided_by : "");
		} else if (e->state == REV_STATE_UNDETERMINED && p->fallback_revoked)
			tls_diag_add(
			    p, "revocation-undetermined",
			    "revocation of certificate [%zu] %s could not be determined and "
			    "--fallback revoked fails it",
			    i, subj);
	}
}

static void check_keys(struct tls_probe *p)
{
	STACK_OF(X509) *peer = p->res->peer;
	char subj[512];
	int i;

	for (i = 0; i < sk_X509_num(peer); i++) {
		EVP_PKEY *k = X509_get0_pubkey(sk_X509_value(peer, i));
		if (k == NULL || !EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_get_bits(k) <= RSA_MAX_BITS)
			continue;
		oneline(X509_get_subject_name(sk_X509_value(peer, i)), subj, sizeof(subj));
		tls_diag_add(
		    p, "rsa-key-size",
		    "certificate [%d] %s has an RSA key of %d bits: SIP TLS peers fail with "
		    "RSA keys over %d bits",
		    i, subj, EVP_PKEY_get_bits(k), RSA_MAX_BITS);
	}
}

static void check_client_side(struct tls_probe *p)
{
	const struct rev_probe_result *r = p->res;

	if (p->own_cert != NULL && !eku_allows(p->own_cert, XKU_SSL_CLIENT))
		tls_diag_add(p, "own-no-client-auth",
		             "our client certificate (--cert) has no clientAuth EKU: a peer in TLS "
		             "verify mode refuses it");
	if (r->cert_sent && r->alert >= 0 && (r->alert_after || !r->handshake_ok))
		tls_diag_add(p, "client-cert-refused",
		             "the server refused our client certificate (alert '%s'%s)",
		             r->alert_text, r->alert_after ? " after the handshake" : "");
	else if (r->cert_requested && !r->cert_sent && r->alert >= 0)
		tls_diag_add(
		    p, "client-cert-required",
		    "the server requires a client certificate and we sent none (alert '%s'; "
		    "give --key and --cert)",
		    r->alert_text);
	else if (!r->handshake_ok)
		tls_diag_add(p, "handshake", "the TLS handshake failed: %s", r->error);
}

void tls_diagnose(struct tls_probe *p)
{
	X509 *leaf = sk_X509_num(p->res->peer) > 0 ? sk_X509_value(p->res->peer, 0) : NULL;

	check_client_side(p);
	if (leaf == NULL) {
		if (p->res->handshake_ok)
			tls_diag_add(p, "no-certificate", "the peer sent no certificate");
	} else {
		check_name(p, leaf);
		if (p->verdict != NULL) {
			check_chain(p);
			check_revocation(p);
		} else
			tls_diag_add(p, "verdict", "the chain could not be checked: %s",
			             p->verdict_error);
		check_keys(p);
		if (!eku_allows(leaf, XKU_SSL_SERVER))
			tls_diag_add(p, "no-server-auth",
			             "the peer's certificate has no serverAuth EKU");
		if (p->mutual && !eku_allows(leaf, XKU_SSL_CLIENT))
			tls_diag_add(
			    p, "no-client-auth",
			    "the peer's certificate has no clientAuth EKU: in TLS verify mode "
			    "(mutual TLS) a neighbour's certificate must carry serverAuth and "
			    "clientAuth");
	}
	if (p->ndiags == 0 && p->verdict != NULL && !p->verdict->fit)
		tls_diag_add(p, "verdict", "the verdict says not fit");
	p->fit = p->ndiags == 0 && p->res->handshake_ok && p->verdict != NULL && p->verdict->fit;
}
