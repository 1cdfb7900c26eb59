/*
 * cmd-serve.c - p11ca serve: the OCSP responder and CRL distribution point
 * (tools/serve/serve.h) as a foreground process.  Options; the PIN read
 * once from --pin-file, P11CA_PIN_FILE or P11CA_PIN and held in locked
 * memory (p11ca_pin_hold), the environment's copy wiped; no core dumps;
 * signals taken by sigwait in the main thread (HUP reloads, TERM and INT
 * stop); one line per request and per event on stderr, each one write(2).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <p11-kit/uri.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "ca.h"
#include "result.h"
#include "serve.h"
#include "tool.h"

static const char serve_help[] =
    "usage: p11ca serve --listen ADDR:PORT --dir D [--dir D2 ...] [--pin-file F]\n"
    "                   [--nonce ignore|echo] [--threads N] [--sign-rate N]\n"
    "                   [--sign-sessions N] [--validity DUR] [--max-age DUR]\n"
    "                   [--max-request BYTES] [--timeout SECONDS]\n"
    "                   [--max-connections N] [--poll-ms N] [--log text|json|none]\n"
    "                   [--ready-file F]\n\n"
    "Serves the CAs in the directories D: OCSP (POST at any path, GET under the\n"
    "path of ca.conf's ocsp_url) and their CRLs (at the path of each crl_url,\n"
    "else /crl/NAME.crl), /health (JSON) and /metrics (Prometheus).  Responses\n"
    "are signed ahead of time by the token and answered from memory; the token\n"
    "signs again only when something changed, within --sign-rate and\n"
    "--sign-sessions.  Signs with the responder key of 'p11ca ca responder'\n"
    "when ca.conf names one, else with the CA key.\n\n"
    "  --listen ADDR:PORT     an IPv4 address or [IPv6] and a port (0: any free\n"
    "                         one, see --ready-file); names are not resolved\n"
    "  --dir D                a CA directory (repeat for several CAs)\n"
    "  --nonce ignore|echo    ignore: stored responses, no nonce (RFC 5019; the\n"
    "                         default); echo: a request with a nonce is signed\n"
    "                         live, within the budget\n"
    "  --threads N            HTTP threads (default: the number of cores)\n"
    "  --sign-rate N          signatures per second at most, all CAs (200)\n"
    "  --sign-sessions N      signatures at once (2)\n"
    "  --validity DUR         life of a pre-signed response (1d); DUR is N, Ns,\n"
    "                         Nm, Nh or Nd\n"
    "  --max-age DUR          Cache-Control max-age at most (1h)\n"
    "  --max-request BYTES    largest request body or path (16K; K, M)\n"
    "  --timeout SECONDS      a connection idle this long is closed (10)\n"
    "  --max-connections N    connections at once (1024)\n"
    "  --poll-ms N            how often the databases are checked for changes (250)\n"
    "  --log text|json|none   one line per request on stderr (text)\n"
    "  --ready-file F         written (the port and a newline) once the port answers\n\n"
    "The PIN comes from --pin-file, P11CA_PIN_FILE or P11CA_PIN, or the key URIs'\n"
    "pin-source; serve never prompts.  It is read once and held in memory that is\n"
    "locked and left out of core dumps; P11CA_PIN is wiped from the environment.\n"
    "SIGHUP reloads the CA directories without closing connections; SIGTERM and\n"
    "SIGINT stop (exit status 0).  Exit status 1 when serving cannot start, 2 for\n"
    "a usage error.  See p11ca-serve(1).\n";

enum {
	O_LISTEN = OPT_FIRST_LOCAL,
	O_DIR,
	O_NONCE,
	O_THREADS,
	O_SIGN_RATE,
	O_SIGN_SESSIONS,
	O_VALIDITY,
	O_MAX_AGE,
	O_MAX_REQUEST,
	O_TIMEOUT,
	O_MAX_CONNS,
	O_POLL_MS,
	O_LOG,
	O_READY_FILE,
};

enum log_fmt { LOG_TEXT, LOG_JSON, LOG_NONE };

struct serve_opts {
	struct srv_opts o;
	const char **dirs;
	size_t ndirs;
	enum log_fmt log;
	const char *ready_file;
};

/* N, Ns, Nm, Nh, Nd: seconds, @min to ten years. */
static int parse_duration(const char *arg, long min, long *out)
{
	char *end;
	long long v, mult = 1;

	errno = 0;
	if (!isdigit((unsigned char)arg[0]))
		return 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0)
		return 0;
	switch (*end) {
	case '\0': break;
	case 's': end++; break;
	case 'm': mult = 60, end++; break;
	case 'h': mult = 3600, end++; break;
	case 'd': mult = 86400, end++; break;
	default: return 0;
	}
	if (*end != '\0' || v > 3650LL * 86400 / mult || v * mult < min)
		return 0;
	*out = (long)(v * mult);
	return 1;
}

