/* token.c - token objects, their info, login and PIN administration. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "internal.h"

static void copy_padded(char *dst, size_t cap, const CK_UTF8CHAR *src, size_t len)
{
	while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\0'))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void p11ca_token_fill_info(struct p11ca_token_info *info, const CK_TOKEN_INFO *ti)
{
	copy_padded(info->label, sizeof(info->label), ti->label, sizeof(ti->label));
	copy_padded(info->manufacturer, sizeof(info->manufacturer), ti->manufacturerID,
	            sizeof(ti->manufacturerID));
	copy_padded(info->model, sizeof(info->model), ti->model, sizeof(ti->model));
	copy_padded(info->serial, sizeof(info->serial), ti->serialNumber, sizeof(ti->serialNumber));
	info->flags = ti->flags;
}

CK_RV p11ca_token_new(p11ca_ctx *ctx, struct p11ca_module *mod, CK_SLOT_ID slot,
                      const CK_TOKEN_INFO *ti, p11ca_token **ptoken)
{
	p11ca_token *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return p11ca_err(CKR_HOST_MEMORY, "out of memory");
	t->ctx = ctx;
	t->mod = mod;
	t->slot = slot;
	t->present = 1;
	p11ca_token_fill_info(&t->info, ti);
	t->info.slot_id = slot;
	t->info.module_name = mod->name;
	t->info.module_path = mod->path;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	*ptoken = t;
	return CKR_OK;
}

void p11ca_token_free(p11ca_token *t)
{
	if (t == NULL)
		return;
	p11ca_pool_close_all(t);
	free(t->idle);
	free(t->mechs);
	if (t->uri_pin_value != NULL)
		OPENSSL_clear_free(t->uri_pin_value, strlen(t->uri_pin_value));
	free(t->uri_pin_source);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

CK_RV p11ca_token_update_info(p11ca_token *t)
{
	CK_TOKEN_INFO ti;
	CK_RV rv = CKR_FUNCTION_FAILED;

	if (p11ca_module_enter(t->mod)) {
		rv = t->mod->fl->C_GetTokenInfo(t->slot, &ti);
		p11ca_module_leave(t->mod);
	}
	if (rv == CKR_SLOT_ID_INVALID || rv == CKR_TOKEN_NOT_PRESENT ||
	    rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_DEVICE_REMOVED) {
		/* the slot may have moved (module re-initialised): look again */
		char serial[17], label[33];
		snprintf(serial, sizeof(serial), "%s", t->info.serial);
		snprintf(label, sizeof(label), "%s", t->info.label);
		if (p11ca_ctx_refresh(t->ctx) == CKR_OK && t->present &&
		    p11ca_module_enter(t->mod)) {
			rv = t->mod->fl->C_GetTokenInfo(t->slot, &ti);
			p11ca_module_leave(t->mod);
		}
		if (rv != CKR_OK || !t->present)
			return p11ca_err(rv != CKR_OK ? rv : CKR_TOKEN_NOT_PRESENT,
			                 "token '%s' (serial %s) is not present", label, serial);
	}
	if (rv != CKR_OK)
		return p11ca_err(rv, "C_GetTokenInfo on '%s' failed: %s", t->info.label,
		                 p11ca_rv_text(rv));
	pthread_mutex_lock(&t->lock);
	t->info.flags = ti.flags;
	pthread_mutex_unlock(&t->lock);
	return CKR_OK;
}

P11CA_EXPORT const struct p11ca_token_info *p11ca_token_get_info(p11ca_token *t)
{
	unsigned gen;

	if (p11ca_module_ensure(t->mod, &gen) == CKR_OK)
		(void)p11ca_token_update_info(t);
	return &t->info;
}

P11CA_EXPORT char *p11ca_token_uri(p11ca_token *t)
{
	return p11ca_uri_for_object(t, (CK_OBJECT_CLASS)-1, NULL, NULL, 0);
}

P11CA_EXPORT int p11ca_token_has_mechanism(p11ca_token *t, CK_MECHANISM_TYPE mech)
{
	CK_ULONG i, n = 0;
	int found = 0;

	/* inside the module before the token's lock (internal.h) */
	if (!p11ca_module_enter(t->mod))
		return 0;
	pthread_mutex_lock(&t->lock);
	if (!t->mechs_loaded) {
		if (p11ca_module_ensure(t->mod, NULL) == CKR_OK &&
		    t->mod->fl->C_GetMechanismList(t->slot, NULL, &n) == CKR_OK && n > 0) {
			t->mechs = calloc(n, sizeof(*t->mechs));
			if (t->mechs != NULL &&
			    t->mod->fl->C_GetMechanismList(t->slot, t->mechs, &n) == CKR_OK) {
				t->nmechs = n;
				t->mechs_loaded = 1;
			}
		}
	}
	for (i = 0; i < t->nmechs; i++)
		if (t->mechs[i] == mech)
			found = 1;
	pthread_mutex_unlock(&t->lock);
	p11ca_module_leave(t->mod);
	return found;
}

