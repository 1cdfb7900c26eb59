/*
 * p11ca.h - public API of libp11ca, the PKCS#11 core of p11ca.
 *
 * Conventions (the whole API):
 *  - Every function that can fail returns a CK_RV: CKR_OK on success, a
 *    Cryptoki error from the module, or one of the P11CA_R_* codes below.
 *    On failure p11ca_error_message() gives a one-line, human readable
 *    reason for the calling thread (never containing a PIN).
 *  - Objects are opaque handles.  A function named *_new, *_find, *_generate
 *    or *_open hands the caller one reference, released with the matching
 *    *_free.  Every *_free accepts NULL.
 *  - Getters returning `const` pointers hand out storage owned by the object;
 *    it stays valid while the object lives.
 *  - All functions are thread-safe unless said otherwise.  A context survives
 *    fork(): the child re-initialises its modules on its next call.
 *  - Private key material never leaves the token: no function exports it.
 */
#ifndef P11CA_H
#define P11CA_H

#include <stddef.h>
#include <stdint.h>
#include <p11-kit/pkcs11.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

/* p11ca-specific results, in the vendor-defined CK_RV range. */
#define P11CA_R_BASE         (CKR_VENDOR_DEFINED | 0x50434100UL)
#define P11CA_R_BAD_URI      (P11CA_R_BASE + 1)  /* malformed URI or unknown attribute */
#define P11CA_R_NOT_FOUND    (P11CA_R_BASE + 2)  /* nothing matched */
#define P11CA_R_AMBIGUOUS    (P11CA_R_BASE + 3)  /* several tokens or objects matched */
#define P11CA_R_NO_PIN       (P11CA_R_BASE + 4)  /* no PIN source available */
#define P11CA_R_PIN_FAILED   (P11CA_R_BASE + 5)  /* PIN already refused once; not retried */
#define P11CA_R_PIN_LOCKED   (P11CA_R_BASE + 6)  /* token reports the user PIN locked */
#define P11CA_R_BAD_KEY_TYPE (P11CA_R_BASE + 7)  /* unknown or refused key type */
#define P11CA_R_LABEL_EXISTS (P11CA_R_BASE + 8)  /* label already used on the token */
#define P11CA_R_MODULE       (P11CA_R_BASE + 9)  /* module cannot be found or loaded */
#define P11CA_R_UNSUPPORTED  (P11CA_R_BASE + 10) /* operation not possible with this key/token */
#define P11CA_R_CRYPTO       (P11CA_R_BASE + 11) /* an OpenSSL operation failed */

/**
 * p11ca_error_message:
 * Returns the message describing the calling thread's last failure, or ""
 * when there is none.  The string is owned by the library and is replaced
 * by the next failing call on the same thread.
 */
const char *p11ca_error_message(void);

/** p11ca_rv_name: Returns a static name for @rv ("CKR_PIN_INCORRECT", ...). */
const char *p11ca_rv_name(CK_RV rv);

/**
 * p11ca_rv_text: @rv for a message: what it means in words with its name,
 * "the PIN is too short or too long for this token (CKR_PIN_LEN_RANGE)", or
 * the name alone.  The string is the calling thread's until its next call.
 */
const char *p11ca_rv_text(CK_RV rv);

/* ------------------------------------------------------------------ */
/* Context: the set of loaded modules                                  */
/* ------------------------------------------------------------------ */

typedef struct p11ca_ctx p11ca_ctx;

/**
 * p11ca_ctx_new:
 * @module: a p11-kit registry name ("softhsm2"), a path to a module, or NULL
 *          for every module registered with p11-kit.
 * @pctx: receives the new context, freed with p11ca_ctx_free().
 *
 * Loads (but does not yet initialise) the module(s).  Modules are
 * initialised lazily, with CKF_OS_LOCKING_OK, on first use.
 */
CK_RV p11ca_ctx_new(const char *module, p11ca_ctx **pctx);

/**
 * p11ca_ctx_free:
 * Closes all sessions, finalises and unloads the modules.  Tokens and keys
 * obtained from @ctx must not be used afterwards (free the keys first).
 */
void p11ca_ctx_free(p11ca_ctx *ctx);

