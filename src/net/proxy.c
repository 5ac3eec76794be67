/*
 * proxy.c - a TCP stream to the FTP server through a SOCKS5 or HTTP
 * CONNECT proxy: connect to the proxy, then one exchange after the other
 * (socks5.c and httpconnect.c check the bytes), every wait bounded by the
 * caller's deadline.
 *
 * Nothing past the proxy's answer is read: the FTP server speaks first
 * (its greeting, or the TLS handshake's answer), and those bytes are
 * the caller's.  SOCKS5 replies have a known length; an HTTP reply is
 * peeked at and only its header consumed.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ftpsfs/net.h"
#include "ftpsfs/proxy.h"
#include "ftpsfs/proxy_wire.h"
#include "ftpsfs/stats.h"

static int proxy_send_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		int ret;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		ret = net_wait(fd, POLLOUT, deadline);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Receive @len bytes exactly (with MSG_PEEK: look without taking). */
static int proxy_recv(int fd, void *buf, size_t len, int flags,
		      int64_t deadline, size_t *got)
{
	for (;;) {
		ssize_t n = recv(fd, buf, len, flags);
		int ret;

		if (n > 0) {
			*got = (size_t)n;
			return 0;
		}
		if (n == 0)
			return -ECONNRESET; /* the proxy closed on us */
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		ret = net_wait(fd, POLLIN, deadline);
		if (ret < 0)
			return ret;
	}
}

static int proxy_recv_exact(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		size_t got = 0;
		int ret = proxy_recv(fd, buf, len, 0, deadline, &got);

		if (ret < 0)
			return ret;
		buf += got;
		len -= got;
	}
	return 0;
}

/* Describe a transport failure during the handshake. */
static int proxy_io_failed(int ret, const char *step, char *err, size_t errsz)
{
	snprintf(err, errsz, "proxy: %s: %s", step,
		 ret == -ECONNRESET ? "the proxy closed the connection"
				    : strerror(-ret));
	return ret;
}

/* A request and its reply of @len bytes: one round trip. */
static int proxy_exchange(int fd, const void *req, size_t reqlen,
			  uint8_t *reply, size_t len, int64_t deadline,
			  const char *step, char *err, size_t errsz)
{
	int ret;

	stats_round_trip();
	ret = proxy_send_all(fd, req, reqlen, deadline);
	if (ret == 0)
		ret = proxy_recv_exact(fd, reply, len, deadline);
	return ret < 0 ? proxy_io_failed(ret, step, err, errsz) : 0;
}

static int proxy_socks5_auth(const struct proxy_spec *px, int fd,
			     int64_t deadline, char *err, size_t errsz)
{
	uint8_t req[SOCKS5_MSG_MAX], reply[2];
	const char *why = "";
	int n, ret;

	n = socks5_auth_request(px->user, px->password->value, req,
				sizeof(req));
	if (n < 0) {
		snprintf(err, errsz,
			 "proxy: user name and password must be 1 "
			 "to 255 bytes each for SOCKS5");
		return -EINVAL;
	}
	ret = proxy_exchange(fd, req, (size_t)n, reply, sizeof(reply), deadline,
			     "authentication", err, errsz);
	OPENSSL_cleanse(req, sizeof(req));
	if (ret == 0 && (ret = socks5_parse_auth(reply, &why)) < 0)
		snprintf(err, errsz, "%s", why);
	return ret;
}

