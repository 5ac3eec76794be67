/*
 * conn.c - control connection: line I/O, replies, and the login dialogue.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_internal.h"
#include "ftpsfs/charset.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_errno.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/proxy.h"
#include "ftpsfs/stats.h"
#include "ftpsfs/tls.h"

/* What an anonymous login sends when the user gave no password: the
 * customary "e-mail address", which identifies nothing. */
#define FTP_ANONYMOUS_PASSWORD "anonymous@"

void ftp_conn_mark_broken(struct ftp_conn *c, const char *why)
{
	if (!c->broken)
		log_debug("conn %u: broken: %s", c->id, why);
	c->broken = true;
}

/*
 * Next line without its CRLF (a bare LF is accepted) into @line.
 * A line that does not fit FTP_LINE_MAX is a protocol violation.
 */
static int conn_read_line(struct ftp_conn *c, char *line, size_t *len,
			  int64_t deadline)
{
	for (;;) {
		char *nl = memchr(c->rbuf, '\n', c->rlen);
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - c->rbuf);
			size_t consumed = l + 1;

			if (l > 0 && c->rbuf[l - 1] == '\r')
				l--;
			memcpy(line, c->rbuf, l);
			line[l] = '\0';
			*len = l;
			c->rlen -= consumed;
			memmove(c->rbuf, c->rbuf + consumed, c->rlen);
			return 0;
		}
		if (c->rlen >= FTP_LINE_MAX)
			return -EMSGSIZE;
		/* A wait is a round trip if the reply it waits for answers
		 * a command sent after the last wait: a pipelined batch
		 * costs one, not one per command. */
		if (c->cmds_answered >= c->rtt_mark &&
		    c->cmds_answered < c->cmds_sent &&
		    !tls_conn_pending(c->tls)) {
			stats_round_trip();
			c->rtt_mark = c->cmds_sent;
		}
		n = tls_conn_read(c->tls, c->rbuf + c->rlen,
				  FTP_LINE_MAX - c->rlen, deadline);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return (int)n;
		c->rlen += (size_t)n;
	}
}

/*
 * Reading a reply failed with @ret (@tls_err: the TLS layer's account, or
 * NULL): say why in c->err, most telling cause first, and give the
 * connection up.  Returns @ret.
 */
static int conn_read_failed(struct ftp_conn *c, int ret, const char *tls_err)
{
	bool told = tls_err && tls_err[0];

	if (c->tls && !c->tls_answered && tls_conn_cert_requested(c->tls)) {
		/* The first reply over TLS never came, and the server had
		 * asked for a certificate we lack: that is why, whatever
		 * the transport did then (an alert, or a reset that
		 * swallowed it).  Later failures are not blamed on it:
		 * vsftpd asks for a certificate it does not require
		 * (ssl_request_cert). */
		snprintf(c->err, sizeof(c->err),
			 "control connection closed: %s%s%s%s",
			 TLS_CERT_REQUESTED_MSG, told ? " (" : "",
			 told ? tls_err : "", told ? ")" : "");
	} else if (told) {
		/* E.g. TLS 1.3: the server rejects our client certificate
		 * only after the handshake. */
		snprintf(c->err, sizeof(c->err),
			 "TLS error on the control connection: %s", tls_err);
	} else if (ret == -ETIMEDOUT && net_op_expired()) {
		snprintf(c->err, sizeof(c->err),
			 "operation not done within op_timeout");
	} else if (ret == -ETIMEDOUT) {
		snprintf(c->err, sizeof(c->err),
			 "server %s did not reply within %d s (-o timeout= "
			 "sets the limit)",
			 c->ep->host, c->ep->timeout_ms / 1000);
	} else {
		snprintf(c->err, sizeof(c->err), "%s",
			 ret == -EINTR	    ? "interrupted waiting for a reply"
			 : ret == -EMSGSIZE ? "server reply too long"
			 : ret == -EPROTO
				 ? "malformed server reply"
				 : "control connection closed by server");
	}
	ftp_conn_mark_broken(c, c->err);
	return ret;
}

