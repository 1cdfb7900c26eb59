/* readfile.c - the whole of a regular file, within a limit (readfile.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readfile.h"
#include "result.h"

/*
 * The whole of @path, a regular file of at most @max bytes (NUL-terminated,
 * free(); *plen its length): a FIFO or a device is refused rather than waited on or read
 * without end.  RES_NOT_FOUND when it does not exist.
 */
int res_read_regular(const char *path, size_t max, unsigned char **pbuf, size_t *plen)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t len = 0;
	ssize_t got;
	int fd, rc;

	*pbuf = NULL;
	/* O_NONBLOCK: opening a FIFO does not wait for a writer */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0)
		return res_set(errno == ENOENT ? RES_NOT_FOUND : RES_IO, "cannot open %s: %s", path,
		               strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = res_set(RES_BAD_INPUT, "%s: not a regular file", path);
		goto out;
	}
	if ((uintmax_t)st.st_size > (uintmax_t)max) {
		rc = res_set(RES_BAD_INPUT, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = res_set(RES_NOMEM, "out of memory");
		goto out;
	}
	/* no more than fstat said, even when the file grows meanwhile */
	while (len < (size_t)st.st_size &&
	       ((got = read(fd, buf + len, (size_t)st.st_size - len)) > 0 ||
	        (got < 0 && errno == EINTR)))
		if (got > 0)
			len += (size_t)got;
	if (len != (size_t)st.st_size) {
		rc = res_set(RES_IO, "cannot read %s", path);
		goto out;
	}
	buf[len] = '\0';
	*pbuf = buf;
	*plen = len;
	buf = NULL;
	rc = RES_OK;
out:
	free(buf);
	close(fd);
	return rc;
}