static int proxy_socks5(const struct proxy_spec *px, int fd, const char *host,
			bool host_is_ip, uint16_t port, int64_t deadline,
			char *err, size_t errsz)
{
	bool with_auth = px->user[0] != '\0';
	uint8_t req[SOCKS5_MSG_MAX], reply[SOCKS5_REPLY_MAX], method = 0;
	const char *why = "";
	size_t len = 0;
	int n, ret;

	n = socks5_greeting(with_auth, req, sizeof(req));
	ret = proxy_exchange(fd, req, (size_t)n, reply, 2, deadline, "greeting",
			     err, errsz);
	if (ret < 0)
		return ret;
	ret = socks5_parse_method(reply, with_auth, &method, &why);
	if (ret == 0 && method == SOCKS5_AUTH_USERPASS)
		ret = proxy_socks5_auth(px, fd, deadline, err, errsz);
	else if (ret < 0)
		snprintf(err, errsz, "%s", why);
	if (ret < 0)
		return ret;
	n = socks5_connect_request(host, host_is_ip, port, req, sizeof(req));
	if (n < 0) {
		snprintf(err, errsz, "proxy: host name %s cannot be sent",
			 host);
		return n;
	}
	/* Section 6: the reply's length depends on its address type. */
	ret = proxy_exchange(fd, req, (size_t)n, reply, SOCKS5_REPLY_HEAD,
			     deadline, "CONNECT", err, errsz);
	if (ret < 0)
		return ret;
	ret = socks5_reply_length(reply, &len, &why);
	if (ret == 0) {
		ret = proxy_recv_exact(fd, reply + SOCKS5_REPLY_HEAD,
				       len - SOCKS5_REPLY_HEAD, deadline);
		if (ret < 0)
			return proxy_io_failed(ret, "CONNECT", err, errsz);
		ret = socks5_parse_reply(reply, len, &why);
	}
	if (ret < 0)
		snprintf(err, errsz, "%s", why);
	return ret;
}

/*
 * The reply header to CONNECT, and not a byte more: peek, take what
 * belongs to the header (everything peeked while the empty line is not
 * there yet), until it ends.
 */
static int proxy_http_reply(int fd, char *buf, size_t *len, int64_t deadline,
			    const char **why)
{
	size_t have = 0, end = 0;
	int ret;

	for (;;) {
		size_t got = 0, take;

		ret = proxy_recv(fd, buf + have, HTTP_CONNECT_REPLY_MAX - have,
				 MSG_PEEK, deadline, &got);
		if (ret < 0)
			return ret;
		ret = http_connect_header_end(buf, have + got, &end, why);
		if (ret < 0 && ret != -EAGAIN)
			return ret;
		take = ret == 0 ? end - have : got;
		ret = proxy_recv_exact(fd, (uint8_t *)buf + have, take,
				       deadline);
		if (ret < 0)
			return ret;
		have += take;
		if (have == end) {
			*len = have;
			return 0;
		}
	}
}

/* "user:password" in Basic's base64 (RFC 7617 section 2) into @out. */
static int proxy_basic_credentials(const struct proxy_spec *px, char *out,
				   size_t outsz)
{
	char plain[HOSTSPEC_USER_MAX + 1 + SECRET_MAX + 1];
	int n = snprintf(plain, sizeof(plain), "%s:%s", px->user,
			 px->password->value);

	if (n < 0 || (size_t)n >= sizeof(plain) ||
	    outsz < 4 * (((size_t)n + 2) / 3) + 1) {
		OPENSSL_cleanse(plain, sizeof(plain));
		return -ENAMETOOLONG;
	}
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)plain, n);
	OPENSSL_cleanse(plain, sizeof(plain));
	return 0;
}

