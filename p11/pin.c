/* pin.c - where the user PIN comes from.  Every buffer that held it is wiped. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"

P11CA_EXPORT CK_RV p11ca_pin_read_file(const char *path, char *buf, size_t cap, size_t *plen)
{
	char tmp[P11CA_PIN_MAX + 2];
	struct stat st;
	size_t len = 0;
	ssize_t r;
	CK_RV rv = CKR_OK;
	int fd;

	/* O_NONBLOCK: opening a FIFO waits for no writer; it is refused below */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return p11ca_err(P11CA_R_NO_PIN, "cannot read PIN file %s: %s",
		                 p11ca_uri_safe(path), strerror(errno));
	if (fstat(fd, &st) != 0) {
		rv = p11ca_err(P11CA_R_NO_PIN, "cannot read PIN file %s: %s", p11ca_uri_safe(path),
		               strerror(errno));
		goto out;
	}
	/* a pipe may never end and a device (/dev/zero) never does */
	if (!S_ISREG(st.st_mode)) {
		rv = p11ca_err(P11CA_R_NO_PIN, "PIN file %s is not a regular file",
		               p11ca_uri_safe(path));
		goto out;
	}
	if (st.st_size > (off_t)sizeof(tmp)) {
		rv = p11ca_err(P11CA_R_NO_PIN, "PIN file %s is too long to hold a PIN",
		               p11ca_uri_safe(path));
		goto out;
	}
	while (len < sizeof(tmp)) {
		r = read(fd, tmp + len, sizeof(tmp) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rv = p11ca_err(P11CA_R_NO_PIN, "cannot read PIN file %s: %s",
			               p11ca_uri_safe(path), strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	/* one trailing newline (as `echo` writes) is not part of the PIN */
	if (len > 0 && tmp[len - 1] == '\n')
		len--;
	if (len > 0 && tmp[len - 1] == '\r')
		len--;
	if (len >= cap || len > P11CA_PIN_MAX) {
		rv = p11ca_err(P11CA_R_NO_PIN, "PIN file %s is too long to hold a PIN",
		               p11ca_uri_safe(path));
		goto out;
	}
	if (memchr(tmp, '\n', len) != NULL) {
		rv = p11ca_err(P11CA_R_NO_PIN, "PIN file %s holds more than one line",
		               p11ca_uri_safe(path));
		goto out;
	}
	memcpy(buf, tmp, len);
	buf[len] = '\0';
	*plen = len;
out:
	p11ca_wipe(tmp, sizeof(tmp));
	close(fd);
	return rv;
}

P11CA_EXPORT int p11ca_pin_file_exposed(const char *path, char *why, size_t cap)
{
	struct stat st;
	unsigned m;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 066) == 0)
		return 0;
	m = (unsigned)st.st_mode & 07777;
	snprintf(why, cap, "PIN file %s is %s by %s (mode %04o): chmod 600 it",
	         p11ca_uri_safe(path), (m & 022) != 0 ? "writable" : "readable",
	         (m & 060) != 0 && (m & 006) != 0 ? "group and others"
	         : (m & 060) != 0                 ? "its group"
	                                          : "others",
	         m);
	return 1;
}

CK_RV p11ca_pin_source_path(const char *source, char *path, size_t cap)
{
	const char *p = source;

	if (strncmp(p, "file://", 7) == 0) {
		p += 7; /* file:///abs or file://localhost/abs; no other host */
		if (strncmp(p, "localhost/", 10) == 0)
			p += 9;
		else if (*p != '/')
			return p11ca_err(P11CA_R_BAD_URI, "pin-source '%.40s' names another host",
			                 p11ca_uri_safe(source));
	} else if (strncmp(p, "file:", 5) == 0) {
		p += 5;
	} else if (strchr(p, ':') != NULL) {
		return p11ca_err(P11CA_R_BAD_URI, "unsupported pin-source '%.40s': use file:/path",
		                 p11ca_uri_safe(source));
	}
	if (*p != '/' || strlen(p) >= cap)
		return p11ca_err(P11CA_R_BAD_URI, "pin-source '%.40s' is not an absolute file path",
		                 p11ca_uri_safe(source));
	strcpy(path, p);
	return CKR_OK;
}

/*
 * The signals that end or stop a process from its terminal.  While the
 * prompt has echo off they are caught (OpenSSH's readpassphrase does the
 * same): the terminal is restored first, then the signal is raised again
 * with its old disposition, so Ctrl-C still ends the program.
 */
static const int prompt_signals[] = { SIGALRM, SIGHUP,  SIGINT,  SIGPIPE, SIGQUIT,
	                              SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU };
#define NPROMPT_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))
static volatile sig_atomic_t prompt_caught[NSIG];

static void prompt_handler(int sig)
{
	prompt_caught[sig] = 1;
}

/* The first signal caught at the prompt, 0 if none. */
static int prompt_signal(void)
{
	size_t i;

	for (i = 0; i < NPROMPT_SIGNALS; i++)
		if (prompt_caught[prompt_signals[i]])
			return prompt_signals[i];
	return 0;
}

