/*
 * fuzz-common.h - what the libFuzzer targets here share.  A target defines
 * FUZZ_NAME ("cert_fuzzer") and `static void stats(void)` (its counts,
 * printed at exit), perhaps FUZZ_INIT (a `static void FUZZ_INIT(void)` it
 * defines, run once at start), then includes this.  Header-only: each target is built
 * straight from its sources by clang (tests/fuzz.am).
 */
#ifndef P11CA_FUZZ_COMMON_H
#define P11CA_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"

#ifndef FUZZ_NAME
#error "define FUZZ_NAME before including fuzz-common.h"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void stats(void);
#ifdef FUZZ_INIT
static void FUZZ_INIT(void);
#endif

/* A broken property: said, then abort() (libFuzzer keeps the input). */
static inline void die(const char *why)
{
	fprintf(stderr, FUZZ_NAME ": %s\n", why);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
#ifdef FUZZ_INIT
	FUZZ_INIT();
#endif
	atexit(stats);
	return 0;
}

/* A refusal has its reason, on one line. */
static inline void one_line(const char *what)
{
	if (res_message()[0] == '\0' || strchr(res_message(), '\n') != NULL)
		die(what);
}

#endif
