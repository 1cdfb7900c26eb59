/*
 * test-ca-lib.c - the CA library without the command line: two CAs, each on
 * its own SoftHSM2 token with its own PIN file, open in one process and
 * issuing from two threads at once.  Nothing in the libraries is
 * process-wide (no environment, no static statement or flag), so each
 * thread's certificates come from its own CA key and land in its own
 * database.  The CAs are made with the p11ca command (as a user would);
 * everything after that is library calls.  And the delegated OCSP
 * responder's certificate, issued, configured and loaded back.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca.h"
#include "pki.h"
#include "result.h"
#include "unit-helpers.h"

#define ROUNDS 6
#define BATCH  5

struct side {
	char label[16], dir[1200], pin_file[1200];
	struct ca *ca;
	int issued, failed;
	char why[600];
	unsigned char *csr_pem[BATCH];
	size_t csr_len[BATCH];
};

static struct uh_token tok;
static struct side sides[2];

/*
 * The library's calls of cadb_insert() come here (-Wl,--wrap=cadb_insert):
 * while @take_next is set, the next record's serial is taken first by
 * another row (what a concurrent process would do between drawing and
 * recording), so that SQLite itself answers RES_TAKEN.
 */
int __real_cadb_insert(struct cadb *db, const struct cadb_row *r);
int __wrap_cadb_insert(struct cadb *db, const struct cadb_row *r);
static int take_next, inserts, taken_rc;
static char taken_serial[CADB_SERIAL_MAX];

int __wrap_cadb_insert(struct cadb *db, const struct cadb_row *r)
{
	struct cadb_row other;
	int rc;

	inserts++;
	if (take_next) {
		take_next = 0;
		other = *r;
		other.subject = (char *)"/CN=taken meanwhile";
		other.sans = NULL;
		other.nsans = 0;
		snprintf(taken_serial, sizeof(taken_serial), "%s", r->serial);
		taken_rc = __real_cadb_insert(db, &other);
		if (taken_rc != RES_OK)
			return taken_rc;
		rc = __real_cadb_insert(db, r);
		taken_rc = rc; /* RES_TAKEN, from the database */
		return rc;
	}
	return __real_cadb_insert(db, r);
}

/* Runs the shell command @cmd; 0 when it exits 0. */
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

/* A PEM CSR for a fresh software P-256 key, CN and DNS SAN @host. */
static unsigned char *make_csr(const char *host, size_t *plen)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san;
	BIO *mem = BIO_new(BIO_s_mem());
	char text[300], *data;
	unsigned char *out = NULL;
	long len;

	snprintf(text, sizeof(text), "DNS:%s", host);
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, text);
	if (key != NULL && req != NULL && name != NULL && exts != NULL && san != NULL &&
	    mem != NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1,
	                               -1, 0) &&
	    X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, key) &&
	    sk_X509_EXTENSION_push(exts, san) && (san = NULL, X509_REQ_add_extensions(req, exts)) &&
	    X509_REQ_sign(req, key, EVP_sha256()) > 0 && PEM_write_bio_X509_REQ(mem, req) &&
	    (len = BIO_get_mem_data(mem, &data)) > 0 && (out = malloc((size_t)len)) != NULL) {
		memcpy(out, data, (size_t)len);
		*plen = (size_t)len;
	}
	X509_EXTENSION_free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	BIO_free(mem);
	return out;
}

