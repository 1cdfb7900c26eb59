/*
 * bench-evp.c - signatures per second through the p11ca provider
 * (EVP_DigestSignInit_ex + EVP_DigestSign with a key loaded by OSSL_STORE
 * from its pkcs11: URI) beside a bare PKCS#11 loop (C_SignInit + C_Sign over
 * a precomputed SHA-256 digest, one session per thread) on the same token key,
 * in alternating rounds so all see the same conditions.  The provider is
 * measured two ways: a new EVP_MD_CTX and EVP_DigestSignInit_ex per signature
 * (what most programs do; OpenSSL's own fetching is part of it), and one
 * context per thread re-initialised with EVP_DigestSignInit_ex(ctx, NULL,
 * "SHA256", ..., NULL key) (OpenSSL 3.0 keeps the key and the algorithm).
 *
 *   bench-evp --provider-dir DIR --module PATH --token LABEL --pin-file FILE
 *             --label KEY [--threads N] [--seconds S]
 *
 * The provider p11ca.so is loaded from DIR, configured through P11CA_MODULE
 * and P11CA_PIN_FILE (set here from --module and --pin-file).  Prints one
 * line: key, threads, raw/s, provider/s, ratio, provider (reused ctx)/s,
 * ratio.  Each side is timed over its signing loop alone (thread start, the
 * bare side's session, login and key search are not in it).  A sample of
 * every side's signatures (bare ones too) is verified with the default
 * provider; exit 1 if one fails.
 */
#include "config.h"

#include <dlfcn.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <p11-kit/pkcs11.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#define ROUNDS      12
#define MAX_THREADS 16

static struct {
	const char *provider_dir, *module, *token, *pin_file, *label;
	int threads;
	double seconds;
} opt = { .threads = 1, .seconds = 4.0 };

static CK_FUNCTION_LIST *fl;
static CK_SLOT_ID slot;
static EVP_PKEY *key; /* through the provider */
static EVP_PKEY *pub; /* its public half, in the default provider */
static int is_rsa;
static unsigned char digest[32];
static unsigned char raw_in[64]; /* what the bare loop signs: digest or DigestInfo */
static CK_ULONG raw_inlen;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	fprintf(stderr, "bench-evp: %s\n", what);
	ERR_print_errors_fp(stderr);
	return 1;
}

/* ---- the bare PKCS#11 side ---- */

static int read_pin(char *buf, size_t size)
{
	FILE *f = fopen(opt.pin_file, "r");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return n > 0;
}

