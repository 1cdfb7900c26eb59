/*
 * rev.h - the revocation library under tools/rev/ (prefix rev_): one
 * include for its parts, each with a header of its own:
 *   http.h     HTTP(S) through libcurl, bounded        (http.c)
 *   archive.h  every CRL in a blob: DER, PEM, GZIP, ZIP (archive.c)
 *   store.h    the CRL store: verified, indexed, atomic (store.c, crlscan.c)
 *   ocsp.h     the OCSP client                          (ocsp.c)
 *   check.h    the verdict over a chain, with fallback  (check.c)
 * Results follow tools/common/result.h; nothing here prints, exits or
 * reads argv.
 */
#ifndef P11CA_REV_H
#define P11CA_REV_H

#include "http.h"
#include "archive.h"
#include "store.h"
#include "ocsp.h"
#include "check.h"

#endif