/**
 * p11ca_ctx_set_pin_file:
 * A file holding the user PIN (a trailing newline is stripped), tried after
 * the URI's pin-value / pin-source and before the P11CA_PIN environment
 * variable.  The path is copied; NULL clears it.
 */
CK_RV p11ca_ctx_set_pin_file(p11ca_ctx *ctx, const char *path);

/**
 * p11ca_ctx_set_pin_prompt:
 * Whether a tty prompt (no echo) is the last PIN source.  On by default;
 * the prompt is only shown when /dev/tty can be opened.
 */
void p11ca_ctx_set_pin_prompt(p11ca_ctx *ctx, int allow);

/**
 * p11ca_pin_hold:
 * Holds @len bytes of @pin for the whole process (every context, the
 * provider's too) as the PIN source tried after the URI's pin-value /
 * pin-source and before --pin-file, P11CA_PIN and the prompt, so that a
 * long-running process logs in again (a token unplugged and back) without
 * reading a file or the environment again.  The copy lives in its own
 * page, locked in memory (mlock: never swapped) and left out of core dumps
 * (MADV_DONTDUMP); a failure of either is CKR_HOST_MEMORY with its message.
 * A second call replaces the PIN; p11ca_pin_hold(NULL, 0) wipes and
 * releases it.  The caller wipes its own buffer.  Thread-safe.
 */
CK_RV p11ca_pin_hold(const char *pin, size_t len);
/** p11ca_pin_held: 1 when a PIN is held. */
int p11ca_pin_held(void);

/**
 * p11ca_ctx_set_openssl:
 * The OpenSSL library context and property query used for the public keys
 * and certificates libp11ca builds (default: NULL, NULL).  A provider built
 * on libp11ca passes a query that excludes itself ("provider!=p11ca").
 * @propq is copied.
 */
CK_RV p11ca_ctx_set_openssl(p11ca_ctx *ctx, OSSL_LIB_CTX *libctx, const char *propq);

/**
 * p11ca_ctx_set_uri_path_pin:
 * Whether @ctx takes a pin-value in a URI's path, where libp11 and OpenSC
 * write it ("pkcs11:id=%01;pin-value=1234"), as the query attribute RFC 7512
 * makes it ("pkcs11:id=%01?pin-value=1234"): the value ends at the next ';'
 * or '?' and is percent-decoded as in the query.  Off by default (a
 * pin-value must follow '?' or '&'); the provider module p11ca.so turns it
 * on for the OpenSSL programs that load it.  A URI with a pin-value and a
 * pin-source, or with pin-values in both its path and its query, is refused
 * either way.  Messages redact a pin-value wherever it is.
 */
void p11ca_ctx_set_uri_path_pin(p11ca_ctx *ctx, int allow);

/* Log callback for --verbose output: never receives a PIN. */
typedef void (*p11ca_log_fn)(void *data, const char *message);
void p11ca_ctx_set_log(p11ca_ctx *ctx, p11ca_log_fn fn, void *data);

/* ------------------------------------------------------------------ */
/* Tokens                                                              */
/* ------------------------------------------------------------------ */

typedef struct p11ca_token p11ca_token;

struct p11ca_token_info {
	char label[33]; /* blank padding removed, NUL terminated */
	char manufacturer[33];
	char model[17];
	char serial[17];
	CK_FLAGS flags; /* CKF_TOKEN_INITIALIZED, CKF_LOGIN_REQUIRED, CKF_USER_PIN_* ... */
	CK_SLOT_ID slot_id;
	const char *module_name; /* registry name, or the module's file name */
	const char *module_path;
};

/**
 * p11ca_token_count / p11ca_token_at:
 * Enumerate the tokens present in every loaded module (slots with no token
 * are skipped).  The enumeration is refreshed by p11ca_ctx_refresh().
 * p11ca_token_at() returns a borrowed pointer owned by @ctx.
 */
CK_RV p11ca_ctx_refresh(p11ca_ctx *ctx);
size_t p11ca_token_count(p11ca_ctx *ctx);
p11ca_token *p11ca_token_at(p11ca_ctx *ctx, size_t i);

