/*
 * pool.c - control connection pool: slots, acquire and release, back-off,
 * shrinking to the server's connection limit.  See ftp_pool.h; parking is
 * pool_park.c's, the maintenance thread pool_maint.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn_internal.h"
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
	if (!p->idle) {
		free(p);
		return -ENOMEM;
	}
	p->ep = ep;
	p->ops = ops ? ops : &pool_real_ops;
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
struct timespec pool_abstime(int64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	return ts;
}

/* Transfers leave one connection for metadata (see ftp_pool.h). */
unsigned pool_xfer_limit(const struct ftp_pool *p)
{
	return p->max_conns > 1 ? p->max_conns - 1 : 1;
}

void pool_drop_locked(struct ftp_pool *p, struct ftp_conn *c)
{
	p->nconns--;
	if (c && c->pool_xfer)
		p->nxfer--;
	pthread_cond_broadcast(&p->cond);
}

/* Hand @c out for @use (lock held). */
void pool_take_locked(struct ftp_pool *p, struct ftp_conn *c,
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
void pool_discard_locked(struct ftp_pool *p, struct ftp_conn *c)
{
	stats_add(STATS_CONNS_LOST, 1);
	pool_drop_locked(p, c);
	pthread_mutex_unlock(&p->lock);
	p->ops->close(c, false);
	pthread_mutex_lock(&p->lock);
}

/* Give @c to the caller for @use and unlock. */
int pool_hand_out(struct ftp_pool *p, struct ftp_conn *c,
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
bool pool_shrink_locked(struct ftp_pool *p, const char *err)
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

int pool_connect(struct ftp_pool *p, unsigned use,
			unsigned id, struct ftp_conn **out, char *err,
			size_t errsz)
{
	int ret = p->ops->open(p->ep, id, out, err, errsz);

	/* A login cut short is tried once more at once: only a second
	 * failure makes operations fail fast during the back-off. */
	if (ret < 0 && pool_connect_cut(ret)) {
		log_debug("conn %u: %s; trying once more", id, err);
		ret = p->ops->open(p->ep, id, out, err, errsz);
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

			if (p->ops->looks_dead(c)) {
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
		p->ops->close(c, !c->broken);
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
		p->ops->close(p->idle[i], true);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	pthread_cond_destroy(&p->tick);
	free(p->idle);
	free(p);
}
