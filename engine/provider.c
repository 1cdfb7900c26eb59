/* provider.c - p11ca provider entry point, configuration, algorithms, errors. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "provider.h"

/* ---- errors ---- */

void p11ca_prov_raise(struct p11ca_prov *prov, int reason, const char *file, int line,
                      const char *func, const char *fmt, ...)
{
	va_list ap;

	if (prov == NULL || prov->core_new_error == NULL)
		return;
	prov->core_new_error(prov->handle);
	prov->core_set_error_debug(prov->handle, file, line, func);
	va_start(ap, fmt);
	prov->core_vset_error(prov->handle, (uint32_t)reason, fmt, ap);
	va_end(ap);
}

int p11ca_prov_reason(CK_RV rv)
{
	switch (rv) {
	case P11CA_R_NOT_FOUND: return P11CA_PROV_R_NOT_FOUND;
	case P11CA_R_AMBIGUOUS: return P11CA_PROV_R_AMBIGUOUS;
	default: return P11CA_PROV_R_TOKEN;
	}
}

const char *p11ca_prov_message(CK_RV rv)
{
	const char *m = p11ca_error_message();

	return m[0] != '\0' ? m : p11ca_rv_name(rv);
}

static const OSSL_ITEM reason_strings[] = {
	{ P11CA_PROV_R_TOKEN, "PKCS#11 token operation failed" },
	{ P11CA_PROV_R_NO_PRIVATE, "key has no private half on a token" },
	{ P11CA_PROV_R_BAD_PARAM, "unsupported parameter" },
	{ P11CA_PROV_R_NOT_FOUND, "no object matches the pkcs11: URI" },
	{ P11CA_PROV_R_AMBIGUOUS, "several objects match the pkcs11: URI" },
	{ P11CA_PROV_R_OPENSSL, "OpenSSL operation failed" },
	{ P11CA_PROV_R_NOT_EXTRACTABLE, "private key cannot leave the token" },
	{ 0, NULL },
};

/* ---- the libp11ca context ---- */

p11ca_ctx *p11ca_prov_p11(struct p11ca_prov *prov)
{
	p11ca_ctx *p11 = NULL;
	CK_RV rv;

	pthread_mutex_lock(&prov->lock);
	if (prov->p11 != NULL) {
		p11 = prov->p11;
		goto out;
	}
	rv = p11ca_ctx_new(prov->module, &p11);
	if (rv == CKR_OK && prov->pin_file != NULL)
		rv = p11ca_ctx_set_pin_file(p11, prov->pin_file);
	if (rv == CKR_OK)
		rv = p11ca_ctx_set_openssl(p11, prov->libctx, P11CA_PROV_PROPQ);
	if (rv != CKR_OK) {
		P11CA_PROV_RAISE_RV(prov, rv);
		p11ca_ctx_free(p11);
		p11 = NULL;
		goto out;
	}
	p11ca_ctx_set_pin_prompt(p11, prov->allow_prompt);
	p11ca_ctx_set_uri_path_pin(p11, prov->uri_path_pin);
	prov->p11 = p11;
out:
	pthread_mutex_unlock(&prov->lock);
	return p11;
}

/* Replaces *@pfield with a copy of @value (NULL or "" clears it); 0 on OOM. */
static int set_string(char **pfield, const char *value)
{
	char *copy = NULL;

	if (value != NULL && *value != '\0' && (copy = strdup(value)) == NULL)
		return 0;
	free(*pfield);
	*pfield = copy;
	return 1;
}

int p11ca_prov_configure(OSSL_PROVIDER *oprov, const char *module, const char *pin_file)
{
	struct p11ca_prov *prov;
	int ret = RET_OSSL_ERR;

	if (oprov == NULL || strcmp(OSSL_PROVIDER_get0_name(oprov), P11CA_PROV_NAME) != 0 ||
	    (prov = OSSL_PROVIDER_get0_provider_ctx(oprov)) == NULL) {
		ERR_raise_data(ERR_LIB_PROV, ERR_R_PASSED_INVALID_ARGUMENT,
		               "not a loaded p11ca provider");
		return RET_OSSL_ERR;
	}
	pthread_mutex_lock(&prov->lock);
	if (prov->p11 != NULL) {
		/* keys and sessions of the old configuration are out there */
		P11CA_PROV_RAISE(prov, P11CA_PROV_R_BAD_PARAM,
		                 "the p11ca provider is in use: configure it before its first use");
		goto out;
	}
	if (!set_string(&prov->module, module) || !set_string(&prov->pin_file, pin_file)) {
		P11CA_PROV_RAISE(prov, P11CA_PROV_R_OPENSSL, "out of memory");
		goto out;
	}
	ret = RET_OSSL_OK;
out:
	pthread_mutex_unlock(&prov->lock);
	return ret;
}

