/*
 * pool.c - control connection pool: reservation, parking, adapting to
 * connection limits, back-off, keepalive.  See ftp_pool.h.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"
#include "ftpsfs/tls.h"

#define POOL_BACKOFF_FIRST_MS 500
#define POOL_BACKOFF_MAX_MS 5000
#define POOL_TICK_MS 500
/* How often a wait for a free connection looks at the interrupt flag. */
#define POOL_POLL_MS 100

struct pool_parked {
	struct ftp_conn *c;
	struct ftp_xfer *x;
	uint64_t lease;
	uint64_t tag;	  /* the file of a download (ftp_pool_park) */
	int64_t since;	  /* parked at (net_now_ms) */
	bool upload;	  /* reclaiming ends it (226) instead of aborting */
	enum ftp_op op;	  /* of the upload */
	bool ended;	  /* reclaimed upload: ending done, result valid */
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
	int keepalive_ms;
	int idle_close_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;	    /* a slot or connection became free */
	pthread_cond_t tick;	    /* wakes the maintenance thread */
	pthread_t thread;
	bool thread_started;
	volatile int stop_io;	    /* set: the thread's network waits end */
	/* guarded by lock: */
	unsigned max_conns;	    /* may shrink (server limits) */
	struct ftp_conn **idle;	    /* stack; slots for the initial max */
	unsigned nidle;
	unsigned nconns;	    /* idle + busy + parked + connecting */
	unsigned nxfer;		    /* held for transfers, parked included */
	struct pool_parked *parked; /* oldest first */
	struct pool_parked *reclaimed; /* uploads, until the owner asks */
	struct pool_upload *uploads;   /* files whose downloads don't park */
	struct pool_abandoned *abandoned; /* for the maintenance thread */
	unsigned next_id;
	uint64_t next_lease;
	int64_t next_attempt;	    /* no connect before (back-off) */
	int backoff_ms;		    /* 0 while the server is reachable */
	char down_reason[256];
	bool shrunk_logged;
	bool ever_connected;	    /* a login worked: spares make sense */
	bool stopping;
};

