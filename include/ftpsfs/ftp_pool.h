/*
 * ftp_pool.h - a pool of logged-in control connections.
 *
 * Locking: one mutex guards the idle list, the parked list and the
 * counters; it is never held across network I/O (logging in, aborting a
 * transfer).  A connection handed out by ftp_pool_acquire() belongs to the
 * caller alone until it is released or parked.
 *
 * Parking: a reader that streams a file keeps its transfer open between
 * read() calls.  Instead of holding the connection hostage, it parks it
 * with its open transfer.  When the pool is exhausted, ftp_pool_acquire()
 * reclaims the longest-parked connection: it aborts that transfer and uses
 * the connection; the reader later finds its lease gone and restarts with
 * REST at its offset.  So open files never deadlock the pool.
 */
#ifndef FTPSFS_FTP_POOL_H
#define FTPSFS_FTP_POOL_H

#include <stdbool.h>
#include <stdint.h>

struct ftp_conn;
struct ftp_endpoint;
struct ftp_pool;
struct ftp_xfer;

int ftp_pool_new(const struct ftp_endpoint *ep, unsigned max_conns,
		 struct ftp_pool **out);
/* Close every connection politely (QUIT) and free the pool. */
void ftp_pool_free(struct ftp_pool *p);

/*
 * A connection ready for commands: an idle one, a new one (logs in), or a
 * reclaimed parked one.  Waits at most the endpoint's timeout for a free
 * slot.  Returns 0 and *out, or a negative errno with a message in @err.
 */
int ftp_pool_acquire(struct ftp_pool *p, struct ftp_conn **out, char *err,
		     size_t errsz);

/* Give @c back; a broken connection is closed instead. */
void ftp_pool_release(struct ftp_pool *p, struct ftp_conn *c);

/* Park @c with its open transfer @x; returns the lease (never 0). */
uint64_t ftp_pool_park(struct ftp_pool *p, struct ftp_conn *c,
		       struct ftp_xfer *x);

/*
 * Take back a parked connection.  Returns true and sets *c, *x if @lease is
 * still parked; false if the pool reclaimed it meanwhile.
 */
bool ftp_pool_unpark(struct ftp_pool *p, uint64_t lease, struct ftp_conn **c,
		     struct ftp_xfer **x);

#endif
