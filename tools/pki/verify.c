/*
 * verify.c - chain building and checking with a result per element
 * (pki.h).  OpenSSL builds and verifies the chain in the caller's library
 * context; a verify callback records every error at the element it
 * concerns and lets verification go on, so that one run reports all that is
 * wrong.  Then the checks OpenSSL leaves to the application: weak keys and
 * digests, the leaf's EKU and host name.  Revocation is not looked at here:
 * those fields stay PKI_REV_UNCHECKED for the revocation checker.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "result.h"

#define RSA_MIN_BITS 2048

/* What the callback collects: flags and OpenSSL's first error per depth. */
struct collect {
	unsigned *flags;
	int *errs;
	size_t n;
	int oom;
};

static unsigned flag_of(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_CRL_NOT_YET_VALID: return PKI_E_NOT_YET_VALID;
	case X509_V_ERR_CERT_HAS_EXPIRED: return PKI_E_EXPIRED;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: return PKI_E_BAD_SIGNATURE;
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN: return PKI_E_NOT_CA;
	case X509_V_ERR_PATH_LENGTH_EXCEEDED: return PKI_E_PATHLEN;
	case X509_V_ERR_CA_KEY_TOO_SMALL:
	case X509_V_ERR_EE_KEY_TOO_SMALL: return PKI_E_WEAK_KEY;
	case X509_V_ERR_CA_MD_TOO_WEAK: return PKI_E_WEAK_DIGEST;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return PKI_E_NO_ISSUER;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED: return PKI_E_UNTRUSTED_ROOT;
	case X509_V_ERR_INVALID_PURPOSE: return PKI_E_PURPOSE;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH: return PKI_E_NAME;
	default: return PKI_E_OTHER;
	}
}

static int grow(struct collect *c, size_t depth)
{
	unsigned *nf;
	int *ne;
	size_t n = depth + 1;

	if (depth < c->n)
		return 1;
	if ((nf = realloc(c->flags, n * sizeof(*nf))) == NULL)
		return 0;
	c->flags = nf;
	if ((ne = realloc(c->errs, n * sizeof(*ne))) == NULL)
		return 0;
	c->errs = ne;
	memset(c->flags + c->n, 0, (n - c->n) * sizeof(*nf));
	memset(c->errs + c->n, 0, (n - c->n) * sizeof(*ne));
	c->n = n;
	return 1;
}

static int record(struct collect *c, size_t depth, int err)
{
	if (!grow(c, depth)) {
		c->oom = 1;
		return 0;
	}
	c->flags[depth] |= flag_of(err);
	if (c->errs[depth] == 0)
		c->errs[depth] = err;
	return 1;
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	struct collect *c = X509_STORE_CTX_get_app_data(ctx);
	int err = X509_STORE_CTX_get_error(ctx), depth = X509_STORE_CTX_get_error_depth(ctx);

	if (ok || c == NULL)
		return ok;
	if (depth < 0)
		depth = 0;
	/* go on to collect the rest; stop only when the collection itself failed */
	return record(c, (size_t)depth, err);
}

/* RSA/DSA under 2048 bits; EC on a curve other than P-256/384/521. */
static int weak_key(X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	char group[64];
	size_t glen = 0;

	if (pk == NULL)
		return 0;
	if (EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS") || EVP_PKEY_is_a(pk, "DSA"))
		return EVP_PKEY_get_bits(pk) < RSA_MIN_BITS;
	if (EVP_PKEY_is_a(pk, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &glen) != 1)
			return 1;
		return strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0 &&
		       strcmp(group, "secp521r1") != 0;
	}
	return 0;
}

/* Signed with SHA-1 or MD5 (a self-signed anchor's own signature does not count). */
static int weak_digest(X509 *x)
{
	int mdnid = NID_undef;

	if (X509_get_signature_info(x, &mdnid, NULL, NULL, NULL) != 1) {
		ERR_clear_error();
		return 0;
	}
	return mdnid == NID_sha1 || mdnid == NID_md5 || mdnid == NID_md5_sha1;
}

