/*
 * fs_wback.c - the write-back queue: workers, conflict check, replay at
 * mount, statistics.  See fs_wback.h for what it promises; the journal's
 * files are wb_journal.h's, the per-file upload fs_wfile.c's.
 *
 * Jobs stay on one list, in queue order, from enqueue until their upload
 * is over; a worker takes the first job that is neither running nor
 * waiting out a retry delay.  A job's file holds one reference for it
 * (fs_wfile.c), dropped by the worker once the job is over.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs_wfile.h"
#include "ftpsfs/fs_wback.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/inode.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"

/* How long unmount waits for the queue without an op_timeout. */
#define WB_STOP_DEFAULT_MS 120000

struct fs_wback_job {
	struct fs_wfile *wf;	   /* with the job's reference */
	uint64_t bytes;		   /* wb->lock */
	int64_t since_ms;	   /* first queued (net_now_ms()) */
	int64_t not_before_ms;	   /* retry delay; wb->lock */
	bool running;		   /* a worker has it; wb->lock */
	bool over;		   /* finished; wb->lock */
	struct fs_wback_job *next; /* wb->lock */
};

struct fs_wback {
	struct fs_ctx *ctx;
	pthread_mutex_t lock;
	pthread_cond_t work;		   /* a job can run, or stopping */
	pthread_cond_t change;		   /* a job ended */
	struct fs_wback_job *head, **tail; /* lock */
	size_t jobs;			   /* lock */
	uint64_t bytes;			   /* lock */
	bool stopping; /* lock: workers end after their job */
	pthread_t threads[WB_WORKERS];
	unsigned nthreads;
};

bool fs_wback_retryable(int err)
{
	return ftp_errno_transient(err) || err == -EIO || err == -ETIMEDOUT ||
	       err == -EPROTO || err == -EINTR;
}

/* ---- queue ---- */

struct fs_wback_job *fs_wback_enqueue(struct fs_wback *wb, struct fs_wfile *wf,
				      uint64_t bytes, struct fs_wback_job *job)
{
	pthread_mutex_lock(&wb->lock);
	if (job) {
		wb->bytes = wb->bytes - job->bytes + bytes;
		job->bytes = bytes;
		job->not_before_ms = 0;
	} else if ((job = calloc(1, sizeof(*job)))) {
		job->wf = wf;
		job->bytes = bytes;
		job->since_ms = net_now_ms();
		*wb->tail = job;
		wb->tail = &job->next;
		wb->jobs++;
		wb->bytes += bytes;
	}
	pthread_cond_signal(&wb->work);
	pthread_mutex_unlock(&wb->lock);
	return job;
}

/* Take @job off the list (wb->lock held). */
static void wb_unlink(struct fs_wback *wb, struct fs_wback_job *job)
{
	struct fs_wback_job **pp = &wb->head;

	while (*pp && *pp != job)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = job->next;
	if (wb->tail == &job->next)
		wb->tail = pp;
	wb->jobs--;
	wb->bytes -= job->bytes;
}

bool fs_wback_has_room(struct fs_wback *wb)
{
	bool room;

	pthread_mutex_lock(&wb->lock);
	room = wb->jobs < WB_MAX_JOBS;
	pthread_mutex_unlock(&wb->lock);
	return room;
}

void fs_wback_finish(struct fs_wback *wb, struct fs_wback_job *job)
{
	pthread_mutex_lock(&wb->lock);
	if (!job->over) {
		job->over = true;
		wb_unlink(wb, job);
	}
	pthread_mutex_unlock(&wb->lock);
}

/* The first job that may run now, or NULL; *wait_ms how long until a
 * delayed one may (-1: none).  wb->lock held. */
static struct fs_wback_job *wb_next(struct fs_wback *wb, int64_t *wait_ms)
{
	int64_t now = net_now_ms();

