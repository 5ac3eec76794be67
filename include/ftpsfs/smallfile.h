/*
 * smallfile.h - read a whole small file (netrc, credentials, known_hosts).
 */
#ifndef FTPSFS_SMALLFILE_H
#define FTPSFS_SMALLFILE_H

#include <stddef.h>

/*
 * Read the regular file open on @fd, from offset 0, if it has at most
 * @max bytes.  Returns 0 with *text (malloc'd and NUL-terminated; wipe it
 * before free() when it holds secrets) and its length *len; -EINVAL for
 * a file that is not regular, -EFBIG when larger than @max, -ENOMEM, or
 * another negative errno.
 */
int small_file_read(int fd, size_t max, char **text, size_t *len);

#endif
