/*
 * serve-int.h - what the parts of tools/serve/ share inside the library:
 * the core's CAs (core.c), their snapshots of the database, the pre-signed
 * responses (cache.c) and the signer threads with the budget (sign.c).
 * Not for callers outside tools/serve/.
 *
 * Locks, always taken in this order (never the other way round):
 *   core->lock (rw: the CA list) -> ca->dbmu (the struct ca, its database
 *   connection) -> ca->lock (rw: snapshot, maps, keys, CRL) -> core->qmu
 *   (queues, budget, token state) -> core->evmu (events).
 * The request path takes core->lock and ca->lock for reading, and qmu only
 * to try the budget: it never waits for the token.
 *
 * The signer threads' jobs, per CA in this order: the CRL (asked for when
 * the revoked set changed, at half life, or none stored matches), the
 * responder certificate's renewal, urgent entries (changed records), normal
 * ones (new certificates, half-life renewals), and while the token is away
 * with nothing else to do, a probe (the keys loaded again) every retry
 * period.  A CA in its retry pause is skipped.
 */
#ifndef P11CA_SRV_INT_H
#define P11CA_SRV_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ca.h"
#include "codec.h"
#include "core.h"

/* CertID algorithms pre-signed: their index in a key (SHA-1, SHA-256). */
enum { SRV_ALG_SHA1 = 0, SRV_ALG_SHA256 = 1, SRV_NALG = 2 };
/* Digests a CertID may name (the CA is found by any): SHA-1, -256, -384, -512. */
#define SRV_NMD 4
/* Unknown serials' responses kept per CA (the oldest evicted). */
#define SRV_UNKNOWN_MAX 4096
/* Failures in a row after which the signer loads the key again. */
#define SRV_RELOAD_AFTER 3
/* Seconds between tries while the token is away; while the PIN is locked. */
#define SRV_RETRY_SECS        2
#define SRV_RETRY_LOCKED_SECS 60
/* Largest ocsp.cache read back (bytes). */
#define SRV_CACHE_FILE_MAX (1024L * 1024 * 1024)
/* Largest crl.der read back. */
#define SRV_CRL_FILE_MAX (512L * 1024 * 1024)

/* One record of the snapshot. */
struct srv_rec {
	unsigned char serial[SRV_SERIAL_MAX];
	unsigned char len;
	char status;        /* 'V' or 'R' */
	signed char reason; /* CRLReason, -1 none */
	int64_t revoked_at; /* R */
	int64_t not_after;
};

/* The records of a CA, sorted by (len, serial). */
struct srv_snap {
	struct srv_rec *v;
	size_t n, cap;
	size_t nrevoked;
};
int srv_snap_read(struct cadb *db, struct srv_snap **ps);
const struct srv_rec *srv_snap_find(const struct srv_snap *s, const unsigned char *serial,
                                    size_t len);
void srv_snap_free(struct srv_snap *s);
/* A serial's text (hex) into magnitude bytes (leading zeros dropped); 0 or -1. */
int srv_serial_from_hex(const char *hex, unsigned char *out, unsigned char *plen);

/* A signed response, immutable once stored. */
struct srv_resp {
	struct srv_blob *blob; /* the whole OCSPResponse */
	int64_t this_update, next_update, revoked_at;
	int status; /* V_OCSP_CERTSTATUS_* */
	int reason;
	char etag[17];
};
/* A response taking over @der (malloc'ed); NULL on ENOMEM (@der freed). */
struct srv_resp *srv_resp_new(unsigned char *der, size_t len, int status, int64_t revoked_at,
                              int reason, int64_t this_update, int64_t next_update);
void srv_resp_free(struct srv_resp *r);
/* Whether @r answers for @rec now (unexpired, the same status and revocation). */
int srv_resp_fits(const struct srv_resp *r, const struct srv_rec *rec, int64_t now);
/* Whether @r should be signed again (past half its life, or not fitting). */
int srv_resp_due(const struct srv_resp *r, const struct srv_rec *rec, int64_t now);

struct srv_key {
	unsigned char serial[SRV_SERIAL_MAX];
	unsigned char len, alg;
};

/* A map entry: a (serial, algorithm) and its response. */
struct srv_entry {
	struct srv_entry *next; /* bucket chain */
	struct srv_key k;
	struct srv_resp *resp; /* NULL: none yet */
	/* under core->qmu */
	struct srv_entry *unext, *nnext; /* urgent and normal queues */
	unsigned char in_u, in_n;
};

struct srv_map {
	struct srv_entry **b;
	size_t nb, n;
};
struct srv_entry *srv_map_find(const struct srv_map *m, const struct srv_key *k);
/* The map key of record @rec's response for CertID algorithm @alg (SRV_ALG_*). */
void srv_key_of_rec(struct srv_key *k, const struct srv_rec *rec, int alg);
/* The entry of @k, made when missing; NULL on ENOMEM. */
struct srv_entry *srv_map_get(struct srv_map *m, const struct srv_key *k);
void srv_map_del(struct srv_map *m, const struct srv_key *k);
void srv_map_free(struct srv_map *m);

/* Who signs for a CA: a library context of its own with the keys loaded in it. */
struct srv_keys {
	atomic_int refs;
	struct srv_keys *base; /* when set: libctx, ca_key and rkey are base's */
	OSSL_LIB_CTX *libctx;
	EVP_PKEY *ca_key;
	EVP_PKEY *rkey; /* the delegated responder's, or NULL */
	X509 *rcert;
	struct srv_signer sg;
	int64_t not_before, not_after; /* of the signer's certificate */
};
struct srv_keys *srv_keys_ref(struct srv_keys *k);
void srv_keys_unref(struct srv_keys *k);