	*wait_ms = -1;
	for (struct fs_wback_job *j = wb->head; j; j = j->next) {
		if (j->running)
			continue;
		if (j->not_before_ms <= now)
			return j;
		if (*wait_ms < 0 || j->not_before_ms - now < *wait_ms)
			*wait_ms = j->not_before_ms - now;
	}
	return NULL;
}

static void wb_wait(struct fs_wback *wb, pthread_cond_t *cond, int64_t ms)
{
	struct timespec ts;

	if (ms < 0) {
		pthread_cond_wait(cond, &wb->lock);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cond, &wb->lock, &ts);
}

/* Is the server known to be away (an outage: the pool's prober brings
 * it back)?  Then a job is not tried: trying would hold its file's lock
 * while waiting, and a read or stat of the file would wait with it. */
static bool wb_server_away(struct fs_ctx *ctx)
{
	struct stats_pool st;

	ftp_pool_counts(ctx->pool, &st);
	return st.server_down;
}

/* Run one job (wb->lock not held). */
static void wb_run(struct fs_wback *wb, struct fs_wback_job *job)
{
	struct fs_ctx *ctx = wb->ctx;
	int64_t saved = fs_op_deadline_begin(ctx);
	int ret = wb_server_away(ctx) ? -EAGAIN
				      : fs_wfile_wb_upload(ctx, job->wf, job);
	bool over;

	fs_op_deadline_end(saved);
	pthread_mutex_lock(&wb->lock);
	job->running = false;
	/* Read under the lock: a job not over may be another worker's as
	 * soon as the lock goes. */
	over = job->over;
	if (ret < 0 && !over) {
		stats_add(STATS_WB_RETRIES, 1);
		job->not_before_ms = net_now_ms() + WB_RETRY_MS;
	}
	pthread_cond_broadcast(&wb->change);
	pthread_mutex_unlock(&wb->lock);
	if (over) {
		stats_add(ret < 0 ? STATS_WB_FAILURES : STATS_WB_UPLOADS, 1);
		fs_wfile_put(ctx, job->wf);
		free(job);
	}
}

static void *wb_worker(void *arg)
{
	struct fs_wback *wb = arg;

	pthread_mutex_lock(&wb->lock);
	while (!wb->stopping) {
		int64_t wait_ms;
		struct fs_wback_job *job = wb_next(wb, &wait_ms);

		if (!job) {
			wb_wait(wb, &wb->work, wait_ms);
			continue;
		}
		job->running = true;
		pthread_mutex_unlock(&wb->lock);
		wb_run(wb, job);
		pthread_mutex_lock(&wb->lock);
	}
	pthread_mutex_unlock(&wb->lock);
	return NULL;
}

int fs_wback_start(struct fs_ctx *ctx)
{
	struct fs_wback *wb = calloc(1, sizeof(*wb));

	if (!wb)
		return -ENOMEM;
	wb->ctx = ctx;
	wb->tail = &wb->head;
	pthread_mutex_init(&wb->lock, NULL);
	pthread_cond_init(&wb->work, NULL);
	pthread_cond_init(&wb->change, NULL);
	ctx->wback = wb;
	for (; wb->nthreads < WB_WORKERS; wb->nthreads++)
		if (pthread_create(&wb->threads[wb->nthreads], NULL, wb_worker,
				   wb) != 0)
			break;
	if (wb->nthreads == 0) {
		fs_wback_stop(ctx);
		return -EAGAIN;
	}
	return 0;
}

/* Each job still queued: its file keeps the record (fs_wfile_put() logs
 * where), the queue's reference goes. */
static void wb_drop_all(struct fs_wback *wb)
{
	struct fs_wback_job *job;

	while ((job = wb->head)) {
		wb_unlink(wb, job);
		job->over = true;
		fs_wfile_wb_abandon(job->wf);
		fs_wfile_put(wb->ctx, job->wf);
		free(job);
	}
}

