/*
 * result.h - the one result convention of the libraries under tools/ (pki/,
 * ca/, ca/db/, and those to come): a function returns an int, RES_OK (0) on
 * success or one of the RES_* codes below, and leaves a one-line message for
 * the calling thread that res_message() returns until the next failure on
 * that thread.  This is libp11ca's CK_RV + p11ca_error_message() one level up
 * (p11/error.c).  Libraries never print, exit or read argv: the command line
 * (tools/cli/) prints res_message() and maps codes to exit statuses; a server
 * maps them to protocol statuses.  Prefix res_.  No state but the
 * per-thread message.
 */
#ifndef P11CA_RESULT_H
#define P11CA_RESULT_H

enum res_code {
	RES_OK = 0,
	RES_FAIL,        /* anything not below */
	RES_NOMEM,       /* out of memory */
	RES_BAD_INPUT,   /* malformed bytes: PEM/DER, a CSR, a date, a name */
	RES_POLICY,      /* well-formed but refused by policy (a wildcard, a key size) */
	RES_NOT_FOUND,   /* no such serial, file, record */
	RES_EXISTS,      /* something is already there (a CA directory, a file) */
	RES_TAKEN,       /* a unique key (a serial) is taken: draw again */
	RES_ALREADY,     /* the change was made before (a serial revoked already) */
	RES_IO,          /* reading or writing failed */
	RES_DB,          /* the database failed */
	RES_TOKEN,       /* the token or its provider failed (PIN, key, signing) */
	RES_CRYPTO,      /* an OpenSSL call failed */
	RES_VERSION,     /* a format or schema version this release cannot read */
	RES_NETWORK,     /* a server could not be reached or answered with an error */
	RES_LIMIT,       /* a bound was hit: size, time, redirects, archive ratio */
	RES_STALE,       /* older than what is held (a CRL rollback) or out of date */
	RES_UNSUPPORTED, /* well-formed but not handled (a delta CRL, a protocol) */
};

/* Sets the calling thread's message; returns @code (for "return res_set(...)"). */
int res_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The same with OpenSSL's most specific error appended ("WHAT: reason") and
 * OpenSSL's error queue of this thread emptied.
 */
int res_ossl(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the thread's message with "PREFIX: " (context added by a caller); returns @code. */
int res_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The calling thread's last message ("" when none); valid until its next res_*(). */
const char *res_message(void);
void res_clear(void);
/* A name for @code ("RES_DB"), for logs and tests. */
const char *res_name(int code);

#endif
