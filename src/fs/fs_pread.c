/*
 * fs_pread.c - parallel ranged reads of big files.  See fs_pread.h.
 *
 * Locking.  pr->lock guards one open file's ranges; pw->lock the job
 * queue and the list of files.  Both are leaves as far as I/O goes: no
 * network I/O under either.  Order: the file's f->lock (the reader), then
 * pr->lock, then pw->lock.  A worker takes them one at a time; forgetting
 * an inode takes pw->lock, references the files (refs is atomic), drops
 * it, then takes each pr->lock.
 *
 * Ownership.  Ranges are cut in order when they are scheduled (4, 8 MiB,
 * then PR_CHUNK each, smaller towards the file's end: pr_cut_len()) while
 * they stay within the budget of bytes from the head; range k lives in
 * slot k % nslots, which keeps its offset and length.  A slot's gen
 * changes whenever the slot is dropped or reused (unique within the
 * file), so a worker still fetching for an old gen
 * throws its bytes away.  The buffer belongs to the worker while it
 * fetches and to the slot once the range is ready.  Each queued job holds
 * a reference on the file's state; so does the open file.  A file has at
 * most `streams` jobs queued or running; its other ranges wait.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fs_internal.h"
#include "ftpsfs/fs_pread.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"

#define PR_CHUNK (16u << 20)
/* The first ranges are smaller (4, 8 MiB, then PR_CHUNK): the reader gets
 * its next bytes soon after the ranges begin, not after a whole range.
 * (Starting at 1 MiB cost another ~5% of a 256 MiB read at 20 ms.) */
#define PR_RAMP_FIRST (4u << 20)
#define PR_RAMP_STEPS 2
/* The last ranges of a file shrink (no smaller than this) so that the
 * streams end together: with ranges of PR_CHUNK to the end, the last
 * stream went on alone for up to a whole range while the others idled. */
#define PR_TAPER_MIN (4u << 20)
#define PR_ALIGN     (64u << 10)
/* Sequential bytes read by the stream before ranges take over ... */
#define PR_AFTER (8u << 20)
/* ... or of a file that the attributes say is big. */
#define PR_BIG_FILE  (64ull << 20)
#define PR_AFTER_BIG (256u << 10)
/* Files in parallel mode at once (memory: N + 1 ranges each). */
#define PR_FILES 2
#define PR_QUEUE (FS_PREAD_MAX * PR_FILES * 2)
/* How long a worker looks for a free connection before its range fails
 * (connections being given back by other ranges come within this). */
#define PR_CONN_WAIT_MS 1000
#define PR_POLL_MS	20
/* A range that failed (a data connection cut, a timeout, a 4xx) is fetched
 * again on another connection this many times; a file's ranges get
 * PR_FILE_RETRIES in all.  Then the reader falls back to one stream. */
#define PR_RANGE_RETRIES 2
#define PR_FILE_RETRIES	 8
/* One read from the data connection at most. */
#define PR_READ_MAX (1u << 20)
/* The end of the range read last, kept: the kernel steps back into it at
 * times (a page it dropped), which must not cost the ranges. */
#define PR_TAIL (1u << 20)

/* A range is waiting (for one of the file's streams), queued (for a
 * worker), being fetched, ready, or failed. */
enum pr_state {
	PR_EMPTY,
	PR_WAITING,
	PR_QUEUED,
	PR_FETCHING,
	PR_READY,
	PR_FAILED
};

/* What a worker learnt of its range. */
struct pr_result {
	bool pre; /* the check before RETR was made (range 0) */
	uint64_t pre_size;
	int64_t pre_mtime;
	uint64_t size; /* the check after the transfer */
	int64_t mtime;
};

struct pr_slot {
	uint64_t k;   /* range number */
	uint64_t off; /* the range's bytes in the file */
	size_t len;
	unsigned gen;
	enum pr_state state;
	char *buf; /* PR_READY: the range's bytes (pr_buf_new()) */
	size_t buf_len;
	int err;	/* PR_FAILED */
	unsigned tries; /* fetches that failed and were tried again */
	struct pr_result res;
};

