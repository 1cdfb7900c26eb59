/*
 * store-entry.c - the CRL store's entry files (store-int.h): mapped and
 * checked for readers, written atomically for the writer.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "result.h"
#include "store-int.h"
#include "testhook.h"

/* Longest metadata accepted (source URLs and etags are bounded by the fetcher). */
#define STORE_META_MAX (1u << 20)

int store_rec_cmp(const void *a, const void *b)
{
	const struct store_rec *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->serial, y->serial, x->len);
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static int dup_str(json_t *meta, const char *key, char **pout)
{
	json_t *v = json_object_get(meta, key);

	*pout = NULL;
	if (v == NULL || json_is_null(v))
		return RES_OK;
	if (!json_is_string(v))
		return res_set(RES_BAD_INPUT, "CRL store entry: %s is not text", key);
	if ((*pout = strdup(json_string_value(v))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	return RES_OK;
}

static int64_t get_int(json_t *meta, const char *key)
{
	json_t *v = json_object_get(meta, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static int copy_fixed(json_t *meta, const char *key, char *out, size_t cap)
{
	const char *s = json_string_value(json_object_get(meta, key));

	if (s == NULL || strlen(s) >= cap)
		return res_set(RES_BAD_INPUT, "CRL store entry: bad %s", key);
	memcpy(out, s, strlen(s) + 1);
	return RES_OK;
}

static int read_meta(struct store_entry *e, const unsigned char *p, size_t len)
{
	struct rev_crl_info *i = &e->info;
	json_error_t jerr;
	json_t *m;
	int rc;

	if ((m = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(m)) {
		json_decref(m);
		return res_set(RES_BAD_INPUT, "CRL store entry: unreadable metadata");
	}
	if ((rc = dup_str(m, "id", &i->id)) != RES_OK ||
	    (rc = dup_str(m, "issuer", &i->issuer)) != RES_OK ||
	    (rc = dup_str(m, "issuer_fingerprint", &i->issuer_fp)) != RES_OK ||
	    (rc = dup_str(m, "source", &i->source)) != RES_OK ||
	    (rc = dup_str(m, "etag", &i->etag)) != RES_OK ||
	    (rc = dup_str(m, "last_modified", &i->last_modified)) != RES_OK ||
	    (rc = copy_fixed(m, "crl_number", i->crl_number, sizeof(i->crl_number))) != RES_OK ||
	    (rc = copy_fixed(m, "issuer_key", e->issuer_key, sizeof(e->issuer_key))) != RES_OK ||
	    (rc = copy_fixed(m, "sha256", e->sha256, sizeof(e->sha256))) != RES_OK)
		goto out;
	if (i->id == NULL || i->issuer == NULL || i->issuer_fp == NULL) {
		rc = res_set(RES_BAD_INPUT, "CRL store entry: incomplete metadata");
		goto out;
	}
	i->this_update = get_int(m, "this_update");
	i->next_update = get_int(m, "next_update");
	i->stored_at = get_int(m, "stored_at");
	i->entries = (size_t)e->count;
	i->origin =
	    get_int(m, "origin") == REV_ORIGIN_DOWNLOAD ? REV_ORIGIN_DOWNLOAD : REV_ORIGIN_MANUAL;
	i->only_user_certs = json_is_true(json_object_get(m, "only_user_certs"));
	i->only_ca_certs = json_is_true(json_object_get(m, "only_ca_certs"));
	rc = RES_OK;
out:
	json_decref(m);
	return rc;
}

void store_entry_close(struct store_entry *e)
{
	if (e->map != NULL)
		munmap(e->map, e->size);
	rev_crl_info_clear(&e->info);
	memset(e, 0, sizeof(*e));
}

/* @off + @len within @size (no overflow). */
static int within(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

int store_entry_open(int dirfd, const char *name, struct store_entry *e)
{
	uint64_t moff, mlen, ioff, count, doff, dlen;
	struct stat st;
	int fd, rc;

	memset(e, 0, sizeof(*e));
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return res_set(RES_NOT_FOUND, "no CRL store entry %s", name);
		if (errno == ELOOP)
			return res_set(RES_POLICY, "CRL store entry %s is a symbolic link: refused",
			               name);
		return res_set(RES_IO, "CRL store entry %s: %s", name, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < STORE_HDR) {
		close(fd);
		return res_set(RES_BAD_INPUT, "CRL store entry %s: not an entry", name);
	}
	e->size = (size_t)st.st_size;
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->map = mmap(NULL, e->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (e->map == MAP_FAILED) {
		e->map = NULL;
		return res_set(RES_IO, "CRL store entry %s: mmap: %s", name, strerror(errno));
	}
	moff = rd64(e->map + 16);
	mlen = rd64(e->map + 24);
	ioff = rd64(e->map + 32);
	count = rd64(e->map + 40);
	doff = rd64(e->map + 48);
	dlen = rd64(e->map + 56);
	if (memcmp(e->map, STORE_MAGIC, 8) != 0 ||
	    rd64(e->map + 8) != ((uint64_t)STORE_HDR << 32 | STORE_FORMAT) ||
	    mlen > STORE_META_MAX || !within(moff, mlen, e->size) || count > e->size / STORE_REC ||
	    !within(ioff, count * STORE_REC, e->size) || !within(doff, dlen, e->size)) {
		rc = res_set(RES_BAD_INPUT, "CRL store entry %s: not a whole entry", name);
		goto fail;
	}
	e->index = e->map + ioff;
	e->count = count;
	e->der = e->map + doff;
	e->der_len = (size_t)dlen;
	if ((rc = read_meta(e, e->map + moff, (size_t)mlen)) != RES_OK) {
		res_prefix(rc, "%s", name);
		goto fail;
	}
	return RES_OK;
fail:
	store_entry_close(e);
	return rc;
}

static void cache_drop(struct rev_store *s, const char *name)
{
	for (unsigned i = 0; i < STORE_CACHE; i++)
		if (s->cache[i].map != NULL && strcmp(s->cache_name[i], name) == 0) {
			store_entry_close(&s->cache[i]);
			s->cache_name[i][0] = '\0';
		}
}

void store_cache_clear(struct rev_store *s)
{
	for (unsigned i = 0; i < STORE_CACHE; i++) {
		store_entry_close(&s->cache[i]);
		s->cache_name[i][0] = '\0';
	}
}

int store_entry_cached(struct rev_store *s, const char *name, const struct store_entry **pe)
{
	struct store_entry e;
	struct stat st;
	unsigned slot;
	int rc;

	*pe = NULL;
	if (strlen(name) >= sizeof(s->cache_name[0]))
		return res_set(RES_NOT_FOUND, "no CRL store entry %s", name);
	if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		cache_drop(s, name);
		if (errno == ENOENT)
			return res_set(RES_NOT_FOUND, "no CRL store entry %s", name);
		return res_set(RES_IO, "CRL store entry %s: %s", name, strerror(errno));
	}
	for (slot = 0; slot < STORE_CACHE; slot++)
		if (s->cache[slot].map != NULL && strcmp(s->cache_name[slot], name) == 0)
			break;
	if (slot < STORE_CACHE && s->cache[slot].dev == st.st_dev &&
	    s->cache[slot].ino == st.st_ino) {
		*pe = &s->cache[slot];
		return RES_OK;
	}
	cache_drop(s, name);
	if ((rc = store_entry_open(s->dirfd, name, &e)) != RES_OK)
		return rc;
	slot = s->cache_next++ % STORE_CACHE;
	store_entry_close(&s->cache[slot]);
	s->cache[slot] = e;
	snprintf(s->cache_name[slot], sizeof(s->cache_name[slot]), "%s", name);
	*pe = &s->cache[slot];
	return RES_OK;
}

const unsigned char *store_entry_find(const struct store_entry *e, const unsigned char *serial,
                                      size_t len, int *preason, int64_t *prevoked)
{
	struct store_rec key = { 0 }, r;
	uint64_t lo = 0, hi = e->count;

	if (len == 0 || len > CRLSCAN_SERIAL_MAX)
		return NULL;
	key.len = (uint8_t)len;
	memcpy(key.serial, serial, len);
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int c;

		memcpy(&r, e->index + mid * STORE_REC, sizeof(r));
		if ((c = store_rec_cmp(&key, &r)) == 0) {
			*preason = r.reason == 0xff ? -1 : r.reason;
			*prevoked = r.revoked_at;
			return e->index + mid * STORE_REC;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int write_all(int fd, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len > 0) {
		ssize_t n = write(fd, b, len > (1u << 20) ? (1u << 20) : len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static char *meta_text(const struct store_new *n, size_t *plen)
{
	const struct rev_crl_info *i = n->info;
	json_t *m;
	char *s;

	m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:s?, s:s?, s:s?, "
	              "s:b, s:b}",
	              "id", i->id, "issuer", i->issuer, "issuer_fingerprint", i->issuer_fp,
	              "issuer_key", n->issuer_key, "sha256", n->sha256, "crl_number", i->crl_number,
	              "this_update", (json_int_t)i->this_update, "next_update",
	              (json_int_t)i->next_update, "stored_at", (json_int_t)i->stored_at, "entries",
	              (json_int_t)n->count, "origin", (int)i->origin, "source", i->source, "etag",
	              i->etag, "last_modified", i->last_modified, "only_user_certs",
	              i->only_user_certs, "only_ca_certs", i->only_ca_certs);
	if (m == NULL)
		return NULL;
	s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	if (s != NULL)
		*plen = strlen(s);
	return s;
}

int store_entry_write(int dirfd, const char *name, const struct store_new *n)
{
	unsigned char hdr[STORE_HDR] = { 0 }, pad[8] = { 0 };
	char tmp[64];
	uint64_t v[6];
	size_t mlen = 0, mpad;
	char *meta = NULL;
	int fd = -1, rc;

	if ((meta = meta_text(n, &mlen)) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	if (mlen > STORE_META_MAX) {
		rc = res_set(RES_LIMIT, "CRL store entry: metadata over %u bytes", STORE_META_MAX);
		goto out;
	}
	mpad = (8 - (STORE_HDR + mlen) % 8) % 8;
	v[0] = STORE_HDR;
	v[1] = mlen;
	v[2] = STORE_HDR + mlen + mpad;
	v[3] = n->count;
	v[4] = v[2] + (uint64_t)n->count * STORE_REC;
	v[5] = n->der_len;
	memcpy(hdr, STORE_MAGIC, 8);
	{
		uint64_t fmt = (uint64_t)STORE_HDR << 32 | STORE_FORMAT;
		memcpy(hdr + 8, &fmt, 8);
	}
	memcpy(hdr + 16, v, sizeof(v));

	snprintf(tmp, sizeof(tmp), "%s%.*s-%ld", STORE_TMP, STORE_ID_LEN, name, (long)getpid());
	unlinkat(dirfd, tmp, 0); /* one of ours a killed run with our pid left */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = res_set(RES_IO, "CRL store: %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, hdr, sizeof(hdr)) != 0 || write_all(fd, meta, mlen) != 0 ||
	    write_all(fd, pad, mpad) != 0 ||
	    write_all(fd, n->recs, n->count * (size_t)STORE_REC) != 0)
		goto io;
	testhook_crash("crl-store-mid-put");
	if (write_all(fd, n->der, n->der_len) != 0 || fsync(fd) != 0)
		goto io;
	if (close(fd) != 0) {
		fd = -1;
		goto io;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) != 0)
		goto io;
	if (fsync(dirfd) != 0) {
		rc = res_set(RES_IO, "CRL store: fsync: %s", strerror(errno));
		goto out;
	}
	rc = RES_OK;
	goto out;
io:
	rc = res_set(RES_IO, "CRL store: writing %s: %s", name, strerror(errno));
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlinkat(dirfd, tmp, 0);
out:
	if (fd >= 0)
		close(fd);
	free(meta);
	return rc;
}