/**
 * p11ca_token_find:
 * @uri: a pkcs11: URI (token/manufacturer/model/serial/slot-id/module-name/
 *       module-path attributes are used; object attributes are ignored), or
 *       NULL / "pkcs11:" for "the only token".
 * Returns a borrowed pointer owned by @ctx.  P11CA_R_AMBIGUOUS, with the
 * candidates listed in the error message, when several tokens match.
 * The URI's pin-value / pin-source become the token's PIN source.
 */
CK_RV p11ca_token_find(p11ca_ctx *ctx, const char *uri, p11ca_token **ptoken);

/** p11ca_token_get_info: refreshed from C_GetTokenInfo; owned by @token. */
const struct p11ca_token_info *p11ca_token_get_info(p11ca_token *token);

/** p11ca_token_uri: a pkcs11: URI naming the token; caller frees with free(). */
char *p11ca_token_uri(p11ca_token *token);

/**
 * p11ca_token_login:
 * Logs the user in if the token needs it and nobody is logged in yet.
 * The PIN comes from (in order) the URI, the context's PIN file, the
 * P11CA_PIN environment variable, a tty prompt; it is wiped right after
 * C_Login.  A PIN refused once is never tried again automatically
 * (P11CA_R_PIN_FAILED); a locked PIN gives P11CA_R_PIN_LOCKED.
 */
CK_RV p11ca_token_login(p11ca_token *token);

/** p11ca_token_has_mechanism: 1 if the token lists @mech, else 0. */
int p11ca_token_has_mechanism(p11ca_token *token, CK_MECHANISM_TYPE mech);

/**
 * p11ca_token_random:
 * Fills @out with @len bytes from the token's random number generator
 * (C_GenerateRandom on a pooled session, in pieces of at most 1024 bytes,
 * without a login unless the token asks for one; faults recovered as for a
 * signature).  On failure @out is wiped and the error names the token:
 * nothing else ever stands in for the token's generator.
 */
CK_RV p11ca_token_random(p11ca_token *token, unsigned char *out, size_t len);

/* ------------------------------------------------------------------ */
/* Token administration (CI, tests)                                    */
/* ------------------------------------------------------------------ */

/**
 * p11ca_token_init:
 * C_InitToken on @slot_id of the context's only (or first) module with @so_pin
 * and @label, then sets the user PIN to @user_pin.  PINs are not kept.
 */
CK_RV p11ca_token_init(p11ca_ctx *ctx, CK_SLOT_ID slot_id, const char *so_pin, const char *label,
                       const char *user_pin);

/** p11ca_token_change_pin: C_SetPIN for the user, logging in with @old_pin. */
CK_RV p11ca_token_change_pin(p11ca_token *token, const char *old_pin, const char *new_pin);

/* ------------------------------------------------------------------ */
/* Keys and objects                                                    */
/* ------------------------------------------------------------------ */

typedef struct p11ca_key p11ca_key;

enum p11ca_key_kind {
	P11CA_KEY_NONE = 0,
	P11CA_KEY_RSA,
	P11CA_KEY_EC,
	P11CA_KEY_ED25519,
};

/* Flags for p11ca_key_generate(). */
#define P11CA_GEN_FORCE   0x1u /* allow RSA sizes above 4096 */
#define P11CA_GEN_DECRYPT 0x2u /* also allow decryption (TLS 1.2 RSA kex, CMS) */
#define P11CA_GEN_DERIVE  0x4u /* an EC key also derives (ECDH); refused for others */
/* an RSA key that signs only RSA-PSS: CKA_ALLOWED_MECHANISMS lists the PSS
 * mechanisms (CKM_RSA_PKCS_PSS, CKM_SHA{1,224,256,384,512}_RSA_PKCS_PSS);
 * refused for other types and with P11CA_GEN_DECRYPT */
#define P11CA_GEN_PSS_ONLY 0x100u