static int count_row(const struct cadb_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

/* Revokes the valid rows of CN=twice.example.com (a walk on @arg, the database). */
static int revoke_twice(const struct cadb_row *r, void *arg)
{
	if (strstr(r->subject, "CN=twice.example.com") == NULL)
		return 0;
	return cadb_revoke(arg, r->serial, (int64_t)time(NULL), 4, 0);
}

static int setup(void **state)
{
	char top[1024];
	int i, rc;

	(void)state;
	if ((rc = uh_token_make(&tok)) != 0)
		return rc == UH_SKIP ? -1 : rc; /* no SoftHSM2 is a failure here, not a skip */
	snprintf(top, sizeof(top), "%s", uh_top_builddir());
	for (i = 0; i < 2; i++) {
		struct side *s = &sides[i];
		snprintf(s->label, sizeof(s->label), "ca%d", i + 1);
		snprintf(s->dir, sizeof(s->dir), "%.500s/%.15s", tok.dir, s->label);
		snprintf(s->pin_file, sizeof(s->pin_file), "%.500s/pin-%.15s", tok.dir, s->label);
		/* a token of its own with a PIN of its own: only the right PIN file opens it */
		if (sh("printf '%s\\n' > '%s' && SOFTHSM2_CONF='%s' softhsm2-util --init-token "
		       "--free --label %s --pin %s --so-pin so%s >/dev/null",
		       i == 0 ? "1111aa" : "2222bb", s->pin_file, tok.conf, s->label,
		       i == 0 ? "1111aa" : "2222bb", s->label) != 0 ||
		    sh("SOFTHSM2_CONF='%s' '%s/p11ca' ca init --module '%s' --pin-file '%s' "
		       "--dir '%s' --new-key ec:p256 --token pkcs11:token=%s --label key "
		       "--subject '/O=p11ca test/CN=CA %d' </dev/null",
		       tok.conf, top, uh_softhsm_module(), s->pin_file, s->dir, s->label,
		       i + 1) != 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < 2; i++)
		for (j = 0; j < BATCH; j++)
			free(sides[i].csr_pem[j]);
	uh_token_remove(&tok);
	return 0;
}

/* One thread: ROUNDS batches of BATCH CSRs through its own CA. */
static void *issue_rounds(void *arg)
{
	struct side *s = arg;
	struct ca_issue_opts o = { CA_SERVER_CLIENT, 30, "sha256", 0, 2, 1 }; /* again */
	struct ca_req reqs[BATCH];
	int round, j, rc;

	for (round = 0; round < ROUNDS; round++) {
		memset(reqs, 0, sizeof(reqs));
		for (j = 0; j < BATCH; j++) {
			reqs[j].name = "csr";
			reqs[j].csr = s->csr_pem[j];
			reqs[j].csr_len = s->csr_len[j];
		}
		rc = ca_issue(s->ca, &o, reqs, BATCH);
		if (rc != RES_OK) {
			s->failed++;
			snprintf(s->why, sizeof(s->why), "%s", res_message());
		} else {
			for (j = 0; j < BATCH; j++) {
				/* issued by this thread's CA: its name, its key */
				if (X509_NAME_cmp(X509_get_issuer_name(reqs[j].cert),
				                  X509_get_subject_name(s->ca->cert)) != 0 ||
				    X509_verify(reqs[j].cert, X509_get0_pubkey(s->ca->cert)) != 1)
					s->failed++;
				else
					s->issued++;
			}
		}
		for (j = 0; j < BATCH; j++)
			ca_req_free(&reqs[j]);
	}
	return NULL;
}

static void test_two_cas_two_threads(void **state)
{
	pthread_t tids[2];
	char host[64];
	int i, j, rows;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct ca_open_opts o = { uh_softhsm_module(), sides[i].pin_file, 1, 1 };
		if (ca_open(sides[i].dir, &o, &sides[i].ca) != RES_OK)
			fail_msg("ca_open %s: %s", sides[i].dir, res_message());
		for (j = 0; j < BATCH; j++) {
			snprintf(host, sizeof(host), "host%d.%.8s.example.com", j, sides[i].label);
			sides[i].csr_pem[j] = make_csr(host, &sides[i].csr_len[j]);
			assert_non_null(sides[i].csr_pem[j]);
		}
	}
	/* the two keys are different keys on different tokens */
	assert_int_not_equal(ca_key_matches(sides[0].ca->key, sides[1].ca->cert), 1);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&tids[i], NULL, issue_rounds, &sides[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(tids[i], NULL);
	for (i = 0; i < 2; i++) {
		if (sides[i].failed != 0)
			fail_msg("CA %d: %d failures (%s)", i + 1, sides[i].failed, sides[i].why);
		assert_int_equal(sides[i].issued, ROUNDS * BATCH);
		rows = 0;
		assert_int_equal(cadb_foreach(sides[i].ca->db, CADB_ALL, 0, 0, count_row, &rows),
		                 RES_OK);
		assert_int_equal(rows, ROUNDS * BATCH);
		ca_close(sides[i].ca);
		sides[i].ca = NULL;
	}
}

/* A wrong PIN file for one CA fails that CA alone, with a message, and no output. */
static void test_wrong_pin_one_ca(void **state)
{
	struct ca_open_opts good = { uh_softhsm_module(), sides[1].pin_file, 1, 1 };
	struct ca_open_opts bad = { uh_softhsm_module(), sides[1].pin_file, 1, 1 };
	struct ca *a = NULL, *b = NULL;

	(void)state;
	/* CA 1 with CA 2's PIN file */
	assert_int_not_equal(ca_open(sides[0].dir, &bad, &a), RES_OK);
	assert_null(a);
	assert_true(res_message()[0] != '\0');
	assert_false(uh_contains(res_message(), "2222bb"));
	/* CA 2 is unaffected */
	assert_int_equal(ca_open(sides[1].dir, &good, &b), RES_OK);
	ca_close(b);
}

/* Names the policy never saw are never signed: a second SAN, a malformed SAN. */
static void test_hostile_sans(void **state)
{
	/* SEQUENCE { [2] "*.evil.com" } with an inner length past the outer one */
	static const unsigned char broken[] = { 0x30, 0x05, 0x82, 0x0a, '*', '.', 'e',
		                                'v',  'i',  'l',  '.',  'c', 'o', 'm' };
	struct ca_open_opts oo = { uh_softhsm_module(), sides[0].pin_file, 1, 1 };
	struct ca_issue_opts io = { CA_SERVER, 30, "sha256", 0, 1 };
	STACK_OF(X509_EXTENSION) * exts;
	ASN1_OCTET_STRING *oct;
	struct ca_req req;
	struct ca *ca = NULL;
	int round, before = 0, after = 0;

	(void)state;
	assert_int_equal(ca_open(sides[0].dir, &oo, &ca), RES_OK);
	assert_int_equal(cadb_foreach(ca->db, CADB_ALL, 0, 0, count_row, &before), RES_OK);
	for (round = 0; round < 2; round++) {
		exts = sk_X509_EXTENSION_new_null();
		assert_non_null(exts);
		if (round == 0) {
			/* the first is copied; a check that read only "the" SAN saw none */
			sk_X509_EXTENSION_push(exts,
			                       X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
			                                           "DNS:*.evil.com,DNS:_x.bad"));
			sk_X509_EXTENSION_push(exts,
			                       X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
			                                           "DNS:good.example.com"));
		} else {
			oct = ASN1_OCTET_STRING_new();
			assert_true(ASN1_OCTET_STRING_set(oct, broken, sizeof(broken)));
			sk_X509_EXTENSION_push(
			    exts, X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, 0, oct));
			ASN1_OCTET_STRING_free(oct);
		}
		memset(&req, 0, sizeof(req));
		req.name = round == 0 ? "two-sans" : "broken-san";
		req.csr = uh_make_csr("host.example.com", exts, &req.csr_len);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		assert_non_null(req.csr);
		assert_int_equal(ca_issue(ca, &io, &req, 1), RES_BAD_INPUT);
		assert_int_equal(req.rc, RES_BAD_INPUT);
		assert_true(uh_contains(req.msg, round == 0 ? "twice" : "malformed"));
		assert_null(req.cert);
		free((void *)req.csr);
		ca_req_free(&req);
	}
	assert_int_equal(cadb_foreach(ca->db, CADB_ALL, 0, 0, count_row, &after), RES_OK);
	assert_int_equal(after, before);
	ca_close(ca);
}

