/*
 * store-read.c - the CRL store's readers (store.h): lookup, listing, one
 * entry by id, removal.  A reader takes no lock: it maps the file a name
 * holds at the moment it opens it (store-entry.c).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "result.h"
#include "store-int.h"
#include "store.h"

/* @cert's serial as the index keeps it: INTEGER content, leading zeros dropped. */
static int cert_serial(X509 *cert, unsigned char *out, size_t *plen)
{
	unsigned char buf[64], *p = buf;
	const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
	int n = i2d_ASN1_INTEGER(sn, NULL);
	size_t off = 2, len;

	if (n < 3 || n > (int)sizeof(buf) || i2d_ASN1_INTEGER(sn, &p) != n || buf[1] >= 0x80)
		return -1;
	len = (size_t)n - off;
	while (len > 1 && buf[off] == 0)
		off++, len--;
	if (len > CRLSCAN_SERIAL_MAX)
		return -1;
	memcpy(out, buf + off, len);
	*plen = len;
	return 0;
}

static enum rev_crl_status judge(const struct store_entry *e, const unsigned char *serial,
                                 size_t slen, int64_t at, int *preason, int64_t *prevoked)
{
	*preason = -1;
	*prevoked = 0;
	if (store_entry_find(e, serial, slen, preason, prevoked) != NULL && *prevoked <= at)
		return REV_CRL_REVOKED;
	*preason = -1;
	*prevoked = 0;
	if (at < e->info.this_update)
		return REV_CRL_NOT_YET;
	if (e->info.next_update != 0 && at > e->info.next_update)
		return REV_CRL_EXPIRED;
	return REV_CRL_GOOD;
}

int rev_store_lookup(struct rev_store *s, X509 *cert, X509 *issuer, int64_t at, int use_both,
                     struct rev_crl_answer *a)
{
	static const enum rev_origin order[] = { REV_ORIGIN_DOWNLOAD, REV_ORIGIN_MANUAL };
	unsigned char serial[CRLSCAN_SERIAL_MAX];
	char key[65], name[64];
	size_t slen;
	int rc, is_ca;

	memset(a, 0, sizeof(*a));
	a->reason = -1;
	if (cert_serial(cert, serial, &slen) != 0)
		return res_set(RES_BAD_INPUT, "certificate serial over %d octets",
		               CRLSCAN_SERIAL_MAX);
	if ((rc = store_issuer_key(issuer, key)) != RES_OK)
		return rc;
	if (at == 0)
		at = (int64_t)time(NULL);
	is_ca = X509_check_ca(cert) > 0;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct store_entry *e;
		enum rev_crl_status st;
		int64_t when;
		int reason;

