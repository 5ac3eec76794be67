/*
 * pool.c - control connection pool: slots, acquire and release, back-off,
 * shrinking to the server's connection limit, reclaiming a parked
 * connection.  See ftp_pool.h; parking is pool_park.c's, the maintenance
 * thread pool_maint.c's.  Calls go one way: pool_park.c, pool_maint.c and
 * pool_xfer.c call pool.c, never the reverse.
 */
#include <errno.h>
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
#include "pool_internal.h"

static int pool_noop(struct ftp_conn *c)
{
	return ftp_conn_cmd(c, ftp_conn_reply(c), "NOOP", NULL);
}

static const struct ftp_pool_ops pool_real_ops = {
	.open = ftp_conn_open,
	.close = ftp_conn_close,
	.looks_dead = ftp_conn_looks_dead,
	.noop = pool_noop,
	.abort_xfer = ftp_xfer_abort,
	.finish_upload = ftp_xfer_finish_upload,
};

static void pool_real_wait(pthread_cond_t *cond, pthread_mutex_t *lock,
			   int64_t ms)
{
	/* The condvars wait on CLOCK_MONOTONIC, net_now_ms()'s clock. */
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	pthread_cond_timedwait(cond, lock, &ts);
}

static const struct ftp_pool_clock pool_real_clock = {
	.now_ms = net_now_ms,
	.wait_until = pool_real_wait,
};

int ftp_pool_new(const struct ftp_endpoint *ep, unsigned max_conns,
		 struct ftp_pool **out)
{
	return ftp_pool_new_with(ep, max_conns, NULL, out);
}

int ftp_pool_new_with(const struct ftp_endpoint *ep, unsigned max_conns,
		      const struct ftp_pool_ops *ops, struct ftp_pool **out)
{
	struct ftp_pool *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return -ENOMEM;
	p->idle = calloc(max_conns, sizeof(*p->idle));
	p->xfer = calloc(max_conns, sizeof(*p->xfer));
	if (!p->idle || !p->xfer) {
		free(p->idle);
		free(p->xfer);
		free(p);
		return -ENOMEM;
	}
	p->ep = ep;
	p->ops = ops ? ops : &pool_real_ops;
	p->clock = p->ops->clock ? p->ops->clock : &pool_real_clock;
	p->max_conns = max_conns;
	p->outage_wait_ms = ep->timeout_ms;
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

void ftp_pool_set_soft(struct ftp_pool *p, bool soft, int outage_wait_ms)
{
	p->soft = soft;
	p->outage_wait_ms = outage_wait_ms;
}

bool ftp_pool_is_soft(const struct ftp_pool *p)
{
	return p->soft;
}

void ftp_pool_set_maintenance(struct ftp_pool *p, int keepalive_ms,
			      int idle_close_ms)
{
	p->keepalive_ms = keepalive_ms;
	p->idle_close_ms = idle_close_ms;
}

int64_t pool_now(const struct ftp_pool *p)
{
	return p->clock->now_ms();
}

void pool_wait_until(struct ftp_pool *p, pthread_cond_t *cond, int64_t ms)
{
	p->clock->wait_until(cond, &p->lock, ms);
}

/* Is @c held for a transfer?  Its place in p->xfer, or -1 (lock held). */
static int pool_xfer_index(const struct ftp_pool *p, const struct ftp_conn *c)
{
	for (unsigned i = 0; i < p->nxfer; i++)
		if (p->xfer[i] == c)
			return (int)i;
	return -1;
}

/* Count @c among the connections held for transfers, or not. */
static void pool_xfer_mark(struct ftp_pool *p, struct ftp_conn *c, bool xfer)
{
	int i = pool_xfer_index(p, c);

	if (xfer && i < 0)
		p->xfer[p->nxfer++] = c;
	else if (!xfer && i >= 0)
		p->xfer[i] = p->xfer[--p->nxfer];
}

/* Transfers leave one connection for metadata (see ftp_pool.h). */
unsigned pool_xfer_limit(const struct ftp_pool *p)
{
	return p->max_conns > 1 ? p->max_conns - 1 : 1;
}

/* ... or, for a moment (FTP_POOL_SPARE), that one too. */
static unsigned pool_xfer_cap(const struct ftp_pool *p, bool spare)
{
	unsigned n = pool_xfer_limit(p);

	return spare && n < p->max_conns ? n + 1 : n;
}

void pool_drop_locked(struct ftp_pool *p, struct ftp_conn *c)
{
	p->nconns--;
	if (c)
		pool_xfer_mark(p, c, false);
	pthread_cond_broadcast(&p->cond);
}

/* Hand @c out for @use (lock held). */
void pool_take_locked(struct ftp_pool *p, struct ftp_conn *c, unsigned use)
{
	pool_xfer_mark(p, c, use == FTP_POOL_XFER);
}

/* Drop @c and close it outside the lock (held on entry and on return). */
void pool_discard_locked(struct ftp_pool *p, struct ftp_conn *c)
{
	stats_add(STATS_CONNS_LOST, 1);
	pool_drop_locked(p, c);
	pthread_mutex_unlock(&p->lock);
	p->ops->close(c, false);
	pthread_mutex_lock(&p->lock);
}

/* Give @c to the caller for @use and unlock. */
int pool_hand_out(struct ftp_pool *p, struct ftp_conn *c, unsigned use,
		  struct ftp_conn **out)
{
	pool_take_locked(p, c, use);
	/* The last idle one: have a spare logged in meanwhile. */
	if (p->nidle == 0 && p->nconns < p->max_conns)
		pthread_cond_signal(&p->tick);
	pthread_mutex_unlock(&p->lock);
	*out = c;
	return 0;
}

bool pool_down_locked(const struct ftp_pool *p)
{
	return p->backoff_ms != 0;
}

/*
 * Does the failed connect @err say that the server is not there now - a
 * restart, a network outage - rather than refusing us (TLS, login),
 * which waiting would not change?  A name that no longer resolves is an
 * outage only for a host that did resolve before (DNS is part of the
 * network that went away).
 */
static bool pool_unreachable_err(const struct ftp_pool *p, int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -ECONNABORTED:
	case -EPIPE:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EHOSTDOWN:
	case -ENETDOWN:
	case -EUSERS: /* 421 to every login: shutting down, or full */
		return true;
	case -ENOENT:
		return p->ever_connected;
	default:
		return false;
	}
}

