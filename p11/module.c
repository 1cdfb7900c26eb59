/* module.c - initialising modules, again after fork() or an HSM restart. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static CK_RV module_initialize(struct p11ca_module *mod)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = mod->fl->C_Initialize(&args);
	/* Finalise only what we initialised: another user of the module in
	 * this process (libp11, a second context) must keep it. */
	mod->owned = rv == CKR_OK;
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		rv = CKR_OK; /* someone else in this process did, or a fork copy */
	return rv;
}

/* The contexts of this process that hold each module, by function list. */
struct module_users {
	CK_FUNCTION_LIST *fl;
	int users;
	struct module_users *next;
};
static pthread_mutex_t users_lock = PTHREAD_MUTEX_INITIALIZER;
static struct module_users *users_list;

int p11ca_module_users(CK_FUNCTION_LIST *fl, int delta)
{
	struct module_users *u, **pu;
	int n = 0;

	pthread_mutex_lock(&users_lock);
	for (pu = &users_list; (u = *pu) != NULL; pu = &u->next)
		if (u->fl == fl)
			break;
	if (u == NULL && delta > 0 && (u = calloc(1, sizeof(*u))) != NULL) {
		u->fl = fl;
		u->next = users_list;
		users_list = u;
		pu = &users_list;
	}
	if (u != NULL) {
		u->users += delta;
		n = u->users;
		if (n <= 0) {
			*pu = u->next;
			free(u);
			n = 0;
		}
	}
	pthread_mutex_unlock(&users_lock);
	return n;
}

/* Bumped in every child after fork(): cheaper than getpid() per operation. */
static unsigned fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
	__atomic_add_fetch(&fork_generation, 1, __ATOMIC_RELEASE);
}

static void install_atfork(void)
{
	(void)pthread_atfork(NULL, NULL, on_fork_child);
}

CK_RV p11ca_module_ensure(struct p11ca_module *mod, unsigned *pgen)
{
	pid_t pid;
	CK_RV rv = CKR_OK;

	/* fast path: initialised in this process, nothing forked since */
	if (__atomic_load_n(&mod->initialised, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&mod->fork_gen, __ATOMIC_ACQUIRE) ==
	        __atomic_load_n(&fork_generation, __ATOMIC_ACQUIRE)) {
		if (pgen != NULL)
			*pgen = __atomic_load_n(&mod->generation, __ATOMIC_ACQUIRE);
		return CKR_OK;
	}
	pthread_once(&atfork_once, install_atfork);
	pid = getpid();
	pthread_mutex_lock(&mod->lock);
	if (!mod->initialised || mod->pid != pid) {
		/* In a forked child the parent's sessions and logins are not
		 * ours: a new generation makes every pool forget them. */
		rv = module_initialize(mod);
		if (rv == CKR_OK) {
			mod->pid = pid;
			__atomic_add_fetch(&mod->generation, 1, __ATOMIC_RELEASE);
			__atomic_store_n(&mod->fork_gen,
			                 __atomic_load_n(&fork_generation, __ATOMIC_ACQUIRE),
			                 __ATOMIC_RELEASE);
			__atomic_store_n(&mod->initialised, 1, __ATOMIC_RELEASE);
		} else {
			p11ca_err(rv, "cannot initialise PKCS#11 module %s: %s", mod->name,
			          p11ca_rv_name(rv));
		}
	}
	if (pgen != NULL)
		*pgen = mod->generation;
	pthread_mutex_unlock(&mod->lock);
	return rv;
}

/*
 * The modules this thread is inside, and how deep: a nested entry must
 * not read-lock again, since the lock prefers writers and a second read
 * lock queued behind a waiting writer would never be granted.
 */
#define HELD_MAX 8
static __thread struct {
	struct p11ca_module *mod;
	unsigned depth;
} held[HELD_MAX];
static __thread unsigned nheld;

int p11ca_module_enter(struct p11ca_module *mod)
{
	unsigned i;

	for (i = 0; i < nheld; i++)
		if (held[i].mod == mod) {
			held[i].depth++;
			return 1;
		}
	if (nheld == HELD_MAX)
		return 0;
	/* inside another module already: only take this one if it is free
	 * now, never wait (two threads each waiting for the other's module
	 * behind a writer would wait for ever) */
	if (nheld > 0 ? pthread_rwlock_tryrdlock(&mod->calls) != 0
	              : pthread_rwlock_rdlock(&mod->calls) != 0)
		return 0;
	held[nheld].mod = mod;
	held[nheld].depth = 1;
	nheld++;
	return 1;
}

void p11ca_module_leave(struct p11ca_module *mod)
{
	unsigned i;

	for (i = 0; i < nheld; i++)
		if (held[i].mod == mod) {
			if (--held[i].depth == 0) {
				pthread_rwlock_unlock(&mod->calls);
				held[i] = held[--nheld];
			}
			return;
		}
}

CK_RV p11ca_module_reinit(struct p11ca_module *mod, unsigned seen_gen)
{
	CK_RV rv = CKR_OK;
	int finalise, was_owned;

	/* a thread inside a module would wait for itself */
	if (nheld > 0)
		return p11ca_err(CKR_FUNCTION_FAILED,
		                 "cannot re-initialise PKCS#11 module %s from inside a call",
		                 mod->name);
	/* wait until no other thread is inside the module */
	pthread_rwlock_wrlock(&mod->calls);
	pthread_mutex_lock(&mod->lock);
	if (mod->generation == seen_gen && mod->pid == getpid()) {
		/* The module lost its state (HSM restart): start over.  Only its
		 * initialiser finalises it (another user in the process may be
		 * inside it); C_Initialize then says whether it is up again. */
		finalise = mod->owned && p11ca_module_users(mod->fl, 0) <= 1;
		was_owned = mod->owned;
		if (finalise)
			(void)mod->fl->C_Finalize(NULL);
		rv = module_initialize(mod);
		/* not finalised: still ours to finalise at the end */
		if (!finalise && was_owned)
			mod->owned = 1;
		mod->pid = getpid();
		__atomic_add_fetch(&mod->generation, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&mod->initialised, rv == CKR_OK, __ATOMIC_RELEASE);
		if (rv != CKR_OK)
			p11ca_err(rv, "cannot re-initialise PKCS#11 module %s: %s", mod->name,
			          p11ca_rv_name(rv));
	}
	pthread_mutex_unlock(&mod->lock);
	pthread_rwlock_unlock(&mod->calls);
	return rv;
}