/*
 * A CSR whose subject and key have a valid certificate is refused
 * (RES_ALREADY, r->dup its serial, nothing recorded), issued with again
 * (r->dup still said), and issued once the certificate is revoked.
 */
static void test_issued_twice(void **state)
{
	struct ca_open_opts oo = { uh_softhsm_module(), sides[0].pin_file, 1, 1 };
	struct ca_issue_opts io = { CA_SERVER, 30, "sha256", 0, 1, 0 };
	char first[CA_SERIAL_MAX];
	struct ca_req req;
	struct ca *ca = NULL;
	int rows = 0, before = 0;
	size_t len = 0;
	unsigned char *csr;

	(void)state;
	assert_int_equal(ca_open(sides[0].dir, &oo, &ca), RES_OK);
	assert_non_null(csr = make_csr("twice.example.com", &len));
	memset(&req, 0, sizeof(req));
	req.name = "twice";
	req.csr = csr;
	req.csr_len = len;
	assert_int_equal(ca_issue(ca, &io, &req, 1), RES_OK);
	assert_string_equal(req.dup, "");
	snprintf(first, sizeof(first), "%s", req.row.serial);
	ca_req_free(&req);
	assert_int_equal(cadb_foreach(ca->db, CADB_ALL, 0, 0, count_row, &before), RES_OK);
	/* again: refused, naming the first */
	memset(&req, 0, sizeof(req));
	req.name = "twice";
	req.csr = csr;
	req.csr_len = len;
	assert_int_equal(ca_issue(ca, &io, &req, 1), RES_ALREADY);
	assert_int_equal(req.rc, RES_ALREADY);
	assert_string_equal(req.dup, first);
	assert_true(uh_contains(req.msg, first));
	assert_null(req.cert);
	ca_req_free(&req);
	assert_int_equal(cadb_foreach(ca->db, CADB_ALL, 0, 0, count_row, &rows), RES_OK);
	assert_int_equal(rows, before);
	/* with again: issued, the first still named */
	io.again = 1;
	memset(&req, 0, sizeof(req));
	req.name = "twice";
	req.csr = csr;
	req.csr_len = len;
	assert_int_equal(ca_issue(ca, &io, &req, 1), RES_OK);
	assert_string_equal(req.dup, first);
	assert_string_not_equal(req.row.serial, first);
	ca_req_free(&req);
	/* both revoked: issued without again */
	io.again = 0;
	assert_int_equal(
	    cadb_foreach(ca->db, CADB_VALID, (int64_t)time(NULL), 0, revoke_twice, ca->db), RES_OK);
	memset(&req, 0, sizeof(req));
	req.name = "twice";
	req.csr = csr;
	req.csr_len = len;
	assert_int_equal(ca_issue(ca, &io, &req, 1), RES_OK);
	assert_string_equal(req.dup, "");
	ca_req_free(&req);
	free(csr);
	ca_close(ca);
}

