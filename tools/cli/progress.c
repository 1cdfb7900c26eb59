/*
 * progress.c - long work shown on a terminal: a status line on stderr,
 * redrawn in place and erased when the work is done; nothing at all when
 * stderr is not a terminal (a pipe, a file, a log).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

/* redraws at most this often (ms): a batch of thousands draws a few dozen lines */
#define PROGRESS_EVERY_MS 100

static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* "\r" + "p11ca: " + the text + "erase to the end of the line", in one write. */
static void draw(const char *fmt, va_list ap)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "\rp11ca: ");

	vsnprintf(line + n, sizeof(line) - (size_t)n - 4, fmt, ap);
	n = (int)strlen(line);
	memcpy(line + n, "\033[K", 4);
	(void)fwrite(line, 1, (size_t)n + 3, stderr);
	fflush(stderr);
}

void tool_progress_init(struct tool_progress *p)
{
	memset(p, 0, sizeof(*p));
	p->on = isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &p->last);
}

void tool_progress_show(struct tool_progress *p, int always, const char *fmt, ...)
{
	va_list ap;

	if (!p->on || (p->shown && !always && ms_since(&p->last) < PROGRESS_EVERY_MS))
		return;
	va_start(ap, fmt);
	draw(fmt, ap);
	va_end(ap);
	p->shown = 1;
	clock_gettime(CLOCK_MONOTONIC, &p->last);
}

void tool_progress_end(struct tool_progress *p)
{
	if (p->shown)
		(void)fputs("\r\033[K", stderr);
	p->shown = 0;
}

/* The ticker's thread: the line, then its elapsed seconds every second. */
static void *tick(void *arg)
{
	struct tool_ticker *t = arg;
	struct timespec start, until;
	long s;

	clock_gettime(CLOCK_MONOTONIC, &start);
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		if ((s = ms_since(&start) / 1000) == 0)
			fprintf(stderr, "\rp11ca: %s...\033[K", t->what);
		else
			fprintf(stderr, "\rp11ca: %s... %ld s\033[K", t->what, s);
		fflush(stderr);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		while (!t->stop && pthread_cond_timedwait(&t->cond, &t->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

void tool_ticker_start(struct tool_ticker *t, const char *what)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->what, sizeof(t->what), "%s", what);
	if (!isatty(STDERR_FILENO))
		return;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if (pthread_create(&t->thread, NULL, tick, t) != 0) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		return; /* the work goes on, without its line */
	}
	t->running = 1;
}

void tool_ticker_stop(struct tool_ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	t->running = 0;
	(void)fputs("\r\033[K", stderr);
}

CK_RV tool_key_generate(p11ca_token *tok, const char *type, const char *label, unsigned flags,
                        p11ca_key **pkey, struct tool_held *held)
{
	struct tool_ticker t;
	char what[128];
	CK_RV rv;

	/* the PIN prompt, if any, before the signals wait and before the line */
	if ((rv = p11ca_token_login(tok)) != CKR_OK)
		return rv;
	tool_signals_hold(held);
	if (!isatty(STDERR_FILENO))
		return p11ca_key_generate(tok, type, label, flags, pkey);
	snprintf(what, sizeof(what), "generating key pair %s on the token", type);
	tool_ticker_start(&t, what);
	rv = p11ca_key_generate(tok, type, label, flags, pkey);
	tool_ticker_stop(&t);
	return rv;
}