/* The server came back (lock held): say so once, with what it cost. */
static void pool_note_back_locked(struct ftp_pool *p)
{
	double secs = (double)(pool_now(p) - p->down_since) / 1000.0;

	log_info("server reachable again after %.1f s (%u operation%s "
		 "waited for it)",
		 secs, p->down_waiters, p->down_waiters == 1 ? "" : "s");
	p->backoff_ms = 0;
	p->next_attempt = 0;
	p->down_waiters = 0;
	p->down_err = 0;
}

/* The server went away (lock held): say so once. */
static void pool_note_down_locked(struct ftp_pool *p, const char *err)
{
	p->down_since = pool_now(p);
	stats_add(STATS_OUTAGES, 1);
	if (p->soft)
		log_warn("server unreachable: %s; operations fail until it is "
			 "back (soft mount), reconnecting in the background",
			 err);
	else
		log_warn("server unreachable: %s; operations wait for it "
			 "(at most op_timeout each), reconnecting",
			 err);
}

/* The outcome of a connect attempt, for the back-off (lock held).  @ret
 * is 0 for an answer that says nothing of reachability; @probe: the
 * attempt was made while the server was known to be down. */
static void pool_note_connect_locked(struct ftp_pool *p, int ret, bool probe,
				     const char *err)
{
	pthread_cond_broadcast(&p->cond); /* waiters look again */
	if (ret == 0) {
		p->ever_connected = true;
		if (pool_down_locked(p))
			pool_note_back_locked(p);
		return;
	}
	/* Unreachable, refused, timed out: wait before trying again.  A
	 * wrong password or certificate would only fail again too. */
	p->down_err = ret;
	snprintf(p->down_reason, sizeof(p->down_reason), "%s", err);
	/* Attempts that set out together before the first failure was
	 * known fail together: one step of the back-off, not one each. */
	if (pool_down_locked(p) && !probe)
		return;
	if (!pool_down_locked(p))
		pool_note_down_locked(p, err);
	p->backoff_ms =
		p->backoff_ms ? p->backoff_ms * 2 : POOL_BACKOFF_FIRST_MS;
	if (p->backoff_ms > POOL_BACKOFF_MAX_MS)
		p->backoff_ms = POOL_BACKOFF_MAX_MS;
	p->next_attempt = pool_now(p) + p->backoff_ms;
	pthread_cond_signal(&p->tick);
}

