/* sign.c - placeholder: its owner replaces it. */
#include "config.h"

#include "core.h"
#include "result.h"

/* the signer threads (B2) */
typedef int srv_sign_placeholder;
