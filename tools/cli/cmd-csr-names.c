/*
 * cmd-csr-names.c - the subject and subjectAltName arguments of `p11ca csr`:
 * --subject and --san parsed, the deployment names (--fqdn, --cluster,
 * --peer, --uc-name) merged in, everything checked against the PKI
 * library's one name policy (cmd-csr.h).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "cmd-csr.h"
#include "pki.h"
#include "result.h"

/* ------------------------------------------------------------------ */
/* Name checks: the PKI library's one name policy                      */
/* ------------------------------------------------------------------ */

/*
 * Whether @name passes the name policy as a @type name; reports when not.
 * @what names the option ("--fqdn", "--san dns:").  An IP address given as
 * a DNS name gets the option that takes it.
 */
static int name_ok(const char *what, enum pki_name_type type, const char *name)
{
	size_t len = strlen(name), wlen = strlen(what);
	int rc = pki_name_check(type, name, len, type == PKI_NAME_IP ? PKI_NAME_IP_TEXT : 0);
	char msg[1024], lbl[320];

	if (rc == RES_OK)
		return 1;
	snprintf(msg, sizeof(msg), "%s", res_message());
	/* "--san dns:NAME" for an option ending in ':', else the option alone */
	snprintf(lbl, sizeof(lbl), "%s%.260s", what, wlen > 0 && what[wlen - 1] == ':' ? name : "");
	if (type == PKI_NAME_DNS &&
	    pki_name_check(PKI_NAME_IP, name, len, PKI_NAME_IP_TEXT) == RES_OK && wlen > 0 &&
	    what[wlen - 1] != ':')
		/* --fqdn, --cluster, --peer: what the peers dial */
		tool_errorf("%s: %s; peers must address this server by its FQDN (a name in "
		            "DNS), so give that here (an address may go in as --san ip:%s too)",
		            lbl, msg, name);
	else if (type == PKI_NAME_DNS &&
	         pki_name_check(PKI_NAME_IP, name, len, PKI_NAME_IP_TEXT) == RES_OK)
		tool_errorf("%s: %s; give it as --san ip:%s", lbl, msg, name);
	else
		tool_errorf("%s: %s", lbl, msg);
	return 0;
}

static int check_fqdn(const char *what, const char *name)
{
	return name_ok(what, PKI_NAME_DNS, name);
}

/* A CN that need not be a host name (a client's) may still not be a wildcard. */
static int check_no_wildcard(const char *what, const char *name)
{
	if (pki_name_check(PKI_NAME_DNS, name, strlen(name), 0) != RES_POLICY)
		return 1;
	tool_errorf("%s: %s", what, res_message());
	return 0;
}

/* A subject value: not empty, no control characters, valid UTF-8 left to OpenSSL. */
int csr_check_value(const char *what, const char *v)
{
	const unsigned char *p;

	if (*v == '\0') {
		tool_errorf("%s: empty value", what);
		return 0;
	}
	for (p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			tool_errorf("%s: control characters are not allowed", what);
			return 0;
		}
	return 1;
}

/* ------------------------------------------------------------------ */
/* --san and --subject                                                 */
/* ------------------------------------------------------------------ */

int csr_san_add(struct csr_san_list *l, enum csr_san_type type, const char *value)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].type == type &&
		    (type == CSR_SAN_IP ? strcmp(l->v[i].value, value)
		                        : strcasecmp(l->v[i].value, value)) == 0)
			return 1; /* already there */
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct csr_san *nv = realloc(l->v, cap * sizeof(*nv));
		if (nv == NULL)
			return 0;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].type = type;
	l->v[l->n].value = value;
	l->n++;
	return 1;
}

/*
 * --san dns:NAME,ip:ADDR,email:ADDR (repeatable).  Splits a copy of @arg in
 * place; the pieces stay owned by @l.  Returns TOOL_EXIT_* (a piece with
 * no or an unknown type prefix is a usage error).
 */
