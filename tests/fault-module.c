/*
 * fault-module.c - a PKCS#11 module for the recovery tests: forwards every
 * call to SoftHSM2 and, on request, fails chosen functions with chosen
 * CK_RVs, optionally making the fault real (see fault-module.h).
 */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fault-module.h"

#define DEFAULT_SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

#define FAULT_FUNCS(X)                                                                             \
	X(C_Initialize)                                                                            \
	X(C_Finalize)                                                                              \
	X(C_GetInfo)                                                                               \
	X(C_GetSlotList)                                                                           \
	X(C_GetTokenInfo)                                                                          \
	X(C_GetMechanismList)                                                                      \
	X(C_OpenSession)                                                                           \
	X(C_CloseSession)                                                                          \
	X(C_CloseAllSessions)                                                                      \
	X(C_GetSessionInfo)                                                                        \
	X(C_Login)                                                                                 \
	X(C_Logout)                                                                                \
	X(C_FindObjectsInit)                                                                       \
	X(C_FindObjects)                                                                           \
	X(C_FindObjectsFinal)                                                                      \
	X(C_GetAttributeValue)                                                                     \
	X(C_GenerateKeyPair)                                                                       \
	X(C_SignInit)                                                                              \
	X(C_Sign)                                                                                  \
	X(C_SignUpdate)                                                                            \
	X(C_SignFinal)                                                                             \
	X(C_DecryptInit)                                                                           \
	X(C_Decrypt)                                                                               \
	X(C_CreateObject)                                                                          \
	X(C_DestroyObject)                                                                         \
	X(C_SetPIN)                                                                                \
	X(C_InitToken)                                                                             \
	X(C_GetMechanismInfo)                                                                      \
	X(C_DeriveKey)                                                                             \
	X(C_GenerateRandom)

#define AS_ENUM(n) F_##n,
#define AS_NAME(n) #n,
enum { FAULT_FUNCS(AS_ENUM) F_COUNT };
static const char *const fn_names[F_COUNT] = { FAULT_FUNCS(AS_NAME) };

struct fault {
	CK_RV rv;
	int count; /* calls left to fail; -1 forever */
	unsigned flags;
	unsigned calls;
};

/* What inject() decided for one call. */
struct hit {
	CK_RV rv;
	unsigned flags;
};

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault faults[F_COUNT];
static CK_FLAGS extra_token_flags;
/* a mechanism the token does not have (0: none), the last one C_SignInit got */
static CK_MECHANISM_TYPE hidden_mech, last_sign_mech;
/*
 * Calls into SoftHSM2 hold this for reading; making a fault real (closing
 * every session of a "removed" token, an "HSM restart") holds it for
 * writing: a device loses its sessions between two calls, never in the
 * middle of one (SoftHSM2 crashes when a session is closed while another
 * thread is inside a call on it).
 */
static pthread_rwlock_t device_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
#define REAL(fn, ...)                                                                              \
	({                                                                                         \
		CK_RV real_rv_;                                                                    \
		pthread_rwlock_rdlock(&device_lock);                                               \
		real_rv_ = real->fn(__VA_ARGS__);                                                  \
		pthread_rwlock_unlock(&device_lock);                                               \
		real_rv_;                                                                          \
	})

/* the "unplug" switch: while this file exists the token is not present ("": none) */
static char unplug_file[4096];

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static void *real_handle;
static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST mine;

static int fn_index(const char *fn)
{
	int i;

	for (i = 0; i < F_COUNT; i++)
		if (fn != NULL && strcmp(fn, fn_names[i]) == 0)
			return i;
	fprintf(stderr, "fault-module: %s is not a wrapped function\n", fn ? fn : "(null)");
	abort();
}

/* Whether the token is unplugged now: the switch file exists (one stat()). */
static int unplugged_locked(void)
{
	struct stat st;

	return unplug_file[0] != '\0' && stat(unplug_file, &st) == 0;
}

/* The functions that meet an unplugged token (the others go on as before). */
static int meets_unplug(int idx)
{
	return idx == F_C_OpenSession || idx == F_C_Login || idx == F_C_SignInit ||
	       idx == F_C_Sign || idx == F_C_FindObjectsInit || idx == F_C_GetTokenInfo ||
	       idx == F_C_GenerateRandom;
}

/* P11CA_FAULTS_CALLS_FILE: every wrapped call appends its name here ("": none),
 * so that a test can count the calls of another process (openssl) */
