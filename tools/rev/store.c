/*
 * store.c - the CRL store (store.h): a folder of entry files
 * (store-int.h), one per issuer and origin, replaced by rename; writers
 * take an exclusive flock on the folder's ".lock"; readers take no lock
 * and mmap the file that the name holds at open time.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "crlscan.h"
#include "result.h"
#include "store-int.h"
#include "store.h"

_Static_assert(sizeof(struct store_rec) == STORE_REC, "index record size");

void rev_crl_info_clear(struct rev_crl_info *info)
{
	if (info == NULL)
		return;
	free(info->id);
	free(info->issuer);
	free(info->issuer_fp);
	free(info->source);
	free(info->etag);
	free(info->last_modified);
	memset(info, 0, sizeof(*info));
}

void rev_crl_answer_clear(struct rev_crl_answer *a)
{
	if (a == NULL)
		return;
	rev_crl_info_clear(&a->info);
	memset(a, 0, sizeof(*a));
}

static char *sdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

int store_info_copy(struct rev_crl_info *dst, const struct rev_crl_info *src)
{
	*dst = *src;
	dst->id = sdup(src->id);
	dst->issuer = sdup(src->issuer);
	dst->issuer_fp = sdup(src->issuer_fp);
	dst->source = sdup(src->source);
	dst->etag = sdup(src->etag);
	dst->last_modified = sdup(src->last_modified);
	if ((src->id && !dst->id) || (src->issuer && !dst->issuer) ||
	    (src->issuer_fp && !dst->issuer_fp) || (src->source && !dst->source) ||
	    (src->etag && !dst->etag) || (src->last_modified && !dst->last_modified)) {
		rev_crl_info_clear(dst);
		return res_set(RES_NOMEM, "out of memory");
	}
	return RES_OK;
}

int rev_store_open(const char *dir, int create, struct rev_store **ps)
{
	struct rev_store *s;
	struct stat st;
	int fd;

	*ps = NULL;
	if (create && mkdir(dir, 0700) != 0 && errno != EEXIST)
		return res_set(RES_IO, "%s: %s", dir, strerror(errno));
	if (lstat(dir, &st) != 0)
		return res_set(errno == ENOENT ? RES_NOT_FOUND : RES_IO, "%s: %s", dir,
		               strerror(errno));
	if (S_ISLNK(st.st_mode))
		return res_set(RES_POLICY, "%s is a symbolic link: refused", dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return res_set(RES_IO, "%s: %s", dir, strerror(errno));
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->dir = strdup(dir)) == NULL) {
		free(s);
		close(fd);
		return res_set(RES_NOMEM, "out of memory");
	}
	s->dirfd = fd;
	*ps = s;
	return RES_OK;
}

void rev_store_close(struct rev_store *s)
{
	if (s == NULL)
		return;
	store_cache_clear(s);
	close(s->dirfd);
	free(s->dir);
	free(s);
}

/* The writers' lock: an fd holding LOCK_EX on ".lock" (close it to release). */
int store_lock(struct rev_store *s, int *pfd)
{
	int fd = openat(s->dirfd, STORE_LOCKFILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return res_set(RES_IO, "CRL store %s: lock: %s", s->dir, strerror(errno));
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(fd);
			return res_set(RES_IO, "CRL store %s: lock: %s", s->dir, strerror(errno));
		}
	}
	*pfd = fd;
	return RES_OK;
}

/* Under the lock every temporary file is a dead writer's: removed. */
static void sweep_tmp(struct rev_store *s)
{
	int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *d;
	DIR *dp;

	if (fd < 0 || (dp = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((d = readdir(dp)) != NULL)
		if (strncmp(d->d_name, STORE_TMP, strlen(STORE_TMP)) == 0)
			unlinkat(s->dirfd, d->d_name, 0);
	closedir(dp);
}

static void sha256_hex(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
                       char out[65])
{
	unsigned char md[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	static const char hx[] = "0123456789abcdef";

	memset(md, 0, sizeof(md));
	if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, a, alen) &&
	    (b == NULL || EVP_DigestUpdate(c, b, blen)))
		EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	out[64] = '\0';
}

/* The hash of @issuer's name and key: what names its entries. */
int store_issuer_key(X509 *issuer, char out[65])
{
	unsigned char *name = NULL, *key = NULL;
	int nl, kl, rc = RES_OK;

	nl = i2d_X509_NAME(X509_get_subject_name(issuer), &name);
	kl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &key);
	if (nl <= 0 || kl <= 0)
		rc = res_ossl(RES_CRYPTO, "issuer name or key");
	else
		sha256_hex(name, (size_t)nl, key, (size_t)kl, out);
	OPENSSL_free(name);
	OPENSSL_free(key);
	return rc;
}

