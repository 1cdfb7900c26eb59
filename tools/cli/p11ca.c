/*
 * p11ca.c - the p11ca command: git-style "p11ca <group> <verb>" dispatch.
 * A group whose entry has no verb (NULL) is a command of its own
 * ("p11ca csr --key ..."): it runs when no word follows the group name,
 * or whatever follows when the group has no verbs ("p11ca verify CERT").
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "cmd-ca.h"
#include "cmd-tls.h"
#include "cmd-crl.h"
#include "tool.h"

static const struct {
	const char *group, *verb;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "token", "list", tool_token_list, "list the tokens of every module" },
	{ "token", "init", tool_token_init, "initialise a token and set its user PIN" },
	{ "token", "change-pin", tool_token_change_pin, "change the user PIN" },
	{ "token", "bench", tool_token_bench, "measure signatures/s: bare PKCS#11 vs libp11ca" },
	{ "key", "gen", tool_key_gen, "generate a key pair on a token" },
	{ "key", "list", tool_key_list, "list keys and certificates" },
	{ "key", "delete", tool_key_delete, "delete the objects a pkcs11: URI names" },
	{ "key", "sign", tool_key_sign, "sign a file with a token key" },
	{ "key", "pubkey", tool_key_pubkey, "write a token key's public key (PEM)" },
	{ "csr", NULL, tool_csr, "make a CSR for a token key (deployment naming rules)" },
	{ "cert", "show", tool_cert_show,
	  "summarise a certificate, CSR or CRL (--text for everything)" },
	{ "cert", "convert", tool_cert_convert,
	  "convert a certificate, CSR or CRL between PEM and DER" },
	{ "cert", "check", tool_cert_check,
	  "check a certificate, its key and chain are fit for use" },
	{ "cert", "install", tool_cert_install,
	  "store a certificate on the token next to its key" },
	{ "verify", NULL, tool_verify,
	  "is a certificate fit: chain, names, purpose, revocation (CRL, OCSP)" },
	{ "trust", "add", tool_trust_add, "append CA certificates to a trust bundle" },
	{ "trust", "list", tool_trust_list, "list a trust bundle's certificates" },
	{ "trust", "show", tool_trust_show, "show one certificate of a trust bundle" },
	{ "trust", "remove", tool_trust_remove, "remove certificates from a trust bundle" },
	{ "trust", "reset", tool_trust_reset, "reset a trust bundle to the system's" },
	{ "ca", "init", tool_ca_init, "create a CA: key on a token, root or sub-CA CSR" },
	{ "ca", "set-cert", tool_ca_set_cert, "install a sub-CA's certificate from its parent" },
	{ "ca", "sign", tool_ca_sign, "issue certificates for CSRs (in parallel)" },
	{ "ca", "revoke", tool_ca_revoke, "revoke a certificate" },
	{ "ca", "crl", tool_ca_crl, "publish a CRL signed on the token" },
	{ "ca", "list", tool_ca_list, "list issued certificates (--json)" },
	{ "ca", "show", tool_ca_show, "show one issued certificate" },
	{ "ca", "import-openssl", tool_ca_import_openssl, "import an openssl ca directory" },
	{ "ca", "export-index", tool_ca_export_index, "write an index.txt for openssl ocsp" },
	{ "ca", "responder", tool_ca_responder,
	  "create or renew the delegated OCSP responder key and certificate" },
	{ "crl", "fetch", tool_crl_fetch, "download CRLs from distribution points into the store" },
	{ "crl", "add", tool_crl_add, "verify CRLs and put them into the CRL store" },
	{ "crl", "list", tool_crl_list, "list the CRL store's CRLs (--json)" },
	{ "crl", "show", tool_crl_show, "show one stored CRL, or write it out" },
	{ "crl", "remove", tool_crl_remove, "remove a CRL from the store" },
	{ "serve", NULL, tool_serve, "serve OCSP and CRLs for CAs (pre-signed, from memory)" },
	{ "tls", "probe", tool_tls_probe,
	  "shake hands with a TLS peer and diagnose its certificate" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *verb_name(const char *verb)
{
	return verb != NULL ? verb : "";
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: p11ca <command> [options]\n\n"
	           "Keeps a small PKI's private keys on a PKCS#11 token.\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-6s %-11s %s\n", commands[i].group, verb_name(commands[i].verb),
		        commands[i].summary);
	fprintf(f, "\n'p11ca <command> --help' describes each.  Exit status: 0 success, "
	           "1 failure, 2 usage error.\n");
}

/* The verbs of @group, a line each. */
static void group_usage(FILE *f, const char *group)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(group, commands[i].group) == 0)
			fprintf(f, "  p11ca %s %-14s %s\n", commands[i].group,
			        commands[i].verb != NULL ? commands[i].verb : "[options]",
			        commands[i].summary);
}

/* Whether @group has verbs (then a word after it names one). */
static int group_has_verbs(const char *group)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(group, commands[i].group) == 0 && commands[i].verb != NULL)
			return 1;
	return 0;
}

static int is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

int main(int argc, char **argv)
{
	size_t i;
	int group_known = 0;

	/* no core dumps or ptrace of a process that may hold a PIN */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* nor a PIN in argv, which every local user can read */
	if (tool_argv_refuse_pins(argc, argv) != TOOL_EXIT_OK)
		return TOOL_EXIT_USAGE;

	if (argc < 2 || is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? TOOL_EXIT_USAGE : TOOL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("p11ca %s\n", PACKAGE_VERSION);
		return TOOL_EXIT_OK;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[1], commands[i].group) != 0)
			continue;
		group_known = 1;
		if (commands[i].verb == NULL &&
		    (argc < 3 || argv[2][0] == '-' || !group_has_verbs(commands[i].group))) {
			/* a group that is a command: its options follow directly */
			char name[64];
			snprintf(name, sizeof(name), "p11ca %s", commands[i].group);
			argv[1] = name;
			return commands[i].fn(argc - 1, argv + 1);
		}
		if (commands[i].verb != NULL && argc >= 3 &&
		    strcmp(argv[2], commands[i].verb) == 0) {
			/* getopt's messages name the command as the user typed it */
			char name[64];
			snprintf(name, sizeof(name), "p11ca %s %s", commands[i].group,
			         commands[i].verb);
			argv[2] = name;
			return commands[i].fn(argc - 2, argv + 2);
		}
	}
	if (group_known && argc == 3 && is_help(argv[2])) {
		/* "p11ca ca --help": the group's verbs */
		printf("usage: p11ca %s <verb> [options]\n\nverbs:\n", argv[1]);
		group_usage(stdout, argv[1]);
		printf("\n'p11ca %s <verb> --help' describes each.\n", argv[1]);
		return TOOL_EXIT_OK;
	}
	if (group_known) {
		tool_errorf("'%s' needs one of:", argv[1]);
		group_usage(stderr, argv[1]);
	} else {
		tool_errorf("unknown command '%s' (see p11ca --help)", argv[1]);
	}
	return TOOL_EXIT_USAGE;
}
