/*
 * socks5.c - the bytes of a SOCKS5 handshake (RFC 1928) with user/password
 * authentication (RFC 1929).  Pure: the I/O is proxy.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "ftpsfs/proxy_wire.h"

/* RFC 1928 section 6: the REP field. */
enum {
	SOCKS5_REP_OK = 0x00,
	SOCKS5_REP_FAILURE = 0x01,
	SOCKS5_REP_NOT_ALLOWED = 0x02,
	SOCKS5_REP_NET_UNREACHABLE = 0x03,
	SOCKS5_REP_HOST_UNREACHABLE = 0x04,
	SOCKS5_REP_REFUSED = 0x05,
	SOCKS5_REP_TTL_EXPIRED = 0x06,
	SOCKS5_REP_CMD_UNSUPPORTED = 0x07,
	SOCKS5_REP_ATYP_UNSUPPORTED = 0x08,
};

static int socks5_fail(const char **why, const char *text, int err)
{
	*why = text;
	return err;
}

int socks5_greeting(bool with_auth, uint8_t *buf, size_t cap)
{
	if (cap < 3)
		return -ENOSPC;
	buf[0] = SOCKS5_VERSION;
	buf[1] = 1; /* NMETHODS */
	buf[2] = with_auth ? SOCKS5_AUTH_USERPASS : SOCKS5_AUTH_NONE;
	return 3;
}

int socks5_parse_method(const uint8_t *b, bool with_auth, uint8_t *method,
			const char **why)
{
	uint8_t offered = with_auth ? SOCKS5_AUTH_USERPASS : SOCKS5_AUTH_NONE;

	if (b[0] != SOCKS5_VERSION)
		return socks5_fail(why,
				   "not a SOCKS5 proxy (wrong version in "
				   "its first reply)",
				   -EPROTO);
	if (b[1] == SOCKS5_AUTH_NO_ACCEPTABLE)
		return socks5_fail(
			why,
			with_auth ? "proxy refused: it does not accept "
				    "user/password authentication"
				  : "proxy refused: authentication required "
				    "(give user@ in proxy=)",
			-EACCES);
	if (b[1] != offered)
		return socks5_fail(why,
				   "proxy chose an authentication method "
				   "we did not offer",
				   -EPROTO);
	*method = b[1];
	return 0;
}

int socks5_auth_request(const char *user, const char *password, uint8_t *buf,
			size_t cap)
{
	size_t ulen = strlen(user), plen = strlen(password);

	/* RFC 1929 section 2: ULEN and PLEN are 1 to 255. */
	if (ulen == 0 || plen == 0)
		return -EINVAL;
	if (ulen > 255 || plen > 255)
		return -ENAMETOOLONG;
	if (cap < 3 + ulen + plen)
		return -ENOSPC;
	buf[0] = SOCKS5_USERPASS_VERSION;
	buf[1] = (uint8_t)ulen;
	memcpy(buf + 2, user, ulen);
	buf[2 + ulen] = (uint8_t)plen;
	memcpy(buf + 3 + ulen, password, plen);
	return (int)(3 + ulen + plen);
}

int socks5_parse_auth(const uint8_t *b, const char **why)
{
	if (b[0] != SOCKS5_USERPASS_VERSION)
		return socks5_fail(why,
				   "malformed reply to user/password "
				   "authentication",
				   -EPROTO);
	if (b[1] != 0)
		return socks5_fail(why, "proxy refused: authentication failed",
				   -EACCES);
	return 0;
}

