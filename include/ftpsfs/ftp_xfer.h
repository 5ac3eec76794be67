/*
 * ftp_xfer.h - one data transfer (RETR, LIST, MLSD ...) on a control
 * connection.
 *
 * Sequence (docs/DESIGN.md 4, TLS point 3): EPSV (PASV as fallback, with
 * the address in its reply ignored), TCP connect to the control peer,
 * optional REST, the command, its 1xx reply read through the control TLS
 * connection (TLS 1.3 renewal tickets ride with it), then the data TLS
 * handshake resuming the control connection's latest session.  With
 * -o active: listen, EPRT (PORT as fallback), ..., the 1xx, then accept
 * the server's connection (from its address only); we are the TLS client
 * all the same.
 *
 * While a transfer is open its control connection can carry no other
 * command.
 */
#ifndef FTPSFS_FTP_XFER_H
#define FTPSFS_FTP_XFER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ftpsfs/ftp_errno.h"

struct ftp_conn;
struct tls_conn;

struct ftp_xfer {
	struct tls_conn *tls;
	uint64_t bytes; /* received or sent so far */
	bool eof;	/* the server ended the stream */
	bool clean_eof; /* ... with close_notify */
	bool timed_out; /* a read stalled longer than the timeout */
	bool failed;	/* a write failed: the upload is incomplete */
	int write_err;	/* ... with this negative errno */
};

/* A transfer command: "VERB [arg]", after "CWD cwd" when cwd is set and
 * "REST rest" when rest > 0; the server's refusal is mapped by
 * ftp_errno(op, target_exists) (a refused CWD with FTP_OP_LIST). */
struct ftp_xfer_cmd {
	const char *cwd;
	const char *verb;
	const char *arg;
	uint64_t rest;
	enum ftp_op op;
	bool target_exists;
	/* ftpsfs --probe only, never set on a mount's path: offer no TLS
	 * session on the data connection, to see whether the server
	 * enforces resumption (tls_conn_client_data_unresumed()). */
	bool no_session;
};

/*
 * Start the transfer @cmd.  Returns 0 and *out, or a negative errno (from
 * the server's reply or the transport) with c->err describing it.  A
 * transient refusal (425, 426: ftp_errno_transient()) that leaves the
 * connection in step is asked again a few times after short pauses.  A
 * data connection that the server refuses because it did not resume the
 * TLS session is reported as such.
 */
int ftp_xfer_open(struct ftp_conn *c, const struct ftp_xfer_cmd *cmd,
		  struct ftp_xfer **out);

/*
 * Read up to @len bytes.  Returns the count, 0 at the end of the stream
 * (x->eof set; x->clean_eof tells whether it ended with close_notify), or a
 * negative errno (-ETIMEDOUT on a stall longer than the timeout).
 */
ssize_t ftp_xfer_read(struct ftp_conn *c, struct ftp_xfer *x, void *buf,
		      size_t len);

/*
 * Has the server ended the stream after the bytes read so far?  Waits at
 * most @ms for it.  Returns 1 (ended: finish it with ftp_xfer_finish()),
 * 0 (not yet; nothing consumed, the stream goes on), -EAGAIN (more data
 * came: a byte was consumed, so the stream is past x->bytes - 1: abort
 * it), or another negative errno.
 */
int ftp_xfer_peek_end(struct ftp_conn *c, struct ftp_xfer *x, int ms);

/*
 * Finish a transfer that reached its end: close the data connection and
 * read the final reply.  Returns 0 when the server confirms the transfer
 * AND the stream ended with close_notify, else a negative errno: the
 * refusal's, or -ECONNABORTED for an end without close_notify (a
 * truncation, maybe by the network: ftp_errno_transient()).  Frees @x.
 */
int ftp_xfer_finish(struct ftp_conn *c, struct ftp_xfer *x, enum ftp_op op);

/*
 * Abandon a transfer before its end (seek, close, interrupt): close the
 * data connection, send ABOR and NOOP, and read replies (426/226/225/450/
 * 451 are all expected) up to NOOP's 200.  Marks the connection broken if
 * it cannot be resynchronised, and at once, without waiting for a reply,
 * after a stall (x->timed_out).  Frees @x.
 */
void ftp_xfer_abort(struct ftp_conn *c, struct ftp_xfer *x);

/*
 * ftp_xfer_abort() in two halves, so that more commands can ride in the
 * flight of ABOR and NOOP (ftp_conn_cork()).  send closes the data
 * connection, frees @x and sends ABOR and NOOP: 0, or -EIO when the
 * connection is broken (nothing to read).  recv reads their replies:
 * 0 in step, else -EIO with the connection broken.  @more_follow: the
 * caller sent commands after NOOP, so a reply to the abort arriving after
 * NOOP's could not be told from theirs - unless both of the abort's
 * replies came before NOOP's (vsftpd, ProFTPD), recv gives up.
 */
int ftp_xfer_abort_send(struct ftp_conn *c, struct ftp_xfer *x);
int ftp_xfer_abort_recv(struct ftp_conn *c, bool more_follow);

/*
 * Send all of @buf on an upload (STOR, APPE).  Returns 0 or a negative
 * errno; after an error the caller still calls ftp_xfer_finish_upload()
 * to learn the server's reason (e.g. 552 quota).
 */
int ftp_xfer_write(struct ftp_conn *c, struct ftp_xfer *x, const void *buf,
		   size_t len);

/*
 * End an upload: close_notify, drain the server's late TLS 1.3 ticket
 * (else close() may become a RST that cuts the tail, docs/DESIGN.md
 * 4, TLS point 4), close, then read the final reply.  Returns 0 only when every
 * byte was written and the server confirmed with 2xx; else the server's reason
 * via ftp_errno(@op), the transport's error, or the failed write's error
 * when the server confirmed what it got.  Frees @x.
 */
int ftp_xfer_finish_upload(struct ftp_conn *c, struct ftp_xfer *x,
			   enum ftp_op op);

#endif