static char calls_file[4096];

static void log_call(int idx)
{
	FILE *f;

	if (calls_file[0] == '\0' || (f = fopen(calls_file, "a")) == NULL)
		return;
	fprintf(f, "%s\n", fn_names[idx]);
	fclose(f);
}

/* Counts a call of @idx; 1 (with @h filled in) when it is to fail. */
static int inject(int idx, struct hit *h)
{
	int yes = 0;

	pthread_mutex_lock(&fault_lock);
	faults[idx].calls++;
	log_call(idx);
	if (meets_unplug(idx) && unplugged_locked()) {
		/* as a removed device: the slot's sessions are closed too */
		h->rv = CKR_TOKEN_NOT_PRESENT;
		h->flags = FAULT_REAL;
		yes = 1;
	} else if (faults[idx].count != 0) {
		h->rv = faults[idx].rv;
		h->flags = faults[idx].flags;
		if (faults[idx].count > 0)
			faults[idx].count--;
		yes = 1;
	}
	pthread_mutex_unlock(&fault_lock);
	return yes;
}

/*
 * FAULT_REAL: does to SoftHSM2 what the fault claims happened.  @has_session
 * says @s is a session the call was about, @has_slot likewise for @slot.
 */
static void make_real(const struct hit *h, CK_SESSION_HANDLE s, int has_session, CK_SLOT_ID slot,
                      int has_slot)
{
	CK_SESSION_INFO si;

	if (!(h->flags & FAULT_REAL))
		return;
	pthread_rwlock_wrlock(&device_lock);
	switch (h->rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
		if (has_session)
			(void)real->C_CloseSession(s);
		break;
	case CKR_USER_NOT_LOGGED_IN:
		if (has_session)
			(void)real->C_Logout(s);
		break;
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
		if (has_session && real->C_GetSessionInfo(s, &si) == CKR_OK) {
			slot = si.slotID;
			has_slot = 1;
		}
		if (has_slot)
			(void)real->C_CloseAllSessions(slot);
		break;
	case CKR_DEVICE_ERROR:
	case CKR_CRYPTOKI_NOT_INITIALIZED: (void)real->C_Finalize(NULL); break;
	default: break;
	}
	pthread_rwlock_unlock(&device_lock);
}

/* ---- the wrappers ---- */

static CK_RV w_C_Initialize(CK_VOID_PTR args)
{
	struct hit h;

	if (inject(F_C_Initialize, &h))
		return h.rv;
	return real->C_Initialize(args);
}

static CK_RV w_C_Finalize(CK_VOID_PTR reserved)
{
	struct hit h;

	if (inject(F_C_Finalize, &h))
		return h.rv;
	/* not serialised: keeping threads out of a module being finalised
	 * is the library's job, and what the tests check */
	return real->C_Finalize(reserved);
}

static CK_RV w_C_GetInfo(CK_INFO_PTR info)
{
	struct hit h;

	if (inject(F_C_GetInfo, &h)) {
		make_real(&h, 0, 0, 0, 0);
		return h.rv;
	}
	return REAL(C_GetInfo, info);
}

static CK_RV w_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR pcount)
{
	struct hit h;

	if (inject(F_C_GetSlotList, &h)) {
		make_real(&h, 0, 0, 0, 0);
		return h.rv;
	}
	return REAL(C_GetSlotList, present, list, pcount);
}

static CK_RV w_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_FLAGS extra;
	struct hit h;
	CK_RV rv;

	if (inject(F_C_GetTokenInfo, &h)) {
		make_real(&h, 0, 0, slot, 1);
		return h.rv;
	}
	rv = REAL(C_GetTokenInfo, slot, info);
	pthread_mutex_lock(&fault_lock);
	extra = extra_token_flags;
	pthread_mutex_unlock(&fault_lock);
	if (rv == CKR_OK && info != NULL)
		info->flags |= extra;
	return rv;
}

static CK_MECHANISM_TYPE hidden(void)
{
	CK_MECHANISM_TYPE m;

	pthread_mutex_lock(&fault_lock);
	m = hidden_mech;
	pthread_mutex_unlock(&fault_lock);
	return m;
}