/**
 * p11ca_key_generate:
 * @type: "rsa:2048", "rsa:3072", "rsa:4096", "ec:p256", "ec:p384", "ec:p521"
 *        or "ed25519".  RSA above 4096 bits needs P11CA_GEN_FORCE (8192-bit
 *        keys break SIP TLS peers).
 * @label: CKA_LABEL of both halves; an error if already used on the token.
 * @pkey: receives the private key, or NULL.
 * The private key is CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not
 * CKA_EXTRACTABLE, CKA_SIGN, and does nothing else unless asked for
 * (P11CA_GEN_DECRYPT, P11CA_GEN_DERIVE; never CKA_SIGN_RECOVER or
 * CKA_UNWRAP).  It is made not CKA_MODIFIABLE, and not CKA_COPYABLE, as far
 * as the token allows (SoftHSM2 keeps CKA_COPYABLE: the key reaches its
 * final CKA_ID through a copy).  CKA_ID is the SHA-1 of the public key (the
 * subjectKeyIdentifier a certificate for it will carry).  What an
 * interrupted generation left on the token (objects under a temporary
 * "p11ca-gen-..." label or id, of a process that is gone or of more than a
 * day ago) is removed by the next generation on that token.
 */
CK_RV p11ca_key_generate(p11ca_token *token, const char *type, const char *label, unsigned flags,
                         p11ca_key **pkey);

/**
 * p11ca_key_find:
 * Finds exactly one private key by @uri (object=, id=, type=private or no
 * type, plus token attributes).  P11CA_R_AMBIGUOUS lists the candidates.
 * Returns a new reference freed with p11ca_key_free().
 */
CK_RV p11ca_key_find(p11ca_ctx *ctx, const char *uri, p11ca_key **pkey);
void p11ca_key_free(p11ca_key *key);
p11ca_key *p11ca_key_ref(p11ca_key *key);

enum p11ca_key_kind p11ca_key_get_kind(const p11ca_key *key);
int p11ca_key_get_bits(const p11ca_key *key); /* modulus or field size */
/* OpenSSL group name of an EC key ("prime256v1", ...), else NULL. */
const char *p11ca_key_get_group(const p11ca_key *key);
const char *p11ca_key_get_label(const p11ca_key *key);
const unsigned char *p11ca_key_get_id(const p11ca_key *key, size_t *plen);
p11ca_token *p11ca_key_get_token(const p11ca_key *key);
/** p11ca_key_get_uri: a URI naming this private key; caller frees with free(). */
char *p11ca_key_get_uri(const p11ca_key *key);

/**
 * p11ca_key_get_public:
 * The public half as an OpenSSL key (from the public-key object,
 * CKA_PUBLIC_KEY_INFO, or a certificate with the same CKA_ID).  The caller
 * owns the returned key (EVP_PKEY_free).  Public parts only.
 */
CK_RV p11ca_key_get_public(p11ca_key *key, EVP_PKEY **ppub);

/** p11ca_key_can_decrypt: 1 if the private key has CKA_DECRYPT. */
int p11ca_key_can_decrypt(const p11ca_key *key);

/* Object listing */
struct p11ca_object_info {
	CK_OBJECT_CLASS klass; /* CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE */
	CK_KEY_TYPE key_type;  /* for keys */
	enum p11ca_key_kind kind;
	int bits;
	char label[128];
	unsigned char id[64];
	size_t id_len;
	/* attribute flags: -1 when the token did not say */
	int sensitive, extractable, always_sensitive, never_extractable, local;
	int private_, token_;
	char *uri; /* owned by the array */
};

/**
 * p11ca_token_list_objects:
 * Lists keys and certificates (login first if the token needs it, so that
 * private keys show).  *pobjs is freed with p11ca_object_list_free().
 */
CK_RV p11ca_token_list_objects(p11ca_token *token, struct p11ca_object_info **pobjs,
                               size_t *pcount);
void p11ca_object_list_free(struct p11ca_object_info *objs, size_t count);

/**
 * p11ca_object_delete:
 * Deletes every object the URI names on exactly one token (with no type=,
 * the private key, public key and certificate that share the id/label).
 * The URI must name at least an object or id.  *pcount receives how many.
 * With type=public or type=cert it does not log in.
 */
CK_RV p11ca_object_delete(p11ca_ctx *ctx, const char *uri, size_t *pcount);

/* What p11ca_lookup() found: exactly one of key, pub, cert is set. */
struct p11ca_found {
	CK_OBJECT_CLASS klass;
	p11ca_key *key; /* CKO_PRIVATE_KEY: a reference (p11ca_key_free) */
	EVP_PKEY *pub;  /* CKO_PUBLIC_KEY: the key (EVP_PKEY_free) */
	X509 *cert;     /* CKO_CERTIFICATE (X509_free) */
	char label[128];
};