int csr_san_parse(struct csr_san_list *l, const char *arg)
{
	char *copy, *tok, *save = NULL, **no;

	if ((copy = strdup(arg)) == NULL ||
	    (no = realloc(l->owned, (l->nowned + 1) * sizeof(*no))) == NULL) {
		free(copy);
		tool_errorf("out of memory");
		return TOOL_EXIT_FAIL;
	}
	l->owned = no;
	l->owned[l->nowned++] = copy;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		enum csr_san_type type;

		while (*tok == ' ')
			tok++;
		if (colon == NULL) {
			tool_errorf("--san '%s' needs a type: dns:NAME, ip:ADDRESS or "
			            "email:ADDRESS",
			            tok);
			return TOOL_EXIT_USAGE;
		}
		*colon = '\0';
		if (strcasecmp(tok, "dns") == 0)
			type = CSR_SAN_DNS;
		else if (strcasecmp(tok, "ip") == 0)
			type = CSR_SAN_IP;
		else if (strcasecmp(tok, "email") == 0)
			type = CSR_SAN_EMAIL;
		else {
			tool_errorf("--san: unknown type '%s:' (dns:, ip: or email:)", tok);
			return TOOL_EXIT_USAGE;
		}
		if (!csr_san_add(l, type, colon + 1)) {
			tool_errorf("out of memory");
			return TOOL_EXIT_FAIL;
		}
	}
	return TOOL_EXIT_OK;
}

void csr_san_list_free(struct csr_san_list *l)
{
	size_t i;

	for (i = 0; i < l->nowned; i++)
		free(l->owned[i]);
	free(l->owned);
	free(l->v);
}

/* Sets field @nid, replacing an earlier value of the same field. */
static int subject_set(struct csr_subject *s, int nid, const char *value)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].nid == nid) {
			s->v[i].value = value;
			return 1;
		}
	if (s->n == sizeof(s->v) / sizeof(s->v[0])) {
		tool_errorf("too many subject fields");
		return 0;
	}
	s->v[s->n].nid = nid;
	s->v[s->n].value = value;
	s->n++;
	return 1;
}

static const char *subject_get(const struct csr_subject *s, int nid)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].nid == nid)
			return s->v[i].value;
	return NULL;
}

/*
 * "CN=x,O=y" (RFC 2253, as other tools print names) is refused in one line
 * that shows the slash form, the fields reversed when that is unambiguous
 * (no escapes, no '/' or '+').  Returns TOOL_EXIT_USAGE.
 */
static int comma_form_hint(const char *arg)
{
	char buf[512];
	const char *end = arg + strlen(arg), *p;
	size_t n = 0;

	if (strpbrk(arg, "\\/+") == NULL && strlen(arg) < sizeof(buf) - 1) {
		/* the last RDN first: "CN=x,O=y" is /O=y/CN=x */
		while (end > arg) {
			for (p = end; p > arg && p[-1] != ','; p--)
				;
			while (p < end && *p == ' ')
				p++;
			if (p == end)
				break;
			buf[n++] = '/';
			memcpy(buf + n, p, (size_t)(end - p));
			n += (size_t)(end - p);
			for (end = p; end > arg && end[-1] != ','; end--)
				;
			if (end > arg)
				end--;
		}
	}
	buf[n] = '\0';
	if (n > 0 && end == arg)
		tool_errorf("--subject '%s': p11ca takes the slash form, most general field "
		            "first: '%s'",
		            arg, buf);
	else
		tool_errorf("--subject '%s': p11ca takes the slash form, most general field "
		            "first, like /C=GB/O=Example/CN=host.example.com",
		            arg);
	return TOOL_EXIT_USAGE;
}

/*
 * --subject "/C=GB/O=Example/CN=host.example.com": fields in order, any
 * name OpenSSL knows (short or long), "\/" and "\\" escaped.  Returns
 * TOOL_EXIT_*.
 */
