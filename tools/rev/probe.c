/* probe.c - a bounded TLS client handshake: see probe.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "probe.h"
#include "result.h"

#define PROBE_TIMEOUT_MS    10000L
#define PROBE_ALERT_WAIT_MS 1000L

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for @events on @fd until @deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return 1;
		if (r == 0)
			continue;
		if (errno != EINTR)
			return -1;
	}
}

static void addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
	const void *a = sa->sa_family == AF_INET6
	                    ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                    : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (inet_ntop(sa->sa_family, a, out, (socklen_t)cap) == NULL)
		snprintf(out, cap, "?");
}

/* A connected non-blocking socket to @host:@port by @deadline; -1 with the message set. */
static int tcp_connect(const char *host, const char *port, int64_t deadline, char *addr, size_t cap)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL, *a;
	int fd = -1, rc, err = 0;
	socklen_t len;
	char why[128] = "";

	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		res_set(RES_NETWORK, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (a = ai; a != NULL; a = a->ai_next) {
		rc = 1;
		addr_text(a->ai_addr, addr, cap);
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            a->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			rc = wait_fd(fd, POLLOUT, deadline);
			len = sizeof(err);
			if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
			    err == 0)
				break;
			if (rc == 0)
				snprintf(why, sizeof(why), "connect timed out");
			else if (rc < 0)
				err = errno;
		} else
			err = errno;
		close(fd);
		fd = -1;
		if (rc == 0)
			break; /* the time is up for every other address too */
	}
	freeaddrinfo(ai);
	if (fd < 0)
		res_set(RES_NETWORK, "%s port %s: %s", host, port,
		        why[0] != '\0' ? why : strerror(err != 0 ? err : ECONNREFUSED));
	return fd;
}

/* Keeps the last alert the peer sent (our result is the SSL's app data). */
static void info_cb(const SSL *ssl, int where, int ret)
{
	struct rev_probe_result *r = SSL_get_app_data(ssl);

	if (r == NULL || !(where & SSL_CB_READ_ALERT))
		return;
	if ((ret & 0xff) == SSL_AD_CLOSE_NOTIFY) {
		r->closed_after = SSL_is_init_finished(ssl);
		return;
	}
	r->alert = ret & 0xff;
	r->alert_after = SSL_is_init_finished(ssl);
	snprintf(r->alert_text, sizeof(r->alert_text), "%s", SSL_alert_desc_string_long(ret));
}

/* Called on a client when the server asks for a certificate. */
static int cert_cb(SSL *ssl, void *arg)
{
	struct rev_probe_result *r = arg;

	r->cert_requested = 1;
	r->cert_sent = SSL_get_certificate(ssl) != NULL;
	return 1;
}

/* The first OpenSSL error as text into @out, else @dflt. */
static void ossl_reason(char *out, size_t cap, const char *dflt)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(out, cap, "%s", s != NULL ? s : dflt);
}

static int make_ctx(OSSL_LIB_CTX *libctx, const struct rev_probe_opts *o, SSL_CTX **pctx)
{
	SSL_CTX *ctx;
	int i;

	if ((ctx = SSL_CTX_new_ex(libctx, NULL, TLS_client_method())) == NULL)
		return res_ossl(RES_CRYPTO, "TLS context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* any peer certificate: the verdict judges it afterwards */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (o->client_cert != NULL) {
		if (o->client_key == NULL) {
			SSL_CTX_free(ctx);
			return res_set(RES_BAD_INPUT, "a client certificate without its key");
		}
		if (SSL_CTX_use_certificate(ctx, o->client_cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, o->client_key) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			SSL_CTX_free(ctx);
			return res_ossl(RES_BAD_INPUT, "the client key does not go with the client "
			                               "certificate");
		}
		for (i = 0; o->client_chain != NULL && i < sk_X509_num(o->client_chain); i++)
			if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(o->client_chain, i)) != 1) {
				SSL_CTX_free(ctx);
				return res_ossl(RES_CRYPTO, "the client chain");
			}
	}
	*pctx = ctx;
	return RES_OK;
}

/*
 * After a TLS 1.3 handshake where the server asked for our certificate, it
 * judges it only after our Finished: reads (nothing is sent) until an alert,
 * a close, data or @until.
 */
