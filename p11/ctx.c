/* ctx.c - the context: modules loaded through p11-kit and their tokens. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <p11-kit/p11-kit.h>
#include <openssl/crypto.h>

#include "internal.h"

static void module_free(struct p11ca_module *mod)
{
	if (mod == NULL)
		return;
	/* the last context of the process that holds it finalises what we initialised */
	if (p11ca_module_users(mod->fl, -1) == 0 && mod->initialised && mod->owned &&
	    mod->pid == getpid())
		(void)mod->fl->C_Finalize(NULL);
	pthread_mutex_destroy(&mod->lock);
	pthread_rwlock_destroy(&mod->calls);
	free(mod->name);
	free(mod->path);
	free(mod);
}

static CK_RV module_add(p11ca_ctx *ctx, CK_FUNCTION_LIST *fl)
{
	struct p11ca_module *mod, **mods;
	char *name = p11_kit_module_get_name(fl);
	char *path = p11_kit_module_get_filename(fl);
	CK_RV rv = CKR_HOST_MEMORY;

	mod = calloc(1, sizeof(*mod));
	mods = realloc(ctx->mods, (ctx->nmods + 1) * sizeof(*mods));
	if (mod == NULL || mods == NULL)
		goto out;
	ctx->mods = mods;
	mod->fl = fl;
	mod->path = path;
	if (name == NULL && path != NULL) {
		const char *base = strrchr(path, '/');
		name = strdup(base ? base + 1 : path);
	}
	mod->name = name;
	path = name = NULL; /* transferred */
	pthread_mutex_init(&mod->lock, NULL);
	{
		pthread_rwlockattr_t attr;
		pthread_rwlockattr_init(&attr);
		(void)pthread_rwlockattr_setkind_np(&attr,
		                                    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&mod->calls, &attr);
		pthread_rwlockattr_destroy(&attr);
	}
	ctx->mods[ctx->nmods++] = mod;
	(void)p11ca_module_users(fl, 1);
	mod = NULL;
	rv = CKR_OK;
out:
	free(mod);
	free(name);
	free(path);
	return rv;
}

static int is_trust_module(CK_FUNCTION_LIST *fl)
{
	char *v = p11_kit_config_option(fl, "trust-policy");
	int yes = v != NULL && (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0);

	free(v);
	return yes;
}

P11CA_EXPORT CK_RV p11ca_ctx_new(const char *module, p11ca_ctx **pctx)
{
	p11ca_ctx *ctx;
	CK_RV rv = CKR_HOST_MEMORY;
	size_t i;

	if (pctx == NULL)
		return p11ca_err(CKR_ARGUMENTS_BAD, "p11ca_ctx_new: no output pointer");
	*pctx = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return p11ca_err(rv, "out of memory");
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->allow_prompt = 1;

	if (module != NULL && strchr(module, '/') != NULL) {
		ctx->kit_single = p11_kit_module_load(module, P11_KIT_MODULE_UNMANAGED);
		if (ctx->kit_single == NULL) {
			rv = p11ca_err(P11CA_R_MODULE, "cannot load PKCS#11 module %s: %s", module,
			               p11_kit_message() ? p11_kit_message() : "unknown error");
			goto out;
		}
		if ((rv = module_add(ctx, ctx->kit_single)) != CKR_OK)
			goto out;
	} else {
		ctx->kit_modules = p11_kit_modules_load(NULL, P11_KIT_MODULE_UNMANAGED);
		if (ctx->kit_modules == NULL) {
			rv =
			    p11ca_err(P11CA_R_MODULE, "cannot load the p11-kit module registry: %s",
			              p11_kit_message() ? p11_kit_message() : "unknown error");
			goto out;
		}
		for (i = 0; ctx->kit_modules[i] != NULL; i++) {
			CK_FUNCTION_LIST *fl = ctx->kit_modules[i];
			char *name;
			int want;

			if (module != NULL) {
				name = p11_kit_module_get_name(fl);
				want = name != NULL && strcmp(name, module) == 0;
				free(name);
			} else {
				/* trust stores hold no keys: only when named */
				want = !is_trust_module(fl);
			}
			if (want && (rv = module_add(ctx, fl)) != CKR_OK)
				goto out;
		}
		if (module != NULL && ctx->nmods == 0) {
			char names[512] = "";
			for (i = 0; ctx->kit_modules[i] != NULL; i++) {
				char *name = p11_kit_module_get_name(ctx->kit_modules[i]);
				if (name != NULL) {
					if (names[0])
						strncat(names, ", ",
						        sizeof(names) - strlen(names) - 1);
					strncat(names, name, sizeof(names) - strlen(names) - 1);
				}
				free(name);
			}
			rv = p11ca_err(P11CA_R_MODULE,
			               "no p11-kit module named '%s' (registered: %s)", module,
			               names[0] ? names : "none");
			goto out;
		}
	}
	*pctx = ctx;
	ctx = NULL;
	rv = CKR_OK;
out:
	p11ca_ctx_free(ctx);
	return rv;
}

