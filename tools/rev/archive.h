/*
 * archive.h - every CRL in a downloaded or given blob (prefix rev_): a
 * CRL in DER, one or more PEM "X509 CRL" blocks, a GZIP stream (a bare
 * .crl.gz) or a ZIP archive holding one or more such files, through
 * libarchive.  Bounded by struct rev_limits (http.h): total unpacked bytes,
 * unpacked/packed ratio, member count: an archive bomb is refused
 * (RES_LIMIT) before it is inflated past the bound.  A corrupt archive or a
 * member that holds no CRL is RES_BAD_INPUT.  Part of tools/rev/.
 */
#ifndef P11CA_REV_ARCHIVE_H
#define P11CA_REV_ARCHIVE_H

#include <stddef.h>
#include "http.h"

/*
 * Called once per CRL found, with its DER (valid during the call only) and
 * the archive member's name ("" for a plain blob).  A non-RES_OK return
 * stops the walk and is returned by rev_crls_in.
 */
typedef int (*rev_crl_cb)(void *ctx, const char *member, const unsigned char *der, size_t len);
/*
 * Walks @buf (@len bytes): DER CRL, PEM CRLs, GZIP, ZIP (detected by
 * content, not by a name).  RES_OK when at least one CRL was found and
 * every callback returned RES_OK.
 */
int rev_crls_in(const unsigned char *buf, size_t len, const struct rev_limits *limits,
                rev_crl_cb cb, void *ctx);

#endif
