/*
 * conf.c - D/ca.conf: the CA's settings in OpenSSL configuration syntax
 * (section [p11ca], read with NCONF).  It names the CA key by its pkcs11:
 * URI and never holds key material or a PIN.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/http.h>

#include "p11ca.h"

#include "ca.h"
#include "result.h"

#define SECTION "p11ca"

void ca_conf_free(struct ca_conf *conf)
{
	size_t i;

	free(conf->dir);
	free(conf->key);
	free(conf->module);
	free(conf->cert);
	free(conf->db);
	free(conf->default_profile);
	free(conf->default_md);
	for (i = 0; conf->crl_urls != NULL && conf->crl_urls[i] != NULL; i++)
		free(conf->crl_urls[i]);
	free(conf->crl_urls);
	free(conf->ocsp_url);
	free(conf->ca_issuers_url);
	free(conf->ocsp_key);
	free(conf->ocsp_cert);
	memset(conf, 0, sizeof(*conf));
}

/* @name relative to @dir unless absolute (malloc'ed). */
static char *in_dir(const char *dir, const char *name)
{
	char *p;

	if (name[0] == '/')
		return strdup(name);
	if ((p = malloc(strlen(dir) + strlen(name) + 2)) != NULL)
		sprintf(p, "%s/%s", dir, name);
	return p;
}

static int get_str(CONF *cf, const char *name, const char *def, char **out)
{
	const char *v = NCONF_get_string(cf, SECTION, name);

	ERR_clear_error(); /* a missing key is not an error */
	if (v == NULL || *v == '\0')
		v = def;
	*out = NULL;
	if (v != NULL && (*out = strdup(v)) == NULL)
		return 0;
	return 1;
}

static int get_num(CONF *cf, const char *path, const char *name, long def, long max, long *out)
{
	const char *v = NCONF_get_string(cf, SECTION, name);
	char *end;

	ERR_clear_error();
	*out = def;
	if (v == NULL || *v == '\0')
		return 1;
	errno = 0;
	*out = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || *out <= 0 || *out > max) {
		res_set(RES_BAD_INPUT, "%s: %s = '%.40s' is not a number of days (1-%ld)", path,
		        name, v, max);
		return 0;
	}
	return 1;
}

/* A host of a URL: an IPv6 literal in brackets, or letters, digits, hyphens and dots. */
static int url_host_ok(const char *h, size_t n)
{
	unsigned char b[16];
	char tmp[64];
	size_t i;

	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		if (n - 2 >= sizeof(tmp))
			return 0;
		memcpy(tmp, h + 1, n - 2);
		tmp[n - 2] = '\0';
		return inet_pton(AF_INET6, tmp, b) == 1;
	}
	if (n == 0 || n > 253 || h[0] == '.' || h[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
		      (h[i] >= '0' && h[i] <= '9') || h[i] == '-' || h[i] == '.'))
			return 0;
	return 1;
}

