/*
 * hostspec.c - parse the remote argument ("user@host:/path" or a URL).
 *
 * Two grammars share the host, port and path rules:
 *   - the plain form, like sshfs and scp: the first ':' outside brackets
 *     ends the host; the user is everything before the LAST '@' in front of
 *     it, because FTP user names are often e-mail addresses;
 *   - URLs (RFC 3986 syntax, RFC 1738 section 3.2 for ftp): user and path
 *     are percent-decoded, and the '/' after the authority only separates
 *     it from the path, so "ftp://h/pub" is "pub" in the login directory
 *     and "ftp://h//pub" or "ftp://h/%2Fpub" is the absolute "/pub" (as
 *     curl and lftp read them).
 * Nothing is resolved or opened here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ftpsfs/hexdigit.h"
#include "ftpsfs/hostspec.h"

#define HOSTSPEC_PORT_EXPLICIT 21
#define HOSTSPEC_PORT_IMPLICIT 990
/* Long enough for every part at its maximum, percent-encoded. */
#define HOSTSPEC_SPEC_MAX 16384

#define HOSTSPEC_MSG_PASSWORD                                                  \
	"a password on the command line is refused; use -o password_stdin "    \
	"or ~/.netrc"

static int hostspec_fail(const char **msg, const char *text, int err)
{
	*msg = text;
	return err;
}

static bool hostspec_is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static bool hostspec_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool hostspec_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool hostspec_all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!hostspec_is_digit(s[i]))
			return false;
	}
	return true;
}

