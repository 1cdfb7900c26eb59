/* bench.c - signatures per second: bare PKCS#11 beside libp11ca. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/ec.h>

#include "internal.h"

struct bench_thread {
	p11ca_key *key;
	int raw; /* 1: bare loop, 0: library */
	double seconds;
	double elapsed; /* the timed loop alone: no thread start, no session open/close */
	unsigned long count;
	unsigned char last_sig[1200]; /* verified after the timed part */
	size_t last_siglen;
	CK_RV rv;
	pthread_t tid;
	EVP_PKEY *pub;
	struct p11ca_sig_params params;
	const unsigned char *dgst;
	size_t dgstlen;
	const unsigned char *raw_in; /* what the bare loop feeds C_Sign */
	size_t raw_inlen;
	CK_MECHANISM_TYPE raw_mech;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* @sig (r || s, as CKM_ECDSA gives it) as DER into @der; its length or 0. */
static size_t ecdsa_der(const unsigned char *sig, size_t siglen, unsigned char *der, size_t cap)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)(siglen / 2), NULL);
	BIGNUM *s = BN_bin2bn(sig + siglen / 2, (int)(siglen / 2), NULL);
	unsigned char *p = der;
	size_t len = 0;
	int n;

	if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL; /* transferred */
		if ((n = i2d_ECDSA_SIG(es, NULL)) > 0 && (size_t)n <= cap &&
		    i2d_ECDSA_SIG(es, &p) == n)
			len = (size_t)n;
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return len;
}

static int verify_sig(struct bench_thread *bt, const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *vctx = EVP_PKEY_CTX_new(bt->pub, NULL);
	unsigned char der[160];
	int ok = 0;

	if (vctx == NULL)
		return 0;
	/* the bare loop's ECDSA signatures are r || s; the library's are DER */
	if (bt->raw && bt->raw_mech == CKM_ECDSA) {
		if ((siglen = ecdsa_der(sig, siglen, der, sizeof(der))) == 0) {
			EVP_PKEY_CTX_free(vctx);
			return 0;
		}
		sig = der;
	}
	if (bt->params.alg == P11CA_SIG_EDDSA) {
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();
		ok = mctx != NULL && EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, bt->pub) == 1 &&
		     EVP_DigestVerify(mctx, sig, siglen, bt->dgst, bt->dgstlen) == 1;
		EVP_MD_CTX_free(mctx);
	} else {
		ok = EVP_PKEY_verify_init(vctx) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(vctx, bt->params.md) == 1 &&
		     EVP_PKEY_verify(vctx, sig, siglen, bt->dgst, bt->dgstlen) == 1;
	}
	EVP_PKEY_CTX_free(vctx);
	return ok;
}

static void *bench_main(void *arg)
{
	struct bench_thread *bt = arg;
	p11ca_token *t = bt->key->token;
	CK_FUNCTION_LIST *fl = t->mod->fl;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_MECHANISM mech = { bt->raw_mech, NULL, 0 };
	unsigned char sig[1200];
	double start, end;

	if (bt->raw) {
		/* logged in already (login state is per application); the session
		 * is opened and closed outside the timed loop, as the library's
		 * pool keeps its sessions open */
		bt->rv =
		    fl->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
		if (bt->rv != CKR_OK)
			return NULL;
		start = now();
		end = start + bt->seconds;
		while (now() < end) {
			CK_ULONG len = sizeof(sig);
			if ((bt->rv = fl->C_SignInit(s, &mech, bt->key->handle)) != CKR_OK ||
			    (bt->rv = fl->C_Sign(s, (CK_BYTE *)bt->raw_in, bt->raw_inlen, sig,
			                         &len)) != CKR_OK)
				break;
			/* keep a sample, as the library side does */
			if ((bt->count & 255) == 0) {
				memcpy(bt->last_sig, sig, len);
				bt->last_siglen = len;
			}
			bt->count++;
		}
		bt->elapsed = now() - start;
		(void)fl->C_CloseSession(s);
		return NULL;
	}
	start = now();
	end = start + bt->seconds;
	while (now() < end) {
		size_t len = sizeof(sig);
		bt->rv =
		    p11ca_key_sign_digest(bt->key, &bt->params, bt->dgst, bt->dgstlen, sig, &len);
		if (bt->rv != CKR_OK)
			break;
		/* keep a sample; it is checked outside the timed part */
		if ((bt->count & 255) == 0) {
			memcpy(bt->last_sig, sig, len);
			bt->last_siglen = len;
		}
		bt->count++;
	}
	bt->elapsed = now() - start;
	return NULL;
}

