/*
 * test-serve-core.c - the core of 'p11ca serve' (tools/serve/core.h)
 * without HTTP: a CA on a SoftHSM2 token (made with the p11ca command),
 * reached through tests/fault-module.so so that the test can take the
 * token away; requests built with OpenSSL (OCSP_cert_to_id, SHA-1 and
 * SHA-256), answers checked with OpenSSL (OCSP_basic_verify against the
 * CA certificate, OCSP_resp_find_status; the CRL with X509_CRL_verify).
 */
#include "config.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca.h"
#include "core.h"
#include "fault-module.h"
#include "pki.h"
#include "result.h"
#include "unit-helpers.h"

#define NCERTS 3

static struct uh_token tok;
static char cadir[1200], fault_path[1200];
static void *fault_handle;
static void (*f_set_flags)(const char *, CK_RV, int, unsigned);
static void (*f_clear)(void);
static X509 *cacert, *certs[NCERTS], *other_ca;
static EVP_PKEY *other_key;
static char serials[NCERTS][CADB_SERIAL_MAX];
static struct srv_opts opts;
static const char *dirs[2];
static struct srv_core *core;

static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static char events[16384];

static void on_event(void *arg, enum srv_level level, const char *line)
{
	(void)arg;
	pthread_mutex_lock(&ev_mu);
	if (strlen(events) + strlen(line) + 8 >= sizeof(events)) {
		/* full (a loaded machine retries more): keep the newer half */
		size_t half = strlen(events) / 2;
		memmove(events, events + half, strlen(events + half) + 1);
	}
	if (strlen(events) + strlen(line) + 8 < sizeof(events))
		snprintf(events + strlen(events), sizeof(events) - strlen(events), "%d %s\n",
		         (int)level, line);
	pthread_mutex_unlock(&ev_mu);
}

static int events_have(const char *needle)
{
	int r;

	pthread_mutex_lock(&ev_mu);
	r = strstr(events, needle) != NULL;
	pthread_mutex_unlock(&ev_mu);
	return r;
}

static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The event is told after the state changed: waits (bounded) for it. */
static int events_wait(const char *needle, double secs)
{
	double end = now_s() + secs;

	while (!events_have(needle) && now_s() < end)
		nap_ms(20);
	return events_have(needle);
}

/*
 * The token as unplugged (1) or back (0), through the fault module.  The
 * calls fail without the sessions closed behind the library's back
 * (FAULT_REAL): SoftHSM2 itself is not safe against C_CloseAllSessions while
 * another thread works in one of them, which a real removal does not do.
 */
static void unplug(int on)
{
	static const char *fns[] = { "C_FindObjectsInit", "C_OpenSession", "C_Login", "C_SignInit",
		                     "C_Sign" };
	size_t i;

	if (!on) {
		f_clear();
		return;
	}
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		f_set_flags(fns[i], CKR_TOKEN_NOT_PRESENT, -1, 0);
}

