/*
 * xfer.c - data connections (passive, or active on request) with TLS
 * session resumption.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_internal.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/ratelimit.h"
#include "ftpsfs/stats.h"
#include "ftpsfs/tls.h"

/* The port of a 229 (EPSV) or 227 (PASV) reply in @r; a malformed one
 * breaks the connection. */
static int xfer_passive_reply(struct ftp_conn *c, const struct ftp_reply *r,
			      uint16_t *port)
{
	int ret = r->code == FTP_REPLY_EPSV_OK ? ftp_parse_epsv(r->text, port)
					       : ftp_parse_pasv(r->text, port);

	if (ret < 0) {
		snprintf(c->err, sizeof(c->err),
			 "malformed passive-mode reply");
		ftp_conn_mark_broken(c, c->err);
		return -EPROTO;
	}
	return 0;
}

/* EPSV, or PASV when the server does not know EPSV (RFC 2428). */
static int xfer_passive_port(struct ftp_conn *c, struct ftp_reply *r,
			     uint16_t *port)
{
	int ret;

	if (!c->learned.no_epsv) {
		ret = ftp_conn_cmd(c, r, "EPSV", NULL);
		if (ret < 0)
			return ret;
		if (r->code == FTP_REPLY_EPSV_OK)
			goto parse_epsv;
		if (!ftp_reply_is_unknown_command(r))
			goto refused;
		c->learned.no_epsv = true;
	}
	ret = ftp_conn_cmd(c, r, "PASV", NULL);
	if (ret < 0)
		return ret;
	if (r->code != FTP_REPLY_PASV_OK)
		goto refused;
parse_epsv:
	return xfer_passive_reply(c, r, port);
refused:
	snprintf(c->err, sizeof(c->err), "passive mode refused: %d", r->code);
	return ftp_errno(FTP_OP_DATA, r, false);
}

/* The server waits for a data connection we can't make: resync by
 * dropping this control connection.  Returns @err. */
static int xfer_connect_failed(struct ftp_conn *c, uint16_t port, int err)
{
	snprintf(c->err, sizeof(c->err),
		 "cannot open data connection to port %u: %s", (unsigned)port,
		 c->proxy_err[0] ? c->proxy_err : strerror(-err));
	ftp_conn_mark_broken(c, c->err);
	return err;
}

/* Connect to @port at the control peer, or through the proxy to the
 * control connection's host (never where a reply says). */
static int xfer_connect_port(struct ftp_conn *c, uint16_t port, int *fd)
{
	int ret = ftp_conn_data_connect(c, port, fd);

	return ret < 0 ? xfer_connect_failed(c, port, ret) : 0;
}

/* Connect to the port a passive-mode reply names, at the control peer. */
static int xfer_passive_connect(struct ftp_conn *c, struct ftp_reply *r,
				int *fd)
{
	uint16_t port = 0;
	int ret = xfer_passive_port(c, r, &port);

	return ret < 0 ? ret : xfer_connect_port(c, port, fd);
}

/*
 * Active mode: listen beside the control connection and tell the server
 * where, with EPRT (RFC 2428 section 2) or, for IPv4 servers that don't
 * know it, PORT (RFC 959).  The argument is made of digits, dots, colons
 * and bars only.
 */