int ca_url_check(const char *what, const char *url)
{
	static const char path_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                 "0123456789-._~/:@!&()*+;=?%";
	char *scheme = NULL, *user = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL,
	     *frag = NULL;
	const char *p, *auth, *rest;
	size_t len = strlen(url), slen, i;
	int rc = RES_BAD_INPUT;

	/* shown in messages: nothing but printable ASCII gets this far */
	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return res_set(RES_BAD_INPUT,
			               "%s: the URL holds a space, control or non-ASCII character",
			               what);
	if (len > PKI_URI_MAX)
		return res_set(RES_BAD_INPUT, "%s: a URL of more than %d bytes", what, PKI_URI_MAX);
	if (strncasecmp(url, "http://", 7) == 0)
		slen = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		slen = 8;
	else
		return res_set(RES_BAD_INPUT, "%s '%s': not an http:// or https:// URL", what, url);
	/* authority: host[:port], no user (credentials have no place in a certificate) */
	auth = url + slen;
	rest = auth + strcspn(auth, "/?#");
	p = memchr(auth, ']', (size_t)(rest - auth));
	p = memchr(p != NULL ? p : auth, ':', (size_t)(rest - (p != NULL ? p : auth)));
	if (memchr(auth, '@', (size_t)(rest - auth)) != NULL ||
	    !url_host_ok(auth, (size_t)((p != NULL ? p : rest) - auth))) {
		res_set(RES_BAD_INPUT, "%s '%s': not a host name or address after the scheme", what,
		        url);
		goto out;
	}
	if (p != NULL) {
		long v = 0;
		for (i = 1; p + i < rest && p[i] >= '0' && p[i] <= '9' && v <= 65535; i++)
			v = v * 10 + (p[i] - '0');
		if (i == 1 || p + i != rest || v < 1 || v > 65535) {
			res_set(RES_BAD_INPUT, "%s '%s': bad port", what, url);
			goto out;
		}
	}
	/*
	 * a comma would read as a second name in openssl's extension syntax, a
	 * '$' or quote as ca.conf syntax; '#' (a fragment) means nothing to a
	 * CRL or OCSP client
	 */
	for (p = rest; *p != '\0'; p++) {
		if (strchr(path_chars, *p) == NULL) {
			res_set(RES_BAD_INPUT, "%s '%s': '%c' is not allowed in a URL here", what,
			        url, *p);
			goto out;
		}
		if (*p == '%' &&
		    !(isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]))) {
			res_set(RES_BAD_INPUT, "%s '%s': '%%' without two hex digits", what, url);
			goto out;
		}
	}
	/* and OpenSSL's own reading of it agrees */
	if (OSSL_parse_url(url, &scheme, &user, &host, &port, NULL, &path, &query, &frag) != 1 ||
	    user[0] != '\0' || host[0] == '\0') {
		ERR_clear_error();
		res_set(RES_BAD_INPUT, "%s '%s': not a URL", what, url);
		goto out;
	}
	rc = RES_OK;
out:
	OPENSSL_free(scheme);
	OPENSSL_free(user);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	OPENSSL_free(query);
	OPENSSL_free(frag);
	return rc;
}

/*
 * The delegated OCSP responder: ocsp_key (a pkcs11: URI without a PIN)
 * and ocsp_cert (made absolute), both or neither.
 */
static int get_responder(CONF *cf, const char *dir, const char *path, struct ca_conf *conf)
{
	char *s = NULL;

	if (!get_str(cf, "ocsp_key", NULL, &conf->ocsp_key) || !get_str(cf, "ocsp_cert", NULL, &s))
		return res_set(RES_NOMEM, "out of memory");
	if ((conf->ocsp_key == NULL) != (s == NULL)) {
		free(s);
		return res_set(RES_BAD_INPUT, "%s: %s without %s (set both, or neither)", path,
		               conf->ocsp_key != NULL ? "ocsp_key" : "ocsp_cert",
		               conf->ocsp_key != NULL ? "ocsp_cert" : "ocsp_key");
	}
	if (s == NULL)
		return RES_OK;
	conf->ocsp_cert = in_dir(dir, s);
	free(s);
	if (conf->ocsp_cert == NULL)
		return res_set(RES_NOMEM, "out of memory");
	if (strncmp(conf->ocsp_key, "pkcs11:", 7) != 0)
		return res_set(RES_BAD_INPUT, "%s: ocsp_key is not a pkcs11: URI", path);
	if (p11ca_uri_has_pin_value(conf->ocsp_key))
		return res_set(
		    RES_POLICY,
		    "%s: the ocsp_key URI holds a pin-value; keep the PIN out of ca.conf "
		    "(use pin-source=file:..., --pin-file or P11CA_PIN)",
		    path);
	return RES_OK;
}

int ca_conf_parse(const char *text, size_t len, const char *dir, const char *path,
                  struct ca_conf *conf)
{
	CONF *cf = NULL;
	BIO *mem = NULL;
	char *s = NULL;
	char name[32];
	long line = -1;
	size_t n = 0, i;
	int ret = RES_NOMEM;

