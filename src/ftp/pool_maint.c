/*
 * pool_maint.c - the pool's maintenance thread: keepalives, ending
 * transfers parked too long, closing surplus idle connections, logging in
 * spares and reconnecting, resynchronising abandoned transfers.  See
 * ftp_pool.h.
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

/* Take the idle connection at @i out of the list (lock held). */
static struct ftp_conn *pool_take_idle_locked(struct ftp_pool *p, unsigned i)
{
	struct ftp_conn *c = p->idle[i].c;

	p->idle[i] = p->idle[--p->nidle];
	return c;
}

/* NOOP on one idle connection that has waited keepalive_ms. */
static bool pool_keepalive_one(struct ftp_pool *p)
{
	struct ftp_conn *c = NULL;
	int64_t now = pool_now(p);

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; p->keepalive_ms && i < p->nidle; i++) {
		if (now - p->idle[i].since >= p->keepalive_ms) {
			c = pool_take_idle_locked(p, i);
			pool_take_locked(p, c, FTP_POOL_META);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (!c)
		return false;
	if (p->ops->looks_dead(c) || p->ops->noop(c) < 0)
		ftp_conn_mark_broken(c, "keepalive failed");
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
	int64_t now = pool_now(p), before;

	/* A download's abort gets one `timeout` in all (uploads are ended
	 * without this bound: pool_end_parked()). */
	before = net_set_op_deadline(net_deadline(p->ep->timeout_ms));
	pthread_mutex_lock(&p->lock);
	for (pp = &p->parked; p->keepalive_ms && *pp; pp = &(*pp)->next) {
		if (now - (*pp)->since >= p->keepalive_ms) {
			log_debug("conn %u: ending a transfer parked for %d s",
				  ftp_conn_id((*pp)->c),
				  p->keepalive_ms / 1000);
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
	int64_t now = pool_now(p);

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; p->nidle > 1 && i < p->nidle; i++) {
		if (now - p->idle[i].since >= p->idle_close_ms) {
			c = pool_take_idle_locked(p, i);
			pool_drop_locked(p, c);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (!c)
		return false;
	log_debug("conn %u: closing surplus idle connection", ftp_conn_id(c));
	p->ops->close(c, true);
	return true;
}

/*
 * Log in one connection in the background (lock held on entry, dropped):
 * while the server is down, when the back-off allows; and otherwise to
 * keep a spare: once every connection is in use, the next request should
 * find one logged in rather than wait for a login (a dozen round trips).
 */
static void pool_connect_background(struct ftp_pool *p)
{
	bool down = pool_down_locked(p);
	struct ftp_conn *c;
	char err[512];
	unsigned id;
	int ret;

	if (p->nconns >= p->max_conns || p->stopping ||
	    (down && (p->probing || pool_now(p) < p->next_attempt)) ||
	    (!down && (p->nidle > 0 || !p->ever_connected))) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->nconns++;
	p->probing = down; /* the one attempt while it is down */
	id = ++p->next_id;
	pthread_mutex_unlock(&p->lock);
	ret = pool_connect(p, FTP_POOL_META, id, down, &c, err, sizeof(err));
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
		pthread_mutex_lock(&p->lock);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		pool_wait_until(p, &p->tick, pool_now(p) + POOL_TICK_MS);
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