/*
 * Logs in on session @s.  Called with t->lock NOT held.  Checks the token's
 * PIN flags first so that a locked or final-try PIN is reported, not hammered.
 */
#define LOGIN_RETRIES 3
static CK_RV login_session(p11ca_token *t, CK_SESSION_HANDLE s)
{
	char pin[P11CA_PIN_MAX];
	size_t pinlen = 0;
	int attempt;
	CK_RV rv;

	if ((rv = p11ca_token_update_info(t)) != CKR_OK)
		return rv;
	if (!(t->info.flags & CKF_LOGIN_REQUIRED))
		return CKR_OK;
	if (t->info.flags & CKF_USER_PIN_LOCKED)
		return p11ca_err(P11CA_R_PIN_LOCKED,
		                 "the user PIN of token '%s' is locked; unblock it with the SO PIN",
		                 t->info.label);
	if (t->pin_failed)
		return p11ca_err(P11CA_R_PIN_FAILED,
		                 "the PIN for token '%s' was refused before; not trying it again",
		                 t->info.label);
	if (t->info.flags & CKF_USER_PIN_FINAL_TRY)
		p11ca_log(t->ctx, "warning: token '%s' is at its final PIN try", t->info.label);
	else if (t->info.flags & CKF_USER_PIN_COUNT_LOW)
		p11ca_log(t->ctx, "warning: token '%s' has had wrong PINs recently", t->info.label);

	if ((rv = p11ca_pin_fetch(t, pin, &pinlen)) != CKR_OK)
		goto out;
	/* a module built on OpenSSL (SoftHSM2) may leave errors of its own on
	 * the queue, e.g. a failed unwrap for a wrong PIN: not ours to show */
	ERR_set_mark();
	rv = t->mod->fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, pinlen);
	/* SoftHSM2 fails a login with a general error, or "PIN not
	 * initialised", while another process rewrites the token's files;
	 * that is not a PIN try: try again */
	for (attempt = 1; (rv == CKR_GENERAL_ERROR || rv == CKR_USER_PIN_NOT_INITIALIZED) &&
	                  attempt <= LOGIN_RETRIES;
	     attempt++) {
		usleep(20000 * (useconds_t)attempt);
		rv = t->mod->fl->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, pinlen);
	}
	ERR_pop_to_mark();
	p11ca_wipe(pin, sizeof(pin));
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) {
		t->pin_failed = 1;
		rv = p11ca_err(rv, "login to token '%s' failed: %s", t->info.label,
		               rv == CKR_PIN_INCORRECT ? "wrong PIN (CKR_PIN_INCORRECT)"
		                                       : p11ca_rv_text(rv));
	} else if (rv == CKR_PIN_LOCKED) {
		rv = p11ca_err(P11CA_R_PIN_LOCKED, "the user PIN of token '%s' is locked",
		               t->info.label);
	} else if (rv != CKR_OK) {
		rv = p11ca_err(rv, "login to token '%s' failed: %s", t->info.label,
		               p11ca_rv_text(rv));
	}
out:
	p11ca_wipe(pin, sizeof(pin));
	return rv;
}

/* Serialises logins: one thread logs in, the others wait for its outcome. */
CK_RV p11ca_token_login_session(p11ca_token *t, CK_SESSION_HANDLE s)
{
	CK_RV rv;

	pthread_mutex_lock(&t->lock);
	while (t->login_in_progress)
		pthread_cond_wait(&t->cond, &t->lock);
	if (t->logged_in) {
		pthread_mutex_unlock(&t->lock);
		return CKR_OK;
	}
	t->login_in_progress = 1;
	pthread_mutex_unlock(&t->lock);

	rv = login_session(t, s);

	pthread_mutex_lock(&t->lock);
	t->login_in_progress = 0;
	if (rv == CKR_OK)
		t->logged_in = 1;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return rv;
}

