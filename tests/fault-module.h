/*
 * fault-module.h - control API of tests/fault-module.c, a PKCS#11 module
 * that forwards to SoftHSM2 ($SOFTHSM_MODULE) and injects faults.
 *
 * The test dlopen()s the module itself (RTLD_NOW | RTLD_LOCAL) for these
 * functions, then gives the same path to p11ca_ctx_new(): the dynamic
 * loader hands p11-kit the same instance, so both talk to one module, and
 * the test's reference keeps its state alive between contexts.  All
 * functions are thread-safe.
 *
 * Functions are named as in PKCS#11 ("C_Sign").  Wrapped: C_Initialize,
 * C_Finalize, C_GetInfo, C_GetSlotList, C_GetTokenInfo, C_GetMechanismList,
 * C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,
 * C_Login, C_Logout, C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,
 * C_GetAttributeValue, C_GenerateKeyPair, C_SignInit, C_Sign, C_SignUpdate,
 * C_SignFinal, C_DecryptInit, C_Decrypt, C_CreateObject, C_DestroyObject,
 * C_SetPIN, C_InitToken, C_GetMechanismInfo, C_DeriveKey, C_GenerateRandom.
 * Every other function goes straight to SoftHSM2.
 *
 * P11CA_FAULTS_CALLS_FILE=PATH (read when the module loads): every call of a
 * wrapped function appends its name, one a line, to PATH, so that a test
 * counts the calls another process (openssl) made.
 *
 * A process that cannot call these functions (the p11ca command, given the
 * module's path) takes its faults from the environment when the module
 * loads: P11CA_FAULTS="C_Sign:0x30:-1,hide:0xd" (function:CK_RV:count, and
 * a mechanism to hide).  A name the
 * module does not wrap aborts the process (a typo in a test must not pass).
 *
 * The "unplug" switch: when P11CA_FAULTS_UNPLUG_FILE=PATH is set when the
 * module loads (or fault_unplug_file() names PATH) and PATH exists, the
 * token behaves as unplugged: C_OpenSession, C_Login, C_SignInit, C_Sign,
 * C_FindObjectsInit, C_GetTokenInfo and C_GenerateRandom return
 * CKR_TOKEN_NOT_PRESENT, and
 * the slot's sessions are closed (as FAULT_REAL does for it).  Removing
 * PATH plugs the token back in; one stat() per call of those functions
 * tells.  A test (or a server's test) creates and removes the file, from
 * any process.
 */
#ifndef P11CA_FAULT_MODULE_H
#define P11CA_FAULT_MODULE_H

#include <p11-kit/pkcs11.h>

/*
 * Make the fault real in SoftHSM2 as well, so that the library meets what a
 * real device would leave behind:
 *   CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED   the session is closed
 *   CKR_USER_NOT_LOGGED_IN                           the user is logged out
 *   CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT        all sessions of the slot
 *                                                    are closed (logout)
 *   CKR_DEVICE_ERROR, CKR_CRYPTOKI_NOT_INITIALIZED   SoftHSM2 is finalised
 *                                                    (an HSM restart: every
 *                                                    session and handle dies)
 * Other codes are only reported.
 */
#define FAULT_REAL 0x1u

/* The next @count calls of @fn return @rv (count -1: every call, 0: none).
 * An injected C_Sign/C_Decrypt still ends the operation on the session, as
 * a failing call does; the others are not forwarded at all.  An injected
 * CKR_OK from C_FindObjects finds no objects. */
void fault_set(const char *fn, CK_RV rv, int count);
/* The same, with FAULT_* @flags. */
void fault_set_flags(const char *fn, CK_RV rv, int count, unsigned flags);
/* Removes every fault, the extra token flags and the hidden mechanism (the counters stay). */
void fault_clear(void);

/* How many times @fn was called since the last reset, injected calls included. */
unsigned fault_calls(const char *fn);
/* Sets every counter to 0. */
void fault_reset_calls(void);

/* ORed into the flags C_GetTokenInfo reports (e.g. CKF_USER_PIN_LOCKED); 0 clears. */
void fault_token_flags(CK_FLAGS set);

/* The token has no @mech (0: all SoftHSM2 has): C_GetMechanismList leaves it
 * out, C_GetMechanismInfo and C_SignInit refuse it (CKR_MECHANISM_INVALID). */
void fault_hide_mechanism(CK_MECHANISM_TYPE mech);
/* The mechanism of the last C_SignInit (0: none yet). */
CK_MECHANISM_TYPE fault_last_sign_mechanism(void);

/* The unplug switch file (see above); NULL or "" turns the switch off.
 * fault_clear() leaves it as it is. */
void fault_unplug_file(const char *path);

/* The HSM restarts now: SoftHSM2 is finalised behind the library's back, so
 * its next calls get CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize. */
void fault_hsm_restart(void);

#endif /* P11CA_FAULT_MODULE_H */