static int xfer_active_listen(struct ftp_conn *c, struct ftp_reply *r, int *lfd)
{
	struct sockaddr_storage a;
	char host[INET6_ADDRSTRLEN], arg[INET6_ADDRSTRLEN + 16];
	bool v4;
	unsigned port;
	int ret = net_listen_beside(tls_conn_fd(c->tls), lfd, &a);

	if (ret < 0) {
		snprintf(c->err, sizeof(c->err),
			 "cannot listen for an active-mode data connection: %s",
			 strerror(-ret));
		return ret;
	}
	v4 = a.ss_family == AF_INET;
	port = ntohs(v4 ? ((struct sockaddr_in *)&a)->sin_port
			: ((struct sockaddr_in6 *)&a)->sin6_port);
	inet_ntop(a.ss_family,
		  v4 ? (void *)&((struct sockaddr_in *)&a)->sin_addr
		     : (void *)&((struct sockaddr_in6 *)&a)->sin6_addr,
		  host, sizeof(host));
	if (!c->learned.no_eprt) {
		snprintf(arg, sizeof(arg), "|%d|%s|%u|", v4 ? 1 : 2, host,
			 port);
		ret = ftp_conn_cmd(c, r, "EPRT", arg);
		if (ret < 0)
			goto fail;
		if (r->code == FTP_REPLY_OK)
			return 0;
		if (!v4 || !ftp_reply_is_unknown_command(r))
			goto refused;
		c->learned.no_eprt = true;
	}
	for (char *dot = host; (dot = strchr(dot, '.'));)
		*dot = ',';
	snprintf(arg, sizeof(arg), "%s,%u,%u", host, port >> 8, port & 0xff);
	ret = ftp_conn_cmd(c, r, "PORT", arg);
	if (ret < 0)
		goto fail;
	if (r->code == FTP_REPLY_OK)
		return 0;
refused:
	snprintf(c->err, sizeof(c->err), "active mode refused: %d", r->code);
	ret = ftp_errno(FTP_OP_DATA, r, false);
fail:
	close(*lfd);
	*lfd = -1;
	return ret;
}

/* Active mode, after the 1xx: the server's connection, from its address
 * only. */
static int xfer_active_accept(struct ftp_conn *c, int lfd, int *fd)
{
	unsigned strangers = 0;
	int ret = net_accept_from(lfd, &c->peer,
				  net_deadline(c->ep->connect_timeout_ms), fd,
				  &strangers);

	if (strangers)
		log_warn("conn %u: refused %u data connection%s not coming "
			 "from the server's address",
			 c->id, strangers, strangers == 1 ? "" : "s");
	if (ret < 0) {
		snprintf(c->err, sizeof(c->err),
			 "the server did not open the active-mode data "
			 "connection: %s",
			 strerror(-ret));
		ftp_conn_mark_broken(c, c->err);
	}
	return ret;
}

static void xfer_describe_reply(struct ftp_conn *c, const char *what,
				const struct ftp_reply *r)
{
	char msg[256];

	snprintf(c->err, sizeof(c->err), "%s: %d %s", what, r->code,
		 ftp_reply_message(r, msg, sizeof(msg)));
}

/*
 * The data handshake failed or was not resumed: the server's reply says
 * why (vsftpd: "522 SSL connection failed: session reuse required" and it
 * closes the control connection; ProFTPD: 425).
 */
static int xfer_handshake_failed(struct ftp_conn *c, struct ftp_reply *r,
				 const char *tls_err, int ret)
{
	char msg[256];
	bool had_session = c->tls && tls_conn_has_session(c->tls);

	/* A handshake that timed out means a silent server: waiting for its
	 * reply would only double the delay. */
	if (ret != -ETIMEDOUT && ftp_conn_read_reply(c, r) == 0 &&
	    r->code >= 400) {
		snprintf(c->err, sizeof(c->err),
			 "server refused the TLS data connection (%s; %s): %d "
			 "%s",
			 tls_err,
			 had_session ? "session offered for resumption"
				     : "no resumable session was available",
			 r->code, ftp_reply_message(r, msg, sizeof(msg)));
	} else {
		snprintf(c->err, sizeof(c->err),
			 "TLS data connection failed: %s", tls_err);
	}
	/* Whatever the server thinks now, this connection is suspect. */
	ftp_conn_mark_broken(c, c->err);
	/* A stall stays a stall (another try would cost another timeout), a
	 * reset stays transient; other failures are the server's refusal. */
	if (ret == -EPERM || ret == -ETIMEDOUT || ftp_errno_transient(ret))
		return ret;
	return -EIO;
}

/*
 * How long to wait for the 1xx before starting the data handshake anyway.
 * The handshake belongs after the 1xx (docs/DESIGN.md 4, TLS session
 * resumption, point 3), but some servers answer the transfer command only once
 * the data connection's TLS handshake is done (ftp-srv: its 150 waits for the
 * secure data socket, and after 5 s it gives up with 425).  lftp has the same
 * fallback (ftp:waiting-150-timeout).
 */