struct find {
	const char *serial;
	char subject[128]; /* of the row with @serial ("" none) */
};

static int find_row(const struct cadb_row *r, void *arg)
{
	struct find *f = arg;

	if (strcmp(r->serial, f->serial) == 0)
		snprintf(f->subject, sizeof(f->subject), "%s", r->subject);
	return 0;
}

/*
 * A serial taken between signing and recording: the database refuses the
 * row (RES_TAKEN), and the library draws a new serial, signs again and
 * records that; the taken row stays the other's.
 */
static void test_serial_taken_redraw(void **state)
{
	struct ca_open_opts oo = { uh_softhsm_module(), sides[0].pin_file, 1, 1 };
	struct ca_issue_opts io = { CA_SERVER_CLIENT, 30, "sha256", 0, 1 };
	struct cadb_row got;
	struct find taken = { taken_serial, "" };
	struct ca_req req;
	struct ca *ca = NULL;
	char serial[CADB_SERIAL_MAX];
	unsigned char *der = NULL;
	int before = 0, after = 0, len;

	(void)state;
	assert_int_equal(ca_open(sides[0].dir, &oo, &ca), RES_OK);
	assert_int_equal(cadb_foreach(ca->db, CADB_ALL, 0, 0, count_row, &before), RES_OK);
	memset(&req, 0, sizeof(req));
	req.name = "redraw";
	req.csr = make_csr("redraw.example.com", &req.csr_len);
	assert_non_null(req.csr);
	inserts = 0;
	take_next = 1;
	assert_int_equal(ca_issue(ca, &io, &req, 1), RES_OK);
	assert_int_equal(take_next, 0);
	assert_int_equal(taken_rc, RES_TAKEN);
	/* ours refused (after the other's row went in), then ours with a new serial */
	assert_int_equal(inserts, 2);
	/* the certificate has the new serial and is signed again, by the CA */
	assert_int_equal(pki_serial_of(X509_get0_serialNumber(req.cert), serial), RES_OK);
	assert_string_not_equal(serial, taken_serial);
	assert_string_equal(req.row.serial, serial);
	assert_int_equal(X509_verify(req.cert, X509_get0_pubkey(ca->cert)), 1);
	/* its record holds that certificate */
	memset(&got, 0, sizeof(got));
	assert_int_equal(cadb_get(ca->db, serial, &got), RES_OK);
	len = i2d_X509(req.cert, &der);
	assert_true(len > 0);
	assert_int_equal(got.der_len, (size_t)len);
	assert_memory_equal(got.der, der, (size_t)len);
	cadb_row_free(&got);
	OPENSSL_free(der);
	/* the taken serial is still the other row's */
	assert_int_equal(cadb_foreach(ca->db, CADB_ALL, 0, 0, find_row, &taken), RES_OK);
	assert_string_equal(taken.subject, "/CN=taken meanwhile");
	assert_int_equal(cadb_foreach(ca->db, CADB_ALL, 0, 0, count_row, &after), RES_OK);
	assert_int_equal(after, before + 2);
	free((void *)req.csr);
	ca_req_free(&req);
	ca_close(ca);
}