static CK_RV run_round(struct bench_thread *proto, int threads, int raw, double seconds,
                       unsigned long *pcount, unsigned long *pbad, double *pelapsed)
{
	struct bench_thread *bt = calloc((size_t)threads, sizeof(*bt));
	double elapsed = 0;
	CK_RV rv = CKR_OK;
	int i;

	if (bt == NULL)
		return CKR_HOST_MEMORY;
	for (i = 0; i < threads; i++) {
		bt[i] = *proto;
		bt[i].raw = raw;
		bt[i].seconds = seconds;
		if (pthread_create(&bt[i].tid, NULL, bench_main, &bt[i]) != 0) {
			threads = i;
			rv = CKR_GENERAL_ERROR;
			break;
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(bt[i].tid, NULL);
		*pcount += bt[i].count;
		if (bt[i].rv != CKR_OK && rv == CKR_OK)
			rv = bt[i].rv;
		/* the threads' timed loops run side by side: the longest is the round's time */
		if (bt[i].elapsed > elapsed)
			elapsed = bt[i].elapsed;
	}
	*pelapsed += elapsed;
	for (i = 0; i < threads; i++)
		if (bt[i].count > 0 && !verify_sig(&bt[i], bt[i].last_sig, bt[i].last_siglen))
			(*pbad)++;
	free(bt);
	return rv;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

P11CA_EXPORT CK_RV p11ca_bench_sign(p11ca_key *key, int threads, double seconds,
                                    struct p11ca_bench_result *res)
{
	enum { rounds = 8 };
	double raw_rate[rounds], lib_rate[rounds], ratio[rounds];
	unsigned char dgst[32], dinfo[64], sig[1200];
	size_t dinfolen = sizeof(dinfo), siglen = sizeof(sig);
	struct bench_thread proto;
	double raw_time = 0, lib_time = 0;
	unsigned long bad_raw = 0;
	CK_RV rv;
	int r;

	memset(res, 0, sizeof(*res));
	memset(&proto, 0, sizeof(proto));
	if (threads < 1 || seconds <= 0)
		return p11ca_err(CKR_ARGUMENTS_BAD,
		                 "bench needs at least one thread and some time");
	memset(dgst, 0x5a, sizeof(dgst));
	proto.key = key;
	proto.dgst = dgst;
	proto.dgstlen = sizeof(dgst);
	proto.params.md = EVP_sha256();
	proto.params.pss_saltlen = -1;
	switch (key->kind) {
	case P11CA_KEY_RSA:
		proto.params.alg = P11CA_SIG_RSA_PKCS1;
		if ((rv = p11ca_digest_info(EVP_sha256(), dgst, sizeof(dgst), dinfo, &dinfolen)) !=
		    CKR_OK)
			return rv;
		proto.raw_in = dinfo;
		proto.raw_inlen = dinfolen;
		proto.raw_mech = CKM_RSA_PKCS;
		break;
	case P11CA_KEY_EC:
		proto.params.alg = P11CA_SIG_ECDSA;
		proto.raw_in = dgst;
		proto.raw_inlen = sizeof(dgst);
		proto.raw_mech = CKM_ECDSA;
		break;
	case P11CA_KEY_ED25519:
		proto.params.alg = P11CA_SIG_EDDSA;
		proto.params.md = NULL;
		proto.raw_in = dgst;
		proto.raw_inlen = sizeof(dgst);
		proto.raw_mech = CKM_EDDSA;
		break;
	default: return p11ca_err(P11CA_R_UNSUPPORTED, "cannot bench this key type");
	}
	if ((rv = p11ca_key_get_public(key, &proto.pub)) != CKR_OK)
		return rv;
	/* warm up: logs in, fills the pool, makes sure the handle is fresh */
	if ((rv = p11ca_key_sign_digest(key, &proto.params, dgst, sizeof(dgst), sig, &siglen)) !=
	    CKR_OK)
		goto out;
	for (r = 0; r < rounds; r++) {
		/* alternate which side goes first so drift hits both alike; a
		 * short burst of other load spoils one pair, not the result */
		unsigned long rc0 = res->raw_count, lc0 = res->lib_count;
		double rt0 = raw_time, lt0 = lib_time;
		int first_raw = (r % 2 == 0), k;
		for (k = 0; k < 2 && rv == CKR_OK; k++) {
			int raw = k == 0 ? first_raw : !first_raw;
			rv = run_round(&proto, threads, raw, seconds / (2 * rounds),
			               raw ? &res->raw_count : &res->lib_count,
			               raw ? &bad_raw : &res->verify_failures,
			               raw ? &raw_time : &lib_time);
		}
		if (rv != CKR_OK)
			break;
		raw_rate[r] = (double)(res->raw_count - rc0) / (raw_time - rt0);
		lib_rate[r] = (double)(res->lib_count - lc0) / (lib_time - lt0);
		ratio[r] = raw_rate[r] > 0 ? lib_rate[r] / raw_rate[r] : 0;
	}
	if (rv != CKR_OK) {
		if (p11ca_error_message()[0] == '\0')
			p11ca_err(rv, "bench signing failed: %s", p11ca_rv_text(rv));
		goto out;
	}
	/* a bare signature that does not verify spoils the comparison as much */
	res->verify_failures += bad_raw;
	res->raw_per_sec = raw_time > 0 ? (double)res->raw_count / raw_time : 0;
	res->lib_per_sec = lib_time > 0 ? (double)res->lib_count / lib_time : 0;
	qsort(ratio, rounds, sizeof(ratio[0]), cmp_double);
	res->ratio = (ratio[rounds / 2 - 1] + ratio[rounds / 2]) / 2;
out:
	EVP_PKEY_free(proto.pub);
	return rv;
}