void fs_wback_stop(struct fs_ctx *ctx)
{
	struct fs_wback *wb = ctx->wback;
	int64_t limit = ctx->op_timeout_ms > 0 ? ctx->op_timeout_ms
					       : WB_STOP_DEFAULT_MS;
	int64_t end = net_now_ms() + limit;

	if (!wb)
		return;
	pthread_mutex_lock(&wb->lock);
	if (wb->jobs)
		log_info("unmount: waiting for %zu write-back uploads "
			 "(%llu bytes, up to %lld s)",
			 wb->jobs, (unsigned long long)wb->bytes,
			 (long long)(limit / 1000));
	while (wb->jobs && wb->nthreads && net_now_ms() < end)
		wb_wait(wb, &wb->change, end - net_now_ms());
	wb->stopping = true;
	pthread_cond_broadcast(&wb->work);
	pthread_mutex_unlock(&wb->lock);
	for (unsigned i = 0; i < wb->nthreads; i++)
		pthread_join(wb->threads[i], NULL);
	if (wb->jobs)
		log_err("unmount: %zu write-back uploads not done (%llu "
			"bytes); "
			"their records stay in %s for the next mount",
			wb->jobs, (unsigned long long)wb->bytes,
			ctx->spool_dir);
	wb_drop_all(wb);
	pthread_cond_destroy(&wb->work);
	pthread_cond_destroy(&wb->change);
	pthread_mutex_destroy(&wb->lock);
	ctx->wback = NULL;
	free(wb);
}

void fs_wback_gauges(struct fs_wback *wb, struct stats_writeback *out)
{
	int64_t now = net_now_ms();

	memset(out, 0, sizeof(*out));
	if (!wb)
		return;
	out->on = true;
	pthread_mutex_lock(&wb->lock);
	out->queued = wb->jobs;
	out->bytes = wb->bytes;
	if (wb->head)
		out->oldest_ms = (uint64_t)(now - wb->head->since_ms);
	pthread_mutex_unlock(&wb->lock);
}

/* ---- the server's side ---- */

struct wb_state_op {
	const char *path;
	bool exists;
	uint64_t size;
	int64_t mtime;
};

static int wb_state_fn(struct ftp_conn *c, void *arg)
{
	struct wb_state_op *op = arg;
	/* SIZE and MDTM in one flight: the conflict check is one round
	 * trip per upload. */
	int ret = ftp_op_size_mdtm(c, op->path, &op->size, &op->mtime);

	op->exists = ret == 0;
	if (ret == -ENOENT) {
		op->size = 0;
		op->mtime = 0;
		return 0;
	}
	if (ret == 0 && op->mtime < 0)
		op->mtime = 0; /* no MDTM for it: the size alone tells */
	return ret;
}

int fs_wback_remote_state(struct fs_ctx *ctx, const char *path, bool *exists,
			  uint64_t *size, int64_t *mtime)
{
	struct wb_state_op op = { .path = path };
	int ret = fs_with_conn(ctx, wb_state_fn, &op);

	if (ret < 0)
		return ret;
	*exists = op.exists;
	*size = op.size;
	*mtime = op.mtime;
	return 0;
}

/* "DIR/NAME.ftpsfs-conflict-YYYYMMDD-HHMMSS" for @path into @out. */
static int wb_conflict_name(const char *path, char *out, size_t outsz)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (!gmtime_r(&now, &tm) ||
	    !strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm))
		snprintf(when, sizeof(when), "%lld", (long long)now);
	n = snprintf(out, outsz, "%s.ftpsfs-conflict-%s", path, when);
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

int fs_wback_target(struct fs_ctx *ctx, const struct wb_record *r, char *out,
		    size_t outsz, bool *conflict)
{
	bool exists;
	uint64_t size;
	int64_t mtime;
	int ret;

	*conflict = false;
	if (r->started || !r->seen_known) {
		snprintf(out, outsz, "%s", r->path);
		return 0;
	}
	ret = fs_wback_remote_state(ctx, r->path, &exists, &size, &mtime);
	if (ret < 0)
		return ret;
	*conflict =
		exists != r->seen_exists || (exists && size != r->seen_size) ||
		(exists && mtime && r->seen_mtime && mtime != r->seen_mtime);
	if (!*conflict) {
		snprintf(out, outsz, "%s", r->path);
		return 0;
	}
	ret = wb_conflict_name(r->path, out, outsz);
	if (ret == 0) {
		stats_add(STATS_WB_CONFLICTS, 1);
		log_err("%s changed on the server since it was opened here "
			"(%s, %llu bytes): ours is uploaded as %s instead",
			r->path, exists ? "now" : "deleted",
			(unsigned long long)size, out);
	}
	return ret;
}