/* ---- algorithms: fixed from load on, whatever the token ---- */

#define ALG(names, fns)                                                                            \
	{                                                                                          \
		names, "provider=" P11CA_PROV_NAME, fns, NULL                                      \
	}
static const OSSL_ALGORITHM keymgmt_algs[] = {
	ALG("RSA:rsaEncryption:1.2.840.113549.1.1.1", p11ca_prov_rsa_keymgmt_functions),
	ALG("RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10", p11ca_prov_rsapss_keymgmt_functions),
	ALG("EC:id-ecPublicKey:1.2.840.10045.2.1", p11ca_prov_ec_keymgmt_functions),
	ALG("ED25519:1.3.101.112", p11ca_prov_ed25519_keymgmt_functions),
	{ NULL, NULL, NULL, NULL },
};
/*
 * Operations have names of their own, which our key management gives for
 * its keys (query_operation_name).  OpenSSL then finds this provider's
 * implementation at its first try, instead of first trying another
 * provider's "RSA" or "ECDSA" and failing to move the key there; and a
 * software key is never offered to these implementations.
 */
static const OSSL_ALGORITHM signature_algs[] = {
	ALG(P11CA_PROV_OP_RSA, p11ca_prov_rsa_signature_functions),
	ALG(P11CA_PROV_OP_ECDSA, p11ca_prov_ecdsa_signature_functions),
	ALG(P11CA_PROV_OP_ED25519, p11ca_prov_ed25519_signature_functions),
	{ NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM asym_cipher_algs[] = {
	ALG(P11CA_PROV_OP_RSA, p11ca_prov_rsa_asym_cipher_functions),
	{ NULL, NULL, NULL, NULL },
};
#define ENC(names, out, fns)                                                                       \
	{                                                                                          \
		names, "provider=" P11CA_PROV_NAME ",output=" out, fns, NULL                       \
	}
#define SPKI ",structure=SubjectPublicKeyInfo"
#define PKI  ",structure=PrivateKeyInfo"
#define EPKI ",structure=EncryptedPrivateKeyInfo"
#define TSP  ",structure=type-specific"
/* per key type: public key out, text, and a clear refusal to write the private key */
#define ENCODERS(names)                                                                            \
	ENC(names, "der" SPKI, p11ca_prov_spki_der_encoder_functions),                             \
	    ENC(names, "pem" SPKI, p11ca_prov_spki_pem_encoder_functions),                         \
	    ENC(names, "text", p11ca_prov_text_encoder_functions),                                 \
	    ENC(names, "der" PKI, p11ca_prov_priv_encoder_functions),                              \
	    ENC(names, "pem" PKI, p11ca_prov_priv_pem_encoder_functions),                          \
	    ENC(names, "der" EPKI, p11ca_prov_priv_encoder_functions),                             \
	    ENC(names, "pem" EPKI, p11ca_prov_priv_pem_encoder_functions),                         \
	    ENC(names, "der" TSP, p11ca_prov_priv_encoder_functions),                              \
	    ENC(names, "pem" TSP, p11ca_prov_priv_pem_encoder_functions)
static const OSSL_ALGORITHM encoder_algs[] = {
	ENCODERS("RSA:rsaEncryption"), ENCODERS("RSA-PSS:RSASSA-PSS"),
	ENCODERS("EC:id-ecPublicKey"), ENCODERS("ED25519"),
	{ NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM keyexch_algs[] = {
	ALG(P11CA_PROV_OP_ECDH, p11ca_prov_ecdh_keyexch_functions),
	{ NULL, NULL, NULL, NULL },
};
/* only with p11ca-rand = yes (see rand.c) */
static const OSSL_ALGORITHM rand_algs[] = {
	ALG(P11CA_PROV_RAND_NAME, p11ca_prov_rand_functions),
	{ NULL, NULL, NULL, NULL },
};
static const OSSL_ALGORITHM store_algs[] = {
	ALG("pkcs11", p11ca_prov_store_functions),
	{ NULL, NULL, NULL, NULL },
};

DECL_DISPATCH_FUNC(provider, p11ca_prov, query_operation);
static const OSSL_ALGORITHM *p11ca_prov_query_operation(void *provctx, int operation_id,
                                                        int *no_cache)
{
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT: return keymgmt_algs;
	case OSSL_OP_SIGNATURE: return signature_algs;
	case OSSL_OP_ASYM_CIPHER: return asym_cipher_algs;
	case OSSL_OP_KEYEXCH: return keyexch_algs;
	case OSSL_OP_STORE: return store_algs;
	case OSSL_OP_ENCODER: return encoder_algs;
	case OSSL_OP_RAND: return ((struct p11ca_prov *)provctx)->rand_enabled ? rand_algs : NULL;
	default: return NULL;
	}
}

DECL_DISPATCH_FUNC(provider, p11ca_prov, gettable_params);
static const OSSL_PARAM *p11ca_prov_gettable_params(void *provctx)
{
	static const OSSL_PARAM params[] = {
		OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
		OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
		OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, NULL, 0),
		OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
		OSSL_PARAM_END,
	};
	return params;
}

DECL_DISPATCH_FUNC(provider, p11ca_prov, get_params);
static int p11ca_prov_get_params(void *provctx, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "p11ca PKCS#11 provider"))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, PACKAGE_VERSION))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "p11ca " PACKAGE_VERSION))
		return RET_OSSL_ERR;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
	if (p != NULL && !OSSL_PARAM_set_int(p, 1))
		return RET_OSSL_ERR;
	return RET_OSSL_OK;
}