static int setup(void **state)
{
	struct ca_open_opts oo = { NULL, NULL, 1, 1, NULL };
	struct ca_issue_opts io = { CA_SERVER, 30, "sha256", 0, 1, 0, NULL, NULL };
	struct ca_req reqs[NCERTS];
	unsigned char *csr[NCERTS];
	X509_NAME *name;
	char cn[64];
	int i, rc;

	(void)state;
	if (setenv("SOFTHSM_MODULE", uh_softhsm_module(), 0) != 0)
		return -1;
	snprintf(fault_path, sizeof(fault_path), "%s/.libs/fault-module.so", uh_top_builddir());
	if ((fault_handle = dlopen(fault_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "test-serve-core: %s\n", dlerror());
		return -1;
	}
	*(void **)&f_set_flags = dlsym(fault_handle, "fault_set_flags");
	*(void **)&f_clear = dlsym(fault_handle, "fault_clear");
	if (f_set_flags == NULL || f_clear == NULL)
		return -1;
	if ((rc = uh_token_make(&tok)) != 0)
		return -1; /* no SoftHSM2 is a failure here, not a skip */
	snprintf(cadir, sizeof(cadir), "%.500s/servedca", tok.dir);
	if (sh("'%s/p11ca' ca init --module '%s' --pin-file '%s' --dir '%s' --new-key ec:p256 "
	       "--token '%s' --label servekey --subject '/O=p11ca test/CN=Serve CA' </dev/null",
	       uh_top_builddir(), uh_softhsm_module(), tok.pin_file, cadir, tok.uri) != 0)
		return -1;
	oo.module = fault_path;
	oo.pin_file = tok.pin_file;
	struct ca *ca = NULL;
	if (ca_open(cadir, &oo, &ca) != RES_OK) {
		fprintf(stderr, "ca_open: %s\n", res_message());
		return -1;
	}
	memset(reqs, 0, sizeof(reqs));
	for (i = 0; i < NCERTS; i++) {
		snprintf(cn, sizeof(cn), "host%d.example.com", i);
		csr[i] = uh_make_csr(cn, NULL, &reqs[i].csr_len);
		reqs[i].csr = csr[i];
		reqs[i].name = "csr";
	}
	rc = ca_issue(ca, &io, reqs, NCERTS);
	if (rc != RES_OK)
		fprintf(stderr, "ca_issue: %s\n", res_message());
	for (i = 0; i < NCERTS; i++) {
		if (rc == RES_OK) {
			certs[i] = reqs[i].cert;
			reqs[i].cert = NULL;
			snprintf(serials[i], sizeof(serials[i]), "%s", reqs[i].row.serial);
		}
		ca_req_free(&reqs[i]);
		free(csr[i]);
	}
	cacert = X509_dup(ca->cert);
	ca_close(ca);
	if (rc != RES_OK)
		return -1;
	/* a CA this server does not serve */
	other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"Other CA", -1,
	                           -1, 0);
	rc = ca_make_root(NULL, other_key, name, 30, "sha256", -1, &other_ca);
	X509_NAME_free(name);
	if (rc != RES_OK)
		return -1;

	memset(&opts, 0, sizeof(opts));
	dirs[0] = cadir;
	dirs[1] = NULL;
	opts.dirs = dirs;
	opts.module = fault_path;
	opts.pin_file = tok.pin_file;
	opts.nonce = SRV_NONCE_IGNORE;
	opts.sign_rate = 200;
	opts.sign_sessions = 2;
	opts.validity = 3600;
	opts.max_age = 3600;
	opts.max_request = 16384;
	opts.conn_timeout = 10;
	opts.max_conns = 64;
	opts.poll_ms = 100;
	opts.event = on_event;
	return 0;
}

static int teardown(void **state)
{
	int i;

	(void)state;
	srv_core_free(core);
	core = NULL;
	if (f_clear != NULL)
		f_clear();
	for (i = 0; i < NCERTS; i++)
		X509_free(certs[i]);
	X509_free(cacert);
	X509_free(other_ca);
	EVP_PKEY_free(other_key);
	uh_token_remove(&tok);
	if (fault_handle != NULL)
		dlclose(fault_handle);
	return 0;
}

/* What an answer said. */
struct answer {
	int rstatus;        /* OCSPResponseStatus */
	int status, reason; /* of the single response, -1 none */
	int verified;       /* OCSP_basic_verify against the CA */
	int live;
	int64_t expires;
	char etag[48];
};

/* The request for @id (consumed) as DER. */
static unsigned char *req_der(OCSP_CERTID *id, int *plen)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;

	assert_non_null(req);
	assert_non_null(OCSP_request_add0_id(req, id));
	*plen = i2d_OCSP_REQUEST(req, &der);
	assert_true(*plen > 0);
	OCSP_REQUEST_free(req);
	return der;
}