/*
 * The server refused one more login as "too many connections": it allows
 * what we have.  Shrink (lock held).  Returns true if the caller should
 * wait for a connection instead of failing.
 */
bool pool_shrink_locked(struct ftp_pool *p, const char *err)
{
	unsigned allowed = p->nconns; /* this attempt's slot is released */

	if (allowed == 0)
		return false; /* not even one: other clients use them all */
	if (allowed < p->max_conns) {
		if (!p->shrunk_logged)
			log_warn("server allows %u connections (%s); pool "
				 "shrunk from %u",
				 allowed, err, p->max_conns);
		p->shrunk_logged = true;
		p->max_conns = allowed;
	}
	return true;
}

/* Was the connection cut on its way (reset, closed without a reply: a
 * network hiccup, a server restarting), rather than refused, silent,
 * unreachable, or refusing us (TLS, login), which a retry would not
 * change? */
static bool pool_connect_cut(int ret)
{
	return ret == -ECONNRESET || ret == -EPIPE || ret == -ECONNABORTED;
}

/* What a failed login says of reachability: a refusal of us or of one
 * more connection says the server is there. */
static int pool_reach_of(int ret, bool alone)
{
	if (ret == -EACCES || ret == -EPERM)
		return 0;
	if (ret == -EUSERS && !alone)
		return 0; /* it has room for the ones we hold */
	return ret;
}

/* Log in a new connection for @use; the slot is already counted, and
 * p->probing set if @probe (the one attempt while the server is down). */
int pool_connect(struct ftp_pool *p, unsigned use, unsigned id, bool probe,
		 struct ftp_conn **out, char *err, size_t errsz)
{
	int ret = p->ops->open(p->ep, id, out, err, errsz);

	/* A login cut short is tried once more at once: only a second
	 * failure counts as the server being away. */
	if (ret < 0 && pool_connect_cut(ret)) {
		log_debug("conn %u: %s; trying once more", id, err);
		ret = p->ops->open(p->ep, id, out, err, errsz);
	}

