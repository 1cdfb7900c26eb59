/* cmd-token.c - p11ca token list | init | bench */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "tool.h"

static void flag_words(CK_FLAGS f, char *buf, size_t cap)
{
	static const struct {
		CK_FLAGS bit;
		const char *name;
	} names[] = {
		{ CKF_TOKEN_INITIALIZED, "initialized" },
		{ CKF_LOGIN_REQUIRED, "login-required" },
		{ CKF_USER_PIN_INITIALIZED, "user-pin-initialized" },
		{ CKF_WRITE_PROTECTED, "write-protected" },
		{ CKF_USER_PIN_COUNT_LOW, "user-pin-count-low" },
		{ CKF_USER_PIN_FINAL_TRY, "user-pin-final-try" },
		{ CKF_USER_PIN_LOCKED, "user-pin-locked" },
		{ CKF_PROTECTED_AUTHENTICATION_PATH, "pin-pad" },
	};
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(f & names[i].bit))
			continue;
		if (buf[0])
			strncat(buf, ",", cap - strlen(buf) - 1);
		strncat(buf, names[i].name, cap - strlen(buf) - 1);
	}
}

enum {
	O_JSON = OPT_FIRST_LOCAL,
	O_SLOT,
	O_LABEL,
	O_SO_PIN_FILE,
	O_TOKEN,
	O_THREADS,
	O_SECONDS,
	O_KEY,
	O_TYPES,
	O_NEW_PIN_FILE,
	O_YES
};

