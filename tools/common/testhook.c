/*
 * testhook.c - test-only crash points (testhook.h).
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "testhook.h"

void testhook_crash(const char *point)
{
	/* passes of the named point, over all threads (the one counter a test needs) */
	static unsigned long passes;
	const char *want = getenv("P11CA_TEST_CRASH");
	size_t len;
	unsigned long n = 1;

	if (want == NULL || *want == '\0')
		return;
	len = strlen(point);
	if (strncmp(want, point, len) != 0 || (want[len] != '\0' && want[len] != ':'))
		return;
	if (want[len] == ':')
		n = strtoul(want + len + 1, NULL, 10);
	if (__atomic_add_fetch(&passes, 1, __ATOMIC_SEQ_CST) == n)
		raise(SIGKILL);
}
