/* pool.c - per-token session pool and the fault recovery policy. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

enum p11ca_fault p11ca_fault_of(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_OPERATION_ACTIVE: /* left over by someone: a fresh session cures it */
		return P11CA_FAULT_SESSION;
	case CKR_USER_NOT_LOGGED_IN: return P11CA_FAULT_LOGIN;
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT: return P11CA_FAULT_TOKEN;
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_DEVICE_ERROR: return P11CA_FAULT_MODULE;
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_KEY_HANDLE_INVALID: return P11CA_FAULT_OBJECT;
	default: return P11CA_FAULT_NONE;
	}
}

void p11ca_pool_reset_locked(p11ca_token *t)
{
	/* The handles belong to a previous module generation (fork, restart):
	 * closing them could hit another process's sessions, so forget them. */
	t->nidle = 0;
	t->nopen = 0;
	t->logged_in = 0;
	t->max_open = 0;
}

void p11ca_pool_close_all(p11ca_token *t)
{
	size_t i;
	/* inside the module before the token's lock (internal.h); when it
	 * is being re-initialised the idle sessions go with it */
	int in = p11ca_module_enter(t->mod);

	pthread_mutex_lock(&t->lock);
	if (in && t->mod->initialised && t->mod->pid == getpid() &&
	    t->generation == t->mod->generation) {
		for (i = 0; i < t->nidle; i++)
			(void)t->mod->fl->C_CloseSession(t->idle[i]);
		t->nopen -= t->nidle;
	}
	t->nidle = 0;
	t->logged_in = 0;
	/* lent sessions are dropped as they come back (their calls fail) */
	t->generation = (unsigned)-1;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	if (in)
		p11ca_module_leave(t->mod);
}

static CK_RV open_session(p11ca_token *t, CK_SESSION_HANDLE *ph)
{
	CK_RV rv;

	rv =
	    t->mod->fl->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, ph);
	if (rv == CKR_TOKEN_WRITE_PROTECTED)
		rv = t->mod->fl->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, ph);
	return rv;
}