#define XFER_PRELIM_WAIT_MS 1000

/* The data connection's TLS handshake on @fd (owned from here on),
 * resuming the control connection's session unless @cmd says otherwise
 * (--probe).  Sets *@timed_out when the server did not take part in time. */
static int xfer_handshake(struct ftp_conn *c, struct ftp_reply *r, int fd,
			  const struct ftp_xfer_cmd *cmd, struct ftp_xfer *x,
			  bool *resumed, bool *timed_out)
{
	int64_t deadline = net_deadline(c->ep->timeout_ms);
	char tls_err[256];
	int ret;

	if (cmd->no_session)
		ret = tls_conn_client_data_unresumed(c->ep->tls, fd, c->tls,
						     deadline, &x->tls, resumed,
						     tls_err, sizeof(tls_err));
	else
		ret = tls_conn_client_data(c->ep->tls, fd, c->tls, deadline,
					   &x->tls, resumed, tls_err,
					   sizeof(tls_err));

	*timed_out = ret == -ETIMEDOUT;
	return ret < 0 ? xfer_handshake_failed(c, r, tls_err, ret) : 0;
}

/* The reply to "CWD cmd->cwd": 2xx, else its refusal (a LIST's). */
static int xfer_cwd_reply(struct ftp_conn *c, struct ftp_reply *r,
			  const struct ftp_xfer_cmd *cmd)
{
	int ret = ftp_conn_read_reply(c, r);

	if (ret < 0 || r->code / 100 == 2)
		return ret;
	xfer_describe_reply(c, "CWD", r);
	return ftp_errno(FTP_OP_LIST, r, cmd->target_exists);
}

/* "REST n" for @cmd, sent only (its reply is read by xfer_rest_reply). */
static int xfer_send_rest(struct ftp_conn *c, const struct ftp_xfer_cmd *cmd)
{
	char num[24];

	if (cmd->rest == 0)
		return 0;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)cmd->rest);
	return ftp_conn_send(c, "REST", num);
}

/* The reply to REST: anything but 350 leaves the server about to send
 * from 0, so the connection is given up. */
static int xfer_rest_reply(struct ftp_conn *c, struct ftp_reply *r,
			   const struct ftp_xfer_cmd *cmd)
{
	int ret;

	if (cmd->rest == 0)
		return 0;
	ret = ftp_conn_read_reply(c, r);
	if (ret < 0 || r->code == FTP_REPLY_REST_OK)
		return ret;
	xfer_describe_reply(c, "REST refused", r);
	ret = ftp_errno(FTP_OP_DATA, r, false);
	ftp_conn_mark_broken(c, c->err);
	return ret;
}

/* The reply to the transfer command: a 1xx, else its refusal. */
static int xfer_prelim_reply(struct ftp_conn *c, struct ftp_reply *r,
			     const struct ftp_xfer_cmd *cmd)
{
	int ret = ftp_conn_read_prelim(c, r);

	if (ret < 0 || ftp_reply_is_prelim(r))
		return ret;
	xfer_describe_reply(c, cmd->verb, r);
	return ftp_errno(cmd->op, r, cmd->target_exists);
}

/*
 * The data connection of a pipelined transfer could not be made (@err),
 * but the transfer command was sent with the passive one.  A server that
 * refused the command (a file it may not read) has closed its port before
 * we came: that refusal is the answer, and the connection stays in step.
 * A server that answers nothing soon, or a 1xx, waits for a connection we
 * can't make: the control connection is given up (the caller may retry).
 */
static int xfer_pipelined_connect_failed(struct ftp_conn *c,
					 struct ftp_reply *r,
					 const struct ftp_xfer_cmd *cmd,
					 uint16_t port, int err)
{
	int ret = 0;

	if (cmd->rest > 0 && ftp_conn_reply_comes(c, XFER_PRELIM_WAIT_MS))
		ret = xfer_rest_reply(c, r, cmd);
	if (ret < 0)
		return ret;
	if (!c->broken && ftp_conn_reply_comes(c, XFER_PRELIM_WAIT_MS)) {
		ret = xfer_prelim_reply(c, r, cmd);
		if (ret < 0)
			return ret; /* its refusal, described by the above */
	}
	return xfer_connect_failed(c, port, err);
}