void store_entry_name(const char *key, enum rev_origin o, char *out, size_t cap)
{
	snprintf(out, cap, "%.*s-%c%s", STORE_ID_HEX, key, o == REV_ORIGIN_DOWNLOAD ? 'd' : 'm',
	         STORE_SUFFIX);
}

/* ---- signature ---------------------------------------------------- */

static int verify_full(const unsigned char *der, size_t len, EVP_PKEY *pk)
{
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	int ok;

	if (crl == NULL)
		return res_ossl(RES_BAD_INPUT, "CRL");
	ok = X509_CRL_verify(crl, pk) == 1;
	X509_CRL_free(crl);
	ERR_clear_error();
	return ok ? RES_OK : res_set(RES_CRYPTO, "signature does not verify");
}

/*
 * The signature over the tbsCertList bytes with @pk: only the
 * AlgorithmIdentifier is decoded.  RSA-PSS (parameters in the identifier)
 * falls back to OpenSSL's full decode and X509_CRL_verify.
 */
static int verify_sig(const struct crlscan *c, const unsigned char *der, size_t len, EVP_PKEY *pk)
{
	const unsigned char *p = c->sigalg;
	X509_ALGOR *alg = d2i_X509_ALGOR(NULL, &p, (long)c->sigalg_len);
	EVP_MD_CTX *mctx = NULL;
	int nid, md_nid, pk_nid, rc;
	const EVP_MD *md = NULL;

	if (alg == NULL)
		return res_ossl(RES_BAD_INPUT, "CRL signature algorithm");
	nid = OBJ_obj2nid(alg->algorithm);
	if (nid == NID_rsassaPss) {
		rc = verify_full(der, len, pk);
		goto out;
	}
	if (!OBJ_find_sigid_algs(nid, &md_nid, &pk_nid)) {
		rc = res_set(RES_UNSUPPORTED, "CRL signature algorithm %s", OBJ_nid2sn(nid));
		goto out;
	}
	if (EVP_PKEY_get_base_id(pk) != pk_nid &&
	    !(pk_nid == NID_rsaEncryption && EVP_PKEY_get_base_id(pk) == NID_rsa)) {
		rc = res_set(RES_CRYPTO, "signature does not verify: %s with a %s key",
		             OBJ_nid2sn(nid), OBJ_nid2sn(EVP_PKEY_get_base_id(pk)));
		goto out;
	}
	if (md_nid != NID_undef && (md = EVP_get_digestbynid(md_nid)) == NULL) {
		rc = res_set(RES_UNSUPPORTED, "CRL signature digest %s", OBJ_nid2sn(md_nid));
		goto out;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, NULL, md, NULL, pk) != 1) {
		rc = res_ossl(RES_CRYPTO, "CRL signature");
		goto out;
	}
	if (EVP_DigestVerify(mctx, c->sig, c->sig_len, c->tbs, c->tbs_len) != 1) {
		ERR_clear_error();
		rc = res_set(RES_CRYPTO, "signature does not verify");
		goto out;
	}
	rc = RES_OK;
out:
	EVP_MD_CTX_free(mctx);
	X509_ALGOR_free(alg);
	return rc;
}

