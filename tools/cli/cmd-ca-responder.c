/* cmd-ca-responder.c - placeholder: its owner replaces it. */
#include "config.h"

#include "cmd-ca.h"
#include "result.h"

int tool_ca_responder(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	tool_errorf("ca responder: not built yet");
	return TOOL_EXIT_FAIL;
}
