/*
 * stats.h - what the running mount has done, for `getfattr -n
 * user.ftpsfs.stats MOUNTPOINT` and the debug log.
 *
 * Counters only go up (relaxed atomics: a counter may lag another by an
 * instant, never lose a count); gauges (connections) are read from the
 * pool when the statistics are printed.  Like logging, the counters are
 * process-wide: every layer adds to them without a context to carry.
 *
 * Round trips: every wait for the server that one of our sends started
 * counts once - a TCP connect, each flight of a TLS handshake, the first
 * reply after a command or a batch of pipelined commands.  Waiting for
 * the bytes of a transfer does not count.  Each FUSE operation counts the
 * round trips of its thread (stats_op_begin/end), so the statistics show
 * what each kind of operation costs.
 */
#ifndef FTPSFS_STATS_H
#define FTPSFS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum stats_counter {
	STATS_LOGINS,		/* control connections logged in */
	STATS_LOGIN_FAILURES,	/* connects or logins that failed */
	STATS_CONNS_LOST,	/* connections found dead or broken */
	STATS_DATA_CONNS,	/* data connections opened */
	STATS_DATA_RESUMED,	/* ... that resumed the control session */
	STATS_DATA_NOT_RESUMED, /* ... that did not */
	STATS_BYTES_READ,	/* file bytes downloaded */
	STATS_BYTES_WRITTEN,	/* file bytes uploaded */
	STATS_LISTINGS,		/* MLSD/LIST transfers */
	STATS_COMMANDS,		/* commands sent */
	STATS_ROUND_TRIPS,
	STATS_CACHE_HITS,   /* lookups, attributes, listings from the cache */
	STATS_CACHE_MISSES, /* ... that had to ask the server */
	STATS_RETRIES,	    /* transient failures tried again */
	STATS_UPLOADS_RESUMED,	/* uploads that went on after a cut */
	STATS_LISTINGS_DROPPED, /* cached listings dropped for the budget */
	STATS_OUTAGES,		/* times the server became unreachable */
	STATS_READAHEAD_FILES,	/* small files fetched ahead of their open */
	STATS_READAHEAD_USED,	/* ... served from memory */
	STATS_READAHEAD_WASTED_BYTES, /* ... bytes dropped unserved */
	STATS_WB_UPLOADS,      /* write-back uploads done (-o writeback) */
	STATS_WB_FAILURES,     /* ... failed for good (record kept) */
	STATS_WB_RETRIES,      /* ... tried again later */
	STATS_WB_CONFLICTS,    /* ... sent under a conflict name */
	STATS_WB_REPLAYED,     /* ... left by an earlier mount, done */
	STATS_PREAD_RANGES,    /* ranges of big files fetched in parallel */
	STATS_PREAD_BYTES,     /* ... their bytes */
	STATS_PREAD_FALLBACKS, /* parallel reads given up for one stream */
	STATS_PREAD_STALE,     /* ... because the file changed on the server */
	STATS_PREAD_END_MS,    /* time spent ending ranges (ABOR, 226) */
	STATS_PREAD_RETRIES,   /* ranges fetched again after a failure */
	STATS_PREAD_OVERLAPS,  /* ranges opened while another ended */
	STATS_COUNTER_COUNT
};

enum stats_op {
	STATS_OP_LOOKUP,
	STATS_OP_GETATTR,
	STATS_OP_READDIR, /* opendir, readdir, readdirplus */
	STATS_OP_OPEN,
	STATS_OP_READ,
	STATS_OP_WRITE, /* write, create, mknod */
	STATS_OP_FLUSH, /* flush, fsync, release */
	STATS_OP_SETATTR,
	STATS_OP_NAMESPACE, /* mkdir, unlink, rmdir, rename, symlink, link */
	STATS_OP_XATTR,
	STATS_OP_OTHER,	     /* statfs, readlink, forget, ... */
	STATS_OP_BACKGROUND, /* not for a request: keepalive, reconnects */
	STATS_OP_COUNT
};

/* Kinds of failure a user saw as an errno. */
enum stats_error {
	STATS_ERR_REFUSED,   /* the server said no (4xx/5xx reply) */
	STATS_ERR_TRANSPORT, /* resets, TLS failures, malformed replies */
	STATS_ERR_TIMEOUT,
	STATS_ERR_LOCAL, /* our side: memory, spool, names */
	STATS_ERROR_COUNT
};

void stats_add(enum stats_counter c, uint64_t n);

/* One round trip of the calling thread (see above). */
void stats_round_trip(void);

/* The calling thread serves a FUSE operation of @op from now on; end
 * adds its round trips and counts it, as failed if stats_op_failed()
 * was called meanwhile. */
void stats_op_begin(enum stats_op op);
void stats_op_end(void);

/* The operation of the calling thread gives the kernel @err (a positive
 * errno): counted by kind, unless it is an answer rather than a failure
 * (ENOENT, EEXIST, ENODATA ...). */
void stats_op_failed(int err);

/* A message about a failure (already escaped, no secrets): kept as the
 * last error, with its time. */
void stats_note_error(const char *msg);

/* What the connection pool says of its connections when printed. */
struct stats_pool {
	unsigned open, idle, busy, parked, max;
	bool server_down; /* unreachable now (an outage) */
};

/* What the inode table holds when printed. */
struct stats_cache {
	size_t inodes, listings, listing_bytes;
	size_t uploads_pending; /* files written whose upload is not done */
};

/* The write-back queue when printed (-o writeback; all 0 without). */
struct stats_writeback {
	bool on;
	size_t queued;	    /* uploads pending */
	uint64_t bytes;	    /* their bytes */
	uint64_t oldest_ms; /* age of the oldest */
};

/*
 * The statistics as "name=value" lines into @buf.  Returns the length
 * (which may exceed @bufsz: then call again with a bigger buffer), or a
 * negative errno.
 */
int stats_format(const struct stats_pool *pool, const struct stats_cache *cache,
		 const struct stats_writeback *wb, char *buf, size_t bufsz);

#endif
