/*
 * cmd-crl.h - the CRL store as the command line names it, shared by the
 * 'crl' verbs (cmd-crl*.c) and 'verify' (prefix tool_).
 */
#ifndef P11CA_CMD_CRL_H
#define P11CA_CMD_CRL_H

#include "store.h"

/*
 * The store folder: @opt (--crl-store DIR), else $P11CA_CRL_STORE, else the
 * default: /var/lib/p11ca/crls for root, else $XDG_DATA_HOME/p11ca/crls
 * (~/.local/share/p11ca/crls).  Returns a static or @opt string.
 */
const char *tool_crl_store_dir(const char *opt);
/*
 * Opens it (@create: made, with its parents, mode 0700, when missing);
 * prints the error and returns TOOL_EXIT_FAIL on failure, else TOOL_EXIT_OK.
 */
int tool_crl_store_open(const char *opt, int create, struct rev_store **ps);

/* cmd-crl.c: the verbs (argv[0] is the verb's name). */
int tool_crl_add(int argc, char **argv);
int tool_crl_list(int argc, char **argv);
int tool_crl_show(int argc, char **argv);
int tool_crl_remove(int argc, char **argv);
/* crl fetch (cmd-crl-fetch.c) */
int tool_crl_fetch(int argc, char **argv);

#endif
