/* parallel.c - parallel_run(): a shared counter handing out indices. */
#include "config.h"

#include <pthread.h>
#include <openssl/err.h>

#include "parallel.h"

#define MAX_THREADS 64

struct run {
	size_t n, next, failed;
	int stop;
	int (*fn)(size_t i, void *arg);
	void *arg;
	pthread_mutex_t lock;
};

static void *worker(void *p)
{
	struct run *r = p;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		i = r->stop && r->failed > 0 ? r->n : r->next++;
		pthread_mutex_unlock(&r->lock);
		if (i >= r->n)
			break;
		if (r->fn(i, r->arg) != 0) {
			pthread_mutex_lock(&r->lock);
			r->failed++;
			pthread_mutex_unlock(&r->lock);
		}
	}
	ERR_clear_error();
	return NULL;
}

size_t parallel_run(size_t n, int threads, int stop, int (*fn)(size_t i, void *arg), void *arg)
{
	struct run r = { n, 0, 0, stop, fn, arg, PTHREAD_MUTEX_INITIALIZER };
	pthread_t tids[MAX_THREADS];
	size_t want = (size_t)(threads > 0 ? threads : 1), started = 0, i;

	if (want > n)
		want = n;
	if (want > MAX_THREADS)
		want = MAX_THREADS;
	for (i = 1; i < want; i++) {
		if (pthread_create(&tids[started], NULL, worker, &r) != 0)
			break;
		started++;
	}
	worker(&r);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&r.lock);
	return r.failed;
}
