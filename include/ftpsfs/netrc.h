/*
 * netrc.h - find credentials in the text of a ~/.netrc file.
 *
 * Tokens: machine NAME, default, login NAME, password PW, account X,
 * macdef NAME (its body, up to an empty line, is skipped).  Tokens are
 * separated by any whitespace; a token may be double-quoted with backslash
 * escapes (as GNU inetutils and curl accept).  Pure function over bytes.
 *
 * Details: '#' starts a comment to the end of the line where a keyword is
 * expected ("password #x" is still a password).  A quoted token ends on the
 * same line; a backslash followed by X stands for X.  Keywords are
 * case-sensitive, host names are not; unknown words are skipped.  A value
 * with a NUL byte is -EINVAL.  Parsing stops at the first matching
 * "machine" entry, so errors later in the file go unnoticed.
 */
#ifndef FTPSFS_NETRC_H
#define FTPSFS_NETRC_H

#include <stddef.h>

#define NETRC_FIELD_MAX 1023

struct netrc_match {
	char login[NETRC_FIELD_MAX + 1];    /* "" when the entry has none */
	char password[NETRC_FIELD_MAX + 1]; /* "" when the entry has none */
};

/*
 * Look up @host (case-insensitive) in @text.  If @user is non-NULL and not
 * empty, only an entry whose login equals @user (or that has no login)
 * matches.  The first matching "machine" entry wins; "default" matches when
 * no machine entry does.  Returns 0 and fills @out, -ENOENT if nothing
 * matches, -EINVAL if the text is malformed (unterminated quote, keyword
 * without its value), -ENAMETOOLONG if a matching field is too long (a
 * login too long to store never equals @user).
 * The caller should wipe @out after use (it holds a password).
 */
int netrc_lookup(const char *text, size_t len, const char *host,
		 const char *user, struct netrc_match *out);

#endif