struct fs_pread {
	struct fs_preads *pw;
	uint64_t ino;
	struct fs_pread *prev, *next; /* pw->files; pw->lock */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a range became ready or failed */
	atomic_uint refs;
	/* guarded by lock: */
	unsigned gens;	  /* the last slot generation handed out */
	unsigned retries; /* ranges fetched again (PR_FILE_RETRIES) */
	bool active;
	bool held;		/* activated, fetches not started yet
				 * (fs_pread_begin()) */
	struct ftp_conn *given; /* the stream's connection, for the first
				 * range that runs */
	int stale;		/* sticky: the file changed (-EIO) */
	bool no_more;		/* a range failed: one stream from now on */
	uint64_t size;		/* the file's size then */
	bool base_known;	/* kept across activations of one open, until
				 * a local write (fs_pread_forget) */
	uint64_t base_size;	/* SIZE and MDTM the first checked range saw */
	int64_t base_mtime;
	uint64_t head;	      /* first range still wanted */
	uint64_t next_k;      /* the next range to cut ... */
	uint64_t next_off;    /* ... and where it begins */
	uint64_t budget;      /* bytes from the head's offset that ranges
			       * may cover: (streams + 1) * PR_CHUNK */
	unsigned streams;     /* ranges fetched at once, at most (fewer while
			       * the pool has no connection for more) */
	unsigned max_streams; /* ... when it has */
	unsigned inflight;    /* jobs queued or running (any gen) */
	unsigned nslots;      /* the slots in use (all): ranges are cut while
			       * the budget allows, so that a worker seldom
			       * waits for the reader to take the oldest
			       * range, even when the last ranges are small */
	struct pr_slot slots[FS_PREAD_MAX + 1];
	char *tail;	   /* PR_TAIL bytes, made at the first use */
	uint64_t tail_off; /* ... the file's bytes from here */
	size_t tail_len;   /* ... this many (0: none) */
	/* the reader's (f->lock): the pattern of the stream's reads */
	uint64_t seq_end, seq_len;
	bool seeked; /* ranges ended for a seek: 8 MiB in order
		      * before they begin again */
};

struct pr_job {
	struct fs_pread *pr;
	uint64_t k;
	unsigned gen;
};

struct fs_preads {
	struct fs_ctx *ctx;
	unsigned n;
	atomic_uint active_files;
	volatile int stop_io; /* the workers' network waits end */
	pthread_mutex_t lock;
	pthread_cond_t work;
	/* guarded by lock: */
	struct pr_job queue[PR_QUEUE];
	unsigned head, len;
	bool stopping;
	struct fs_pread *files;
	pthread_t threads[FS_PREAD_MAX];
	unsigned started;
};

/*
 * A range's buffer: mapped on its own, so that its memory goes back to the
 * system when it is freed (malloc keeps freed blocks this big in its
 * arenas once its threshold has grown: the peak RSS doubled).  NULL when
 * there is no memory.
 */
