/* attr.c - reading attributes and finding objects on a session. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

CK_RV p11ca_attr_get(p11ca_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                     CK_ATTRIBUTE_TYPE type, unsigned char **pval, CK_ULONG *plen)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv;

	*pval = NULL;
	*plen = 0;
	rv = t->mod->fl->C_GetAttributeValue(s, h, &a, 1);
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	a.pValue = malloc(a.ulValueLen ? a.ulValueLen : 1);
	if (a.pValue == NULL)
		return CKR_HOST_MEMORY;
	rv = t->mod->fl->C_GetAttributeValue(s, h, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*pval = a.pValue;
	*plen = a.ulValueLen;
	return CKR_OK;
}

int p11ca_attr_bool(p11ca_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = CK_FALSE;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	if (t->mod->fl->C_GetAttributeValue(s, h, &a, 1) != CKR_OK || a.ulValueLen != sizeof(v))
		return -1;
	return v ? 1 : 0;
}

CK_RV p11ca_find_objects(p11ca_token *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_OBJECT_HANDLE **phandles, CK_ULONG *pcount)
{
	CK_FUNCTION_LIST *fl = t->mod->fl;
	CK_OBJECT_HANDLE *all = NULL, *na;
	CK_ULONG count = 0, cap = 0, got;
	CK_RV rv;

	*phandles = NULL;
	*pcount = 0;
	if ((rv = fl->C_FindObjectsInit(s, tmpl, n)) != CKR_OK)
		return rv;
	for (;;) {
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			na = realloc(all, cap * sizeof(*all));
			if (na == NULL) {
				rv = CKR_HOST_MEMORY;
				break;
			}
			all = na;
		}
		rv = fl->C_FindObjects(s, all + count, cap - count, &got);
		if (rv != CKR_OK || got == 0)
			break;
		count += got;
	}
	(void)fl->C_FindObjectsFinal(s);
	if (rv != CKR_OK) {
		free(all);
		return rv;
	}
	*phandles = all;
	*pcount = count;
	return CKR_OK;
}