static void await_verdict(SSL *ssl, int fd, int64_t until)
{
	unsigned char buf[512];
	int n, e;

	for (;;) {
		ERR_clear_error();
		n = SSL_read(ssl, buf, sizeof(buf));
		if (n > 0)
			return; /* the server talks: it took our certificate */
		e = SSL_get_error(ssl, n);
		if (e == SSL_ERROR_WANT_READ) {
			if (wait_fd(fd, POLLIN, until) <= 0)
				return;
			continue;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(fd, POLLOUT, until) <= 0)
				return;
			continue;
		}
		return; /* an alert (info_cb saw it), a close, an error */
	}
}

int rev_probe_run(OSSL_LIB_CTX *libctx, const struct rev_probe_opts *o,
                  struct rev_probe_result **pres)
{
	struct rev_probe_result *r;
	long timeout = o->timeout_ms > 0 ? o->timeout_ms : PROBE_TIMEOUT_MS;
	long wait = o->alert_wait_ms > 0 ? o->alert_wait_ms : PROBE_ALERT_WAIT_MS;
	int64_t deadline = now_ms() + timeout, until;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	STACK_OF(X509) * chain;
	const unsigned char *ocsp = NULL;
	long ocsp_len;
	int fd = -1, rc, n, e, i;

	*pres = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return res_set(RES_NOMEM, "out of memory");
	r->alert = -1;
	if ((rc = make_ctx(libctx, o, &ctx)) != RES_OK)
		goto out;
	if ((fd = tcp_connect(o->host, o->port, deadline, r->address, sizeof(r->address))) < 0) {
		rc = RES_NETWORK;
		goto out;
	}
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		rc = res_ossl(RES_CRYPTO, "TLS connection");
		goto out;
	}
	SSL_set_app_data(ssl, r);
	SSL_set_info_callback(ssl, info_cb);
	SSL_set_cert_cb(ssl, cert_cb, r);
	if (SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp) != 1 ||
	    (o->servername != NULL && SSL_set_tlsext_host_name(ssl, o->servername) != 1)) {
		rc = res_ossl(RES_BAD_INPUT, "server name '%s'",
		              o->servername != NULL ? o->servername : "");
		goto out;
	}
	ERR_clear_error();
	for (;;) {
		n = SSL_connect(ssl);
		if (n == 1) {
			r->handshake_ok = 1;
			break;
		}
		e = SSL_get_error(ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (rc > 0)
				continue;
			rc = res_set(RES_NETWORK, "%s port %s: %s", o->host, o->port,
			             rc == 0 ? "the TLS handshake timed out" : strerror(errno));
			goto out;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			snprintf(r->error, sizeof(r->error), "the peer closed the connection");
		else if (r->alert >= 0)
			snprintf(r->error, sizeof(r->error), "the peer sent alert '%s'",
			         r->alert_text);
		else
			ossl_reason(r->error, sizeof(r->error), "handshake failed");
		break;
	}
	if (r->handshake_ok) {
		snprintf(r->protocol, sizeof(r->protocol), "%s", SSL_get_version(ssl));
		snprintf(r->cipher, sizeof(r->cipher), "%s", SSL_get_cipher_name(ssl));
		if (r->cert_requested && SSL_version(ssl) >= TLS1_3_VERSION) {
			until = now_ms() + wait;
			await_verdict(ssl, fd, until < deadline ? until : deadline);
		}
		ocsp_len = SSL_get_tlsext_status_ocsp_resp(ssl, &ocsp);
		if (ocsp != NULL && ocsp_len > 0) {
			if ((r->ocsp = malloc((size_t)ocsp_len)) == NULL) {
				rc = res_set(RES_NOMEM, "out of memory");
				goto out;
			}
			memcpy(r->ocsp, ocsp, (size_t)ocsp_len);
			r->ocsp_len = (size_t)ocsp_len;
		}
	}
	if ((chain = SSL_get_peer_cert_chain(ssl)) != NULL) {
		if ((r->peer = sk_X509_new_null()) == NULL) {
			rc = res_set(RES_NOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < sk_X509_num(chain); i++) {
			X509 *x = sk_X509_value(chain, i);
			if (!sk_X509_push(r->peer, x)) {
				rc = res_set(RES_NOMEM, "out of memory");
				goto out;
			}
			X509_up_ref(x);
		}
	}
	/* one try at a polite close, never waiting for it */
	if (r->handshake_ok && r->alert < 0)
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
	*pres = r;
	r = NULL;
	rc = RES_OK;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	rev_probe_result_free(r);
	return rc;
}

void rev_probe_result_free(struct rev_probe_result *r)
{
	if (r == NULL)
		return;
	sk_X509_pop_free(r->peer, X509_free);
	free(r->ocsp);
	free(r);
}