/*
 * The passive command of a flight was refused: read the rest of the
 * flight's replies (REST's, the transfer command's refusal) if they come
 * soon.  Under load ProFTPD answers "425 EPSV: Address already in use",
 * then 350 to the REST, then nothing at all for the command behind them;
 * waiting a whole timeout for that reply stalls the operation, where a
 * fresh connection costs a login.  Returns true when the connection is
 * in step again.
 */
static bool xfer_refused_flight_settles(struct ftp_conn *c, struct ftp_reply *r,
					const struct ftp_xfer_cmd *cmd)
{
	if (cmd->rest > 0 && (!ftp_conn_reply_comes(c, XFER_PRELIM_WAIT_MS) ||
			      xfer_rest_reply(c, r, cmd) < 0))
		return false;
	return ftp_conn_reply_comes(c, XFER_PRELIM_WAIT_MS) &&
	       ftp_conn_read_reply(c, r) == 0 && !ftp_reply_is_prelim(r);
}

/* What opening a transfer has made so far (xfer_open_once()). */
struct xfer_open {
	int fd;	      /* the data connection (passive), or -1 */
	int lfd;      /* active mode: where the server will connect */
	bool early;   /* its TLS handshake is done (before the 1xx) */
	bool resumed; /* ... resuming the control connection's session */
};

/* Send "CWD", the passive command, "REST" and the transfer command into
 * one held flight: 0, or -errno with nothing sent. */
static int xfer_send_flight(struct ftp_conn *c, const struct ftp_xfer_cmd *cmd)
{
	int ret;

	ftp_conn_cork(c); /* one write: see ftp_conn_cork() */
	ret = cmd->cwd ? ftp_conn_send(c, "CWD", cmd->cwd) : 0;
	if (ret == 0)
		ret = ftp_conn_send(c, c->learned.no_epsv ? "PASV" : "EPSV",
				    NULL);
	if (ret == 0)
		ret = xfer_send_rest(c, cmd);
	if (ret == 0)
		ret = ftp_conn_send(c, cmd->verb, cmd->arg);
	if (ret < 0 && !c->broken) {
		/* Refused before sending (an overlong name): the commands
		 * held so far must not go either, or their replies would be
		 * taken for the next command's. */
		ftp_conn_drop_held(c);
	}
	return ret;
}

/*
 * The reply to the passive command of a flight, read into @r: 0 for 229
 * or 227, else -errno with the connection's state settled: a reply that
 * is no answer to it means the server answers out of order (no more
 * pipelining on this mount); a refusal (a 425 "address in use" is asked
 * again by the caller) is followed by the rest of the flight's answers,
 * or the connection is out of step.
 */
static int xfer_flight_passive_reply(struct ftp_conn *c, struct ftp_reply *r,
				     const struct ftp_xfer_cmd *cmd)
{
	int ret = ftp_conn_read_reply(c, r);

	if (ret < 0 || r->code == FTP_REPLY_EPSV_OK ||
	    r->code == FTP_REPLY_PASV_OK)
		return ret;
	if (r->code / 100 < 4) {
		if (c->ep->learned)
			atomic_store(&c->ep->learned->no_pipelining, true);
		snprintf(c->err, sizeof(c->err),
			 "the server answered pipelined commands out of order "
			 "(%d): sending one at a time from now on",
			 r->code);
		ftp_conn_mark_broken(c, c->err);
		return -ECONNABORTED;
	}
	snprintf(c->err, sizeof(c->err), "passive mode refused: %d", r->code);
	ret = ftp_errno(FTP_OP_DATA, r, false);
	if (!c->learned.no_epsv && ftp_reply_is_unknown_command(r))
		c->learned.no_epsv = true; /* PASV from now on (RFC 2428) */
	else
		c->learned.no_pipeline = true; /* one at a time from now on */
	if (!xfer_refused_flight_settles(c, r, cmd))
		ftp_conn_mark_broken(c, "out of step after a refused "
					"pipelined transfer");
	return ret;
}

