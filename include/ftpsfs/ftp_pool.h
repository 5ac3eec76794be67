/*
 * ftp_pool.h - a pool of logged-in control connections.
 *
 * Locking: one mutex guards the idle list, the parked list and the
 * counters; it is never held across network I/O (logging in, aborting a
 * transfer, NOOP).  A connection handed out by ftp_pool_acquire() belongs
 * to the caller alone until it is released or parked.
 *
 * Capacity: transfers (file reads and writes) may hold at most
 * max_conns - 1 connections, so a metadata request (ls, stat) never waits
 * behind long transfers; with max_conns 1 they share the one.
 *
 * Parking: a reader that streams a file keeps its transfer open between
 * read() calls.  Instead of holding the connection hostage, it parks it
 * with its open transfer.  When the pool is exhausted, ftp_pool_acquire()
 * reclaims the longest-parked connection: it aborts that transfer and uses
 * the connection; the reader later finds its lease gone and restarts with
 * REST at its offset.  A writer streaming into STOR/APPE parks the same
 * way between write() calls; reclaiming it *ends* the upload (the server
 * confirms what it got) instead of aborting, and the writer goes on later
 * with APPE.  So open files never deadlock the pool.
 *
 * Reads and uploads of one file: vsftpd (lock_upload_files, its default)
 * holds a read lock on a file while a download of it is open and makes
 * an upload wait for it; a parked download of our own would stall the
 * upload until the timeout.  ftp_pool_upload_begin() therefore ends the
 * parked downloads of the file (tagged at parking) and keeps new ones from
 * parking until ftp_pool_upload_end().
 *
 * Adapting: a server that refuses another login as "too many
 * connections" (421, or 530 at PASS) shrinks the pool to what it accepts;
 * the operation waits for a connection instead of failing.
 *
 * Interrupts: a request interrupted while it waits for a free connection
 * gives up at once (-EINTR); an abandoned transfer is ended in the
 * background (ftp_pool_abandon()).  Waits for a connection also end at
 * the calling thread's operation deadline (net_set_op_deadline()).
 *
 * Outages: after a failed connect the server counts as down, and new
 * connects are tried only after a back-off (0.5 s doubling to 2 s), one
 * at a time (the prober: a request's own attempt, or the maintenance
 * thread's), so that many waiting requests never become a storm of
 * logins.  A request that needs a new connection meanwhile waits for the
 * server to come back, to its operation deadline (op_timeout) - unless
 * the mount is soft (ftp_pool_set_soft()), or the connect failed for a
 * reason waiting does not mend (a refused login or certificate): then it
 * fails at once.  The log says once that the server went away and once
 * that it is back; the maintenance thread also sends NOOP on idle
 * connections (keepalive) and closes surplus ones after idle_close.
 */
#ifndef FTPSFS_FTP_POOL_H
#define FTPSFS_FTP_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftpsfs/ftp_errno.h"

struct ftp_conn;
struct ftp_endpoint;
struct ftp_pool;
struct ftp_xfer;
struct ftp_xfer_cmd;

enum ftp_pool_use {
	FTP_POOL_META = 1, /* short commands and listings */
	FTP_POOL_XFER = 2, /* file transfers, held for long */
	/* Or'ed in: data would be lost by failing fast (an upload), so
	 * while the server is unreachable wait for it to come back even on
	 * a soft mount. */
	FTP_POOL_PATIENT = 0x10,
	/* Or'ed in: background work that may be done later or not at all
	 * (parallel ranges, fs_pread.c): take an idle connection or log in
	 * a new one if a slot is free, but never wait for one and never
	 * reclaim a parked stream - fail with -EBUSY instead. */
	FTP_POOL_NOWAIT = 0x20,
	/* Or'ed in with FTP_POOL_XFER: the transfer may also take the
	 * connection kept for the rest of the mount's work, for a moment:
	 * a parallel range opened while another range of the file ends
	 * (fs_pread_work.c), which gives its connection back soon. */
	FTP_POOL_SPARE = 0x40,
	/* Or'ed in with FTP_POOL_NOWAIT: a new connection only, logged in
	 * if a slot is free, never an idle one (-EBUSY): the pool grows
	 * ahead of the transfers that will need it. */
	FTP_POOL_FRESH = 0x80,
};

int ftp_pool_new(const struct ftp_endpoint *ep, unsigned max_conns,
		 struct ftp_pool **out);

/*
 * The pool's clock: milliseconds on a monotonic scale, and a wait on one
 * of the pool's condition variables (@lock held, as for
 * pthread_cond_timedwait()) until @ms on that scale or a signal.  The
 * real one is CLOCK_MONOTONIC (net_now_ms()); a test's clock may instead
 * jump to @ms at once.  Back-off, timeouts, idle and parked ages and the
 * operation deadline (net_set_op_deadline()) are all read on it.
 */
struct ftp_pool_clock {
	int64_t (*now_ms)(void);
	void (*wait_until)(pthread_cond_t *cond, pthread_mutex_t *lock,
			   int64_t ms);
};

/*
 * What the pool does to connections: ftp_conn_open(), ftp_conn_close(),
 * ftp_conn_looks_dead(), a NOOP, ftp_xfer_abort() and
 * ftp_xfer_finish_upload() - replaceable, so that the pool's logic can be
 * tested with a fake connector (tests/unit/test_pool.c); and its clock
 * (NULL: the real one).
 */
struct ftp_pool_ops {
	int (*open)(const struct ftp_endpoint *ep, unsigned id,
		    struct ftp_conn **out, char *err, size_t errsz);
	void (*close)(struct ftp_conn *c, bool polite);
	bool (*looks_dead)(struct ftp_conn *c);
	int (*noop)(struct ftp_conn *c);
	void (*abort_xfer)(struct ftp_conn *c, struct ftp_xfer *x);
	int (*finish_upload)(struct ftp_conn *c, struct ftp_xfer *x,
			     enum ftp_op op);
	const struct ftp_pool_clock *clock;
};