/* SoftHSM2's list without the hidden mechanism (asked for the whole list first). */
static CK_RV w_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR pcount)
{
	CK_MECHANISM_TYPE all[512], m = hidden();
	CK_ULONG n = sizeof(all) / sizeof(all[0]), i, k = 0;
	struct hit h;
	CK_RV rv;

	if (inject(F_C_GetMechanismList, &h)) {
		make_real(&h, 0, 0, slot, 1);
		return h.rv;
	}
	if (m == 0)
		return REAL(C_GetMechanismList, slot, list, pcount);
	if (pcount == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((rv = REAL(C_GetMechanismList, slot, all, &n)) != CKR_OK)
		return rv;
	for (i = 0; i < n; i++)
		if (all[i] != m) {
			if (list != NULL && k < *pcount)
				list[k] = all[i];
			k++;
		}
	rv = list != NULL && k > *pcount ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	*pcount = k;
	return rv;
}

static CK_RV w_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                  CK_MECHANISM_INFO_PTR info)
{
	struct hit h;

	if (inject(F_C_GetMechanismInfo, &h)) {
		make_real(&h, 0, 0, slot, 1);
		return h.rv;
	}
	if (type == hidden())
		return CKR_MECHANISM_INVALID;
	return REAL(C_GetMechanismInfo, slot, type, info);
}

static CK_RV w_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                             CK_SESSION_HANDLE_PTR ps)
{
	struct hit h;

	if (inject(F_C_OpenSession, &h)) {
		make_real(&h, 0, 0, slot, 1);
		return h.rv;
	}
	return REAL(C_OpenSession, slot, flags, app, notify, ps);
}

