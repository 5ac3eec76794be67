/*
 * credentials.h - who logs in, and the secrets for it.
 *
 * Secrets never come from argv.  The login password comes from ONE
 * explicit source, or else from the netrc file, or else from a person:
 *
 *   -o password_stdin      the first line of standard input
 *   -o credentials=FILE    user=, password=, key_password= (credfile.h);
 *                          refused unless only its owner (you or root) can
 *                          read or write it, as ssh treats private keys
 *   -o askpass=PROGRAM     the first line PROGRAM prints
 *   netrc (-o netrc=FILE, default ~/.netrc): user name and password, when
 *                          none of the three above is given
 *   a prompt               when still nothing: on the terminal (echo off)
 *                          if standard input is one, else through
 *                          $FTPSFS_ASKPASS or $SSH_ASKPASS if set
 *
 * The passphrase of an encrypted client key (cert=/key=) comes from
 * key_password_stdin (the line after the password, if password_stdin is
 * also given), the credentials file, askpass=, or a prompt as above.
 *
 * The password of a proxy= user (proxy.h) comes from proxy_password= in
 * the credentials file, else a netrc "machine" entry for the proxy host
 * whose login is the proxy user, else askpass=, else a prompt as above.
 * It is never taken from password_stdin (that line is the login's).
 *
 * Anonymous login happens only when asked for: the user name is
 * "anonymous" or "ftp", or -o anonymous is given.  It never replaces a
 * missing user name or password.
 */
#ifndef FTPSFS_CREDENTIALS_H
#define FTPSFS_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

#include "ftpsfs/hostspec.h"
#include "ftpsfs/opts.h"
#include "ftpsfs/proxy.h"
#include "ftpsfs/secret.h"

struct credentials {
	struct secret password;	      /* value NULL when none was found */
	struct secret key_password;   /* only for an encrypted client key */
	struct secret proxy_password; /* only for a proxy= with a user */
	bool anonymous;
};

/*
 * Settle hs->user (from the command line, the credentials file or netrc;
 * "anonymous" with -o anonymous) and find the secrets into @cr (zeroed by
 * the caller).  @key_encrypted says whether the client key needs a
 * passphrase; @proxy (NULL: none) whether a proxy password is needed
 * (then @proxy->password points to cr->proxy_password on success).
 * Returns 0, or a negative errno with a message in @err: no user name
 * known, conflicting user names, a credentials file that others may read,
 * stdin or askpass gave nothing, an encrypted key without a passphrase, a
 * proxy user without a password, an unreadable file.  @cr may hold secrets also
 * on failure: wipe it.
 */
int credentials_resolve(const struct ftpsfs_opts *o, struct hostspec *hs,
			bool key_encrypted, struct proxy_spec *proxy,
			struct credentials *cr, char *err, size_t errsz);

/* Wipe and free the secrets.  Safe on a zeroed struct. */
void credentials_wipe(struct credentials *cr);

#endif