/* Classes for p11ca_lookup(). */
#define P11CA_LOOKUP_PRIVATE 0x1u
#define P11CA_LOOKUP_PUBLIC  0x2u
#define P11CA_LOOKUP_CERT    0x4u

/**
 * p11ca_lookup:
 * Everything of the classes in @classes that @uri names on exactly one
 * token (type= in the URI narrows it further).  Logs in only when private
 * keys are asked for.  An empty result is CKR_OK with *pcount 0.  *pfound is
 * freed with p11ca_found_free().
 */
CK_RV p11ca_lookup(p11ca_ctx *ctx, const char *uri, unsigned classes, struct p11ca_found **pfound,
                   size_t *pcount);
void p11ca_found_free(struct p11ca_found *found, size_t count);

/*
 * Search criteria for p11ca_lookup_ex(); every member is optional (NULL /
 * 0), values are borrowed for the call.  Any of subject, issuer, serial or
 * fingerprint restricts the search to certificates.
 */
struct p11ca_lookup_search {
	/* DER Name: CKA_SUBJECT / CKA_ISSUER of certificates */
	const unsigned char *subject;
	size_t subject_len;
	const unsigned char *issuer;
	size_t issuer_len;
	/* DER INTEGER: CKA_SERIAL_NUMBER of certificates */
	const unsigned char *serial;
	size_t serial_len;
	/* certificates whose DER (CKA_VALUE) hashed with @digest is @fingerprint */
	const EVP_MD *digest;
	const unsigned char *fingerprint;
	size_t fingerprint_len;
	unsigned flags; /* P11CA_SEARCH_* */
};
/* Every token the URI matches, one after the other, not exactly one. */
#define P11CA_SEARCH_ALL_TOKENS 0x1u

/**
 * p11ca_lookup_ex:
 * p11ca_lookup() with search criteria (@search may be NULL: the same as
 * p11ca_lookup).  Names and serials are looked for first as the token's
 * attributes (the DER given); when no certificate has them so, in the
 * decoded certificates (X509_NAME_cmp: the same name in another string
 * type matches too).  With P11CA_SEARCH_ALL_TOKENS the objects of every
 * matching token come one token after the other (no matching token at all
 * is P11CA_R_NOT_FOUND, as for one).
 */
CK_RV p11ca_lookup_ex(p11ca_ctx *ctx, const char *uri, unsigned classes,
                      const struct p11ca_lookup_search *search, struct p11ca_found **pfound,
                      size_t *pcount);

/**
 * p11ca_key_store_certificate:
 * Stores @cert on the key's token with the key's CKA_ID and CKA_LABEL and
 * CKA_SUBJECT/ISSUER/SERIAL_NUMBER set.  Does not check that they match.
 */
CK_RV p11ca_key_store_certificate(p11ca_key *key, X509 *cert);

/* ------------------------------------------------------------------ */
/* Signing and decryption                                              */
/* ------------------------------------------------------------------ */

enum p11ca_sig_alg {
	P11CA_SIG_RSA_PKCS1 = 1, /* PKCS#1 v1.5 */
	P11CA_SIG_RSA_PSS,       /* RSASSA-PSS, MGF1 with the same digest */
	P11CA_SIG_ECDSA,         /* output is a DER ECDSA-Sig-Value */
	P11CA_SIG_EDDSA,         /* pure Ed25519 over the message */
	P11CA_SIG_RSA_RAW,       /* raw RSA (CKM_RSA_X_509): the input is the whole block,
	                            modulus-sized, signed as it is; md NULL */
};

struct p11ca_sig_params {
	enum p11ca_sig_alg alg;
	const EVP_MD *md;      /* digest of the input (NULL for EdDSA, or raw RSA PKCS#1) */
	int pss_saltlen;       /* RSA-PSS: salt length in bytes; -1 = digest length,
	                          -2 = the largest that fits */
	const EVP_MD *mgf1_md; /* RSA-PSS: MGF1 digest; NULL = same as md */
};