/* A complete reply was read into @r: the debug log, the round-trip
 * accounting, the probe's hook, and a 421's meaning. */
static void conn_reply_read(struct ftp_conn *c, const struct ftp_reply *r)
{
	if (log_debug_enabled()) { /* every line: FEAT's matter */
		char pfx[32];

		snprintf(pfx, sizeof(pfx), "conn %u: < ", c->id);
		log_lines(LOG_DEBUG, __func__, pfx, r->text);
	}
	if (!ftp_reply_is_prelim(r) && c->cmds_answered < c->cmds_sent)
		c->cmds_answered++;
	c->tls_answered = c->tls && !tls_conn_is_plain(c->tls);
	if (c->ep->reply_seen)
		c->ep->reply_seen(c->ep->reply_seen_arg, c->id, r);
	if (r->code == FTP_REPLY_NOT_AVAILABLE) {
		/* 421: the server is closing this connection (RFC 959 4.2). */
		ftp_reply_message(r, c->err, sizeof(c->err));
		ftp_conn_mark_broken(c, "421 from server");
	}
}

/*
 * Read one reply.  With @prelim, a multi-line 1xx reply counts as read at
 * its first line: Pure-FTPd sends "150-Accepted data connection" at once
 * but the closing "150 ..." line only after the transfer, so waiting for
 * it before the data handshake would wait for ever.  The rest of that
 * reply is skipped before the next one is read.
 */
static int conn_read_reply(struct ftp_conn *c, struct ftp_reply *r, bool prelim)
{
	int64_t deadline = net_deadline(c->ep->timeout_ms);
	char line[FTP_LINE_MAX + 1];
	bool skipping = c->prelim_rest != 0;

	if (c->broken)
		return -EIO;
	ftp_reply_init(r);
	if (skipping) {
		/* Continue the 1xx reply whose first line we acted on. */
		r->code = c->prelim_rest;
		r->multiline = true;
		c->prelim_rest = 0;
	}
	for (;;) {
		size_t len = 0;
		int ret = conn_read_line(c, line, &len, deadline);

		if (ret < 0)
			return conn_read_failed(c, ret,
						ret == -EPROTO && c->tls
							? tls_conn_error(c->tls)
							: NULL);
		ret = ftp_reply_feed_line(r, line, len);
		if (ret < 0)
			return conn_read_failed(c, ret, NULL);
		if (ret == 1 && skipping) {
			/* End of the 1xx reply already acted on: now the
			 * reply the caller asked for. */
			skipping = false;
			ftp_reply_init(r);
			continue;
		}
		if (ret == 1)
			break;
		if (prelim && r->nlines == 1 && r->multiline &&
		    r->code / 100 == 1) {
			c->prelim_rest = r->code;
			r->multiline = false;
			break;
		}
	}
	conn_reply_read(c, r);
	return 0;
}

bool ftp_conn_reply_comes(struct ftp_conn *c, int ms)
{
	if (c->rlen > 0 || tls_conn_pending(c->tls))
		return true;
	return net_wait(tls_conn_fd(c->tls), POLLIN, net_deadline(ms)) == 0;
}

void ftp_conn_cork(struct ftp_conn *c)
{
	c->corked = true;
}

int ftp_conn_flush(struct ftp_conn *c)
{
	int ret = 0;

	c->corked = false;
	if (c->olen == 0 || c->broken)
		goto out;
	ret = tls_conn_write_all(c->tls, c->obuf, c->olen,
				 net_deadline(c->ep->timeout_ms));
	if (ret < 0) {
		snprintf(c->err, sizeof(c->err), "cannot send command: %s",
			 strerror(-ret));
		ftp_conn_mark_broken(c, c->err);
	}
out:
	c->olen = 0;
	c->oheld = 0;
	return c->broken ? (ret < 0 ? ret : -EIO) : ret;
}

