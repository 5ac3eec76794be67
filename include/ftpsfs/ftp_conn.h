/*
 * ftp_conn.h - one logged-in FTP control connection over TLS.
 *
 * A connection is used by one thread at a time (the pool hands it out), so
 * it has no lock of its own.  Any transport error or protocol violation
 * marks it broken; the pool then discards it.
 */
#ifndef FTPSFS_FTP_CONN_H
#define FTPSFS_FTP_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ftpsfs/hostspec.h"
#include "ftpsfs/reply.h"
#include "ftpsfs/secret.h"

struct tls_ctx;
struct tls_conn;

/* Where and how to log in: fixed at start-up, shared read-only. */
struct ftp_endpoint {
	char host[HOSTSPEC_HOST_MAX + 1];
	bool host_is_ip;
	uint16_t port;
	enum tls_mode tls_mode;
	char user[HOSTSPEC_USER_MAX + 1];
	const struct secret *password; /* NULL or empty: none known */
	bool anonymous;		       /* asked for: user anonymous/ftp */
	bool allow_plaintext;	       /* go on in the clear if AUTH TLS is
					* refused (never for implicit TLS) */
	bool allow_plaintext_password; /* ... and send PASS in the clear */
	bool active;		       /* data connections by EPRT/PORT */
	struct charset *charset;       /* names not in UTF-8; NULL: as is */
	int connect_timeout_ms;
	int timeout_ms; /* each reply, each data stall */
	atomic_bool *warned_no_resume; /* shared by all connections: a
					* warning said once per mount */
	atomic_bool *no_pipelining;    /* the server answered pipelined
					* commands out of order: never
					* again on this mount */
	struct tls_ctx *tls;
	/* ftpsfs --probe only (NULL for a mount): shown every complete
	 * reply read on connection @conn_id, the greeting first. */
	void (*reply_seen)(void *arg, unsigned conn_id,
			   const struct ftp_reply *r);
	void *reply_seen_arg;
};

struct ftp_conn {
	unsigned id;
	const struct ftp_endpoint *ep;
	int fd;		      /* the socket until TLS owns it */
	struct tls_conn *tls; /* NULL before AUTH TLS */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct ftp_features feat;
	bool broken;
	bool no_epsv;	      /* EPSV refused once: use PASV */
	bool no_eprt;	      /* EPRT refused once: use PORT */
	bool pipeline;	      /* passive mode worked: send EPSV (or PASV),
			       * REST and the transfer command in one flight */
	bool handshake_first; /* the server answers a transfer command only
			       * after the data connection's TLS handshake
			       * (xfer.c: ftp-srv) */
	uint64_t data_conns, data_resumed; /* counters for the debug log */
	/* Round trips (stats.h): commands sent, commands with their final
	 * reply read, and cmds_sent when we last waited for the server. */
	uint64_t cmds_sent, cmds_answered, rtt_mark;
	int prelim_rest;      /* code of a 1xx reply read only to its first
			       * line (ftp_conn_read_prelim()), else 0 */
	bool pool_xfer;	      /* pool.c: held for a transfer */
	int64_t pool_idle_since; /* pool.c: when it became idle */
	char rbuf[FTP_LINE_MAX + 1];
	size_t rlen;
	char err[512];	      /* description of the last failure */
};

/*
 * Connect, secure (AUTH TLS or implicit), log in, PBSZ 0, PROT P, FEAT,
 * OPTS UTF8 ON (when offered), TYPE I.  Returns 0 and *out, or a negative
 * errno with a message in @err: -EACCES (login refused, or a password
 * that policy forbids sending), -EUSERS (too many connections), -EPERM
 * (the server's identity is not proved), -EPROTONOSUPPORT (no TLS
 * offered, and allow_plaintext not given), -ETIMEDOUT, -ECONNREFUSED,
 * -ENOENT (host unknown), -EPROTO.
 *
 * Login policy, like a SASL client choosing a mechanism: the client
 * certificate (if any) is presented in the TLS handshake; then USER.  A
 * 230 or 232 reply (RFC 2228: authorized by the security exchange) ends
 * the login; a 331 gets PASS with the password, or "anonymous@" for an
 * anonymous login without one.  Over a connection without TLS
 * (allow_plaintext) nothing but an anonymous login is attempted unless
 * allow_plaintext_password is set: the refusal comes before USER.
 */
int ftp_conn_open(const struct ftp_endpoint *ep, unsigned id,
		  struct ftp_conn **out, char *err, size_t errsz);

/* Send QUIT (when @polite and not broken) and free everything. */
void ftp_conn_close(struct ftp_conn *c, bool polite);

/*
 * Send "VERB" or "VERB arg", @arg converted to the server's charset first
 * with codepage= (not for USER and PASS).  Refused without sending, the
 * connection still fine: -EINVAL when @arg contains CR or LF (it would
 * smuggle a second command), -ENAMETOOLONG for an overlong line, -EILSEQ
 * for a name with no form in the server's charset.  Else 0 or a transport
 * errno (connection marked broken).  PASS is never logged.
 */
int ftp_conn_send(struct ftp_conn *c, const char *verb, const char *arg);

/*
 * Read one complete reply (all lines of a multi-line reply) within the
 * reply timeout.  Returns 0 or a negative errno (connection marked
 * broken): -ETIMEDOUT, -ECONNRESET (closed), -EPROTO (malformed),
 * -EMSGSIZE (line or reply too long).
 */
int ftp_conn_read_reply(struct ftp_conn *c, struct ftp_reply *r);

/*
 * The reply to a transfer command: like ftp_conn_read_reply(), except that
 * a multi-line 1xx reply returns at its first line (the data handshake must
 * not wait for a closing line some servers send only after the transfer);
 * the next ftp_conn_read_reply() skips the rest of it.
 */
int ftp_conn_read_prelim(struct ftp_conn *c, struct ftp_reply *r);

/* ftp_conn_send() then ftp_conn_read_reply(). */
int ftp_conn_cmd(struct ftp_conn *c, struct ftp_reply *r, const char *verb,
		 const char *arg);

/* After a 421 or a dead socket: nothing more will work on @c. */
void ftp_conn_mark_broken(struct ftp_conn *c, const char *why);

#endif
