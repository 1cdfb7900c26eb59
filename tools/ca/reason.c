/* reason.c - RFC 5280 CRLReason codes and their names. */
#include "config.h"

#include <strings.h>

#include "ca.h"

/* RFC 5280 CRLReason codes; 7 is unused, 8 (removeFromCRL) is for delta CRLs */
static const char *const reasons[] = {
	"unspecified", "keyCompromise",        "cACompromise",    "affiliationChanged",
	"superseded",  "cessationOfOperation", "certificateHold", NULL,
	NULL,          "privilegeWithdrawn",   "aACompromise"
};

const char *ca_reason_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof(reasons) / sizeof(reasons[0]))
		return NULL;
	return reasons[code];
}

int ca_reason_code(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i] != NULL && strcasecmp(reasons[i], name) == 0)
			return (int)i;
	return -1;
}