/* ---- replay at mount ---- */

/* Keep the data of a record that cannot be uploaded as "unsaved-ID". */
static void wb_keep_unsaved(struct fs_ctx *ctx, const struct wb_record *r)
{
	char from[4200], to[4200];

	snprintf(from, sizeof(from), "%s/%s.data", ctx->spool_dir, r->id);
	snprintf(to, sizeof(to), "%s/unsaved-%s", ctx->spool_dir, r->id);
	if (rename(from, to) < 0)
		log_err("%s: cannot keep %s: %s", r->path, from,
			strerror(errno));
	else
		log_err("%s: the content written before the crash was changed "
			"later and never closed; not uploaded, kept as %s",
			r->path, to);
	(void)wb_journal_remove(ctx->spool_dir, r->id);
}

/* Check that the data is what the record says, then upload it. */
static int wb_replay_one(struct fs_ctx *ctx, struct wb_record *r)
{
	char target[FS_PATH_MAX], sha[WB_SHA256_HEX];
	bool conflict = false;
	struct stat st;
	int fd = wb_journal_open_data(ctx->spool_dir, r->id);
	int ret = fd;

	if (fd < 0) {
		log_err("%s: write-back data %s/%s.data is missing: %s",
			r->path, ctx->spool_dir, r->id, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != r->size ||
	    wb_journal_digest(fd, r->size, sha) < 0 ||
	    strcmp(sha, r->sha256) != 0) {
		close(fd);
		wb_keep_unsaved(ctx, r);
		return -EBADMSG; /* never again: not fs_wback_retryable() */
	}
	ret = fs_wback_target(ctx, r, target, sizeof(target), &conflict);
	if (ret == 0 && !conflict && !r->started) {
		/* As at the first upload (fs_wfile_wb_upload()): from here
		 * on a part of the file on the server may be ours, for the
		 * next try or the next mount. */
		r->started = true;
		(void)wb_journal_save(ctx->spool_dir, r);
	}
	if (ret == 0)
		ret = fs_wfile_upload_fd(ctx, target, fd, r->size, r);
	close(fd);
	if (ret < 0) {
		stats_add(STATS_WB_FAILURES, 1);
		log_err("%s: pending write-back upload failed: %s", r->path,
			strerror(-ret));
		return ret;
	}
	stats_add(STATS_WB_REPLAYED, 1);
	log_info("%s: pending write-back upload done (%llu bytes)%s", target,
		 (unsigned long long)r->size,
		 conflict ? " under a conflict name" : "");
	return wb_journal_remove(ctx->spool_dir, r->id);
}

/* One pass over the @n records @ids (@r: room for one), each with an op
 * deadline of its own; *done counts the uploaded.  The ids worth another
 * try (fs_wback_retryable()) are moved to the front: returns how many. */
static size_t wb_replay_pass(struct fs_ctx *ctx, char (*ids)[WB_ID_LEN + 1],
			     size_t n, struct wb_record *r, size_t *done)
{
	size_t again = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t saved = fs_op_deadline_begin(ctx);
		int ret = wb_journal_load(ctx->spool_dir, ids[i], r);

		if (ret < 0)
			log_err("write-back record %s/%s.rec is damaged; left "
				"in place",
				ctx->spool_dir, ids[i]);
		else
			ret = wb_replay_one(ctx, r);
		if (ret == 0)
			(*done)++;
		else if (fs_wback_retryable(ret) && again++ != i)
			memcpy(ids[again - 1], ids[i], sizeof(ids[i]));
		fs_op_deadline_end(saved);
	}
	return again;
}