static char *pr_buf_new(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void pr_buf_free(char *buf, size_t len)
{
	if (buf)
		munmap(buf, len);
}

/* Empty slot @s (pr->lock held, or the last reference). */
static void pr_slot_clear(struct pr_slot *s)
{
	pr_buf_free(s->buf, s->buf_len);
	s->buf = NULL;
	s->buf_len = 0;
}

static void pr_unref(struct fs_pread *pr)
{
	if (atomic_fetch_sub(&pr->refs, 1) != 1)
		return;
	for (unsigned i = 0; i <= FS_PREAD_MAX; i++)
		pr_slot_clear(&pr->slots[i]);
	free(pr->tail);
	pthread_cond_destroy(&pr->cond);
	pthread_mutex_destroy(&pr->lock);
	free(pr);
}

/*
 * How long range @k, cut at @off, is: the ramp first (the reader gets its
 * next bytes soon after the ranges begin), then PR_CHUNK; towards the end
 * 2/(streams + 1) of what is left, so that the last ranges of the streams
 * (begun one after another) end about together.  What would be left as a
 * piece smaller than PR_TAPER_MIN goes into this range.
 */
static size_t pr_cut_len(const struct fs_pread *pr, uint64_t k, uint64_t off)
{
	uint64_t left = pr->size - off, len;

	if (k < PR_RAMP_STEPS) {
		len = (uint64_t)PR_RAMP_FIRST << k;
	} else {
		len = left * 2 / (pr->streams + 1);
		len = len < PR_TAPER_MIN ? PR_TAPER_MIN
		      : len > PR_CHUNK	 ? PR_CHUNK
					 : len - len % PR_ALIGN;
	}
	if (len >= left || left - len < PR_TAPER_MIN)
		len = left;
	return (size_t)len;
}

/* The range (in the window [head, next_k)) that holds @off; UINT64_MAX
 * when none does. */
static uint64_t pr_range_at(const struct fs_pread *pr, uint64_t off)
{
	for (uint64_t k = pr->head; k < pr->next_k; k++) {
		const struct pr_slot *s = &pr->slots[k % pr->nslots];

		if (off >= s->off && off - s->off < s->len)
			return k;
	}
	return UINT64_MAX;
}

/* Where the first range still wanted begins. */
static uint64_t pr_head_off(const struct fs_pread *pr)
{
	return pr->head < pr->next_k ? pr->slots[pr->head % pr->nslots].off
				     : pr->next_off;
}

/* Queue the job of the waiting range in @s (pr->lock held).  A full
 * queue fails the range at once: the reader falls back when it gets
 * there. */
static void pr_queue_locked(struct fs_pread *pr, struct pr_slot *s)
{
	struct fs_preads *pw = pr->pw;
	bool queued = false;

	pthread_mutex_lock(&pw->lock);
	if (!pw->stopping && pw->len < PR_QUEUE) {
		pw->queue[(pw->head + pw->len++) % PR_QUEUE] =
			(struct pr_job){ .pr = pr, .k = s->k, .gen = s->gen };
		atomic_fetch_add(&pr->refs, 1);
		queued = true;
		pthread_cond_signal(&pw->work);
	}
	pthread_mutex_unlock(&pw->lock);
	if (queued) {
		s->state = PR_QUEUED;
		pr->inflight++;
	} else {
		s->state = PR_FAILED;
		s->err = -EBUSY;
	}
}

/* Cut the next range into its slot; queue it if the file has a stream
 * free (pr->lock held). */
static void pr_schedule_next_locked(struct fs_pread *pr)
{
	uint64_t k = pr->next_k++;
	struct pr_slot *s = &pr->slots[k % pr->nslots];

	pr_slot_clear(s);
	s->k = k;
	s->off = pr->next_off;
	s->len = pr_cut_len(pr, k, s->off);
	s->tries = 0;
	pr->next_off += s->len;
	s->gen = ++pr->gens;
	s->state = PR_WAITING;
	if (!pr->held && pr->inflight < pr->streams)
		pr_queue_locked(pr, s);
}

/* Queue the first waiting ranges while the file has streams free
 * (pr->lock held). */
static void pr_queue_waiting_locked(struct fs_pread *pr)
{
	struct pr_slot *first;

	while (pr->active && !pr->held && pr->inflight < pr->streams) {
		first = NULL;
		for (unsigned i = 0; i < pr->nslots; i++) {
			struct pr_slot *s = &pr->slots[i];

			if (s->state == PR_WAITING &&
			    (!first || s->k < first->k))
				first = s;
		}
		if (!first)
			break;
		pr_queue_locked(pr, first);
	}
}

/* A job of the file ended: its stream goes to the first waiting range,
 * and so do streams regained (pr->lock held). */
static void pr_job_done_locked(struct fs_pread *pr)
{
	pr->inflight--;
	pr_queue_waiting_locked(pr);
}

/* Cut ranges while the file has more, a slot is free and the budget
 * allows (pr->lock held). */
static void pr_fill_locked(struct fs_pread *pr)
{
	while (pr->next_off < pr->size && pr->next_k - pr->head < pr->nslots) {
		uint64_t len = pr_cut_len(pr, pr->next_k, pr->next_off);

		if (pr->next_k > pr->head &&
		    pr->next_off + len - pr_head_off(pr) > pr->budget)
			break;
		pr_schedule_next_locked(pr);
	}
}

/* Range @k (the head) is no longer wanted: the next one is the head, its
 * slot is free for a range further on (pr->lock held). */
static void pr_advance_locked(struct fs_pread *pr, uint64_t k)
{
	struct pr_slot *s = &pr->slots[k % pr->nslots];

	pr_slot_clear(s);
	s->gen = ++pr->gens;
	s->state = PR_EMPTY;
	pr->head = k + 1;
	pr_fill_locked(pr);
}

/* Leave parallel mode: every range is dropped, fetches under way are
 * thrown away when they end (pr->lock held). */
static void pr_deactivate_locked(struct fs_pread *pr)
{
	if (!pr->active)
		return;
	for (unsigned i = 0; i < pr->nslots; i++) {
		struct pr_slot *s = &pr->slots[i];

		pr_slot_clear(s);
		s->gen = ++pr->gens;
		s->state = PR_EMPTY;
	}
	pr->active = false;
	pr->tail_len = 0;
	if (pr->given) { /* in step and idle: no I/O */
		ftp_pool_release(pr->pw->ctx->pool, pr->given);
		pr->given = NULL;
	}
	atomic_fetch_sub(&pr->pw->active_files, 1);
	pthread_cond_broadcast(&pr->cond);
}

/* Give up ranges for the stream (pr->lock held). */
static void pr_fallback_locked(struct fs_pread *pr, const char *why, int err)
{
	log_debug("parallel reads of inode %llu: one stream from offset "
		  "%llu on (%s%s%s)",
		  (unsigned long long)pr->ino,
		  (unsigned long long)pr_head_off(pr), why, err ? ": " : "",
		  err ? strerror(-err) : "");
	stats_add(STATS_PREAD_FALLBACKS, 1);
	pr_deactivate_locked(pr);
}

/* ---- workers ---- */

/* Is the job still wanted?  (takes pr->lock) */
static bool pr_job_wanted(const struct pr_job *j)
{
	struct fs_pread *pr = j->pr;
	bool wanted;

	pthread_mutex_lock(&pr->lock);
	wanted = pr->active && pr->slots[j->k % pr->nslots].gen == j->gen;
	pthread_mutex_unlock(&pr->lock);
	return wanted;
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
		ret = ftp_pool_acquire(pw->ctx->pool,
				       FTP_POOL_XFER | FTP_POOL_NOWAIT, c, err,
				       sizeof(err));
		if (ret != -EBUSY || net_now_ms() >= until || !pr_job_wanted(j))
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

	ret = ftp_pool_xfer_open(
		pw->ctx->pool, FTP_POOL_XFER | FTP_POOL_NOWAIT,
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
		got += (size_t)n;
		if (!pr_job_wanted(j)) {
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
	if (pr->active && s->gen == j->gen && ret == -EBUSY &&
	    pr->inflight > 1) {
		/* Other transfers hold the connections (another file's, a
		 * stream): fewer streams for this file, the range waits for
		 * one of its others to end. */
		pr->streams = pr->inflight - 1;
		s->state = PR_WAITING;
		log_debug("parallel reads of inode %llu: %u streams",
			  (unsigned long long)pr->ino, pr->streams);
	} else if (pr->active && s->gen == j->gen && pr_retryable(ret) &&
		   s->tries < PR_RANGE_RETRIES &&
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
	} else if (pr->active && s->gen == j->gen) {
		/* A range went through: try the streams given up again (a
		 * connection busy for a while - a login, an abandoned
		 * transfer ending - cost a stream for good otherwise). */
		if (ret == 0 && pr->streams < pr->max_streams &&
		    pr->streams < ftp_pool_xfer_limit(pw->ctx->pool))
			pr->streams++;
		s->res = res;
		s->state = ret == 0 ? PR_READY : PR_FAILED;
		s->err = ret;
		if (ret == 0) {
			s->buf = buf;
			s->buf_len = len;
			buf = NULL;
		}
		pthread_cond_broadcast(&pr->cond);
	}
	pr_job_done_locked(pr);
	pthread_mutex_unlock(&pr->lock);
	pr_buf_free(buf, len);
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
		pr_run(pw, &j);
		pr_unref(j.pr);
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
	for (; pw->started < n; pw->started++)
		if (pthread_create(&pw->threads[pw->started], NULL, pr_thread,
				   pw) != 0)
			break;
	*out = pw;
	if (pw->started == n)
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

/* ---- the reader's side ---- */

/* The state of @f, made at its first read from the stream. */
static struct fs_pread *pr_of(struct fs_ctx *ctx, struct fs_file *f)
{
	struct fs_preads *pw = ctx->preads;
	struct fs_pread *pr;

	if (f->pr || !pw)
		return f->pr;
	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return NULL;
	pr->pw = pw;
	pr->ino = f->ino;
	atomic_init(&pr->refs, 1);
	pthread_mutex_init(&pr->lock, NULL);
	pthread_cond_init(&pr->cond, NULL);
	pthread_mutex_lock(&pw->lock);
	pr->next = pw->files;
	if (pw->files)
		pw->files->prev = pr;
	pw->files = pr;
	pthread_mutex_unlock(&pw->lock);
	f->pr = pr;
	return pr;
}

/*
 * Is the checked range in @s the file the ranges of this open began with?
 * The first range checked sets the size and time (pr->lock held), for
 * every later activation of the open too.  Returns 0; -EAGAIN when the
 * server had another size than the cached attributes before the first
 * range (the mount's view was out of date before any range: one stream
 * reads it, as without them); -EIO when it changed since.
 */
static int pr_range_current(struct fs_pread *pr, const struct pr_slot *s)
{
	const struct pr_result *r = &s->res;

	if (!pr->base_known) {
		if (r->pre && r->pre_size != pr->size)
			return -EAGAIN;
		pr->base_size = pr->size;
		pr->base_mtime = r->pre ? r->pre_mtime : r->mtime;
		pr->base_known = true;
	}
	if (r->pre &&
	    (r->pre_size != pr->base_size || r->pre_mtime != pr->base_mtime))
		return -EIO;
	return r->size == pr->base_size && r->mtime == pr->base_mtime &&
			       pr->size == pr->base_size
		       ? 0
		       : -EIO;
}

/* The file changed on the server: every later read fails (pr->lock
 * held). */
static int pr_stale_locked(struct fs_pread *pr, const char *why)
{
	log_warn("inode %llu changed on the server while it was read in "
		 "parallel ranges (%s): reads of this open file fail; reopen "
		 "it for the new version",
		 (unsigned long long)pr->ino, why);
	stats_add(STATS_PREAD_STALE, 1);
	pr->stale = -EIO;
	pr_deactivate_locked(pr);
	return pr->stale;
}

/*
 * Wait until ranges @k0..@k1 are ready (pr->lock held).  Returns 0; -EAGAIN
 * after a fallback; -EIO (the file changed); -EINTR.
 */
static int pr_wait_ready(struct fs_pread *pr, uint64_t k0, uint64_t k1)
{
	for (uint64_t k = k0; k <= k1;) {
		struct pr_slot *s = &pr->slots[k % pr->nslots];
		struct timespec until;

		if (!pr->active)
			return pr->stale ? pr->stale : -EAGAIN;
		if (s->state == PR_READY) {
			int ret = pr_range_current(pr, s);

			if (ret == -EIO)
				return pr_stale_locked(pr, "size or time "
							   "differs");
			if (ret < 0) {
				pr->no_more = true;
				pr_fallback_locked(pr,
						   "the cached size is out "
						   "of date",
						   0);
				return ret;
			}
			k++;
			continue;
		}
		if (s->state == PR_FAILED) {
			if (s->err == -ESTALE)
				return pr_stale_locked(pr, "size differs");
			pr->no_more = true;
			pr_fallback_locked(pr, "a range failed", s->err);
			return -EAGAIN;
		}
		if (net_cancelled())
			return -EINTR;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&pr->cond, &pr->lock, &until);
	}
	return 0;
}

/* Range @k (@len bytes in @buf) was read to its end: keep its last
 * bytes (pr->lock held). */
static void pr_keep_tail_locked(struct fs_pread *pr, const char *buf,
				size_t len, uint64_t k)
{
	size_t n = len < PR_TAIL ? len : PR_TAIL;

	pr->tail_len = 0;
	if (!pr->tail)
		pr->tail = malloc(PR_TAIL);
	if (!pr->tail)
		return;
	memcpy(pr->tail, buf + len - n, n);
	pr->tail_off = pr->slots[k % pr->nslots].off + len - n;
	pr->tail_len = n;
}

/* Serve [@off, @off + @size) from ranges @k0.. (ready, pr->lock held);
 * ranges read to their end make room for the next ones. */
static size_t pr_copy_locked(struct fs_pread *pr, char *buf, size_t size,
			     uint64_t off)
{
	size_t done = 0;

	while (done < size) {
		uint64_t k = pr_range_at(pr, off + done);
		struct pr_slot *s = &pr->slots[k % pr->nslots];
		uint64_t in = off + done - s->off;
		size_t len = s->len;
		size_t n = len - in < size - done ? (size_t)(len - in)
						  : size - done;

		memcpy(buf + done, s->buf + in, n);
		done += n;
		if (in + n == len) {
			pr_keep_tail_locked(pr, s->buf, len, k);
			pr_advance_locked(pr, k);
		}
	}
	return done;
}

/* May @pr begin ranges at @pos, the file being @size long?  The stream
 * must have read enough in order first: a program that reads a file's
 * head and no more (file(1), a thumbnailer) costs no ranges.  (f->lock) */
static bool pr_worth_it(const struct fs_pread *pr, uint64_t pos, uint64_t size)
{
	bool big = size >= PR_BIG_FILE;

	if (pr->stale || pr->no_more || pr->active || size <= pos ||
	    size - pos < 2ull * PR_CHUNK)
		return false;
	return pr->seq_len >= (big && !pr->seeked ? PR_AFTER_BIG : PR_AFTER);
}

/* Begin ranges at @pos if worth it (f->lock held).  Returns whether
 * they began. */
static bool pr_try_activate(struct fs_ctx *ctx, struct fs_file *f,
			    struct fs_pread *pr, uint64_t pos)
{
	struct fs_preads *pw = ctx->preads;
	unsigned streams;
	struct stat st;

	if (itab_getattr(ctx->itab, f->ino, &st) == -ESTALE ||
	    !pr_worth_it(pr, pos, (uint64_t)st.st_size))
		return false;
	/* Leave one transfer for the rest of the mount's work. */
	streams = ftp_pool_xfer_limit(ctx->pool);
	streams = streams > pw->n ? pw->n : streams;
	if (streams < 2) {
		pr->no_more = true;
		stats_add(STATS_PREAD_FALLBACKS, 1);
		log_debug("parallel reads: the server allows one transfer");
		return false;
	}
	if (atomic_fetch_add(&pw->active_files, 1) >= PR_FILES) {
		atomic_fetch_sub(&pw->active_files, 1);
		return false;
	}
	pthread_mutex_lock(&pr->lock);
	pr->active = true;
	pr->held = true;
	pr->size = (uint64_t)st.st_size;
	pr->head = 0;
	pr->streams = streams;
	pr->max_streams = streams;
	pr->nslots = FS_PREAD_MAX + 1;
	pr->budget = (uint64_t)(streams + 1) * PR_CHUNK;
	pr->next_k = 0;
	pr->next_off = pos;
	pr_fill_locked(pr);
	pthread_mutex_unlock(&pr->lock);
	log_debug("parallel reads of %s from offset %llu: %u streams", f->path,
		  (unsigned long long)pos, streams);
	return true;
}

ssize_t fs_pread_read(struct fs_ctx *ctx, struct fs_file *f, char *buf,
		      size_t size, uint64_t off)
{
	struct fs_pread *pr = f->pr;
	uint64_t end, k0, k1, head_off;
	size_t done = 0;
	ssize_t ret;

	if (!pr)
		return -EAGAIN;
	pthread_mutex_lock(&pr->lock);
	if (pr->stale || !pr->active) {
		ret = pr->stale ? pr->stale : -EAGAIN;
		goto out;
	}
	end = off + size < pr->size ? off + size : pr->size;
	if (off >= pr->size || size == 0) {
		ret = -EAGAIN; /* past what the ranges know: the stream */
		goto out;
	}
	/* A step back into the end of the range read last: its tail. */
	head_off = pr_head_off(pr);
	if (off < head_off && pr->tail_len && off >= pr->tail_off &&
	    pr->tail_off + pr->tail_len == head_off) {
		done = (end < head_off ? end : head_off) - off;
		memcpy(buf, pr->tail + (off - pr->tail_off), done);
	}
	if (off + done == end) {
		ret = (ssize_t)(end - off);
		pr->seq_end = end;
		goto out;
	}
	if (off + done < head_off || end > pr->next_off) {
		pr->seq_len = 0;
		pr->seeked = true;
		log_debug("read at %llu (+%zu) outside the ranges [%llu, %llu)",
			  (unsigned long long)off, size,
			  (unsigned long long)head_off,
			  (unsigned long long)pr->next_off);
		pr_fallback_locked(pr, "a seek", 0);
		ret = -EAGAIN;
		goto out;
	}
	k0 = pr_range_at(pr, off + done);
	k1 = pr_range_at(pr, end - 1);
	/* The server refused more connections since the ranges began
	 * (ftp_pool.h, Adapting): a transfer at a time is all there is. */
	if (ftp_pool_xfer_limit(ctx->pool) < 2) {
		pr->no_more = true;
		pr_fallback_locked(pr, "the server allows one transfer", 0);
		ret = -EAGAIN;
		goto out;
	}
	/* A skip forward within the window: the ranges before are not
	 * wanted. */
	if (pr->head < k0 && off + done < end)
		pr->tail_len = 0;
	while (pr->head < k0 && off + done < end)
		pr_advance_locked(pr, pr->head);
	ret = off + done < end ? pr_wait_ready(pr, k0, k1) : 0;
	if (ret == 0 && off + done < end)
		pr_copy_locked(pr, buf + done, (size_t)(end - off - done),
			       off + done);
	if (ret == 0) {
		ret = (ssize_t)(end - off);
		pr->seq_end = end;
	}
out:
	pthread_mutex_unlock(&pr->lock);
	return ret;
}

bool fs_pread_note(struct fs_ctx *ctx, struct fs_file *f, uint64_t off,
		   size_t n)
{
	struct fs_pread *pr = pr_of(ctx, f);

	if (!pr)
		return false;
	pr->seq_len = off == pr->seq_end ? pr->seq_len + n : n;
	pr->seq_end = off + n;
	return pr_try_activate(ctx, f, pr, pr->seq_end);
}

void fs_pread_begin(struct fs_ctx *ctx, struct fs_file *f, struct ftp_conn *c)
{
	struct fs_pread *pr = f->pr;

	if (pr) {
		pthread_mutex_lock(&pr->lock);
		pr->held = false;
		if (pr->active && c) {
			pr->given = c;
			c = NULL;
		}
		pr_queue_waiting_locked(pr);
		pthread_mutex_unlock(&pr->lock);
	}
	if (c)
		ftp_pool_release(ctx->pool, c);
}

void fs_pread_release(struct fs_file *f)
{
	struct fs_pread *pr = f->pr;
	struct fs_preads *pw;

	if (!pr)
		return;
	pw = pr->pw;
	pthread_mutex_lock(&pr->lock);
	pr_deactivate_locked(pr);
	pthread_mutex_unlock(&pr->lock);
	pthread_mutex_lock(&pw->lock);
	if (pr->prev)
		pr->prev->next = pr->next;
	else
		pw->files = pr->next;
	if (pr->next)
		pr->next->prev = pr->prev;
	pthread_mutex_unlock(&pw->lock);
	f->pr = NULL;
	pr_unref(pr);
}

void fs_pread_forget(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_preads *pw = ctx->preads;
	struct fs_pread *hit[PR_FILES * 4];
	unsigned n = 0;

	if (!pw)
		return;
	/* Only files in parallel mode have ranges to drop: at most PR_FILES
	 * of them (more if some are leaving it right now). */
	pthread_mutex_lock(&pw->lock);
	for (struct fs_pread *pr = pw->files; pr; pr = pr->next) {
		if (pr->ino != ino || n == sizeof(hit) / sizeof(hit[0]))
			continue;
		atomic_fetch_add(&pr->refs, 1); /* the file holds one */
		hit[n++] = pr;
	}
	pthread_mutex_unlock(&pw->lock);
	for (unsigned i = 0; i < n; i++) {
		pthread_mutex_lock(&hit[i]->lock);
		/* Our own new content is no change to fail on. */
		hit[i]->base_known = false;
		if (hit[i]->active)
			pr_fallback_locked(hit[i], "written locally", 0);
		pthread_mutex_unlock(&hit[i]->lock);
		pr_unref(hit[i]);
	}
}
