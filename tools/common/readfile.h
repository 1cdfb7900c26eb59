/*
 * readfile.h - reading a whole file that comes from outside: only a regular
 * file, only up to a limit (RES_* codes and messages, result.h).
 */
#ifndef P11CA_TOOLS_READFILE_H
#define P11CA_TOOLS_READFILE_H

#include <stddef.h>

/*
 * The whole of @path, a regular file of at most @max bytes (NUL-terminated,
 * free(); *plen its length): a FIFO or a device is refused rather than waited on or read
 * without end.  RES_NOT_FOUND when it does not exist.
 */
int res_read_regular(const char *path, size_t max, unsigned char **pbuf, size_t *plen);

#endif
