/*
 * store-int.h - the CRL store's entry files (store-entry.c), shared by
 * store.c and the tests.  Internal to tools/rev/.
 *
 * One file per entry, "ID.crl" in the store folder (ID: 16 hex digits of
 * SHA-256(issuer name DER || issuer SubjectPublicKeyInfo DER), then "-d"
 * for a downloaded CRL or "-m" for a manual one):
 *
 *   header   64 bytes: "P11CACRL", u32 format (1), u32 header size (64),
 *            u64 meta offset, meta length, index offset, index count,
 *            DER offset, DER length (host byte order: the store is local)
 *   meta     JSON object: the struct rev_crl_info fields, the issuer key
 *            hash and the SHA-256 of the DER
 *   index    count records of 32 bytes, sorted by (serial length, serial):
 *            u8 serial length, u8 reason (0xff none), 22 serial octets
 *            (INTEGER content, leading zeros dropped, zero padded),
 *            i64 revocationDate
 *   DER      the CRL as received
 *
 * Written to ".tmp-ID-PID" (a name no reader takes for an entry), fsync'd,
 * renamed over ID.crl, the folder fsync'd: a reader's mmap sees the old
 * file or the new one, never a mix.
 */
#ifndef P11CA_REV_STORE_INT_H
#define P11CA_REV_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crlscan.h"
#include "store.h"

#define STORE_MAGIC    "P11CACRL"
#define STORE_FORMAT   1u
#define STORE_HDR      64
#define STORE_REC      32
#define STORE_ID_HEX   16 /* hex digits of the issuer hash in an id */
#define STORE_ID_LEN   (STORE_ID_HEX + 2)
#define STORE_SUFFIX   ".crl"
#define STORE_TMP      ".tmp-"
#define STORE_LOCKFILE ".lock"

struct store_rec {
	uint8_t len;
	uint8_t reason;
	uint8_t serial[CRLSCAN_SERIAL_MAX];
	int64_t revoked_at;
};

/* One entry file, mapped read-only. */
struct store_entry {
	unsigned char *map;
	size_t size;
	struct rev_crl_info info;
	char issuer_key[65]; /* hex SHA-256 of issuer name + key */
	char sha256[65];     /* hex SHA-256 of the DER */
	const unsigned char *index;
	uint64_t count;
	const unsigned char *der;
	size_t der_len;
	dev_t dev; /* the file mapped: while it is, its inode number is not reused */
	ino_t ino;
};

/*
 * Maps the entry @name in folder @dirfd (never through a symbolic link:
 * RES_POLICY), checking every offset: RES_NOT_FOUND when missing,
 * RES_BAD_INPUT for a file that is not a whole entry.
 */
int store_entry_open(int dirfd, const char *name, struct store_entry *e);
void store_entry_close(struct store_entry *e);
/* Binary search of @serial (@len octets, leading zeros dropped); NULL when not listed. */
const unsigned char *store_entry_find(const struct store_entry *e, const unsigned char *serial,
                                      size_t len, int *preason, int64_t *prevoked);

/* What a new entry file holds. */
struct store_new {
	const struct rev_crl_info *info;
	const char *issuer_key, *sha256;
	const struct store_rec *recs; /* sorted */
	size_t count;
	const unsigned char *der;
	size_t der_len;
};
/* Writes @n to @name in @dirfd atomically (temp, fsync, rename, folder fsync). */
int store_entry_write(int dirfd, const char *name, const struct store_new *n);

/*
 * Entries a lookup mapped stay mapped for the next lookup in the same
 * process as long as the name still holds the same file (an fstatat, not
 * an open, mmap, page faults and a metadata parse).
 */
#define STORE_CACHE 4
struct rev_store {
	int dirfd; /* the folder, opened O_NOFOLLOW: every entry is opened at it */
	char *dir;
	struct store_entry cache[STORE_CACHE];
	char cache_name[STORE_CACHE][STORE_ID_LEN + 8];
	unsigned cache_next;
};
/* The entry @name, mapped or from the cache (valid until the next call or close). */
int store_entry_cached(struct rev_store *s, const char *name, const struct store_entry **pe);
/* Unmaps every cached entry. */
void store_cache_clear(struct rev_store *s);
/* The writers' lock: *pfd holds LOCK_EX on ".lock" until closed (store.c). */
int store_lock(struct rev_store *s, int *pfd);
/* Hex SHA-256 of @issuer's subject name DER and SubjectPublicKeyInfo DER (store.c). */
int store_issuer_key(X509 *issuer, char out[65]);
/* "ID.crl" of the issuer hash @key and origin @o (store.c). */
void store_entry_name(const char *key, enum rev_origin o, char *out, size_t cap);
/* A deep copy of @src (store.c). */
int store_info_copy(struct rev_crl_info *dst, const struct rev_crl_info *src);

/* Orders index records (qsort). */
int store_rec_cmp(const void *a, const void *b);

#endif