int csr_subject_parse(struct csr_subject *s, const char *arg)
{
	char *p, *out, *key, *val;
	int nid;

	if (arg[0] != '/') {
		if (strchr(arg, '=') != NULL)
			return comma_form_hint(arg);
		tool_errorf("--subject must look like /C=GB/O=Example/CN=host.example.com");
		return TOOL_EXIT_USAGE;
	}
	if ((s->parsed = strdup(arg)) == NULL) {
		tool_errorf("out of memory");
		return TOOL_EXIT_FAIL;
	}
	p = s->parsed + 1;
	while (*p != '\0') {
		/* key up to '=', value up to an unescaped '/', unescaping in place */
		key = p;
		while (*p != '\0' && *p != '=' && *p != '/')
			p++;
		if (*p != '=' || p == key) {
			tool_errorf("--subject: '%.*s' is not KEY=VALUE", (int)(p - key), key);
			return TOOL_EXIT_USAGE;
		}
		*p++ = '\0';
		val = out = p;
		while (*p != '\0' && *p != '/') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*out++ = *p++;
		}
		if (*p == '/')
			p++;
		*out = '\0';
		if (strcasecmp(key, "email") == 0 || strcmp(key, "E") == 0)
			nid = NID_pkcs9_emailAddress;
		else
			nid = OBJ_txt2nid(key);
		if (nid == NID_undef) {
			tool_errorf("--subject: unknown field '%s'", key);
			return TOOL_EXIT_USAGE;
		}
		if (!subject_set(s, nid, val))
			return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

X509_NAME *csr_build_name(const struct csr_subject *s)
{
	X509_NAME *name = X509_NAME_new();
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < s->n; i++) {
		if (X509_NAME_add_entry_by_NID(name, s->v[i].nid, MBSTRING_UTF8,
		                               (const unsigned char *)s->v[i].value, -1, -1,
		                               0) != 1) {
			ERR_clear_error();
			tool_errorf("subject %s '%s' cannot be encoded (too long or not "
			            "allowed there)",
			            OBJ_nid2sn(s->v[i].nid), s->v[i].value);
			X509_NAME_free(name);
			return NULL;
		}
	}
	return name;
}

X509_NAME *tool_parse_dn(const char *arg, int *rc)
{
	struct csr_subject s = { 0 };
	X509_NAME *name = NULL;

	if ((*rc = csr_subject_parse(&s, arg)) == TOOL_EXIT_OK &&
	    (name = csr_build_name(&s)) == NULL)
		*rc = TOOL_EXIT_FAIL;
	free(s.parsed);
	return name;
}

/* ------------------------------------------------------------------ */
/* The request's names                                                 */
/* ------------------------------------------------------------------ */

void csr_names_free(struct csr_names *n)
{
	free(n->peers);
	free(n->uc_names);
	csr_san_list_free(&n->sans);
}

/* The subject's values, each checked; the CN by what serverAuth needs of it. */
static int check_subject(const struct csr_subject *subj, int server)
{
	const char *cn, *email, *country;
	size_t i;

	for (i = 0; i < subj->n; i++) {
		char what[64];
		snprintf(what, sizeof(what), "subject %s", OBJ_nid2sn(subj->v[i].nid));
		if (!csr_check_value(what, subj->v[i].value))
			return 0;
	}
	if ((email = subject_get(subj, NID_pkcs9_emailAddress)) != NULL &&
	    !name_ok("subject emailAddress", PKI_NAME_EMAIL, email))
		return 0;
	if ((cn = subject_get(subj, NID_commonName)) != NULL) {
		if (!check_no_wildcard("CN", cn))
			return 0;
		if (server && !check_fqdn("CN", cn))
			return 0;
		if (strlen(cn) > 64) {
			tool_errorf("CN '%s' is longer than 64 characters (X.520 limit); give a "
			            "shorter --cn and this name as --fqdn or --san",
			            cn);
			return 0;
		}
	}
	country = subject_get(subj, NID_countryName);
	if (country != NULL && (strlen(country) != 2 || !isalpha((unsigned char)country[0]) ||
	                        !isalpha((unsigned char)country[1]))) {
		tool_errorf("country '%s' must be a two-letter ISO 3166 code", country);
		return 0;
	}
	return 1;
}

