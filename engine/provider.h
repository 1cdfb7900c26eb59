/*
 * provider.h - the p11ca OpenSSL 3 provider, shared by its files.
 * Internally functions return CK_RV or plain C values; at the OpenSSL
 * boundary they return 1 (success) / 0 (failure) with an error raised on
 * OpenSSL's error stack through the core's upcalls.
 */
#ifndef P11CA_PROVIDER_H
#define P11CA_PROVIDER_H

#include <pthread.h>
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "p11ca.h"

#define P11CA_PROV_NAME "p11ca"
/* Property query for what the provider needs from other providers:
 * never itself (it would recurse). */
#define P11CA_PROV_PROPQ "provider!=p11ca"

/* Names of our signature and asymmetric-cipher implementations. */
#define P11CA_PROV_OP_RSA     "P11CA-RSA"
#define P11CA_PROV_OP_ECDSA   "P11CA-ECDSA"
#define P11CA_PROV_OP_ED25519 "P11CA-ED25519"
/* Our key exchange (exchange.c): EC keys, on a token or in software. */
#define P11CA_PROV_OP_ECDH "P11CA-ECDH"

#define RET_OSSL_OK  1
#define RET_OSSL_ERR 0

/* Declares a callback against OpenSSL's own typedef (wrong signature = compile error). */
#define DECL_DISPATCH_FUNC(type, prefix, name) static OSSL_FUNC_##type##_##name##_fn prefix##_##name

#define P11CA_PROV_MD_CACHE 4

/* provider context */
struct p11ca_prov {
	const OSSL_CORE_HANDLE *handle;
	OSSL_LIB_CTX *libctx;  /* the application's (borrowed) */
	OSSL_LIB_CTX *corectx; /* ours, only for BIOs from the core */
	pthread_mutex_t lock;  /* p11 creation */
	p11ca_ctx *p11;        /* created on first use */
	char *module;          /* config: p11ca-module */
	char *pin_file;        /* config: p11ca-pin-file */
	int allow_prompt;      /* config: p11ca-pin-prompt */
	EVP_MD *md_cache[4];   /* P11CA_PROV_MD_CACHE; see signature.c */
	int uri_path_pin;      /* pin-value in a URI's path: p11ca.so only (module.c) */
	int rand_enabled;      /* config: p11ca-rand (rand.c) */
	char *rand_token;      /* config: p11ca-rand-token */
	OSSL_FUNC_core_new_error_fn *core_new_error;
	OSSL_FUNC_core_set_error_debug_fn *core_set_error_debug;
	OSSL_FUNC_core_vset_error_fn *core_vset_error;
};

/* Our reason codes (OSSL_FUNC_provider_get_reason_strings). */
enum {
	P11CA_PROV_R_TOKEN = 1,       /* a PKCS#11 failure; the text says what */
	P11CA_PROV_R_NO_PRIVATE,      /* key has no private half on a token */
	P11CA_PROV_R_BAD_PARAM,       /* unsupported or malformed parameter */
	P11CA_PROV_R_NOT_FOUND,       /* nothing at the URI */
	P11CA_PROV_R_AMBIGUOUS,       /* several objects at the URI */
	P11CA_PROV_R_OPENSSL,         /* an OpenSSL call failed */
	P11CA_PROV_R_NOT_EXTRACTABLE, /* private key material asked for */
};