static void read_answer(const struct srv_reply *rep, OCSP_CERTID *id, struct answer *a)
{
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	X509_STORE *store;
	STACK_OF(X509) * sk;
	ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;

	memset(a, 0, sizeof(*a));
	a->status = a->reason = -1;
	a->live = rep->live;
	a->expires = rep->expires;
	snprintf(a->etag, sizeof(a->etag), "%s", rep->etag);
	assert_int_equal(rep->http, 200);
	assert_non_null(rep->body);
	p = srv_blob_data(rep->body);
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)srv_blob_len(rep->body));
	assert_non_null(resp);
	a->rstatus = OCSP_response_status(resp);
	if (a->rstatus != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		OCSP_RESPONSE_free(resp);
		return;
	}
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	store = X509_STORE_new();
	sk = sk_X509_new_null();
	X509_STORE_add_cert(store, cacert);
	sk_X509_push(sk, cacert);
	a->verified = OCSP_basic_verify(bs, sk, store, 0) == 1;
	if (OCSP_resp_find_status(bs, id, &a->status, &a->reason, &rev, &tu, &nu) == 1)
		assert_int_equal(OCSP_check_validity(tu, nu, 300, -1), 1);
	sk_X509_free(sk);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
}

/* Asks the core about @id by POST (or GET) and reads the answer. */
static void ask_id_once(OCSP_CERTID *id, int get, struct answer *a)
{
	OCSP_CERTID *copy = OCSP_CERTID_dup(id);
	struct srv_reply rep;
	unsigned char *der;
	int len;

	der = req_der(copy, &len);
	if (get) {
		char path[8192] = "/";
		int n = EVP_EncodeBlock((unsigned char *)path + 1, der, len);
		assert_true(n > 0);
		assert_int_equal(srv_core_get(core, path, strlen(path), &rep), RES_OK);
	} else {
		assert_int_equal(srv_core_ocsp(core, der, (size_t)len, 0, &rep), RES_OK);
	}
	OPENSSL_free(der);
	assert_string_equal(rep.kind, "ocsp");
	read_answer(&rep, id, a);
	srv_reply_clear(&rep);
}

/*
 * The server never waits for the token: a live answer over the signing
 * budget (a busy signer thread, a loaded machine) is tryLater, and a client
 * asks again. These ask again for up to 10 s; the _now ones ask once, for
 * the tests where tryLater is the answer expected.
 */
static void ask_id(OCSP_CERTID *id, int get, struct answer *a)
{
	double end = now_s() + 10.0;

	for (;;) {
		ask_id_once(id, get, a);
		if (a->rstatus != OCSP_RESPONSE_STATUS_TRYLATER || now_s() > end)
			return;
		nap_ms(20);
	}
}

static void ask_with(int i, const EVP_MD *md, int get, struct answer *a, int patient)
{
	OCSP_CERTID *id = OCSP_cert_to_id(md, certs[i], cacert);

	assert_non_null(id);
	if (patient)
		ask_id(id, get, a);
	else
		ask_id_once(id, get, a);
	OCSP_CERTID_free(id);
}

static void ask(int i, const EVP_MD *md, int get, struct answer *a)
{
	ask_with(i, md, get, a, 1);
}

static void ask_now(int i, const EVP_MD *md, int get, struct answer *a)
{
	ask_with(i, md, get, a, 0);
}

/* srv_core_ocsp for a request answered live, asked again while tryLater. */
static void core_ocsp_live(const unsigned char *der, int n, struct srv_reply *rep)
{
	double end = now_s() + 10.0;

	for (;;) {
		assert_int_equal(srv_core_ocsp(core, der, (size_t)n, 0, rep), RES_OK);
		if (strcmp(rep->result, "tryLater") != 0 || now_s() > end)
			return;
		srv_reply_clear(rep);
		nap_ms(20);
	}
}