/*
 * Passive mode in one flight: "CWD dir", "EPSV" (or "PASV"), "REST n",
 * "VERB arg" together - RFC 959 lets a client send a command before the
 * previous reply, and the server answers in order: it opens its port,
 * then waits for us on it.  So the command's round trip overlaps the
 * passive one, and the 1xx arrives as the connect completes.  Returns 0
 * with *fd connected and REST answered (the 1xx not read), or -errno.
 */
static int xfer_open_pipelined(struct ftp_conn *c, struct ftp_reply *r,
			       const struct ftp_xfer_cmd *cmd, int *fd)
{
	uint16_t port = 0;
	int ret = xfer_send_flight(c, cmd);

	if (ret < 0)
		return ret;
	if (cmd->cwd) {
		ret = xfer_cwd_reply(c, r, cmd);
		if (ret < 0 && !c->broken) {
			/* The server now lists the wrong directory and waits
			 * for a data connection we won't make: nothing puts
			 * it back in step sooner than a new connection. */
			ftp_conn_mark_broken(c, c->err);
		}
	}
	if (ret == 0)
		ret = xfer_flight_passive_reply(c, r, cmd);
	if (ret == 0)
		ret = xfer_passive_reply(c, r, &port);
	if (ret < 0)
		return ret;
	ret = ftp_conn_data_connect(c, port, fd);
	if (ret < 0)
		return xfer_pipelined_connect_failed(c, r, cmd, port, ret);
	return xfer_rest_reply(c, r, cmd);
}

/* One command at a time: "CWD", the passive command and the connect (or
 * the active one's listen), "REST", then the transfer command, sent only
 * (its 1xx is xfer_connected()'s). */
static int xfer_open_stepwise(struct ftp_conn *c, struct ftp_reply *r,
			      const struct ftp_xfer_cmd *cmd,
			      struct xfer_open *o)
{
	int ret = cmd->cwd ? ftp_conn_send(c, "CWD", cmd->cwd) : 0;

	if (ret == 0 && cmd->cwd)
		ret = xfer_cwd_reply(c, r, cmd);
	if (ret < 0)
		return ret;
	if (c->ep->active)
		ret = xfer_active_listen(c, r, &o->lfd);
	else
		ret = xfer_passive_connect(c, r, &o->fd);
	if (ret == 0 && cmd->rest > 0) {
		ret = xfer_send_rest(c, cmd);
		if (ret == 0)
			ret = xfer_rest_reply(c, r, cmd);
	}
	return ret < 0 ? ret : ftp_conn_send(c, cmd->verb, cmd->arg);
}

/*
 * The route: one flight (passive mode, unless the server answered a
 * flight out of order or refused one on this connection) or one command
 * at a time.  Both end with the transfer command sent, the data
 * connection made (passive) and its 1xx not read yet.
 */
static int xfer_route(struct ftp_conn *c, struct ftp_reply *r,
		      const struct ftp_xfer_cmd *cmd, struct xfer_open *o)
{
	if (!c->learned.no_pipeline && !c->ep->active &&
	    ftp_learned_pipelining(c)) {
		bool had_epsv = !c->learned.no_epsv;
		int ret = xfer_open_pipelined(c, r, cmd, &o->fd);

		/* EPSV found unknown just now (500/501/502): one command at
		 * a time with PASV; other failures are the caller's. */
		if (ret == 0 || c->broken || !(had_epsv && c->learned.no_epsv))
			return ret;
	}
	return xfer_open_stepwise(c, r, cmd, o);
}

/*
 * The TLS handshake before the 1xx, for a server known (on this
 * connection) to wait for it, or whose 1xx does not come soon: then it
 * is known to from now on.
 */
static int xfer_handshake_early(struct ftp_conn *c, struct ftp_reply *r,
				const struct ftp_xfer_cmd *cmd,
				struct ftp_xfer *x, struct xfer_open *o)
{
	bool timed_out = false;
	int ret;

