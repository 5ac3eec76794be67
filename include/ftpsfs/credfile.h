/*
 * credfile.h - the text of a credentials=FILE file.
 *
 * The format mount.cifs users know, one "key=value" per line:
 *
 *     user=alice
 *     password=s3cret with spaces
 *     key_password=passphrase of the client key
 *     proxy_password=password of the proxy= user
 *
 * Keys: user (or username), password (or pass), key_password,
 * proxy_password.  Blanks
 * around the key are ignored; the value is everything after the first '='
 * up to the end of the line, taken literally (a trailing CR is dropped, so
 * files written on Windows work).  Empty lines and lines whose first
 * non-blank character is '#' are comments.  An unknown key, a line without
 * '=', a key given twice or a NUL byte is an error that names the line: a
 * typo must not silently turn into "no password".
 *
 * Pure function over bytes: no I/O, no globals.  The checks on the file
 * itself (owner, mode) are in credentials.c.
 */
#ifndef FTPSFS_CREDFILE_H
#define FTPSFS_CREDFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "ftpsfs/hostspec.h"
#include "ftpsfs/secret.h"

struct credfile {
	char user[HOSTSPEC_USER_MAX + 1];    /* "" when absent */
	char password[SECRET_MAX + 1];	     /* "" when absent */
	char key_password[SECRET_MAX + 1];   /* "" when absent */
	char proxy_password[SECRET_MAX + 1]; /* "" when absent */
	bool has_user, has_password, has_key_password, has_proxy_password;
};

/*
 * Parse @len bytes of @text into @out (zeroed first).  Returns 0, or
 * -EINVAL with the 1-based number of the offending line in *bad_line, or
 * -ENAMETOOLONG (a value longer than its field) with *bad_line set.  The
 * caller wipes @out after use (it holds secrets), also on failure.
 */
int credfile_parse(const char *text, size_t len, struct credfile *out,
		   unsigned *bad_line);

#endif