static CK_RV w_C_CloseSession(CK_SESSION_HANDLE s)
{
	struct hit h;

	if (inject(F_C_CloseSession, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_CloseSession, s);
}

static CK_RV w_C_CloseAllSessions(CK_SLOT_ID slot)
{
	struct hit h;

	if (inject(F_C_CloseAllSessions, &h)) {
		make_real(&h, 0, 0, slot, 1);
		return h.rv;
	}
	return REAL(C_CloseAllSessions, slot);
}

static CK_RV w_C_GetSessionInfo(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info)
{
	struct hit h;

	if (inject(F_C_GetSessionInfo, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_GetSessionInfo, s, info);
}

static CK_RV w_C_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pinlen)
{
	struct hit h;

	if (inject(F_C_Login, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_Login, s, user, pin, pinlen);
}

static CK_RV w_C_Logout(CK_SESSION_HANDLE s)
{
	struct hit h;

	if (inject(F_C_Logout, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_Logout, s);
}

static CK_RV w_C_FindObjectsInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	struct hit h;

	if (inject(F_C_FindObjectsInit, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_FindObjectsInit, s, tmpl, n);
}

static CK_RV w_C_FindObjects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR hs, CK_ULONG max,
                             CK_ULONG_PTR pcount)
{
	struct hit h;

	if (inject(F_C_FindObjects, &h)) {
		/* an injected CKR_OK finds nothing */
		if (h.rv == CKR_OK && pcount != NULL)
			*pcount = 0;
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_FindObjects, s, hs, max, pcount);
}

static CK_RV w_C_FindObjectsFinal(CK_SESSION_HANDLE s)
{
	struct hit h;

	if (inject(F_C_FindObjectsFinal, &h)) {
		(void)REAL(C_FindObjectsFinal, s);
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_FindObjectsFinal, s);
}

static CK_RV w_C_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR tmpl,
                                   CK_ULONG n)
{
	struct hit h;

	if (inject(F_C_GetAttributeValue, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_GetAttributeValue, s, o, tmpl, n);
}

static CK_RV w_C_GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub,
                                 CK_ULONG npub, CK_ATTRIBUTE_PTR priv, CK_ULONG npriv,
                                 CK_OBJECT_HANDLE_PTR hpub, CK_OBJECT_HANDLE_PTR hpriv)
{
	struct hit h;

	if (inject(F_C_GenerateKeyPair, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_GenerateKeyPair, s, mech, pub, npub, priv, npriv, hpub, hpriv);
}

static CK_RV w_C_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct hit h;

	if (inject(F_C_SignInit, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	if (mech != NULL) {
		pthread_mutex_lock(&fault_lock);
		last_sign_mech = mech->mechanism;
		pthread_mutex_unlock(&fault_lock);
		if (mech->mechanism == hidden())
			return CKR_MECHANISM_INVALID;
	}
	return REAL(C_SignInit, s, mech, key);
}

static CK_RV w_C_SignUpdate(CK_SESSION_HANDLE s, CK_BYTE_PTR part, CK_ULONG len)
{
	unsigned char scratch[2048];
	CK_ULONG slen = sizeof(scratch);
	struct hit h;

	if (inject(F_C_SignUpdate, &h)) {
		/* a failing C_SignUpdate ends the operation */
		(void)REAL(C_SignFinal, s, scratch, &slen);
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_SignUpdate, s, part, len);
}

static CK_RV w_C_SignFinal(CK_SESSION_HANDLE s, CK_BYTE_PTR sig, CK_ULONG_PTR psiglen)
{
	unsigned char scratch[2048];
	CK_ULONG slen = sizeof(scratch);
	struct hit h;

	if (inject(F_C_SignFinal, &h)) {
		(void)REAL(C_SignFinal, s, scratch, &slen);
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_SignFinal, s, sig, psiglen);
}

static CK_RV w_C_CreateObject(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                              CK_OBJECT_HANDLE_PTR ph)
{
	struct hit h;

	if (inject(F_C_CreateObject, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_CreateObject, s, tmpl, n, ph);
}

static CK_RV w_C_DestroyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	struct hit h;

	if (inject(F_C_DestroyObject, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_DestroyObject, s, o);
}

static CK_RV w_C_DeriveKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base,
                           CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR ph)
{
	struct hit h;

	if (inject(F_C_DeriveKey, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_DeriveKey, s, mech, base, tmpl, n, ph);
}

static CK_RV w_C_SetPIN(CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR old, CK_ULONG oldlen,
                        CK_UTF8CHAR_PTR new_pin, CK_ULONG newlen)
{
	struct hit h;

	if (inject(F_C_SetPIN, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_SetPIN, s, old, oldlen, new_pin, newlen);
}

static CK_RV w_C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR so_pin, CK_ULONG len,
                           CK_UTF8CHAR_PTR label)
{
	struct hit h;

	if (inject(F_C_InitToken, &h)) {
		make_real(&h, 0, 0, slot, 1);
		return h.rv;
	}
	return REAL(C_InitToken, slot, so_pin, len, label);
}

/* A failing C_Sign/C_Decrypt ends the operation: do that in SoftHSM2. */
static void end_operation(int decrypt, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inlen)
{
	unsigned char scratch[2048];
	CK_ULONG len = sizeof(scratch);

	if (decrypt)
		(void)REAL(C_Decrypt, s, in, inlen, scratch, &len);
	else
		(void)REAL(C_Sign, s, in, inlen, scratch, &len);
	memset(scratch, 0, sizeof(scratch));
}

static CK_RV w_C_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                      CK_ULONG_PTR psiglen)
{
	struct hit h;

	if (inject(F_C_Sign, &h)) {
		end_operation(0, s, data, len);
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_Sign, s, data, len, sig, psiglen);
}

static CK_RV w_C_DecryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct hit h;

	if (inject(F_C_DecryptInit, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_DecryptInit, s, mech, key);
}

static CK_RV w_C_Decrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                         CK_ULONG_PTR poutlen)
{
	struct hit h;

	if (inject(F_C_Decrypt, &h)) {
		end_operation(1, s, in, inlen);
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_Decrypt, s, in, inlen, out, poutlen);
}

static CK_RV w_C_GenerateRandom(CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG len)
{
	struct hit h;

	if (inject(F_C_GenerateRandom, &h)) {
		make_real(&h, s, 1, 0, 0);
		return h.rv;
	}
	return REAL(C_GenerateRandom, s, out, len);
}

/* ---- loading SoftHSM2 ---- */

/*
 * $P11CA_FAULTS, for a process the test does not control (the p11ca
 * command): "FN:RV:COUNT[,...]" (RV in hex or decimal, COUNT -1 forever),
 * and "hide:MECHANISM" for fault_hide_mechanism().  A malformed entry
 * aborts: a typo must not pass.
 */
static void faults_from_env(void)
{
	const char *env = getenv("P11CA_FAULTS");
	char buf[512], *save = NULL, *item, *rv, *count, *end;
	int i;

	if (env == NULL || *env == '\0')
		return;
	snprintf(buf, sizeof(buf), "%s", env);
	for (item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		if ((rv = strchr(item, ':')) == NULL)
			goto bad;
		*rv++ = '\0';
		if (strcmp(item, "hide") == 0) {
			hidden_mech = strtoul(rv, &end, 0);
			if (*end != '\0')
				goto bad;
			continue;
		}
		if ((count = strchr(rv, ':')) == NULL)
			goto bad;
		*count++ = '\0';
		i = fn_index(item);
		faults[i].rv = strtoul(rv, &end, 0);
		if (*end != '\0')
			goto bad;
		faults[i].count = (int)strtol(count, &end, 10);
		if (*end != '\0')
			goto bad;
	}
	return;
bad:
	fprintf(stderr, "fault-module: P11CA_FAULTS: malformed '%s'\n", env);
	abort();
}

static void load_real(void)
{
	const char *path = getenv("SOFTHSM_MODULE"), *env;
	CK_C_GetFunctionList get;

	if (path == NULL || *path == '\0')
		path = DEFAULT_SOFTHSM;
	real_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (real_handle == NULL) {
		fprintf(stderr, "fault-module: cannot load %s: %s\n", path, dlerror());
		return;
	}
	*(void **)&get = dlsym(real_handle, "C_GetFunctionList");
	if (get == NULL || get(&real) != CKR_OK || real == NULL) {
		fprintf(stderr, "fault-module: %s has no usable C_GetFunctionList\n", path);
		real = NULL;
		return;
	}
	mine = *real;
#define WRAP(n) mine.n = w_##n;
	FAULT_FUNCS(WRAP)
#undef WRAP
	faults_from_env();
	if ((env = getenv("P11CA_FAULTS_UNPLUG_FILE")) != NULL)
		snprintf(unplug_file, sizeof(unplug_file), "%s", env);
	if ((env = getenv("P11CA_FAULTS_CALLS_FILE")) != NULL)
		snprintf(calls_file, sizeof(calls_file), "%s", env);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	pthread_once(&load_once, load_real);
	if (real == NULL)
		return CKR_GENERAL_ERROR;
	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	*list = &mine;
	return CKR_OK;
}

/* ---- control ---- */

void fault_set_flags(const char *fn, CK_RV rv, int count, unsigned flags)
{
	int i = fn_index(fn);

	pthread_mutex_lock(&fault_lock);
	faults[i].rv = rv;
	faults[i].count = count;
	faults[i].flags = flags;
	pthread_mutex_unlock(&fault_lock);
}

void fault_set(const char *fn, CK_RV rv, int count)
{
	fault_set_flags(fn, rv, count, 0);
}

void fault_clear(void)
{
	int i;

	pthread_mutex_lock(&fault_lock);
	for (i = 0; i < F_COUNT; i++) {
		faults[i].rv = CKR_OK;
		faults[i].count = 0;
		faults[i].flags = 0;
	}
	extra_token_flags = 0;
	hidden_mech = 0;
	pthread_mutex_unlock(&fault_lock);
}

unsigned fault_calls(const char *fn)
{
	int i = fn_index(fn);
	unsigned n;

	pthread_mutex_lock(&fault_lock);
	n = faults[i].calls;
	pthread_mutex_unlock(&fault_lock);
	return n;
}

void fault_reset_calls(void)
{
	int i;

	pthread_mutex_lock(&fault_lock);
	for (i = 0; i < F_COUNT; i++)
		faults[i].calls = 0;
	pthread_mutex_unlock(&fault_lock);
}

void fault_token_flags(CK_FLAGS set)
{
	pthread_mutex_lock(&fault_lock);
	extra_token_flags = set;
	pthread_mutex_unlock(&fault_lock);
}

void fault_hide_mechanism(CK_MECHANISM_TYPE mech)
{
	pthread_mutex_lock(&fault_lock);
	hidden_mech = mech;
	pthread_mutex_unlock(&fault_lock);
}

CK_MECHANISM_TYPE fault_last_sign_mechanism(void)
{
	CK_MECHANISM_TYPE m;

	pthread_mutex_lock(&fault_lock);
	m = last_sign_mech;
	pthread_mutex_unlock(&fault_lock);
	return m;
}

void fault_unplug_file(const char *path)
{
	pthread_mutex_lock(&fault_lock);
	snprintf(unplug_file, sizeof(unplug_file), "%s", path != NULL ? path : "");
	pthread_mutex_unlock(&fault_lock);
}

void fault_hsm_restart(void)
{
	pthread_once(&load_once, load_real);
	if (real != NULL) {
		pthread_rwlock_wrlock(&device_lock);
		(void)real->C_Finalize(NULL);
		pthread_rwlock_unlock(&device_lock);
	}
}
