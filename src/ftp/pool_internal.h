/*
 * pool_internal.h - the pool's state, for pool.c, pool_park.c and
 * pool_maint.c only.  The locking rule: ftp_pool.h.
 */
#ifndef FTPSFS_POOL_INTERNAL_H
#define FTPSFS_POOL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ftpsfs/ftp_errno.h"
#include "ftpsfs/ftp_pool.h"

struct ftp_conn;
struct ftp_endpoint;
struct ftp_xfer;

#define POOL_BACKOFF_FIRST_MS 500
#define POOL_BACKOFF_MAX_MS   2000
#define POOL_TICK_MS	      500
/* How often a wait for a free connection looks at the interrupt flag. */
#define POOL_POLL_MS 100

/* An idle connection, and since when it has been (pool_now()). */
struct pool_idle {
	struct ftp_conn *c;
	int64_t since;
};

struct pool_parked {
	struct ftp_conn *c;
	struct ftp_xfer *x;
	uint64_t lease;
	uint64_t tag;	/* the file of a download (ftp_pool_park) */
	int64_t since;	/* parked at (net_now_ms) */
	bool upload;	/* reclaiming ends it (226) instead of aborting */
	enum ftp_op op; /* of the upload */
	bool ended;	/* reclaimed upload: ending done, result valid */
	int result;
	struct pool_parked *next;
};

/* A transfer its reader gave up (ftp_pool_abandon), waiting for the
 * maintenance thread. */
struct pool_abandoned {
	struct ftp_conn *c;
	struct ftp_xfer *x;
	struct pool_abandoned *next;
};

/* A file being uploaded, and how many uploads of it run. */
struct pool_upload {
	uint64_t tag;
	unsigned n;
	struct pool_upload *next;
};

struct ftp_pool {
	const struct ftp_endpoint *ep;
	const struct ftp_pool_ops *ops;
	const struct ftp_pool_clock *clock; /* ops->clock or the real one */
	int keepalive_ms;
	int idle_close_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a slot or connection became free */
	pthread_cond_t tick; /* wakes the maintenance thread */
	pthread_t thread;
	bool thread_started;
	volatile int stop_io; /* set: the thread's network waits end */
	/* guarded by lock: */
	unsigned max_conns;	/* may shrink (server limits) */
	struct pool_idle *idle; /* stack; slots for the initial max */
	unsigned nidle;
	unsigned nconns;	/* idle + busy + parked + connecting */
	struct ftp_conn **xfer; /* held for transfers, parked included;
				 * slots for the initial max */
	unsigned nxfer;
	struct pool_parked *parked;	  /* oldest first */
	struct pool_parked *reclaimed;	  /* uploads, until the owner asks */
	struct pool_upload *uploads;	  /* files whose downloads don't park */
	struct pool_abandoned *abandoned; /* for the maintenance thread */
	unsigned next_id;
	uint64_t next_lease;
	int64_t next_attempt; /* no connect before (back-off) */
	int backoff_ms;	      /* 0 while the server is reachable */
	char down_reason[256];
	int down_err;	       /* the last failed connect's errno */
	int64_t down_since;    /* when the outage began (net_now_ms) */
	unsigned down_waiters; /* operations that waited for it */
	bool probing;	       /* while down: the one connect in flight */
	bool soft;	       /* fail at once while the server is down */
	int outage_wait_ms;    /* without an operation deadline: how
				* long to wait for a down server */
	bool shrunk_logged;
	bool ever_connected; /* a login worked: spares make sense */
	bool stopping;
};

/* Shared by pool.c, pool_park.c and pool_maint.c (the lock is p->lock). */
/* The pool's clock (ftp_pool_ops.clock): now, and a wait on @cond (lock
 * held) until @ms on that clock or a signal. */
int64_t pool_now(const struct ftp_pool *p);
void pool_wait_until(struct ftp_pool *p, pthread_cond_t *cond, int64_t ms);
unsigned pool_xfer_limit(const struct ftp_pool *p);
void pool_drop_locked(struct ftp_pool *p, struct ftp_conn *c);
void pool_take_locked(struct ftp_pool *p, struct ftp_conn *c, unsigned use);
void pool_discard_locked(struct ftp_pool *p, struct ftp_conn *c);
int pool_hand_out(struct ftp_pool *p, struct ftp_conn *c, unsigned use,
		  struct ftp_conn **out);
bool pool_shrink_locked(struct ftp_pool *p, const char *err);
int pool_connect(struct ftp_pool *p, unsigned use, unsigned id, bool probe,
		 struct ftp_conn **out, char *err, size_t errsz);
bool pool_down_locked(const struct ftp_pool *p);
struct ftp_conn *pool_reclaim_locked(struct ftp_pool *p,
				     struct pool_parked **pp);
bool pool_resync_one(struct ftp_pool *p);

#endif