	memset(conf, 0, sizeof(*conf));
	if ((conf->dir = strdup(dir)) == NULL || (cf = NCONF_new(NULL)) == NULL ||
	    (mem = BIO_new_mem_buf(text, (int)len)) == NULL)
		goto oom;
	if (NCONF_load_bio(cf, mem, &line) <= 0) {
		ERR_clear_error();
		ret = res_set(RES_BAD_INPUT, "%s: syntax error on line %ld", path, line);
		goto out;
	}
	if (!get_str(cf, "key", NULL, &conf->key) || !get_str(cf, "module", NULL, &conf->module) ||
	    !get_str(cf, "certificate", "ca.pem", &s))
		goto oom;
	if (conf->key == NULL) {
		ret = res_set(RES_BAD_INPUT,
		              "%s: no 'key' (the CA key's pkcs11: URI) in section [%s]", path,
		              SECTION);
		goto out;
	}
	if (p11ca_uri_has_pin_value(conf->key)) {
		ret = res_set(RES_POLICY,
		              "%s: the key URI holds a pin-value; keep the PIN out of ca.conf "
		              "(use pin-source=file:..., --pin-file or P11CA_PIN)",
		              path);
		goto out;
	}
	if ((conf->cert = in_dir(dir, s)) == NULL)
		goto oom;
	free(s);
	s = NULL;
	if (!get_str(cf, "database", "ca.db", &s))
		goto oom;
	/*
	 * A path is relative to the CA directory, also after "sqlite:"; a
	 * location of another scheme ("postgresql://...") is kept as it is.
	 */
	if (strncmp(s, "sqlite:", 7) == 0) {
		char *file = in_dir(dir, s + 7);
		if (file != NULL && (conf->db = malloc(strlen(file) + 8)) != NULL)
			sprintf(conf->db, "sqlite:%s", file);
		free(file);
	} else if (strstr(s, "://") != NULL) {
		conf->db = strdup(s);
	} else {
		conf->db = in_dir(dir, s);
	}
	if (conf->db == NULL)
		goto oom;
	free(s);
	s = NULL;
	if (!get_num(cf, path, "default_days", 365, 36500, &conf->default_days) ||
	    !get_num(cf, path, "crl_days", 7, 36500, &conf->crl_days) ||
	    !get_num(cf, path, "ocsp_days", CA_OCSP_DAYS, CA_OCSP_DAYS_MAX, &conf->ocsp_days)) {
		ret = RES_BAD_INPUT;
		goto out;
	}
	if (!get_str(cf, "default_profile", "server-client", &conf->default_profile) ||
	    !get_str(cf, "default_md", "sha256", &conf->default_md) ||
	    !get_str(cf, "ocsp_url", NULL, &conf->ocsp_url) ||
	    !get_str(cf, "ca_issuers_url", NULL, &conf->ca_issuers_url))
		goto oom;
	if ((conf->crl_urls = calloc(CA_MAX_CRL_URLS + 1, sizeof(char *))) == NULL)
		goto oom;
	for (i = 0; i < CA_MAX_CRL_URLS; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "crl_url");
		else
			snprintf(name, sizeof(name), "crl_url.%zu", i);
		if (!get_str(cf, name, NULL, &s))
			goto oom;
		/* URLs go into every certificate: checked here, whoever wrote the file */
		if (s != NULL && (ret = ca_url_check(name, s)) != RES_OK) {
			res_prefix(ret, "%s", path);
			goto out;
		}
		if (s != NULL)
			conf->crl_urls[n++] = s;
		s = NULL;
	}
	if ((ret = get_responder(cf, dir, path, conf)) != RES_OK)
		goto out;
	if ((conf->ocsp_url != NULL &&
	     (ret = ca_url_check("ocsp_url", conf->ocsp_url)) != RES_OK) ||
	    (conf->ca_issuers_url != NULL &&
	     (ret = ca_url_check("ca_issuers_url", conf->ca_issuers_url)) != RES_OK)) {
		res_prefix(ret, "%s", path);
		goto out;
	}
	ret = RES_OK;
	goto out;
