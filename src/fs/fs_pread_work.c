/*
 * fs_pread_work.c - the workers of the parallel ranged reads: each takes a
 * queued range, fetches it with REST + RETR on an idle connection (the
 * first range on the reader's own), ends it, and hands the bytes to the
 * range's slot, or fetches it again after a cut (fs_pread_internal.h;
 * locking and ownership: fs_pread.c's header).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fs_internal.h"
#include "fs_pread_internal.h"
#include "ftpsfs/fs_pread.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"
/* How a range takes its connections. */
static unsigned pr_use(const struct pr_job *j)
{
	return FTP_POOL_XFER | FTP_POOL_NOWAIT |
	       (j->spare ? FTP_POOL_SPARE : 0);
}

/* A connection for a range: idle or new, never waited for beyond
 * PR_CONN_WAIT_MS (that is the fallback's cue). */
static int pr_acquire(struct fs_preads *pw, const struct pr_job *j,
		      struct ftp_conn **c)
{
	int64_t until = net_deadline(PR_CONN_WAIT_MS);
	char err[256];
	int ret;

	for (;;) {
		ret = ftp_pool_acquire(pw->ctx->pool, pr_use(j), c, err,
				       sizeof(err));
		if (ret != -EBUSY || net_now_ms() >= until ||
		    !pr_job_progress(j, 0))
			break;
		if (net_sleep(PR_POLL_MS) < 0)
			return -EINTR;
	}
	if (ret < 0)
		log_debug("parallel range: %s", err);
	return ret;
}

/*
 * End the range's transfer and check the file (SIZE, MDTM: after the
 * transfer, a file replaced meanwhile shows a new size or time, whichever
 * version this range read).  A range that is not the file's end: the
 * server is still sending; the data connection is closed and ABOR and
 * NOOP sent, with SIZE and MDTM in the same flight (RFC 959 4.1.3: 426
 * for the transfer, 225/226 for ABOR, then NOOP's 200 proves we are in
 * step: vsftpd and ProFTPD both answer that way, ~1 round trip in all).
 * A connection that cannot be brought back in step is marked broken and
 * closed at release, never reused.  At the file's end the server ends
 * the stream itself: its 226 costs no ABOR.
 */
static int pr_end_range(struct ftp_conn *c, struct ftp_xfer *x, bool at_eof,
			const char *path, struct pr_result *res)
{
	int64_t t0 = net_now_ms();
	int ret;

	if (at_eof) {
		char b;
		ssize_t n = ftp_xfer_read(c, x, &b, 1);

		if (n == 0) {
			ret = ftp_xfer_finish(c, x, FTP_OP_RETR);
		} else {
			/* More bytes than the size had: it changed. */
			ret = n > 0 ? -ESTALE : (int)n;
			ftp_xfer_abort(c, x);
		}
		if (ret == 0)
			ret = ftp_op_size_mdtm(c, path, &res->size,
					       &res->mtime);
	} else {
		ret = ftp_op_abort_size_mdtm(c, x, path, &res->size,
					     &res->mtime);
	}
	stats_add(STATS_PREAD_END_MS, (uint64_t)(net_now_ms() - t0));
	return ret;
}

/* Read @len bytes at @off of @path into @buf on @c (a fresh RETR), end
 * the transfer and check the file into @res.  Returns 0, -ECANCELED (no
 * longer wanted), -ESTALE (the file is shorter or longer than it was),
 * or another negative errno. */
static int pr_transfer(struct fs_preads *pw, const struct pr_job *j,
		       struct ftp_conn **c, const char *path, uint64_t off,
		       char *buf, size_t len, bool at_eof,
		       struct pr_result *res)
{
	struct ftp_xfer *x;
	char err[512];
	size_t got = 0;
	ssize_t n = 0;
	int ret;