static int proxy_http(const struct proxy_spec *px, int fd, const char *host,
		      bool host_is_ip, uint16_t port, int64_t deadline,
		      char *err, size_t errsz)
{
	char cred[4 * ((HOSTSPEC_USER_MAX + SECRET_MAX + 4) / 3) + 4];
	char req[sizeof(cred) + 2 * HOSTSPEC_HOST_MAX + 128];
	char *buf = NULL;
	bool with_auth = px->user[0] != '\0';
	const char *why = "";
	size_t len = 0;
	int n, ret, status = 0;

	if (with_auth && proxy_basic_credentials(px, cred, sizeof(cred)) < 0) {
		snprintf(err, errsz, "proxy: user name and password too long");
		return -ENAMETOOLONG;
	}
	n = http_connect_request(host, host_is_ip, port,
				 with_auth ? cred : NULL, req, sizeof(req));
	OPENSSL_cleanse(cred, sizeof(cred));
	if (n < 0) {
		snprintf(err, errsz, "proxy: host name %s cannot be sent",
			 host);
		ret = n;
		goto out;
	}
	buf = malloc(HTTP_CONNECT_REPLY_MAX);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	stats_round_trip();
	ret = proxy_send_all(fd, req, (size_t)n, deadline);
	if (ret == 0)
		ret = proxy_http_reply(fd, buf, &len, deadline, &why);
	if (ret == -EPROTO || ret == -E2BIG) {
		snprintf(err, errsz, "proxy: %s", why);
		ret = -EPROTO;
	} else if (ret < 0) {
		ret = proxy_io_failed(ret, "CONNECT", err, errsz);
	} else {
		ret = http_connect_parse_status(buf, len, with_auth, &status,
						&why);
		if (ret < 0)
			snprintf(err, errsz, "%s (HTTP %d)", why, status);
	}
out:
	OPENSSL_cleanse(req, sizeof(req));
	free(buf);
	return ret;
}

int proxy_connect(const struct proxy_spec *px, const char *host,
		  bool host_is_ip, uint16_t port, int64_t deadline, int *fd_out,
		  char *err, size_t errsz)
{
	struct sockaddr_storage peer;
	socklen_t peerlen = sizeof(peer);
	int fd = -1, ret;

	err[0] = '\0';
	if (px->user[0] && (!px->password || !px->password->value)) {
		snprintf(err, errsz, "proxy: no password for user %s",
			 px->user);
		return -EACCES;
	}
	ret = net_connect_host(px->host, px->port, deadline, &fd, &peer,
			       &peerlen);
	if (ret < 0) {
		snprintf(err, errsz,
			 "cannot connect to the proxy %s port %u: "
			 "%s",
			 px->host, (unsigned)px->port,
			 ret == -ENOENT ? "host name not found"
					: strerror(-ret));
		return ret;
	}
	if (px->type == PROXY_SOCKS5)
		ret = proxy_socks5(px, fd, host, host_is_ip, port, deadline,
				   err, errsz);
	else
		ret = proxy_http(px, fd, host, host_is_ip, port, deadline, err,
				 errsz);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*fd_out = fd;
	return 0;
}

int proxy_open_stream(const struct proxy_spec *px, const char *host,
		      bool host_is_ip, uint16_t port, int64_t deadline,
		      int *fd_out, struct sockaddr_storage *peer,
		      socklen_t *peerlen, char *err, size_t errsz)
{
	char why[384];
	int ret;

	if (!px) {
		ret = net_connect_host(host, port, deadline, fd_out, peer,
				       peerlen);
		if (ret < 0)
			snprintf(err, errsz, "cannot connect to %s port %u: %s",
				 host, (unsigned)port,
				 ret == -ENOENT ? "host name not found"
						: strerror(-ret));
		return ret;
	}
	ret = proxy_connect(px, host, host_is_ip, port, deadline, fd_out, why,
			    sizeof(why));
	if (ret < 0) {
		/* Bounded so that the whole fits a 512-byte message. */
		snprintf(err, errsz,
			 "cannot connect to %.200s port %u through the %s "
			 "proxy: %.256s",
			 host, (unsigned)port, proxy_type_name(px->type), why);
		return ret;
	}
	*peerlen = sizeof(*peer);
	if (getpeername(*fd_out, (struct sockaddr *)peer, peerlen) < 0)
		*peerlen = 0;
	return 0;
}

int proxy_open_data_stream(const struct proxy_spec *px, const char *host,
			   bool host_is_ip, const struct sockaddr_storage *peer,
			   socklen_t peerlen, uint16_t port, int64_t deadline,
			   int *fd_out, char *err, size_t errsz)
{
	err[0] = '\0';
	if (!px)
		return net_connect_peer_port(peer, peerlen, port, deadline,
					     fd_out);
	return proxy_connect(px, host, host_is_ip, port, deadline, fd_out, err,
			     errsz);
}