static int raw_open(void)
{
	CK_C_GetFunctionList get_list;
	CK_C_INITIALIZE_ARGS args;
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, i;
	void *dl = dlopen(opt.module, RTLD_NOW | RTLD_LOCAL);
	CK_RV rv;

	if (dl == NULL ||
	    (get_list = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList")) == NULL ||
	    get_list(&fl) != CKR_OK)
		return 0;
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	/* the provider may have initialised it already: the same module in this process */
	rv = fl->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return 0;
	if (fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return 0;
	for (i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		size_t len = strlen(opt.token);
		if (fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (len <= sizeof(ti.label) && memcmp(ti.label, opt.token, len) == 0 &&
		    (len == sizeof(ti.label) || ti.label[len] == ' ')) {
			slot = slots[i];
			return 1;
		}
	}
	return 0;
}

/* A session, logged in (login state is per application), and the key in it. */
static int raw_session(CK_SESSION_HANDLE *ps, CK_OBJECT_HANDLE *pk)
{
	CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[2];
	CK_ULONG found = 0;
	char pin[256];
	CK_RV rv;

	tmpl[0].type = CKA_CLASS;
	tmpl[0].pValue = &klass;
	tmpl[0].ulValueLen = sizeof(klass);
	tmpl[1].type = CKA_LABEL;
	tmpl[1].pValue = (void *)opt.label;
	tmpl[1].ulValueLen = strlen(opt.label);
	if (fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, ps) != CKR_OK)
		return 0;
	if (!read_pin(pin, sizeof(pin)))
		return 0;
	rv = fl->C_Login(*ps, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
	memset(pin, 0, sizeof(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return 0;
	if (fl->C_FindObjectsInit(*ps, tmpl, 2) != CKR_OK)
		return 0;
	rv = fl->C_FindObjects(*ps, pk, 1, &found);
	(void)fl->C_FindObjectsFinal(*ps);
	return rv == CKR_OK && found == 1;
}

/* ---- the rounds ---- */

enum mode { RAW, FRESH, REUSED, NMODES };

struct worker {
	enum mode mode;
	double seconds;
	double
	    elapsed; /* the signing loop alone (the bare side's session and login are not in it) */
	unsigned long count;
	int failed;
	unsigned char sample[1024];
	size_t samplelen;
	char msg[64];
	pthread_t tid;
};

static void *work(void *p)
{
	struct worker *w = p;
	double start = now(), end = start + w->seconds;
	unsigned char sig[1024];

	if (w->mode == RAW) {
		CK_SESSION_HANDLE s;
		CK_OBJECT_HANDLE k;
		CK_MECHANISM mech;
		mech.mechanism = is_rsa ? CKM_RSA_PKCS : CKM_ECDSA;
		mech.pParameter = NULL;
		mech.ulParameterLen = 0;
		if (!raw_session(&s, &k)) {
			w->failed = 1;
			return NULL;
		}
		/* the session and login are set-up, not signing: time from here */
		start = now();
		end = start + w->seconds;
		while (now() < end) {
			CK_ULONG len = sizeof(sig);
			if (fl->C_SignInit(s, &mech, k) != CKR_OK ||
			    fl->C_Sign(s, raw_in, raw_inlen, sig, &len) != CKR_OK) {
				w->failed = 1;
				break;
			}
			if ((w->count & 63) == 0) {
				memcpy(w->sample, sig, len);
				w->samplelen = len;
			}
			w->count++;
		}
		w->elapsed = now() - start;
		(void)fl->C_CloseSession(s);
		return NULL;
	}
	if (w->mode == REUSED) {
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();
		EVP_PKEY *k = key;
		while (now() < end) {
			size_t len = sizeof(sig);
			/* the first init names the key, later ones re-initialise */
			if (mctx == NULL ||
			    EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, k, NULL) != 1 ||
			    EVP_DigestSign(mctx, sig, &len, (const unsigned char *)w->msg,
			                   strlen(w->msg)) != 1) {
				w->failed = 1;
				break;
			}
			k = NULL;
			if ((w->count & 63) == 0) {
				memcpy(w->sample, sig, len);
				w->samplelen = len;
			}
			w->count++;
		}
		w->elapsed = now() - start;
		EVP_MD_CTX_free(mctx);
		return NULL;
	}
	while (now() < end) {
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();
		size_t len = sizeof(sig);
		/* what a program does for each signature */
		if (mctx == NULL ||
		    EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, key, NULL) != 1 ||
		    EVP_DigestSign(mctx, sig, &len, (const unsigned char *)w->msg,
		                   strlen(w->msg)) != 1) {
			EVP_MD_CTX_free(mctx);
			w->failed = 1;
			break;
		}
		EVP_MD_CTX_free(mctx);
		if ((w->count & 63) == 0) {
			memcpy(w->sample, sig, len);
			w->samplelen = len;
		}
		w->count++;
	}
	w->elapsed = now() - start;
	return NULL;
}

/* A bare signature over @digest: PKCS#1 v1.5 (C_Sign over the DigestInfo) or ECDSA r || s. */
static int verify_raw_sample(struct worker *w)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pub, "provider=default");
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char der[160], *p = der, *sig = w->sample;
	size_t len = w->samplelen, half = w->samplelen / 2;
	int ok = 0, n;

	if (pc == NULL)
		return 0;
	if (!is_rsa) {
		if ((es = ECDSA_SIG_new()) == NULL ||
		    (r = BN_bin2bn(w->sample, (int)half, NULL)) == NULL ||
		    (s = BN_bin2bn(w->sample + half, (int)half, NULL)) == NULL ||
		    ECDSA_SIG_set0(es, r, s) != 1)
			goto out;
		r = s = NULL; /* transferred */
		if ((n = i2d_ECDSA_SIG(es, NULL)) <= 0 || (size_t)n > sizeof(der) ||
		    i2d_ECDSA_SIG(es, &p) != n)
			goto out;
		sig = der;
		len = (size_t)n;
	}
	ok = EVP_PKEY_verify_init(pc) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
	     EVP_PKEY_verify(pc, sig, len, digest, sizeof(digest)) == 1;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(pc);
	return ok;
}

static int verify_sample(struct worker *w)
{
	EVP_MD_CTX *mctx;
	int ok;

	if (w->mode == RAW)
		return verify_raw_sample(w);
	mctx = EVP_MD_CTX_new();
	ok = mctx != NULL &&
	     EVP_DigestVerifyInit_ex(mctx, NULL, "SHA256", NULL, "provider=default", pub, NULL) ==
	         1 &&
	     EVP_DigestVerify(mctx, w->sample, w->samplelen, (const unsigned char *)w->msg,
	                      strlen(w->msg)) == 1;

	EVP_MD_CTX_free(mctx);
	return ok;
}

static int round_run(enum mode mode, double seconds, unsigned long *count, double *elapsed,
                     int *bad)
{
	struct worker w[MAX_THREADS];
	double longest = 0;
	int i, ok = 1;

	memset(w, 0, sizeof(w));
	for (i = 0; i < opt.threads; i++) {
		w[i].mode = mode;
		w[i].seconds = seconds;
		snprintf(w[i].msg, sizeof(w[i].msg), "bench message %d", i);
		if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0)
			return 0;
	}
	for (i = 0; i < opt.threads; i++) {
		pthread_join(w[i].tid, NULL);
		*count += w[i].count;
		ok &= !w[i].failed;
		if (w[i].count > 0 && !verify_sample(&w[i]))
			(*bad)++;
		/* the loops run side by side: the longest is the round's time */
		if (w[i].elapsed > longest)
			longest = w[i].elapsed;
	}
	*elapsed += longest;
	return ok;
}