	int64_t t_open = net_now_ms(), t_first = 0;
	ret = ftp_pool_xfer_open(
		pw->ctx->pool, pr_use(j),
		&(struct ftp_xfer_cmd){ .verb = "RETR",
					.arg = path,
					.rest = off,
					.op = FTP_OP_RETR,
					.target_exists = true },
		c, &x, err, sizeof(err));
	if (ret < 0) {
		log_debug("parallel range RETR %s: %s", path, err);
		return ret;
	}
	while (got < len) {
		n = ftp_xfer_read(*c, x, buf + got,
				  len - got < PR_READ_MAX ? len - got
							  : PR_READ_MAX);
		if (n <= 0)
			break;
		if (got == 0)
			t_first = net_now_ms();
		got += (size_t)n;
		if (!pr_job_progress(j, got)) {
			ftp_xfer_abort(*c, x);
			return -ECANCELED;
		}
	}
	if (n < 0) {
		ftp_xfer_abort(*c, x);
		return (int)n;
	}
	if (got < len) {
		/* The stream ended early: the file is shorter now - if the
		 * server says the transfer went through (226).  A transfer
		 * it failed (426: the data connection was cut) or one cut
		 * without a TLS close is an error worth another fetch. */
		ret = ftp_xfer_finish(*c, x, FTP_OP_RETR);
		return ret < 0 ? ret : -ESTALE;
	}
	/* The cost of opening a range, in bytes at this one's rate (the
	 * tail's shares, pr_cut_len()). */
	res->gap = (uint64_t)(t_first - t_open) * len /
		   (uint64_t)(net_now_ms() - t_first + 1);
	return pr_end_range(*c, x, at_eof, path, res);
}

/* Fetch range j->k into @buf and check the file: the worker's whole
 * job, on @given if not NULL (taken), else on a connection acquired.
 * Returns 0 with @res, or a negative errno. */
static int pr_fetch(struct fs_preads *pw, const struct pr_job *j,
		    struct ftp_conn *given, const char *path, uint64_t off,
		    char *buf, size_t len, bool at_eof, struct pr_result *res)
{
	struct ftp_pool *pool = pw->ctx->pool;
	struct ftp_conn *c = given;
	int ret = c ? 0 : pr_acquire(pw, j, &c);

	if (ret < 0)
		return ret;
	if (j->spare)
		stats_add(STATS_PREAD_OVERLAPS, 1);
	/* The first range also looks before its transfer: the time to hold
	 * every later range to. */
	if (j->k == 0) {
		ret = ftp_op_size_mdtm(c, path, &res->pre_size,
				       &res->pre_mtime);
		res->pre = ret == 0;
		if (ret < 0)
			goto release;
	}
	ret = pr_transfer(pw, j, &c, path, off, buf, len, at_eof, res);
	if (!c)
		return ret; /* released by ftp_pool_xfer_open() */
release:
	ftp_pool_release(pool, c);
	return ret;
}

/* Is a range's failure @err worth another fetch?  Not when the file
 * changed or is gone or refused (another fetch says the same), nor when
 * the fetch was stopped. */
static bool pr_retryable(int err)
{
	switch (err) {
	case 0:
	case -ECANCELED:
	case -ESTALE:
	case -ENOENT:
	case -EACCES:
	case -EPERM:
	case -ENOMEM:
	case -EINTR:
		return false;
	default:
		return !net_cancelled();
	}
}

/* The stream's connection, if the file has it and range @k is the first
 * of those queued (pr->lock held). */
static struct ftp_conn *pr_take_given_locked(struct fs_pread *pr, uint64_t k)
{
	struct ftp_conn *c = pr->given;

	if (!c)
		return NULL;
	for (unsigned i = 0; i < pr->nslots; i++)
		if (pr->slots[i].state == PR_QUEUED && pr->slots[i].k < k)
			return NULL;
	pr->given = NULL;
	return c;
}

/* The fetch of job @j into slot @s ended with @ret (pr->lock held): the
 * slot gets its bytes (@buf), its error, or waits to be fetched again.
 * Returns @buf unless the slot took it. */