/*
 * TLS groups whose key shares our EC key management makes (as software
 * keys, keygen.c).  With "?provider=p11ca" libssl takes a group only from
 * the provider whose key management it fetches for the group's algorithm:
 * ours for "EC", so the default provider's EC groups would be dropped.
 */
struct tls_group {
	unsigned int id, secbits; /* RFC 8422 id */
	int mintls, maxtls, mindtls, maxdtls;
	unsigned int kem;
};
/* not const: OSSL_PARAM points at them; TLS 1.0 and DTLS 1.0 on, no maximum */
static struct tls_group tls_group_info[] = {
	{ 23, 128, 0x0301, 0, 0xFEFF, 0, 0 },
	{ 24, 192, 0x0301, 0, 0xFEFF, 0, 0 },
	{ 25, 256, 0x0301, 0, 0xFEFF, 0, 0 },
};
#define TLS_GROUP(name, internal, i)                                                               \
	{                                                                                          \
		OSSL_PARAM_utf8_string(OSSL_CAPABILITY_TLS_GROUP_NAME, name, sizeof(name)),        \
		    OSSL_PARAM_utf8_string(OSSL_CAPABILITY_TLS_GROUP_NAME_INTERNAL, internal,      \
		                           sizeof(internal)),                                      \
		    OSSL_PARAM_utf8_string(OSSL_CAPABILITY_TLS_GROUP_ALG, "EC", sizeof("EC")),     \
		    OSSL_PARAM_uint(OSSL_CAPABILITY_TLS_GROUP_ID, &tls_group_info[i].id),          \
		    OSSL_PARAM_uint(OSSL_CAPABILITY_TLS_GROUP_SECURITY_BITS,                       \
		                    &tls_group_info[i].secbits),                                   \
		    OSSL_PARAM_int(OSSL_CAPABILITY_TLS_GROUP_MIN_TLS, &tls_group_info[i].mintls),  \
		    OSSL_PARAM_int(OSSL_CAPABILITY_TLS_GROUP_MAX_TLS, &tls_group_info[i].maxtls),  \
		    OSSL_PARAM_int(OSSL_CAPABILITY_TLS_GROUP_MIN_DTLS,                             \
		                   &tls_group_info[i].mindtls),                                    \
		    OSSL_PARAM_int(OSSL_CAPABILITY_TLS_GROUP_MAX_DTLS,                             \
		                   &tls_group_info[i].maxdtls),                                    \
		    OSSL_PARAM_uint(OSSL_CAPABILITY_TLS_GROUP_IS_KEM, &tls_group_info[i].kem),     \
		    OSSL_PARAM_END                                                                 \
	}