/*
 * ca.conf written by ca_conf_format reads back the same, or the writer
 * refuses: values NCONF would read otherwise (spaces around, a quote or
 * backquote, a control character; found by tests/fuzz/conf_fuzzer.c).
 */
static void test_conf_round_trip(void **state)
{
	static const char text[] = "[p11ca]\n"
	                           "key = pkcs11:object=ca-key\n"
	                           "default_profile = \"server-client \"\n"
	                           "default_md = 'sha`256'\n"
	                           "crl_url = http://ca.example/ca.crl\n"
	                           "crl_url.3 = http://ca2.example/ca.crl\n";
	struct ca_conf conf, back;
	char *out = NULL, *md;
	size_t len = 0;

	(void)state;
	assert_int_equal(ca_conf_parse(text, sizeof(text) - 1, "/ca", "ca.conf", &conf), RES_OK);
	assert_string_equal(conf.default_profile, "server-client ");
	assert_string_equal(conf.default_md, "sha`256");
	assert_int_equal(ca_conf_format(&conf, &out, &len), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "starts or ends with a space"));
	conf.default_profile[strlen(conf.default_profile) - 1] = '\0';
	assert_int_equal(ca_conf_format(&conf, &out, &len), RES_BAD_INPUT);
	assert_non_null(strstr(res_message(), "backquote"));
	md = conf.default_md;
	conf.default_md = (char *)"sha\n256";
	assert_int_equal(ca_conf_format(&conf, &out, &len), RES_BAD_INPUT);
	assert_null(strchr(res_message(), '\n'));
	conf.default_md = (char *)"sha256";
	assert_int_equal(ca_conf_format(&conf, &out, &len), RES_OK);
	assert_int_equal(ca_conf_parse(out, len, "/ca", "ca.conf", &back), RES_OK);
	assert_string_equal(back.key, conf.key);
	assert_string_equal(back.default_profile, "server-client");
	assert_string_equal(back.default_md, "sha256");
	assert_string_equal(back.crl_urls[1], "http://ca2.example/ca.crl");
	assert_null(back.crl_urls[2]);
	conf.default_md = md;
	ca_conf_free(&back);
	ca_conf_free(&conf);
	free(out);
}

