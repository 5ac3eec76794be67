/*
 * hostspec.h - parse the remote argument of the command line.
 *
 * Accepted forms:
 *   [user@]host[:port][:/path]          explicit TLS (AUTH TLS), port 21
 *   [user@]host[:port][:path]           path relative to the login directory
 *   ftp://[user@]host[:port][/path]     explicit TLS (TLS is still required)
 *   ftpes://...                         explicit TLS (FileZilla's name)
 *   ftps://[user@]host[:port][/path]    implicit TLS, port 990
 * host may be a DNS name, an IPv4 literal or an IPv6 literal in brackets.
 * In the plain form the user is everything before the LAST '@' (user names
 * are often e-mail addresses); in URLs user and path are percent-decoded and
 * an '@' in the user must be written %40.  A password in the URL
 * (user:pw@host) is refused: passwords never go on the command line.
 *
 * Clarifications of the forms above:
 *   - plain form: the host ends at the first ':' outside "[...]", so a
 *     plain-form user cannot contain ':'.  After "host:", digits up to the
 *     next ':' (or the end) are a port: "host:2121", "host:2121:/p" and
 *     "host:2121:p" have a port, "host:/p" and "host:p" do not.  A relative
 *     path made only of digits is therefore read as a port; write
 *     "host:./2024" or "host:21:2024".  "host" and "host:" both mean the
 *     login directory.  IPv6 needs brackets: "[::1]:2121:/p".
 *   - plain form: a tail that contains '@' and does not start with '/',
 *     '.' or a port is refused as a likely "user:password@host"; write a
 *     relative path with an '@' as "host:./a@b".
 *   - URLs follow RFC 1738 section 3.2.2 (as curl and lftp do): the '/'
 *     after the authority only separates it, so "ftp://h/pub" is "pub" in
 *     the login directory, and "ftp://h//pub" or "ftp://h/%2Fpub" is the
 *     absolute "/pub".  '?' and '#' are ordinary path characters.
 *   - host names may hold letters, digits, '-', '.', '_' and UTF-8 bytes;
 *     IPv6 zone ids ("%eth0") are not supported.
 *   - anything starting with "name://" is a URL, so "host:///p" is refused
 *     as an unknown scheme; write "host:/p".
 *   - path: trailing '/' are removed except for "/" itself; relative paths
 *     stay relative ("" = login directory); nothing else is normalised.
 *
 * Pure function: no I/O, no globals.
 */
#ifndef FTPSFS_HOSTSPEC_H
#define FTPSFS_HOSTSPEC_H

#include <stdbool.h>
#include <stdint.h>

#define HOSTSPEC_USER_MAX 255
#define HOSTSPEC_HOST_MAX 255
#define HOSTSPEC_PATH_MAX 4095

enum tls_mode {
	TLS_MODE_EXPLICIT, /* AUTH TLS on the plain control connection */
	TLS_MODE_IMPLICIT, /* TLS from the first byte */
};

struct hostspec {
	char user[HOSTSPEC_USER_MAX + 1]; /* "" when not given */
	char host[HOSTSPEC_HOST_MAX + 1]; /* without IPv6 brackets */
	bool host_is_ip;		  /* IPv4 or IPv6 literal */
	uint16_t port;			  /* default filled in: 21 or 990 */
	char path[HOSTSPEC_PATH_MAX + 1]; /* "" = login directory; no
					   * trailing '/' except for "/" */
	enum tls_mode tls_mode;
};

/*
 * Parse @spec into @out.  Returns 0, or -EINVAL for a malformed spec (empty
 * host, bad port, unknown URL scheme, password in URL, CR/LF/NUL or other
 * control characters anywhere, bad percent escape), or -ENAMETOOLONG when a
 * part exceeds its maximum.  On error @errmsg (if not NULL) points to a
 * static string describing the problem.
 */
int hostspec_parse(const char *spec, struct hostspec *out, const char **errmsg);

/*
 * Parse the authority of a URL, "[user@]host[:port]" (the URL rules above:
 * the user percent-decoded, no password, IPv6 in brackets), of @len bytes
 * at @s into @out (zeroed first: port 0 when none is given, path "").
 * Used for proxy= (proxy.h).  Returns 0, or -EINVAL / -ENAMETOOLONG with
 * @errmsg (if not NULL) pointing to a static description.
 */
int hostspec_parse_authority(const char *s, size_t len, struct hostspec *out,
			     const char **errmsg);

#endif