static bool hostspec_ieq(const char *s, size_t len, const char *lit)
{
	if (strlen(lit) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/* Last occurrence of @c in [s, s + len), or NULL. */
static const char *hostspec_memrchr(const char *s, char c, size_t len)
{
	while (len > 0) {
		len--;
		if (s[len] == c)
			return s + len;
	}
	return NULL;
}

/* Copy @len bytes into a buffer of @size bytes and terminate it. */
static int hostspec_copy(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/*
 * Percent-decode (RFC 3986 section 2.1) into a buffer of @size bytes.  A
 * decoded control character is refused like a literal one: "%0d%0a" must
 * not smuggle a CRLF into a command.
 */
static int hostspec_decode(char *dst, size_t size, const char *src, size_t len,
			   const char **msg)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return hostspec_fail(msg, "bad percent escape",
						     -EINVAL);
			hi = hex_digit_value(src[i + 1]);
			lo = hex_digit_value(src[i + 2]);
			if (hi < 0 || lo < 0)
				return hostspec_fail(msg, "bad percent escape",
						     -EINVAL);
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (hostspec_is_control(c))
			return hostspec_fail(
				msg, "control character in the remote spec",
				-EINVAL);
		if (n + 1 >= size)
			return -ENAMETOOLONG;
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	return 0;
}

static int hostspec_set_user(struct hostspec *out, const char *s, size_t len,
			     bool decode, const char **msg)
{
	int ret;

	if (len == 0)
		return hostspec_fail(msg, "empty user name before '@'",
				     -EINVAL);
	if (decode)
		ret = hostspec_decode(out->user, sizeof(out->user), s, len,
				      msg);
	else
		ret = hostspec_copy(out->user, sizeof(out->user), s, len);
	if (ret == -ENAMETOOLONG)
		return hostspec_fail(msg, "user name too long", ret);
	return ret;
}

/*
 * DNS names are ASCII letters, digits, '-' and '.'; '_' shows up in real
 * names, and bytes >= 0x80 let an IDN through to the resolver.  Anything
 * else (spaces, '/', '@', ...) is a typo better reported here.
 */
static bool hostspec_host_char_ok(char c)
{
	return hostspec_is_alpha(c) || hostspec_is_digit(c) || c == '-' ||
	       c == '.' || c == '_' || (unsigned char)c >= 0x80;
}

static int hostspec_set_ipv6(struct hostspec *out, const char *s, size_t len,
			     const char **msg)
{
	unsigned char addr[16];
	int ret;

	/* s is "[...]" */
	ret = hostspec_copy(out->host, sizeof(out->host), s + 1, len - 2);
	if (ret < 0)
		return hostspec_fail(msg, "host name too long", ret);
	if (inet_pton(AF_INET6, out->host, addr) != 1)
		return hostspec_fail(msg, "invalid IPv6 address in brackets",
				     -EINVAL);
	out->host_is_ip = true;
	return 0;
}

/* @s is the host as written: a name, an IPv4 literal or "[IPv6]". */
static int hostspec_set_host(struct hostspec *out, const char *s, size_t len,
			     const char **msg)
{
	unsigned char addr[4];
	int ret;

	if (len == 0)
		return hostspec_fail(msg, "empty host name", -EINVAL);
	if (s[0] == '[') {
		if (len < 2 || s[len - 1] != ']')
			return hostspec_fail(
				msg, "missing ']' after IPv6 address", -EINVAL);
		return hostspec_set_ipv6(out, s, len, msg);
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ':')
			return hostspec_fail(
				msg, "write IPv6 addresses in brackets: [::1]",
				-EINVAL);
		if (!hostspec_host_char_ok(s[i]))
			return hostspec_fail(
				msg, "invalid character in host name", -EINVAL);
	}
	ret = hostspec_copy(out->host, sizeof(out->host), s, len);
	if (ret < 0)
		return hostspec_fail(msg, "host name too long", ret);
	out->host_is_ip = inet_pton(AF_INET, out->host, addr) == 1;
	return 0;
}

static int hostspec_set_port(struct hostspec *out, const char *s, size_t len,
			     const char **msg)
{
	unsigned long v = 0;

	/* five digits at most, so the sum below cannot overflow */
	if (!hostspec_all_digits(s, len) || len > 5)
		goto bad;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (v < 1 || v > 65535)
		goto bad;
	out->port = (uint16_t)v;
	return 0;
bad:
	return hostspec_fail(msg, "port must be a number from 1 to 65535",
			     -EINVAL);
}

/* "" is the login directory; trailing '/' are dropped, except in "/". */
static int hostspec_set_path(struct hostspec *out, const char *s, size_t len,
			     bool decode, const char **msg)
{
	size_t n;
	int ret;

	if (decode)
		ret = hostspec_decode(out->path, sizeof(out->path), s, len,
				      msg);
	else
		ret = hostspec_copy(out->path, sizeof(out->path), s, len);
	if (ret == -ENAMETOOLONG)
		return hostspec_fail(msg, "path too long", ret);
	if (ret < 0)
		return ret;
	n = strlen(out->path);
	while (n > 1 && out->path[n - 1] == '/')
		n--;
	out->path[n] = '\0';
	return 0;
}

static int hostspec_check_chars(const char *spec, size_t len, const char **msg);

/* ---- URLs ---- */

/* RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool hostspec_is_scheme(const char *s, size_t len)
{
	if (len == 0 || !hostspec_is_alpha(s[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = s[i];

		if (!hostspec_is_alpha(c) && !hostspec_is_digit(c) &&
		    c != '+' && c != '-' && c != '.')
			return false;
	}
	return true;
}

static int hostspec_set_scheme(struct hostspec *out, const char *s, size_t len,
			       const char **msg)
{
	/* "ftp://" still means TLS: we never log in in clear text */
	if (hostspec_ieq(s, len, "ftp") || hostspec_ieq(s, len, "ftpes")) {
		out->tls_mode = TLS_MODE_EXPLICIT;
		out->port = HOSTSPEC_PORT_EXPLICIT;
		return 0;
	}
	if (hostspec_ieq(s, len, "ftps")) {
		out->tls_mode = TLS_MODE_IMPLICIT;
		out->port = HOSTSPEC_PORT_IMPLICIT;
		return 0;
	}
	if (hostspec_ieq(s, len, "sftp") || hostspec_ieq(s, len, "ssh"))
		return hostspec_fail(msg, "sftp is not FTPS; use sshfs",
				     -EINVAL);
	return hostspec_fail(
		msg, "unknown URL scheme; use ftp://, ftpes:// or ftps://",
		-EINVAL);
}

