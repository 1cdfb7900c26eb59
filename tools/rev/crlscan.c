/* crlscan.c - placeholder (the store's owner fills it): the streaming DER CRL walk. */
#include "config.h"
#include "store.h"