/* A whole number from @min to @max. */
static int parse_num(const char *arg, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	if (!isdigit((unsigned char)arg[0]))
		return 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return 0;
	*out = v;
	return 1;
}

static int serve_opt(int id, const char *arg, void *data)
{
	struct serve_opts *so = data;
	struct srv_opts *o = &so->o;
	long v;
	char *end;

	switch (id) {
	case O_LISTEN: o->listen = arg; break;
	case O_DIR: so->dirs[so->ndirs++] = arg; break;
	case O_NONCE:
		if (strcmp(arg, "ignore") == 0)
			o->nonce = SRV_NONCE_IGNORE;
		else if (strcmp(arg, "echo") == 0)
			o->nonce = SRV_NONCE_ECHO;
		else
			goto bad;
		break;
	case O_THREADS:
		if (!parse_num(arg, 0, 1024, &v))
			goto bad;
		o->threads = (unsigned)v;
		break;
	case O_SIGN_RATE:
		errno = 0;
		o->sign_rate = strtod(arg, &end);
		if (errno != 0 || end == arg || *end != '\0' || !isfinite(o->sign_rate) ||
		    o->sign_rate <= 0 || o->sign_rate > 1e6)
			goto bad;
		break;
	case O_SIGN_SESSIONS:
		if (!parse_num(arg, 1, 256, &v))
			goto bad;
		o->sign_sessions = (unsigned)v;
		break;
	case O_VALIDITY:
		if (!parse_duration(arg, 60, &o->validity))
			goto bad;
		break;
	case O_MAX_AGE:
		if (!parse_duration(arg, 0, &o->max_age))
			goto bad;
		break;
	case O_MAX_REQUEST: {
		long mult = 1;

		errno = 0;
		v = isdigit((unsigned char)arg[0]) ? strtol(arg, &end, 10) : -1;
		if (v < 0 || errno != 0)
			goto bad;
		if (*end == 'K' || *end == 'k')
			mult = 1024, end++;
		else if (*end == 'M' || *end == 'm')
			mult = 1024 * 1024, end++;
		if (*end != '\0' || v > (16L << 20) / mult || v * mult < 64)
			goto bad;
		o->max_request = (size_t)(v * mult);
		break;
	}
	case O_TIMEOUT:
		if (!parse_num(arg, 1, 3600, &v))
			goto bad;
		o->conn_timeout = (unsigned)v;
		break;
	case O_MAX_CONNS:
		if (!parse_num(arg, 1, 1000000, &v))
			goto bad;
		o->max_conns = (unsigned)v;
		break;
	case O_POLL_MS:
		if (!parse_num(arg, 10, 60000, &o->poll_ms))
			goto bad;
		break;
	case O_LOG:
		if (strcmp(arg, "text") == 0)
			so->log = LOG_TEXT;
		else if (strcmp(arg, "json") == 0)
			so->log = LOG_JSON;
		else if (strcmp(arg, "none") == 0)
			so->log = LOG_NONE;
		else
			goto bad;
		break;
	case O_READY_FILE: so->ready_file = arg; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
bad : {
	static const char *const want[] = {
		[O_NONCE - O_LISTEN] = "ignore or echo",
		[O_THREADS - O_LISTEN] = "a number, 0 (the cores) to 1024",
		[O_SIGN_RATE - O_LISTEN] = "signatures per second, above 0",
		[O_SIGN_SESSIONS - O_LISTEN] = "a number, 1 to 256",
		[O_VALIDITY - O_LISTEN] = "a duration (N, Ns, Nm, Nh, Nd), 1m to 10 years",
		[O_MAX_AGE - O_LISTEN] = "a duration (N, Ns, Nm, Nh, Nd), up to 10 years",
		[O_MAX_REQUEST - O_LISTEN] = "bytes (K, M allowed), 64 to 16M",
		[O_TIMEOUT - O_LISTEN] = "seconds, 1 to 3600",
		[O_MAX_CONNS - O_LISTEN] = "a number, 1 to 1000000",
		[O_POLL_MS - O_LISTEN] = "milliseconds, 10 to 60000",
		[O_LOG - O_LISTEN] = "text, json or none",
	};
	char shown[256];

	tool_errorf("serve: '%s': %s expected", tool_escape(arg, shown, sizeof(shown)),
	            want[id - O_LISTEN] != NULL ? want[id - O_LISTEN] : "another value");
	return TOOL_EXIT_USAGE;
}
}

/* ------------------------------------------------------------------ */
/* Lines on stderr                                                     */
/* ------------------------------------------------------------------ */

/* @s with bytes outside printable ASCII, and spaces, as \xNN (a log field). */
static const char *field(const char *s, char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s != '\0' && o + 5 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch > 0x20 && ch < 0x7f && ch != '\\') {
			buf[o++] = (char)ch;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 15];
		}
	}
	buf[o] = '\0';
	return buf;
}

