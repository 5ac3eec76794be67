/*
 * pool.c - control connection pool with parking of streaming readers.
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
#include "ftpsfs/tls.h"

struct pool_parked {
	struct ftp_conn *c;
	struct ftp_xfer *x;
	uint64_t lease;
	struct pool_parked *next;
};

struct ftp_pool {
	const struct ftp_endpoint *ep;
	unsigned max_conns;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* guarded by lock: */
	struct ftp_conn **idle;	       /* stack of max_conns slots */
	unsigned nidle;
	unsigned nconns;	       /* idle + busy + parked + connecting */
	struct pool_parked *parked;    /* oldest first */
	unsigned next_id;
	uint64_t next_lease;
};

int ftp_pool_new(const struct ftp_endpoint *ep, unsigned max_conns,
		 struct ftp_pool **out)
{
	struct ftp_pool *p = calloc(1, sizeof(*p));

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
	pthread_cond_init(&p->cond, NULL);
	*out = p;
	return 0;
}

void ftp_pool_free(struct ftp_pool *p)
{
	if (!p)
		return;
	while (p->parked) {
		struct pool_parked *pk = p->parked;

		p->parked = pk->next;
		ftp_xfer_abort(pk->c, pk->x);
		ftp_conn_close(pk->c, true);
		free(pk);
	}
	for (unsigned i = 0; i < p->nidle; i++)
		ftp_conn_close(p->idle[i], true);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->idle);
	free(p);
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

static void pool_drop_locked(struct ftp_pool *p)
{
	p->nconns--;
	pthread_cond_signal(&p->cond);
}

int ftp_pool_acquire(struct ftp_pool *p, struct ftp_conn **out, char *err,
		     size_t errsz)
{
	struct timespec until;
	unsigned id;
	int ret;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += p->ep->timeout_ms / 1000;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (p->nidle > 0) {
			struct ftp_conn *c = p->idle[--p->nidle];

			if (pool_conn_looks_dead(c)) {
				pool_drop_locked(p);
				pthread_mutex_unlock(&p->lock);
				log_debug("conn %u: closed by server while idle",
					  c->id);
				ftp_conn_close(c, false);
				pthread_mutex_lock(&p->lock);
				continue;
			}
			pthread_mutex_unlock(&p->lock);
			*out = c;
			return 0;
		}
		if (p->nconns < p->max_conns)
			break;
		if (p->parked) {
			struct pool_parked *pk = p->parked;
			struct ftp_conn *c = pk->c;

			p->parked = pk->next;
			pthread_mutex_unlock(&p->lock);
			log_debug("conn %u: reclaiming from a parked reader",
				  c->id);
			ftp_xfer_abort(c, pk->x);
			free(pk);
			if (!c->broken) {
				*out = c;
				return 0;
			}
			ftp_conn_close(c, false);
			pthread_mutex_lock(&p->lock);
			p->nconns--;
			break;
		}
		if (pthread_cond_timedwait(&p->cond, &p->lock, &until) ==
		    ETIMEDOUT) {
			pthread_mutex_unlock(&p->lock);
			snprintf(err, errsz,
				 "no FTP connection became free in time");
			return -ETIMEDOUT;
		}
	}
	p->nconns++;
	id = ++p->next_id;
	pthread_mutex_unlock(&p->lock);

	ret = ftp_conn_open(p->ep, id, out, err, errsz);
	if (ret < 0) {
		pthread_mutex_lock(&p->lock);
		pool_drop_locked(p);
		pthread_mutex_unlock(&p->lock);
	}
	return ret;
}

void ftp_pool_release(struct ftp_pool *p, struct ftp_conn *c)
{
	if (c->broken) {
		ftp_conn_close(c, false);
		pthread_mutex_lock(&p->lock);
		pool_drop_locked(p);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->idle[p->nidle++] = c;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

uint64_t ftp_pool_park(struct ftp_pool *p, struct ftp_conn *c,
		       struct ftp_xfer *x)
{
	struct pool_parked *pk = calloc(1, sizeof(*pk));
	struct pool_parked **tail;
	uint64_t lease;

	if (!pk) {
		/* Can't park: end the transfer and release instead. */
		ftp_xfer_abort(c, x);
		ftp_pool_release(p, c);
		return 0;
	}
	pk->c = c;
	pk->x = x;
	pthread_mutex_lock(&p->lock);
	lease = pk->lease = p->next_lease++;
	for (tail = &p->parked; *tail; tail = &(*tail)->next)
		;
	*tail = pk;
	/* A waiter may now reclaim it. */
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return lease;
}

bool ftp_pool_unpark(struct ftp_pool *p, uint64_t lease, struct ftp_conn **c,
		     struct ftp_xfer **x)
{
	struct pool_parked **pp, *pk = NULL;

	if (lease == 0)
		return false;
	pthread_mutex_lock(&p->lock);
	for (pp = &p->parked; *pp; pp = &(*pp)->next) {
		if ((*pp)->lease == lease) {
			pk = *pp;
			*pp = pk->next;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (!pk)
		return false;
	*c = pk->c;
	*x = pk->x;
	free(pk);
	return true;
}
