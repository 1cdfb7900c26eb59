/* error.c - per-thread error messages, logging and CK_RV names. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>

#include "internal.h"

static __thread char err_buf[1024];

CK_RV p11ca_err(CK_RV rv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	return rv;
}

void p11ca_err_clear(void)
{
	err_buf[0] = '\0';
}

P11CA_EXPORT const char *p11ca_error_message(void)
{
	return err_buf;
}

void p11ca_log(p11ca_ctx *ctx, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (ctx == NULL || ctx->log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctx->log_fn(ctx->log_data, buf);
}

void p11ca_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

/* clang-format off: a table, one name a cell */
#define RV(x)                                                                                      \
	{                                                                                          \
		x, #x                                                                              \
	}
static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
	RV(CKR_OK),
	RV(CKR_CANCEL),
	RV(CKR_HOST_MEMORY),
	RV(CKR_SLOT_ID_INVALID),
	RV(CKR_GENERAL_ERROR),
	RV(CKR_FUNCTION_FAILED),
	RV(CKR_ARGUMENTS_BAD),
	RV(CKR_ATTRIBUTE_READ_ONLY),
	RV(CKR_ACTION_PROHIBITED),
	RV(CKR_ATTRIBUTE_SENSITIVE),
	RV(CKR_ATTRIBUTE_TYPE_INVALID),
	RV(CKR_ATTRIBUTE_VALUE_INVALID),
	RV(CKR_DATA_INVALID),
	RV(CKR_DATA_LEN_RANGE),
	RV(CKR_DEVICE_ERROR),
	RV(CKR_DEVICE_MEMORY),
	RV(CKR_DEVICE_REMOVED),
	RV(CKR_FUNCTION_CANCELED),
	RV(CKR_FUNCTION_NOT_SUPPORTED),
	RV(CKR_KEY_HANDLE_INVALID),
	RV(CKR_KEY_SIZE_RANGE),
	RV(CKR_KEY_TYPE_INCONSISTENT),
	RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
	RV(CKR_MECHANISM_INVALID),
	RV(CKR_MECHANISM_PARAM_INVALID),
	RV(CKR_OBJECT_HANDLE_INVALID),
	RV(CKR_OPERATION_ACTIVE),
	RV(CKR_OPERATION_NOT_INITIALIZED),
	RV(CKR_PIN_INCORRECT),
	RV(CKR_PIN_INVALID),
	RV(CKR_PIN_LEN_RANGE),
	RV(CKR_PIN_EXPIRED),
	RV(CKR_PIN_LOCKED),
	RV(CKR_SESSION_CLOSED),
	RV(CKR_SESSION_COUNT),
	RV(CKR_SESSION_HANDLE_INVALID),
	RV(CKR_SESSION_READ_ONLY),
	RV(CKR_SESSION_EXISTS),
	RV(CKR_SIGNATURE_INVALID),
	RV(CKR_TEMPLATE_INCOMPLETE),
	RV(CKR_TEMPLATE_INCONSISTENT),
	RV(CKR_TOKEN_NOT_PRESENT),
	RV(CKR_TOKEN_NOT_RECOGNIZED),
	RV(CKR_TOKEN_WRITE_PROTECTED),
	RV(CKR_USER_ALREADY_LOGGED_IN),
	RV(CKR_USER_NOT_LOGGED_IN),
	RV(CKR_USER_PIN_NOT_INITIALIZED),
	RV(CKR_USER_TYPE_INVALID),
	RV(CKR_BUFFER_TOO_SMALL),
	RV(CKR_CRYPTOKI_NOT_INITIALIZED),
	RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
	RV(CKR_CURVE_NOT_SUPPORTED),
	RV(CKR_DOMAIN_PARAMS_INVALID),
	RV(P11CA_R_BAD_URI),
	RV(P11CA_R_NOT_FOUND),
	RV(P11CA_R_AMBIGUOUS),
	RV(P11CA_R_NO_PIN),
	RV(P11CA_R_PIN_FAILED),
	RV(P11CA_R_PIN_LOCKED),
	RV(P11CA_R_BAD_KEY_TYPE),
	RV(P11CA_R_LABEL_EXISTS),
	RV(P11CA_R_MODULE),
	RV(P11CA_R_UNSUPPORTED),
	RV(P11CA_R_CRYPTO),
};

/* clang-format on */

P11CA_EXPORT const char *p11ca_rv_name(CK_RV rv)
{
	size_t i;

	for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	return "CKR_(unknown)";
}

/* What the codes a user can cause mean, in words. */
static const struct {
	CK_RV rv;
	const char *words;
} rv_words[] = {
	{ CKR_PIN_INCORRECT, "wrong PIN" },
	{ CKR_PIN_INVALID, "the PIN has characters the token does not accept" },
	{ CKR_PIN_LEN_RANGE, "the PIN is too short or too long for this token" },
	{ CKR_PIN_EXPIRED, "the PIN has expired; set a new one" },
	{ CKR_PIN_LOCKED, "the PIN is locked after too many wrong tries" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "the token has no user PIN yet (token init)" },
	{ CKR_USER_NOT_LOGGED_IN, "not logged in" },
	{ CKR_SLOT_ID_INVALID, "no such slot (p11ca token list shows them)" },
	{ CKR_TOKEN_NOT_PRESENT, "no token in that slot" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "the token is not recognised" },
	{ CKR_TOKEN_WRITE_PROTECTED, "the token is write-protected" },
	{ CKR_DEVICE_REMOVED, "the token was removed" },
	{ CKR_DEVICE_MEMORY, "the token is full" },
	{ CKR_DEVICE_ERROR, "the token reported a device error" },
	{ CKR_SESSION_COUNT, "the token has no session free" },
	{ CKR_SESSION_EXISTS, "the token is in use (close other programs using it)" },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, "the key is not allowed to do that" },
	{ CKR_KEY_SIZE_RANGE, "the token does not support that key size" },
	{ CKR_MECHANISM_INVALID, "the token does not support that algorithm" },
	{ CKR_CURVE_NOT_SUPPORTED, "the token does not support that curve" },
	{ CKR_ATTRIBUTE_READ_ONLY, "the token does not allow that attribute to be set" },
	{ CKR_ACTION_PROHIBITED, "the object does not allow that" },
	{ CKR_FUNCTION_NOT_SUPPORTED, "the token does not support that operation" },
	{ CKR_HOST_MEMORY, "out of memory" },
};

P11CA_EXPORT const char *p11ca_rv_text(CK_RV rv)
{
	static __thread char buf[160];
	size_t i;

	for (i = 0; i < sizeof(rv_words) / sizeof(rv_words[0]); i++)
		if (rv_words[i].rv == rv) {
			snprintf(buf, sizeof(buf), "%s (%s)", rv_words[i].words, p11ca_rv_name(rv));
			return buf;
		}
	return p11ca_rv_name(rv);
}
