/*
 * tls_io.c - reading, writing and closing TLS connections with deadlines.
 */
#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdlib.h>
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
		return -EPROTO;
	default:
		c->fatal = true;
		return -EPROTO;
	}
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len,
		      int64_t deadline)
{
	if (c->fatal)
		return -EIO;
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
	for (;;) {
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
		ssize_t n = tls_conn_read(c, scratch, sizeof(scratch), deadline);

		if (n <= 0)
			return n == 0 || n == -ECONNRESET ? 0 : (int)n;
	}
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
	return SSL_get_version(c->ssl);
}

bool tls_conn_pending(const struct tls_conn *c)
{
	return SSL_pending(c->ssl) > 0;
}

int tls_conn_fd(const struct tls_conn *c)
{
	return c->fd;
}