/* Every SAN into @all, in a fixed order: CN, FQDN, cluster, peers, UC names, --san. */
static int collect_sans(const struct csr_names *n, const char *server_cn, struct csr_san_list *all)
{
	static const enum pki_name_type type_of[] = { [CSR_SAN_DNS] = PKI_NAME_DNS,
		                                      [CSR_SAN_IP] = PKI_NAME_IP,
		                                      [CSR_SAN_EMAIL] = PKI_NAME_EMAIL };
	static const char *const what_of[] = { [CSR_SAN_DNS] = "--san dns:",
		                               [CSR_SAN_IP] = "--san ip:",
		                               [CSR_SAN_EMAIL] = "--san email:" };
	size_t i;

	if (server_cn != NULL && !csr_san_add(all, CSR_SAN_DNS, server_cn))
		goto oom;
	if ((n->fqdn != NULL && !csr_san_add(all, CSR_SAN_DNS, n->fqdn)) ||
	    (n->cluster != NULL && !csr_san_add(all, CSR_SAN_DNS, n->cluster)))
		goto oom;
	for (i = 0; i < n->npeers; i++)
		if (!csr_san_add(all, CSR_SAN_DNS, n->peers[i]))
			goto oom;
	for (i = 0; i < n->nuc; i++)
		if (!csr_san_add(all, CSR_SAN_DNS, n->uc_names[i]))
			goto oom;
	for (i = 0; i < n->sans.n; i++) {
		const struct csr_san *s = &n->sans.v[i];

		if (!name_ok(what_of[s->type], type_of[s->type], s->value))
			return 0;
		if (!csr_san_add(all, s->type, s->value))
			goto oom;
	}
	return 1;
oom:
	tool_errorf("out of memory");
	return 0;
}

int csr_names_resolve(const struct csr_names *n, int server, struct csr_subject *subj,
                      struct csr_san_list *all)
{
	/* the per-field options replace --subject's fields, in this order */
	static const int field_nid[CSR_NFIELDS] = {
		[CSR_COUNTRY] = NID_countryName,
		[CSR_STATE] = NID_stateOrProvinceName,
		[CSR_LOCALITY] = NID_localityName,
		[CSR_ORG] = NID_organizationName,
		[CSR_ORG_UNIT] = NID_organizationalUnitName,
		[CSR_CN] = NID_commonName,
		[CSR_EMAIL] = NID_pkcs9_emailAddress,
	};
	const char *cn;
	size_t i;

	for (i = 0; i < CSR_NFIELDS; i++)
		if (n->field[i] != NULL && !subject_set(subj, field_nid[i], n->field[i]))
			return TOOL_EXIT_FAIL;
	/* the deployment names first: a CN taken from --fqdn is reported as that */
	if ((n->fqdn != NULL && !check_fqdn("--fqdn", n->fqdn)) ||
	    (n->cluster != NULL && !check_fqdn("--cluster", n->cluster)))
		return TOOL_EXIT_FAIL;
	for (i = 0; i < n->npeers; i++)
		if (!check_fqdn("--peer", n->peers[i]))
			return TOOL_EXIT_FAIL;
	for (i = 0; i < n->nuc; i++)
		if (!check_fqdn("--uc-name", n->uc_names[i]))
			return TOOL_EXIT_FAIL;
	if (n->fqdn != NULL && subject_get(subj, NID_commonName) == NULL &&
	    !subject_set(subj, NID_commonName, n->fqdn))
		return TOOL_EXIT_FAIL;
	/* a certificate the cluster shares, without --fqdn: CN = the cluster (guide's recipe) */
	if (n->fqdn == NULL && n->cluster != NULL && n->npeers > 0 &&
	    subject_get(subj, NID_commonName) == NULL &&
	    !subject_set(subj, NID_commonName, n->cluster))
		return TOOL_EXIT_FAIL;
	if (!check_subject(subj, server))
		return TOOL_EXIT_FAIL;
	cn = subject_get(subj, NID_commonName);
	if (!collect_sans(n, server ? cn : NULL, all))
		return TOOL_EXIT_FAIL;
	if (subj->n == 0 && all->n == 0) {
		tool_errorf("nothing to request: give --fqdn, --cn, --subject or --san");
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}
