/*
 * tls.h - TLS for control and data connections (OpenSSL 3).
 *
 * One tls_ctx (one SSL_CTX) serves every connection of the mount, so that
 * control and data connections offer the same versions, ciphers and
 * options: a data connection can only resume a session negotiated with the
 * same parameters (tls-resumption.md, P7).
 *
 * Session rule (DESIGN.md 4, tls-resumption.md section 0): each control
 * connection remembers the LATEST session issued on it - in TLS 1.3 tickets
 * arrive after the handshake, while replies are read - and every data
 * connection resumes exactly that session.  Sessions are never shared
 * between control connections, and tickets that arrive on data connections
 * never replace the control connection's session.
 *
 * All I/O is non-blocking with absolute deadlines (net.h).
 */
#ifndef FTPSFS_TLS_H
#define FTPSFS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tls_ctx;
struct tls_conn;

struct tls_settings {
	const char *cafile; /* NULL: system trust store */
	const char *capath; /* NULL: none */
	int max_version;    /* 0 (library maximum) or TLS1_2_VERSION... */
};

/*
 * Create the shared context.  Returns 0 and *out, or -EINVAL with a
 * message in @err (e.g. an unreadable CA file).
 */
int tls_ctx_new(const struct tls_settings *s, struct tls_ctx **out, char *err,
		size_t errsz);
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * Handshake as a client on the connected socket @fd for a control
 * connection to @host (checked as an IP address when @host_is_ip, else as
 * a DNS name, and sent as SNI).  The tls_conn takes ownership of @fd
 * (closed by tls_conn_free(), also on failure).  Returns 0 and *out, or a
 * negative errno with the reason in @err: -EPERM when the certificate does
 * not verify, -ETIMEDOUT, -ECONNRESET, -EPROTO.
 */
int tls_conn_client_control(struct tls_ctx *ctx, int fd, const char *host,
			    bool host_is_ip, int64_t deadline,
			    struct tls_conn **out, char *err, size_t errsz);

/*
 * Handshake a data connection on @fd that resumes @control's latest
 * session, with the same host name.  Takes ownership of @fd.  On success
 * *out is set and *resumed tells whether the server accepted the session;
 * a connection that was not resumed is still checked to present the very
 * certificate of the control connection (else -EPERM).  Returns 0 or a
 * negative errno with the reason in @err.
 */
int tls_conn_client_data(struct tls_ctx *ctx, int fd, struct tls_conn *control,
			 int64_t deadline, struct tls_conn **out,
			 bool *resumed, char *err, size_t errsz);

/* True if @control holds a resumable session (TLS 1.3: a ticket arrived). */
bool tls_conn_has_session(const struct tls_conn *control);

/*
 * Read up to @len bytes.  Returns the count (> 0), 0 when the peer closed
 * with close_notify, -ECONNRESET when the stream ended WITHOUT close_notify
 * (possible truncation), -ETIMEDOUT, -EPROTO on a TLS error.
 */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len,
		      int64_t deadline);

/* Write all of @buf.  Returns 0 or a negative errno. */
int tls_conn_write_all(struct tls_conn *c, const void *buf, size_t len,
		       int64_t deadline);

/*
 * Send close_notify.  With @drain, then read and discard until the peer's
 * close_notify, EOF or @deadline (consumes a late TLS 1.3 ticket so that
 * close() cannot turn into a RST that cuts an upload's tail,
 * tls-resumption.md P10).  Returns 0, or a negative errno (only
 * informative: the caller decides from the FTP reply).
 */
int tls_conn_shutdown(struct tls_conn *c, bool drain, int64_t deadline);

/* Free the SSL object and close the socket. */
void tls_conn_free(struct tls_conn *c);

/* Negotiated protocol name, e.g. "TLSv1.3". */
const char *tls_conn_version(const struct tls_conn *c);

/* True if decrypted bytes are buffered, unread. */
bool tls_conn_pending(const struct tls_conn *c);

/* The socket (for polling). */
int tls_conn_fd(const struct tls_conn *c);

#endif
