/*
 * cache.c - the pre-signed responses: the snapshot of a CA's records, the
 * map (serial, CertID algorithm) -> signed response, the CRL kept, and
 * their files in D/serve/ (ocsp.cache, crl.der, lock), written atomically.
 *
 * ocsp.cache: "P11CASRV" u32 version, the CA certificate's SHA-256, then
 * records (u32 length, then alg u8, serial length u8, serial, status u8,
 * reason i8, revoked_at, this_update, next_update (i64 each), the DER),
 * a zero length, and the SHA-256 of everything before it.  Integers are
 * big-endian.  Anything else (truncated, another version, a bad checksum)
 * is ignored as a whole: everything is signed again.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "readfile.h"
#include "result.h"
#include "serve-int.h"

#define CACHE_MAGIC   "P11CASRV"
#define CACHE_VERSION 1u

/* ---- the snapshot ---- */

int srv_serial_from_hex(const char *hex, unsigned char *out, unsigned char *plen)
{
	size_t n = strlen(hex), i, o = 0, skip = 0;
	unsigned char tmp[64];
	int hi = -1;

	if (n == 0 || n > 2 * sizeof(tmp))
		return -1;
	if (n & 1)
		hi = 0; /* an odd count reads as with a leading 0 */
	for (i = 0; i < n; i++) {
		int c = hex[i], v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		if (hi < 0) {
			hi = v;
		} else {
			tmp[o++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	while (skip + 1 < o && tmp[skip] == 0)
		skip++;
	if (o - skip > SRV_SERIAL_MAX)
		return -1;
	memcpy(out, tmp + skip, o - skip);
	*plen = (unsigned char)(o - skip);
	return 0;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct srv_rec *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->serial, y->serial, x->len);
}

static int snap_add(const struct cadb_row *r, void *arg)
{
	struct srv_snap *s = arg;
	struct srv_rec *rec;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct srv_rec *v = realloc(s->v, cap * sizeof(*v));
		if (v == NULL)
			return res_set(RES_NOMEM, "out of memory");
		s->v = v;
		s->cap = cap;
	}
	rec = &s->v[s->n];
	memset(rec, 0, sizeof(*rec));
	if (srv_serial_from_hex(r->serial, rec->serial, &rec->len) != 0)
		return RES_OK; /* not a serial a CertID can name: skipped */
	rec->status = r->status == 'R' ? 'R' : 'V';
	rec->reason = (signed char)(r->reason >= 0 && r->reason <= 10 ? r->reason : -1);
	rec->revoked_at = r->revoked_at;
	rec->not_after = r->not_after;
	if (rec->status == 'R')
		s->nrevoked++;
	s->n++;
	return RES_OK;
}

int srv_snap_read(struct cadb *db, struct srv_snap **ps)
{
	struct srv_snap *s;
	int rc;

	*ps = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	if ((rc = cadb_foreach(db, CADB_ALL, (int64_t)time(NULL), 0, snap_add, s)) != RES_OK) {
		srv_snap_free(s);
		return rc;
	}
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), rec_cmp);
	*ps = s;
	return RES_OK;
}

const struct srv_rec *srv_snap_find(const struct srv_snap *s, const unsigned char *serial,
                                    size_t len)
{
	struct srv_rec key;

	if (s == NULL || s->n == 0 || len == 0 || len > SRV_SERIAL_MAX)
		return NULL;
	key.len = (unsigned char)len;
	memcpy(key.serial, serial, len);
	return bsearch(&key, s->v, s->n, sizeof(*s->v), rec_cmp);
}

void srv_snap_free(struct srv_snap *s)
{
	if (s == NULL)
		return;
	free(s->v);
	free(s);
}

/* ---- responses ---- */