/* Waits (bounded) until cert @i is answered from the stored responses. */
static void wait_stored(int i, const EVP_MD *md)
{
	struct answer a;
	double end = now_s() + 15;

	do {
		ask_now(i, md, 0, &a);
		if (a.rstatus == 0 && !a.live)
			return;
		nap_ms(50);
	} while (now_s() < end);
	fail_msg("cert %d never answered from the stored responses", i);
}

static void test_good(void **state)
{
	struct answer a;
	int i;

	(void)state;
	assert_int_equal(srv_core_new(&opts, &core), RES_OK);
	for (i = 0; i < NCERTS; i++) {
		wait_stored(i, EVP_sha1());
		wait_stored(i, EVP_sha256());
	}
	for (i = 0; i < NCERTS; i++) {
		ask(i, EVP_sha1(), 0, &a);
		assert_int_equal(a.rstatus, OCSP_RESPONSE_STATUS_SUCCESSFUL);
		assert_true(a.verified);
		assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
		assert_false(a.live);
		ask(i, EVP_sha256(), 1, &a);
		assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
		assert_true(a.verified);
		assert_false(a.live);
		/* GET: cacheable, its ETag and expiry */
		assert_true(a.etag[0] != '\0');
		assert_true(a.expires > (int64_t)time(NULL) + 3000);
	}
}

static void test_unknown_unauthorized_malformed(void **state)
{
	static const unsigned char garbage[] = { 0x30, 0x03, 0x02, 0x01 };
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	OCSP_CERTID *id;
	struct srv_reply rep;
	struct answer a;

	(void)state;
	/* a serial the CA never issued: unknown, signed live */
	ASN1_INTEGER_set_int64(sn, 0x1234567890LL);
	id = OCSP_cert_id_new(EVP_sha256(), X509_get_subject_name(cacert),
	                      X509_get0_pubkey_bitstr(cacert), sn);
	assert_non_null(id);
	ask_id(id, 0, &a);
	assert_int_equal(a.rstatus, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_true(a.verified);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_UNKNOWN);
	OCSP_CERTID_free(id);
	/* another CA's CertID */
	id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(other_ca),
	                      X509_get0_pubkey_bitstr(other_ca), sn);
	ask_id(id, 0, &a);
	assert_int_equal(a.rstatus, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OCSP_CERTID_free(id);
	ASN1_INTEGER_free(sn);
	/* garbage */
	assert_int_equal(srv_core_ocsp(core, garbage, sizeof(garbage), 0, &rep), RES_OK);
	assert_int_equal(rep.http, 200);
	assert_string_equal(rep.result, "malformedRequest");
	{
		const unsigned char *p = srv_blob_data(rep.body);
		OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)srv_blob_len(rep.body));
		assert_non_null(r);
		assert_int_equal(OCSP_response_status(r), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
		OCSP_RESPONSE_free(r);
	}
	srv_reply_clear(&rep);
	/* paths that are no CRL and no OCSP request under "/" */
	assert_int_equal(srv_core_get(core, "/", 1, &rep), RES_OK);
	assert_int_equal(rep.http, 404);
	srv_reply_clear(&rep);
	assert_int_equal(srv_core_get(core, "/favicon.ico", 12, &rep), RES_OK);
	assert_int_equal(rep.http, 404);
	srv_reply_clear(&rep);
	/* a DER SEQUENCE that is no OCSP request: malformedRequest */
	assert_int_equal(srv_core_get(core, "/MAA=", 5, &rep), RES_OK);
	assert_int_equal(rep.http, 200);
	assert_string_equal(rep.result, "malformedRequest");
	srv_reply_clear(&rep);
}