	stats_add(ret == 0 ? STATS_LOGINS : STATS_LOGIN_FAILURES, 1);
	pthread_mutex_lock(&p->lock);
	if (probe)
		p->probing = false;
	if (ret == 0) {
		pool_take_locked(p, *out, use);
	} else {
		pool_drop_locked(p, NULL);
	}
	pool_note_connect_locked(p, pool_reach_of(ret, p->nconns == 0), probe,
				 err);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* ---- reclaiming a parked connection (parking itself: pool_park.c) ---- */

/* End the transfer parked on @pk's connection (lock not held). */
static int pool_end_parked(struct ftp_pool *p, struct pool_parked *pk)
{
	volatile int *cancel;
	int64_t deadline;
	int ret;

	if (!pk->upload) {
		p->ops->abort_xfer(pk->c, pk->x);
		return 0;
	}
	/* Someone else's data: an interrupt or the deadline of the request
	 * that happens to need this connection must not cut that upload
	 * short. */
	cancel = net_set_cancel(NULL);
	deadline = net_set_op_deadline(0);
	ret = p->ops->finish_upload(pk->c, pk->x, pk->op);
	net_set_op_deadline(deadline);
	net_set_cancel(cancel);
	if (ret < 0 && ftp_conn_err(pk->c)[0])
		log_warn("%s", ftp_conn_err(pk->c));
	return ret;
}

/*
 * Take the parked connection *@pp (a link of the parked list) and end its
 * transfer (lock held on entry and on return, dropped meanwhile).  A
 * reclaimed upload's outcome is kept for its owner (ftp_pool_unpark).
 */
struct ftp_conn *pool_reclaim_locked(struct ftp_pool *p,
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
	log_debug("conn %u: reclaiming from a parked %s", ftp_conn_id(c),
		  pk->upload ? "writer (ending its upload)" : "reader");
	ret = pool_end_parked(p, pk);
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

/* One caller's wait for a connection (ftp_pool_acquire). */
struct pool_wait {
	unsigned use;	    /* FTP_POOL_META or FTP_POOL_XFER */
	bool patient;	    /* waits out an outage even on a soft mount */
	bool nowait;	    /* never waits, never reclaims (-EBUSY) */
	bool spare;	    /* may take the connection kept for metadata */
	bool fresh;	    /* a new connection only */
	int64_t deadline;   /* for a free slot */
	int64_t outage_end; /* for the server to come back */
	bool for_server;    /* waiting for the server now, not a slot */
	bool counted;	    /* among p->down_waiters */
};

/* Does @w wait while the server is down, or fail at once (lock held)? */
static bool pool_waits_out(struct ftp_pool *p, struct pool_wait *w)
{
	if ((p->soft && !w->patient) || !pool_unreachable_err(p, p->down_err))
		return false;
	if (!w->counted)
		p->down_waiters++;
	w->counted = true;
	w->for_server = true;
	return true;
}

/* Open a new connection for @w, or decide to wait for the server (lock
 * held; unlocked on return if it returns other than 1).  Returns 0 and
 * *out, 1 to wait (@wake set), or a negative errno. */
static int pool_open_or_wait(struct ftp_pool *p, struct pool_wait *w,
			     struct ftp_conn **out, int64_t *wake, char *err,
			     size_t errsz)
{
	bool down = pool_down_locked(p);
	unsigned id;
	int ret;

	if (down && (p->probing || pool_now(p) < p->next_attempt)) {
		if (!pool_waits_out(p, w)) {
			if (p->soft)
				snprintf(err, errsz,
					 "server unreachable (%s); "
					 "retrying in the background (soft "
					 "mount)",
					 p->down_reason);
			else
				snprintf(err, errsz,
					 "cannot connect to the "
					 "server: %s",
					 p->down_reason);
			pthread_mutex_unlock(&p->lock);
			return -EIO;
		}
		/* The prober's outcome broadcasts; else the back-off. */
		*wake = p->probing || p->next_attempt > w->outage_end
				? w->outage_end
				: p->next_attempt;
		return 1;
	}
	p->nconns++;
	p->probing = down;
	id = ++p->next_id;
	pthread_mutex_unlock(&p->lock);
	ret = pool_connect(p, w->use, id, down, out, err, errsz);
	if (ret == 0)
		return 0;
	pthread_mutex_lock(&p->lock);
	if (ret == -EUSERS && pool_shrink_locked(p, err)) {
		*wake = w->deadline; /* for one of ours */
		return 1;
	}
	if (pool_down_locked(p) && pool_now(p) < w->outage_end &&
	    pool_waits_out(p, w)) {
		*wake = pool_now(p); /* look again at once */
		return 1;
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* The message of a wait that ran out (lock held). */
static int pool_wait_expired(struct ftp_pool *p, const struct pool_wait *w,
			     char *err, size_t errsz)
{
	if (w->for_server && pool_down_locked(p))
		snprintf(err, errsz,
			 "server unreachable (%s) for longer than %s",
			 p->down_reason,
			 w->outage_end == w->deadline ? "the timeout"
						      : "op_timeout");
	else if (net_op_expired())
		snprintf(err, errsz,
			 "operation not done within op_timeout "
			 "(waiting for a connection)");
	else
		snprintf(err, errsz, "no FTP connection became free in time");
	pthread_mutex_unlock(&p->lock);
	return -ETIMEDOUT;
}

int ftp_pool_acquire(struct ftp_pool *p, unsigned use, struct ftp_conn **out,
		     char *err, size_t errsz)
{
	struct pool_wait w = {
		.use = use & ~(unsigned)(FTP_POOL_PATIENT | FTP_POOL_NOWAIT |
					 FTP_POOL_SPARE | FTP_POOL_FRESH),
		.patient = use & FTP_POOL_PATIENT,
		.nowait = use & FTP_POOL_NOWAIT,
		.spare = use & FTP_POOL_SPARE,
		.fresh = use & FTP_POOL_FRESH,
		.deadline = net_bound(pool_now(p) + p->ep->timeout_ms),
	};
	int ret;

	/* An outage is waited out to the operation's own deadline; a
	 * thread without one (an upload at close) waits outage_wait_ms. */
	w.outage_end = net_op_deadline() ? net_op_deadline()
					 : pool_now(p) + p->outage_wait_ms;
	if (w.outage_end < w.deadline)
		w.outage_end = w.deadline;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		bool xfer_full = w.use == FTP_POOL_XFER &&
				 p->nxfer >= pool_xfer_cap(p, w.spare);
		int64_t wake = w.deadline;

		/* The request was interrupted while it waited: it must not
		 * wait for a connection any longer. */
		if (net_wait_cancelled()) {
			pthread_mutex_unlock(&p->lock);
			snprintf(err, errsz,
				 "interrupted while waiting for a "
				 "connection");
			return -EINTR;
		}
		w.for_server = false;
		if (p->nidle > 0 && !xfer_full && !w.fresh) {
			struct ftp_conn *c = p->idle[--p->nidle].c;

			if (p->ops->looks_dead(c)) {
				log_debug(
					"conn %u: closed by server while idle",
					ftp_conn_id(c));
				pool_discard_locked(p, c);
				continue;
			}
			return pool_hand_out(p, c, w.use, out);
		}
		if (p->nconns < p->max_conns && !xfer_full) {
			ret = pool_open_or_wait(p, &w, out, &wake, err, errsz);
			if (ret <= 0)
				return ret;
		}
		if (w.nowait) {
			snprintf(err, errsz, "no connection free now");
			pthread_mutex_unlock(&p->lock);
			return -EBUSY;
		}
		if (p->parked && !w.for_server) {
			/* the longest-parked one */
			struct ftp_conn *c = pool_reclaim_locked(p, &p->parked);

			if (ftp_conn_broken(c)) {
				pool_discard_locked(p, c);
				continue;
			}
			return pool_hand_out(p, c, w.use, out);
		}
		if (pool_now(p) >= (w.for_server ? w.outage_end : w.deadline))
			return pool_wait_expired(p, &w, err, errsz);
		if (wake > pool_now(p) + POOL_POLL_MS)
			wake = pool_now(p) + POOL_POLL_MS;
		pool_wait_until(p, &p->cond, wake);
	}
}

void ftp_pool_release(struct ftp_pool *p, struct ftp_conn *c)
{
	pthread_mutex_lock(&p->lock);
	/* Broken, or beyond what the server now allows. */
	if (ftp_conn_broken(c) || p->nconns > p->max_conns || p->stopping) {
		if (ftp_conn_broken(c))
			stats_add(STATS_CONNS_LOST, 1);
		pool_drop_locked(p, c);
		pthread_mutex_unlock(&p->lock);
		p->ops->close(c, !ftp_conn_broken(c));
		return;
	}
	pool_xfer_mark(p, c, false);
	p->idle[p->nidle].c = c;
	p->idle[p->nidle++].since = pool_now(p);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

unsigned ftp_pool_xfer_limit(struct ftp_pool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = pool_xfer_limit(p);
	pthread_mutex_unlock(&p->lock);
	return n;
}

bool ftp_pool_has_idle(struct ftp_pool *p)
{
	bool idle;

	pthread_mutex_lock(&p->lock);
	idle = p->nidle > 0 && !pool_down_locked(p);
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
	out->server_down = pool_down_locked(p);
	pthread_mutex_unlock(&p->lock);
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
		(void)pool_end_parked(p, pk);
		p->ops->close(pk->c, true);
		free(pk);
	}
	while (p->abandoned) {
		struct pool_abandoned *a = p->abandoned;

		/* Stopping: no time for the server to answer an abort. */
		p->abandoned = a->next;
		ftp_conn_mark_broken(a->c, "unmounting");
		p->ops->abort_xfer(a->c, a->x);
		p->ops->close(a->c, false);
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
		p->ops->close(p->idle[i].c, true);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	pthread_cond_destroy(&p->tick);
	free(p->idle);
	free(p->xfer);
	free(p);
}