P11CA_EXPORT void p11ca_ctx_free(p11ca_ctx *ctx)
{
	size_t i;

	if (ctx == NULL)
		return;
	for (i = 0; i < ctx->ntokens; i++)
		p11ca_token_free(ctx->tokens[i]);
	free(ctx->tokens);
	for (i = 0; i < ctx->nmods; i++)
		module_free(ctx->mods[i]);
	free(ctx->mods);
	if (ctx->kit_modules != NULL)
		p11_kit_modules_release(ctx->kit_modules);
	if (ctx->kit_single != NULL)
		p11_kit_module_release(ctx->kit_single);
	free(ctx->pin_file);
	free(ctx->propq);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

P11CA_EXPORT CK_RV p11ca_ctx_set_pin_file(p11ca_ctx *ctx, const char *path)
{
	char *copy = NULL;

	if (path != NULL && (copy = strdup(path)) == NULL)
		return p11ca_err(CKR_HOST_MEMORY, "out of memory");
	free(ctx->pin_file);
	ctx->pin_file = copy;
	return CKR_OK;
}

P11CA_EXPORT CK_RV p11ca_ctx_set_openssl(p11ca_ctx *ctx, OSSL_LIB_CTX *libctx, const char *propq)
{
	char *copy = NULL;

	if (propq != NULL && (copy = strdup(propq)) == NULL)
		return p11ca_err(CKR_HOST_MEMORY, "out of memory");
	free(ctx->propq);
	ctx->propq = copy;
	ctx->libctx = libctx;
	return CKR_OK;
}

P11CA_EXPORT void p11ca_ctx_set_pin_prompt(p11ca_ctx *ctx, int allow)
{
	ctx->allow_prompt = allow;
}

P11CA_EXPORT void p11ca_ctx_set_uri_path_pin(p11ca_ctx *ctx, int allow)
{
	ctx->uri_path_pin = allow;
}

P11CA_EXPORT void p11ca_ctx_set_log(p11ca_ctx *ctx, p11ca_log_fn fn, void *data)
{
	ctx->log_fn = fn;
	ctx->log_data = data;
}

static p11ca_token *token_lookup_locked(p11ca_ctx *ctx, struct p11ca_module *mod,
                                        const CK_TOKEN_INFO *ti)
{
	size_t i;

	for (i = 0; i < ctx->ntokens; i++) {
		p11ca_token *t = ctx->tokens[i];
		if (t->mod == mod && memcmp(t->info.serial, "", 1) != 0) {
			struct p11ca_token_info info;
			p11ca_token_fill_info(&info, ti);
			if (strcmp(info.serial, t->info.serial) == 0 &&
			    strcmp(info.label, t->info.label) == 0)
				return t;
		}
	}
	return NULL;
}

static CK_RV refresh_module_locked(p11ca_ctx *ctx, struct p11ca_module *mod)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_RV rv;

	if ((rv = p11ca_module_ensure(mod, NULL)) != CKR_OK)
		return rv;
	rv = mod->fl->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv == CKR_OK && n > 0) {
		slots = calloc(n, sizeof(*slots));
		if (slots == NULL)
			return p11ca_err(CKR_HOST_MEMORY, "out of memory");
		rv = mod->fl->C_GetSlotList(CK_TRUE, slots, &n);
	}
	if (rv != CKR_OK) {
		free(slots);
		return p11ca_err(rv, "%s: C_GetSlotList failed: %s", mod->name, p11ca_rv_name(rv));
	}
	for (i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		p11ca_token *t;

		if (mod->fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		t = token_lookup_locked(ctx, mod, &ti);
		if (t != NULL) {
			pthread_mutex_lock(&t->lock);
			t->slot = slots[i];
			t->info.slot_id = slots[i];
			t->info.flags = ti.flags;
			t->present = 1;
			pthread_mutex_unlock(&t->lock);
			continue;
		}
		if (ctx->ntokens == ctx->tokens_cap) {
			size_t cap = ctx->tokens_cap ? ctx->tokens_cap * 2 : 8;
			p11ca_token **nt = realloc(ctx->tokens, cap * sizeof(*nt));
			if (nt == NULL) {
				free(slots);
				return p11ca_err(CKR_HOST_MEMORY, "out of memory");
			}
			ctx->tokens = nt;
			ctx->tokens_cap = cap;
		}
		if ((rv = p11ca_token_new(ctx, mod, slots[i], &ti, &t)) != CKR_OK) {
			free(slots);
			return rv;
		}
		ctx->tokens[ctx->ntokens++] = t;
	}
	free(slots);
	return CKR_OK;
}