/**
 * p11ca_key_sign_digest:
 * Signs an already computed digest @dgst (for EdDSA: the whole message) with
 * one C_SignInit + C_Sign on a pooled session.  @sig must hold
 * p11ca_key_max_signature_size() bytes; *psiglen receives the length.
 * Session faults are recovered transparently (reopen, log in again, re-init
 * the module, find the key again by CKA_ID) and the operation retried once.
 * RSA-PSS on a token without CKM_RSA_PKCS_PSS is encoded here and signed
 * with raw RSA (CKM_RSA_X_509); the environment variable P11CA_EMULATE_PSS=1
 * forces that path (for tests).
 */
CK_RV p11ca_key_sign_digest(p11ca_key *key, const struct p11ca_sig_params *params,
                            const unsigned char *dgst, size_t dgstlen, unsigned char *sig,
                            size_t *psiglen);

/**
 * p11ca_key_sign_message:
 * Signs @msg letting the token hash it when it has the combined mechanism
 * (CKM_SHA256_RSA_PKCS ...); otherwise hashes with OpenSSL and calls
 * p11ca_key_sign_digest().
 */
CK_RV p11ca_key_sign_message(p11ca_key *key, const struct p11ca_sig_params *params,
                             const unsigned char *msg, size_t msglen, unsigned char *sig,
                             size_t *psiglen);

/**
 * p11ca_key_needs_message:
 * 1 when a signature with @params can be made with @key only over the
 * whole message (p11ca_key_sign_message), not over a digest: the key's
 * CKA_ALLOWED_MECHANISMS permit the token-hashing mechanism
 * (CKM_SHA256_RSA_PKCS_PSS ...) but not the one that signs a digest.
 */
int p11ca_key_needs_message(p11ca_key *key, const struct p11ca_sig_params *params);

/**
 * p11ca_key_pss_only:
 * 1 if @key is an RSA key whose CKA_ALLOWED_MECHANISMS are all RSA-PSS
 * mechanisms (an RSA-PSS key; its public half is then an RSA-PSS key).
 */
int p11ca_key_pss_only(const p11ca_key *key);

/** p11ca_key_max_signature_size: upper bound for a signature (DER for ECDSA). */
size_t p11ca_key_max_signature_size(const p11ca_key *key);

/**
 * p11ca_uri_has_pin_value:
 * Whether @s holds a pin-value anywhere, in every spelling p11ca_uri_redact()
 * finds (any case, percent-encoded, whitespace inside, in the path or the
 * query, in a file name or a message), whatever its value, "***" included.
 */
int p11ca_uri_has_pin_value(const char *s);

/**
 * p11ca_uri_redact:
 * Copies @uri into @buf (capacity @cap, truncated if needed) with every
 * pin-value replaced by "pin-value=***", for messages and logs.  @uri may be
 * any text: a pin-value is found wherever it is (after '?', '&', ';' or
 * anything else), its name in any case and perhaps percent-encoded, its '='
 * too; its value runs to the end of @uri or to an '&' that starts another
 * query attribute, so whatever else follows it is cut as well.
 * Returns @buf.
 */
char *p11ca_uri_redact(const char *uri, char *buf, size_t cap);

/**
 * p11ca_pubkey_key_id:
 * SHA-1 over the subjectPublicKey bits of @pub (RFC 5280 key identifier,
 * method 1): the CKA_ID p11ca gives a key, and its certificate's SKI.
 */
CK_RV p11ca_pubkey_key_id(EVP_PKEY *pub, unsigned char id[20]);

/* RSA decryption padding for p11ca_key_decrypt(). */
enum p11ca_dec_pad { P11CA_DEC_PKCS1 = 1, P11CA_DEC_OAEP, P11CA_DEC_RAW };
CK_RV p11ca_key_decrypt(p11ca_key *key, enum p11ca_dec_pad pad, const EVP_MD *oaep_md,
                        const EVP_MD *mgf1_md, const unsigned char *label, size_t label_len,
                        const unsigned char *in, size_t inlen, unsigned char *out, size_t *poutlen);