static void etag_of(const unsigned char *der, size_t len, char *out, size_t cap)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256(der, len, md);
	for (i = 0; i < 8 && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

struct srv_resp *srv_resp_new(unsigned char *der, size_t len, int status, int64_t revoked_at,
                              int reason, int64_t this_update, int64_t next_update)
{
	struct srv_resp *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		free(der);
		return NULL;
	}
	etag_of(der, len, r->etag, sizeof(r->etag));
	if ((r->blob = srv_blob_take(der, len)) == NULL) {
		free(r);
		return NULL;
	}
	r->status = status;
	r->revoked_at = revoked_at;
	r->reason = reason;
	r->this_update = this_update;
	r->next_update = next_update;
	return r;
}

void srv_resp_free(struct srv_resp *r)
{
	if (r == NULL)
		return;
	srv_blob_unref(r->blob);
	free(r);
}

int srv_resp_fits(const struct srv_resp *r, const struct srv_rec *rec, int64_t now)
{
	if (r == NULL || r->next_update <= now)
		return 0;
	if (rec == NULL)
		return r->status == V_OCSP_CERTSTATUS_UNKNOWN;
	if (rec->status == 'R')
		return r->status == V_OCSP_CERTSTATUS_REVOKED && r->revoked_at == rec->revoked_at &&
		       r->reason == rec->reason;
	return r->status == V_OCSP_CERTSTATUS_GOOD;
}

int srv_resp_due(const struct srv_resp *r, const struct srv_rec *rec, int64_t now)
{
	if (!srv_resp_fits(r, rec, now))
		return 1;
	return now >= r->this_update + (r->next_update - r->this_update) / 2;
}

/* ---- the map ---- */

static size_t key_hash(const struct srv_key *k)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < k->len; i++)
		h = (h ^ k->serial[i]) * 1099511628211ULL;
	h = (h ^ k->alg) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static int key_eq(const struct srv_key *a, const struct srv_key *b)
{
	return a->len == b->len && a->alg == b->alg && memcmp(a->serial, b->serial, a->len) == 0;
}

void srv_key_of_rec(struct srv_key *k, const struct srv_rec *rec, int alg)
{
	memset(k, 0, sizeof(*k));
	k->len = rec->len;
	k->alg = (unsigned char)alg;
	memcpy(k->serial, rec->serial, rec->len);
}

struct srv_entry *srv_map_find(const struct srv_map *m, const struct srv_key *k)
{
	struct srv_entry *e;

	if (m->nb == 0)
		return NULL;
	for (e = m->b[key_hash(k) & (m->nb - 1)]; e != NULL; e = e->next)
		if (key_eq(&e->k, k))
			return e;
	return NULL;
}

static int map_grow(struct srv_map *m)
{
	size_t nb = m->nb == 0 ? 64 : m->nb * 2, i;
	struct srv_entry **b = calloc(nb, sizeof(*b)), *e, *next;

	if (b == NULL)
		return -1;
	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			size_t j = key_hash(&e->k) & (nb - 1);
			next = e->next;
			e->next = b[j];
			b[j] = e;
		}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

struct srv_entry *srv_map_get(struct srv_map *m, const struct srv_key *k)
{
	struct srv_entry *e = srv_map_find(m, k);
	size_t j;

	if (e != NULL)
		return e;
	if (m->n >= m->nb && map_grow(m) != 0)
		return NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->k = *k;
	j = key_hash(k) & (m->nb - 1);
	e->next = m->b[j];
	m->b[j] = e;
	m->n++;
	return e;
}

void srv_map_del(struct srv_map *m, const struct srv_key *k)
{
	struct srv_entry **pe, *e;

	if (m->nb == 0)
		return;
	for (pe = &m->b[key_hash(k) & (m->nb - 1)]; (e = *pe) != NULL; pe = &e->next)
		if (key_eq(&e->k, k)) {
			*pe = e->next;
			srv_resp_free(e->resp);
			free(e);
			m->n--;
			return;
		}
}

void srv_map_free(struct srv_map *m)
{
	struct srv_entry *e, *next;
	size_t i;

	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			srv_resp_free(e->resp);
			free(e);
		}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* ---- CRLs ---- */

void srv_crl_free(struct srv_crl *c)
{
	if (c == NULL)
		return;
	srv_blob_unref(c->blob);
	free(c);
}

