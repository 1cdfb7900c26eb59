/*
 * codec.h - the OCSP server's bytes (tools/serve/, prefix srv_ocsp_): a
 * request read under hard limits (RFC 6960 POST body, or the base64 of an
 * RFC 5019 / RFC 9919 GET path with its known pitfalls), a CA's issuer
 * hashes for matching CertIDs, and a response built and signed for a list
 * of answers (the pre-signed ones and the live ones alike), plus the
 * unsigned error responses.  No I/O, no state: the core (core.h) and the
 * fuzz target call these.
 *
 * Results follow tools/common/result.h.  RES_BAD_INPUT from a parse means
 * the server answers malformedRequest.
 */
#ifndef P11CA_SRV_CODEC_H
#define P11CA_SRV_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* Most CertIDs in one request (more: RES_BAD_INPUT, malformedRequest). */
#define SRV_OCSP_MAX_IDS 32
/* Longest serial (RFC 5280: 20 octets; a little slack for a leading 00). */
#define SRV_SERIAL_MAX 21
/* Longest nonce echoed (RFC 8954: 1 to 32 octets; we take up to 64). */
#define SRV_NONCE_MAX 64
/* Longest issuer hash (SHA-512). */
#define SRV_HASH_MAX 64

/* One CertID of a request. */
struct srv_certid {
	int md_nid; /* NID_sha1, NID_sha256, NID_sha384, NID_sha512,
	               or NID_undef for another algorithm (then the
	               CA is not found: unauthorized) */
	unsigned char name_hash[SRV_HASH_MAX];
	unsigned char key_hash[SRV_HASH_MAX];
	size_t hash_len;                      /* both hashes' length (must be the md's size) */
	unsigned char serial[SRV_SERIAL_MAX]; /* magnitude, big-endian, no leading 00
	                                         (zero: one 00 octet) */
	size_t serial_len;
	int negative;      /* a negative serial: never ours (unknown) */
	int params_absent; /* the hash algorithm came without its NULL parameters
	                      (0, the usual: NULL; srv_ocsp_sign echoes either form) */
};

/* A request, parsed. */
struct srv_ocsp_req {
	size_t n; /* 1 .. SRV_OCSP_MAX_IDS */
	struct srv_certid ids[SRV_OCSP_MAX_IDS];
	int has_nonce;
	/*
	 * The nonce extension's extnValue content, byte for byte as the client
	 * sent it (1 .. SRV_NONCE_MAX octets): pass it to srv_ocsp_sign, which
	 * echoes it unchanged, as clients compare it so (openssl ocsp does).
	 * It usually is itself an OCTET STRING (RFC 8954; what openssl sends):
	 * then nonce + nonce_inner_off, nonce_inner_len octets, are that OCTET
	 * STRING's content, else the whole of it (an offset: the struct may be
	 * copied).
	 */
	unsigned char nonce[SRV_NONCE_MAX];
	size_t nonce_len;
	size_t nonce_inner_off, nonce_inner_len;
	int is_signed; /* carried an optionalSignature (not checked; not required) */
};

/*
 * Parses @len bytes of DER.  RES_BAD_INPUT (with why) for anything that is
 * not exactly one OCSPRequest (trailing bytes, no CertID, more than
 * SRV_OCSP_MAX_IDS, a hash of the wrong length for its algorithm, a serial
 * longer than SRV_SERIAL_MAX, an empty nonce or one longer than
 * SRV_NONCE_MAX, two nonces, a critical extension other than the nonce and
 * acceptable-responses, a version other than v1).  Strict DER (definite,
 * minimal lengths); what it accepts, OpenSSL's d2i_OCSP_REQUEST reads the
 * same (tests/fuzz/ocspreq_fuzzer.c checks it).  Lean: no allocation, about
 * a tenth of d2i_OCSP_REQUEST's time.  The caller caps @len before.
 */
int srv_ocsp_req_parse(const unsigned char *der, size_t len, struct srv_ocsp_req *r);

/*
 * The request bytes of a GET: @raw (@rawlen bytes) is the URL path after
 * the OCSP prefix and its '/', exactly as it came on the request line
 * (not unescaped by the HTTP layer): percent-escapes (%2B, %2F, %3D, any
 * case) are undone, '+' stays '+' (base64, not a space), a ' ' is read as
 * '+' (a client or proxy that unescaped it), '//' inside is kept, padding
 * may be missing; a query string ("?...") is ignored; then base64 (RFC
 * 4648, standard alphabet; the URL-safe '-' '_' are accepted too) into
 * @out (@cap bytes).  RES_BAD_INPUT for anything else, RES_LIMIT when it
 * does not fit.
 */
int srv_ocsp_get_decode(const char *raw, size_t rawlen, unsigned char *out, size_t cap,
                        size_t *plen);

/*
 * A CA's hashes as a CertID with @md_nid names them (RFC 6960 4.1.1): the
 * hash of the DER of @ca's subject name, and of its subjectPublicKey BIT
 * STRING's value; @name_hash and @key_hash hold SRV_HASH_MAX octets, *plen
 * gets their length.  RES_UNSUPPORTED for a @md_nid not in struct
 * srv_certid's list.
 */
int srv_ocsp_issuer_hashes(X509 *ca, int md_nid, unsigned char *name_hash, unsigned char *key_hash,
                           size_t *plen);

/* Who signs: the CA itself, or its delegated responder (certificate included). */
struct srv_signer {
	OSSL_LIB_CTX *libctx; /* the CA's (the p11ca provider for a token key) */
	EVP_PKEY *key;        /* on the token */
	X509 *cert;           /* the responder's certificate, or the CA's */
	int delegated;        /* 1: include @cert in the response's certs */
	const char *md;       /* "sha256", "sha384", "sha512"; ignored for Ed25519/Ed448 */
};

/* One SingleResponse. */
struct srv_single {
	const struct srv_certid *id;      /* echoed as it came (its algorithm, hashes, serial) */
	int status;                       /* V_OCSP_CERTSTATUS_GOOD, _REVOKED, _UNKNOWN */
	int64_t revoked_at;               /* REVOKED */
	int reason;                       /* REVOKED: CRLReason code, -1 none */
	int64_t this_update, next_update; /* next_update 0: none */
};

/*
 * A successful OCSPResponse (DER, malloc'ed into *pder: free()) holding one
 * BasicOCSPResponse over @n (1 .. SRV_OCSP_MAX_IDS) singles: responderID
 * byKey (the SHA-1 of the signer's public key), producedAt @produced_at,
 * the nonce extension when @nonce (its extnValue content: the request's
 * nonce/nonce_len, echoed byte for byte), signed on the token with sg->key
 * (sg->cert included when delegated).  Each CertID's algorithm must be
 * one of struct srv_certid's list.  RES_TOKEN when the token could not
 * sign (its message says why), RES_BAD_INPUT for a bad argument,
 * RES_CRYPTO for anything else.  Thread-safe (one signer used by several
 * threads at once is fine as far as OpenSSL and the provider are).
 */
int srv_ocsp_sign(const struct srv_signer *sg, const struct srv_single *s, size_t n,
                  const unsigned char *nonce, size_t nonce_len, int64_t produced_at,
                  unsigned char **pder, size_t *plen);

/*
 * The unsigned OCSPResponse of error @status (OCSP_RESPONSE_STATUS_
 * MALFORMEDREQUEST, _INTERNALERROR, _TRYLATER, _SIGREQUIRED, _UNAUTHORIZED):
 * static bytes, never freed; NULL for another status.
 */
const unsigned char *srv_ocsp_error(int status, size_t *plen);

#endif