void ftp_conn_drop_held(struct ftp_conn *c)
{
	c->cmds_sent -= c->oheld; /* never sent after all */
	c->oheld = 0;
	c->olen = 0;
	c->corked = false;
}

int ftp_conn_read_reply(struct ftp_conn *c, struct ftp_reply *r)
{
	int ret = ftp_conn_flush(c);

	return ret < 0 ? ret : conn_read_reply(c, r, false);
}

int ftp_conn_read_prelim(struct ftp_conn *c, struct ftp_reply *r)
{
	int ret = ftp_conn_flush(c);

	return ret < 0 ? ret : conn_read_reply(c, r, true);
}

int ftp_conn_send(struct ftp_conn *c, const char *verb, const char *arg)
{
	char line[FTP_LINE_MAX + 3], conv[FTP_LINE_MAX + 1];
	char esc[256];
	int n, ret;

	if (c->broken)
		return -EIO;
	/* Paths are UTF-8 up to here; this is where they become the
	 * server's bytes (codepage=).  Login names go as given. */
	if (arg && c->ep->charset && strcmp(verb, "USER") != 0 &&
	    strcmp(verb, "PASS") != 0) {
		ret = charset_to_server(c->ep->charset, arg, conv,
					sizeof(conv));
		if (ret < 0) {
			snprintf(c->err, sizeof(c->err),
				 "%s: a name with no form in the server's "
				 "charset",
				 verb);
			return ret;
		}
		arg = conv;
	}
	/* A CR or LF would end the command early and smuggle in another. */
	if (arg && strpbrk(arg, "\r\n"))
		return -EINVAL;
	n = arg ? snprintf(line, sizeof(line), "%s %s\r\n", verb, arg)
		: snprintf(line, sizeof(line), "%s\r\n", verb);
	if (n < 0 || (size_t)n >= sizeof(line) || n > FTP_LINE_MAX)
		return -ENAMETOOLONG;
	/* A corked flight goes in one write or not at all (see
	 * ftp_conn_cork()): the caller reads the replies of what it holds
	 * before sending more. */
	if (c->corked && c->olen + (size_t)n > sizeof(c->obuf))
		return -ENOBUFS;
	if (strcmp(verb, "PASS") == 0)
		log_debug("conn %u: > PASS ****", c->id);
	else
		log_debug("conn %u: > %s", c->id,
			  log_escape(esc, sizeof(esc), line, (size_t)n - 2));
	c->cmds_sent++;
	stats_add(STATS_COMMANDS, 1);
	if (c->corked) {
		memcpy(c->obuf + c->olen, line, (size_t)n);
		c->olen += (size_t)n;
		c->oheld++;
		return 0;
	}
	ret = tls_conn_write_all(c->tls, line, (size_t)n,
				 net_deadline(c->ep->timeout_ms));
	if (ret < 0) {
		snprintf(c->err, sizeof(c->err), "cannot send command: %s",
			 strerror(-ret));
		ftp_conn_mark_broken(c, c->err);
	}
	return ret;
}

struct ftp_reply *ftp_conn_reply(struct ftp_conn *c)
{
	return &c->reply;
}

unsigned ftp_conn_id(const struct ftp_conn *c)
{
	return c->id;
}

const struct ftp_features *ftp_conn_feat(const struct ftp_conn *c)
{
	return &c->feat;
}

const char *ftp_conn_err(const struct ftp_conn *c)
{
	return c->err;
}

bool ftp_conn_broken(const struct ftp_conn *c)
{
	return c->broken;
}

struct tls_conn *ftp_conn_tls(const struct ftp_conn *c)
{
	return c->tls;
}

void ftp_conn_force_modes(struct ftp_conn *c, bool no_epsv, bool no_eprt)
{
	c->learned.no_epsv = no_epsv;
	c->learned.no_eprt = no_eprt;
	c->learned.no_pipeline = true; /* what worked before may not now */
}