	if (o->fd < 0 || (!c->learned.handshake_first &&
			  ftp_conn_reply_comes(c, XFER_PRELIM_WAIT_MS)))
		return 0;
	if (!c->learned.handshake_first)
		log_debug("conn %u: no reply to %s within %d ms: TLS "
			  "handshake on the data connection first",
			  c->id, cmd->verb, XFER_PRELIM_WAIT_MS);
	c->learned.handshake_first = true;
	o->early = true;
	ret = xfer_handshake(c, r, o->fd, cmd, x, &o->resumed, &timed_out);
	o->fd = -1; /* owned (and on failure closed) by the TLS layer */
	if (timed_out)
		snprintf(c->err, sizeof(c->err),
			 "server did not reply in time: no reply to %s and no "
			 "TLS handshake on the data connection",
			 cmd->verb);
	return ret;
}

/* Counters and the debug log of a data connection just secured. */
static void xfer_count(struct ftp_conn *c, const struct ftp_xfer *x,
		       bool resumed)
{
	c->data_conns++;
	stats_add(STATS_DATA_CONNS, 1);
	if (tls_conn_is_plain(x->tls)) {
		/* allow_plaintext against a server without TLS */
		log_debug("conn %u: data connection in the clear", c->id);
		return;
	}
	if (resumed)
		c->data_resumed++;
	stats_add(resumed ? STATS_DATA_RESUMED : STATS_DATA_NOT_RESUMED, 1);
	log_debug("conn %u: data connection %s, TLS session %s "
		  "(resumed %llu of %llu)",
		  c->id, tls_conn_version(x->tls),
		  resumed ? "resumed" : "NOT resumed",
		  (unsigned long long)c->data_resumed,
		  (unsigned long long)c->data_conns);
	if (!resumed && c->ep->learned &&
	    !atomic_exchange(&c->ep->learned->warned_no_resume, true))
		log_warn("data connection did not resume the control "
			 "connection's TLS session; servers that require "
			 "session reuse will refuse it");
}

/*
 * The transfer command is sent and the data connection made (or, active,
 * awaited): the 1xx, the server's connection (active mode), and the TLS
 * handshake - after the 1xx (docs/DESIGN.md 4, TLS point 3), unless the
 * server wants it first.
 */
static int xfer_connected(struct ftp_conn *c, struct ftp_reply *r,
			  const struct ftp_xfer_cmd *cmd, struct ftp_xfer *x,
			  struct xfer_open *o)
{
	bool timed_out = false;
	int ret = xfer_handshake_early(c, r, cmd, x, o);

	if (ret == 0)
		ret = xfer_prelim_reply(c, r, cmd);
	if (ret == 0 && o->lfd >= 0)
		ret = xfer_active_accept(c, o->lfd, &o->fd);
	if (ret == 0 && !o->early) {
		ret = xfer_handshake(c, r, o->fd, cmd, x, &o->resumed,
				     &timed_out);
		o->fd = -1;
	}
	if (ret == 0)
		xfer_count(c, x, o->resumed);
	return ret;
}

/* One attempt at opening the transfer. */
static int xfer_open_once(struct ftp_conn *c, struct ftp_reply *r,
			  const struct ftp_xfer_cmd *cmd, struct ftp_xfer **out)
{
	struct ftp_xfer *x = calloc(1, sizeof(*x));
	struct xfer_open o = { .fd = -1, .lfd = -1 };
	int ret;

	if (!x)
		return -ENOMEM;
	ret = xfer_route(c, r, cmd, &o);
	if (ret == 0)
		ret = xfer_connected(c, r, cmd, x, &o);
	if (ret == 0) {
		*out = x;
		x = NULL;
	}
	if (x) {
		tls_conn_free(x->tls);
		free(x);
	}
	if (o.fd >= 0)
		close(o.fd);
	if (o.lfd >= 0)
		close(o.lfd);
	return ret;
}

/*
 * Pauses before asking again after a transient refusal: ProFTPD answers
 * "425 EPSV: Address already in use" when two sessions pick the same
 * passive port in the same millisecond, and the next EPSV works.
 */
static const int xfer_retry_ms[] = { 10, 50, 200, 500 };