/* Revokes serial @i from a connection of its own (as 'p11ca ca revoke' would). */
static void revoke_serial(int i, int reason)
{
	struct ca_open_opts oo = { NULL, NULL, 0, 1, NULL };
	struct ca *ca = NULL;

	assert_int_equal(ca_open(cadir, &oo, &ca), RES_OK);
	assert_int_equal(cadb_revoke(ca->db, serials[i], (int64_t)time(NULL), reason, 0), RES_OK);
	ca_close(ca);
}

/* The CRL served, checked against the CA; whether it lists serial @i. */
static int crl_lists(int i)
{
	char path[1400];
	struct srv_reply rep;
	const unsigned char *p;
	X509_CRL *crl;
	X509_REVOKED *rv = NULL;
	ASN1_INTEGER *sn = X509_get_serialNumber(certs[i]);
	int found;

	snprintf(path, sizeof(path), "/crl/servedca.crl");
	assert_int_equal(srv_core_get(core, path, strlen(path), &rep), RES_OK);
	assert_string_equal(rep.kind, "crl");
	if (rep.http != 200) {
		srv_reply_clear(&rep);
		return 0;
	}
	assert_string_equal(rep.type, "application/pkix-crl");
	p = srv_blob_data(rep.body);
	crl = d2i_X509_CRL(NULL, &p, (long)srv_blob_len(rep.body));
	assert_non_null(crl);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(cacert)), 1);
	assert_true(rep.expires > (int64_t)time(NULL));
	found = X509_CRL_get0_by_serial(crl, &rv, sn) == 1;
	X509_CRL_free(crl);
	srv_reply_clear(&rep);
	return found;
}

static void test_revoke(void **state)
{
	struct answer a;
	double t0, end;

	(void)state;
	assert_false(crl_lists(0));
	revoke_serial(0, 1); /* keyCompromise */
	t0 = now_s();
	end = t0 + 2.0;
	do {
		ask(0, EVP_sha1(), 0, &a);
		if (a.rstatus == 0 && a.status == V_OCSP_CERTSTATUS_REVOKED)
			break;
		/* never a stale "good" for a revoked certificate */
		if (now_s() - t0 > 0.3)
			assert_int_not_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
		nap_ms(20);
	} while (now_s() < end);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(a.reason, 1);
	assert_true(a.verified);
	ask(0, EVP_sha256(), 1, &a);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_REVOKED);
	/* the CRL lists it within seconds */
	end = now_s() + 3.0;
	while (!crl_lists(0) && now_s() < end)
		nap_ms(50);
	assert_true(crl_lists(0));
	/* the others are still good */
	ask(1, EVP_sha1(), 0, &a);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
}

