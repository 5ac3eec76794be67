/*
 * conn_internal.h - the control connection's state, for the files of the
 * ftp module only (conn.c, xfer.c, ops.c, list.c, root.c, learned.c,
 * upload.c; the pool uses the accessors of ftp_conn.h).
 */
#ifndef FTPSFS_CONN_INTERNAL_H
#define FTPSFS_CONN_INTERNAL_H

#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_learned.h"

struct ftp_conn {
	unsigned id;
	const struct ftp_endpoint *ep;
	int fd;		      /* the socket until TLS owns it */
	struct tls_conn *tls; /* NULL before AUTH TLS */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct ftp_features feat;
	bool broken;
	struct ftp_conn_learned learned;   /* this connection's facts about
					    * the server (ftp_learned.h) */
	uint64_t data_conns, data_resumed; /* counters for the debug log */
	/* Round trips (stats.h): commands sent, commands with their final
	 * reply read, and cmds_sent when we last waited for the server. */
	uint64_t cmds_sent, cmds_answered, rtt_mark;
	bool tls_answered; /* a reply came over TLS (conn_read_reply) */
	int prelim_rest;   /* code of a 1xx reply read only to its first
			    * line (ftp_conn_read_prelim()), else 0 */
	/* Commands held back by ftp_conn_cork() to go in one write. */
	bool corked;
	unsigned oheld; /* commands in obuf */
	size_t olen;
	char obuf[16384]; /* one TLS record at most */
	char rbuf[FTP_LINE_MAX + 1];
	size_t rlen;
	char err[512];		/* description of the last failure */
	char proxy_err[256];	/* why the proxy refused the last data
				 * connection ("" if it did not) */
	struct ftp_reply reply; /* the reply being read (ftp_conn_reply()) */
};

/*
 * Open a passive data connection to @port of the server: at the control
 * connection's peer address, or through the proxy to the host name the
 * mount was given (never to an address a reply names).  Returns 0 and
 * the socket in *fd, or a negative errno (with a proxy, c->proxy_err says
 * why).
 */
int ftp_conn_data_connect(struct ftp_conn *c, uint16_t port, int *fd);

#endif
