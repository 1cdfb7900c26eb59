/*
 * testhook.h - test-only crash points (prefix testhook_).
 *
 * WARNING: for tests only.  When the environment variable P11CA_TEST_CRASH
 * is "POINT" or "POINT:N", the N-th time (default 1) the process passes
 * testhook_crash(POINT) it kills itself with SIGKILL, as kill -9 would at
 * that moment (tests/ca-concurrency.sh).  Unset, a call costs a getenv().
 * Points: "in-transaction" (ca_issue, after each row inserted, before the
 * commit), "after-commit" (ca_issue, once committed), "mid-files" (ca sign
 * --out-dir, before each certificate file), "crl-store-mid-put" (the CRL
 * store, tools/rev/store-entry.c: a new entry's temporary file half
 * written, before the CRL's DER).
 */
#ifndef P11CA_TESTHOOK_H
#define P11CA_TESTHOOK_H

void testhook_crash(const char *point);

#endif
