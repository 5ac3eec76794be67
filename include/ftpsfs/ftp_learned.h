/*
 * ftp_learned.h - what ftpsfs learns about a server, in one place.
 *
 * FTP leaves much to the server: whether it answers pipelined commands in
 * order, knows EPSV and EPRT (RFC 2428), wants the data connection's TLS
 * handshake before its 1xx reply, resumes TLS sessions on data
 * connections, how it lets a client set a modification time, and which
 * zone LIST shows times in.  Each fact starts from what the options say
 * (or from the standard) and changes only when the server proves
 * otherwise, once, never back.  What the server says of itself - FEAT
 * (RFC 2389) - is struct ftp_features (reply.h), read at each login
 * (ftp_conn_feat()); the mount keeps the first login's in fs_ctx.feat.
 *
 * Two scopes:
 *  - struct ftp_learned: facts about the server, shared by every
 *    connection of a mount (atomics: any thread may learn one).  It
 *    belongs to whoever made the endpoint (struct setup, setup.h) and is
 *    reached as ep->learned.  ftpsfs --probe owns one too, learns into it
 *    the mount's way, and reports what it holds: a mount would learn the
 *    same.
 *  - struct ftp_conn_learned: facts learnt on one control connection and
 *    kept for its life (conn_internal.h): a refusal there may be the
 *    connection's state rather than the server's, so a new connection
 *    starts again from the options.
 */
#ifndef FTPSFS_FTP_LEARNED_H
#define FTPSFS_FTP_LEARNED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct ftp_conn;
struct ftp_pool;

struct ftp_learned {
	/* The server answered a flight of commands out of order (ftp-srv
	 * handles each network read concurrently): one command at a time
	 * for the rest of the mount (xfer.c, ops.c; ftp_conn_cork()). */
	atomic_bool no_pipelining;
	/* A data connection did not resume the control connection's TLS
	 * session and the server took it: warned once (xfer.c).  The probe
	 * presets it: its report says it. */
	atomic_bool warned_no_resume;
	/* enum ftp_mtime_method (ftp_ops.h): how the server takes a new
	 * modification time; FTP_MTIME_UNKNOWN until a file's was set. */
	atomic_int mtime_method;
	/* LIST time = UTC + list_zone seconds (list_tz.h), learnt from the
	 * first listing with recent files; list_zone_tries counts listings
	 * whose samples disagreed: learning ends at FTP_ZONE_TRIES. */
	atomic_int list_zone;
	atomic_int list_zone_tries;
};

/* Facts of one control connection (its struct ftp_conn holds one). */
struct ftp_conn_learned {
	bool no_epsv;	      /* EPSV unknown to the server, or -o no_epsv:
			       * PASV */
	bool no_eprt;	      /* EPRT refused once: PORT */
	bool no_pipeline;     /* a pipelined passive command was refused:
			       * one at a time on this connection (else
			       * passive transfers go in one flight, xfer.c) */
	bool handshake_first; /* the server answers a transfer command only
			       * after the data connection's TLS handshake
			       * (xfer.c: ftp-srv) */
};

/* Is pipelining still trusted for @c's server? */
bool ftp_learned_pipelining(const struct ftp_conn *c);

/* The way @p's server takes modification times (enum ftp_mtime_method),
 * FTP_MTIME_UNKNOWN while no file's time was set yet. */
int ftp_learned_mtime_method(const struct ftp_pool *p);

/*
 * Set @path's modification time to @sec (UTC) the way this server was
 * found to take it, finding the way at the first try (ftp_op_set_mtime()).
 * Only a file decides the way (or that none works): servers that set
 * file times may still refuse directories' (vsftpd).  Returns 0 or a
 * negative errno (-EPERM: the server has no way).
 */
int ftp_learned_set_mtime(struct ftp_conn *c, const char *path, int64_t sec,
			  bool is_dir);

/* Listings whose LIST times fit no zone before ftpsfs stops trying. */
#define FTP_ZONE_TRIES 3
/* Files asked (MDTM) per listing to learn the zone from. */
#define FTP_ZONE_SAMPLES 4

/* One file of a LIST listing, for the zone: its LIST time read as UTC;
 * filled in: its MDTM time and whether MDTM answered. */
struct ftp_zone_file {
	const char *name;
	int64_t list_time;
	int64_t mdtm_time;
	bool answered;
};

/* Is the zone still to be learnt (and can it be: MDTM offered)?  A file
 * is of use if regular, its time LIST's (not exact), and
 * ftp_zone_file_useful() says so. */
bool ftp_zone_wanted(const struct ftp_conn *c);

/* Is a file listed at @list_time recent enough that LIST shows its time
 * to the minute (ls: within 150 days of @now)? */
bool ftp_zone_file_useful(int64_t list_time, time_t now);

/*
 * LIST times are the server's local time, MDTM's UTC (RFC 3659 3; see
 * list_tz.h).  Ask MDTM for @n (at most FTP_ZONE_SAMPLES) files of the
 * directory @dir in one flight, fill in their MDTM times, and learn the
 * zone from them.  Returns 0 or a transport error (ftp_op_mdtm_many()).
 */
int ftp_zone_learn(struct ftp_conn *c, const char *dir,
		   struct ftp_zone_file *files, size_t n);

/* The offset to take from a LIST time to get UTC: 0 until learnt. */
int ftp_zone_offset(const struct ftp_conn *c);

#endif
