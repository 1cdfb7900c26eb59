/*
 * cmd-crl-common.c - which CRL store the command line uses (cmd-crl.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd-crl.h"
#include "result.h"
#include "tool.h"

const char *tool_crl_store_dir(const char *opt)
{
	static char buf[PATH_MAX];
	const char *env, *home;

	if (opt != NULL && opt[0] != '\0')
		return opt;
	if ((env = getenv("P11CA_CRL_STORE")) != NULL && env[0] != '\0')
		return env;
	if (geteuid() == 0)
		return "/var/lib/p11ca/crls";
	if ((env = getenv("XDG_DATA_HOME")) != NULL && env[0] == '/')
		snprintf(buf, sizeof(buf), "%s/p11ca/crls", env);
	else if ((home = getenv("HOME")) != NULL && home[0] == '/')
		snprintf(buf, sizeof(buf), "%s/.local/share/p11ca/crls", home);
	else
		return "/var/lib/p11ca/crls";
	return buf;
}

/* mkdir -p with mode 0700 for the folders made. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -1;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int tool_crl_store_open(const char *opt, int create, struct rev_store **ps)
{
	const char *dir = tool_crl_store_dir(opt);
	int rc;

	if (create && make_dirs(dir) != 0) {
		tool_errorf("CRL store %s: %s", dir, strerror(errno));
		return TOOL_EXIT_FAIL;
	}
	if ((rc = rev_store_open(dir, create, ps)) != RES_OK) {
		tool_errorf("CRL store %s: %s", dir, res_message());
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}