/* Listings fetched before the replay (the root's, at mount) do not show
 * what it uploaded.  Nothing was served yet: the kernel caches nothing. */
static void wb_forget_listings(struct fs_ctx *ctx)
{
	struct itab_name *names;
	ssize_t n = itab_expire_all(ctx->itab, &names);

	if (n >= 0)
		itab_names_free(names, (size_t)n);
}

static void wb_sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Upload each record in the spool directory; the server was reached
 * (fs_ready()).  A record that failed for a reason that may pass (the
 * server away for a moment, a connection cut, vsftpd still holding the
 * upload lock of the killed mount's session on the file until its
 * accept_timeout, 60 s by default, ends) is tried again after a growing
 * pause, until WB_REPLAY_RETRY_MS after the first pass. */
static void wb_replay_all(struct fs_ctx *ctx)
{
	char(*ids)[WB_ID_LEN + 1] = NULL;
	struct wb_record *r = malloc(sizeof(*r));
	size_t n = 0, done = 0, left;
	unsigned orphans = 0;
	int64_t until, pause = WB_RETRY_MS;
	int ret = -ENOMEM;

	if (r)
		ret = wb_journal_list(ctx->spool_dir, &ids, &n);
	if (ret < 0)
		log_err("write-back records in %s: %s", ctx->spool_dir,
			strerror(-ret));
	if (n)
		log_info("uploading %zu pending write-back files from %s", n,
			 ctx->spool_dir);
	until = net_now_ms() + WB_REPLAY_RETRY_MS;
	left = wb_replay_pass(ctx, ids, n, r, &done);
	while (left && net_now_ms() + pause < until) {
		log_warn("%zu pending write-back uploads failed for now; "
			 "trying again in %lld s",
			 left, (long long)(pause / 1000));
		wb_sleep_ms(pause);
		left = wb_replay_pass(ctx, ids, left, r, &done);
		pause *= 2;
	}
	if (done)
		wb_forget_listings(ctx);
	if (done < n)
		log_err("%zu of %zu pending write-back uploads not done (see "
			"above); their records stay in %s for the next mount",
			n - done, n, ctx->spool_dir);
	else if (n)
		log_info("%zu pending write-back uploads done", n);
	if (wb_journal_keep_orphans(ctx->spool_dir, &orphans) == 0 && orphans)
		log_warn(
			"%u files written before a crash whose close() never "
			"returned are kept in %s as unsaved-wb-*, not uploaded",
			orphans, ctx->spool_dir);
	free(ids);
	free(r);
}

void fs_wback_replay(struct fs_ctx *ctx)
{
	char(*ids)[WB_ID_LEN + 1] = NULL;
	size_t n = 0;

	/* Read-only mounts have no spool directory (and cannot upload). */
	if (ctx->read_only || !ctx->spool_dir[0])
		return;
	/* delay_connect: records make the mount log in now.  With the
	 * server away the first request that reaches it replays first
	 * (fs_wback_replay_late()). */
	if (ctx->late_setup && wb_journal_list(ctx->spool_dir, &ids, &n) == 0 &&
	    n && fs_ready(ctx) < 0) {
		log_warn("%zu pending write-back uploads in %s: the server "
			 "cannot be reached; uploaded once it can, before any "
			 "request is served",
			 n, ctx->spool_dir);
		atomic_store(&ctx->wb_replay_late, true);
		free(ids);
		return;
	}
	free(ids);
	wb_replay_all(ctx);
}

void fs_wback_replay_late(struct fs_ctx *ctx)
{
	int64_t outer = net_op_deadline();

	if (!atomic_exchange(&ctx->wb_replay_late, false))
		return;
	/* Not bounded by the request that brought the server back: each
	 * record gets a deadline of its own. */
	net_set_op_deadline(0);
	wb_replay_all(ctx);
	net_set_op_deadline(outer);
}