/* The certificate of opts->issuers that signed the CRL (a reference in *pissuer). */
static int find_issuer(const struct crlscan *c, const unsigned char *der, size_t len,
                       STACK_OF(X509) * issuers, X509 **pissuer)
{
	const unsigned char *p = c->issuer;
	X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)c->issuer_len);
	char *text = NULL;
	int rc = RES_NOT_FOUND, named = 0;

	*pissuer = NULL;
	if (name == NULL)
		return res_ossl(RES_BAD_INPUT, "CRL issuer name");
	for (int i = 0; i < sk_X509_num(issuers); i++) {
		X509 *x = sk_X509_value(issuers, i);
		const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
		EVP_PKEY *pk;

		if (X509_NAME_cmp(X509_get_subject_name(x), name) != 0)
			continue;
		if (c->aki != NULL && ski != NULL &&
		    ((size_t)ASN1_STRING_length(ski) != c->aki_len ||
		     memcmp(ASN1_STRING_get0_data(ski), c->aki, c->aki_len) != 0))
			continue;
		named = 1;
		if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) &&
		    !(X509_get_key_usage(x) & KU_CRL_SIGN)) {
			rc = res_set(RES_POLICY, "the CRL's issuer may not sign CRLs (keyUsage)");
			continue;
		}
		if ((pk = X509_get0_pubkey(x)) == NULL)
			continue;
		if ((rc = verify_sig(c, der, len, pk)) == RES_OK) {
			*pissuer = x;
			break;
		}
	}
	if (!named) {
		pki_name_oneline(name, &text);
		rc = res_set(RES_NOT_FOUND, "no issuer for CRL of %s", text ? text : "?");
	} else if (rc != RES_OK && rc != RES_POLICY) {
		pki_name_oneline(name, &text);
		rc = res_prefix(RES_CRYPTO, "CRL of %s refused", text ? text : "?");
	}
	free(text);
	X509_NAME_free(name);
	return rc;
}

/* ---- put ---------------------------------------------------------- */

struct fill {
	struct store_rec *recs;
	size_t n, cap;
};

static int fill_rec(void *ctx, const struct crlscan_entry *e)
{
	struct fill *f = ctx;
	struct store_rec *r;

	if (f->n >= f->cap)
		return res_set(RES_FAIL, "CRL changed between two walks");
	r = &f->recs[f->n++];
	memset(r, 0, sizeof(*r));
	r->len = (uint8_t)e->serial_len;
	r->reason = e->reason < 0 ? 0xff : (uint8_t)e->reason;
	memcpy(r->serial, e->serial, e->serial_len);
	r->revoked_at = e->revoked_at;
	return RES_OK;
}

static void sift(struct store_rec *r, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		struct store_rec t;

		if (c >= n)
			return;
		if (c + 1 < n && store_rec_cmp(&r[c], &r[c + 1]) < 0)
			c++;
		if (store_rec_cmp(&r[i], &r[c]) >= 0)
			return;
		t = r[i], r[i] = r[c], r[c] = t;
		i = c;
	}
}

/*
 * The index in serial order, in place: glibc's qsort() would take a second
 * buffer as large as the index (32 MB for a million entries).  CRLs that
 * come sorted (openssl ca sorts by serial, which is this order for
 * positive serials) cost one pass.
 */
static void sort_recs(struct store_rec *r, size_t n)
{
	size_t i;

	for (i = 1; i < n && store_rec_cmp(&r[i - 1], &r[i]) <= 0; i++)
		;
	if (i >= n)
		return;
	for (i = n / 2; i-- > 0;)
		sift(r, i, n);
	for (i = n; i-- > 1;) {
		struct store_rec t = r[0];

		r[0] = r[i], r[i] = t;
		sift(r, 0, i);
	}
}

static void number_hex(const struct crlscan *c, char *out)
{
	static const char hx[] = "0123456789ABCDEF";
	const unsigned char *p = c->number;
	size_t n = c->number_len, o = 0;

	out[0] = '\0';
	if (p == NULL)
		return;
	while (n > 1 && p[0] == 0)
		p++, n--;
	for (size_t i = 0; i < n && o + 2 < PKI_SERIAL_MAX; i++) {
		out[o++] = hx[p[i] >> 4];
		out[o++] = hx[p[i] & 15];
	}
	out[o] = '\0';
}

/* Numbers as number_hex writes them: shorter is smaller. */
static int number_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);
}

static int same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The rollback guard against the stored entry @old: RES_OK, RES_ALREADY or RES_STALE. */
static int guard(const struct store_entry *old, const struct rev_crl_info *in, const char *sha)
{
	if (strcmp(old->sha256, sha) == 0)
		return RES_ALREADY;
	if (in->crl_number[0] && old->info.crl_number[0]) {
		int c = number_cmp(in->crl_number, old->info.crl_number);

		if (c < 0 || (c == 0 && in->this_update <= old->info.this_update))
			return res_set(
			    RES_STALE,
			    "CRL number %s of %s is not newer than the stored %s: refused",
			    in->crl_number, in->issuer, old->info.crl_number);
		return RES_OK;
	}
	if (in->this_update < old->info.this_update)
		return res_set(RES_STALE, "CRL of %s is older than the stored one: refused",
		               in->issuer);
	return RES_OK;
}