oom:
	ret = res_set(RES_NOMEM, "out of memory");
out:
	free(s);
	BIO_free(mem);
	NCONF_free(cf);
	if (ret != RES_OK)
		ca_conf_free(conf);
	return ret;
}

/*
 * Whether @v can be written as an unquoted ca.conf value that reads back
 * the same: NCONF drops spaces around a value and reads quotes (also
 * '`'), backslashes, '#' and '$' (found by tests/fuzz/conf_fuzzer.c).
 */
static int plain_value(const char *what, const char *v)
{
	const char *p;
	size_t len = strlen(v);

	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20) {
			/* not shown: the message is one line */
			res_set(RES_BAD_INPUT, "%s: a control character ca.conf cannot keep", what);
			return 0;
		}
	for (p = v; *p != '\0'; p++)
		if (*p == '"' || *p == '\'' || *p == '`' || *p == '\\' || *p == '#' || *p == '$') {
			res_set(RES_BAD_INPUT,
			        "%s: '%s' holds a character ca.conf cannot keep (a quote or "
			        "backquote, backslash, '#' or '$')",
			        what, v);
			return 0;
		}
	if (len > 0 && (v[0] == ' ' || v[len - 1] == ' ')) {
		res_set(RES_BAD_INPUT, "%s: '%s' starts or ends with a space, which ca.conf drops",
		        what, v);
		return 0;
	}
	return 1;
}

