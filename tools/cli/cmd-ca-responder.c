/*
 * cmd-ca-responder.c - p11ca ca responder: the delegated OCSP responder of
 * a CA.  A key of its own on the CA key's token (generated, or named by
 * URI), its certificate of profile ocsp signed by the CA key and recorded
 * in the database, written atomically to D/ocsp-responder.pem, and
 * ocsp_key/ocsp_cert/ocsp_days recorded in D/ca.conf (atomically);
 * without a key option, the configured key's certificate renewed.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd-ca.h"
#include "readfile.h"

static const char responder_help[] =
    "usage: p11ca ca responder --dir D [--new-key TYPE [--label L] | --key URI]\n"
    "                          [--days N]\n\n"
    "The CA's delegated OCSP responder, which 'p11ca serve' signs responses\n"
    "with (the CA key then signs certificates and CRLs only):\n"
    "  --new-key TYPE  a new key generated on the CA key's token (TYPE\n"
    "                  rsa:2048|rsa:3072|rsa:4096|ec:p256|ec:p384|ec:p521|\n"
    "                  ed25519; sensitive, never extractable), labelled L\n"
    "                  (default \"<D's name> OCSP responder\");\n"
    "  --key URI       an existing private key on a token (not the CA key);\n"
    "  neither         the configured responder key gets a new certificate.\n"
    "Its certificate (profile ocsp: digitalSignature, OCSPSigning, OCSP No\n"
    "Check; subject \"<the CA's CN> OCSP Responder\") is signed by the CA key,\n"
    "valid for --days N (1-3650; default ca.conf's ocsp_days, else 30, cut at\n"
    "the CA's own end), recorded in the database, and written to\n"
    "D/ocsp-responder.pem; ca.conf records ocsp_key, ocsp_cert and ocsp_days.\n";

enum { O_NEW_KEY = TOOL_CA_O_FIRST, O_LABEL, O_KEY, O_DAYS };

struct responder_args {
	const char *dir, *new_key, *label, *key;
	long days; /* 0: ca.conf's */
};

static int responder_opt(int id, const char *arg, void *data)
{
	struct responder_args *a = data;
	char *end;

	switch (id) {
	case TOOL_CA_O_DIR: a->dir = arg; break;
	case O_NEW_KEY: a->new_key = arg; break;
	case O_LABEL: a->label = arg; break;
	case O_KEY: a->key = arg; break;
	case O_DAYS:
		errno = 0;
		a->days = strtol(arg, &end, 10);
		if (errno != 0 || *end != '\0' || a->days < 1 || a->days > CA_OCSP_DAYS_MAX) {
			tool_errorf("--days '%s': a number of days from 1 to %d", arg,
			            CA_OCSP_DAYS_MAX);
			return TOOL_EXIT_USAGE;
		}
		break;
	default: return TOOL_EXIT_USAGE;
	}
	return 0;
}

/* "<D's base name> OCSP responder" (free()). */
static char *default_label(const char *dir)
{
	char *copy = strdup(dir), *base, *label = NULL;

	if (copy == NULL)
		return NULL;
	base = basename(copy);
	if ((label = malloc(strlen(base) + 32)) != NULL)
		sprintf(label, "%s OCSP responder", strcmp(base, "/") == 0 ? "CA" : base);
	free(copy);
	return label;
}

/* The bytes of @path before we replace it (*pbuf NULL when there is no such file). */
static int keep_old(const char *path, unsigned char **pbuf, size_t *plen)
{
	int rc = res_read_regular(path, 1 << 20, pbuf, plen);

	if (rc == RES_NOT_FOUND) {
		*pbuf = NULL;
		return TOOL_EXIT_OK;
	}
	return tool_report(rc);
}

/*
 * D/ca.conf naming the responder, atomically: only its three lines change,
 * the rest of the file (comments, edits) stays as it is.
 */
static int write_conf(struct ca *ca, const char *key_uri, const char *cert_path, long days)
{
	unsigned char *text = NULL;
	char *out = NULL, path[4096];
	size_t len = 0, out_len = 0;
	int ret = TOOL_EXIT_FAIL;

	snprintf(path, sizeof(path), "%s/ca.conf", ca->conf.dir);
	if (tool_report(res_read_regular(path, 1 << 20, &text, &len)) != TOOL_EXIT_OK ||
	    tool_report(ca_conf_set_responder((char *)text, len, ca->conf.dir, key_uri, cert_path,
	                                      days, &out, &out_len)) != TOOL_EXIT_OK)
		goto out;
	ret = tool_write_atomic(path, (unsigned char *)out, out_len);
out:
	free(text);
	free(out);
	return ret;
}

/* @x's serial and end, for the closing line. */
static void say_done(X509 *x, const char *path)
{
	char serial[CA_SERIAL_MAX], until[PKI_TIME_ISO_MAX];

	if (pki_serial_of(X509_get0_serialNumber(x), serial) != RES_OK)
		snprintf(serial, sizeof(serial), "?");
	pki_time_iso(pki_asn1_time_get(X509_get0_notAfter(x)), until);
	printf("responder certificate %s, valid until %s, in %s\n", serial, until, path);
}

