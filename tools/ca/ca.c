/*
 * ca.c - a CA opened from its directory (ca.conf, its certificate, its
 * database, its key on the token), revocation and CRLs over the database.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "p11ca.h"
#include "readfile.h"
#include "result.h"

/* ca.conf and the CA certificate are small: anything larger is not one */
#define SMALL_FILE_MAX (1024 * 1024)

int ca_key_matches(EVP_PKEY *key, X509 *x)
{
	unsigned char *a = NULL, *b = NULL;
	int alen = i2d_PUBKEY(key, &a), blen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &b);
	int same = alen > 0 && alen == blen && memcmp(a, b, (size_t)alen) == 0;

	OPENSSL_free(a);
	OPENSSL_free(b);
	ERR_clear_error();
	return same;
}

int ca_cert_fits(EVP_PKEY *key, X509 *x)
{
	if (!ca_key_matches(key, x))
		return res_set(RES_POLICY,
		               "not the certificate of the CA key (another public key)");
	if (X509_check_ca(x) != 1 || !(X509_get_extension_flags(x) & EXFLAG_BCONS))
		return res_set(RES_POLICY, "not a CA certificate (basicConstraints CA:TRUE)");
	if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
		return res_set(RES_POLICY, "keyUsage lacks keyCertSign");
	return RES_OK;
}

int ca_md_ok(const char *md)
{
	if (strcasecmp(md, "sha256") == 0 || strcasecmp(md, "sha384") == 0 ||
	    strcasecmp(md, "sha512") == 0)
		return RES_OK;
	return res_set(RES_POLICY, "digest '%s' refused: sha256, sha384 or sha512", md);
}