int ftp_xfer_open(struct ftp_conn *c, const struct ftp_xfer_cmd *cmd,
		  struct ftp_xfer **out)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	size_t attempt = 0;
	int ret;

	for (;;) {
		ret = xfer_open_once(c, r, cmd, out);
		/* Nothing moved yet and the connection is in step: a 425
		 * or 426 is "not now", worth asking again here. */
		if (ret == 0 || c->broken || !ftp_errno_transient(ret) ||
		    attempt == sizeof(xfer_retry_ms) / sizeof(xfer_retry_ms[0]))
			break;
		log_debug("conn %u: %s; trying again", c->id, c->err);
		stats_add(STATS_RETRIES, 1);
		if (net_sleep(xfer_retry_ms[attempt++]) < 0) {
			ret = -EINTR;
			break;
		}
	}
	return ret;
}

ssize_t ftp_xfer_read(struct ftp_conn *c, struct ftp_xfer *x, void *buf,
		      size_t len)
{
	ssize_t n;

	if (x->eof)
		return 0;
	/* The deadline bounds one stall, not the whole transfer. */
	n = tls_conn_read(x->tls, buf, ratelimit_chunk(RATELIMIT_DOWN, len),
			  net_deadline(c->ep->timeout_ms));
	if (n > 0) {
		x->bytes += (uint64_t)n;
		stats_add(STATS_BYTES_READ, (uint64_t)n);
		/* -o bwlimit: the bytes are here; the next ones wait.  An
		 * interrupt ends the wait, and the next read sees it. */
		(void)ratelimit_account(RATELIMIT_DOWN, (size_t)n);
		return n;
	}
	if (n == 0 || n == -ECONNRESET) {
		x->eof = true;
		x->clean_eof = n == 0;
		return 0;
	}
	x->timed_out = n == -ETIMEDOUT;
	snprintf(c->err, sizeof(c->err), "data connection: %s",
		 x->timed_out && net_op_expired()
			 ? "operation not done within op_timeout"
		 : x->timed_out ? "stalled longer than the timeout"
				: strerror((int)-n));
	return n;
}

int ftp_xfer_peek_end(struct ftp_conn *c, struct ftp_xfer *x, int ms)
{
	char b;
	ssize_t n;

	(void)c;
	if (x->eof)
		return 1;
	n = tls_conn_read(x->tls, &b, 1, net_deadline(ms));
	if (n == 0 || n == -ECONNRESET) {
		x->eof = true;
		x->clean_eof = n == 0;
		return 1;
	}
	if (n == -ETIMEDOUT)
		return 0; /* a slow end, not a stall: nothing is lost */
	if (n > 0) {
		x->bytes++;
		return -EAGAIN;
	}
	return (int)n;
}

int ftp_xfer_finish(struct ftp_conn *c, struct ftp_xfer *x, enum ftp_op op)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	int ret;

	/* Answer the server's close_notify with ours: vsftpd sends 226
	 * only once it has seen it (docs/DESIGN.md 4, TLS point 4). */
	if (x->clean_eof)
		(void)tls_conn_shutdown(x->tls, false, net_deadline(1000));
	tls_conn_free(x->tls);
	ret = ftp_conn_read_reply(c, r);
	if (ret == 0 && r->code / 100 != 2) {
		xfer_describe_reply(c, "transfer failed", r);
		ret = ftp_errno(op, r, true);
	} else if (ret == 0 && !x->clean_eof) {
		snprintf(c->err, sizeof(c->err),
			 "data stream ended without TLS close_notify after "
			 "%llu bytes: possible truncation",
			 (unsigned long long)x->bytes);
		ret = -ECONNABORTED; /* cut on its way: worth another try */
	}
	free(x);
	return ret;
}

/* How long a reply that a server sends out of order may lag behind. */
#define XFER_ABORT_LATE_MS 1000