P11CA_EXPORT CK_RV p11ca_token_login(p11ca_token *t)
{
	struct p11ca_session s;
	CK_RV rv;

	if (!p11ca_module_enter(t->mod))
		return p11ca_err(CKR_FUNCTION_FAILED, "module %s is being re-initialised",
		                 t->mod->name);
	if ((rv = p11ca_pool_get(t, 1, &s)) == CKR_OK)
		p11ca_pool_put(t, &s, CKR_OK);
	p11ca_module_leave(t->mod);
	return rv;
}

static void pad_label(CK_UTF8CHAR out[32], const char *label)
{
	size_t len = strlen(label);

	memset(out, ' ', 32);
	memcpy(out, label, len > 32 ? 32 : len);
}

P11CA_EXPORT CK_RV p11ca_token_init(p11ca_ctx *ctx, CK_SLOT_ID slot_id, const char *so_pin,
                                    const char *label, const char *user_pin)
{
	struct p11ca_module *mod;
	CK_UTF8CHAR plabel[32];
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_RV rv;

	if (ctx->nmods == 0)
		return p11ca_err(P11CA_R_MODULE, "no PKCS#11 module loaded");
	if (so_pin == NULL || user_pin == NULL || label == NULL || strlen(label) > 32)
		return p11ca_err(
		    CKR_ARGUMENTS_BAD,
		    "token init needs a label (at most 32 bytes), an SO PIN and a user PIN");
	mod = ctx->mods[0];
	if ((rv = p11ca_module_ensure(mod, NULL)) != CKR_OK)
		return rv;
	pad_label(plabel, label);
	rv = mod->fl->C_InitToken(slot_id, (CK_UTF8CHAR *)so_pin, strlen(so_pin), plabel);
	if (rv != CKR_OK)
		return p11ca_err(rv, "C_InitToken on slot %lu failed: %s", (unsigned long)slot_id,
		                 p11ca_rv_text(rv));
	/* Some modules (SoftHSM2) move a freshly initialised token to a new
	 * slot: find it again by label. */
	if ((rv = mod->fl->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK || n == 0)
		goto out;
	if ((slots = calloc(n, sizeof(*slots))) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	if ((rv = mod->fl->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK)
		goto out;
	rv = P11CA_R_NOT_FOUND;
	for (i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (mod->fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    memcmp(ti.label, plabel, 32) == 0 && !(ti.flags & CKF_USER_PIN_INITIALIZED)) {
			slot_id = slots[i];
			rv = CKR_OK;
			break;
		}
	}
	if (rv != CKR_OK)
		goto out;
	if ((rv = mod->fl->C_OpenSession(slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
	                                 &s)) != CKR_OK)
		goto out;
	if ((rv = mod->fl->C_Login(s, CKU_SO, (CK_UTF8CHAR *)so_pin, strlen(so_pin))) != CKR_OK)
		goto out;
	rv = mod->fl->C_InitPIN(s, (CK_UTF8CHAR *)user_pin, strlen(user_pin));
	(void)mod->fl->C_Logout(s);
out:
	if (s != CK_INVALID_HANDLE)
		(void)mod->fl->C_CloseSession(s);
	free(slots);
	if (rv != CKR_OK)
		return p11ca_err(rv, "initialising token '%s' failed: %s", label,
		                 p11ca_rv_text(rv));
	(void)p11ca_ctx_refresh(ctx);
	return CKR_OK;
}

P11CA_EXPORT CK_RV p11ca_token_change_pin(p11ca_token *t, const char *old_pin, const char *new_pin)
{
	struct p11ca_session s;
	CK_RV rv;

	if (old_pin == NULL || new_pin == NULL)
		return p11ca_err(CKR_ARGUMENTS_BAD, "changing a PIN needs the old and the new PIN");
	if (!p11ca_module_enter(t->mod))
		return p11ca_err(CKR_FUNCTION_FAILED, "module %s is being re-initialised",
		                 t->mod->name);
	if ((rv = p11ca_pool_get(t, 0, &s)) != CKR_OK) {
		p11ca_module_leave(t->mod);
		return rv;
	}
	rv = t->mod->fl->C_SetPIN(s.h, (CK_UTF8CHAR *)old_pin, strlen(old_pin),
	                          (CK_UTF8CHAR *)new_pin, strlen(new_pin));
	p11ca_pool_put(t, &s, rv);
	p11ca_module_leave(t->mod);
	if (rv != CKR_OK)
		return p11ca_err(rv, "changing the PIN of token '%s' failed: %s", t->info.label,
		                 p11ca_rv_text(rv));
	return CKR_OK;
}
