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
 * most `streams` jobs queued or running, and one more while a range ends
 * (pr_overlap_locked()); its other ranges wait.
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
/*
 * A range's buffer: mapped on its own, so that its memory goes back to the
 * system when it is freed (malloc keeps freed blocks this big in its
 * arenas once its threshold has grown: the peak RSS doubled).  NULL when
 * there is no memory.
 */
char *pr_buf_new(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void pr_buf_free(char *buf, size_t len)
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

void pr_unref(struct fs_pread *pr)
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

/* Is the cut at @off in the file's tail, where ranges shrink? */
static bool pr_in_tail(const struct fs_pread *pr, uint64_t off)
{
	return (pr->size - off) * 2 / (pr->streams + 1) < PR_CHUNK;
}

/* Bytes that the ranges cut and not fetched yet still have to fetch
 * (pr->lock held), and (@busy) how many of them there are. */
static uint64_t pr_owed_locked(const struct fs_pread *pr, unsigned *busy)
{
	uint64_t owed = 0;

	*busy = 0;
	for (uint64_t k = pr->head; k < pr->next_k; k++) {
		const struct pr_slot *s = &pr->slots[k % pr->nslots];

		if (s->state != PR_WAITING && s->state != PR_QUEUED &&
		    s->state != PR_FETCHING)
			continue;
		(*busy)++;
		owed += s->len - (s->state == PR_FETCHING ? s->got : 0);
	}
	return owed;
}

/*
 * How long range @k, cut at @off, is (pr->lock held): the ramp first (the
 * reader gets its next bytes soon after the ranges begin), then PR_CHUNK.
 * In the tail, a range is cut only when a stream is free to fetch it
 * (pr_fill_locked()), to its share of all that is left - the file's
 * bytes not cut yet and those the other streams still have to fetch - so
 * that the streams end together: cut ahead, by a guess, the last ranges
 * left one stream fetching alone for ~0.5 s of a 256 MiB read.  What
 * would be left as a piece smaller than PR_TAPER_MIN goes into this one.
 */
static size_t pr_cut_len(const struct fs_pread *pr, uint64_t k, uint64_t off)
{
	uint64_t left = pr->size - off, len;
	unsigned busy;

	if (k < PR_RAMP_STEPS) {
		len = (uint64_t)PR_RAMP_FIRST << k;
	} else if (!pr_in_tail(pr, off)) {
		len = PR_CHUNK;
	} else {
		uint64_t all = left + pr_owed_locked(pr, &busy);
		unsigned idle = busy < pr->streams ? pr->streams - busy : 1;

		/* Each stream that begins a range loses its opening. */
		all += idle * pr->gap;
		len = all / pr->streams > pr->gap ? all / pr->streams - pr->gap
						  : 0;
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
static void pr_queue_locked(struct fs_pread *pr, struct pr_slot *s, bool spare)
{
	struct fs_preads *pw = pr->pw;
	bool queued = false;

	pthread_mutex_lock(&pw->lock);
	if (!pw->stopping && pw->len < PR_QUEUE) {
		pw->queue[(pw->head + pw->len++) % PR_QUEUE] = (struct pr_job){
			.pr = pr, .k = s->k, .gen = s->gen, .spare = spare
		};
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
	s->got = 0;
	pr->next_off += s->len;
	s->gen = ++pr->gens;
	s->state = PR_WAITING;
	if (!pr->held && pr->inflight < pr->streams)
		pr_queue_locked(pr, s, false);
}

/* Queue the first waiting ranges while the file has streams free
 * (pr->lock held). */
static struct pr_slot *pr_first_waiting_locked(struct fs_pread *pr)
{
	struct pr_slot *first = NULL;

	for (unsigned i = 0; i < pr->nslots; i++) {
		struct pr_slot *s = &pr->slots[i];

		if (s->state == PR_WAITING && (!first || s->k < first->k))
			first = s;
	}
	return first;
}

static void pr_queue_waiting_locked(struct fs_pread *pr)
{
	struct pr_slot *first;

	while (pr->active && !pr->held && pr->inflight < pr->streams) {
		first = pr_first_waiting_locked(pr);
		if (!first)
			break;
		pr_queue_locked(pr, first, false);
	}
}

/* May the next range be cut: the file has more, a slot is free and the
 * budget allows, with @more bytes on top (pr->lock held)? */
static bool pr_may_cut_locked(const struct fs_pread *pr, uint64_t more)
{
	if (pr->next_off >= pr->size || pr->next_k - pr->head >= pr->nslots)
		return false;
	return pr->next_k == pr->head ||
	       pr->next_off + pr_cut_len(pr, pr->next_k, pr->next_off) -
			       pr_head_off(pr) <=
		       pr->budget + more;
}

/* Cut ranges while the file has more, a slot is free and the budget
 * allows - in the tail only while a stream is free (pr->lock held). */
static void pr_fill_locked(struct fs_pread *pr)
{
	unsigned busy;

	while (pr_may_cut_locked(pr, 0)) {
		if (pr_in_tail(pr, pr->next_off) && pr->next_k > pr->head &&
		    (pr_owed_locked(pr, &busy), busy >= pr->streams))
			break;
		pr_schedule_next_locked(pr);
	}
}

/*
 * Range @s has @got of its bytes: when what is left takes about as long
 * as opening a range (pr->gap), the next range opens now, on one more
 * connection (FTP_POOL_SPARE), so that its bytes flow as this range's
 * end - not ~5 round trips later (EPSV, REST + RETR, the data connection,
 * its 1xx and TLS handshake: ~9% of each 16 MiB range at 20 ms and 100
 * Mbit/s).  One range at a time is opened so (pr->lock held).
 */
static void pr_overlap_locked(struct fs_pread *pr, const struct pr_slot *s,
			      size_t got)
{
	struct pr_slot *next;

	if (pr->held || pr->inflight != pr->streams || pr->gap == 0 ||
	    s->len - got > pr->gap)
		return;
	/* The range ending is often the head, whose bytes the reader takes
	 * as soon as they are all in: the next one may be cut beyond the
	 * budget by the head's length (its buffer fills from its first
	 * byte on, about when the head's is let go). */
	next = pr_first_waiting_locked(pr);
	if (!next && (pr_in_tail(pr, pr->next_off) || s->k == pr->head) &&
	    pr_may_cut_locked(pr, s->k == pr->head ? s->len : 0)) {
		pr_schedule_next_locked(pr); /* stays waiting: no stream */
		next = pr_first_waiting_locked(pr);
	}
	if (next)
		pr_queue_locked(pr, next, true);
}

bool pr_job_progress(const struct pr_job *j, size_t got)
{
	struct fs_pread *pr = j->pr;
	struct pr_slot *s;
	bool wanted;

	pthread_mutex_lock(&pr->lock);
	s = &pr->slots[j->k % pr->nslots];
	wanted = pr->active && s->gen == j->gen;
	if (wanted && got > s->got) {
		s->got = got;
		pr_overlap_locked(pr, s, got);
	}
	pthread_mutex_unlock(&pr->lock);
	return wanted;
}

/* A job of the file ended: its stream goes to the first waiting range,
 * and so do streams regained, or to the next range of the tail
 * (pr->lock held). */
void pr_job_done_locked(struct fs_pread *pr)
{
	pr->inflight--;
	pr_queue_waiting_locked(pr);
	if (pr->active)
		pr_fill_locked(pr);
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

/* The tail is cut as streams free up (pr_fill_locked()): a read from
 * the window [@from, @end) across its end has the next ranges cut now
 * (pr->lock held). */
static void pr_cut_for_read_locked(struct fs_pread *pr, uint64_t from,
				   uint64_t end)
{
	if (from < pr_head_off(pr))
		return;
	while (end > pr->next_off && from < pr->next_off &&
	       pr->next_k - pr->head < pr->nslots)
		pr_schedule_next_locked(pr);
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
	pr_cut_for_read_locked(pr, off + done, end);
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