static int load_conf(const char *dir, struct ca_conf *conf)
{
	unsigned char *text = NULL;
	size_t len = 0;
	char *path;
	int rc;

	if ((path = malloc(strlen(dir) + 16)) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	sprintf(path, "%s/ca.conf", dir);
	if ((rc = res_read_regular(path, SMALL_FILE_MAX, &text, &len)) != RES_OK) {
		if (rc == RES_NOT_FOUND)
			res_set(
			    rc,
			    "%s: cannot read it (is %s a CA directory made by 'p11ca ca init'?)",
			    path, dir);
	} else {
		rc = ca_conf_parse((const char *)text, len, dir, path, conf);
	}
	free(text);
	free(path);
	return rc;
}

/* Adds a line to ca->warnings; RES_NOMEM. */
static int add_warning(struct ca *ca, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add_warning(struct ca *ca, const char *fmt, ...)
{
	char buf[4200], **v;
	size_t n = 0;
	va_list ap;

	while (ca->warnings != NULL && ca->warnings[n] != NULL)
		n++;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((v = realloc(ca->warnings, (n + 2) * sizeof(*v))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	ca->warnings = v;
	if ((v[n] = strdup(buf)) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	v[n + 1] = NULL;
	return RES_OK;
}

/*
 * Who else can change the CA: a CA directory or ca.conf that its group or
 * everyone may write lets them swap the database, the certificate, or the
 * key URI and the URLs every certificate carries.
 */
static int check_modes(struct ca *ca, const char *dir)
{
	struct stat st;
	char *conf;
	int rc = RES_OK;

	if (stat(dir, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)))
		rc = add_warning(ca,
		                 "the CA directory %s is group or world writable (chmod go-w "
		                 "it): others can replace the CA's files",
		                 dir);
	if (rc != RES_OK || (conf = malloc(strlen(dir) + 16)) == NULL)
		return rc != RES_OK ? rc : res_set(RES_NOMEM, "out of memory");
	sprintf(conf, "%s/ca.conf", dir);
	if (stat(conf, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)))
		rc = add_warning(ca,
		                 "%s is group or world writable (chmod go-w it): others can "
		                 "change the CA's key, profile and URLs",
		                 conf);
	free(conf);
	return rc;
}

int ca_open(const char *dir, const struct ca_open_opts *o, struct ca **pca)
{
	struct ca *ca;
	unsigned char *buf = NULL;
	size_t len = 0;
	char shown[512];
	int rc;

	*pca = NULL;
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	if ((rc = load_conf(dir, &ca->conf)) != RES_OK || (rc = check_modes(ca, dir)) != RES_OK)
		goto fail;
	rc = res_read_regular(ca->conf.cert, SMALL_FILE_MAX, &buf, &len);
	if (rc == RES_OK) {
		if ((rc = pki_load_cert(buf, len, &ca->cert)) != RES_OK) {
			res_prefix(rc, "%s", ca->conf.cert);
			goto fail;
		}
	} else if (rc != RES_NOT_FOUND) {
		goto fail;
	} else if (o->need_cert) {
		rc =
		    res_set(RES_NOT_FOUND,
		            "%s: no CA certificate yet (a sub-CA gets it with 'p11ca ca set-cert')",
		            ca->conf.cert);
		goto fail;
	}
	if ((rc = cadb_open(ca->conf.db, &ca->db)) != RES_OK)
		goto fail;
	if (o->need_key) {
		const char *module = o->module != NULL         ? o->module
		                     : ca->conf.module != NULL ? ca->conf.module
		                                               : o->module_fallback;
		if ((rc = pki_libctx_new(module, o->pin_file, &ca->libctx)) != RES_OK)
			goto fail;
		if ((rc = pki_load_key(ca->libctx, ca->conf.key, &ca->key)) != RES_OK)
			goto fail;
		if (ca->cert != NULL && !ca_key_matches(ca->key, ca->cert)) {
			rc = res_set(RES_POLICY, "the CA key %s is not the key of %s",
			             p11ca_uri_redact(ca->conf.key, shown, sizeof(shown)),
			             ca->conf.cert);
			goto fail;
		}
	}
	free(buf);
	*pca = ca;
	return RES_OK;
fail:
	free(buf);
	ca_close(ca);
	return rc;
}

void ca_close(struct ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	cadb_close(ca->db);
	pki_libctx_free(ca->libctx);
	ca_conf_free(&ca->conf);
	pki_strv_free(ca->warnings);
	free(ca);
}

int ca_revoke(struct ca *ca, const char *serial, int64_t when, int reason, int64_t invalidity)
{
	if (ca_reason_name(reason) == NULL)
		return res_set(RES_BAD_INPUT, "CRL reason %d is not one RFC 5280 defines", reason);
	return cadb_revoke(ca->db, serial, when, reason, invalidity);
}

static int walk_revoked(void *src, cadb_row_cb cb, void *cbarg)
{
	return cadb_foreach_revoked(src, cb, cbarg);
}

int ca_crl(struct ca *ca, const char *md, long days, int pem, ca_write_fn out, void *outarg,
           int64_t *pnumber, size_t *pcount)
{
	struct ca_crl_params p = { 0 };
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (ca->key == NULL || ca->cert == NULL)
		return res_set(RES_FAIL, "the CA was opened without its key or certificate");
	if ((rc = ca_md_ok(md)) != RES_OK)
		return rc;
	/* one write transaction: the number and the revoked set it lists are one snapshot */
	if ((rc = cadb_begin(ca->db)) != RES_OK)
		return rc;
	if ((rc = cadb_next_crl_number(ca->db, &p.number)) != RES_OK)
		goto fail;
	p.libctx = ca->libctx;
	p.issuer = ca->cert;
	p.key = ca->key;
	p.md = md;
	p.this_update = now;
	p.next_update = now + (int64_t)days * 86400;
	p.pem = pem;
	if ((rc = ca_crl_encode(&p, walk_revoked, ca->db, out, outarg, pcount)) != RES_OK)
		goto fail;
	/* the CRL is out: now the number is spent */
	if ((rc = cadb_commit(ca->db)) != RES_OK)
		goto fail;
	*pnumber = p.number;
	return RES_OK;
fail:
	cadb_rollback(ca->db);
	return rc;
}
