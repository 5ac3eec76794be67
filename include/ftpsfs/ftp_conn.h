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

struct ftp_learned;
struct proxy_spec;
struct tls_ctx;
struct tls_conn;

/* Where and how to log in: fixed at start-up, shared read-only (but for
 * what *learned points to). */
struct ftp_endpoint {
	char host[HOSTSPEC_HOST_MAX + 1];
	bool host_is_ip;
	uint16_t port;
	enum tls_mode tls_mode;
	char user[HOSTSPEC_USER_MAX + 1];
	const struct secret *password;	/* NULL or empty: none known */
	bool anonymous;			/* asked for: user anonymous/ftp */
	bool allow_plaintext;		/* go on in the clear if AUTH TLS is
					 * refused (never for implicit TLS) */
	bool allow_plaintext_password;	/* ... and send PASS in the clear */
	bool active;			/* data connections by EPRT/PORT */
	bool no_epsv;			/* passive mode: PASV from the start
					 * (-o no_epsv) */
	bool no_mlsd;			/* MLSD/MLST unused even where FEAT
					 * offers them: every connection's
					 * features say "no MLST" */
	struct charset *charset;	/* names not in UTF-8; NULL: as is */
	const struct proxy_spec *proxy; /* every connection through it
					 * (proxy.h); NULL: direct */
	int connect_timeout_ms;
	int timeout_ms;		     /* each reply, each data stall */
	struct ftp_learned *learned; /* what every connection learns
				      * about the server (ftp_learned.h);
				      * NULL: nothing is kept */
	struct tls_ctx *tls;
	/* ftpsfs --probe only (NULL for a mount): shown every complete
	 * reply read on connection @conn_id, the greeting first. */
	void (*reply_seen)(void *arg, unsigned conn_id,
			   const struct ftp_reply *r);
	void *reply_seen_arg;
};

/*
 * One control connection.  Its fields are the ftp module's own
 * (src/ftp/conn_internal.h); everything else uses the functions below.
 */
struct ftp_conn;

/* Its number (for messages). */
unsigned ftp_conn_id(const struct ftp_conn *c);

/* What the server offered (FEAT, RFC 2389). */
const struct ftp_features *ftp_conn_feat(const struct ftp_conn *c);

/* The description of the last failure ("" if none); escaped server text
 * (ftp_reply_message()). */
const char *ftp_conn_err(const struct ftp_conn *c);

/* After a 421, a transport error or a protocol violation: nothing more
 * will work on @c (the pool closes it). */
bool ftp_conn_broken(const struct ftp_conn *c);

/* The connection's reply buffer (one per connection: commands on it run
 * one at a time), valid until the next command on @c. */
struct ftp_reply *ftp_conn_reply(struct ftp_conn *c);

/* Its TLS connection (NULL before AUTH TLS) - for the probe's report. */
struct tls_conn *ftp_conn_tls(const struct ftp_conn *c);

/* Passive and active modes this connection uses: the probe tries each
 * (@no_epsv: PASV instead of EPSV; @no_eprt: PORT instead of EPRT). */
void ftp_conn_force_modes(struct ftp_conn *c, bool no_epsv, bool no_eprt);
void ftp_conn_modes(const struct ftp_conn *c, bool *no_epsv, bool *no_eprt);

/* The address family of the server's address (AF_INET, AF_INET6). */
int ftp_conn_peer_family(const struct ftp_conn *c);

/* Data connections opened on @c, and how many resumed its TLS session. */
void ftp_conn_data_counts(const struct ftp_conn *c, uint64_t *conns,
			  uint64_t *resumed);

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

/* A connection of @ep numbered @id that is not connected (no socket, no
 * TLS, nothing sent): what ftp_conn_open() starts from, and what a fake
 * connector hands out to the pool in tests (tests/unit/test_pool.c).
 * Free it with ftp_conn_close().  Returns 0 and *@out, or -ENOMEM. */
int ftp_conn_new(const struct ftp_endpoint *ep, unsigned id,
		 struct ftp_conn **out);

/* Is an idle connection no use any more: closed by the server while
 * idle (a TLS alert or a bare close), an unsolicited reply (421), or
 * out of step?  Looks without waiting. */
bool ftp_conn_looks_dead(struct ftp_conn *c);

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

/*
 * Hold the commands sent from now on and write them together, in one TLS
 * record when they fit, at ftp_conn_flush() or at the next read of a
 * reply.  RFC 959 servers answer in order however commands arrive; some
 * (ftp-srv) handle each network read concurrently and answer commands
 * that came in separate reads out of order, but those of one read in
 * order.  Fewer writes also mean fewer packets.  A command that would
 * not fit into the held flight (16 KiB) is refused with -ENOBUFS, neither
 * sent nor counted: a flight is never split.
 */
void ftp_conn_cork(struct ftp_conn *c);

/* Write what ftp_conn_cork() held back: 0 or a transport errno (broken). */
int ftp_conn_flush(struct ftp_conn *c);

/* Does a reply start to arrive within @ms?  (Bytes already buffered
 * count.)  Reads nothing. */
bool ftp_conn_reply_comes(struct ftp_conn *c, int ms);

/* Forget the commands held back and end the cork: none of them goes. */
void ftp_conn_drop_held(struct ftp_conn *c);

/* ftp_conn_send() then ftp_conn_read_reply(). */
int ftp_conn_cmd(struct ftp_conn *c, struct ftp_reply *r, const char *verb,
		 const char *arg);

/* After a 421 or a dead socket: nothing more will work on @c. */
void ftp_conn_mark_broken(struct ftp_conn *c, const char *why);

#endif
