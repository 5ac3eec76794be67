/*
 * httpconnect.c - the bytes of an HTTP CONNECT handshake (RFC 9110
 * section 9.3.6, Basic authentication RFC 7617).  Pure: the I/O is
 * proxy.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ftpsfs/proxy_wire.h"

static int http_fail(const char **why, const char *text, int err)
{
	*why = text;
	return err;
}

static bool http_printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	}
	return true;
}

int http_connect_request(const char *host, bool host_is_ip, uint16_t port,
			 const char *credentials, char *buf, size_t cap)
{
	/* RFC 9110 section 7.2: an IPv6 literal in brackets. */
	bool v6 = host_is_ip && strchr(host, ':');
	const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
	int n;

	if (!http_printable(host) || strpbrk(host, " /@") ||
	    (credentials && !http_printable(credentials)))
		return -EINVAL;
	n = snprintf(buf, cap,
		     "CONNECT %s%s%s:%u HTTP/1.1\r\n"
		     "Host: %s%s%s:%u\r\n"
		     "%s%s%s"
		     "\r\n",
		     lb, host, rb, (unsigned)port, lb, host, rb, (unsigned)port,
		     credentials ? "Proxy-Authorization: Basic " : "",
		     credentials ? credentials : "", credentials ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

/* Could @buf (@len bytes) be the start of "HTTP/1.x NNN"? */
static bool http_status_line_prefix_ok(const char *buf, size_t len)
{
	static const char proto[] = "HTTP/1.";
	size_t i;

	for (i = 0; i < len && i < sizeof(proto) - 1; i++) {
		if (buf[i] != proto[i])
			return false;
	}
	if (len > 7 && (buf[7] < '0' || buf[7] > '9'))
		return false;
	if (len > 8 && buf[8] != ' ')
		return false;
	for (i = 9; i < len && i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return false;
	}
	return true;
}

int http_connect_header_end(const char *buf, size_t len, size_t *end,
			    const char **why)
{
	if (!http_status_line_prefix_ok(buf, len))
		return http_fail(why,
				 "not an HTTP proxy (its reply does not "
				 "start with HTTP/1.x and a status)",
				 -EPROTO);
	for (size_t i = 0; i + 4 <= len; i++) {
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			*end = i + 4;
			return 0;
		}
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\0')
			return http_fail(why,
					 "malformed reply to CONNECT (NUL "
					 "byte)",
					 -EPROTO);
	}
	if (len >= HTTP_CONNECT_REPLY_MAX)
		return http_fail(why, "reply to CONNECT too long", -E2BIG);
	return -EAGAIN;
}

int http_connect_parse_status(const char *buf, size_t len, bool sent_auth,
			      int *status, const char **why)
{
	int code;

	*status = 0;
	/* "HTTP/1.x NNN" then a space (reason phrase) or the line end. */
	if (len < 14 || !http_status_line_prefix_ok(buf, 12) ||
	    (buf[12] != ' ' && buf[12] != '\r'))
		return http_fail(why,
				 "malformed status line in the reply to "
				 "CONNECT",
				 -EPROTO);
	code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	*status = code;
	if (code >= 200 && code <= 299)
		return 0;
	switch (code) {
	case 401: /* tinyproxy's answer to a wrong password */
	case 407:
		return http_fail(
			why,
			sent_auth ? "proxy refused: authentication failed"
				  : "proxy refused: authentication required "
				    "(give user@ in proxy=)",
			-EACCES);
	case 403:
		return http_fail(why,
				 "proxy refused: connection not allowed "
				 "by its rules",
				 -EACCES);
	case 500: /* tinyproxy: "Unable to connect" */
	case 502:
	case 503:
		return http_fail(why, "proxy: cannot connect to the server",
				 -ECONNREFUSED);
	case 504:
		return http_fail(why,
				 "proxy: the server did not answer in "
				 "time",
				 -ETIMEDOUT);
	default:
		return http_fail(why, "proxy refused the CONNECT request",
				 -EPROTO);
	}
}