void ftp_conn_modes(const struct ftp_conn *c, bool *no_epsv, bool *no_eprt)
{
	*no_epsv = c->learned.no_epsv;
	*no_eprt = c->learned.no_eprt;
}

/*
 * An idle connection with something to read was closed by the server
 * (idle timeout: a TLS alert or a bare close, SERVERS.md), got an
 * unsolicited 421, or is out of step.  Either way it is no use.
 */
bool ftp_conn_looks_dead(struct ftp_conn *c)
{
	struct pollfd pfd = { .fd = -1, .events = POLLIN };

	if (c->broken || !c->tls)
		return true;
	/* Bytes nobody asked for: a stray reply that would be taken as the
	 * answer to the next command. */
	if (c->rlen > 0 || tls_conn_pending(c->tls))
		return true;
	pfd.fd = tls_conn_fd(c->tls);
	return poll(&pfd, 1, 0) != 0;
}

int ftp_conn_peer_family(const struct ftp_conn *c)
{
	return c->peer.ss_family;
}

void ftp_conn_data_counts(const struct ftp_conn *c, uint64_t *conns,
			  uint64_t *resumed)
{
	*conns = c->data_conns;
	*resumed = c->data_resumed;
}

int ftp_conn_cmd(struct ftp_conn *c, struct ftp_reply *r, const char *verb,
		 const char *arg)
{
	int ret = ftp_conn_send(c, verb, arg);

	return ret < 0 ? ret : ftp_conn_read_reply(c, r);
}

/* RFC 4217 section 4: AUTH TLS on the plain connection, then TLS. */
static int conn_secure(struct ftp_conn *c, struct ftp_reply *r)
{
	char err[512];
	int fd, ret;

	if (c->ep->tls_mode == TLS_MODE_EXPLICIT) {
		ret = ftp_conn_cmd(c, r, "AUTH", "TLS");
		if (ret < 0)
			return ret;
		if (r->code != FTP_REPLY_AUTH_OK && c->ep->allow_plaintext &&
		    !c->rlen) {
			/* Go on in the clear, on the plaintext connection
			 * we have.  Anyone on the path could have caused
			 * the refusal (a downgrade): hence the opt-in and
			 * the warning. */
			log_warn("conn %u: the server refused AUTH TLS (%d): "
				 "continuing WITHOUT encryption "
				 "(allow_plaintext); everything, file contents "
				 "included, travels in the clear",
				 c->id, r->code);
			return 0;
		}
		if (r->code != FTP_REPLY_AUTH_OK) {
			snprintf(c->err, sizeof(c->err),
				 "server does not offer TLS (AUTH TLS answered "
				 "%d); refusing to continue without TLS (-o "
				 "allow_plaintext would allow it)",
				 r->code);
			return -EPROTONOSUPPORT;
		}
		/* Bytes after 234 would have been sent in the clear and
		 * then read as if protected: refuse them (STARTTLS
		 * command injection). */
		if (c->rlen) {
			snprintf(c->err, sizeof(c->err),
				 "server sent data before the TLS handshake");
			return -EPROTO;
		}
	}
	/* The TLS connection owns the socket now, also on failure. */
	fd = tls_conn_plain_release(c->tls);
	c->tls = NULL;
	ret = tls_conn_client_control(c->ep->tls, fd, c->ep->host,
				      c->ep->host_is_ip,
				      net_deadline(c->ep->connect_timeout_ms),
				      &c->tls, err, sizeof(err));
	if (ret < 0)
		snprintf(c->err, sizeof(c->err), "%s", err);
	return ret;
}

/*
 * Which password, if any, may answer a 331 on this connection.  NULL with
 * c->err set when none may (see the policy in ftp_conn.h).
 */
