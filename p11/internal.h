/*
 * internal.h - shared between the files of libp11ca; not installed.
 * Prefix p11ca_<module>_ for internal functions, plain p11ca_ for public.
 */
#ifndef P11CA_INTERNAL_H
#define P11CA_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>
#include <p11-kit/uri.h>

#include "p11ca.h"

#define P11CA_EXPORT __attribute__((visibility("default")))

/* ---- errors (error.c) ---- */

/* Sets the thread's error message and returns @rv, for `return p11ca_err(...)`. */
CK_RV p11ca_err(CK_RV rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void p11ca_err_clear(void);

/* Log through the context's callback (verbose output).  Never pass a PIN. */
void p11ca_log(p11ca_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- modules (module.c) ---- */

struct p11ca_module {
	CK_FUNCTION_LIST *fl; /* unmanaged function list from p11-kit */
	char *name;           /* registry name or file name */
	char *path;
	pthread_mutex_t lock; /* protects initialised/pid/generation */
	int initialised;
	pid_t pid;           /* process that initialised it */
	unsigned generation; /* bumped at every (re)initialisation */
	unsigned fork_gen;   /* fork generation it was initialised in */
	int owned;           /* our C_Initialize succeeded: ours to finalise */
	/* Held for reading around every call into the module (session
	 * operations, slot lists, token infos: p11ca_module_enter), for
	 * writing while it is finalised and initialised again, so no thread
	 * is inside the module then.  Prefers writers. */
	pthread_rwlock_t calls;
};

/* Makes sure @mod is initialised in this process (after fork: again).
 * *pgen receives the current generation. */
CK_RV p11ca_module_ensure(struct p11ca_module *mod, unsigned *pgen);
/*
 * Every call into a module holds its calls lock for reading: enter before,
 * leave after (nested entries by the same thread count, so a thread may
 * enter again).  Returns 0 when it could not (this thread is inside
 * another module and this one is being re-initialised now, or it is
 * inside too many): then do not call the module.  Order: enter a module
 * before taking ctx->lock or a token's lock, never after.
 */
int p11ca_module_enter(struct p11ca_module *mod);
void p11ca_module_leave(struct p11ca_module *mod);
/* Finalises and initialises @mod again after an HSM restart, unless somebody
 * already did since generation @seen_gen. */
CK_RV p11ca_module_reinit(struct p11ca_module *mod, unsigned seen_gen);
/*
 * How many contexts of this process hold module @fl (p11ca_ctx_new adds
 * one, freeing the context takes it away), after adding @delta: a module
 * another context may be inside is never finalised (a server keeps one
 * context per CA, and reloads keys while the others sign).
 */
int p11ca_module_users(CK_FUNCTION_LIST *fl, int delta);

/* ---- tokens and the session pool (token.c, pool.c) ---- */

struct p11ca_token {
	p11ca_ctx *ctx;
	struct p11ca_module *mod;
	CK_SLOT_ID slot;
	struct p11ca_token_info info;
	int present;

	pthread_mutex_t lock; /* pool, login state, mechanisms */
	pthread_cond_t cond;  /* a session came back to the pool */
	CK_SESSION_HANDLE *idle;
	size_t nidle, idle_cap;
	size_t nopen;        /* sessions open in this generation (idle + lent) */
	size_t max_open;     /* 0 = no limit known yet */
	unsigned generation; /* module generation the pool belongs to */
	int logged_in;
	int pin_failed; /* a PIN was refused: never retried automatically */
	int login_in_progress;

	CK_MECHANISM_TYPE *mechs;
	CK_ULONG nmechs;
	int mechs_loaded;

	/* PIN source from the URI that found this token (wiped on free) */
	char *uri_pin_value;
	char *uri_pin_source;
};

/* A session lent by the pool, with the generation it was opened in. */
struct p11ca_session {
	CK_SESSION_HANDLE h;
	unsigned generation;
};

CK_RV p11ca_token_new(p11ca_ctx *ctx, struct p11ca_module *mod, CK_SLOT_ID slot,
                      const CK_TOKEN_INFO *ti, p11ca_token **ptoken);
void p11ca_token_free(p11ca_token *t);
void p11ca_token_fill_info(struct p11ca_token_info *info, const CK_TOKEN_INFO *ti);
/* Re-reads C_GetTokenInfo (and relocates the slot by serial if needed). */
CK_RV p11ca_token_update_info(p11ca_token *t);

/* Borrows a session; logs in first when @login and the token needs it. */
CK_RV p11ca_pool_get(p11ca_token *t, int login, struct p11ca_session *ps);
/* Returns a session.  @rv is the result of its last call: a session fault
 * makes the pool drop it instead of keeping it. */
void p11ca_pool_put(p11ca_token *t, struct p11ca_session *s, CK_RV rv);
/* Forgets every session (after fork/reinit they are not ours any more). */
void p11ca_pool_reset_locked(p11ca_token *t);
/* Closes every pooled session (token removed); logged_in is cleared. */
void p11ca_pool_close_all(p11ca_token *t);
/* Logs the user in through session @s unless already logged in. */
CK_RV p11ca_token_login_session(p11ca_token *t, CK_SESSION_HANDLE s);

/* Recovery classes of a CK_RV. */
enum p11ca_fault {
	P11CA_FAULT_NONE = 0,
	P11CA_FAULT_SESSION, /* session handle invalid / closed */
	P11CA_FAULT_LOGIN,   /* user not logged in */
	P11CA_FAULT_TOKEN,   /* device removed / token not present */
	P11CA_FAULT_MODULE,  /* module not initialised / device error */
	P11CA_FAULT_OBJECT,  /* object or key handle invalid */
};
enum p11ca_fault p11ca_fault_of(CK_RV rv);

/*
 * Runs @fn on a pooled session of @t with the recovery policy: on a fault
 * it repairs (reopen, log in, re-initialise the module, find @key again) and
 * runs @fn once more.  @key may be NULL.
 */
typedef CK_RV (*p11ca_op_fn)(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *key, void *data);
CK_RV p11ca_token_run(p11ca_token *t, p11ca_key *key, int login, p11ca_op_fn fn, void *data);

/* ---- PIN (pin.c) ---- */

/* Fetches the user PIN into @buf (capacity P11CA_PIN_MAX), NUL terminated,
 * from the sources in order.  The caller wipes @buf. */
CK_RV p11ca_pin_fetch(p11ca_token *t, char *buf, size_t *plen);
/* 1 if a PIN source other than the prompt is set (URI, PIN file, P11CA_PIN). */
int p11ca_pin_source_configured(p11ca_token *t);
/* Resolves a pin-source value ("file:/path" or "/path") into a path. */
CK_RV p11ca_pin_source_path(const char *source, char *path, size_t cap);

/* ---- URIs (uri.c) ---- */

/* Parses a pkcs11: URI strictly: unknown attributes are an error naming
 * them.  *puri is freed with p11_kit_uri_free(). */
CK_RV p11ca_uri_parse(const char *str, P11KitUri **puri);
/*
 * p11ca_uri_parse() for a URI given to @ctx: when @ctx takes a pin-value in
 * the path (p11ca_ctx_set_uri_path_pin), "pkcs11:id=%01;pin-value=1234" is
 * read as "pkcs11:id=%01?pin-value=1234" first.  @ctx may be NULL (strict).
 */
CK_RV p11ca_ctx_uri_parse(p11ca_ctx *ctx, const char *str, P11KitUri **puri);
/* A hint for a URI written with ',' between attributes ("; URI attributes
 * are separated by ';' ..."), or "": appended to "nothing matches" messages. */
const char *p11ca_uri_comma_hint(const char *uri);
/* @uri redacted for a message, in a per-thread buffer (one per message). */
const char *p11ca_uri_safe(const char *uri);
/* Wipes the pin-value p11-kit keeps, then frees @uri.  NULL is fine. */
void p11ca_uri_free(P11KitUri *uri);
/* 1 if @uri's module/slot/token attributes match token @t. */
int p11ca_uri_match_token(P11KitUri *uri, p11ca_token *t);
/* Fills @tmpl with the URI's object=, id= (and type= with @with_class);
 * the values point into @uri.  Returns how many. */
CK_ULONG p11ca_uri_object_template(P11KitUri *uri, CK_ATTRIBUTE tmpl[3], int with_class);
/* 1 if the URI names anything below the token (object, id, type). */
int p11ca_uri_has_object(P11KitUri *uri);
/* A URI for an object on @t; caller frees. */
char *p11ca_uri_for_object(p11ca_token *t, CK_OBJECT_CLASS klass, const char *label,
                           const unsigned char *id, size_t id_len);

/* ---- context (ctx.c) ---- */

struct p11ca_ctx {
	CK_FUNCTION_LIST **kit_modules; /* as returned by p11_kit_modules_load */
	CK_FUNCTION_LIST *kit_single;   /* or p11_kit_module_load */
	struct p11ca_module **mods;
	size_t nmods;
	pthread_mutex_t lock; /* token list */
	p11ca_token **tokens;
	size_t ntokens, tokens_cap;
	int refreshed;
	char *pin_file;
	int allow_prompt;
	p11ca_log_fn log_fn;
	void *log_data;
	OSSL_LIB_CTX *libctx; /* for public keys and certificates */
	char *propq;
	int uri_path_pin; /* p11ca_ctx_set_uri_path_pin */
};

/* Finds the token a URI names (parsed already) and takes its PIN source. */
CK_RV p11ca_ctx_find_token(p11ca_ctx *ctx, P11KitUri *uri, const char *uristr,
                           p11ca_token **ptoken);
/* Every token a URI names (at least one, else the error of
 * p11ca_ctx_find_token), each taking its PIN source; *ptokens (borrowed
 * tokens) is freed with free(). */
CK_RV p11ca_ctx_find_tokens(p11ca_ctx *ctx, P11KitUri *uri, const char *uristr,
                            p11ca_token ***ptokens, size_t *pcount);

/* ---- keys and objects (key.c, object.c) ---- */

struct p11ca_key {
	int refs; /* atomic */
	p11ca_token *token;
	pthread_mutex_t lock;    /* the cached public key */
	CK_OBJECT_HANDLE handle; /* atomic loads/stores: read on every signature */
	unsigned handle_generation;
	CK_KEY_TYPE key_type;
	enum p11ca_key_kind kind;
	int bits;
	unsigned char *id;
	size_t id_len;
	char *label;
	int can_decrypt;
	int always_authenticate;
	const char *group; /* EC: static group name */
	EVP_PKEY *pub;     /* cached public half, under lock */
	/* CKA_ALLOWED_MECHANISMS, read once when found (allowed.c); none
	 * (nallowed 0) means every mechanism is allowed */
	CK_MECHANISM_TYPE *allowed;
	size_t nallowed;
};

/* Builds a key object for private key @h found on session @s. */
CK_RV p11ca_key_from_handle(p11ca_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            p11ca_key **pkey);
/* Finds the key's handle again by CKA_ID (and label) after it went stale,
 * on session @s of module generation @gen. */
CK_RV p11ca_key_refind(p11ca_key *key, CK_SESSION_HANDLE s, unsigned gen);

/* Reads one attribute into a new buffer (freed with free()). */
CK_RV p11ca_attr_get(p11ca_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                     CK_ATTRIBUTE_TYPE type, unsigned char **pval, CK_ULONG *plen);
/* Reads a CK_BBOOL attribute: 1, 0, or -1 when unavailable. */
int p11ca_attr_bool(p11ca_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                    CK_ATTRIBUTE_TYPE type);
/* C_FindObjects* over @tmpl; *phandles freed with free(). */
CK_RV p11ca_find_objects(p11ca_token *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_OBJECT_HANDLE **phandles, CK_ULONG *pcount);

/* ---- allowed mechanisms (allowed.c) ---- */

/* Reads CKA_ALLOWED_MECHANISMS of @key (handle on session @s) into it. */
void p11ca_key_read_allowed(p11ca_token *t, CK_SESSION_HANDLE s, p11ca_key *key);
/* 1 if @key's CKA_ALLOWED_MECHANISMS permit @mech (no list: all do). */
int p11ca_key_allows(const p11ca_key *key, CK_MECHANISM_TYPE mech);
/* Sets the error "@what with key ... is not allowed: the key allows only
 * ..." and returns CKR_MECHANISM_INVALID. */
CK_RV p11ca_key_not_allowed(const p11ca_key *key, const char *what);
/* The token-hashing mechanism for @alg (PKCS#1 v1.5 or PSS) with @md
 * (CKM_SHA256_RSA_PKCS_PSS ...), or CKM_VENDOR_DEFINED. */
CK_MECHANISM_TYPE p11ca_sig_hash_mech(enum p11ca_sig_alg alg, const EVP_MD *md);
/* How @key signs an RSA-PSS digest: CKM_RSA_PKCS_PSS, or CKM_RSA_X_509
 * (encoded here); returns 0 when neither is allowed and there. */
int p11ca_key_pss_digest_mech(p11ca_key *key, CK_MECHANISM_TYPE *pmech);

/* ---- key generation templates (keygen.c) ---- */

struct p11ca_keyspec {
	enum p11ca_key_kind kind;
	int bits;                    /* RSA modulus / EC field */
	const char *curve;           /* OpenSSL group name for EC */
	const unsigned char *params; /* DER CKA_EC_PARAMS */
	size_t params_len;
	CK_ULONG modulus_bits; /* CKA_MODULUS_BITS storage for the template */
};
/* Parses "rsa:2048", "ec:p256", "ed25519" ...; refuses RSA > 4096 without
 * P11CA_GEN_FORCE and RSA < 2048 always. */
CK_RV p11ca_keyspec_parse(const char *type, unsigned flags, struct p11ca_keyspec *spec);
/* Maximum number of attributes in a generated template. */
#define P11CA_TMPL_MAX 16
/* Fills the public and private templates for @spec.  The templates point
 * into @spec, @label, @id and static data. */
void p11ca_keygen_templates(const struct p11ca_keyspec *spec, const char *label,
                            const unsigned char *id, size_t id_len, unsigned flags,
                            CK_ATTRIBUTE *pub, CK_ULONG *npub, CK_ATTRIBUTE *priv, CK_ULONG *npriv);

/* ---- public keys (pubkey.c) ---- */

/* EVP_PKEY from a public-key object's attributes. */
CK_RV p11ca_pubkey_from_object(p11ca_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                               CK_KEY_TYPE kt, EVP_PKEY **ppub);
/* Maps CKA_EC_PARAMS (an OID) to an OpenSSL group name; NULL if unknown. */
const char *p11ca_ec_params_group(const unsigned char *params, size_t len, int *pbits);

/* ---- signing helpers (sign.c) ---- */

/* Builds the DER DigestInfo for @md over @dgst into @out (capacity *poutlen). */
CK_RV p11ca_digest_info(const EVP_MD *md, const unsigned char *dgst, size_t dgstlen,
                        unsigned char *out, size_t *poutlen);
/* PKCS#11 mechanism for a digest (CKM_SHA256 ...) and MGF (CKG_MGF1_SHA256 ...). */
CK_MECHANISM_TYPE p11ca_md_mech(const EVP_MD *md);
CK_RSA_PKCS_MGF_TYPE p11ca_md_mgf(const EVP_MD *md);

/* Best-effort wipe that the compiler keeps. */
void p11ca_wipe(void *p, size_t len);

#endif /* P11CA_INTERNAL_H */
