/*
 * reply.h - FTP reply parsing (RFC 959 section 4.2) and the small parsers
 * for replies that carry data: EPSV (RFC 2428), PASV, PWD (257) and FEAT
 * (RFC 2389).  Pure functions over bytes.
 *
 * Replies are bounded: a line longer than FTP_LINE_MAX is rejected by the
 * line reader; a multi-line reply keeps at most FTP_REPLY_TEXT_MAX bytes of
 * text and may have at most FTP_REPLY_LINES_MAX lines, so a server that
 * never ends a multi-line reply cannot exhaust memory or hang us.
 */
#ifndef FTPSFS_REPLY_H
#define FTPSFS_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FTP_LINE_MAX	    4096
#define FTP_REPLY_TEXT_MAX  16384
#define FTP_REPLY_LINES_MAX 10000

/*
 * Reply codes we act on (RFC 959 section 4.2; named the way vsftpd's
 * ftpcodes.h names them).  1yz preliminary, 2yz done, 3yz more needed,
 * 4yz refused for now (may work if asked again), 5yz refused.
 */
enum {
	FTP_REPLY_DATA_ALREADY_OPEN = 125,
	FTP_REPLY_DATA_OPENING = 150,
	FTP_REPLY_OK = 200,
	FTP_REPLY_FEAT = 211,
	FTP_REPLY_FILE_STATUS = 213,
	FTP_REPLY_READY = 220,
	FTP_REPLY_TRANSFER_OK = 226,
	FTP_REPLY_PASV_OK = 227,
	FTP_REPLY_EPSV_OK = 229,
	FTP_REPLY_LOGGED_IN = 230,
	FTP_REPLY_AUTH_OK = 234,
	FTP_REPLY_FILE_OK = 250,
	FTP_REPLY_PATH_CREATED = 257,
	FTP_REPLY_NEED_PASS = 331,
	FTP_REPLY_NEED_ACCOUNT = 332,
	FTP_REPLY_REST_OK = 350,
	FTP_REPLY_NOT_AVAILABLE = 421,	/* closing the control connection */
	FTP_REPLY_CANT_OPEN_DATA = 425, /* no data connection (now) */
	FTP_REPLY_XFER_ABORTED = 426,	/* data connection closed */
	FTP_REPLY_FILE_BUSY = 450,
	FTP_REPLY_LOCAL_ERROR = 451,
	FTP_REPLY_NO_STORAGE = 452,
	FTP_REPLY_SYNTAX_ERROR = 500, /* unknown command */
	FTP_REPLY_BAD_ARGS = 501,
	FTP_REPLY_NOT_IMPLEMENTED = 502,
	FTP_REPLY_BAD_SEQUENCE = 503,
	FTP_REPLY_BAD_PARAM = 504, /* not implemented for that argument */
	FTP_REPLY_NOT_LOGGED_IN = 530,
	FTP_REPLY_NEED_ACCOUNT_STORE = 532,
	FTP_REPLY_FILE_UNAVAILABLE = 550,
	FTP_REPLY_EXCEEDED_STORAGE = 552,
	FTP_REPLY_BAD_FILENAME = 553,
};

struct ftp_reply {
	int code;
	/* All lines of the reply, CRLF removed, joined by '\n';
	 * NUL-terminated; truncated (not failed) at FTP_REPLY_TEXT_MAX. */
	char text[FTP_REPLY_TEXT_MAX];
	size_t text_len;
	unsigned nlines;
	bool multiline; /* internal: waiting for the closing line */
};

void ftp_reply_init(struct ftp_reply *r);

/*
 * Feed one line (without CRLF).  Returns 1 when the reply is complete,
 * 0 when more lines are needed, -EPROTO for a line that cannot start a
 * reply, -EMSGSIZE when the reply has too many lines.
 */
int ftp_reply_feed_line(struct ftp_reply *r, const char *line, size_t len);

/* First line's text after "NNN " / "NNN-", for messages: escaped
 * (log_escape(): control characters, non-ASCII bytes and '\\' as \xHH),
 * truncated with "..." to @bufsz.  Returns @buf. */
const char *ftp_reply_message(const struct ftp_reply *r, char *buf,
			      size_t bufsz);

static inline bool ftp_reply_is_prelim(const struct ftp_reply *r)
{
	return r->code >= 100 && r->code < 200;
}

/* The server does not know the command (or that form of it): a missing
 * feature, not a refusal of what it names. */
static inline bool ftp_reply_is_unknown_command(const struct ftp_reply *r)
{
	return r->code == FTP_REPLY_SYNTAX_ERROR ||
	       r->code == FTP_REPLY_BAD_ARGS ||
	       r->code == FTP_REPLY_NOT_IMPLEMENTED;
}

/* 229 "... (|||port|)": port into *port.  0 or -EPROTO. */
int ftp_parse_epsv(const char *text, uint16_t *port);

/*
 * 227 "... (h1,h2,h3,h4,p1,p2)": only the port is used; the address is
 * ignored because a hostile server must not aim us at another host
 * (DESIGN.md 4).  0 or -EPROTO.
 */
int ftp_parse_pasv(const char *text, uint16_t *port);

/* 257 "path" with "" as an escaped quote (RFC 959 appendix II).
 * 0, -EPROTO, or -ENAMETOOLONG. */
int ftp_parse_pwd(const char *text, char *out, size_t outsz);

struct ftp_features {
	bool auth_tls;
	bool mlst;	  /* MLST and MLSD (RFC 3659 section 7) */
	bool mlst_unique; /* MLST advertises the unique fact */
	bool mlst_mode;	  /* MLST advertises UNIX.mode */
	/* Facts we use that the server knows but does not send unless asked
	 * (no "*" in FEAT): the argument for "OPTS MLST" (RFC 3659 7.9),
	 * e.g. "type;size;modify;unix.mode;unique;" spelled as the server
	 * spells them; "" when nothing needs switching on. */
	char mlst_opts[96];
	bool utf8;
	bool epsv;
	bool mdtm;
	bool size;
	bool rest_stream;
	bool mfmt;
	bool tvfs;
	/* AVBL: space left (draft-peterson-streamlined-ftp-command-extensions)
	 */
	bool avbl;
	/* HASH (ftp_hash.h): bits 1 << enum ftp_hash_algo */
	unsigned hash_algos;
	int hash_selected; /* HASH's algorithm now, -1 if unknown */
};

/* Parse a FEAT reply's text (RFC 2389 section 3.2). */
void ftp_parse_feat(const char *text, struct ftp_features *f);

/* 213 "YYYYMMDDHHMMSS[.fff]" (RFC 3659 section 3): UTC time into *sec and
 * *nsec.  0 or -EPROTO. */
int ftp_parse_mdtm(const char *text, int64_t *sec, uint32_t *nsec);

/* 213 "N" (RFC 3659 section 4).  0 or -EPROTO. */
int ftp_parse_size(const char *text, uint64_t *size);

/* Format @sec (UTC) as YYYYMMDDHHMMSS into @buf (at least 15 bytes).
 * 0, or -EINVAL for a time outside years 1..9999. */
int ftp_format_time(int64_t sec, char *buf, size_t bufsz);

#endif
