/*
 * cmd-verify.h - what 'verify' shares with 'cert check' and 'tls probe'
 * (prefix tool_verify_): the trust bundle with its embedded CRLs, and the
 * CRL store as verify uses it.
 */
#ifndef P11CA_CMD_VERIFY_H
#define P11CA_CMD_VERIFY_H

#include <openssl/x509.h>
#include "store.h"

/*
 * The certificates and the X509 CRL blocks of the PEM bundle @path (each
 * the caller's), or its one DER certificate (no CRLs); reports and returns
 * TOOL_EXIT_FAIL when it cannot be read.
 */
int tool_verify_load_bundle(const char *path, STACK_OF(X509) * *pcerts,
                            STACK_OF(X509_CRL) * *pcrls);
/*
 * The CRL store for a check: --crl-store @opt (made when @cdp_download),
 * else the default folder when it exists, else none (*ps NULL).  Reports
 * and returns TOOL_EXIT_FAIL when a store cannot be opened.
 */
int tool_verify_open_store(const char *opt, int cdp_download, struct rev_store **ps);

#endif