int ca_conf_format(const struct ca_conf *conf, char **ptext, size_t *plen)
{
	BIO *mem = NULL;
	char *data;
	long len;
	size_t i;
	int ret = RES_NOMEM;

	*ptext = NULL;
	if (!plain_value("--key", conf->key) ||
	    (conf->module != NULL && !plain_value("--module", conf->module)) ||
	    !plain_value("default_profile", conf->default_profile) ||
	    !plain_value("--md", conf->default_md) ||
	    (conf->ocsp_url != NULL && !plain_value("--ocsp-url", conf->ocsp_url)) ||
	    (conf->ca_issuers_url != NULL &&
	     !plain_value("--ca-issuers-url", conf->ca_issuers_url)))
		return RES_BAD_INPUT;
	if ((conf->ocsp_key != NULL) != (conf->ocsp_cert != NULL) || conf->ocsp_days < 0 ||
	    conf->ocsp_days > CA_OCSP_DAYS_MAX)
		return res_set(RES_BAD_INPUT,
		               "the OCSP responder's settings cannot go into ca.conf");
	if (conf->ocsp_key != NULL && (!plain_value("ocsp_key", conf->ocsp_key) ||
	                               !plain_value("ocsp_cert", conf->ocsp_cert)))
		return RES_BAD_INPUT;
	if (conf->ocsp_key != NULL &&
	    (strncmp(conf->ocsp_key, "pkcs11:", 7) != 0 || p11ca_uri_has_pin_value(conf->ocsp_key)))
		return res_set(RES_BAD_INPUT,
		               "ocsp_key: not a pkcs11: URI, or one that holds a pin-value");
	for (i = 0; conf->crl_urls != NULL && conf->crl_urls[i] != NULL; i++)
		if (!plain_value("--crl-url", conf->crl_urls[i]) ||
		    ca_url_check("--crl-url", conf->crl_urls[i]) != RES_OK)
			return RES_BAD_INPUT;
	if ((conf->ocsp_url != NULL && ca_url_check("--ocsp-url", conf->ocsp_url) != RES_OK) ||
	    (conf->ca_issuers_url != NULL &&
	     ca_url_check("--ca-issuers-url", conf->ca_issuers_url) != RES_OK))
		return RES_BAD_INPUT;
	if ((mem = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	BIO_printf(mem,
	           "# p11ca CA configuration (OpenSSL config syntax).  The key stays on the\n"
	           "# token: this file names it by URI and holds no key material or PIN.\n"
	           "[ " SECTION " ]\n"
	           "version = 1\n"
	           "key = %s\n",
	           conf->key);
	if (conf->module != NULL)
		BIO_printf(mem, "module = %s\n", conf->module);
	BIO_printf(mem,
	           "certificate = ca.pem\n"
	           "database = ca.db\n"
	           "# defaults of 'p11ca ca sign' and 'p11ca ca crl'\n"
	           "default_days = %ld\n"
	           "default_profile = %s\n"
	           "default_md = %s\n"
	           "crl_days = %ld\n"
	           "# URLs put into issued certificates (CRL distribution points, AIA)\n",
	           conf->default_days, conf->default_profile, conf->default_md, conf->crl_days);
	for (i = 0; conf->crl_urls != NULL && conf->crl_urls[i] != NULL; i++) {
		if (i == 0)
			BIO_printf(mem, "crl_url = %s\n", conf->crl_urls[i]);
		else
			BIO_printf(mem, "crl_url.%zu = %s\n", i, conf->crl_urls[i]);
	}
	if (conf->ocsp_url != NULL)
		BIO_printf(mem, "ocsp_url = %s\n", conf->ocsp_url);
	if (conf->ca_issuers_url != NULL)
		BIO_printf(mem, "ca_issuers_url = %s\n", conf->ca_issuers_url);
	if (conf->ocsp_key != NULL) {
		size_t dl = strlen(conf->dir);
		/* in the CA directory: relative, so that the directory can move */
		const char *cert = strncmp(conf->ocsp_cert, conf->dir, dl) == 0 &&
		                           conf->ocsp_cert[dl] == '/' &&
		                           conf->ocsp_cert[dl + 1] != '\0'
		                       ? conf->ocsp_cert + dl + 1
		                       : conf->ocsp_cert;
		BIO_printf(mem,
		           "# the delegated OCSP responder ('p11ca ca responder'): its key on the\n"
		           "# token and its certificate; 'p11ca serve' signs with it\n"
		           "ocsp_key = %s\n"
		           "ocsp_cert = %s\n",
		           conf->ocsp_key, cert);
	}
	if (conf->ocsp_days > 0 && (conf->ocsp_key != NULL || conf->ocsp_days != CA_OCSP_DAYS))
		BIO_printf(mem, "ocsp_days = %ld\n", conf->ocsp_days);
	len = BIO_get_mem_data(mem, &data);
	if (len <= 0 || (*ptext = malloc((size_t)len + 1)) == NULL)
		goto out;
	memcpy(*ptext, data, (size_t)len);
	(*ptext)[len] = '\0';
	*plen = (size_t)len;
	ret = RES_OK;
out:
	BIO_free(mem);
	return ret == RES_OK ? RES_OK : res_set(ret, "out of memory");
}

/* The line's key when it is "KEY = ..." (spaces allowed around), else "". */
static void line_key(const char *p, const char *end, char *key, size_t cap)
{
	size_t n = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (p < end && n + 1 < cap && (isalnum((unsigned char)*p) || *p == '_' || *p == '.'))
		key[n++] = *p++;
	key[n] = '\0';
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p != '=')
		key[0] = '\0';
}

/* The section a "[ name ]" line opens (into @name), 0 when the line is no header. */
static int line_section(const char *p, const char *end, char *name, size_t cap)
{
	size_t n = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p != '[')
		return 0;
	for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
		;
	while (p < end && *p != ']' && *p != ' ' && *p != '\t' && n + 1 < cap)
		name[n++] = *p++;
	name[n] = '\0';
	return 1;
}

static const char responder_comment1[] =
    "# the delegated OCSP responder ('p11ca ca responder'): its key on the";
static const char responder_comment2[] = "# token and its certificate; 'p11ca serve' signs with it";