/* A key URI with a pin-value is refused, also one whose PIN is "***" (found by conf_fuzzer). */
static void test_conf_pin_value(void **state)
{
	static const char *const keys[] = {
		"pkcs11:object=k?pin-value=1234",
		"pkcs11:object=k?pin-value=***",
		"pkcs11:object=k?module-name=m&%70in-value=***",
	};
	struct ca_conf conf;
	char text[256];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		n = snprintf(text, sizeof(text), "[p11ca]\nkey = %s\n", keys[i]);
		assert_int_equal(ca_conf_parse(text, (size_t)n, "/ca", "ca.conf", &conf),
		                 RES_POLICY);
		assert_non_null(strstr(res_message(), "pin-value"));
	}
}

/* Writes @x as PEM to @path; 0 on success. */
static int write_pem(const char *path, X509 *x)
{
	FILE *fp = fopen(path, "w");
	int ok = fp != NULL && PEM_write_X509(fp, x);

	if (fp != NULL)
		fclose(fp);
	return ok ? 0 : -1;
}

/* @path's text (free()), or NULL. */
static char *slurp(const char *path, size_t *plen)
{
	FILE *fp = fopen(path, "r");
	char *buf = malloc(65536);
	size_t n = 0;

	if (fp != NULL && buf != NULL)
		n = fread(buf, 1, 65535, fp);
	if (fp != NULL)
		fclose(fp);
	if (buf != NULL)
		buf[n] = '\0';
	*plen = n;
	return buf;
}

/* D/ca.conf naming @key and @cert as the responder (ca_conf_set_responder). */
static void set_responder(const struct side *s, const char *key, const char *cert, long days)
{
	char path[1300], *text, *out = NULL;
	size_t len = 0, out_len = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/ca.conf", s->dir);
	assert_non_null(text = slurp(path, &len));
	if (ca_conf_set_responder(text, len, s->dir, key, cert, days, &out, &out_len) != RES_OK)
		fail_msg("ca_conf_set_responder: %s", res_message());
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fwrite(out, 1, out_len, fp), out_len);
	fclose(fp);
	/* a second time: the same text, nothing doubled */
	free(text);
	assert_non_null(text = slurp(path, &len));
	free(out);
	assert_int_equal(ca_conf_set_responder(text, len, s->dir, key, cert, days, &out, &out_len),
	                 RES_OK);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, text, len);
	free(text);
	free(out);
}

/* ca_responder_load's result for the CA in @s as configured now; *pca left open. */
static int load_responder(const struct side *s, struct ca **pca, EVP_PKEY **pkey, X509 **px)
{
	struct ca_open_opts o = { uh_softhsm_module(), s->pin_file, 1, 1 };

	ca_close(*pca);
	*pca = NULL;
	if (ca_open(s->dir, &o, pca) != RES_OK)
		fail_msg("ca_open %s: %s", s->dir, res_message());
	return ca_responder_load(*pca, pkey, px);
}

/*
 * The delegated responder through the library: its certificate (profile
 * ocsp, recorded) for a key of its own, never the CA key; ca.conf naming
 * it; and ca_responder_load() taking only a certificate of this CA, with
 * OCSPSigning, of the configured key.
 */