static void write_line(const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

static void log_text(void *arg, const struct srv_log_rec *r)
{
	char line[1600], path[1040], method[72], ca[260];
	int n;

	(void)arg;
	n = snprintf(line, sizeof(line), "%s %s %s %d %s %s %s %zu %.3fms%s\n", r->peer,
	             field(r->method, method, sizeof(method)), field(r->path, path, sizeof(path)),
	             r->http, r->kind, r->result,
	             r->ca[0] != '\0' ? field(r->ca, ca, sizeof(ca)) : "-", r->bytes, r->ms,
	             r->live ? " live" : "");
	if (n > 0)
		write_line(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void log_json(void *arg, const struct srv_log_rec *r)
{
	char path[1040], method[72], ca[260];
	json_t *o;
	char *s;

	(void)arg;
	o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:I, s:f, s:b}", "peer", r->peer,
	              "method", field(r->method, method, sizeof(method)), "path",
	              field(r->path, path, sizeof(path)), "http", r->http, "kind", r->kind,
	              "result", r->result, "ca", field(r->ca, ca, sizeof(ca)), "bytes",
	              (json_int_t)r->bytes, "ms", r->ms, "live", r->live);
	if (o == NULL)
		return;
	if ((s = json_dumps(o, JSON_COMPACT)) != NULL) {
		size_t len = strlen(s);
		char *line = malloc(len + 2);

		if (line != NULL) {
			memcpy(line, s, len);
			line[len] = '\n';
			write_line(line, len + 1);
			free(line);
		}
		free(s);
	}
	json_decref(o);
}

static void event_line(enum srv_level level, const char *text)
{
	static const char *const names[] = { "info", "warning", "error" };
	char shown[1024], line[1100];
	int n;

	tool_escape(text, shown, sizeof(shown));
	tool_redact_line(shown, sizeof(shown));
	n = snprintf(line, sizeof(line), "p11ca serve: %s: %s\n",
	             names[level <= SRV_ERROR ? level : SRV_ERROR], shown);
	if (n > 0)
		write_line(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void on_event(void *arg, enum srv_level level, const char *line)
{
	(void)arg;
	event_line(level, line);
}

/* ------------------------------------------------------------------ */
/* The PIN                                                             */
/* ------------------------------------------------------------------ */

/* Whether @uri names a pin-source (so the key logs in without us). */
static int uri_has_pin_source(const char *uri)
{
	P11KitUri *u;
	int yes = 0;

	if (uri == NULL || (u = p11_kit_uri_new()) == NULL)
		return 0;
	if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, u) == P11_KIT_URI_OK)
		yes = p11_kit_uri_get_pin_source(u) != NULL || p11_kit_uri_get_pin_value(u) != NULL;
	p11_kit_uri_free(u);
	return yes;
}

/*
 * Whether every CA of @dirs logs in by its key URIs (pin-source): 1 yes,
 * 0 no, -1 a ca.conf could not be read (reported).
 */
static int every_key_has_pin_source(const char *const *dirs)
{
	for (size_t i = 0; dirs[i] != NULL; i++) {
		char path[4096];
		unsigned char *text = NULL;
		size_t len = 0;
		struct ca_conf conf = { 0 };
		int rc, yes;

		snprintf(path, sizeof(path), "%s/ca.conf", dirs[i]);
		if ((rc = tool_slurp(path, &text, &len)) != RES_OK ||
		    (rc = ca_conf_parse((const char *)text, len, dirs[i], path, &conf)) != RES_OK) {
			tool_errorf("serve: %s", res_message());
			free(text);
			return -1;
		}
		yes = uri_has_pin_source(conf.key) &&
		      (conf.ocsp_key == NULL || uri_has_pin_source(conf.ocsp_key));
		ca_conf_free(&conf);
		free(text);
		if (!yes)
			return 0;
	}
	return 1;
}

/*
 * The PIN from --pin-file/P11CA_PIN_FILE (@pin_file) or P11CA_PIN, held for
 * the process; P11CA_PIN wiped.  Where holding is not built, @o gets the file
 * (P11CA_PIN stays for the provider).  Returns an exit status or
 * TOOL_PARSE_GO.
 */
static int pin_take(const char *pin_file, struct srv_opts *o)
{
	char pin[P11CA_PIN_MAX];
	size_t len = 0;
	char *env = getenv("P11CA_PIN");
	CK_RV rv;
	int ret = TOOL_EXIT_FAIL;

	if (pin_file != NULL) {
		tool_pin_file_check(pin_file);
		if ((rv = p11ca_pin_read_file(pin_file, pin, sizeof(pin), &len)) != CKR_OK) {
			tool_fail("serve: --pin-file", rv);
			goto out;
		}
	} else if (env != NULL) {
		len = strlen(env);
		if (len >= sizeof(pin)) {
			tool_errorf("serve: P11CA_PIN is too long");
			goto out;
		}
		memcpy(pin, env, len + 1);
	} else {
		switch (every_key_has_pin_source(o->dirs)) {
		case 1: return TOOL_PARSE_GO;
		case 0:
			tool_errorf(
			    "serve needs a PIN from --pin-file, P11CA_PIN_FILE or P11CA_PIN "
			    "(it never prompts)");
			return TOOL_EXIT_USAGE;
		default: return TOOL_EXIT_FAIL;
		}
	}
	rv = p11ca_pin_hold(pin, len);
	if (rv == CKR_FUNCTION_NOT_SUPPORTED) {
		o->pin_file = pin_file; /* held by nobody: the file is read at each login */
	} else if (rv != CKR_OK) {
		tool_fail("serve: holding the PIN", rv);
		goto out;
	} else if (env != NULL) {
		/* /proc/PID/environ shows the original block: wiped there too */
		OPENSSL_cleanse(env, strlen(env));
		unsetenv("P11CA_PIN");
	}
	ret = TOOL_PARSE_GO;
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	return ret;
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

int tool_serve(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "listen", required_argument, O_LISTEN },
		{ "dir", required_argument, O_DIR },
		{ "nonce", required_argument, O_NONCE },
		{ "threads", required_argument, O_THREADS },
		{ "sign-rate", required_argument, O_SIGN_RATE },
		{ "sign-sessions", required_argument, O_SIGN_SESSIONS },
		{ "validity", required_argument, O_VALIDITY },
		{ "max-age", required_argument, O_MAX_AGE },
		{ "max-request", required_argument, O_MAX_REQUEST },
		{ "timeout", required_argument, O_TIMEOUT },
		{ "max-connections", required_argument, O_MAX_CONNS },
		{ "poll-ms", required_argument, O_POLL_MS },
		{ "log", required_argument, O_LOG },
		{ "ready-file", required_argument, O_READY_FILE },
		{ NULL, 0, 0 },
	};
	struct tool_common common = { 0 };
	struct serve_opts so = { .log = LOG_TEXT };
	struct srv *s = NULL;
	struct rlimit nocore = { 0, 0 };
	sigset_t set;
	char msg[1200], port[16];
	int rc, ret = TOOL_EXIT_FAIL;

	srv_opts_default(&so.o);
	/* every --dir fits, and the NULL */
	if ((so.dirs = calloc((size_t)argc + 1, sizeof(*so.dirs))) == NULL) {
		tool_errorf("out of memory");
		return TOOL_EXIT_FAIL;
	}
	if ((rc = tool_parse(argc, argv, opts, serve_help, &common, serve_opt, &so)) !=
	    TOOL_PARSE_GO) {
		ret = rc;
		goto out;
	}
	ret = TOOL_EXIT_USAGE;
	if (optind < argc) {
		tool_errorf("serve: unexpected argument '%s' (CA directories go with --dir)",
		            tool_escape(argv[optind], msg, sizeof(msg)));
		goto out;
	}
	if (so.o.listen == NULL || so.ndirs == 0) {
		tool_errorf("serve needs --listen ADDR:PORT and at least one --dir D");
		goto out;
	}
	so.o.dirs = so.dirs;
	so.o.module = common.module_from_env ? NULL : common.module;
	if ((rc = pin_take(common.pin_file, &so.o)) != TOOL_PARSE_GO) {
		ret = rc;
		goto out;
	}
	ret = TOOL_EXIT_FAIL;
	if (setrlimit(RLIMIT_CORE, &nocore) != 0) {
		tool_errorf("serve: cannot turn core dumps off: %s", strerror(errno));
		goto out;
	}
	if (so.log == LOG_TEXT)
		so.o.log = log_text;
	else if (so.log == LOG_JSON)
		so.o.log = log_json;
	so.o.event = on_event;

	/* the threads srv_start makes inherit the mask: signals come to sigwait here */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	if ((errno = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0) {
		tool_errorf("serve: signals: %s", strerror(errno));
		goto out;
	}
	if ((rc = srv_start(&so.o, &s)) != RES_OK) {
		tool_errorf("serve: %s", res_message());
		goto out;
	}
	snprintf(port, sizeof(port), "%u\n", srv_port(s));
	if (so.ready_file != NULL && tool_write_atomic(so.ready_file, (const unsigned char *)port,
	                                               strlen(port)) != TOOL_EXIT_OK)
		goto out;
	snprintf(msg, sizeof(msg), "serving %zu CA%s on port %u (pid %ld)", so.ndirs,
	         so.ndirs == 1 ? "" : "s", srv_port(s), (long)getpid());
	event_line(SRV_INFO, msg);
	for (;;) {
		int sig = 0;

		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (srv_reload(s) == RES_OK) {
				event_line(SRV_INFO, "reloaded");
			} else {
				snprintf(msg, sizeof(msg), "reload: %s", res_message());
				event_line(SRV_ERROR, msg);
			}
		} else if (sig == SIGTERM || sig == SIGINT) {
			snprintf(msg, sizeof(msg), "stopping (%s)",
			         sig == SIGTERM ? "SIGTERM" : "SIGINT");
			event_line(SRV_INFO, msg);
			break;
		}
	}
	ret = TOOL_EXIT_OK;
out:
	if (s != NULL) {
		srv_free(s);
		if (ret == TOOL_EXIT_OK)
			event_line(SRV_INFO, "stopped");
	}
	p11ca_pin_hold(NULL, 0);
	free(so.dirs);
	return ret;
}