static char *pr_settle_locked(struct fs_preads *pw, const struct pr_job *j,
			      struct pr_slot *s, int ret,
			      const struct pr_result *res, char *buf)
{
	struct fs_pread *pr = j->pr;

	if (!pr->active || s->gen != j->gen)
		return buf; /* no longer wanted */
	if (ret == -EBUSY && j->spare) {
		s->state = PR_WAITING; /* for a stream of the file's own */
	} else if (ret == -EBUSY && pr->inflight > 1) {
		/* Other transfers hold the connections (another file's, a
		 * stream): fewer streams for this file, the range waits for
		 * one of its others to end. */
		pr->streams = pr->inflight - 1;
		s->state = PR_WAITING;
		log_debug("parallel reads of inode %llu: %u streams",
			  (unsigned long long)pr->ino, pr->streams);
	} else if (pr_retryable(ret) && s->tries < PR_RANGE_RETRIES &&
		   pr->retries < PR_FILE_RETRIES) {
		/* Fetched again from its start on another connection (the
		 * failed one was closed): none of the bytes of the failed
		 * fetch are kept, and the check after the transfer holds
		 * the new fetch to the same size and time. */
		s->tries++;
		pr->retries++;
		s->state = PR_WAITING;
		stats_add(STATS_PREAD_RETRIES, 1);
		log_debug("parallel range at %llu of inode %llu: %s; fetching "
			  "it again",
			  (unsigned long long)s->off,
			  (unsigned long long)pr->ino, strerror(-ret));
	} else {
		/* A range went through: try the streams given up again (a
		 * connection busy for a while - a login, an abandoned
		 * transfer ending - cost a stream for good otherwise). */
		if (ret == 0 && pr->streams < pr->max_streams &&
		    pr->streams < ftp_pool_xfer_limit(pw->ctx->pool))
			pr->streams++;
		s->res = *res;
		if (ret == 0)
			pr->gap = res->gap;
		s->state = ret == 0 ? PR_READY : PR_FAILED;
		s->err = ret;
		if (ret == 0) {
			s->buf = buf;
			s->buf_len = s->len;
			buf = NULL;
		}
		pthread_cond_broadcast(&pr->cond);
	}
	return buf;
}

/* Run one job: fetch, then hand the bytes to the slot if still wanted. */
static void pr_run(struct fs_preads *pw, const struct pr_job *j)
{
	struct fs_pread *pr = j->pr;
	struct pr_slot *s;
	struct pr_result res = { 0 };
	struct ftp_conn *given;
	char path[FS_PATH_MAX];
	uint64_t off;
	size_t len;
	bool at_eof;
	char *buf;
	int ret;

	pthread_mutex_lock(&pr->lock);
	s = &pr->slots[j->k % pr->nslots];
	if (!pr->active || s->gen != j->gen) {
		pr_job_done_locked(pr);
		pthread_mutex_unlock(&pr->lock);
		return;
	}
	given = pr_take_given_locked(pr, j->k);
	s->state = PR_FETCHING;
	off = s->off;
	len = s->len;
	at_eof = off + len == pr->size;
	pthread_mutex_unlock(&pr->lock);

	buf = pr_buf_new(len);
	ret = buf ? itab_path(pw->ctx->itab, pr->ino, path, sizeof(path))
		  : -ENOMEM;
	if (ret == 0)
		ret = pr_fetch(pw, j, given, path, off, buf, len, at_eof, &res);
	else if (given)
		ftp_pool_release(pw->ctx->pool, given);
	if (ret == 0) {
		stats_add(STATS_PREAD_RANGES, 1);
		stats_add(STATS_PREAD_BYTES, len);
	}

	pthread_mutex_lock(&pr->lock);
	buf = pr_settle_locked(pw, j, s, ret, &res, buf);
	pr_job_done_locked(pr);
	pthread_mutex_unlock(&pr->lock);
	pr_buf_free(buf, len);
}

/* A login ahead: a new connection, given back idle (pw->warming counts
 * it until here). */