/* Several CertIDs in one request, a nonce echoed, /metrics and a reload. */
static void test_multi_nonce_metrics_reload(void **state)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	struct srv_reply rep;
	const unsigned char *p;
	unsigned char *der = NULL;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int n, i;

	(void)state;
	for (i = 1; i < NCERTS; i++)
		assert_non_null(
		    OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha256(), certs[i], cacert)));
	assert_int_equal(OCSP_request_add1_nonce(req, NULL, 16), 1);
	n = i2d_OCSP_REQUEST(req, &der);
	assert_true(n > 0);
	/* several: signed live, one SingleResponse each */
	core_ocsp_live(der, n, &rep);
	assert_string_equal(rep.result, "multi");
	assert_true(rep.live);
	p = srv_blob_data(rep.body);
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)srv_blob_len(rep.body));
	assert_non_null(resp);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	assert_int_equal(OCSP_resp_count(bs), NCERTS - 1);
	/* nonce ignore: not echoed (in the request only) */
	assert_int_equal(OCSP_check_nonce(req, bs), -1);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	srv_reply_clear(&rep);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);

	/* one CertID with a nonce, --nonce echo: a live answer echoing it */
	opts.nonce = SRV_NONCE_ECHO;
	req = OCSP_REQUEST_new();
	assert_non_null(OCSP_request_add0_id(req, OCSP_cert_to_id(EVP_sha1(), certs[2], cacert)));
	assert_int_equal(OCSP_request_add1_nonce(req, NULL, 16), 1);
	der = NULL;
	n = i2d_OCSP_REQUEST(req, &der);
	core_ocsp_live(der, n, &rep);
	opts.nonce = SRV_NONCE_IGNORE;
	assert_string_equal(rep.result, "good");
	assert_true(rep.live);
	p = srv_blob_data(rep.body);
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)srv_blob_len(rep.body));
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	assert_int_equal(OCSP_check_nonce(req, bs), 1);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	srv_reply_clear(&rep);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);

	assert_int_equal(srv_core_metrics(core, &text, &len, &cap), RES_OK);
	assert_non_null(text);
	assert_true(uh_contains(text, "p11ca_serve_token_available{ca=\"servedca\"} 1"));
	assert_true(uh_contains(text, "p11ca_serve_crl_number{ca=\"servedca\"} "));
	assert_true(uh_contains(text, "p11ca_serve_live_signatures_total "));
	assert_false(uh_contains(text, "p11ca_serve_live_signatures_total 0\n"));
	free(text);

	/* SIGHUP: the CA opened again, what was signed carried over */
	assert_int_equal(srv_core_reload(core), RES_OK);
	{
		struct answer a;
		ask(2, EVP_sha256(), 0, &a);
		assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
		assert_false(a.live);
		ask(0, EVP_sha1(), 0, &a);
		assert_int_equal(a.status, V_OCSP_CERTSTATUS_REVOKED);
		assert_false(a.live);
	}
	assert_true(crl_lists(0));
}

static void test_token_away_while_serving(void **state)
{
	struct answer a;
	double end;

	(void)state;
	unplug(1);
	revoke_serial(1, 4); /* superseded */
	/* the stored responses of the others are still served */
	ask(2, EVP_sha1(), 0, &a);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
	assert_false(a.live);
	/* the revoked one: once the poller saw it (100 ms), never the stored "good" */
	end = now_s() + 1.0;
	do {
		ask_now(1, EVP_sha1(), 0, &a);
		nap_ms(20);
	} while (a.status == V_OCSP_CERTSTATUS_GOOD && now_s() < end);
	end = now_s() + 2.0;
	do {
		ask_now(1, EVP_sha1(), 0, &a);
		assert_int_not_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
		nap_ms(100);
	} while (now_s() < end);
	assert_int_equal(a.rstatus, OCSP_RESPONSE_STATUS_TRYLATER);
	assert_true(events_have("token unavailable"));
	/* back: the revocation is signed */
	unplug(0);
	end = now_s() + 10.0;
	do {
		ask(1, EVP_sha1(), 0, &a);
		if (a.rstatus == 0 && a.status == V_OCSP_CERTSTATUS_REVOKED)
			break;
		nap_ms(100);
	} while (now_s() < end);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(a.reason, 4);
	assert_true(events_wait("token available again", 3.0));
}

