/*
 * parallel.h - runs a function over the indices 0..n-1 on a few threads,
 * the caller's among them (prefix parallel_).  No state outside a call.
 */
#ifndef P11CA_PARALLEL_H
#define P11CA_PARALLEL_H

#include <stddef.h>

/*
 * Calls @fn(i, @arg) for every i below @n on up to @threads threads (at most
 * 64).  A non-zero return counts as a failure; with @stop the first failure
 * ends the run (indices not yet started are not called).  Returns the number
 * of failed calls.
 */
size_t parallel_run(size_t n, int threads, int stop, int (*fn)(size_t i, void *arg), void *arg);

#endif