int rev_store_put(struct rev_store *s, const unsigned char *der, size_t len,
                  const struct rev_put_opts *opts, struct rev_crl_info *pinfo)
{
	struct rev_crl_info info = { 0 };
	struct store_entry old = { 0 };
	struct fill f = { 0 };
	struct crlscan c;
	char key[65], sha[65], name[64], fp[PKI_FP_MAX];
	X509 *iss = NULL;
	int rc, lockfd = -1, already = 0;

	if (pinfo != NULL)
		memset(pinfo, 0, sizeof(*pinfo));
	if ((rc = crlscan_parse(der, len, &c, NULL, NULL)) != RES_OK)
		return rc;
	if ((rc = find_issuer(&c, der, len, opts->issuers, &iss)) != RES_OK)
		return rc;
	if ((rc = store_issuer_key(iss, key)) != RES_OK)
		return rc;
	if (pki_fingerprint(iss, "SHA256", 0, fp, sizeof(fp)) != RES_OK)
		return res_prefix(RES_CRYPTO, "issuer fingerprint");
	sha256_hex(der, len, NULL, 0, sha);
	store_entry_name(key, opts->origin, name, sizeof(name));

	/* The index: one record per entry, the only O(N) memory. */
	f.cap = c.entries;
	if (f.cap > 0 && (f.recs = malloc(f.cap * sizeof(*f.recs))) == NULL)
		return res_set(RES_NOMEM, "out of memory (%zu CRL entries)", f.cap);
	if ((rc = crlscan_parse(der, len, &c, fill_rec, &f)) != RES_OK)
		goto out;
	sort_recs(f.recs, f.n);

	if ((rc = pki_name_oneline(X509_get_subject_name(iss), &info.issuer)) != RES_OK)
		goto out;
	if ((info.id = strndup(name, STORE_ID_LEN)) == NULL ||
	    (info.issuer_fp = strdup(fp)) == NULL ||
	    (opts->source && (info.source = strdup(opts->source)) == NULL) ||
	    (opts->etag && (info.etag = strdup(opts->etag)) == NULL) ||
	    (opts->last_modified && (info.last_modified = strdup(opts->last_modified)) == NULL)) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	number_hex(&c, info.crl_number);
	info.this_update = c.this_update;
	info.next_update = c.next_update;
	info.stored_at = opts->now ? opts->now : (int64_t)time(NULL);
	info.entries = f.n;
	info.origin = opts->origin == REV_ORIGIN_DOWNLOAD ? REV_ORIGIN_DOWNLOAD : REV_ORIGIN_MANUAL;
	info.only_user_certs = c.only_user_certs;
	info.only_ca_certs = c.only_ca_certs;

	if ((rc = store_lock(s, &lockfd)) != RES_OK)
		goto out;
	sweep_tmp(s);
	rc = store_entry_open(s->dirfd, name, &old);
	if (rc == RES_OK) {
		if ((rc = guard(&old, &info, sha)) == RES_ALREADY) {
			already = 1;
			info.stored_at = old.info.stored_at;
			if (same_str(info.source, old.info.source) &&
			    same_str(info.etag, old.info.etag) &&
			    same_str(info.last_modified, old.info.last_modified))
				goto done; /* nothing to refresh */
		} else if (rc != RES_OK) {
			goto out;
		}
	} else if (rc != RES_NOT_FOUND && rc != RES_BAD_INPUT) {
		goto out; /* a symbolic link, an I/O error: nothing replaced */
	}
	{
		struct store_new n = { &info, key, sha, f.recs, f.n, der, len };

		if ((rc = store_entry_write(s->dirfd, name, &n)) != RES_OK)
			goto out;
	}
done:
	rc = already ? res_set(RES_ALREADY, "the same CRL of %s is stored already", info.issuer)
	             : RES_OK;
	if (pinfo != NULL) {
		*pinfo = info;
		memset(&info, 0, sizeof(info)); /* transferred */
	}
out:
	if (lockfd >= 0)
		close(lockfd);
	store_entry_close(&old);
	rev_crl_info_clear(&info);
	free(f.recs);
	return rc;
}
