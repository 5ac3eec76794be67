/*
 * proxy_wire.h - the bytes of the SOCKS5 and HTTP CONNECT handshakes:
 * requests built into caller buffers, replies checked field by field.
 *
 * Pure functions: no I/O, no globals (unit-tested in test_socks5.c and
 * test_httpconnect.c).  Functions that build return the length written,
 * or a negative errno when it does not fit or a field is out of range.
 * Functions that check a reply return 0 or a negative errno, and point
 * *why at a static description for the user.
 */
#ifndef FTPSFS_PROXY_WIRE_H
#define FTPSFS_PROXY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- SOCKS5 (RFC 1928), user/password authentication (RFC 1929) ---- */

#define SOCKS5_VERSION		  0x05
#define SOCKS5_AUTH_NONE	  0x00
#define SOCKS5_AUTH_USERPASS	  0x02
#define SOCKS5_AUTH_NO_ACCEPTABLE 0xff
#define SOCKS5_USERPASS_VERSION	  0x01
#define SOCKS5_CMD_CONNECT	  0x01
#define SOCKS5_ATYP_IPV4	  0x01
#define SOCKS5_ATYP_DOMAIN	  0x03
#define SOCKS5_ATYP_IPV6	  0x04

/* Longest request we build: auth is 3 + 255 + 255, CONNECT 7 + 255. */
#define SOCKS5_MSG_MAX 515
/* Longest CONNECT reply: 4 + 1 + 255 (a name) + 2. */
#define SOCKS5_REPLY_MAX 262
/* The CONNECT reply's first bytes: VER REP RSV ATYP and the first byte of
 * BND.ADDR (a name's length), enough to know the whole length. */
#define SOCKS5_REPLY_HEAD 5

/* The greeting (section 3): version, and the methods we accept - no
 * authentication, or only user/password when @with_auth (a proxy that
 * lets us in without it when we hold credentials may choose "none"). */
int socks5_greeting(bool with_auth, uint8_t *buf, size_t cap);

/* The server's choice (2 bytes).  0 and *method, or -EACCES (no method
 * acceptable: it wants authentication we cannot give) or -EPROTO (wrong
 * version, a method we did not offer). */
int socks5_parse_method(const uint8_t *b, bool with_auth, uint8_t *method,
			const char **why);

/* RFC 1929 section 2: user and password, 1 to 255 bytes each (else
 * -ENAMETOOLONG or -EINVAL). */
int socks5_auth_request(const char *user, const char *password, uint8_t *buf,
			size_t cap);

/* The authentication status (2 bytes): 0, -EACCES (refused) or -EPROTO. */
int socks5_parse_auth(const uint8_t *b, const char **why);

/* CONNECT to @host port @port (section 4): an IPv4 or IPv6 literal as an
 * address when @host_is_ip, else the name (1 to 255 bytes) for the proxy
 * to resolve.  -EINVAL for a literal that does not parse. */
int socks5_connect_request(const char *host, bool host_is_ip, uint16_t port,
			   uint8_t *buf, size_t cap);

/* From the first SOCKS5_REPLY_HEAD bytes of the CONNECT reply: its whole
 * length in *len.  0, or -EPROTO (wrong version or reserved byte, unknown
 * address type, empty name). */
int socks5_reply_length(const uint8_t *head, size_t *len, const char **why);

/* The whole CONNECT reply of @len bytes (section 6): 0 when REP is
 * "succeeded", else the errno its REP means (-ECONNREFUSED, -EHOSTUNREACH,
 * -ENETUNREACH, -ETIMEDOUT, -EACCES, -ENOENT for "general failure",
 * -EPROTO ...). */
int socks5_parse_reply(const uint8_t *b, size_t len, const char **why);

/* ---- HTTP CONNECT (RFC 9110 section 9.3.6) ---- */

/* Most bytes of a proxy's reply header we read: a proxy's answer to
 * CONNECT is a status line and a few fields. */
#define HTTP_CONNECT_REPLY_MAX 8192

/*
 * "CONNECT host:port HTTP/1.1", Host, and with @credentials (the base64
 * of "user:password", NULL for none) "Proxy-Authorization: Basic"
 * (RFC 7617).  IPv6 literals go in brackets (@host_is_ip and a ':').
 * -EINVAL if @host holds a control character, a space, '/' or '@', or
 * @credentials a control character; -ENOSPC if @cap is too small.
 */
int http_connect_request(const char *host, bool host_is_ip, uint16_t port,
			 const char *credentials, char *buf, size_t cap);

/*
 * Where the reply header in @buf (@len bytes read so far) ends: 0 and
 * *end (bytes up to and including the empty line) once it is complete;
 * -EAGAIN while it is not and more may come; -EPROTO when what is there
 * cannot be an HTTP status line; -E2BIG when @len reached
 * HTTP_CONNECT_REPLY_MAX without an end.
 */
int http_connect_header_end(const char *buf, size_t len, size_t *end,
			    const char **why);

/*
 * The status of a complete reply header: 0 for 2xx, else the errno it
 * means: 407 -EACCES (authentication failed, or @sent_auth false: it is
 * required), 403 -EACCES, 502/503 -ECONNREFUSED (the proxy could not
 * connect to the server), 504 -ETIMEDOUT, other -EPROTO.  *status is the
 * code (0 if the status line is malformed: -EPROTO).
 */
int http_connect_parse_status(const char *buf, size_t len, bool sent_auth,
			      int *status, const char **why);

#endif
