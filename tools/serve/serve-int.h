/*
 * serve-int.h - what the parts of tools/serve/ share inside the library
 * (the core's, the signer's and the cache's internal structures).  Not
 * for callers outside tools/serve/.  Placeholder: the core's owner fills it.
 */
#ifndef P11CA_SRV_INT_H
#define P11CA_SRV_INT_H

#include "core.h"
#include "codec.h"

#endif