/* Raises an error on OpenSSL's stack, with file/line/function. */
void p11ca_prov_raise(struct p11ca_prov *prov, int reason, const char *file, int line,
                      const char *func, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define P11CA_PROV_RAISE(prov, reason, ...)                                                        \
	p11ca_prov_raise((prov), (reason), __FILE__, __LINE__, __func__, __VA_ARGS__)
/* Raises the libp11ca error that @rv and p11ca_error_message() describe. */
#define P11CA_PROV_RAISE_RV(prov, rv)                                                              \
	P11CA_PROV_RAISE((prov), p11ca_prov_reason(rv), "%s", p11ca_prov_message(rv))
int p11ca_prov_reason(CK_RV rv);
const char *p11ca_prov_message(CK_RV rv);

/*
 * The provider's init function.  The module (p11ca.so) exports it as
 * OSSL_provider_init; programs linking the provider in (the p11ca tool, the
 * bench) register it with OSSL_PROVIDER_add_builtin(libctx, "p11ca", ...).
 * Configuration: openssl.cnf keys p11ca-module, p11ca-pin-file,
 * p11ca-pin-prompt, or the environment P11CA_MODULE, P11CA_PIN_FILE, P11CA_PIN.
 */
OSSL_provider_init_fn p11ca_prov_init;

/*
 * Configures one loaded instance of the provider (@prov, from
 * OSSL_PROVIDER_load() of the built-in "p11ca" in a library context) with
 * @module (NULL: every module p11-kit knows) and @pin_file (NULL: none),
 * replacing what openssl.cnf or the environment said: two library contexts
 * in one process can so name two modules.  The strings are copied.  Only
 * before the instance's first use: once its libp11ca context exists the
 * call is refused.  Returns 1, or 0 with an error on OpenSSL's stack.
 */
int p11ca_prov_configure(OSSL_PROVIDER *prov, const char *module, const char *pin_file);

/* The libp11ca context, created on first use from the configuration. */
p11ca_ctx *p11ca_prov_p11(struct p11ca_prov *prov);

/* ---- keys (keymgmt.c) ---- */

enum p11ca_prov_keytype { P11CA_PK_RSA = 1, P11CA_PK_RSA_PSS, P11CA_PK_EC, P11CA_PK_ED25519 };

struct p11ca_prov_key {
	int refs; /* atomic */
	struct p11ca_prov *prov;
	enum p11ca_prov_keytype type;
	p11ca_key *key; /* private half on a token, or NULL */
	EVP_PKEY *pub;  /* public half (another provider's key) */
	int generated;  /* made here by genpkey (keygen.c): written out as its URI */
};

/* New key of @type; @key and @pub are taken over (may be NULL). */
struct p11ca_prov_key *p11ca_prov_key_new(struct p11ca_prov *prov, enum p11ca_prov_keytype type,
                                          p11ca_key *key, EVP_PKEY *pub);
struct p11ca_prov_key *p11ca_prov_key_ref(struct p11ca_prov_key *k);
void p11ca_prov_key_free(struct p11ca_prov_key *k);
/* OpenSSL key type name ("RSA", "RSA-PSS", "EC", "ED25519"). */
const char *p11ca_prov_key_type_name(enum p11ca_prov_keytype type);
/* The provider key type for a token key or an OpenSSL public key. */
enum p11ca_prov_keytype p11ca_prov_keytype_of(p11ca_key *key, EVP_PKEY *pub);

/* ---- key generation (keygen.c), behind each key type's key management ---- */
/*
 * genpkey: with the parameter "pkcs11_uri" the pair is made on the token by
 * p11ca_key_generate() (label = the URI's object=); without it an EC key is
 * an ephemeral software key (key NULL, pub the whole key: TLS key shares).
 */
void *p11ca_prov_gen_init(struct p11ca_prov *prov, enum p11ca_prov_keytype type, int selection,
                          const OSSL_PARAM params[]);
int p11ca_prov_gen_set_params(void *genctx, const OSSL_PARAM params[]);
const OSSL_PARAM *p11ca_prov_gen_settable_params(enum p11ca_prov_keytype type);
int p11ca_prov_gen_set_template(void *genctx, void *templ);
void *p11ca_prov_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg);
void p11ca_prov_gen_cleanup(void *genctx);
/*
 * A STORE parameter (int) of ours: 1 = the URI must name one object of each
 * class asked for, on one token, else the load fails with
 * P11CA_PROV_R_AMBIGUOUS naming the candidates (the p11ca command's --key,
 * tools/pki/provider.c).  Default 0: the STORE hands out every match.
 */
#define P11CA_PROV_STORE_PARAM_UNIQUE "p11ca-unique"

/* ---- dispatch tables ---- */
extern const OSSL_DISPATCH p11ca_prov_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH p11ca_prov_rsapss_keymgmt_functions[];
extern const OSSL_DISPATCH p11ca_prov_ec_keymgmt_functions[];
extern const OSSL_DISPATCH p11ca_prov_ed25519_keymgmt_functions[];
extern const OSSL_DISPATCH p11ca_prov_rsa_signature_functions[];
extern const OSSL_DISPATCH p11ca_prov_ecdsa_signature_functions[];
extern const OSSL_DISPATCH p11ca_prov_ed25519_signature_functions[];
extern const OSSL_DISPATCH p11ca_prov_rsa_asym_cipher_functions[];
extern const OSSL_DISPATCH p11ca_prov_ecdh_keyexch_functions[];
extern const OSSL_DISPATCH p11ca_prov_store_functions[];
extern const OSSL_DISPATCH p11ca_prov_spki_der_encoder_functions[];
extern const OSSL_DISPATCH p11ca_prov_spki_pem_encoder_functions[];
extern const OSSL_DISPATCH p11ca_prov_text_encoder_functions[];
extern const OSSL_DISPATCH p11ca_prov_priv_encoder_functions[];
extern const OSSL_DISPATCH p11ca_prov_priv_pem_encoder_functions[];
/* the token's random generator, "P11CA-RAND" (rand.c); offered with p11ca-rand = yes */
#define P11CA_PROV_RAND_NAME "P11CA-RAND"
extern const OSSL_DISPATCH p11ca_prov_rand_functions[];

#endif