int ca_conf_set_responder(const char *text, size_t len, const char *dir, const char *key,
                          const char *cert, long days, char **pout, size_t *plen)
{
	struct ca_conf back;
	size_t dl = strlen(dir), pos = 0, at = (size_t)-1, out_len = 0, add;
	const char *rel = cert;
	char section[64] = "default", k[32], *out = NULL, *want, lines[8192];
	int ret, in_ours = 0;

	*pout = NULL;
	if (strncmp(cert, dir, dl) == 0 && cert[dl] == '/' && cert[dl + 1] != '\0')
		rel = cert + dl + 1;
	if (strncmp(key, "pkcs11:", 7) != 0 || p11ca_uri_has_pin_value(key))
		return res_set(RES_BAD_INPUT,
		               "ocsp_key: not a pkcs11: URI, or one that holds a pin-value");
	if (!plain_value("ocsp_key", key) || !plain_value("ocsp_cert", rel))
		return RES_BAD_INPUT;
	if (days < 1 || days > CA_OCSP_DAYS_MAX)
		return res_set(RES_BAD_INPUT, "ocsp_days %ld: 1 to %d", days, CA_OCSP_DAYS_MAX);
	if (snprintf(lines, sizeof(lines),
	             "%s\n%s\nocsp_key = %s\nocsp_cert = %s\nocsp_days = %ld\n", responder_comment1,
	             responder_comment2, key, rel, days) >= (int)sizeof(lines))
		return res_set(RES_BAD_INPUT, "ocsp_key: too long");
	add = strlen(lines);
	if ((out = malloc(len + add + 2)) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	/* every line kept but the responder's own in [p11ca] */
	while (pos < len) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		const char *end = nl != NULL ? nl : text + len, *q;
		size_t n = (size_t)(end - p) + (nl != NULL ? 1 : 0), ll = (size_t)(end - p);
		int drop = 0, header;

		if ((header = line_section(p, end, section, sizeof(section))))
			in_ours = strcmp(section, SECTION) == 0;
		else if (in_ours) {
			line_key(p, end, k, sizeof(k));
			drop = strcmp(k, "ocsp_key") == 0 || strcmp(k, "ocsp_cert") == 0 ||
			       strcmp(k, "ocsp_days") == 0 ||
			       (ll == strlen(responder_comment1) &&
			        memcmp(p, responder_comment1, ll) == 0) ||
			       (ll == strlen(responder_comment2) &&
			        memcmp(p, responder_comment2, ll) == 0);
		}
		pos += n;
		if (drop)
			continue;
		memcpy(out + out_len, p, n);
		out_len += n;
		for (q = p; q < end && isspace((unsigned char)*q); q++)
			;
		/* the new lines go after [p11ca]'s last line that is not blank */
		if (in_ours && (header || q < end)) {
			if (nl == NULL)
				out[out_len++] = '\n';
			at = out_len;
		}
	}
	if (at == (size_t)-1) {
		free(out);
		return res_set(RES_BAD_INPUT, "ca.conf has no section [%s]", SECTION);
	}
	memmove(out + at + add, out + at, out_len - at);
	memcpy(out + at, lines, add);
	out_len += add;
	out[out_len] = '\0';
	/* and it reads back as meant */
	if ((ret = ca_conf_parse(out, out_len, dir, "ca.conf", &back)) != RES_OK) {
		free(out);
		return ret;
	}
	want = in_dir(dir, rel);
	if (want == NULL || back.ocsp_key == NULL || strcmp(back.ocsp_key, key) != 0 ||
	    back.ocsp_days != days || back.ocsp_cert == NULL || strcmp(back.ocsp_cert, want) != 0) {
		ret = want == NULL
		          ? res_set(RES_NOMEM, "out of memory")
		          : res_set(RES_BAD_INPUT, "ca.conf: the responder's settings do not "
		                                   "read back as written (edited by hand?)");
		free(out);
		out = NULL;
	}
	free(want);
	ca_conf_free(&back);
	*pout = out;
	*plen = out_len;
	return ret;
}