static const OSSL_PARAM tls_groups[][11] = {
	TLS_GROUP("secp256r1", "prime256v1", 0), TLS_GROUP("P-256", "prime256v1", 0),
	TLS_GROUP("secp384r1", "secp384r1", 1),  TLS_GROUP("P-384", "secp384r1", 1),
	TLS_GROUP("secp521r1", "secp521r1", 2),  TLS_GROUP("P-521", "secp521r1", 2),
};

DECL_DISPATCH_FUNC(provider, p11ca_prov, get_capabilities);
static int p11ca_prov_get_capabilities(void *provctx, const char *capability, OSSL_CALLBACK *cb,
                                       void *arg)
{
	size_t i;

	if (strcasecmp(capability, "TLS-GROUP") != 0)
		return RET_OSSL_OK; /* none other */
	for (i = 0; i < sizeof(tls_groups) / sizeof(tls_groups[0]); i++)
		if (!cb(tls_groups[i], arg))
			return RET_OSSL_ERR;
	return RET_OSSL_OK;
}

DECL_DISPATCH_FUNC(provider, p11ca_prov, get_reason_strings);
static const OSSL_ITEM *p11ca_prov_get_reason_strings(void *provctx)
{
	return reason_strings;
}

/*
 * Set by an atexit handler registered when the provider loads.  Modules
 * loaded later (SoftHSM2 among them) tear themselves down at exit before
 * OpenSSL's own cleanup unloads providers, so calling into them from
 * teardown then crashes: at exit the contexts are left to the OS.
 */
static volatile int process_exiting;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
/* keeps them reachable for leak checkers (more are simply left) */
static p11ca_ctx *left_at_exit[32];
static unsigned nleft;

static void on_exit_handler(void)
{
	process_exiting = 1;
}

static void register_exit_handler(void)
{
	(void)atexit(on_exit_handler);
}

DECL_DISPATCH_FUNC(provider, p11ca_prov, teardown);
static void p11ca_prov_teardown(void *provctx)
{
	struct p11ca_prov *prov = provctx;
	int i;

	if (prov == NULL)
		return;
	if (process_exiting && prov->p11 != NULL) {
		unsigned slot = __atomic_fetch_add(&nleft, 1, __ATOMIC_ACQ_REL);
		if (slot < sizeof(left_at_exit) / sizeof(left_at_exit[0]))
			left_at_exit[slot] = prov->p11;
	} else
		p11ca_ctx_free(prov->p11);
	OSSL_LIB_CTX_free(prov->corectx);
	for (i = 0; i < P11CA_PROV_MD_CACHE; i++)
		EVP_MD_free(prov->md_cache[i]);
	free(prov->module);
	free(prov->pin_file);
	free(prov->rand_token);
	pthread_mutex_destroy(&prov->lock);
	free(prov);
}

static const OSSL_DISPATCH provider_functions[] = {
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))p11ca_prov_teardown },
	{ OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))p11ca_prov_gettable_params },
	{ OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))p11ca_prov_get_params },
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))p11ca_prov_query_operation },
	{ OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))p11ca_prov_get_reason_strings },
	{ OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))p11ca_prov_get_capabilities },
	{ 0, NULL },
};

static int truthy(const char *v)
{
	return v != NULL && (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
	                     strcasecmp(v, "true") == 0 || strcasecmp(v, "on") == 0);
}

