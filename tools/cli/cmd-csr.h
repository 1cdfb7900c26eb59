/*
 * cmd-csr.h - what the `csr` command's files share: the subject and SAN
 * arguments, parsed and checked against the name policy (cmd-csr-names.c),
 * for the command itself (cmd-csr.c).  The key generation behind --new-key
 * (cmd-csr-newkey.c) is declared in tool.h: `ca init` uses it too.
 * Prefix csr_.
 */
#ifndef P11CA_CMD_CSR_H
#define P11CA_CMD_CSR_H

#include <stddef.h>
#include <openssl/x509.h>

#include "tool.h"

/* One requested subjectAltName. */
enum csr_san_type { CSR_SAN_DNS, CSR_SAN_IP, CSR_SAN_EMAIL };
struct csr_san {
	enum csr_san_type type;
	const char *value; /* points into argv, or a strdup'ed --san piece */
};

/* A growable list of SANs plus the --san strings split into pieces. */
struct csr_san_list {
	struct csr_san *v;
	size_t n, cap;
	char **owned; /* strdup'ed --san arguments (split in place) */
	size_t nowned;
};

/* A subject field: OpenSSL NID and value (from argv or a copy). */
struct csr_field {
	int nid;
	const char *value;
};

struct csr_subject {
	struct csr_field v[32];
	size_t n;
	char *parsed; /* writable copy of --subject */
};

/* The per-field options, applied over --subject in this order. */
enum {
	CSR_COUNTRY,
	CSR_STATE,
	CSR_LOCALITY,
	CSR_ORG,
	CSR_ORG_UNIT,
	CSR_CN,
	CSR_EMAIL,
	CSR_NFIELDS
};

/* What the naming options of `p11ca csr` asked for (strings point into argv). */
struct csr_names {
	const char *field[CSR_NFIELDS]; /* --country ... --email */
	const char *fqdn, *cluster;
	const char **peers, **uc_names; /* --peer, --uc-name (malloc'ed arrays) */
	size_t npeers, nuc;
	struct csr_san_list sans; /* --san */
};
void csr_names_free(struct csr_names *n);

/*
 * --san dns:NAME,ip:ADDR,email:ADDR (repeatable) into @l.  Returns
 * TOOL_EXIT_* (a piece with no or an unknown type prefix is a usage error).
 */
int csr_san_parse(struct csr_san_list *l, const char *arg);
/* Adds a SAN unless it is there already; 0 when out of memory. */
int csr_san_add(struct csr_san_list *l, enum csr_san_type type, const char *value);
void csr_san_list_free(struct csr_san_list *l);

/*
 * --subject "/C=GB/O=Example/CN=host.example.com" into @s (free s->parsed).
 * Returns TOOL_EXIT_*.
 */
int csr_subject_parse(struct csr_subject *s, const char *arg);
/* @s as a name; reports and returns NULL when a value cannot be encoded. */
X509_NAME *csr_build_name(const struct csr_subject *s);

/*
 * The request's names from @n over @subj (--subject): the per-field
 * options, a CN from --fqdn (or from --cluster when the cluster shares the
 * certificate: --peer without --fqdn), every value checked, and every SAN in @all in
 * a fixed order (the CN with serverAuth, --fqdn, --cluster, --peer,
 * --uc-name, --san).  @server: serverAuth is requested (the CN must then
 * be a host name).  Reports and returns TOOL_EXIT_FAIL for a refusal.
 */
int csr_names_resolve(const struct csr_names *n, int server, struct csr_subject *subj,
                      struct csr_san_list *all);
/* A value given on the command line: not empty, no control characters. */
int csr_check_value(const char *what, const char *v);

#endif