P11CA_EXPORT CK_RV p11ca_pin_prompt(const char *prompt, char *buf, size_t cap, size_t *plen)
{
	struct sigaction sa, saved[NPROMPT_SIGNALS];
	struct termios old, noecho;
	char tmp[P11CA_PIN_MAX + 2];
	size_t len, i;
	CK_RV rv;
	int fd, restore, sig;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return p11ca_err(P11CA_R_NO_PIN, "no terminal to ask for the PIN");
again:
	len = 0;
	rv = CKR_OK;
	restore = 0;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = prompt_handler; /* no SA_RESTART: read() returns EINTR */
	for (i = 0; i < NPROMPT_SIGNALS; i++) {
		prompt_caught[prompt_signals[i]] = 0;
		(void)sigaction(prompt_signals[i], &sa, &saved[i]);
	}
	if (tcgetattr(fd, &old) == 0) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		noecho.c_lflag |= ICANON;
		restore = tcsetattr(fd, TCSAFLUSH, &noecho) == 0;
	}
	if (prompt_signal() == 0 && write(fd, prompt, strlen(prompt)) < 0)
		goto fail;
	while (prompt_signal() == 0 && len < sizeof(tmp) - 1) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		tmp[len++] = c;
	}
	if (len > 0 && tmp[len - 1] == '\r')
		len--;
	if (write(fd, "\n", 1) < 0 && prompt_signal() == 0)
		goto fail;
	if (prompt_signal() != 0) {
		rv = p11ca_err(P11CA_R_NO_PIN, "interrupted at the PIN prompt");
		goto out;
	}
	if (len >= cap) {
		rv = p11ca_err(P11CA_R_NO_PIN, "PIN too long");
		goto out;
	}
	memcpy(buf, tmp, len);
	buf[len] = '\0';
	*plen = len;
	goto out;
fail:
	rv = p11ca_err(P11CA_R_NO_PIN, "cannot prompt for the PIN: %s", strerror(errno));
out:
	if (restore)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	p11ca_wipe(tmp, sizeof(tmp));
	for (i = 0; i < NPROMPT_SIGNALS; i++)
		(void)sigaction(prompt_signals[i], &saved[i], NULL);
	/* echo is back: the signal does now what it would have done (Ctrl-C
	 * ends the program); after a stop (Ctrl-Z, then fg) ask again */
	if ((sig = prompt_signal()) != 0) {
		prompt_caught[sig] = 0;
		(void)raise(sig);
		if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			goto again;
	}
	close(fd);
	return rv;
}

/*
 * The held PIN (p11ca_pin_hold): one page of its own from mmap, locked in
 * memory (never swapped) and left out of core dumps, under a mutex.  Every
 * context of the process, the provider's too, reads it.
 */
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static char *held_page; /* NULL: none held */
static size_t held_size;
static size_t held_len;

/*
 * mlock(2) and munlock(2) as system calls: AddressSanitizer replaces the
 * libc functions with ones that do nothing, and the PIN's page must be
 * locked in a sanitizer build as in any other.
 */
static int page_lock(void *p, size_t n)
{
	return (int)syscall(SYS_mlock, p, n);
}

static void page_unlock(void *p, size_t n)
{
	(void)syscall(SYS_munlock, p, n);
}

/* Wipes, unlocks and unmaps the page; with held_lock held. */
static void held_release(void)
{
	if (held_page == NULL)
		return;
	p11ca_wipe(held_page, held_size);
	page_unlock(held_page, held_size);
	(void)munmap(held_page, held_size);
	held_page = NULL;
	held_size = 0;
	held_len = 0;
}

/* A fresh page, locked and out of core dumps, or CKR_HOST_MEMORY with its message. */
static CK_RV held_map(char **ppage, size_t *psize)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t size = ps > 0 ? (size_t)ps : 4096;
	char *page;

	while (size < P11CA_PIN_MAX + 1)
		size *= 2;
	page = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return p11ca_err(CKR_HOST_MEMORY, "cannot map a page to hold the PIN: %s",
		                 strerror(errno));
	if (page_lock(page, size) != 0) {
		int e = errno;
		(void)munmap(page, size);
		return p11ca_err(CKR_HOST_MEMORY,
		                 "cannot lock the PIN's page in memory (mlock: %s): raise "
		                 "RLIMIT_MEMLOCK (ulimit -l, LimitMEMLOCK=)",
		                 strerror(e));
	}
	if (madvise(page, size, MADV_DONTDUMP) != 0) {
		int e = errno;
		page_unlock(page, size);
		(void)munmap(page, size);
		return p11ca_err(CKR_HOST_MEMORY,
		                 "cannot keep the PIN's page out of core dumps (madvise: %s)",
		                 strerror(e));
	}
	*ppage = page;
	*psize = size;
	return CKR_OK;
}