static const char *conn_password(struct ftp_conn *c)
{
	const struct secret *pw = c->ep->password;
	bool have = pw && pw->value && pw->len > 0;
	bool clear = tls_conn_is_plain(c->tls);

	/* In the clear, an anonymous login never sends the user's own
	 * secret, only the customary placeholder. */
	if (c->ep->anonymous &&
	    (!have || (clear && !c->ep->allow_plaintext_password)))
		return FTP_ANONYMOUS_PASSWORD;
	if (clear && !c->ep->allow_plaintext_password) {
		snprintf(c->err, sizeof(c->err),
			 "refusing to send a password over a connection "
			 "without TLS (-o allow_plaintext_password would)");
		return NULL;
	}
	if (!have) {
		snprintf(c->err, sizeof(c->err),
			 "server asks for a password and none was given "
			 "(use -o password_stdin, credentials=, askpass= or "
			 "~/.netrc)");
		return NULL;
	}
	return pw->value;
}

/* Did the login succeed?  0, or -errno with c->err describing @r. */
static int conn_login_result(struct ftp_conn *c, const struct ftp_reply *r)
{
	char msg[256];

	/* 230, 232, or another 2xx some server thinks fitting */
	if (r->code / 100 == 2)
		return 0;
	if (r->code == FTP_REPLY_NEED_ACCOUNT) {
		snprintf(c->err, sizeof(c->err),
			 "server wants an account (ACCT) after login: not "
			 "supported");
		return -EACCES;
	}
	snprintf(c->err, sizeof(c->err), "login refused: %d %s", r->code,
		 ftp_reply_message(r, msg, sizeof(msg)));
	return ftp_errno(FTP_OP_LOGIN, r, false);
}

/* What FEAT offers, less what the user told us not to use: with
 * no_mlsd the server looks like one without MLST everywhere (listings,
 * lookups, OPTS MLST), since its MLSD may be broken in ways FEAT can't
 * show. */
static void conn_parse_feat(struct ftp_conn *c, const struct ftp_reply *r)
{
	ftp_parse_feat(r->text, &c->feat);
	if (!c->ep->no_mlsd)
		return;
	c->feat.mlst = false;
	c->feat.mlst_unique = false;
	c->feat.mlst_mode = false;
	c->feat.mlst_opts[0] = '\0';
}

/* The server's preferences we set: MLSD facts (RFC 3659 7.9: switch on
 * those we use that it knows but leaves off, pyftpdlib's unix.mode; a
 * refusal only costs those facts) and UTF-8 names (not with codepage=,
 * where the user says which charset the names are in).  Sent, not read:
 * returns how many replies are due, or -errno. */
static int conn_send_opts(struct ftp_conn *c)
{
	int due = 0, ret = 0;

	if (c->feat.mlst && c->feat.mlst_opts[0]) {
		char arg[sizeof(c->feat.mlst_opts) + 8];

		snprintf(arg, sizeof(arg), "MLST %s", c->feat.mlst_opts);
		ret = ftp_conn_send(c, "OPTS", arg);
		due++;
	}
	if (ret == 0 && c->feat.utf8 && !c->ep->charset) {
		ret = ftp_conn_send(c, "OPTS", "UTF8 ON");
		due++;
	}
	return ret < 0 ? ret : due;
}

/* Read @n replies whose content does not matter (only that they came). */
static int conn_skip_replies(struct ftp_conn *c, struct ftp_reply *r, int n)
{
	int ret = 0;

	while (ret == 0 && n-- > 0)
		ret = ftp_conn_read_reply(c, r);
	return ret;
}

/* Expect the next reply to be 2xx for @verb; else -errno. */
static int conn_expect_2xx(struct ftp_conn *c, struct ftp_reply *r,
			   const char *verb)
{
	char msg[256];
	int ret = ftp_conn_read_reply(c, r);

	if (ret < 0 || r->code / 100 == 2)
		return ret;
	snprintf(c->err, sizeof(c->err), "%s refused: %d %s", verb, r->code,
		 ftp_reply_message(r, msg, sizeof(msg)));
	return ftp_errno(FTP_OP_SETUP, r, false);
}

