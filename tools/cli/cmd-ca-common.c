/* cmd-ca-common.c - the pieces every "p11ca ca" verb shares (cmd-ca.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>

#include "cmd-ca.h"
#include "pki.h"

int tool_report(int rc)
{
	if (rc == RES_OK)
		return TOOL_EXIT_OK;
	tool_errorf("%s", res_message()[0] != '\0' ? res_message() : "failed");
	return TOOL_EXIT_FAIL;
}

int tool_ca_dir_opt(int id, const char *arg, void *data)
{
	if (id != TOOL_CA_O_DIR)
		return TOOL_EXIT_USAGE;
	*(const char **)data = arg;
	return 0;
}

struct ca *tool_ca_open(const char *dir, const struct tool_common *c, int need_key, int need_cert)
{
	struct ca_open_opts o = { c->module, c->pin_file, need_key, need_cert, NULL };

	/* ca.conf's module before $P11CA_MODULE; --module before both */
	if (c->module_from_env) {
		o.module = NULL;
		o.module_fallback = c->module;
	}
	struct ca *ca = NULL;

	size_t i;

	if (need_key)
		tool_pin_file_check(c->pin_file);
	if (tool_report(ca_open(dir, &o, &ca)) != TOOL_EXIT_OK)
		return NULL;
	for (i = 0; ca->warnings != NULL && ca->warnings[i] != NULL; i++)
		tool_warnf("%s", ca->warnings[i]);
	return ca;
}

int tool_ca_open_records(const char *dir, const struct tool_common *c, struct ca **pca)
{
	if (dir == NULL) {
		tool_errorf("--dir D is required");
		return TOOL_EXIT_USAGE;
	}
	return (*pca = tool_ca_open(dir, c, 0, 0)) != NULL ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

int tool_parse_days(const char *opt, const char *arg, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || *out <= 0 || *out > 36500) {
		tool_errorf("%s '%s': a number of days from 1 to 36500", opt, arg);
		return 0;
	}
	return 1;
}

int tool_parse_pathlen(const char *arg, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 16) {
		tool_errorf("--pathlen '%s': a number from 0 to 16", arg);
		return 0;
	}
	*out = (int)v;
	return 1;
}

X509 *tool_read_cert(const char *path)
{
	unsigned char *buf;
	size_t len = 0;
	X509 *x = NULL;
	int rc;

	if ((buf = tool_read_file(path, &len)) == NULL)
		return NULL;
	if ((rc = pki_load_cert(buf, len, &x)) != RES_OK) {
		res_prefix(rc, "%s", path);
		tool_report(rc);
	}
	free(buf);
	return x;
}

int tool_write_cert_pem(const char *path, X509 *x)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ret = TOOL_EXIT_FAIL;

	if (mem == NULL || !PEM_write_bio_X509(mem, x))
		tool_ossl_fail("encoding the certificate");
	else if ((len = BIO_get_mem_data(mem, &data)) > 0)
		ret = tool_write_atomic(path, (unsigned char *)data, (size_t)len);
	BIO_free(mem);
	return ret;
}

const char *tool_ca_status_name(const struct cadb_row *r, int64_t now)
{
	if (r->status == 'R')
		return "revoked";
	return r->not_after < now ? "expired" : "valid";
}