/* "[v6]", "[v6]:port", "host" or "host:port" */
static int hostspec_url_hostport(struct hostspec *out, const char *s,
				 size_t len, const char **msg)
{
	const char *colon;
	size_t host_len;
	int ret;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close)
			return hostspec_fail(
				msg, "missing ']' after IPv6 address", -EINVAL);
		host_len = (size_t)(close - s) + 1;
		if (host_len < len && s[host_len] != ':')
			return hostspec_fail(msg, "junk after ']'", -EINVAL);
		colon = host_len < len ? s + host_len : NULL;
	} else {
		colon = memchr(s, ':', len);
		host_len = colon ? (size_t)(colon - s) : len;
		if (colon && memchr(colon + 1, ':', len - host_len - 1))
			return hostspec_fail(
				msg, "write IPv6 addresses in brackets: [::1]",
				-EINVAL);
	}
	ret = hostspec_set_host(out, s, host_len, msg);
	if (ret < 0)
		return ret;
	if (!colon)
		return 0;
	return hostspec_set_port(out, colon + 1, len - host_len - 1, msg);
}

/* "user@hostport"; the user may not hold a raw '@' or a password. */
static int hostspec_url_authority(struct hostspec *out, const char *s,
				  size_t len, const char **msg)
{
	const char *at = memchr(s, '@', len);
	size_t user_len;
	int ret;

	if (!at)
		return hostspec_url_hostport(out, s, len, msg);
	user_len = (size_t)(at - s);
	if (memchr(at + 1, '@', len - user_len - 1))
		return hostspec_fail(msg, "write '@' in a URL user name as %40",
				     -EINVAL);
	/* RFC 3986 section 3.2.1: "user:password" is deprecated, and for us
	 * forbidden (it shows up in ps and shell history) */
	if (memchr(s, ':', user_len))
		return hostspec_fail(msg, HOSTSPEC_MSG_PASSWORD, -EINVAL);
	ret = hostspec_set_user(out, s, user_len, true, msg);
	if (ret < 0)
		return ret;
	return hostspec_url_hostport(out, at + 1, len - user_len - 1, msg);
}

static int hostspec_parse_url(const char *spec, size_t scheme_len, size_t len,
			      struct hostspec *out, const char **msg)
{
	const char *auth = spec + scheme_len + 3; /* after "://" */
	size_t rest = len - scheme_len - 3;
	const char *slash = memchr(auth, '/', rest);
	size_t auth_len = slash ? (size_t)(slash - auth) : rest;
	int ret;

	ret = hostspec_set_scheme(out, spec, scheme_len, msg);
	if (ret < 0)
		return ret;
	ret = hostspec_url_authority(out, auth, auth_len, msg);
	if (ret < 0)
		return ret;
	if (!slash)
		return 0;
	/* RFC 1738 section 3.2.2: the first '/' only ends the authority */
	return hostspec_set_path(out, slash + 1, rest - auth_len - 1, true,
				 msg);
}

int hostspec_parse_authority(const char *s, size_t len, struct hostspec *out,
			     const char **errmsg)
{
	const char *msg = "invalid host";
	int ret;

	memset(out, 0, sizeof(*out));
	ret = hostspec_check_chars(s, len, &msg);
	if (ret == 0)
		ret = hostspec_url_authority(out, s, len, &msg);
	if (ret < 0 && errmsg)
		*errmsg = msg;
	return ret;
}

/* ---- plain form ---- */

/* Offset of the first ':' outside "[...]", or @len. */
static int hostspec_host_end(const char *s, size_t len, size_t *end,
			     const char **msg)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '[') {
			const char *close = memchr(s + i, ']', len - i);

			if (!close)
				return hostspec_fail(
					msg, "missing ']' after IPv6 address",
					-EINVAL);
			i = (size_t)(close - s);
		} else if (s[i] == ':') {
			*end = i;
			return 0;
		}
	}
	*end = len;
	return 0;
}

/*
 * After "host:": "PORT", "PORT:PATH" or "PATH".  A relative path made only
 * of digits ("host:2024") is read as a port; write "host:./2024" or
 * "host:21:2024" for the directory.
 */