/* One token as JSON (NULL: no memory). */
static json_t *token_json(const struct p11ca_token_info *ti, const char *flags, const char *uri)
{
	char buf[4][64];
	json_t *j = json_object();

	if (j == NULL)
		return NULL;
	/* the token's strings are whatever bytes it holds: UTF-8 or '?' */
	if (json_object_set_new(j, "label", json_string(tool_text_utf8(ti->label, buf[0], 64))) ||
	    json_object_set_new(j, "manufacturer",
	                        json_string(tool_text_utf8(ti->manufacturer, buf[1], 64))) ||
	    json_object_set_new(j, "model", json_string(tool_text_utf8(ti->model, buf[2], 64))) ||
	    json_object_set_new(j, "serial", json_string(tool_text_utf8(ti->serial, buf[3], 64))) ||
	    json_object_set_new(j, "slot", json_integer((json_int_t)ti->slot_id)) ||
	    json_object_set_new(j, "module",
	                        json_string(tool_text_utf8(ti->module_name, buf[0], 64))) ||
	    json_object_set_new(j, "flags", json_string(flags)) ||
	    json_object_set_new(j, "uri", json_string(uri != NULL ? uri : ""))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int list_opt(int id, const char *arg, void *data)
{
	if (id != O_JSON)
		return TOOL_EXIT_USAGE;
	*(int *)data = 1;
	return TOOL_EXIT_OK;
}

int tool_token_list(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "json", no_argument, O_JSON },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca token list [--module NAME|PATH] [--json]\n\n"
	    "Lists the tokens of every p11-kit module (or --module's) with their\n"
	    "flags and a pkcs11: URI for each.\n";
	struct tool_common c = { 0 };
	p11ca_ctx *ctx;
	json_t *json = NULL;
	int r, json_wanted = 0, ret = TOOL_EXIT_FAIL;
	size_t i, n;

	if ((r = tool_parse(argc, argv, opts, help, &c, list_opt, &json_wanted)) != TOOL_PARSE_GO)
		return r;
	if (optind != argc) {
		tool_errorf("token list takes no arguments");
		return TOOL_EXIT_USAGE;
	}
	if ((ctx = tool_ctx_open(&c)) == NULL)
		return TOOL_EXIT_FAIL;
	if (json_wanted && (json = json_array()) == NULL)
		goto nomem;
	n = p11ca_token_count(ctx);
	for (i = 0; i < n; i++) {
		p11ca_token *t = p11ca_token_at(ctx, i);
		const struct p11ca_token_info *ti = p11ca_token_get_info(t);
		char flags[256], *uri = p11ca_token_uri(t);

		flag_words(ti->flags, flags, sizeof(flags));
		if (json != NULL) {
			r = json_array_append_new(json, token_json(ti, flags, uri));
			free(uri);
			if (r != 0)
				goto nomem;
			continue;
		}
		printf("%s\n  manufacturer: %s\n  model:        %s\n  serial:       %s\n"
		       "  slot:         %lu\n  module:       %s\n  flags:        %s\n  uri:        "
		       "  %s\n",
		       (ti->flags & CKF_TOKEN_INITIALIZED) ? ti->label
		                                           : "(not initialised: see token init)",
		       ti->manufacturer, ti->model, ti->serial, (unsigned long)ti->slot_id,
		       ti->module_name, flags, uri ? uri : "");
		free(uri);
	}
	if (json != NULL) {
		/* one document, written at once */
		if (json_dumpf(json, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF) {
			tool_errorf("cannot write the listing");
			goto out;
		}
	} else if (n == 0) {
		tool_warnf("no tokens found");
	}
	ret = TOOL_EXIT_OK;
	goto out;
nomem:
	tool_errorf("out of memory");
out:
	json_decref(json);
	p11ca_ctx_free(ctx);
	return ret;
}

/* A secret from a file, an environment variable, or the terminal. */
static int get_secret(const char *file, const char *env, const char *prompt, char *buf, size_t cap)
{
	size_t len = 0;
	CK_RV rv;

	if (file != NULL) {
		tool_pin_file_check(file);
		rv = p11ca_pin_read_file(file, buf, cap, &len);
	} else if (env != NULL && getenv(env) != NULL) {
		if (strlen(getenv(env)) >= cap) {
			tool_errorf("%s is too long", env);
			return -1;
		}
		strcpy(buf, getenv(env));
		return 0;
	} else {
		rv = p11ca_pin_prompt(prompt, buf, cap, &len);
	}
	if (rv != CKR_OK) {
		tool_errorf("%s", p11ca_error_message());
		return -1;
	}
	return 0;
}

struct init_opts {
	const char *label, *so_file;
	unsigned long slot;
	int have_slot, free_slot, yes;
};

static int init_opt(int id, const char *arg, void *data)
{
	struct init_opts *o = data;
	char *end;

	switch (id) {
	case O_SLOT:
		o->have_slot = 1;
		if (strcmp(arg, "free") == 0) {
			o->free_slot = 1;
			break;
		}
		o->slot = strtoul(arg, &end, 0);
		if (*end != '\0' || end == arg || arg[0] == '-') {
			tool_errorf(
			    "--slot needs a slot number (as token list shows it) or 'free'");
			return TOOL_EXIT_USAGE;
		}
		break;
	case O_YES: o->yes = 1; break;
	case O_LABEL: o->label = arg; break;
	case O_SO_PIN_FILE: o->so_file = arg; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

/*
 * The slot token init works on: --slot N, or the first slot whose token is
 * not initialised (--slot free; SoftHSM2 always has one, and numbers its
 * slots at random).  A token there that is initialised is erased only when
 * the user confirms (or gave --yes).
 */
static int init_slot(p11ca_ctx *ctx, struct init_opts *o)
{
	size_t i, n = p11ca_token_count(ctx);
	char what[160];

	for (i = 0; i < n; i++) {
		const struct p11ca_token_info *ti = p11ca_token_get_info(p11ca_token_at(ctx, i));
		if (o->free_slot && !(ti->flags & CKF_TOKEN_INITIALIZED)) {
			o->slot = (unsigned long)ti->slot_id;
			return TOOL_EXIT_OK;
		}
		if (!o->free_slot && ti->slot_id == (CK_SLOT_ID)o->slot &&
		    (ti->flags & CKF_TOKEN_INITIALIZED)) {
			snprintf(what, sizeof(what), "erase token '%s' in slot %lu, keys and all",
			         ti->label, o->slot);
			return tool_confirm(what, o->yes);
		}
	}
	if (o->free_slot) {
		tool_errorf("no slot with a token that is not initialised (see token list)");
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

int tool_token_init(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "slot", required_argument, O_SLOT },
		{ "label", required_argument, O_LABEL },
		{ "so-pin-file", required_argument, O_SO_PIN_FILE },
		{ "yes", no_argument, O_YES },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca token init --module NAME|PATH --slot N|free --label LABEL\n"
	    "                        [--so-pin-file FILE] [--pin-file FILE] [--yes]\n\n"
	    "Initialises the token in slot N (the number token list shows; 'free':\n"
	    "the first token not initialised yet) and sets its user PIN.  A token\n"
	    "that is initialised already is erased, keys and all: p11ca asks first on\n"
	    "a terminal, and needs --yes elsewhere.\n"
	    "The SO PIN comes from --so-pin-file, P11CA_SO_PIN or a prompt; the user\n"
	    "PIN from --pin-file, P11CA_PIN or a prompt.  PINs are never arguments.\n";
	struct tool_common c = { 0 }, cc;
	struct init_opts o = { 0 };
	char so_pin[P11CA_PIN_MAX], pin[P11CA_PIN_MAX];
	int r, ret = TOOL_EXIT_FAIL;
	p11ca_ctx *ctx = NULL;
	CK_RV rv;

	so_pin[0] = pin[0] = '\0';
	if ((r = tool_parse(argc, argv, opts, help, &c, init_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (!o.have_slot || o.label == NULL || optind != argc) {
		tool_errorf("token init needs --slot and --label (see --help)");
		return TOOL_EXIT_USAGE;
	}
	cc = c;
	cc.pin_file = NULL; /* the new user PIN, read below; the context needs none */
	if ((ctx = tool_ctx_open(&cc)) == NULL)
		goto out;
	if ((r = init_slot(ctx, &o)) != TOOL_EXIT_OK) {
		ret = r;
		goto out;
	}
	if (get_secret(o.so_file, "P11CA_SO_PIN", "SO PIN: ", so_pin, sizeof(so_pin)) != 0 ||
	    get_secret(c.pin_file, "P11CA_PIN", "new user PIN: ", pin, sizeof(pin)) != 0)
		goto out;
	rv = p11ca_token_init(ctx, (CK_SLOT_ID)o.slot, so_pin, o.label, pin);
	OPENSSL_cleanse(so_pin, sizeof(so_pin));
	OPENSSL_cleanse(pin, sizeof(pin));
	if (rv != CKR_OK) {
		tool_fail("token init", rv);
		goto out;
	}
	{
		char buf[128];
		printf("initialised token '%s'\n", tool_escape(o.label, buf, sizeof(buf)));
	}
	ret = TOOL_EXIT_OK;
out:
	OPENSSL_cleanse(so_pin, sizeof(so_pin));
	OPENSSL_cleanse(pin, sizeof(pin));
	p11ca_ctx_free(ctx);
	return ret;
}

static int bench_one(p11ca_key *key, const char *name, int threads, double seconds)
{
	struct p11ca_bench_result r;
	CK_RV rv = p11ca_bench_sign(key, threads, seconds, &r);

	if (rv != CKR_OK)
		return tool_fail("bench", rv);
	printf("%-10s %7d %12.1f %12.1f %8.3f %8lu\n", name, threads, r.raw_per_sec, r.lib_per_sec,
	       r.ratio, r.verify_failures);
	fflush(stdout);
	if (r.verify_failures > 0) {
		tool_errorf("%lu sampled signatures did not verify", r.verify_failures);
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

struct bench_opts {
	const char *token_uri, *key_uri, *types;
	int threads;
	double seconds;
};

static int bench_opt(int id, const char *arg, void *data)
{
	struct bench_opts *o = data;
	char *end;

	switch (id) {
	case O_TOKEN: o->token_uri = arg; break;
	case O_KEY: o->key_uri = arg; break;
	case O_TYPES: o->types = arg; break;
	case O_THREADS:
		o->threads = (int)strtol(arg, &end, 10);
		if (*end || o->threads < 1 || o->threads > 64) {
			tool_errorf("--threads needs 1..64");
			return TOOL_EXIT_USAGE;
		}
		break;
	case O_SECONDS:
		o->seconds = strtod(arg, &end);
		if (*end || o->seconds <= 0 || o->seconds > 3600) {
			tool_errorf("--seconds needs a positive number");
			return TOOL_EXIT_USAGE;
		}
		break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

int tool_token_bench(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "token", required_argument, O_TOKEN },
		{ "threads", required_argument, O_THREADS },
		{ "seconds", required_argument, O_SECONDS },
		{ "key", required_argument, O_KEY },
		{ "types", required_argument, O_TYPES },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca token bench [--token URI | --key URI] [--threads N]\n"
	    "                         [--seconds S] [--types rsa:2048,ec:p256]\n\n"
	    "Signs SHA-256 digests for S seconds per key (default 4) through a bare\n"
	    "PKCS#11 C_SignInit+C_Sign loop and through libp11ca, in alternating\n"
	    "rounds on the same token, and prints both rates and their ratio\n"
	    "(*the median of the rounds' ratios, robust to bursts of other load).\n"
	    "Without --key it makes a temporary key of each type and deletes it\n"
	    "afterwards.  Without --threads it runs with 1 and 2 threads.\n";
	struct tool_common c = { 0 };
	struct bench_opts o = { .types = "rsa:2048,ec:p256", .seconds = 4.0 };
	int r, ret = TOOL_EXIT_FAIL, th, threads;
	double seconds;
	p11ca_ctx *ctx = NULL;
	p11ca_token *tok = NULL;
	char *list = NULL, *save = NULL, *type;
	CK_RV rv;

	if ((r = tool_parse(argc, argv, opts, help, &c, bench_opt, &o)) != TOOL_PARSE_GO)
		return r;
	threads = o.threads;
	seconds = o.seconds;
	if (optind != argc) {
		tool_errorf("token bench takes no arguments");
		return TOOL_EXIT_USAGE;
	}
	if ((ctx = tool_ctx_open(&c)) == NULL)
		goto out;
	printf("%-10s %7s %12s %12s %8s %8s\n", "key", "threads", "raw sig/s", "p11ca sig/s",
	       "ratio*", "badsig");
	if (o.key_uri != NULL) {
		p11ca_key *key = NULL;
		if ((rv = p11ca_key_find(ctx, o.key_uri, &key)) != CKR_OK) {
			tool_fail("--key", rv);
			goto out;
		}
		ret = TOOL_EXIT_OK;
		for (th = threads ? threads : 1; th <= (threads ? threads : 2) && ret == 0; th++)
			ret = bench_one(key, "key", th, seconds);
		p11ca_key_free(key);
		goto out;
	}
	if ((rv = p11ca_token_find(ctx, o.token_uri, &tok)) != CKR_OK) {
		tool_fail("--token", rv);
		goto out;
	}
	if ((list = strdup(o.types)) == NULL)
		goto out;
	ret = TOOL_EXIT_OK;
	for (type = strtok_r(list, ",", &save); type != NULL && ret == TOOL_EXIT_OK;
	     type = strtok_r(NULL, ",", &save)) {
		p11ca_key *key = NULL;
		char label[64], *uri, *pair;
		size_t ndel = 0;

		snprintf(label, sizeof(label), "p11ca-bench-%s-%ld", type, (long)getpid());
		if ((rv = p11ca_key_generate(tok, type, label, 0, &key)) != CKR_OK) {
			ret = tool_fail("generating the bench key", rv);
			break;
		}
		for (th = threads ? threads : 1; th <= (threads ? threads : 2) && ret == 0; th++)
			ret = bench_one(key, type, th, seconds);
		uri = p11ca_key_get_uri(key);
		p11ca_key_free(key);
		/* delete the temporary pair by its id so nothing stays behind */
		pair = tool_uri_without_type(uri);
		if (pair == NULL || p11ca_object_delete(ctx, pair, &ndel) != CKR_OK)
			tool_warnf("could not delete temporary key '%s'", label);
		free(pair);
		free(uri);
	}
out:
	free(list);
	p11ca_ctx_free(ctx);
	return ret;
}

struct change_pin_opts {
	const char *token_uri, *new_file;
};

static int change_pin_opt(int id, const char *arg, void *data)
{
	struct change_pin_opts *o = data;

	switch (id) {
	case O_TOKEN: o->token_uri = arg; break;
	case O_NEW_PIN_FILE: o->new_file = arg; break;
	default: return TOOL_EXIT_USAGE;
	}
	return TOOL_EXIT_OK;
}

int tool_token_change_pin(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		{ "token", required_argument, O_TOKEN },
		{ "new-pin-file", required_argument, O_NEW_PIN_FILE },
		{ NULL, 0, 0 },
	};
	static const char help[] =
	    "usage: p11ca token change-pin [--token URI] [--pin-file FILE]\n"
	    "                              [--new-pin-file FILE]\n\n"
	    "Changes the user PIN.  The current PIN comes from --pin-file, P11CA_PIN\n"
	    "or a prompt; the new one from --new-pin-file, P11CA_NEW_PIN or a prompt.\n";
	struct tool_common c = { 0 };
	struct change_pin_opts o = { 0 };
	char old_pin[P11CA_PIN_MAX], new_pin[P11CA_PIN_MAX];
	int r, ret = TOOL_EXIT_FAIL;
	p11ca_ctx *ctx = NULL;
	p11ca_token *tok;
	CK_RV rv;

	old_pin[0] = new_pin[0] = '\0';
	if ((r = tool_parse(argc, argv, opts, help, &c, change_pin_opt, &o)) != TOOL_PARSE_GO)
		return r;
	if (optind != argc) {
		tool_errorf("token change-pin takes no arguments");
		return TOOL_EXIT_USAGE;
	}
	if (get_secret(c.pin_file, "P11CA_PIN", "current user PIN: ", old_pin, sizeof(old_pin)) !=
	        0 ||
	    get_secret(o.new_file, "P11CA_NEW_PIN", "new user PIN: ", new_pin, sizeof(new_pin)) !=
	        0)
		goto out;
	c.pin_file = NULL;
	if ((ctx = tool_ctx_open(&c)) == NULL)
		goto out;
	if ((rv = p11ca_token_find(ctx, o.token_uri, &tok)) != CKR_OK) {
		tool_fail("--token", rv);
		goto out;
	}
	if ((rv = p11ca_token_change_pin(tok, old_pin, new_pin)) != CKR_OK) {
		tool_fail("token change-pin", rv);
		goto out;
	}
	printf("changed the user PIN of token '%s'\n", p11ca_token_get_info(tok)->label);
	ret = TOOL_EXIT_OK;
out:
	OPENSSL_cleanse(old_pin, sizeof(old_pin));
	OPENSSL_cleanse(new_pin, sizeof(new_pin));
	p11ca_ctx_free(ctx);
	return ret;
}