		store_entry_name(key, order[i], name, sizeof(name));
		if ((rc = store_entry_cached(s, name, &e)) == RES_NOT_FOUND)
			continue;
		if (rc != RES_OK) {
			rev_crl_answer_clear(a);
			return rc;
		}
		if (strcmp(e->issuer_key, key) != 0 || (e->info.only_user_certs && is_ca) ||
		    (e->info.only_ca_certs && !is_ca))
			continue; /* another issuer, or out of the CRL's scope */
		st = judge(e, serial, slen, at, &reason, &when);
		if (a->status == REV_CRL_NONE || (st == REV_CRL_REVOKED && a->status != st)) {
			rev_crl_info_clear(&a->info);
			if ((rc = store_info_copy(&a->info, &e->info)) != RES_OK) {
				rev_crl_answer_clear(a);
				return rc;
			}
			a->status = st;
			a->reason = reason;
			a->revoked_at = when;
		}
		if (!use_both)
			break;
	}
	return RES_OK;
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry name ("ID.crl"), sorted; *pn of them (free each and the array). */
static int list_names(struct rev_store *s, char ***pnames, size_t *pn)
{
	int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **v = NULL, **nv;
	size_t n = 0, cap = 0;
	struct dirent *d;
	DIR *dp;

	*pnames = NULL;
	*pn = 0;
	if (fd < 0 || (dp = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return res_set(RES_IO, "CRL store %s: %s", s->dir, strerror(errno));
	}
	while ((d = readdir(dp)) != NULL) {
		size_t l = strlen(d->d_name);

		if (d->d_name[0] == '.' || l != STORE_ID_LEN + strlen(STORE_SUFFIX) ||
		    strcmp(d->d_name + STORE_ID_LEN, STORE_SUFFIX) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				goto nomem;
			v = nv;
		}
		if ((v[n] = strdup(d->d_name)) == NULL)
			goto nomem;
		n++;
	}
	closedir(dp);
	if (n > 1)
		qsort(v, n, sizeof(*v), strcmp_p);
	*pnames = v;
	*pn = n;
	return RES_OK;
nomem:
	closedir(dp);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return res_set(RES_NOMEM, "out of memory");
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int rev_store_foreach(struct rev_store *s, int (*cb)(void *ctx, const struct rev_crl_info *info),
                      void *ctx)
{
	char **names;
	size_t n;
	int rc;

	if ((rc = list_names(s, &names, &n)) != RES_OK)
		return rc;
	for (size_t i = 0; i < n && rc == RES_OK; i++) {
		struct store_entry e;

		if (store_entry_open(s->dirfd, names[i], &e) != RES_OK)
			continue; /* removed meanwhile, or not an entry of ours */
		rc = cb(ctx, &e.info);
		store_entry_close(&e);
	}
	free_names(names, n);
	return rc;
}

/* The entry name of @id or a unique prefix of it into @out. */
static int resolve(struct rev_store *s, const char *id, char *out, size_t cap)
{
	size_t n, len = strlen(id), hits = 0;
	char **names;
	int rc;

	if (len == 0 || strchr(id, '/') != NULL)
		return res_set(RES_NOT_FOUND, "no CRL %s in the store", id);
	if ((rc = list_names(s, &names, &n)) != RES_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(names[i], id, len) != 0)
			continue;
		if (len == STORE_ID_LEN || strcmp(names[i], id) == 0) {
			hits = 1;
			snprintf(out, cap, "%s", names[i]);
			break;
		}
		if (hits++ == 0)
			snprintf(out, cap, "%s", names[i]);
	}
	free_names(names, n);
	if (hits == 0)
		return res_set(RES_NOT_FOUND, "no CRL %s in the store", id);
	if (hits > 1)
		return res_set(RES_BAD_INPUT, "CRL id %s is ambiguous: give more of it", id);
	return RES_OK;
}

int rev_store_get(struct rev_store *s, const char *id, struct rev_crl_info *pinfo,
                  unsigned char **pder, size_t *plen)
{
	struct store_entry e;
	char name[64];
	int rc;

	if (pinfo != NULL)
		memset(pinfo, 0, sizeof(*pinfo));
	if (pder != NULL)
		*pder = NULL;
	if ((rc = resolve(s, id, name, sizeof(name))) != RES_OK ||
	    (rc = store_entry_open(s->dirfd, name, &e)) != RES_OK)
		return rc;
	if (pder != NULL) {
		if ((*pder = malloc(e.der_len ? e.der_len : 1)) == NULL) {
			store_entry_close(&e);
			return res_set(RES_NOMEM, "out of memory");
		}
		memcpy(*pder, e.der, e.der_len);
		if (plen != NULL)
			*plen = e.der_len;
	}
	if (pinfo != NULL && (rc = store_info_copy(pinfo, &e.info)) != RES_OK && pder != NULL) {
		free(*pder);
		*pder = NULL;
	}
	store_entry_close(&e);
	return rc;
}

int rev_store_remove(struct rev_store *s, const char *id)
{
	char name[64];
	int rc, lockfd;

	if ((rc = store_lock(s, &lockfd)) != RES_OK)
		return rc;
	if ((rc = resolve(s, id, name, sizeof(name))) == RES_OK) {
		if (unlinkat(s->dirfd, name, 0) != 0)
			rc = res_set(RES_IO, "CRL store: removing %s: %s", name, strerror(errno));
		else if (fsync(s->dirfd) != 0)
			rc = res_set(RES_IO, "CRL store: fsync: %s", strerror(errno));
	}
	close(lockfd);
	return rc;
}

struct by_source {
	const char *url;
	struct rev_crl_info *out;
	int found;
};

static int match_source(void *ctx, const struct rev_crl_info *info)
{
	struct by_source *b = ctx;
	int rc;

	if (info->origin != REV_ORIGIN_DOWNLOAD || info->source == NULL ||
	    strcmp(info->source, b->url) != 0)
		return RES_OK;
	if ((rc = store_info_copy(b->out, info)) != RES_OK)
		return rc;
	b->found = 1;
	return RES_ALREADY; /* stops the walk */
}

int rev_store_find_source(struct rev_store *s, const char *url, struct rev_crl_info *pinfo)
{
	struct by_source b = { url, pinfo, 0 };
	int rc;

	memset(pinfo, 0, sizeof(*pinfo));
	rc = rev_store_foreach(s, match_source, &b);
	if (b.found)
		return RES_OK;
	if (rc != RES_OK)
		return rc;
	return res_set(RES_NOT_FOUND, "no stored CRL from %s", url);
}

int rev_store_find(struct rev_store *s, X509 *issuer, enum rev_origin origin,
                   struct rev_crl_info *pinfo)
{
	struct store_entry e;
	char key[65], name[64];
	int rc;

	memset(pinfo, 0, sizeof(*pinfo));
	if ((rc = store_issuer_key(issuer, key)) != RES_OK)
		return rc;
	store_entry_name(key, origin, name, sizeof(name));
	if ((rc = store_entry_open(s->dirfd, name, &e)) != RES_OK)
		return rc;
	if (strcmp(e.issuer_key, key) != 0)
		rc = res_set(RES_NOT_FOUND, "no stored CRL of that issuer");
	else
		rc = store_info_copy(pinfo, &e.info);
	store_entry_close(&e);
	return rc;
}