P11CA_EXPORT CK_RV p11ca_pin_hold(const char *pin, size_t len)
{
	CK_RV rv = CKR_OK;

	if (pin == NULL) {
		pthread_mutex_lock(&held_lock);
		held_release();
		pthread_mutex_unlock(&held_lock);
		return CKR_OK;
	}
	if (len >= P11CA_PIN_MAX)
		return p11ca_err(P11CA_R_NO_PIN, "the PIN to hold is too long");
	if (memchr(pin, '\0', len) != NULL)
		return p11ca_err(P11CA_R_NO_PIN, "the PIN to hold holds a NUL byte");
	pthread_mutex_lock(&held_lock);
	if (held_page == NULL)
		rv = held_map(&held_page, &held_size);
	if (rv == CKR_OK) {
		p11ca_wipe(held_page, held_size);
		memcpy(held_page, pin, len);
		held_page[len] = '\0';
		held_len = len;
	}
	pthread_mutex_unlock(&held_lock);
	return rv;
}

P11CA_EXPORT int p11ca_pin_held(void)
{
	int yes;

	pthread_mutex_lock(&held_lock);
	yes = held_page != NULL;
	pthread_mutex_unlock(&held_lock);
	return yes;
}

/* Copies the held PIN into @buf (P11CA_PIN_MAX): 1 when one is held, 0 otherwise. */
static int held_fetch(char *buf, size_t *plen)
{
	int yes = 0;

	pthread_mutex_lock(&held_lock);
	if (held_page != NULL) {
		memcpy(buf, held_page, held_len + 1);
		*plen = held_len;
		yes = 1;
	}
	pthread_mutex_unlock(&held_lock);
	return yes;
}

int p11ca_pin_source_configured(p11ca_token *t)
{
	int yes;

	pthread_mutex_lock(&t->lock);
	yes = t->uri_pin_value != NULL || t->uri_pin_source != NULL;
	pthread_mutex_unlock(&t->lock);
	return yes || p11ca_pin_held() || t->ctx->pin_file != NULL || getenv("P11CA_PIN") != NULL;
}

/* Reads the PIN file @path, warning through the log when others may read it. */
static CK_RV pin_from_file(p11ca_ctx *ctx, const char *path, char *buf, size_t *plen)
{
	char why[512];

	if (p11ca_pin_file_exposed(path, why, sizeof(why)))
		p11ca_log(ctx, "warning: %s", why);
	return p11ca_pin_read_file(path, buf, P11CA_PIN_MAX, plen);
}

CK_RV p11ca_pin_fetch(p11ca_token *t, char *buf, size_t *plen)
{
	char path[4096];
	const char *env;
	CK_RV rv;

	/* 1. the URI that named the token or key */
	pthread_mutex_lock(&t->lock);
	if (t->uri_pin_value != NULL) {
		size_t len = strlen(t->uri_pin_value);
		rv = len < P11CA_PIN_MAX ? CKR_OK : p11ca_err(P11CA_R_NO_PIN, "pin-value too long");
		if (rv == CKR_OK) {
			memcpy(buf, t->uri_pin_value, len + 1);
			*plen = len;
		}
		pthread_mutex_unlock(&t->lock);
		return rv;
	}
	rv = CKR_OK;
	if (t->uri_pin_source != NULL)
		rv = p11ca_pin_source_path(t->uri_pin_source, path, sizeof(path));
	else
		path[0] = '\0';
	pthread_mutex_unlock(&t->lock);
	if (rv != CKR_OK)
		return rv;
	if (path[0] != '\0')
		return pin_from_file(t->ctx, path, buf, plen);

	/* 2. the PIN held in locked memory (p11ca_pin_hold) */
	if (held_fetch(buf, plen))
		return CKR_OK;

	/* 3. --pin-file */
	if (t->ctx->pin_file != NULL)
		return pin_from_file(t->ctx, t->ctx->pin_file, buf, plen);

	/* 4. the environment */
	env = getenv("P11CA_PIN");
	if (env != NULL) {
		size_t len = strlen(env);
		if (len >= P11CA_PIN_MAX)
			return p11ca_err(P11CA_R_NO_PIN, "P11CA_PIN is too long");
		memcpy(buf, env, len + 1);
		*plen = len;
		return CKR_OK;
	}

	/* 5. ask, when a person is there */
	if (!t->ctx->allow_prompt)
		return p11ca_err(
		    P11CA_R_NO_PIN,
		    "token '%s' needs a PIN: use pin-source= in the URI, --pin-file or P11CA_PIN",
		    t->info.label);
	{
		char prompt[96];
		snprintf(prompt, sizeof(prompt), "PIN for token '%s': ", t->info.label);
		rv = p11ca_pin_prompt(prompt, buf, P11CA_PIN_MAX, plen);
	}
	if (rv == P11CA_R_NO_PIN)
		p11ca_err(rv,
		          "token '%s' needs a PIN and there is no terminal to ask for it: "
		          "use pin-source= in the URI, --pin-file or P11CA_PIN",
		          t->info.label);
	return rv;
}