int ftp_xfer_abort_send(struct ftp_conn *c, struct ftp_xfer *x)
{
	bool timed_out = x->timed_out;

	/*
	 * Close the data connection first (vsftpd ignores ABOR during a
	 * transfer, SERVERS.md), then ABOR (RFC 959 4.1.3) for servers that
	 * wait for it before answering (Pure-FTPd on TLS 1.2), then NOOP.
	 * The transfer's reply (426, or 226 if everything was sent) and
	 * ABOR's (225/226) come in server-specific order; NOOP's 200, which
	 * neither of them is, proves we are in step again - once both of
	 * the others came too: ftp-srv runs commands concurrently and may
	 * answer ABOR after NOOP, and that late 225 would be taken as the
	 * reply to the next command.
	 */
	tls_conn_free(x->tls);
	free(x);
	/* A server that let the data connection stall is not going to
	 * answer promptly either: don't spend another timeout waiting.  Nor
	 * after the operation's deadline: no time is left to wait in. */
	if (timed_out || net_op_expired()) {
		ftp_conn_mark_broken(c, timed_out ? "data connection stalled"
						  : "op_timeout passed");
		return -EIO;
	}
	if (ftp_conn_send(c, "ABOR", NULL) < 0 ||
	    ftp_conn_send(c, "NOOP", NULL) < 0)
		return -EIO;
	return 0;
}

int ftp_xfer_abort_recv(struct ftp_conn *c, bool more_follow)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	bool noop_seen = false;
	int others = 0, i;

	for (i = 0; i < 6; i++) {
		if (noop_seen && others >= 2)
			return 0;
		/* With commands of the caller's behind NOOP, a late reply
		 * could not be told from theirs: not in step for sure. */
		if (noop_seen && (more_follow ||
				  !ftp_conn_reply_comes(c, XFER_ABORT_LATE_MS)))
			break;
		if (ftp_conn_read_reply(c, r) < 0)
			return -EIO;
		if (r->code == FTP_REPLY_OK && !noop_seen)
			noop_seen = true;
		else
			others++;
	}
	ftp_conn_mark_broken(c, "cannot resynchronise after an abort");
	return -EIO;
}

void ftp_xfer_abort(struct ftp_conn *c, struct ftp_xfer *x)
{
	if (ftp_xfer_abort_send(c, x) == 0)
		(void)ftp_xfer_abort_recv(c, false);
}

int ftp_xfer_write(struct ftp_conn *c, struct ftp_xfer *x, const void *buf,
		   size_t len)
{
	int ret = 0;

	if (x->failed)
		return x->write_err;
	/* -o bwlimit_up: in pieces, each sent when the cap allows it. */
	for (size_t done = 0, part; ret == 0 && done < len; done += part) {
		part = ratelimit_chunk(RATELIMIT_UP, len - done);
		(void)ratelimit_account(RATELIMIT_UP, part);
		ret = tls_conn_write_all(x->tls, (const char *)buf + done, part,
					 net_deadline(c->ep->timeout_ms));
	}
	if (ret < 0) {
		x->failed = true;
		x->write_err = ret;
		x->timed_out = ret == -ETIMEDOUT;
		snprintf(c->err, sizeof(c->err), "data connection: %s",
			 x->timed_out ? "stalled longer than the timeout"
				      : strerror(-ret));
		return ret;
	}
	x->bytes += len;
	stats_add(STATS_BYTES_WRITTEN, len);
	return 0;
}

/* Longest wait for the server's close_notify after ours. */
#define XFER_UPLOAD_DRAIN_MS 5000

int ftp_xfer_finish_upload(struct ftp_conn *c, struct ftp_xfer *x,
			   enum ftp_op op)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	int drain_ms = c->ep->timeout_ms < XFER_UPLOAD_DRAIN_MS
			       ? c->ep->timeout_ms
			       : XFER_UPLOAD_DRAIN_MS;
	bool failed = x->failed;
	int write_err = x->write_err;
	int ret;

	if (!x->failed)
		(void)tls_conn_shutdown(x->tls, true, net_deadline(drain_ms));
	tls_conn_free(x->tls);
	if (x->timed_out) {
		/* Nobody is listening: don't wait another timeout. */
		ftp_conn_mark_broken(c, "upload stalled");
		free(x);
		return -EIO;
	}
	free(x);
	ret = ftp_conn_read_reply(c, r);
	if (ret < 0)
		return ret;
	if (r->code / 100 != 2) {
		xfer_describe_reply(c, "upload failed", r);
		ret = ftp_errno(op, r, false);
	} else if (failed) {
		/* The server confirms what it got, but we know it is not
		 * everything. */
		ret = write_err;
	}
	return ret;
}