/* RSA over PKI_RSA_MAX_BITS: SIP TLS peers fail with 8192-bit keys. */
static int large_key(X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);

	return pk != NULL && (EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS")) &&
	       EVP_PKEY_get_bits(pk) > PKI_RSA_MAX_BITS;
}

/* Whether @x has an IP address in its SAN. */
static int has_ip_san(X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int i, found = 0;

	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++)
		if (sk_GENERAL_NAME_value(gens, i)->type == GEN_IPADD)
			found = 1;
	GENERAL_NAMES_free(gens);
	return found;
}

static int in_set(STACK_OF(X509) * set, X509 *x)
{
	int i;

	for (i = 0; set != NULL && i < sk_X509_num(set); i++)
		if (X509_cmp(sk_X509_value(set, i), x) == 0)
			return 1;
	return 0;
}

void pki_chain_result_free(struct pki_chain_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		X509_free(r->elems[i].cert);
	free(r->elems);
	free(r);
}

/*
 * The leaf checks OpenSSL leaves to us: EKU and host name (no wildcard
 * matching; an IP address asked for where the leaf names none is said so).
 */
static void leaf_checks(struct pki_chain_elem *e, const struct pki_verify_opts *o)
{
	uint32_t xku = X509_get_extended_key_usage(e->cert); /* all bits without an EKU */
	int r;

	if ((o->want_server_auth && !(xku & XKU_SSL_SERVER)) ||
	    (o->want_client_auth && !(xku & XKU_SSL_CLIENT)))
		e->flags |= PKI_E_PURPOSE;
	if (o->host != NULL) {
		int ip = 1;

		r = X509_check_ip_asc(e->cert, o->host, 0);
		if (r == -2) { /* not an IP address: a DNS name */
			ip = 0;
			r = X509_check_host(e->cert, o->host, 0, X509_CHECK_FLAG_NO_WILDCARDS,
			                    NULL);
		}
		if (r != 1) {
			e->flags |= PKI_E_NAME;
			if (ip && !has_ip_san(e->cert))
				e->flags |= PKI_E_NAME_IP;
			if (e->x509_error == 0)
				e->x509_error = X509_V_ERR_HOSTNAME_MISMATCH;
		}
	}
	ERR_clear_error();
}

int pki_verify_chain(OSSL_LIB_CTX *libctx, X509 *leaf, STACK_OF(X509) * untrusted,
                     STACK_OF(X509) * trusted, const struct pki_verify_opts *opts,
                     struct pki_chain_result **presult)
{
	static const struct pki_verify_opts none = { 0 };
	const struct pki_verify_opts *o = opts != NULL ? opts : &none;
	X509_STORE *store = NULL;
	X509_STORE_CTX *vctx = NULL;
	STACK_OF(X509) *chain = NULL, *anchors = NULL;
	struct collect col = { 0 };
	struct pki_chain_result *r = NULL;
	unsigned partial_mask = PKI_E_NO_ISSUER | PKI_E_UNTRUSTED_ROOT;
	size_t i;
	int rc = RES_NOMEM, v, top_trusted;

