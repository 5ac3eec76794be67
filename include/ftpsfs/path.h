/*
 * path.h - joining a remote directory and a name into one path.
 *
 * Remote paths are absolute and kept without a trailing '/' except the
 * root itself ("/"; hostspec.c and ftp_root.h make them so), so a name is
 * appended with exactly one '/': "/" + "a" is "/a", "/d" + "a" is "/d/a".
 * Pure functions: no I/O, no globals.
 */
#ifndef FTPSFS_PATH_H
#define FTPSFS_PATH_H

#include <stddef.h>

/*
 * @dir, a '/' unless @dir is "/" or @name is empty, and @name, into @out
 * (@outsz bytes).  Returns 0, or -ENAMETOOLONG when the result does not
 * fit (then @out holds a cut, still NUL-terminated string: do not use it).
 */
int path_join(char *out, size_t outsz, const char *dir, const char *name);

/* The same into a new string (the caller frees it), or NULL when out of
 * memory. */
char *path_join_new(const char *dir, const char *name);

#endif