static int64_t asn1_secs(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

int srv_crl_from_der(unsigned char *der, size_t len, X509 *cacert, struct srv_crl **pc)
{
	const unsigned char *p = der;
	X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)len);
	struct srv_crl *c = NULL;
	ASN1_INTEGER *num = NULL;
	unsigned char md[SHA256_DIGEST_LENGTH];
	int rc = RES_BAD_INPUT;

	*pc = NULL;
	if (x == NULL || p != der + len) {
		res_ossl(rc, "not a DER CRL");
		goto out;
	}
	if (X509_NAME_cmp(X509_CRL_get_issuer(x), X509_get_subject_name(cacert)) != 0 ||
	    X509_CRL_verify(x, X509_get0_pubkey(cacert)) != 1) {
		rc = res_ossl(RES_POLICY, "not a CRL of this CA");
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	num = X509_CRL_get_ext_d2i(x, NID_crl_number, NULL, NULL);
	c->number = num != NULL ? (int64_t)ASN1_INTEGER_get(num) : 0;
	c->this_update = asn1_secs(X509_CRL_get0_lastUpdate(x));
	c->next_update = asn1_secs(X509_CRL_get0_nextUpdate(x));
	c->count = X509_CRL_get_REVOKED(x) != NULL
	               ? (size_t)sk_X509_REVOKED_num(X509_CRL_get_REVOKED(x))
	               : 0;
	SHA256(der, len, md);
	snprintf(c->etag, sizeof(c->etag), "%llx-%02x%02x%02x%02x", (unsigned long long)c->number,
	         md[0], md[1], md[2], md[3]);
	c->blob = srv_blob_take(der, len);
	der = NULL;
	if (c->blob == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	*pc = c;
	c = NULL;
	rc = RES_OK;
out:
	ASN1_INTEGER_free(num);
	X509_CRL_free(x);
	srv_crl_free(c);
	free(der);
	return rc;
}

int srv_crl_matches(const struct srv_crl *crl, const struct srv_snap *s)
{
	const unsigned char *p = srv_blob_data(crl->blob);
	X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)srv_blob_len(crl->blob));
	STACK_OF(X509_REVOKED) * rev;
	int i, ok;

	if (x == NULL)
		return 0;
	rev = X509_CRL_get_REVOKED(x); /* NULL when it lists none */
	ok = (size_t)(rev != NULL ? sk_X509_REVOKED_num(rev) : 0) == s->nrevoked;
	for (i = 0; ok && i < sk_X509_REVOKED_num(rev); i++) {
		const ASN1_INTEGER *sn =
		    X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, i));
		const struct srv_rec *rec;
		const unsigned char *d = ASN1_STRING_get0_data(sn);
		int n = ASN1_STRING_length(sn);
		while (n > 1 && d[0] == 0)
			d++, n--;
		rec = srv_snap_find(s, d, (size_t)n);
		ok = rec != NULL && rec->status == 'R';
	}
	X509_CRL_free(x);
	return ok;
}

/* ---- files ---- */

int srv_dir_lock(const char *dir, int *pfd)
{
	char path[4300], buf[32];
	struct stat st;
	ssize_t n;
	int fd = -1;

	*pfd = -1;
	snprintf(path, sizeof(path), "%s/serve", dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return res_set(RES_IO, "%s: %s", path, strerror(errno));
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return res_set(RES_IO, "%s: not a directory", path);
	if (st.st_uid != geteuid())
		return res_set(RES_POLICY, "%s: owned by another user", path);
	if ((st.st_mode & 077) != 0 && chmod(path, 0700) != 0)
		return res_set(RES_IO, "%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/serve/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return res_set(RES_IO, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			return res_set(RES_TAKEN, "%s is already served by pid %s", dir,
			               buf[0] ? buf : "?");
		return res_set(RES_IO, "%s: %s", path, strerror(e));
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		close(fd);
		return res_set(RES_IO, "%s: %s", path, strerror(errno));
	}
	*pfd = fd;
	return RES_OK;
}