	*presult = NULL;
	if (leaf == NULL)
		return res_set(RES_BAD_INPUT, "no certificate to verify");
	/* an empty trusted set is a set all the same: never the default paths */
	if ((anchors = trusted != NULL ? sk_X509_dup(trusted) : sk_X509_new_null()) == NULL)
		goto oom;
	if ((store = X509_STORE_new()) == NULL ||
	    (vctx = X509_STORE_CTX_new_ex(libctx, NULL)) == NULL)
		goto oom;
	if (X509_STORE_CTX_init(vctx, store, leaf, untrusted) != 1) {
		rc = res_ossl(RES_CRYPTO, "setting up the chain check");
		goto out;
	}
	X509_STORE_CTX_set0_trusted_stack(vctx, anchors);
	X509_STORE_CTX_set_verify_cb(vctx, verify_cb);
	if (X509_STORE_CTX_set_app_data(vctx, &col) != 1)
		goto oom;
	if (o->at != 0)
		X509_STORE_CTX_set_time(vctx, 0, (time_t)o->at);
	if (o->allow_partial)
		X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_PARTIAL_CHAIN);
	if (o->purpose != 0 && X509_STORE_CTX_set_purpose(vctx, o->purpose) != 1) {
		rc = res_ossl(RES_BAD_INPUT, "purpose %d", o->purpose);
		goto out;
	}
	v = X509_verify_cert(vctx);
	if (col.oom)
		goto oom;
	if (v < 0 || (v == 0 && col.n == 0)) {
		/* not a verdict on the chain: the check itself failed */
		rc = res_ossl(RES_CRYPTO, "verifying the chain (%s)",
		              X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
		goto out;
	}
	ERR_clear_error();
	/* the chain as built; at least the leaf */
	if ((chain = X509_STORE_CTX_get1_chain(vctx)) == NULL) {
		if ((chain = sk_X509_new_null()) == NULL || !X509_up_ref(leaf) ||
		    !sk_X509_push(chain, leaf))
			goto oom;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->elems = calloc((size_t)sk_X509_num(chain) + 1, sizeof(*r->elems))) == NULL)
		goto oom;
	for (i = 0; i < (size_t)sk_X509_num(chain); i++) {
		struct pki_chain_elem *e = &r->elems[i];

		e->cert = sk_X509_value(chain, (int)i);
		e->trusted = in_set(trusted, e->cert);
		e->rev_status = PKI_REV_UNCHECKED;
		e->rev_reason = -1;
		if (i < col.n) {
			e->flags = col.flags[i];
			e->x509_error = col.errs[i];
		}
		if (weak_key(e->cert))
			e->flags |= PKI_E_WEAK_KEY;
		if (large_key(e->cert))
			e->flags |= PKI_E_KEY_LARGE;
		if (weak_digest(e->cert) &&
		    !(e->trusted && X509_check_issued(e->cert, e->cert) == X509_V_OK))
			e->flags |= PKI_E_WEAK_DIGEST;
	}
	r->n = (size_t)sk_X509_num(chain);
	/* the chain now belongs to the result, element by element */
	while (sk_X509_num(chain) > 0)
		(void)sk_X509_shift(chain);
	/* errors OpenSSL gave at a depth past the chain: the top element */
	for (i = r->n; i < col.n; i++) {
		r->elems[r->n - 1].flags |= col.flags[i];
		if (r->elems[r->n - 1].x509_error == 0)
			r->elems[r->n - 1].x509_error = col.errs[i];
	}
	leaf_checks(&r->elems[0], o);
	top_trusted = r->elems[r->n - 1].trusted;
	r->ok = top_trusted || o->allow_partial;
	for (i = 0; i < r->n; i++)
		if (r->elems[i].flags & ~(PKI_E_WARNINGS | (o->allow_partial ? partial_mask : 0u)))
			r->ok = 0;
	*presult = r;
	r = NULL;
	rc = RES_OK;
	goto out;
oom:
	rc = res_set(RES_NOMEM, "out of memory");
out:
	pki_chain_result_free(r);
	sk_X509_pop_free(chain, X509_free);
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	sk_X509_free(anchors);
	free(col.flags);
	free(col.errs);
	return rc;
}

const char *pki_elem_flag_name(unsigned flag)
{
	switch (flag) {
	case PKI_E_NOT_YET_VALID: return "not yet valid";
	case PKI_E_EXPIRED: return "expired";
	case PKI_E_BAD_SIGNATURE: return "bad signature";
	case PKI_E_NOT_CA: return "issuer is not a CA";
	case PKI_E_PATHLEN: return "path length exceeded";
	case PKI_E_WEAK_KEY: return "weak key";
	case PKI_E_WEAK_DIGEST: return "weak signature digest";
	case PKI_E_NO_ISSUER: return "issuer not found";
	case PKI_E_UNTRUSTED_ROOT: return "untrusted root";
	case PKI_E_PURPOSE: return "purpose not allowed";
	case PKI_E_NAME: return "name mismatch";
	case PKI_E_NAME_IP: return "IP address asked for, the certificate names none";
	case PKI_E_KEY_LARGE: return "RSA key over 4096 bits";
	case PKI_E_OTHER: return "other error";
	default: return "unknown";
	}
}
