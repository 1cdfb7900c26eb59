/* cmd-serve.c - placeholder: its owner replaces it. */
#include "config.h"

#include "tool.h"
#include "result.h"

int tool_serve(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	tool_errorf("serve: not built yet");
	return TOOL_EXIT_FAIL;
}