int socks5_connect_request(const char *host, bool host_is_ip, uint16_t port,
			   uint8_t *buf, size_t cap)
{
	size_t n = 4, hlen = strlen(host);

	if (cap < 4 + 1 + 255 + 2)
		return -ENOSPC;
	buf[0] = SOCKS5_VERSION;
	buf[1] = SOCKS5_CMD_CONNECT;
	buf[2] = 0; /* RSV */
	if (host_is_ip && inet_pton(AF_INET, host, buf + 4) == 1) {
		buf[3] = SOCKS5_ATYP_IPV4;
		n += 4;
	} else if (host_is_ip && inet_pton(AF_INET6, host, buf + 4) == 1) {
		buf[3] = SOCKS5_ATYP_IPV6;
		n += 16;
	} else {
		/* Section 5: a name is one length byte, then the name. */
		if (host_is_ip || hlen == 0)
			return -EINVAL;
		if (hlen > 255)
			return -ENAMETOOLONG;
		buf[3] = SOCKS5_ATYP_DOMAIN;
		buf[4] = (uint8_t)hlen;
		memcpy(buf + 5, host, hlen);
		n += 1 + hlen;
	}
	buf[n++] = (uint8_t)(port >> 8);
	buf[n++] = (uint8_t)(port & 0xff);
	return (int)n;
}

int socks5_reply_length(const uint8_t *head, size_t *len, const char **why)
{
	if (head[0] != SOCKS5_VERSION)
		return socks5_fail(why,
				   "malformed reply to CONNECT (wrong "
				   "version)",
				   -EPROTO);
	if (head[2] != 0)
		return socks5_fail(why,
				   "malformed reply to CONNECT (reserved "
				   "byte not zero)",
				   -EPROTO);
	switch (head[3]) {
	case SOCKS5_ATYP_IPV4:
		*len = 4 + 4 + 2;
		return 0;
	case SOCKS5_ATYP_IPV6:
		*len = 4 + 16 + 2;
		return 0;
	case SOCKS5_ATYP_DOMAIN:
		if (head[4] == 0)
			return socks5_fail(why,
					   "malformed reply to CONNECT "
					   "(empty name)",
					   -EPROTO);
		*len = 4 + 1 + (size_t)head[4] + 2;
		return 0;
	default:
		return socks5_fail(why,
				   "malformed reply to CONNECT (unknown "
				   "address type)",
				   -EPROTO);
	}
}

int socks5_parse_reply(const uint8_t *b, size_t len, const char **why)
{
	size_t want = 0;
	int ret;

	if (len < SOCKS5_REPLY_HEAD)
		return socks5_fail(why, "malformed reply to CONNECT (short)",
				   -EPROTO);
	ret = socks5_reply_length(b, &want, why);
	if (ret < 0)
		return ret;
	if (want != len)
		return socks5_fail(why,
				   "malformed reply to CONNECT (wrong "
				   "length)",
				   -EPROTO);
	/* Section 6.  Refused, unreachable and TTL expired are what a
	 * direct connect would have met: the errno says the same. */
	switch (b[1]) {
	case SOCKS5_REP_OK:
		return 0;
	case SOCKS5_REP_FAILURE:
		/* microsocks and others say this when the server's name
		 * does not resolve: -ENOENT, as a direct connect's lookup
		 * (an outage only for a name that resolved before). */
		return socks5_fail(why,
				   "proxy: general failure (the proxy "
				   "may not resolve the server's name)",
				   -ENOENT);
	case SOCKS5_REP_NOT_ALLOWED:
		return socks5_fail(why,
				   "proxy refused: connection not "
				   "allowed by its rules",
				   -EACCES);
	case SOCKS5_REP_NET_UNREACHABLE:
		return socks5_fail(why, "proxy: network unreachable",
				   -ENETUNREACH);
	case SOCKS5_REP_HOST_UNREACHABLE:
		return socks5_fail(why, "proxy: host unreachable",
				   -EHOSTUNREACH);
	case SOCKS5_REP_REFUSED:
		return socks5_fail(why,
				   "proxy: connection refused by the "
				   "server",
				   -ECONNREFUSED);
	case SOCKS5_REP_TTL_EXPIRED:
		return socks5_fail(why, "proxy: TTL expired", -ETIMEDOUT);
	case SOCKS5_REP_CMD_UNSUPPORTED:
		return socks5_fail(why, "proxy: CONNECT not supported",
				   -EPROTO);
	case SOCKS5_REP_ATYP_UNSUPPORTED:
		return socks5_fail(why,
				   "proxy: address type not supported "
				   "(it may not resolve names)",
				   -EPROTO);
	default:
		return socks5_fail(why,
				   "malformed reply to CONNECT (unknown "
				   "reply code)",
				   -EPROTO);
	}
}