int srv_write_atomic(const char *dir, const char *name, const void *data, size_t len)
{
	static atomic_uint seq;
	char tmp[4400], path[4400];
	const unsigned char *p = data;
	int fd, dfd, rc = RES_IO;

	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%u", dir, name, (long)getpid(),
	         atomic_fetch_add(&seq, 1));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return res_set(RES_IO, "%s: %s", tmp, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			res_set(RES_IO, "%s: %s", tmp, n < 0 ? strerror(errno) : "short write");
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0) {
		res_set(RES_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		res_set(RES_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		res_set(RES_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return RES_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

struct buf {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		unsigned char *p;
		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put_u32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
		               (unsigned char)(v >> 8), (unsigned char)v };
	put(b, x, 4);
}

static void put_i64(struct buf *b, int64_t sv)
{
	uint64_t v = (uint64_t)sv;
	unsigned char x[8];
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		x[i] = (unsigned char)v;
	put(b, x, 8);
}

int srv_cache_save(struct srv_ca *ca, unsigned char **pbuf, size_t *plen)
{
	struct buf b = { 0 };
	struct srv_entry *e;
	unsigned char md[SHA256_DIGEST_LENGTH];
	int64_t now = (int64_t)time(NULL);
	size_t i;

	*pbuf = NULL;
	put(&b, CACHE_MAGIC, 8);
	put_u32(&b, CACHE_VERSION);
	put(&b, ca->cert_sha256, 32);
	for (i = 0; i < ca->map.nb; i++)
		for (e = ca->map.b[i]; e != NULL; e = e->next) {
			const struct srv_resp *r = e->resp;
			size_t dl;
			unsigned char hdr[3];
			if (r == NULL || r->next_update <= now)
				continue;
			dl = srv_blob_len(r->blob);
			put_u32(&b, (uint32_t)(2 + e->k.len + 2 + 24 + dl));
			hdr[0] = e->k.alg;
			hdr[1] = e->k.len;
			put(&b, hdr, 2);
			put(&b, e->k.serial, e->k.len);
			hdr[0] = (unsigned char)r->status;
			hdr[1] = (unsigned char)(signed char)r->reason;
			put(&b, hdr, 2);
			put_i64(&b, r->revoked_at);
			put_i64(&b, r->this_update);
			put_i64(&b, r->next_update);
			put(&b, srv_blob_data(r->blob), dl);
		}
	put_u32(&b, 0);
	if (!b.oom) {
		SHA256(b.p, b.len, md);
		put(&b, md, sizeof(md));
	}
	if (b.oom) {
		free(b.p);
		return res_set(RES_NOMEM, "out of memory");
	}
	*pbuf = b.p;
	*plen = b.len;
	return RES_OK;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t get_i64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

int srv_cache_load(struct srv_ca *ca, size_t *pkept, size_t *pdropped)
{
	char path[4400];
	unsigned char *data = NULL, md[SHA256_DIGEST_LENGTH];
	size_t len = 0, off, kept = 0, dropped = 0;
	int64_t now = (int64_t)time(NULL);
	int rc;

	*pkept = *pdropped = 0;
	snprintf(path, sizeof(path), "%s/ocsp.cache", ca->sdir);
	if ((rc = res_read_regular(path, SRV_CACHE_FILE_MAX, &data, &len)) != RES_OK)
		return rc;
	rc = RES_BAD_INPUT;
	if (len < 8 + 4 + 32 + 4 + 32 || memcmp(data, CACHE_MAGIC, 8) != 0) {
		res_set(rc, "%s: not a response cache", path);
		goto out;
	}
	if (get_u32(data + 8) != CACHE_VERSION) {
		res_set(RES_VERSION, "%s: version %u, not %u", path, get_u32(data + 8),
		        CACHE_VERSION);
		rc = RES_VERSION;
		goto out;
	}
	SHA256(data, len - 32, md);
	if (memcmp(md, data + len - 32, 32) != 0) {
		res_set(rc, "%s: checksum mismatch (truncated or damaged)", path);
		goto out;
	}
	if (memcmp(data + 12, ca->cert_sha256, 32) != 0) {
		res_set(RES_STALE, "%s: made for another CA certificate", path);
		rc = RES_STALE;
		goto out;
	}
	len -= 32;
	off = 44;
	for (;;) {
		uint32_t rl;
		struct srv_key k;
		const unsigned char *p;
		const struct srv_rec *rec;
		struct srv_entry *e;
		struct srv_resp *r;
		unsigned char *der;
		size_t dl;
		int status, reason;
		int64_t rev, tu, nu;

		if (off + 4 > len)
			goto bad;
		rl = get_u32(data + off);
		off += 4;
		if (rl == 0)
			break;
		if (rl > len - off || rl < 2)
			goto bad;
		p = data + off;
		off += rl;
		k.alg = p[0];
		k.len = p[1];
		if (k.len == 0 || k.len > SRV_SERIAL_MAX || (size_t)2 + k.len + 26 > rl ||
		    k.alg >= SRV_NALG)
			goto bad;
		memset(k.serial, 0, sizeof(k.serial));
		memcpy(k.serial, p + 2, k.len);
		p += 2 + k.len;
		status = p[0];
		reason = (signed char)p[1];
		rev = get_i64(p + 2);
		tu = get_i64(p + 10);
		nu = get_i64(p + 18);
		dl = rl - 2 - k.len - 26;
		p += 26;
		rec = srv_snap_find(ca->snap, k.serial, k.len);
		if (nu <= now || rec == NULL) {
			dropped++;
			continue;
		}
		if ((e = srv_map_get(&ca->map, &k)) == NULL) {
			rc = res_set(RES_NOMEM, "out of memory");
			goto out;
		}
		if ((der = malloc(dl ? dl : 1)) == NULL) {
			rc = res_set(RES_NOMEM, "out of memory");
			goto out;
		}
		memcpy(der, p, dl);
		if ((r = srv_resp_new(der, dl, status, rev, reason, tu, nu)) == NULL) {
			rc = res_set(RES_NOMEM, "out of memory");
			goto out;
		}
		if (!srv_resp_fits(r, rec, now)) {
			/* the status changed while we were away: signed again first */
			srv_resp_free(r);
			srv_queue(ca, e, 1);
			dropped++;
			continue;
		}
		srv_resp_free(e->resp);
		e->resp = r;
		kept++;
	}
	*pkept = kept;
	*pdropped = dropped;
	rc = RES_OK;
	goto out;
bad:
	res_set(RES_BAD_INPUT, "%s: malformed record", path);
	rc = RES_BAD_INPUT;
out:
	free(data);
	return rc;
}

int srv_crl_load(struct srv_ca *ca, struct srv_crl **pc)
{
	char path[4400];
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	*pc = NULL;
	snprintf(path, sizeof(path), "%s/crl.der", ca->sdir);
	if ((rc = res_read_regular(path, SRV_CRL_FILE_MAX, &data, &len)) != RES_OK)
		return rc;
	if ((rc = srv_crl_from_der(data, len, ca->ca->cert, pc)) != RES_OK)
		res_prefix(rc, "%s", path);
	return rc;
}

void srv_cache_flush(struct srv_ca *ca, int force)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int64_t t0 = srv_mono();
	int rc;

	/* a store that takes long (a big cache) is spaced out: 5 times its cost */
	if (atomic_load(&ca->dirty) == 0 || (!force && t0 < ca->store_due))
		return;
	atomic_store(&ca->dirty, 0);
	pthread_rwlock_rdlock(&ca->lock);
	rc = srv_cache_save(ca, &buf, &len);
	pthread_rwlock_unlock(&ca->lock);
	if (rc == RES_OK)
		rc = srv_write_atomic(ca->sdir, "ocsp.cache", buf, len);
	if (rc != RES_OK) {
		atomic_store(&ca->dirty, 1);
		srv_event(ca->core, SRV_WARN, "CA %s: storing the responses: %s", ca->name,
		          res_message());
	}
	ca->store_due = srv_mono() + 5 * (srv_mono() - t0);
	free(buf);
}