/**
 * p11ca_key_derive_ecdh:
 * ECDH on the token (CKM_ECDH1_DERIVE, no KDF) between EC private key @key
 * and the peer's public point @peer_point (@len bytes, uncompressed
 * 04||X||Y, on the key's curve: the caller checks that).  The shared secret
 * (the X coordinate, the field size in bytes) goes to @out (capacity
 * *poutlen, at least the field size; *poutlen receives its length).  The
 * secret is made as a session object that is readable but never kept:
 * its value is read and the object destroyed at once, on every path.  The
 * point goes to the token as it is, and DER-wrapped (an OCTET STRING) when
 * the token refuses that (CKR_MECHANISM_PARAM_INVALID, _DOMAIN_PARAMS_).
 * A key without CKA_DERIVE gives CKR_KEY_FUNCTION_NOT_PERMITTED and says
 * so.  WARNING: @out holds a secret: the caller wipes it.
 */
CK_RV p11ca_key_derive_ecdh(p11ca_key *key, const unsigned char *peer_point, size_t len,
                            unsigned char *out, size_t *poutlen);

/* ------------------------------------------------------------------ */
/* Helpers shared with the provider and the tool                       */
/* ------------------------------------------------------------------ */

/* Largest PIN accepted, in bytes, plus one for the NUL. */
#define P11CA_PIN_MAX 256

/**
 * p11ca_pin_read_file:
 * Reads a PIN (one line; one trailing "\n" or "\r\n" is stripped) into @buf
 * (capacity @cap), NUL terminated.  The caller wipes @buf (OPENSSL_cleanse).
 * Only a regular file is read, of at most P11CA_PIN_MAX + 1 bytes: a FIFO or
 * a device (/dev/zero) is refused, without waiting for a writer.
 */
CK_RV p11ca_pin_read_file(const char *path, char *buf, size_t cap, size_t *plen);

/**
 * p11ca_pin_file_exposed:
 * 1 when the PIN file @path is readable or writable by its group or by
 * others, with a one-line warning (no PIN, the path redacted) in @why
 * (capacity @cap); 0 otherwise, and when @path cannot be examined.
 */
int p11ca_pin_file_exposed(const char *path, char *why, size_t cap);

/**
 * p11ca_pin_prompt:
 * Asks on /dev/tty, without echo, showing @prompt.  P11CA_R_NO_PIN when there
 * is no terminal.  The caller wipes @buf.
 */
CK_RV p11ca_pin_prompt(const char *prompt, char *buf, size_t cap, size_t *plen);

/**
 * p11ca_ecdsa_raw_to_der:
 * Converts a PKCS#11 ECDSA signature (r || s, each @rawlen/2 bytes) to a DER
 * ECDSA-Sig-Value in @der (capacity *pderlen, updated).  Returns CKR_OK,
 * CKR_BUFFER_TOO_SMALL or CKR_ARGUMENTS_BAD.
 */
CK_RV p11ca_ecdsa_raw_to_der(const unsigned char *raw, size_t rawlen, unsigned char *der,
                             size_t *pderlen);

/* ------------------------------------------------------------------ */
/* Measuring                                                           */
/* ------------------------------------------------------------------ */

struct p11ca_bench_result {
	double raw_per_sec; /* bare C_SignInit+C_Sign loop, one session per thread */
	double lib_per_sec; /* p11ca_key_sign_digest() through the session pool */
	unsigned long raw_count, lib_count;
	unsigned long verify_failures; /* sampled signatures (either side) that did not verify */
	double ratio;                  /* median over the rounds of library/raw rates */
};

/**
 * p11ca_bench_sign:
 * Signs a SHA-256 digest with @key for about @seconds in total, from
 * @threads threads, alternating rounds of a bare PKCS#11 loop on the same
 * token and rounds through libp11ca, so both see the same conditions.
 * RSA keys use PKCS#1 v1.5, EC keys ECDSA, Ed25519 keys EdDSA.  A sample of
 * the library's signatures is verified with OpenSSL.  The rates are totals
 * over all rounds; the ratio is the median of the rounds' own ratios, so a
 * burst of unrelated load during one round does not decide it.
 */
CK_RV p11ca_bench_sign(p11ca_key *key, int threads, double seconds, struct p11ca_bench_result *res);

#ifdef __cplusplus
}
#endif
#endif /* P11CA_H */
