/* cache.c - placeholder: its owner replaces it. */
#include "config.h"

#include "core.h"
#include "result.h"

/* the pre-signed responses (B2) */
typedef int srv_cache_placeholder;