/* The [p11ca_sect] keys; see docs/p11ca-provider.7. */
static int read_config(struct p11ca_prov *prov, OSSL_FUNC_core_get_params_fn *get_params)
{
	char *module = NULL, *pin_file = NULL, *prompt = NULL, *pin = NULL;
	char *rand = NULL, *rand_token = NULL; /* rand.c */
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_ptr("p11ca-module", &module, 0),
		OSSL_PARAM_utf8_ptr("p11ca-pin-file", &pin_file, 0),
		OSSL_PARAM_utf8_ptr("p11ca-pin-prompt", &prompt, 0),
		OSSL_PARAM_utf8_ptr("p11ca-pin", &pin, 0),
		OSSL_PARAM_utf8_ptr("p11ca-rand", &rand, 0),
		OSSL_PARAM_utf8_ptr("p11ca-rand-token", &rand_token, 0),
		OSSL_PARAM_END,
	};

	if (get_params == NULL || !get_params(prov->handle, params))
		return 1; /* no configuration: defaults */
	if (pin != NULL) {
		/* a PIN written into openssl.cnf would sit in a world-readable file */
		P11CA_PROV_RAISE(prov, P11CA_PROV_R_BAD_PARAM,
		                 "p11ca-pin is not supported: use p11ca-pin-file or P11CA_PIN");
		return 0;
	}
	if (module != NULL && *module != '\0' && (prov->module = strdup(module)) == NULL)
		return 0;
	if (pin_file != NULL && *pin_file != '\0' && (prov->pin_file = strdup(pin_file)) == NULL)
		return 0;
	if (prompt != NULL)
		prov->allow_prompt = truthy(prompt);
	if (rand != NULL)
		prov->rand_enabled = truthy(rand);
	if (rand_token != NULL && p11ca_uri_has_pin_value(rand_token)) {
		P11CA_PROV_RAISE(prov, P11CA_PROV_R_BAD_PARAM,
		                 "p11ca-rand-token must not hold a pin-value: use p11ca-pin-file");
		return 0;
	}
	if (rand_token != NULL && *rand_token != '\0' &&
	    (prov->rand_token = strdup(rand_token)) == NULL)
		return 0;
	return 1;
}

int p11ca_prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                    const OSSL_DISPATCH **out, void **provctx)
{
	OSSL_FUNC_core_get_params_fn *get_params = NULL;
	OSSL_FUNC_core_get_libctx_fn *get_libctx = NULL;
	const OSSL_DISPATCH *core = in;
	struct p11ca_prov *prov;
	const char *env;

	pthread_once(&exit_once, register_exit_handler);
	prov = calloc(1, sizeof(*prov));
	if (prov == NULL)
		return RET_OSSL_ERR;
	prov->handle = handle;
	prov->allow_prompt = 1;
	pthread_mutex_init(&prov->lock, NULL);
	for (; in->function_id != 0; in++) {
		switch (in->function_id) {
		case OSSL_FUNC_CORE_GET_PARAMS: get_params = OSSL_FUNC_core_get_params(in); break;
		case OSSL_FUNC_CORE_GET_LIBCTX: get_libctx = OSSL_FUNC_core_get_libctx(in); break;
		case OSSL_FUNC_CORE_NEW_ERROR:
			prov->core_new_error = OSSL_FUNC_core_new_error(in);
			break;
		case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
			prov->core_set_error_debug = OSSL_FUNC_core_set_error_debug(in);
			break;
		case OSSL_FUNC_CORE_VSET_ERROR:
			prov->core_vset_error = OSSL_FUNC_core_vset_error(in);
			break;
		default: break;
		}
	}
	if (prov->core_new_error == NULL || prov->core_set_error_debug == NULL ||
	    prov->core_vset_error == NULL)
		prov->core_new_error = NULL; /* raise nothing rather than crash */
	if (!read_config(prov, get_params))
		goto fail;
	/* the environment can say what openssl.cnf does not */
	if (prov->module == NULL && (env = getenv("P11CA_MODULE")) != NULL && *env != '\0' &&
	    (prov->module = strdup(env)) == NULL)
		goto fail;
	if (prov->pin_file == NULL && (env = getenv("P11CA_PIN_FILE")) != NULL && *env != '\0' &&
	    (prov->pin_file = strdup(env)) == NULL)
		goto fail;
	/*
	 * Public keys, digests and verification come from the application's
	 * library context (this provider shares its libcrypto), with the
	 * property query P11CA_PROV_PROPQ so it never calls itself.  A child
	 * context would hold the providers, this one included, in a cycle
	 * that keeps them from ever being torn down.  BIOs handed over by the
	 * core need a context made from the core's dispatch table.
	 */
	if (get_libctx == NULL ||
	    (prov->corectx = OSSL_LIB_CTX_new_from_dispatch(handle, core)) == NULL)
		goto fail;
	prov->libctx = (OSSL_LIB_CTX *)get_libctx(handle); /* NULL: the default context */
	*out = provider_functions;
	*provctx = prov;
	return RET_OSSL_OK;
fail:
	p11ca_prov_teardown(prov);
	return RET_OSSL_ERR;
}