int tool_ca_responder(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		TOOL_CA_DIR_OPT,
		{ "new-key", required_argument, O_NEW_KEY },
		{ "label", required_argument, O_LABEL },
		{ "key", required_argument, O_KEY },
		{ "days", required_argument, O_DAYS },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 }, kc;
	struct responder_args a = { 0 };
	struct ca *ca = NULL;
	char *label = NULL, *new_uri = NULL, *cert_path = NULL;
	const char *uri;
	unsigned char *old_pem = NULL;
	size_t old_len = 0;
	EVP_PKEY *rkey = NULL;
	X509 *x = NULL;
	long days;
	int rc, ret = TOOL_EXIT_USAGE;

	if ((rc = tool_parse(argc, argv, opts, responder_help, &c, responder_opt, &a)) !=
	    TOOL_PARSE_GO)
		return rc;
	kc = c;
	if (a.dir == NULL || optind != argc) {
		tool_errorf("ca responder needs --dir D (and no other operand)");
		goto out;
	}
	if (a.new_key != NULL && a.key != NULL) {
		tool_errorf("--new-key and --key: one or the other");
		goto out;
	}
	if (a.label != NULL && a.new_key == NULL) {
		tool_errorf("--label names the key --new-key makes");
		goto out;
	}
	if (a.key != NULL && strncmp(a.key, "pkcs11:", 7) != 0) {
		tool_errorf("--key '%s': a pkcs11: URI of a private key on a token", a.key);
		goto out;
	}
	if (a.key != NULL && tool_uri_has_pin_value(a.key)) {
		tool_errorf("--key: the URI holds a pin-value, which ca.conf would keep; use "
		            "pin-source=file:..., --pin-file or P11CA_PIN");
		goto out;
	}
	ret = TOOL_EXIT_FAIL;
	if ((ca = tool_ca_open(a.dir, &c, 1, 1)) == NULL)
		goto out;
	days = a.days > 0 ? a.days : ca->conf.ocsp_days > 0 ? ca->conf.ocsp_days : CA_OCSP_DAYS;
	if (a.new_key == NULL && a.key == NULL && ca->conf.ocsp_key == NULL) {
		tool_errorf("%s/ca.conf names no OCSP responder yet: make one with --new-key TYPE "
		            "or --key URI",
		            ca->conf.dir);
		goto out;
	}
	/* renewing: where ca.conf says; a new responder: D/ocsp-responder.pem */
	if (a.new_key == NULL && a.key == NULL)
		cert_path = strdup(ca->conf.ocsp_cert);
	else if ((cert_path = malloc(strlen(ca->conf.dir) + 32)) != NULL)
		sprintf(cert_path, "%s/ocsp-responder.pem", ca->conf.dir);
	if (cert_path == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	if (keep_old(cert_path, &old_pem, &old_len) != TOOL_EXIT_OK || !tool_out_ok(cert_path, 0))
		goto out;
	uri = a.key != NULL ? a.key : ca->conf.ocsp_key;
	if (a.new_key != NULL) {
		/* on the CA key's token, through ca.conf's module unless --module says */
		if (ca->conf.module != NULL && (c.module == NULL || c.module_from_env))
			kc.module = ca->conf.module;
		if (a.label == NULL && (label = default_label(ca->conf.dir)) == NULL) {
			tool_errorf("out of memory");
			goto out;
		}
		if (tool_generate_key(&kc, ca->conf.key, a.new_key, a.label ? a.label : label, 0,
		                      &new_uri) != TOOL_EXIT_OK)
			goto out;
		uri = new_uri;
	}
	if (tool_report(pki_load_key(ca->libctx, uri, &rkey)) != TOOL_EXIT_OK)
		goto undo;
	if ((rc = ca_responder_issue(ca, rkey, days, &x)) != RES_OK) {
		tool_report(rc);
		goto undo;
	}
	/* recorded: now the files, the certificate first, ca.conf naming it last */
	if (tool_write_cert_pem(cert_path, x) != TOOL_EXIT_OK)
		goto undo;
	if ((ca->conf.ocsp_key == NULL || strcmp(ca->conf.ocsp_key, uri) != 0 ||
	     ca->conf.ocsp_days != days || strcmp(ca->conf.ocsp_cert, cert_path) != 0) &&
	    write_conf(ca, uri, cert_path, days) != TOOL_EXIT_OK) {
		/* ca.conf still names the old responder: its certificate goes back */
		if (old_pem != NULL)
			(void)tool_write_atomic(cert_path, old_pem, old_len);
		else
			(void)unlink(cert_path);
		goto undo;
	}
	say_done(x, cert_path);
	ret = TOOL_EXIT_OK;
	goto out;
undo:
	if (new_uri != NULL)
		tool_delete_new_key(&kc, new_uri);
out:
	X509_free(x);
	EVP_PKEY_free(rkey);
	ca_close(ca);
	free(old_pem);
	free(cert_path);
	free(new_uri);
	free(label);
	return ret;
}