CK_RV p11ca_pool_get(p11ca_token *t, int login, struct p11ca_session *ps)
{
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	unsigned gen;
	int need_login;
	CK_RV rv;

	if ((rv = p11ca_module_ensure(t->mod, &gen)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&t->lock);
	if (t->generation != gen) {
		/* new module generation, or the pool was emptied */
		p11ca_pool_reset_locked(t);
		t->generation = gen;
	}
	for (;;) {
		if (t->nidle > 0) {
			h = t->idle[--t->nidle];
			break;
		}
		if (t->max_open > 0 && t->nopen >= t->max_open) {
			/* the token has no more sessions: wait for one to come back */
			pthread_cond_wait(&t->cond, &t->lock);
			continue;
		}
		t->nopen++;
		pthread_mutex_unlock(&t->lock);
		rv = open_session(t, &h);
		pthread_mutex_lock(&t->lock);
		if (rv == CKR_OK)
			break;
		t->nopen--;
		if (rv == CKR_SESSION_COUNT && t->nopen > 0) {
			t->max_open = t->nopen;
			continue;
		}
		pthread_mutex_unlock(&t->lock);
		if (rv == CKR_SESSION_COUNT)
			return p11ca_err(
			    rv,
			    "token '%s' refuses to open a session (CKR_SESSION_COUNT): "
			    "other applications hold all its sessions",
			    t->info.label);
		return p11ca_err(rv, "cannot open a session on token '%s': %s", t->info.label,
		                 p11ca_rv_text(rv));
	}
	ps->h = h;
	ps->generation = t->generation;
	need_login = login && !t->logged_in;
	pthread_mutex_unlock(&t->lock);

	if (need_login && (rv = p11ca_token_login_session(t, h)) != CKR_OK) {
		p11ca_pool_put(t, ps, rv);
		return rv;
	}
	return CKR_OK;
}

void p11ca_pool_put(p11ca_token *t, struct p11ca_session *s, CK_RV rv)
{
	enum p11ca_fault fault = p11ca_fault_of(rv);
	int close_it = 0;

	pthread_mutex_lock(&t->lock);
	if (s->generation != t->generation) {
		/* from before a reset: not kept; closed when the module that
		 * opened it is still the same (token removal), forgotten after
		 * fork or restart, where it is no longer ours */
		close_it = t->mod->pid == getpid() && s->generation == t->mod->generation;
	} else if (fault == P11CA_FAULT_SESSION || fault == P11CA_FAULT_TOKEN ||
	           fault == P11CA_FAULT_MODULE || rv == CKR_BUFFER_TOO_SMALL) {
		/* after CKR_BUFFER_TOO_SMALL the operation stays active on the
		 * session (PKCS#11 5.2): it must not be lent again */
		t->nopen--;
		close_it = fault == P11CA_FAULT_SESSION || rv == CKR_BUFFER_TOO_SMALL;
		/* closing the last session logs the user out (PKCS#11, C_CloseSession) */
		if (t->nopen == 0)
			t->logged_in = 0;
	} else {
		if (t->nidle == t->idle_cap) {
			size_t cap = t->idle_cap ? t->idle_cap * 2 : 8;
			CK_SESSION_HANDLE *n = realloc(t->idle, cap * sizeof(*n));
			if (n == NULL) {
				t->nopen--;
				close_it = 1;
				goto out;
			}
			t->idle = n;
			t->idle_cap = cap;
		}
		t->idle[t->nidle++] = s->h;
	}
out:
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	if (close_it)
		(void)t->mod->fl->C_CloseSession(s->h);
	s->h = CK_INVALID_HANDLE;
}

/* Repairs what @fault broke; returns CKR_OK when a retry makes sense. */
static CK_RV recover(p11ca_token *t, enum p11ca_fault fault, unsigned gen, int *refind)
{
	CK_RV rv = CKR_OK;

	switch (fault) {
	case P11CA_FAULT_SESSION:
		p11ca_log(t->ctx, "token '%s': session lost, reopening", t->info.label);
		break;
	case P11CA_FAULT_LOGIN:
		p11ca_log(t->ctx, "token '%s': logged out, logging in again", t->info.label);
		pthread_mutex_lock(&t->lock);
		t->logged_in = 0;
		pthread_mutex_unlock(&t->lock);
		break;
	case P11CA_FAULT_TOKEN:
		p11ca_log(t->ctx, "token '%s': removed, looking for it again", t->info.label);
		p11ca_pool_close_all(t);
		rv = p11ca_token_update_info(t);
		*refind = 1;
		break;
	case P11CA_FAULT_MODULE:
		p11ca_log(t->ctx, "module %s: device error, re-initialising", t->mod->name);
		if ((rv = p11ca_module_reinit(t->mod, gen)) == CKR_OK)
			rv = p11ca_token_update_info(t);
		*refind = 1;
		break;
	case P11CA_FAULT_OBJECT:
		p11ca_log(t->ctx, "token '%s': key handle went stale, finding it again",
		          t->info.label);
		*refind = 1;
		break;
	case P11CA_FAULT_NONE: break;
	}
	return rv;
}

CK_RV p11ca_token_run(p11ca_token *t, p11ca_key *key, int login, p11ca_op_fn fn, void *data)
{
	unsigned done = 0; /* recoveries already tried, one bit per kind */
	int refind = 0, lost_login = 0;
	CK_RV rv;

	for (;;) {
		struct p11ca_session s = { CK_INVALID_HANDLE, 0 };
		enum p11ca_fault fault;
		unsigned gen;

		p11ca_err_clear();
		if (!p11ca_module_enter(t->mod))
			return p11ca_err(CKR_FUNCTION_FAILED,
			                 "module %s is being re-initialised; try again",
			                 t->mod->name);
		rv = p11ca_pool_get(t, login, &s);
		gen = s.generation;
		if (rv == CKR_OK) {
			if (key != NULL) {
				int stale = __atomic_load_n(&key->handle_generation,
				                            __ATOMIC_ACQUIRE) != s.generation;
				/* after a module restart handles are worth nothing */
				if (refind || stale)
					rv = p11ca_key_refind(key, s.h, s.generation);
				/* a private key is invisible when the login was lost
				 * (another thread closed the last session): log in
				 * again before calling it gone */
				lost_login = rv == P11CA_R_NOT_FOUND;
			}
			if (rv == CKR_OK)
				rv = fn(t, s.h, key, data);
			p11ca_pool_put(t, &s, rv);
		} else {
			pthread_mutex_lock(&t->mod->lock);
			gen = t->mod->generation;
			pthread_mutex_unlock(&t->mod->lock);
		}
		p11ca_module_leave(t->mod);
		fault = lost_login ? P11CA_FAULT_LOGIN : p11ca_fault_of(rv);
		lost_login = 0;
		if (fault == P11CA_FAULT_NONE || (fault == P11CA_FAULT_OBJECT && key == NULL))
			break;
		if (done & (1u << fault))
			break; /* this repair was tried once already */
		done |= 1u << fault;
		/* after a logout the module may have dropped private key handles */
		refind = fault == P11CA_FAULT_LOGIN;
		if ((rv = recover(t, fault, gen, &refind)) != CKR_OK)
			return rv; /* recover() said why */
	}
	if (rv != CKR_OK && p11ca_error_message()[0] == '\0')
		p11ca_err(rv, "token '%s': %s", t->info.label, p11ca_rv_text(rv));
	return rv;
}