/*
 * The settings of a logged-in connection: PBSZ 0 and PROT P (RFC 4217
 * section 9: in that order; a server that refuses PROT P would send our
 * files in the clear: fail), the options, TYPE I - single-line 2xx
 * replies, checked for their class only, so a server that answers them
 * out of order does no harm.  Over a plaintext control connection there
 * is nothing to protect with.  Sent only, into the caller's flight:
 * returns how many OPTS replies are due (conn_read_setup()), or -errno.
 */
static int conn_send_setup(struct ftp_conn *c)
{
	int ret = 0;

	if (!tls_conn_is_plain(c->tls)) {
		ret = ftp_conn_send(c, "PBSZ", "0");
		if (ret == 0)
			ret = ftp_conn_send(c, "PROT", "P");
	}
	if (ret == 0)
		ret = conn_send_opts(c);
	if (ret >= 0) {
		int opts = ret;

		ret = ftp_conn_send(c, "TYPE", "I");
		if (ret == 0)
			ret = opts;
	}
	return ret;
}

/* The replies to conn_send_setup()'s commands (@opts: its result). */
static int conn_read_setup(struct ftp_conn *c, struct ftp_reply *r, int opts)
{
	bool tls = !tls_conn_is_plain(c->tls);
	int ret = 0;

	if (tls)
		ret = conn_expect_2xx(c, r, "PBSZ");
	if (ret == 0 && tls)
		ret = conn_expect_2xx(c, r, "PROT");
	if (ret == 0)
		ret = conn_skip_replies(c, r, opts);
	if (ret == 0)
		ret = conn_expect_2xx(c, r, "TYPE");
	return ret;
}

/* The first flight: FEAT and USER.  *feat_done says whether FEAT was
 * answered; @r holds USER's reply. */
static int conn_feat_user(struct ftp_conn *c, struct ftp_reply *r,
			  bool *feat_done)
{
	const char *user = c->ep->user; /* never empty: see main */
	int ret;

	/* Without TLS, only an anonymous login may even start: USER
	 * would tell the name to every listener for nothing. */
	if (tls_conn_is_plain(c->tls) && !c->ep->anonymous &&
	    !c->ep->allow_plaintext_password) {
		snprintf(c->err, sizeof(c->err),
			 "the server has no TLS: refusing to log in as %s in "
			 "the clear (-o allow_plaintext_password would send "
			 "the password unencrypted)",
			 user);
		return -EACCES;
	}
	ftp_conn_cork(c);
	ret = ftp_conn_send(c, "FEAT", NULL);
	if (ret == 0)
		ret = ftp_conn_send(c, "USER", user);
	if (ret < 0) {
		ftp_conn_drop_held(c); /* neither goes */
		return ret;
	}
	ret = ftp_conn_read_reply(c, r);
	if (ret < 0)
		return ret;
	*feat_done = r->code == FTP_REPLY_FEAT;
	if (*feat_done)
		conn_parse_feat(c, r);
	return ftp_conn_read_reply(c, r);
}

/*
 * Log in (RFC 959 4.1.1) in two flights, each in one write (ftp-srv
 * answers the commands of one read in order, see ftp_conn_cork()):
 *   FEAT, USER - RFC 2389 section 3 allows FEAT at any time, and the
 *     servers we know answer it the same before login as after;
 *   PASS (only after a 331: a 230 or 232 to USER ends the login, and the
 *     password is not sent), then the settings (conn_send_setup()), which
 *     FEAT's answer shapes.  If PASS fails, their replies (530) are never
 *     read: the connection is given up.
 * A server that does not answer FEAT before login is asked after it,
 * then gets the settings in a flight of their own.
 */