static void test_restart_from_store(void **state)
{
	struct srv_reply rep;
	struct answer a;
	double end;

	(void)state;
	/* everything signed is stored once nothing is queued */
	end = now_s() + 10;
	do {
		ask(1, EVP_sha256(), 0, &a);
		nap_ms(100);
	} while ((a.live || a.status != V_OCSP_CERTSTATUS_REVOKED) && now_s() < end);
	nap_ms(1500);
	srv_core_free(core);
	core = NULL;
	unplug(1);
	events[0] = '\0';
	assert_int_equal(srv_core_new(&opts, &core), RES_OK);
	/* answered at once, from D/serve/ocsp.cache, the token away */
	ask_now(2, EVP_sha1(), 0, &a);
	assert_int_equal(a.rstatus, OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
	assert_true(a.verified);
	assert_false(a.live);
	ask_now(0, EVP_sha256(), 0, &a);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_REVOKED);
	assert_true(crl_lists(0));
	assert_true(events_wait("token unavailable", 3.0));
	assert_int_equal(srv_core_health(core, &rep), RES_OK);
	assert_int_equal(rep.http, 200);
	assert_non_null(strstr((const char *)srv_blob_data(rep.body), "\"status\":\"degraded\""));
	srv_reply_clear(&rep);
	/* the token back, nothing to sign: found back all the same (health ok) */
	unplug(0);
	{
		double until = now_s() + 6;
		int ok = 0;
		do {
			nap_ms(200);
			assert_int_equal(srv_core_health(core, &rep), RES_OK);
			ok = strstr((const char *)srv_blob_data(rep.body), "\"status\":\"ok\"") !=
			     NULL;
			srv_reply_clear(&rep);
		} while (!ok && now_s() < until);
		assert_true(ok);
		assert_true(events_wait("token available again", 3.0));
	}
	unplug(1);
	/* a second server on the same directory is refused */
	{
		struct srv_core *second = NULL;
		assert_int_equal(srv_core_new(&opts, &second), RES_TAKEN);
		assert_null(second);
		assert_true(uh_contains(res_message(), "already served by pid"));
	}
}

static void test_corrupt_cache_ignored(void **state)
{
	char path[1400];
	struct answer a;
	unsigned char b;
	int fd;

	(void)state;
	srv_core_free(core);
	core = NULL;
	snprintf(path, sizeof(path), "%s/serve/ocsp.cache", cadir);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, 100), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, 100), 1);
	close(fd);
	events[0] = '\0';
	assert_int_equal(srv_core_new(&opts, &core), RES_OK);
	assert_true(events_have("stored responses ignored"));
	/* nothing stored, the token away: tryLater, never a made-up answer */
	ask_now(2, EVP_sha1(), 0, &a);
	assert_int_equal(a.rstatus, OCSP_RESPONSE_STATUS_TRYLATER);
	unplug(0);
	wait_stored(2, EVP_sha1());
	ask(2, EVP_sha1(), 0, &a);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
	srv_core_free(core);
	core = NULL;
}

/* A wrong PIN at start is refused at once, with a message and without the PIN. */
static void test_wrong_pin_refused(void **state)
{
	char path[1400];
	struct srv_core *c = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/wrong-pin", tok.dir);
	assert_int_equal(uh_write_file(path, "wrong-pin-9876\n", 15), 0);
	opts.pin_file = path;
	assert_int_not_equal(srv_core_new(&opts, &c), RES_OK);
	opts.pin_file = tok.pin_file;
	assert_null(c);
	assert_true(uh_contains(res_message(), "PIN"));
	assert_false(uh_contains(res_message(), "9876"));
}

/* The responder certificate in D/ocsp-responder.pem (the caller's). */
static X509 *responder_cert(void)
{
	char path[1400];
	X509 *x;
	FILE *f;

	snprintf(path, sizeof(path), "%s/ocsp-responder.pem", cadir);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

/* Who signed the answer to @id (consumed; the signer is the caller's), checked against the CA. */
static X509 *signer_of(OCSP_CERTID *id)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	X509_STORE *store = X509_STORE_new();
	struct srv_reply rep;
	const unsigned char *p;
	unsigned char *der = NULL;
	X509 *signer = NULL;
	int n;

	assert_non_null(OCSP_request_add0_id(req, id));
	n = i2d_OCSP_REQUEST(req, &der);
	core_ocsp_live(der, n, &rep);
	p = srv_blob_data(rep.body);
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)srv_blob_len(rep.body));
	assert_non_null(resp);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	X509_STORE_add_cert(store, cacert);
	/* the delegated responder's certificate comes in the response */
	assert_int_equal(OCSP_basic_verify(bs, NULL, store, 0), 1);
	assert_int_equal(OCSP_resp_get0_signer(bs, &signer, NULL), 1);
	X509_up_ref(signer);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	srv_reply_clear(&rep);
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	return signer;
}