/* A CRL made. */
struct srv_crl {
	struct srv_blob *blob;
	int64_t number, this_update, next_update;
	size_t count;
	char etag[48];
};
void srv_crl_free(struct srv_crl *c);
/* A CRL from its DER (taken), checked against @cacert. */
int srv_crl_from_der(unsigned char *der, size_t len, X509 *cacert, struct srv_crl **pc);

struct srv_ca {
	atomic_int refs;
	struct srv_core *core;
	size_t index; /* of its directory in o->dirs */
	char dir[4096];
	char sdir[4200]; /* D/serve */
	char name[SRV_CA_NAME_MAX];
	struct ca *ca; /* opened without its key; under dbmu */
	pthread_mutex_t dbmu;
	unsigned char cert_sha256[32];
	int64_t cert_not_after;
	struct {
		int nid;
		unsigned char name[SRV_HASH_MAX], key[SRV_HASH_MAX];
		size_t len;
	} h[SRV_NMD];
	char *ocsp_path;
	char **crl_paths; /* NULL-terminated */

	pthread_rwlock_t lock;
	/* under lock */
	struct srv_snap *snap;
	int64_t data_version;
	struct srv_map map; /* every certificate's, both algorithms */
	struct srv_map unk; /* serials not in the snapshot */
	struct srv_entry *unk_ring[SRV_UNKNOWN_MAX];
	size_t unk_head, unk_count;
	struct srv_keys *keys; /* NULL: not loaded (token away) */
	struct srv_crl *crl;
	atomic_int dirty;  /* signed since the last store */
	int64_t store_due; /* monotonic seconds: no store before (poller only) */

	/* under core->qmu */
	struct srv_entry *uq_head, *uq_tail, *nq_head, *nq_tail;
	size_t nqueued;
	int crl_needed; /* times a CRL was asked for since the last one made */
	int crl_busy, renew_needed, renew_busy, probe_busy;
	int token_ok; /* 1 available, 0 not */
	int pin_locked;
	int fails;            /* in a row */
	int reload_keys;      /* load the keys again before the next signature */
	int64_t paused_until; /* monotonic seconds */
	char token_msg[256];

	atomic_ulong sigs, sig_fails;
};
struct srv_ca *srv_ca_ref(struct srv_ca *ca);
void srv_ca_unref(struct srv_ca *ca);

struct srv_core {
	const struct srv_opts *o;
	pthread_rwlock_t lock;
	struct srv_ca **cas; /* under lock */
	size_t ncas;
	int *lock_fds; /* D/serve/lock of each directory */
	size_t ndirs;

	pthread_mutex_t evmu;
	pthread_mutex_t qmu;
	pthread_cond_t qcond;
	/* under qmu */
	struct srv_ca **qcas; /* the CAs the signers visit (references) */
	size_t nqcas, rr;
	double tokens;
	struct timespec refilled;
	unsigned active;
	int stop;

	pthread_t poller;
	int poller_started;
	pthread_t *signers;
	unsigned nsigners;
	atomic_ulong live_sigs;
	struct srv_blob *err[7]; /* the unsigned error responses, by status */
};

/* ---- core.c ---- */
void srv_event(struct srv_core *c, enum srv_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int64_t srv_mono(void);
/* The entry's CertID for signing (the CA's hashes for its algorithm). */
void srv_certid_of(const struct srv_ca *ca, const struct srv_key *k, struct srv_certid *id);

/* ---- cache.c ---- */
/* D/serve made (0700) and D/serve/lock taken; *pfd the lock's descriptor. */
int srv_dir_lock(const char *dir, int *pfd);
/* @data written to @dir/@name atomically (temp, fsync, rename, fsync of @dir). */
int srv_write_atomic(const char *dir, const char *name, const void *data, size_t len);
/* ocsp.cache of @ca written (under ca->lock taken for reading by the caller). */
int srv_cache_save(struct srv_ca *ca, unsigned char **pbuf, size_t *plen);
/* ocsp.cache of @ca read into its map (ca->lock held for writing, snapshot set). */
int srv_cache_load(struct srv_ca *ca, size_t *pkept, size_t *pdropped);
/* crl.der of @ca read (NULL when none or not usable: the message says why). */
int srv_crl_load(struct srv_ca *ca, struct srv_crl **pc);
/* Whether @crl lists exactly the revoked records of @s. */
int srv_crl_matches(const struct srv_crl *crl, const struct srv_snap *s);
/* Stores ocsp.cache of @ca when something was signed since (@force: now, else when due). */
void srv_cache_flush(struct srv_ca *ca, int force);

/* ---- sign.c ---- */
/* Queues @e of @ca (under ca->lock; takes qmu). */
void srv_queue(struct srv_ca *ca, struct srv_entry *e, int urgent);
void srv_queue_flags(struct srv_ca *ca, int crl, int renew);
int srv_signers_start(struct srv_core *c);
void srv_signers_stop(struct srv_core *c);
/* The keys of @ca loaded (dbmu not held by the caller). */
int srv_keys_load(struct srv_ca *ca, struct srv_keys **pk);
/* One try at the budget for a live signature (never waits): 1 taken, 0 not. */
int srv_budget_try(struct srv_core *c);
void srv_budget_release(struct srv_core *c);
/* A signature of @ca failed (@rc, the thread's message) or worked. */
void srv_token_failed(struct srv_ca *ca, int rc, const char *msg);
void srv_token_worked(struct srv_ca *ca);
/* Whether @msg (libp11ca's) says the PIN was refused (wrong), not to be tried again. */
int srv_pin_refused(const char *msg);
/* Whether live signing may be tried for @ca now (token not known away). */
int srv_token_usable(struct srv_ca *ca);
/* Makes @ca's CRL now (the keys loaded); stores it. */
int srv_crl_make(struct srv_ca *ca, struct srv_keys *keys);

#endif