/* ftp_pool_new() with other @ops (NULL: the real ones). */
int ftp_pool_new_with(const struct ftp_endpoint *ep, unsigned max_conns,
		      const struct ftp_pool_ops *ops, struct ftp_pool **out);

/* @soft: while the server is down, requests that need a new connection
 * fail at once (EIO) instead of waiting for it (see above).  A request
 * without an operation deadline waits at most @outage_wait_ms for it
 * (patient ones on a soft mount too).  Defaults: hard, the endpoint's
 * timeout. */
void ftp_pool_set_soft(struct ftp_pool *p, bool soft, int outage_wait_ms);

/* Is the mount soft (retry little, fail fast)? */
bool ftp_pool_is_soft(const struct ftp_pool *p);

/* NOOP every @keepalive_ms on idle connections (0: never); close idle
 * connections beyond the first after @idle_close_ms. */
void ftp_pool_set_maintenance(struct ftp_pool *p, int keepalive_ms,
			      int idle_close_ms);

/* Start the maintenance thread (after daemonising: threads do not survive
 * fork).  Returns 0 or a negative errno. */
int ftp_pool_start(struct ftp_pool *p);

struct stats_pool;

/* Is a connection idle (for background work that must not make a
 * request wait)? */
bool ftp_pool_has_idle(struct ftp_pool *p);

/* How many connections transfers may hold at once now (max_conns - 1, or
 * 1; less once the server said how many it allows). */
unsigned ftp_pool_xfer_limit(struct ftp_pool *p);

/* The pool's connections now, for the statistics (stats.h). */
void ftp_pool_counts(struct ftp_pool *p, struct stats_pool *out);

/* Stop the thread, close every connection politely (QUIT), free. */
void ftp_pool_free(struct ftp_pool *p);

/*
 * A connection ready for commands: an idle one, a new one (logs in), or a
 * reclaimed parked one, for @use (FTP_POOL_META or FTP_POOL_XFER, maybe
 * with FTP_POOL_PATIENT).  Waits at most the endpoint's timeout for a
 * free slot, and while the server is down until the calling thread's
 * operation deadline (net_set_op_deadline(); without one, the pool's
 * outage wait: ftp_pool_set_soft()).
 * Returns 0 and *out, or a negative errno with a message in @err:
 * -ETIMEDOUT (no slot; or the server stayed away), -EBUSY (no slot now,
 * with FTP_POOL_NOWAIT), -EINTR (interrupted),
 * -EIO (server unreachable on a soft mount, or refusing us), or the
 * login's error.
 */
int ftp_pool_acquire(struct ftp_pool *p, unsigned use, struct ftp_conn **out,
		     char *err, size_t errsz);

/* Give @c back; a broken connection is closed instead. */
void ftp_pool_release(struct ftp_pool *p, struct ftp_conn *c);

/*
 * Give @c back with its open download @x that the caller gives up (an
 * interrupted read, a closed file) without waiting for the server: the
 * maintenance thread aborts the transfer and puts the connection back in
 * step (ABOR, NOOP), within the endpoint's timeout in all, or closes it.
 * Before ftp_pool_start() the connection is closed at once.  Takes @c and
 * @x.
 */
void ftp_pool_abandon(struct ftp_pool *p, struct ftp_conn *c,
		      struct ftp_xfer *x);

/*
 * Open the transfer @cmd (ftp_xfer.h) on a pooled connection for @use: on
 * *c if the caller holds one, else on one acquired here.  A failure that
 * cost the connection for a reason a fresh one may not meet (a data
 * connection reset before its handshake, a control connection closed by a
 * network fault: ftp_errno_transient()) is tried again on a fresh
 * connection: three attempts in all on a soft mount, eight otherwise
 * (within op_timeout); transient refusals on a connection still in step
 * are retried by ftp_xfer_open() itself.  Returns 0 with *c
 * and *x, or a negative errno with *c released and NULL and @err saying
 * why.
 */
int ftp_pool_xfer_open(struct ftp_pool *p, unsigned use,
		       const struct ftp_xfer_cmd *cmd, struct ftp_conn **c,
		       struct ftp_xfer **x, char *err, size_t errsz);

/* Park @c (a transfer connection) with its open download @x of the file
 * @tag (an inode number); returns the lease (0 if it could not be parked,
 * also while that file is being uploaded: then @x was aborted and @c
 * released). */
uint64_t ftp_pool_park(struct ftp_pool *p, struct ftp_conn *c,
		       struct ftp_xfer *x, uint64_t tag);

/* An upload of the file @tag begins / has ended (see above); calls nest.
 * Returns 0 or -ENOMEM. */
int ftp_pool_upload_begin(struct ftp_pool *p, uint64_t tag);
void ftp_pool_upload_end(struct ftp_pool *p, uint64_t tag);

/* Park @c with its open upload @x (opened for @op); returns the lease, or
 * 0 if it could not be parked: then the caller keeps @c and @x. */
uint64_t ftp_pool_park_upload(struct ftp_pool *p, struct ftp_conn *c,
			      struct ftp_xfer *x, enum ftp_op op);

/*
 * Take back a parked connection.  Returns 1 and sets *c, *x if @lease is
 * still parked.  Otherwise the pool reclaimed it: a download was aborted
 * (0); an upload was ended, and this waits until it is, then returns 0 if
 * the server confirmed everything sent, else the negative errno.
 */
int ftp_pool_unpark(struct ftp_pool *p, uint64_t lease, struct ftp_conn **c,
		    struct ftp_xfer **x);

#endif
