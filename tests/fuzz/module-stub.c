/*
 * module-stub.c - for fuzz targets that link p11/uri.c without the rest of
 * libp11ca: its token matching calls into a module between these two
 * (p11/module.c), which those targets never do.
 */
#include "config.h"

#include "internal.h"

int p11ca_module_enter(struct p11ca_module *mod)
{
	(void)mod;
	return 0;
}

void p11ca_module_leave(struct p11ca_module *mod)
{
	(void)mod;
}