P11CA_EXPORT CK_RV p11ca_ctx_refresh(p11ca_ctx *ctx)
{
	CK_RV rv = CKR_OK, first_err = CKR_OK;
	size_t i, ok = 0;

	for (i = 0; i < ctx->nmods; i++) {
		struct p11ca_module *mod = ctx->mods[i];
		size_t j;

		/* inside the module before the context's lock (internal.h);
		 * a module being re-initialised while this thread is inside
		 * another keeps what was known of it */
		if (!p11ca_module_enter(mod)) {
			ok++;
			continue;
		}
		pthread_mutex_lock(&ctx->lock);
		/* Tokens are never freed before the context: keys keep pointers. */
		for (j = 0; j < ctx->ntokens; j++)
			if (ctx->tokens[j]->mod == mod)
				ctx->tokens[j]->present = 0;
		rv = refresh_module_locked(ctx, mod);
		pthread_mutex_unlock(&ctx->lock);
		p11ca_module_leave(mod);
		if (rv == CKR_OK) {
			ok++;
		} else {
			p11ca_log(ctx, "skipping module %s: %s", mod->name, p11ca_error_message());
			if (first_err == CKR_OK)
				first_err = rv;
		}
	}
	pthread_mutex_lock(&ctx->lock);
	ctx->refreshed = 1;
	pthread_mutex_unlock(&ctx->lock);
	/* one broken module does not hide the others */
	return ok > 0 || ctx->nmods == 0 ? CKR_OK : first_err;
}

P11CA_EXPORT size_t p11ca_token_count(p11ca_ctx *ctx)
{
	size_t i, n = 0;

	if (!ctx->refreshed)
		(void)p11ca_ctx_refresh(ctx);
	pthread_mutex_lock(&ctx->lock);
	for (i = 0; i < ctx->ntokens; i++)
		n += ctx->tokens[i]->present;
	pthread_mutex_unlock(&ctx->lock);
	return n;
}