static int hostspec_plain_tail(struct hostspec *out, const char *s, size_t len,
			       const char **msg)
{
	const char *colon = memchr(s, ':', len);
	size_t first = colon ? (size_t)(colon - s) : len;
	int ret;

	if (!hostspec_all_digits(s, first))
		return hostspec_set_path(out, s, len, false, msg);
	ret = hostspec_set_port(out, s, first, msg);
	if (ret < 0 || !colon)
		return ret;
	return hostspec_set_path(out, colon + 1, len - first - 1, false, msg);
}

/*
 * "user:pw@host:/p" reads as host "user" and path "pw@host:/p" (and
 * "me@example.com:pw@host" as host "example.com"): the password would reach
 * some server as a directory name.  So a tail holding an '@' is refused
 * unless it clearly is a path ("/..", "./..") or starts with a port; a
 * relative path with an '@' is written "host:./a@b".
 */
static bool hostspec_tail_has_password(const char *tail, size_t len)
{
	const char *colon = memchr(tail, ':', len);
	size_t first = colon ? (size_t)(colon - tail) : len;

	if (len == 0 || tail[0] == '/' || tail[0] == '.' ||
	    hostspec_all_digits(tail, first))
		return false;
	return memchr(tail, '@', len) != NULL;
}

static int hostspec_parse_plain(const char *spec, size_t len,
				struct hostspec *out, const char **msg)
{
	const char *at, *tail;
	size_t host_end, host_start = 0, tail_len;
	int ret;

	out->tls_mode = TLS_MODE_EXPLICIT;
	out->port = HOSTSPEC_PORT_EXPLICIT;
	ret = hostspec_host_end(spec, len, &host_end, msg);
	if (ret < 0)
		return ret;
	tail = host_end < len ? spec + host_end + 1 : spec + len;
	tail_len = host_end < len ? len - host_end - 1 : 0;
	if (hostspec_tail_has_password(tail, tail_len))
		return hostspec_fail(msg, HOSTSPEC_MSG_PASSWORD, -EINVAL);
	at = hostspec_memrchr(spec, '@', host_end);
	if (at) {
		host_start = (size_t)(at - spec) + 1;
		ret = hostspec_set_user(out, spec, host_start - 1, false, msg);
		if (ret < 0)
			return ret;
	}
	if (tail_len > 0 && tail[0] == ':')
		return hostspec_fail(msg,
				     "write IPv6 addresses in brackets: "
				     "[::1]:/path",
				     -EINVAL);
	ret = hostspec_set_host(out, spec + host_start, host_end - host_start,
				msg);
	if (ret < 0 || host_end == len)
		return ret;
	return hostspec_plain_tail(out, tail, tail_len, msg);
}

/* ---- entry point ---- */

/* Length of a "scheme" before "://", or 0 if @spec is not a URL. */
static size_t hostspec_scheme_len(const char *spec)
{
	const char *sep = strstr(spec, "://");

	if (!sep || !hostspec_is_scheme(spec, (size_t)(sep - spec)))
		return 0;
	return (size_t)(sep - spec);
}

static int hostspec_check_chars(const char *spec, size_t len, const char **msg)
{
	for (size_t i = 0; i < len; i++) {
		if (hostspec_is_control((unsigned char)spec[i]))
			return hostspec_fail(
				msg, "control character in the remote spec",
				-EINVAL);
	}
	return 0;
}

int hostspec_parse(const char *spec, struct hostspec *out, const char **errmsg)
{
	const char *msg = "invalid remote spec";
	size_t len = strnlen(spec, HOSTSPEC_SPEC_MAX + 1);
	size_t scheme_len;
	int ret;

	memset(out, 0, sizeof(*out));
	if (len > HOSTSPEC_SPEC_MAX) {
		ret = hostspec_fail(&msg, "remote spec too long",
				    -ENAMETOOLONG);
		goto out;
	}
	ret = hostspec_check_chars(spec, len, &msg);
	if (ret < 0)
		goto out;
	scheme_len = hostspec_scheme_len(spec);
	if (scheme_len)
		ret = hostspec_parse_url(spec, scheme_len, len, out, &msg);
	else
		ret = hostspec_parse_plain(spec, len, out, &msg);
out:
	if (ret < 0 && errmsg)
		*errmsg = msg;
	return ret;
}
