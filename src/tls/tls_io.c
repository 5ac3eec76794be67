/*
 * tls_io.c - reading, writing and closing TLS connections with deadlines,
 * and the same for plaintext connections (allow_plaintext, ssl == NULL).
 */
#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ftpsfs/net.h"
#include "tls_internal.h"

int tls_wait_io(struct tls_conn *c, int ret, int64_t deadline)
{
	int w;

	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		w = net_wait(c->fd, POLLIN, deadline);
		return w < 0 ? w : 1;
	case SSL_ERROR_WANT_WRITE:
		w = net_wait(c->fd, POLLOUT, deadline);
		return w < 0 ? w : 1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		/* EOF or a socket error without a TLS alert. */
		c->fatal = true;
		return -ECONNRESET;
	case SSL_ERROR_SSL:
		c->fatal = true;
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING)
			return -ECONNRESET;
		tls_error_text(ERR_peek_last_error(), c->error,
			       sizeof(c->error));
		return -EPROTO;
	default:
		c->fatal = true;
		return -EPROTO;
	}
}

static ssize_t plain_read(struct tls_conn *c, void *buf, size_t len,
			  int64_t deadline)
{
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);
		int w;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			c->fatal = true;
			return -errno;
		}
		w = net_wait(c->fd, POLLIN, deadline);
		if (w < 0)
			return w;
	}
}

static int plain_write_all(struct tls_conn *c, const char *p, size_t len,
			   int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		int w;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			c->fatal = true;
			return -errno;
		}
		w = net_wait(c->fd, POLLOUT, deadline);
		if (w < 0)
			return w;
	}
	return 0;
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len,
		      int64_t deadline)
{
	if (c->fatal)
		return -EIO;
	if (!c->ssl)
		return plain_read(c, buf, len, deadline);
	for (;;) {
		size_t n = 0;
		int r, w;

		ERR_clear_error();
		r = SSL_read_ex(c->ssl, buf, len, &n);
		if (r == 1)
			return (ssize_t)n;
		w = tls_wait_io(c, r, deadline);
		if (w != 1)
			return w;
	}
}

int tls_conn_write_all(struct tls_conn *c, const void *buf, size_t len,
		       int64_t deadline)
{
	const char *p = buf;

	if (c->fatal)
		return -EIO;
	if (!c->ssl)
		return plain_write_all(c, p, len, deadline);
	while (len > 0) {
		size_t n = 0;
		int r, w;

		ERR_clear_error();
		r = SSL_write_ex(c->ssl, p, len, &n);
		if (r == 1) {
			p += n;
			len -= n;
			continue;
		}
		w = tls_wait_io(c, r, deadline);
		if (w == 0)
			return -EPIPE; /* peer closed while we write */
		if (w < 0)
			return w;
	}
	return 0;
}

int tls_conn_shutdown(struct tls_conn *c, bool drain, int64_t deadline)
{
	char scratch[4096];
	int r, w;

	if (c->fatal)
		return -EIO;
	if (!c->ssl) {
		/* The FIN is all plaintext has to say "done". */
		if (shutdown(c->fd, SHUT_WR) < 0)
			return -errno;
	}
	while (c->ssl) {
		ERR_clear_error();
		r = SSL_shutdown(c->ssl);
		if (r == 1)
			return 0; /* both close_notify seen */
		if (r == 0)
			break; /* ours sent */
		w = tls_wait_io(c, r, deadline);
		if (w != 1)
			return w;
	}
	if (!drain)
		return 0;
	for (;;) {
		ssize_t n =
			tls_conn_read(c, scratch, sizeof(scratch), deadline);

		if (n <= 0)
			return n == 0 || n == -ECONNRESET ? 0 : (int)n;
	}
}

void tls_error_text(unsigned long e, char *buf, size_t bufsz)
{
	int reason = ERR_GET_REASON(e);
	const char *r = ERR_reason_error_string(e);
	bool about_our_cert =
		reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
		reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
		reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
		reason == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN;

	snprintf(buf, bufsz, "%s%s", r ? r : "unknown error",
		 about_our_cert ? " (the server did not accept our client "
				  "certificate, or wants one: -o cert=)"
				: "");
}

const char *tls_conn_error(const struct tls_conn *c)
{
	return c->error;
}

bool tls_conn_cert_requested(const struct tls_conn *c)
{
	return c->cert_requested;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl);
	SSL_SESSION_free(c->latest);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

const char *tls_conn_version(const struct tls_conn *c)
{
	return c->ssl ? SSL_get_version(c->ssl) : "plaintext";
}

bool tls_conn_pending(const struct tls_conn *c)
{
	return c->ssl && SSL_pending(c->ssl) > 0;
}

int tls_conn_fd(const struct tls_conn *c)
{
	return c->fd;
}