static EVP_PKEY *load_key(const char *uri)
{
	OSSL_STORE_CTX *store = OSSL_STORE_open_ex(uri, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	EVP_PKEY *pkey = NULL;

	if (store != NULL && OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY) == 1) {
		while (pkey == NULL && !OSSL_STORE_eof(store)) {
			OSSL_STORE_INFO *info = OSSL_STORE_load(store);
			if (info == NULL)
				break;
			if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
				pkey = OSSL_STORE_INFO_get1_PKEY(info);
			OSSL_STORE_INFO_free(info);
		}
	}
	OSSL_STORE_close(store);
	return pkey;
}

int main(int argc, char **argv)
{
	/* clang-format off */
	static const struct option longopts[] = {
		{ "provider-dir", required_argument, NULL, 'P' }, { "module", required_argument, NULL, 'm' },
		{ "token", required_argument, NULL, 't' },        { "pin-file", required_argument, NULL, 'p' },
		{ "label", required_argument, NULL, 'l' },        { "threads", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },      { NULL, 0, NULL, 0 },
	};
	/* DER DigestInfo prefix of SHA-256 (PKCS#1 v1.5) */
	static const unsigned char sha256_prefix[] = {
		0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
	};
	/* clang-format on */
	unsigned long count[NMODES] = { 0 };
	double elapsed[NMODES] = { 0 }, rate[NMODES];
	unsigned char *der = NULL;
	const unsigned char *p;
	char uri[512];
	int c, r, m, bad = 0, len;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'P': opt.provider_dir = optarg; break;
		case 'm': opt.module = optarg; break;
		case 't': opt.token = optarg; break;
		case 'p': opt.pin_file = optarg; break;
		case 'l': opt.label = optarg; break;
		case 'n': opt.threads = atoi(optarg); break;
		case 's': opt.seconds = atof(optarg); break;
		default: return 2;
		}
	}
	if (opt.provider_dir == NULL || opt.module == NULL || opt.token == NULL ||
	    opt.pin_file == NULL || opt.label == NULL || opt.threads < 1 ||
	    opt.threads > MAX_THREADS || opt.seconds <= 0) {
		fprintf(stderr, "usage: bench-evp --provider-dir DIR --module PATH --token LABEL "
		                "--pin-file FILE --label KEY [--threads N] [--seconds S]\n");
		return 2;
	}

	/* the provider module as installed: by name from its directory */
	if (setenv("P11CA_MODULE", opt.module, 1) != 0 ||
	    setenv("P11CA_PIN_FILE", opt.pin_file, 1) != 0)
		return die("setenv");
	if (OSSL_PROVIDER_set_default_search_path(NULL, opt.provider_dir) != 1 ||
	    OSSL_PROVIDER_load(NULL, "default") == NULL ||
	    OSSL_PROVIDER_load(NULL, "p11ca") == NULL)
		return die("cannot load the p11ca provider");
	snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s", opt.token, opt.label);
	if ((key = load_key(uri)) == NULL)
		return die("cannot load the key through OSSL_STORE");
	if (strcmp(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(key)), "p11ca") != 0)
		return die("the key is not the p11ca provider's");
	is_rsa = EVP_PKEY_is_a(key, "RSA");
	if (!is_rsa && !EVP_PKEY_is_a(key, "EC"))
		return die("only RSA and EC keys are measured");
	/* the public half, in the default provider */
	len = i2d_PUBKEY(key, &der);
	p = der;
	if (len <= 0 || (pub = d2i_PUBKEY_ex(NULL, &p, len, NULL, "provider=default")) == NULL)
		return die("cannot read the public key");
	OPENSSL_free(der);

	if (!raw_open())
		return die("cannot open the PKCS#11 module and token for the bare loop");
	memset(digest, 0x5a, sizeof(digest));
	if (is_rsa) {
		memcpy(raw_in, sha256_prefix, sizeof(sha256_prefix));
		memcpy(raw_in + sizeof(sha256_prefix), digest, sizeof(digest));
		raw_inlen = sizeof(sha256_prefix) + sizeof(digest);
	} else {
		memcpy(raw_in, digest, sizeof(digest));
		raw_inlen = sizeof(digest);
	}

	/* warm up every path (login, session pool, caches) outside the clock */
	for (m = 0; m < NMODES; m++)
		if (!round_run((enum mode)m, 0.2, &count[m], &elapsed[m], &bad))
			return die("signing failed while warming up");
	memset(count, 0, sizeof(count));
	memset(elapsed, 0, sizeof(elapsed));
	bad = 0;
	/* rounds of raw, fresh, reused in a rotating order */
	for (r = 0; r < ROUNDS; r++) {
		double slice = opt.seconds / (NMODES * ROUNDS);
		for (m = 0; m < NMODES; m++) {
			int mode = (r + m) % NMODES;
			if (!round_run((enum mode)mode, slice, &count[mode], &elapsed[mode], &bad))
				return die("signing failed");
		}
	}
	for (m = 0; m < NMODES; m++)
		rate[m] = elapsed[m] > 0 ? (double)count[m] / elapsed[m] : 0;
	printf("%-10s %7d %12.0f %12.0f %8.3f %12.0f %8.3f\n", opt.label, opt.threads, rate[RAW],
	       rate[FRESH], rate[RAW] > 0 ? rate[FRESH] / rate[RAW] : 0, rate[REUSED],
	       rate[RAW] > 0 ? rate[REUSED] / rate[RAW] : 0);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	if (bad != 0) {
		fprintf(stderr, "bench-evp: %d sampled signatures did not verify\n", bad);
		return 1;
	}
	return 0;
}