P11CA_EXPORT p11ca_token *p11ca_token_at(p11ca_ctx *ctx, size_t idx)
{
	p11ca_token *t = NULL;
	size_t i, n = 0;

	pthread_mutex_lock(&ctx->lock);
	for (i = 0; i < ctx->ntokens; i++) {
		if (!ctx->tokens[i]->present)
			continue;
		if (n++ == idx) {
			t = ctx->tokens[i];
			break;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	return t;
}

static void append_candidate(char *buf, size_t cap, p11ca_token *t)
{
	size_t len = strlen(buf);

	snprintf(buf + len, cap - len, "%s'%s' (serial %s, %s)", len ? ", " : "", t->info.label,
	         t->info.serial, t->mod->name);
}

/* The present, initialised tokens @uri matches: how many, the last, their names. */
static size_t match_tokens(p11ca_ctx *ctx, P11KitUri *uri, p11ca_token **found, char *cands,
                           size_t cap)
{
	size_t i, n = 0, nmatch = 0;
	p11ca_token **ts;

	cands[0] = '\0';
	/* the candidates first: matching calls into the modules, which is
	 * not done under the context's lock (internal.h); tokens are never
	 * freed before the context */
	pthread_mutex_lock(&ctx->lock);
	ts = calloc(ctx->ntokens ? ctx->ntokens : 1, sizeof(*ts));
	for (i = 0; ts != NULL && i < ctx->ntokens; i++)
		if (ctx->tokens[i]->present && (ctx->tokens[i]->info.flags & CKF_TOKEN_INITIALIZED))
			ts[n++] = ctx->tokens[i];
	pthread_mutex_unlock(&ctx->lock);
	for (i = 0; i < n; i++) {
		if (uri != NULL && !p11ca_uri_match_token(uri, ts[i]))
			continue;
		nmatch++;
		*found = ts[i];
		append_candidate(cands, cap, ts[i]);
	}
	free(ts);
	return nmatch;
}

/* Whether none of our tokens on @mod has a session open. */
static int module_idle(p11ca_ctx *ctx, struct p11ca_module *mod)
{
	size_t i;
	int idle = 1;

	pthread_mutex_lock(&ctx->lock);
	for (i = 0; idle && i < ctx->ntokens; i++) {
		p11ca_token *t = ctx->tokens[i];
		if (t->mod != mod)
			continue;
		pthread_mutex_lock(&t->lock);
		idle = t->nopen == 0;
		pthread_mutex_unlock(&t->lock);
	}
	pthread_mutex_unlock(&ctx->lock);
	return idle;
}

/* Looks for a missing token again this often before saying it is missing. */
#define FIND_RETRIES 3

/* A token found by @uri takes the URI's pin-value / pin-source, if any. */
static void token_take_uri_pin(p11ca_token *found, P11KitUri *uri)
{
	const char *pv, *ps;

	if (uri == NULL)
		return;
	pv = p11_kit_uri_get_pin_value(uri);
	ps = p11_kit_uri_get_pin_source(uri);
	pthread_mutex_lock(&found->lock);
	/* a PIN source given now deserves its own try */
	if (pv != NULL || ps != NULL)
		found->pin_failed = 0;
	if (pv != NULL) {
		if (found->uri_pin_value != NULL)
			OPENSSL_clear_free(found->uri_pin_value, strlen(found->uri_pin_value));
		found->uri_pin_value = strdup(pv);
	}
	if (ps != NULL) {
		free(found->uri_pin_source);
		found->uri_pin_source = strdup(ps);
	}
	pthread_mutex_unlock(&found->lock);
}

CK_RV p11ca_ctx_find_token(p11ca_ctx *ctx, P11KitUri *uri, const char *uristr, p11ca_token **ptoken)
{
	p11ca_token *found = NULL;
	char cands[900] = "";
	size_t i, nmatch = 0;
	unsigned gen;
	int attempt;
	CK_RV rv;

	if ((rv = p11ca_ctx_refresh(ctx)) != CKR_OK)
		return rv;
	nmatch = match_tokens(ctx, uri, &found, cands, sizeof(cands));
	for (attempt = 1; nmatch == 0 && attempt <= FIND_RETRIES; attempt++) {
		/*
		 * SoftHSM2 leaves out a token whose files another process is
		 * rewriting at that moment (a login does) and only looks again
		 * when initialised: wait a little, initialise again the modules
		 * that are ours and have no session open (so nobody's work is
		 * lost: a process that is only starting), look again.
		 */
		usleep(20000 * (useconds_t)attempt);
		for (i = 0; i < ctx->nmods; i++)
			if (ctx->mods[i]->owned && module_idle(ctx, ctx->mods[i]) &&
			    p11ca_module_users(ctx->mods[i]->fl, 0) == 1 &&
			    p11ca_module_ensure(ctx->mods[i], &gen) == CKR_OK)
				(void)p11ca_module_reinit(ctx->mods[i], gen);
		if ((rv = p11ca_ctx_refresh(ctx)) != CKR_OK)
			return rv;
		nmatch = match_tokens(ctx, uri, &found, cands, sizeof(cands));
	}
	if (nmatch == 0)
		return p11ca_err(P11CA_R_NOT_FOUND,
		                 "no token matches %s (is it plugged in and initialised?)%s",
		                 p11ca_uri_safe(uristr), p11ca_uri_comma_hint(uristr));
	if (nmatch > 1)
		return p11ca_err(P11CA_R_AMBIGUOUS,
		                 "%s matches %zu tokens: %s; add token= or serial=",
		                 p11ca_uri_safe(uristr), nmatch, cands);
	token_take_uri_pin(found, uri);
	*ptoken = found;
	return CKR_OK;
}

CK_RV p11ca_ctx_find_tokens(p11ca_ctx *ctx, P11KitUri *uri, const char *uristr,
                            p11ca_token ***ptokens, size_t *pcount)
{
	p11ca_token *found = NULL, **ts = NULL;
	char cands[2];
	size_t i, n = 0, m = 0;
	CK_RV rv;

	*ptokens = NULL;
	*pcount = 0;
	if ((rv = p11ca_ctx_refresh(ctx)) != CKR_OK)
		return rv;
	if (match_tokens(ctx, uri, &found, cands, sizeof(cands)) > 1) {
		pthread_mutex_lock(&ctx->lock);
		ts = calloc(ctx->ntokens ? ctx->ntokens : 1, sizeof(*ts));
		for (i = 0; ts != NULL && i < ctx->ntokens; i++)
			if (ctx->tokens[i]->present &&
			    (ctx->tokens[i]->info.flags & CKF_TOKEN_INITIALIZED))
				ts[n++] = ctx->tokens[i];
		pthread_mutex_unlock(&ctx->lock);
		if (ts == NULL)
			return p11ca_err(CKR_HOST_MEMORY, "out of memory");
		/* matching calls into the modules: not under the context's lock */
		for (i = 0; i < n; i++) {
			if (uri != NULL && !p11ca_uri_match_token(uri, ts[i]))
				continue;
			token_take_uri_pin(ts[i], uri);
			ts[m++] = ts[i];
		}
	}
	if (m == 0) {
		/* one or none (or gone meanwhile): as for one, which waits for
		 * a token whose files are being rewritten */
		free(ts);
		if ((rv = p11ca_ctx_find_token(ctx, uri, uristr, &found)) != CKR_OK)
			return rv;
		if ((ts = malloc(sizeof(*ts))) == NULL)
			return p11ca_err(CKR_HOST_MEMORY, "out of memory");
		ts[m++] = found;
	}
	*ptokens = ts;
	*pcount = m;
	return CKR_OK;
}

P11CA_EXPORT CK_RV p11ca_token_find(p11ca_ctx *ctx, const char *uristr, p11ca_token **ptoken)
{
	P11KitUri *uri = NULL;
	CK_RV rv;

	if (ptoken == NULL)
		return p11ca_err(CKR_ARGUMENTS_BAD, "p11ca_token_find: no output pointer");
	*ptoken = NULL;
	if (uristr != NULL && (rv = p11ca_ctx_uri_parse(ctx, uristr, &uri)) != CKR_OK)
		return rv;
	rv = p11ca_ctx_find_token(ctx, uri, uristr, ptoken);
	p11ca_uri_free(uri);
	return rv;
}