static void pr_warm(struct fs_preads *pw)
{
	struct ftp_conn *c;
	char err[256];

	if (ftp_pool_acquire(pw->ctx->pool,
			     FTP_POOL_META | FTP_POOL_NOWAIT | FTP_POOL_FRESH,
			     &c, err, sizeof(err)) == 0)
		ftp_pool_release(pw->ctx->pool, c);
	pthread_mutex_lock(&pw->lock);
	pw->warming--;
	pthread_mutex_unlock(&pw->lock);
}

void fs_pread_opened(struct fs_ctx *ctx, uint64_t size)
{
	struct fs_preads *pw = ctx->preads;
	unsigned n;

	if (!pw || size < PR_BIG_FILE)
		return;
	/* The streams' connections and the spare's (the reader's own is
	 * one of them: the pool has it at least). */
	n = ftp_pool_xfer_limit(ctx->pool);
	n = n > pw->n ? pw->n : n;
	if (n < 2)
		return;
	pthread_mutex_lock(&pw->lock);
	/* One batch at a time, never more than a quarter of the queue
	 * (the ranges' jobs must find room). */
	for (n = pw->warming ? 0 : n; n > 0 && pw->len < PR_QUEUE / 4; n--) {
		pw->queue[(pw->head + pw->len++) % PR_QUEUE] =
			(struct pr_job){ .pr = NULL };
		pw->warming++;
	}
	pthread_cond_broadcast(&pw->work);
	pthread_mutex_unlock(&pw->lock);
}

static void *pr_thread(void *arg)
{
	struct fs_preads *pw = arg;

	/* Unmounting ends this thread's network waits at once. */
	net_set_cancel(&pw->stop_io);
	pthread_mutex_lock(&pw->lock);
	while (!pw->stopping) {
		struct pr_job j;

		if (pw->len == 0) {
			pthread_cond_wait(&pw->work, &pw->lock);
			continue;
		}
		j = pw->queue[pw->head];
		pw->head = (pw->head + 1) % PR_QUEUE;
		pw->len--;
		pthread_mutex_unlock(&pw->lock);
		if (j.pr) {
			pr_run(pw, &j);
			pr_unref(j.pr);
		} else {
			pr_warm(pw);
		}
		pthread_mutex_lock(&pw->lock);
	}
	pthread_mutex_unlock(&pw->lock);
	return NULL;
}

int fs_preads_start(struct fs_ctx *ctx, unsigned n, struct fs_preads **out)
{
	struct fs_preads *pw;

	*out = NULL;
	if (n == 0)
		return 0;
	if (n > FS_PREAD_MAX)
		return -EINVAL;
	pw = calloc(1, sizeof(*pw));
	if (!pw)
		return -ENOMEM;
	pw->ctx = ctx;
	pw->n = n;
	pthread_mutex_init(&pw->lock, NULL);
	pthread_cond_init(&pw->work, NULL);
	/* One more than the streams: a range opened while another ends. */
	for (; pw->started < n + 1; pw->started++)
		if (pthread_create(&pw->threads[pw->started], NULL, pr_thread,
				   pw) != 0)
			break;
	*out = pw;
	if (pw->started == n + 1)
		return 0;
	fs_preads_stop(pw);
	fs_preads_free(pw);
	*out = NULL;
	return -EAGAIN;
}

void fs_preads_stop(struct fs_preads *pw)
{
	if (!pw)
		return;
	pthread_mutex_lock(&pw->lock);
	pw->stopping = true;
	pw->stop_io = 1;
	pthread_cond_broadcast(&pw->work);
	pthread_mutex_unlock(&pw->lock);
	for (unsigned i = 0; i < pw->started; i++)
		pthread_join(pw->threads[i], NULL);
	pw->started = 0;
	/* Jobs never run: their references. */
	while (pw->len > 0) {
		if (pw->queue[pw->head].pr)
			pr_unref(pw->queue[pw->head].pr);
		pw->head = (pw->head + 1) % PR_QUEUE;
		pw->len--;
	}
}

void fs_preads_free(struct fs_preads *pw)
{
	if (!pw)
		return;
	pthread_cond_destroy(&pw->work);
	pthread_mutex_destroy(&pw->lock);
	free(pw);
}
