/*
 * proxy.h - reaching the FTP server through a SOCKS5 or HTTP CONNECT proxy
 * (-o proxy=URL).
 *
 *   socks5://[user@]host:port   RFC 1928; with a user, user/password
 *                               authentication (RFC 1929).  The proxy
 *                               resolves the FTP server's name (what curl
 *                               calls socks5h): it is sent as a name.
 *   socks5h://...               the same
 *   http://[user@]host:port     HTTP CONNECT (RFC 9110 section 9.3.6),
 *                               with a user Basic authentication (RFC 7617)
 *
 * The proxy gives a TCP stream and nothing more: TLS stays end to end with
 * the FTP server.  The control connection and every passive data
 * connection go through it; a data connection goes to the control
 * connection's host name (as given) and the port of the EPSV/PASV reply,
 * never to an address the reply names.  Active mode cannot work (the
 * server would connect to us) and is refused at start-up.
 *
 * The proxy password never comes from the command line (credentials.h):
 * proxy_password= in the credentials file, a netrc "machine" entry for
 * the proxy host with the proxy user as login, askpass=, or a prompt.
 */
#ifndef FTPSFS_PROXY_H
#define FTPSFS_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ftpsfs/hostspec.h"
#include "ftpsfs/secret.h"

enum proxy_type {
	PROXY_NONE,
	PROXY_SOCKS5,
	PROXY_HTTP,
};

struct proxy_spec {
	enum proxy_type type;
	char host[HOSTSPEC_HOST_MAX + 1]; /* without IPv6 brackets */
	bool host_is_ip;
	uint16_t port;
	char user[HOSTSPEC_USER_MAX + 1]; /* "" when not given: no
					   * authentication */
	const struct secret *password;	  /* set when user is; the
					   * caller's */
};

/*
 * Parse the value of proxy= into @out (zeroed first; password NULL).
 * Pure.  Returns 0, or -EINVAL / -ENAMETOOLONG with @errmsg pointing to a
 * static description: unknown scheme, no port, a password in the URL, a
 * path, a SOCKS5 user longer than 255 bytes (RFC 1929), ...
 */
int proxy_spec_parse(const char *text, struct proxy_spec *out,
		     const char **errmsg);

/* "socks5" or "http". */
const char *proxy_type_name(enum proxy_type type);

/*
 * Connect to @px and ask it for a TCP stream to @host (a name or an IP
 * literal, @host_is_ip) port @port, all before @deadline (net.h; the
 * connect timeout covers the whole handshake).  Returns 0 and the socket
 * (non-blocking, TCP_NODELAY) in *fd_out, positioned at the first byte
 * from the server; or a negative errno with a message in @err:
 *   -ECONNREFUSED, -ETIMEDOUT, -ENOENT ...  the proxy itself is not there
 *   -EACCES        the proxy refused us (authentication, its rules)
 *   -ECONNREFUSED, -EHOSTUNREACH, -ENETUNREACH, -ETIMEDOUT
 *                  the proxy could not reach the server: the same
 *                  errors as a direct connect, so a server that is down
 *                  counts as down (pool.c's outage logic)
 *   -EPROTO        the proxy's reply is malformed or too long
 * The password is never part of a message.
 */
int proxy_connect(const struct proxy_spec *px, const char *host,
		  bool host_is_ip, uint16_t port, int64_t deadline, int *fd_out,
		  char *err, size_t errsz);

/*
 * The control connection's stream to @host port @port: directly
 * (net_connect_host()) when @px is NULL, else through the proxy.  *peer
 * is the address connected to (with a proxy, the proxy's: only its
 * family means anything).  Returns 0, or a negative errno as above with
 * "cannot connect to HOST port P[ through the socks5 proxy]: why" in @err.
 */
int proxy_open_stream(const struct proxy_spec *px, const char *host,
		      bool host_is_ip, uint16_t port, int64_t deadline,
		      int *fd_out, struct sockaddr_storage *peer,
		      socklen_t *peerlen, char *err, size_t errsz);

/*
 * A passive data connection to @port of the same server: directly to the
 * control connection's @peer address, or through @px to @host (never to
 * an address a reply names).  Returns 0 or a negative errno; @err says
 * why when the proxy failed ("" otherwise: the errno says it all).
 */
int proxy_open_data_stream(const struct proxy_spec *px, const char *host,
			   bool host_is_ip, const struct sockaddr_storage *peer,
			   socklen_t peerlen, uint16_t port, int64_t deadline,
			   int *fd_out, char *err, size_t errsz);

#endif