static void test_responder(void **state)
{
	struct side *s = &sides[0];
	struct ca_open_opts nokey = { uh_softhsm_module(), s->pin_file, 0, 1 };
	struct ca *ca = NULL, *other = NULL, *first = NULL;
	struct ca_open_opts withkey = { uh_softhsm_module(), s->pin_file, 1, 1 };
	struct cadb_row row;
	char uri[300], cert_path[1300], serial[CADB_SERIAL_MAX], cn[128];
	EVP_PKEY *rkey = NULL, *got_key = NULL;
	X509 *x = NULL, *got = NULL, *leaf = NULL;
	struct ca_req req;
	struct ca_issue_opts io = { CA_SERVER_CLIENT, 30, "sha256", 0, 1, 1 };
	int64_t now, after, end;

	(void)state;
	/* none configured */
	assert_int_equal(load_responder(s, &ca, &got_key, &got), RES_NOT_FOUND);
	assert_null(got_key);
	assert_null(got);
	/* a key of its own on the CA's token */
	assert_int_equal(sh("SOFTHSM2_CONF='%s' '%s/p11ca' key gen --module '%s' --pin-file '%s' "
	                    "--token pkcs11:token=%s --label responder --type ec:p256 "
	                    ">/dev/null </dev/null",
	                    tok.conf, uh_top_builddir(), uh_softhsm_module(), s->pin_file,
	                    s->label),
	                 0);
	snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=responder;type=private", s->label);
	/* the CA that issues, open throughout (the key and certificates are of its context) */
	assert_int_equal(ca_open(s->dir, &withkey, &first), RES_OK);
	if (pki_load_key(first->libctx, uri, &rkey) != RES_OK)
		fail_msg("%s: %s", uri, res_message());
	/* never the CA key; days within 1-3650 */
	assert_int_equal(ca_responder_issue(first, first->key, 30, &x), RES_POLICY);
	assert_non_null(strstr(res_message(), "is the CA key"));
	assert_null(x);
	assert_int_equal(ca_responder_issue(first, rkey, 0, &x), RES_BAD_INPUT);
	assert_int_equal(ca_responder_issue(first, rkey, 3651, &x), RES_BAD_INPUT);
	now = (int64_t)time(NULL); /* the setup above may take seconds under ASan */
	assert_int_equal(ca_responder_issue(first, rkey, 10, &x), RES_OK);
	after = (int64_t)time(NULL);
	/* signed by the CA for the responder key, OCSPSigning, ocsp-nocheck, 10 days */
	assert_int_equal(X509_verify(x, X509_get0_pubkey(first->cert)), 1);
	assert_int_equal(X509_check_issued(first->cert, x), X509_V_OK);
	assert_true(ca_key_matches(rkey, x));
	assert_true(X509_get_extended_key_usage(x) & XKU_OCSP_SIGN);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_true(X509_get_ext_by_NID(x, NID_id_pkix_OCSP_noCheck, -1) >= 0);
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
	                                      sizeof(cn)) > 0);
	assert_string_equal(cn, "CA 1 OCSP Responder");
	end = pki_asn1_time_get(X509_get0_notAfter(x));
	assert_in_range(end, now + 10 * 86400, after + 10 * 86400);
	/* backdated a minute for clocks a little behind */
	assert_in_range(pki_asn1_time_get(X509_get0_notBefore(x)), now - 60, after - 60);
	/* recorded, profile ocsp */
	assert_int_equal(pki_serial_of(X509_get0_serialNumber(x), serial), RES_OK);
	memset(&row, 0, sizeof(row));
	assert_int_equal(cadb_get(first->db, serial, &row), RES_OK);
	assert_string_equal(row.profile, "ocsp");
	assert_int_equal(row.status, 'V');
	cadb_row_free(&row);

	/* configured: loaded back, key and certificate */
	snprintf(cert_path, sizeof(cert_path), "%s/ocsp-responder.pem", s->dir);
	assert_int_equal(write_pem(cert_path, x), 0);
	set_responder(s, uri, cert_path, 10);
	if (load_responder(s, &ca, &got_key, &got) != RES_OK)
		fail_msg("ca_responder_load: %s", res_message());
	assert_int_equal(X509_cmp(got, x), 0);
	assert_true(ca_key_matches(got_key, x));
	assert_int_equal(ca->conf.ocsp_days, 10);
	assert_string_equal(ca->conf.ocsp_cert, cert_path);
	EVP_PKEY_free(got_key);
	X509_free(got);
	got_key = NULL;
	got = NULL;
	/* not without the CA's library context */
	{
		struct ca *bare = NULL;
		assert_int_equal(ca_open(s->dir, &nokey, &bare), RES_OK);
		assert_int_equal(ca_responder_load(bare, &got_key, &got), RES_FAIL);
		ca_close(bare);
	}

	/* a certificate of this CA without OCSPSigning */
	memset(&req, 0, sizeof(req));
	req.name = "leaf";
	req.csr = make_csr("leaf.example.com", &req.csr_len);
	assert_int_equal(ca_issue(first, &io, &req, 1), RES_OK);
	leaf = X509_dup(req.cert);
	free((void *)req.csr);
	ca_req_free(&req);
	assert_int_equal(write_pem(cert_path, leaf), 0);
	assert_int_equal(load_responder(s, &ca, &got_key, &got), RES_POLICY);
	assert_non_null(strstr(res_message(), "OCSPSigning"));
	assert_null(got_key);
	assert_null(got);
	/* the other CA's responder certificate */
	{
		struct ca_open_opts o2 = { uh_softhsm_module(), sides[1].pin_file, 1, 1 };
		EVP_PKEY *k2 = NULL;
		X509 *x2 = NULL;
		char uri2[300];

		assert_int_equal(sh("SOFTHSM2_CONF='%s' '%s/p11ca' key gen --module '%s' "
		                    "--pin-file '%s' --token pkcs11:token=%s --label responder "
		                    "--type ec:p256 >/dev/null </dev/null",
		                    tok.conf, uh_top_builddir(), uh_softhsm_module(),
		                    sides[1].pin_file, sides[1].label),
		                 0);
		snprintf(uri2, sizeof(uri2), "pkcs11:token=%s;object=responder;type=private",
		         sides[1].label);
		assert_int_equal(ca_open(sides[1].dir, &o2, &other), RES_OK);
		assert_int_equal(pki_load_key(other->libctx, uri2, &k2), RES_OK);
		assert_int_equal(ca_responder_issue(other, k2, 10, &x2), RES_OK);
		assert_int_equal(write_pem(cert_path, x2), 0);
		assert_int_equal(load_responder(s, &ca, &got_key, &got), RES_POLICY);
		assert_non_null(strstr(res_message(), "not a certificate of this CA"));
		EVP_PKEY_free(k2);
		X509_free(x2);
		ca_close(other);
	}
	/* the right certificate, but ca.conf names another key (the CA's) */
	assert_int_equal(write_pem(cert_path, x), 0);
	set_responder(s, first->conf.key, cert_path, 10);
	assert_int_equal(load_responder(s, &ca, &got_key, &got), RES_POLICY);
	assert_non_null(strstr(res_message(), "is not the key of"));
	/* the certificate gone */
	set_responder(s, uri, cert_path, 10);
	assert_int_equal(unlink(cert_path), 0);
	assert_int_equal(load_responder(s, &ca, &got_key, &got), RES_NOT_FOUND);
	assert_null(got);

	X509_free(leaf);
	X509_free(x);
	EVP_PKEY_free(rkey);
	ca_close(ca);
	ca_close(first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_cas_two_threads), cmocka_unit_test(test_wrong_pin_one_ca),
		cmocka_unit_test(test_hostile_sans),        cmocka_unit_test(test_issued_twice),
		cmocka_unit_test(test_serial_taken_redraw), cmocka_unit_test(test_conf_round_trip),
		cmocka_unit_test(test_conf_pin_value),      cmocka_unit_test(test_responder),
	};

	return cmocka_run_group_tests_name("ca-lib", tests, setup, teardown);
}
