/* hex.c - serials, hex and fingerprints through OpenSSL (pki.h). */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki.h"
#include "result.h"

#define SERIAL_OCTETS 20 /* RFC 5280 4.1.2.2 */

/* @n bytes as uppercase hex ("00" for none) into @out (PKI_SERIAL_MAX). */
static int serial_text(const unsigned char *b, size_t n, char *out)
{
	static const unsigned char zero = 0;

	if (n == 0)
		b = &zero, n = 1;
	if (n > SERIAL_OCTETS)
		return res_set(RES_BAD_INPUT, "a serial of %zu octets (at most %d, RFC 5280)", n,
		               SERIAL_OCTETS);
	if (OPENSSL_buf2hexstr_ex(out, PKI_SERIAL_MAX, NULL, b, n, '\0') != 1)
		return res_ossl(RES_FAIL, "formatting a serial");
	return RES_OK;
}

int pki_serial_normalise(const char *in, char *out)
{
	/* digits[0] is a '0' put in front of an odd number of digits */
	char digits[2 * SERIAL_OCTETS + 2];
	unsigned char bin[SERIAL_OCTETS];
	size_t n = 0, i, zeros = 0, blen = 0;
	int rc;

	if (strncasecmp(in, "0x", 2) == 0)
		in += 2;
	/* the digits, leading zeros dropped (the serial is a number) */
	for (i = 0; in[i] != '\0'; i++) {
		if (in[i] == ':')
			continue;
		if (!isxdigit((unsigned char)in[i]))
			return res_set(RES_BAD_INPUT, "serial '%.64s' is not hexadecimal", in);
		if (n == 0 && in[i] == '0') {
			zeros++;
			continue;
		}
		if (n == 2 * SERIAL_OCTETS)
			return res_set(RES_BAD_INPUT,
			               "serial '%.64s%s' is longer than %d octets "
			               "(RFC 5280)",
			               in, strlen(in) > 64 ? "..." : "", SERIAL_OCTETS);
		digits[1 + n++] = in[i];
	}
	if (n == 0 && zeros == 0)
		return res_set(RES_BAD_INPUT, "empty serial");
	digits[0] = '0';
	digits[1 + n] = '\0';
	/* whole bytes, through OpenSSL's hex decoder */
	if (n > 0 && OPENSSL_hexstr2buf_ex(bin, sizeof(bin), &blen, digits + 1 - n % 2, '\0') != 1)
		return res_ossl(RES_BAD_INPUT, "serial '%.64s'", in);
	if ((rc = serial_text(bin, blen, out)) != RES_OK)
		return res_prefix(rc, "serial '%.64s'", in);
	return RES_OK;
}

int pki_serial_of(const ASN1_INTEGER *sn, char *out)
{
	BIGNUM *bn = NULL;
	unsigned char bin[SERIAL_OCTETS];
	int n, rc;

	if (sn == NULL)
		return res_set(RES_BAD_INPUT, "no serial");
	if ((bn = ASN1_INTEGER_to_BN(sn, NULL)) == NULL)
		return res_ossl(RES_BAD_INPUT, "reading a serial");
	if (BN_is_negative(bn)) {
		rc = res_set(RES_BAD_INPUT, "a negative serial (RFC 5280 wants a positive one)");
		goto out;
	}
	if ((n = BN_num_bytes(bn)) > SERIAL_OCTETS) {
		rc = res_set(RES_BAD_INPUT, "a serial of %d octets (at most %d, RFC 5280)", n,
		             SERIAL_OCTETS);
		goto out;
	}
	n = BN_bn2bin(bn, bin);
	rc = serial_text(bin, (size_t)n, out);
out:
	BN_free(bn);
	return rc;
}

void pki_hex(char *out, const unsigned char *p, size_t len)
{
	size_t i;

	out[0] = '\0';
	if (len == 0 || OPENSSL_buf2hexstr_ex(out, 2 * len + 1, NULL, p, len, '\0') != 1) {
		ERR_clear_error();
		return;
	}
	/* OpenSSL writes uppercase */
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

int pki_fingerprint(const X509 *x, const char *mdname, int colons, char *out, size_t cap)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD *md = NULL;
	int rc = RES_OK;

	if (cap > 0)
		out[0] = '\0';
	if ((md = EVP_MD_fetch(NULL, mdname, NULL)) == NULL) {
		rc = res_ossl(RES_CRYPTO, "digest %s", mdname);
		goto out;
	}
	if (X509_digest(x, md, d, &n) != 1) {
		rc = res_ossl(RES_CRYPTO, "the %s fingerprint", mdname);
		goto out;
	}
	if (cap < (colons ? 3 * (size_t)n : 2 * (size_t)n + 1)) {
		rc = res_set(RES_FAIL, "a %s fingerprint does not fit in %zu bytes", mdname, cap);
		goto out;
	}
	if (colons) {
		if (OPENSSL_buf2hexstr_ex(out, cap, NULL, d, n, ':') != 1)
			rc = res_ossl(RES_FAIL, "formatting a fingerprint");
	} else {
		pki_hex(out, d, n);
	}
out:
	EVP_MD_free(md);
	return rc;
}