int ftp_pool_new(const struct ftp_endpoint *ep, unsigned max_conns,
		 struct ftp_pool **out)
{
	struct ftp_pool *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return -ENOMEM;
	p->idle = calloc(max_conns, sizeof(*p->idle));
	if (!p->idle) {
		free(p);
		return -ENOMEM;
	}
	p->ep = ep;
	p->max_conns = max_conns;
	p->next_lease = 1;
	pthread_mutex_init(&p->lock, NULL);
	/* Deadlines on the monotonic clock: a step of the wall clock must
	 * not stretch a wait. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_cond_init(&p->tick, &ca);
	pthread_condattr_destroy(&ca);
	*out = p;
	return 0;
}

void ftp_pool_set_maintenance(struct ftp_pool *p, int keepalive_ms,
			      int idle_close_ms)
{
	p->keepalive_ms = keepalive_ms;
	p->idle_close_ms = idle_close_ms;
}

/* @ms (net_now_ms() clock) as an absolute time for the condvars. */
static struct timespec pool_abstime(int64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	return ts;
}

/* Transfers leave one connection for metadata (see ftp_pool.h). */
static unsigned pool_xfer_limit(const struct ftp_pool *p)
{
	return p->max_conns > 1 ? p->max_conns - 1 : 1;
}

/*
 * An idle connection with something to read was closed by the server
 * (idle timeout: a TLS alert or a bare close, SERVERS.md), got an
 * unsolicited 421, or is out of step.  Either way it is no use.
 */
static bool pool_conn_looks_dead(struct ftp_conn *c)
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

static void pool_drop_locked(struct ftp_pool *p, struct ftp_conn *c)
{
	p->nconns--;
	if (c && c->pool_xfer)
		p->nxfer--;
	pthread_cond_broadcast(&p->cond);
}

/* Hand @c out for @use (lock held). */
static void pool_take_locked(struct ftp_pool *p, struct ftp_conn *c,
			     unsigned use)
{
	bool xfer = use == FTP_POOL_XFER;

	if (xfer && !c->pool_xfer)
		p->nxfer++;
	else if (!xfer && c->pool_xfer)
		p->nxfer--;
	c->pool_xfer = xfer;
}

/* Drop @c and close it outside the lock (held on entry and on return). */
static void pool_discard_locked(struct ftp_pool *p, struct ftp_conn *c)
{
	stats_add(STATS_CONNS_LOST, 1);
	pool_drop_locked(p, c);
	pthread_mutex_unlock(&p->lock);
	ftp_conn_close(c, false);
	pthread_mutex_lock(&p->lock);
}

/* Give @c to the caller for @use and unlock. */
static int pool_hand_out(struct ftp_pool *p, struct ftp_conn *c,
			 unsigned use, struct ftp_conn **out)
{
	pool_take_locked(p, c, use);
	/* The last idle one: have a spare logged in meanwhile. */
	if (p->nidle == 0 && p->nconns < p->max_conns)
		pthread_cond_signal(&p->tick);
	pthread_mutex_unlock(&p->lock);
	*out = c;
	return 0;
}

/* The outcome of a connect attempt, for the back-off (lock held). */
static void pool_note_connect_locked(struct ftp_pool *p, int ret,
				     const char *err)
{
	if (ret == 0) {
		p->ever_connected = true;
		if (p->backoff_ms)
			log_info("connected to the server again");
		p->backoff_ms = 0;
		p->next_attempt = 0;
		return;
	}
	/* Unreachable, refused, timed out: wait before trying again.  A
	 * wrong password or certificate would only fail again too. */
	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : POOL_BACKOFF_FIRST_MS;
	if (p->backoff_ms > POOL_BACKOFF_MAX_MS)
		p->backoff_ms = POOL_BACKOFF_MAX_MS;
	p->next_attempt = net_now_ms() + p->backoff_ms;
	snprintf(p->down_reason, sizeof(p->down_reason), "%s", err);
	pthread_cond_signal(&p->tick);
}

/*
 * The server refused one more login as "too many connections": it allows
 * what we have.  Shrink (lock held).  Returns true if the caller should
 * wait for a connection instead of failing.
 */
static bool pool_shrink_locked(struct ftp_pool *p, const char *err)
{
	unsigned allowed = p->nconns; /* this attempt's slot is released */

	if (allowed == 0)
		return false; /* not even one: other clients use them all */
	if (allowed < p->max_conns) {
		if (!p->shrunk_logged)
			log_warn("server allows %u connections (%s); pool "
				 "shrunk from %u", allowed, err, p->max_conns);
		p->shrunk_logged = true;
		p->max_conns = allowed;
	}
	return true;
}

/* Log in a new connection for @use; the slot is already counted. */
/* Was the connection cut on its way (reset, closed without a reply: a
 * network hiccup, a server restarting), rather than refused, silent,
 * unreachable, or refusing us (TLS, login), which a retry would not
 * change? */
static bool pool_connect_cut(int ret)
{
	return ret == -ECONNRESET || ret == -EPIPE || ret == -ECONNABORTED;
}

static int pool_connect(struct ftp_pool *p, unsigned use,
			unsigned id, struct ftp_conn **out, char *err,
			size_t errsz)
{
	int ret = ftp_conn_open(p->ep, id, out, err, errsz);

	/* A login cut short is tried once more at once: only a second
	 * failure makes operations fail fast during the back-off. */
	if (ret < 0 && pool_connect_cut(ret)) {
		log_debug("conn %u: %s; trying once more", id, err);
		ret = ftp_conn_open(p->ep, id, out, err, errsz);
	}

	stats_add(ret == 0 ? STATS_LOGINS : STATS_LOGIN_FAILURES, 1);
	pthread_mutex_lock(&p->lock);
	if (ret == 0) {
		(*out)->pool_xfer = false;
		pool_take_locked(p, *out, use);
	} else {
		pool_drop_locked(p, NULL);
	}
	pool_note_connect_locked(p, ret == -EUSERS || ret == -EACCES ||
					    ret == -EPERM ? 0 : ret,
				 err);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* End the transfer parked on @pk's connection (lock not held). */
static int pool_end_parked(struct pool_parked *pk)
{
	volatile int *cancel;
	int64_t deadline;
	int ret;

	if (!pk->upload) {
		ftp_xfer_abort(pk->c, pk->x);
		return 0;
	}
	/* Someone else's data: an interrupt or the deadline of the request
	 * that happens to need this connection must not cut that upload
	 * short. */
	cancel = net_set_cancel(NULL);
	deadline = net_set_op_deadline(0);
	ret = ftp_xfer_finish_upload(pk->c, pk->x, pk->op);
	net_set_op_deadline(deadline);
	net_set_cancel(cancel);
	if (ret < 0 && pk->c->err[0])
		log_warn("%s", pk->c->err);
	return ret;
}

/*
 * Take the parked connection *@pp (a link of the parked list) and end its
 * transfer (lock held on entry and on return, dropped meanwhile).  A
 * reclaimed upload's outcome is kept for its owner (ftp_pool_unpark).
 */
static struct ftp_conn *pool_reclaim_locked(struct ftp_pool *p,
					    struct pool_parked **pp)
{
	struct pool_parked *pk = *pp;
	struct ftp_conn *c = pk->c;
	int ret;

	*pp = pk->next;
	if (pk->upload) {
		pk->next = p->reclaimed;
		p->reclaimed = pk;
	}
	pthread_mutex_unlock(&p->lock);
	log_debug("conn %u: reclaiming from a parked %s", c->id,
		  pk->upload ? "writer (ending its upload)" : "reader");
	ret = pool_end_parked(pk);
	pthread_mutex_lock(&p->lock);
	if (pk->upload) {
		pk->c = NULL;
		pk->x = NULL;
		pk->result = ret;
		pk->ended = true;
		pthread_cond_broadcast(&p->cond);
	} else {
		free(pk);
	}
	return c;
}

int ftp_pool_acquire(struct ftp_pool *p, unsigned use, struct ftp_conn **out,
		     char *err, size_t errsz)
{
	int64_t deadline = net_bound(net_deadline(p->ep->timeout_ms));
	bool patient = use & FTP_POOL_PATIENT;
	struct timespec until;
	unsigned id;
	int ret;

	use &= ~(unsigned)FTP_POOL_PATIENT;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		bool xfer_full = use == FTP_POOL_XFER &&
				 p->nxfer >= pool_xfer_limit(p);
		int64_t wake = deadline;

		/* The request was interrupted while it waited: it must not
		 * wait for a connection any longer. */
		if (net_cancelled()) {
			pthread_mutex_unlock(&p->lock);
			snprintf(err, errsz, "interrupted while waiting for a "
					     "connection");
			return -EINTR;
		}

		if (p->nidle > 0 && !xfer_full) {
			struct ftp_conn *c = p->idle[--p->nidle];

			if (pool_conn_looks_dead(c)) {
				log_debug("conn %u: closed by server while idle",
					  c->id);
				pool_discard_locked(p, c);
				continue;
			}
			return pool_hand_out(p, c, use, out);
		}
		if (p->nconns < p->max_conns && !xfer_full &&
		    net_now_ms() < p->next_attempt && patient) {
			/* Wait for the background reconnect, or try again
			 * ourselves when the back-off allows. */
			wake = p->next_attempt < deadline ? p->next_attempt
							  : deadline;
		} else if (p->nconns < p->max_conns && !xfer_full) {
			if (net_now_ms() < p->next_attempt) {
				snprintf(err, errsz,
					 "server unreachable (%s); retrying in "
					 "the background",
					 p->down_reason);
				pthread_mutex_unlock(&p->lock);
				return -EIO;
			}
			p->nconns++;
			id = ++p->next_id;
			pthread_mutex_unlock(&p->lock);
			ret = pool_connect(p, use, id, out, err, errsz);
			if (ret != -EUSERS)
				return ret;
			pthread_mutex_lock(&p->lock);
			if (!pool_shrink_locked(p, err)) {
				pthread_mutex_unlock(&p->lock);
				return ret;
			}
			continue; /* wait for one of ours */
		}
		if (p->parked && wake == deadline) {
			/* the longest-parked one */
			struct ftp_conn *c = pool_reclaim_locked(p, &p->parked);

			if (c->broken) {
				pool_discard_locked(p, c);
				continue;
			}
			return pool_hand_out(p, c, use, out);
		}
		if (net_now_ms() >= deadline) {
			pthread_mutex_unlock(&p->lock);
			if (net_now_ms() < p->next_attempt)
				snprintf(err, errsz,
					 "server unreachable (%s) for longer "
					 "than the timeout", p->down_reason);
			else if (net_op_expired())
				snprintf(err, errsz,
					 "operation not done within op_timeout "
					 "(waiting for a connection)");
			else
				snprintf(err, errsz,
					 "no FTP connection became free in time");
			return -ETIMEDOUT;
		}
		if (wake > net_now_ms() + POOL_POLL_MS)
			wake = net_now_ms() + POOL_POLL_MS;
		until = pool_abstime(wake);
		pthread_cond_timedwait(&p->cond, &p->lock, &until);
	}
}

void ftp_pool_release(struct ftp_pool *p, struct ftp_conn *c)
{
	pthread_mutex_lock(&p->lock);
	/* Broken, or beyond what the server now allows. */
	if (c->broken || p->nconns > p->max_conns || p->stopping) {
		if (c->broken)
			stats_add(STATS_CONNS_LOST, 1);
		pool_drop_locked(p, c);
		pthread_mutex_unlock(&p->lock);
		ftp_conn_close(c, !c->broken);
		return;
	}
	if (c->pool_xfer)
		p->nxfer--;
	c->pool_xfer = false;
	c->pool_idle_since = net_now_ms();
	p->idle[p->nidle++] = c;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static struct pool_upload *pool_find_upload_locked(struct ftp_pool *p,
						   uint64_t tag)
{
	struct pool_upload *u;

	for (u = p->uploads; u && u->tag != tag; u = u->next)
		;
	return u;
}

/* Append @pk to the parked list; 0 (not parked) for a download of a file
 * being uploaded, checked under the same lock as upload_begin's sweep. */
static uint64_t pool_park(struct ftp_pool *p, struct pool_parked *pk)
{
	struct pool_parked **tail;
	uint64_t lease;

	pthread_mutex_lock(&p->lock);
	if (!pk->upload && pool_find_upload_locked(p, pk->tag)) {
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	lease = pk->lease = p->next_lease++;
	pk->since = net_now_ms();
	for (tail = &p->parked; *tail; tail = &(*tail)->next)
		;
	*tail = pk;
	/* A waiter may now reclaim it. */
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return lease;
}

uint64_t ftp_pool_park(struct ftp_pool *p, struct ftp_conn *c,
		       struct ftp_xfer *x, uint64_t tag)
{
	struct pool_parked *pk = calloc(1, sizeof(*pk));
	uint64_t lease = 0;

	if (pk) {
		pk->c = c;
		pk->x = x;
		pk->tag = tag;
		lease = pool_park(p, pk);
	}
	if (!lease) {
		/* Can't park: end the transfer (in the background) instead. */
		free(pk);
		ftp_pool_abandon(p, c, x);
	}
	return lease;
}

int ftp_pool_upload_begin(struct ftp_pool *p, uint64_t tag)
{
	struct pool_parked **pp, *ended = NULL;
	struct pool_upload *u;

	pthread_mutex_lock(&p->lock);
	u = pool_find_upload_locked(p, tag);
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u) {
			pthread_mutex_unlock(&p->lock);
			return -ENOMEM;
		}
		u->tag = tag;
		u->next = p->uploads;
		p->uploads = u;
	}
	u->n++;
	for (pp = &p->parked; *pp;) {
		struct pool_parked *pk = *pp;

		if (pk->upload || pk->tag != tag) {
			pp = &pk->next;
			continue;
		}
		*pp = pk->next;
		pk->next = ended;
		ended = pk;
	}
	pthread_mutex_unlock(&p->lock);
	while (ended) {
		struct pool_parked *pk = ended;

		ended = pk->next;
		log_debug("conn %u: ending a parked download of the file about "
			  "to be uploaded", pk->c->id);
		ftp_xfer_abort(pk->c, pk->x);
		ftp_pool_release(p, pk->c);
		free(pk);
	}
	return 0;
}

void ftp_pool_upload_end(struct ftp_pool *p, uint64_t tag)
{
	struct pool_upload **up;

	pthread_mutex_lock(&p->lock);
	for (up = &p->uploads; *up; up = &(*up)->next) {
		struct pool_upload *u = *up;

		if (u->tag == tag) {
			if (--u->n == 0) {
				*up = u->next;
				free(u);
			}
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
}

uint64_t ftp_pool_park_upload(struct ftp_pool *p, struct ftp_conn *c,
			      struct ftp_xfer *x, enum ftp_op op)
{
	struct pool_parked *pk = calloc(1, sizeof(*pk));

	if (!pk)
		return 0;
	pk->c = c;
	pk->x = x;
	pk->upload = true;
	pk->op = op;
	return pool_park(p, pk);
}

/* Unlink and return the entry of @lease from @list, or NULL (lock held). */
static struct pool_parked *pool_unlink_lease(struct pool_parked **list,
					     uint64_t lease)
{
	for (struct pool_parked **pp = list; *pp; pp = &(*pp)->next) {
		struct pool_parked *pk = *pp;

		if (pk->lease == lease) {
			*pp = pk->next;
			return pk;
		}
	}
	return NULL;
}

int ftp_pool_unpark(struct ftp_pool *p, uint64_t lease, struct ftp_conn **c,
		    struct ftp_xfer **x)
{
	struct pool_parked *pk;
	int ret = 0;

	if (lease == 0)
		return 0;
	pthread_mutex_lock(&p->lock);
	pk = pool_unlink_lease(&p->parked, lease);
	if (pk) {
		*c = pk->c;
		*x = pk->x;
		ret = 1;
	} else {
		/* A reclaimed upload: its outcome, once the reclaimer has it
		 * (ending an upload is bounded by the timeouts). */
		for (;;) {
			struct pool_parked *r;

			for (r = p->reclaimed; r && r->lease != lease;
			     r = r->next)
				;
			if (!r || r->ended)
				break;
			pthread_cond_wait(&p->cond, &p->lock);
		}
		pk = pool_unlink_lease(&p->reclaimed, lease);
		if (pk)
			ret = pk->result;
	}
	pthread_mutex_unlock(&p->lock);
	free(pk);
	return ret;
}

bool ftp_pool_has_idle(struct ftp_pool *p)
{
	bool idle;

	pthread_mutex_lock(&p->lock);
	idle = p->nidle > 0 && p->backoff_ms == 0;
	pthread_mutex_unlock(&p->lock);
	return idle;
}

void ftp_pool_counts(struct ftp_pool *p, struct stats_pool *out)
{
	unsigned parked = 0;

	pthread_mutex_lock(&p->lock);
	for (struct pool_parked *pk = p->parked; pk; pk = pk->next)
		parked++;
	out->open = p->nconns;
	out->idle = p->nidle;
	out->parked = parked;
	out->busy = p->nconns - p->nidle - parked;
	out->max = p->max_conns;
	pthread_mutex_unlock(&p->lock);
}

/* ---- abandoned transfers ---- */

/*
 * Resynchronising a connection after an abort costs up to five replies of
 * `timeout` when the server is slow or silent (ftp_xfer_abort()).  An
 * interrupted reader must not pay that: it hands the connection over and
 * replies to the kernel at once, and the maintenance thread does the
 * work, within one `timeout` in all, then gives the connection back to
 * the pool or closes it.  Until then the connection counts as in use, so
 * the pool's limits hold.
 */
void ftp_pool_abandon(struct ftp_pool *p, struct ftp_conn *c,
		      struct ftp_xfer *x)
{
	struct pool_abandoned *a = calloc(1, sizeof(*a));

	pthread_mutex_lock(&p->lock);
	if (a && p->thread_started && !p->stopping) {
		a->c = c;
		a->x = x;
		a->next = p->abandoned;
		p->abandoned = a;
		pthread_cond_signal(&p->tick);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	free(a);
	/* Nobody to hand it to: drop the connection rather than wait. */
	ftp_conn_mark_broken(c, "transfer abandoned");
	ftp_xfer_abort(c, x);
	ftp_pool_release(p, c);
}

/* Resynchronise (or close) one abandoned connection; false if none. */
static bool pool_resync_one(struct ftp_pool *p)
{
	struct pool_abandoned *a;
	int64_t before;

	pthread_mutex_lock(&p->lock);
	a = p->abandoned;
	if (a)
		p->abandoned = a->next;
	pthread_mutex_unlock(&p->lock);
	if (!a)
		return false;
	log_debug("conn %u: ending an abandoned transfer in the background",
		  a->c->id);
	before = net_set_op_deadline(net_deadline(p->ep->timeout_ms));
	ftp_xfer_abort(a->c, a->x);
	net_set_op_deadline(before);
	ftp_pool_release(p, a->c); /* closes it if broken */
	free(a);
	return true;
}

/* ---- maintenance ---- */

/* Take the idle connection at @i out of the list (lock held). */
static struct ftp_conn *pool_take_idle_locked(struct ftp_pool *p, unsigned i)
{
	struct ftp_conn *c = p->idle[i];

	p->idle[i] = p->idle[--p->nidle];
	return c;
}

/* NOOP on one idle connection that has waited keepalive_ms. */
static bool pool_keepalive_one(struct ftp_pool *p)
{
	struct ftp_conn *c = NULL;
	struct ftp_reply *r;
	int64_t now = net_now_ms();

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; p->keepalive_ms && i < p->nidle; i++) {
		if (now - p->idle[i]->pool_idle_since >= p->keepalive_ms) {
			c = pool_take_idle_locked(p, i);
			pool_take_locked(p, c, FTP_POOL_META);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (!c)
		return false;
	r = malloc(sizeof(*r));
	if (!r || pool_conn_looks_dead(c) || ftp_conn_cmd(c, r, "NOOP", NULL) < 0)
		ftp_conn_mark_broken(c, "keepalive failed");
	free(r);
	ftp_pool_release(p, c); /* closes it if broken */
	return true;
}

/*
 * End one transfer parked for keepalive_ms: an open file nobody reads or
 * writes must not be cut by the server's own timer for stalled transfers
 * (vsftpd data_connection_timeout: a writer's next write would fail).  A
 * writer goes on with APPE, a reader with REST, when they come back.
 */
static bool pool_end_idle_parked_one(struct ftp_pool *p)
{
	struct pool_parked **pp;
	struct ftp_conn *c = NULL;
	int64_t now = net_now_ms(), before;

	/* A download's abort gets one `timeout` in all (uploads are ended
	 * without this bound: pool_end_parked()). */
	before = net_set_op_deadline(net_deadline(p->ep->timeout_ms));
	pthread_mutex_lock(&p->lock);
	for (pp = &p->parked; p->keepalive_ms && *pp; pp = &(*pp)->next) {
		if (now - (*pp)->since >= p->keepalive_ms) {
			log_debug("conn %u: ending a transfer parked for %d s",
				  (*pp)->c->id, p->keepalive_ms / 1000);
			c = pool_reclaim_locked(p, pp);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	net_set_op_deadline(before);
	if (!c)
		return false;
	ftp_pool_release(p, c); /* closes it if broken */
	return true;
}

/* Close one idle connection beyond the first that waited idle_close_ms. */
static bool pool_close_surplus_one(struct ftp_pool *p)
{
	struct ftp_conn *c = NULL;
	int64_t now = net_now_ms();

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; p->nidle > 1 && i < p->nidle; i++) {
		if (now - p->idle[i]->pool_idle_since >= p->idle_close_ms) {
			c = pool_take_idle_locked(p, i);
			pool_drop_locked(p, c);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (!c)
		return false;
	log_debug("conn %u: closing surplus idle connection", c->id);
	ftp_conn_close(c, true);
	return true;
}

/* While the server is down, try to reconnect when the back-off allows. */
/*
 * Log in one connection in the background (lock held on entry, dropped):
 * while the server is down, when the back-off allows; and otherwise to
 * keep a spare: once every connection is in use, the next request should
 * find one logged in rather than wait for a login (a dozen round trips).
 */
static void pool_connect_background(struct ftp_pool *p)
{
	bool down = p->backoff_ms != 0;
	struct ftp_conn *c;
	char err[512];
	unsigned id;
	int ret;

	if (p->nconns >= p->max_conns || p->stopping ||
	    (down && net_now_ms() < p->next_attempt) ||
	    (!down && (p->nidle > 0 || !p->ever_connected))) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->nconns++;
	id = ++p->next_id;
	pthread_mutex_unlock(&p->lock);
	ret = pool_connect(p, FTP_POOL_META, id, &c, err, sizeof(err));
	if (ret == 0) {
		if (!down)
			log_debug("conn %u: logged in as a spare", id);
		ftp_pool_release(p, c);
		return;
	}
	log_debug("background login: %s", err);
	if (ret == -EUSERS) { /* the server's limit: no more spares */
		pthread_mutex_lock(&p->lock);
		(void)pool_shrink_locked(p, err);
		pthread_mutex_unlock(&p->lock);
	}
}

static void pool_reconnect(struct ftp_pool *p)
{
	pthread_mutex_lock(&p->lock);
	pool_connect_background(p);
}

static void *pool_thread(void *arg)
{
	struct ftp_pool *p = arg;

	/* Unmounting must not wait for a slow server's answer to a NOOP or
	 * an ABOR (uploads are ended without this: pool_end_parked()). */
	net_set_cancel(&p->stop_io);

	for (;;) {
		struct timespec ts;

		pthread_mutex_lock(&p->lock);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		ts = pool_abstime(net_deadline(POOL_TICK_MS));
		pthread_cond_timedwait(&p->tick, &p->lock, &ts);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		pthread_mutex_unlock(&p->lock);
		while (pool_resync_one(p))
			;
		while (pool_keepalive_one(p))
			;
		while (pool_end_idle_parked_one(p))
			;
		while (pool_close_surplus_one(p))
			;
		pool_reconnect(p);
	}
	return NULL;
}

int ftp_pool_start(struct ftp_pool *p)
{
	int ret = pthread_create(&p->thread, NULL, pool_thread, p);

	if (ret)
		return -ret;
	pthread_mutex_lock(&p->lock); /* ftp_pool_abandon() reads it */
	p->thread_started = true;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void ftp_pool_free(struct ftp_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	p->stop_io = 1;
	pthread_cond_broadcast(&p->tick);
	pthread_mutex_unlock(&p->lock);
	if (p->thread_started)
		pthread_join(p->thread, NULL);
	while (p->parked) {
		struct pool_parked *pk = p->parked;

		p->parked = pk->next;
		(void)pool_end_parked(pk);
		ftp_conn_close(pk->c, true);
		free(pk);
	}
	while (p->abandoned) {
		struct pool_abandoned *a = p->abandoned;

		/* Stopping: no time for the server to answer an abort. */
		p->abandoned = a->next;
		ftp_conn_mark_broken(a->c, "unmounting");
		ftp_xfer_abort(a->c, a->x);
		ftp_conn_close(a->c, false);
		free(a);
	}
	while (p->reclaimed) {
		struct pool_parked *pk = p->reclaimed;

		p->reclaimed = pk->next;
		free(pk);
	}
	while (p->uploads) {
		struct pool_upload *u = p->uploads;

		p->uploads = u->next;
		free(u);
	}
	for (unsigned i = 0; i < p->nidle; i++)
		ftp_conn_close(p->idle[i], true);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	pthread_cond_destroy(&p->tick);
	free(p->idle);
	free(p);
}
