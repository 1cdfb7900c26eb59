/* check.c - see rev.h (placeholder: filled by its owner) */
#include "rev.h"