/*
 * A delegated responder (p11ca ca responder) signs; its certificate, once
 * less than 2 x validity is left and a new one would hold more, is renewed
 * by the server, written to D/ocsp-responder.pem, and signs from then on.
 */
static void test_delegated_responder(void **state)
{
	char path[1400];
	X509 *r1, *r2, *s;
	struct answer a;
	double end;

	(void)state;
	assert_int_equal(sh("'%s/p11ca' ca responder --module '%s' --pin-file '%s' --dir '%s' "
	                    "--new-key ec:p256 --days 1 >/dev/null </dev/null",
	                    uh_top_builddir(), uh_softhsm_module(), tok.pin_file, cadir),
	                 0);
	r1 = responder_cert();
	assert_non_null(r1);
	/* the CA-signed responses stored before are dropped: signed anew */
	snprintf(path, sizeof(path), "%s/serve/ocsp.cache", cadir);
	unlink(path);
	events[0] = '\0';
	assert_int_equal(srv_core_new(&opts, &core), RES_OK);
	wait_stored(2, EVP_sha1());
	/* the stored CRL lists what the database revoked: served, not made again */
	assert_false(events_have("CRL "));
	assert_true(crl_lists(0));
	ask(2, EVP_sha1(), 0, &a);
	assert_int_equal(a.status, V_OCSP_CERTSTATUS_GOOD);
	s = signer_of(OCSP_cert_to_id(EVP_sha1(), certs[2], cacert));
	assert_int_equal(X509_cmp(s, r1), 0);
	X509_free(s);
	srv_core_free(core);
	core = NULL;
	assert_false(events_have("responder certificate renewed"));

	/* 2 days a new certificate would hold, 1 left, 2 x validity over it: renewed */
	assert_int_equal(sh("sed -i 's/^ocsp_days *=.*/ocsp_days = 2/' '%s/ca.conf'", cadir), 0);
	opts.validity = 50000;
	unlink(path);
	assert_int_equal(srv_core_new(&opts, &core), RES_OK);
	end = now_s() + 10;
	while (!events_have("responder certificate renewed") && now_s() < end)
		nap_ms(100);
	assert_true(events_have("responder certificate renewed"));
	r2 = responder_cert();
	assert_non_null(r2);
	assert_int_not_equal(X509_cmp(r1, r2), 0);
	assert_true(ASN1_TIME_compare(X509_get0_notAfter(r2), X509_get0_notAfter(r1)) > 0);
	/* a response signed now (an unknown serial: live) is the new certificate's */
	{
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		OCSP_CERTID *id;
		ASN1_INTEGER_set_int64(sn, 0x4242);
		id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(cacert),
		                      X509_get0_pubkey_bitstr(cacert), sn);
		ask_id(id, 0, &a);
		assert_int_equal(a.status, V_OCSP_CERTSTATUS_UNKNOWN);
		assert_true(a.live);
		s = signer_of(id); /* the unknown answer kept: the same signer */
		assert_int_equal(X509_cmp(s, r2), 0);
		X509_free(s);
		ASN1_INTEGER_free(sn);
	}
	srv_core_free(core);
	core = NULL;
	opts.validity = 3600;
	X509_free(r1);
	X509_free(r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/*
		 * first: a login is the process's (PKCS#11), and a module another
		 * context holds is never finalised, so later tests would find the
		 * token logged in already and no PIN asked
		 */
		cmocka_unit_test(test_wrong_pin_refused),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_unknown_unauthorized_malformed),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_multi_nonce_metrics_reload),
		cmocka_unit_test(test_token_away_while_serving),
		cmocka_unit_test(test_restart_from_store),
		cmocka_unit_test(test_corrupt_cache_ignored),
		cmocka_unit_test(test_delegated_responder),
	};

	return cmocka_run_group_tests_name("test-serve-core", tests, setup, teardown);
}
