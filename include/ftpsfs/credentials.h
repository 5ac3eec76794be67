/*
 * credentials.h - find the user name and password for the mount.
 *
 * Sources, never argv: -o password_stdin (one line on standard input), or
 * the netrc file (-o netrc=FILE, default ~/.netrc), which may also supply
 * the user name.
 */
#ifndef FTPSFS_CREDENTIALS_H
#define FTPSFS_CREDENTIALS_H

#include <stddef.h>

#include "ftpsfs/hostspec.h"
#include "ftpsfs/opts.h"
#include "ftpsfs/secret.h"

/*
 * Fill @pw (and hs->user if it is empty and netrc has a login).  Returns 0,
 * or a negative errno with a message in @err (no user name known, stdin
 * empty, unreadable netrc).
 */
int credentials_resolve(const struct ftpsfs_opts *o, struct hostspec *hs,
			struct secret *pw, char *err, size_t errsz);

#endif
