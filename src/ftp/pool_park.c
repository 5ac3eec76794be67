/*
 * pool_park.c - transfers parked between reads and writes, reclaimed when
 * their connection is needed; the download/upload interlock of one file;
 * transfers abandoned by interrupted readers.  See ftp_pool.h.
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
	pk->since = pool_now(p);
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
			  "to be uploaded",
			  ftp_conn_id(pk->c));
		p->ops->abort_xfer(pk->c, pk->x);
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
	p->ops->abort_xfer(c, x);
	ftp_pool_release(p, c);
}

/* Resynchronise (or close) one abandoned connection; false if none. */
bool pool_resync_one(struct ftp_pool *p)
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
		  ftp_conn_id(a->c));
	before = net_set_op_deadline(net_deadline(p->ep->timeout_ms));
	p->ops->abort_xfer(a->c, a->x);
	net_set_op_deadline(before);
	ftp_pool_release(p, a->c); /* closes it if broken */
	free(a);
	return true;
}

/* ---- maintenance ---- */