static int conn_login(struct ftp_conn *c, struct ftp_reply *r)
{
	const char *pass;
	bool feat_done = false, setup_sent = false;
	int opts = 0, ret = conn_feat_user(c, r, &feat_done);

	if (ret == 0 && r->code == FTP_REPLY_NEED_PASS) {
		pass = conn_password(c);
		if (!pass)
			return -EACCES;
		ftp_conn_cork(c);
		ret = ftp_conn_send(c, "PASS", pass);
		if (ret == 0 && feat_done) {
			ret = opts = conn_send_setup(c);
			setup_sent = true;
		}
		if (ret >= 0)
			ret = ftp_conn_read_reply(c, r);
	}
	if (ret == 0)
		ret = conn_login_result(c, r);
	if (ret == 0 && !feat_done) {
		ret = ftp_conn_cmd(c, r, "FEAT", NULL);
		if (ret == 0 && r->code == FTP_REPLY_FEAT)
			conn_parse_feat(c, r);
	}
	if (ret == 0 && !setup_sent) {
		ftp_conn_cork(c);
		ret = opts = conn_send_setup(c);
	}
	return ret < 0 ? ret : conn_read_setup(c, r, opts);
}

int ftp_conn_data_connect(struct ftp_conn *c, uint16_t port, int *fd)
{
	return proxy_open_data_stream(
		c->ep->proxy, c->ep->host, c->ep->host_is_ip, &c->peer,
		c->peerlen, port, net_deadline(c->ep->connect_timeout_ms), fd,
		c->proxy_err, sizeof(c->proxy_err));
}

int ftp_conn_new(const struct ftp_endpoint *ep, unsigned id,
		 struct ftp_conn **out)
{
	struct ftp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->id = id;
	c->ep = ep;
	c->fd = -1;
	c->learned.no_epsv = ep->no_epsv;
	*out = c;
	return 0;
}

int ftp_conn_open(const struct ftp_endpoint *ep, unsigned id,
		  struct ftp_conn **out, char *err, size_t errsz)
{
	struct ftp_conn *c = NULL;
	struct ftp_reply *r;
	int ret;

	if (ftp_conn_new(ep, id, &c) < 0) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	r = &c->reply;
	/* Directly, or through the proxy (which resolves the name). */
	ret = proxy_open_stream(ep->proxy, ep->host, ep->host_is_ip, ep->port,
				net_deadline(ep->connect_timeout_ms), &c->fd,
				&c->peer, &c->peerlen, c->err, sizeof(c->err));
	if (ret < 0)
		goto fail;
	/* Plaintext until AUTH TLS (or for good, with allow_plaintext):
	 * the same reading and writing code either way. */
	ret = tls_conn_plain(c->fd, &c->tls);
	c->fd = -1;
	if (ret < 0)
		goto fail;
	if (ep->tls_mode == TLS_MODE_IMPLICIT) {
		ret = conn_secure(c, r);
		if (ret < 0)
			goto fail;
	}
	ret = ftp_conn_read_reply(c, r);
	if (ret < 0)
		goto fail;
	if (r->code != FTP_REPLY_READY) {
		char msg[256];

		snprintf(c->err, sizeof(c->err), "server greeting: %d %s",
			 r->code, ftp_reply_message(r, msg, sizeof(msg)));
		ret = ftp_errno(FTP_OP_LOGIN, r, false);
		goto fail;
	}
	if (ep->tls_mode == TLS_MODE_EXPLICIT) {
		ret = conn_secure(c, r);
		if (ret < 0)
			goto fail;
	}
	ret = conn_login(c, r);
	if (ret < 0)
		goto fail;
	log_debug("conn %u: logged in (%s)", c->id, tls_conn_version(c->tls));
	*out = c;
	return 0;

fail:
	snprintf(err, errsz, "%s", c->err[0] ? c->err : strerror(-ret));
	ftp_conn_close(c, false);
	return ret;
}

void ftp_conn_close(struct ftp_conn *c, bool polite)
{
	if (!c)
		return;
	if (polite && !c->broken && c->tls) {
		if (ftp_conn_send(c, "QUIT", NULL) == 0)
			(void)ftp_conn_read_reply(c, &c->reply);
		(void)tls_conn_shutdown(c->tls, false, net_deadline(500));
	}
	tls_conn_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}
