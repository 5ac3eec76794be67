/*
 * pool_xfer.c - opening transfers on pooled connections, surviving the
 * faults a fresh connection does not meet.
 */
#include <errno.h>
#include <stdio.h>

#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"

/* Attempts in all, each on a fresh connection after the first; more
 * on a hard mount, where each waits for a server that is away. */
#define POOL_XFER_TRIES_SOFT 3
#define POOL_XFER_TRIES_HARD 8

/* Did @ret cost the connection for a reason another one may not meet? */
static bool pool_xfer_retry_elsewhere(const struct ftp_conn *c, int ret)
{
	return ftp_conn_broken(c) &&
	       (ftp_errno_transient(ret) || ret == -EIO || ret == -EPROTO);
}

int ftp_pool_xfer_open(struct ftp_pool *p, unsigned use,
		       const struct ftp_xfer_cmd *cmd, struct ftp_conn **c,
		       struct ftp_xfer **x, char *err, size_t errsz)
{
	int tries = ftp_pool_is_soft(p) ? POOL_XFER_TRIES_SOFT
					: POOL_XFER_TRIES_HARD;
	int ret = 0;

	for (int attempt = 1;; attempt++) {
		if (!*c) {
			ret = ftp_pool_acquire(p, use, c, err, errsz);
			if (ret < 0) {
				*c = NULL;
				return ret;
			}
		}
		ret = ftp_xfer_open(*c, cmd, x);
		if (ret == 0)
			return 0;
		snprintf(err, errsz, "%s",
			 ftp_conn_err(*c)[0] ? ftp_conn_err(*c)
					     : "transfer failed");
		if (!pool_xfer_retry_elsewhere(*c, ret) || attempt == tries ||
		    net_op_expired()) {
			ftp_pool_release(p, *c);
			*c = NULL;
			return ret;
		}
		log_debug("conn %u: %s; trying %s on a fresh connection",
			  ftp_conn_id(*c), err, cmd->verb);
		stats_add(STATS_RETRIES, 1);
		ftp_pool_release(p, *c); /* broken: closed */
		*c = NULL;
	}
}
