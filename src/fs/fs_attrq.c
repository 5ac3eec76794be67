/*
 * fs_attrq.c - the time and mode of a file we just uploaded, sent a moment
 * later: in the flight of its rename, or on their own within a second.
 *
 * rsync -a writes ".name.XXXXXX", closes it, sets its time, its mode, and
 * renames it: three round trips after the upload (issue 17).  A file we
 * created and uploaded whose name starts with a dot (rsync's temporaries,
 * and those of most tools that save by renaming) is "young" for
 * ATTRQ_YOUNG_MS: a time or mode set on it then is recorded here (the mount
 * shows it at once) and sent in the rename's flight (RNFR, RNTO, MFMT, SITE
 * CHMOD: ftp_op_rename_attrs()), or by this module's thread ATTRQ_DELAY_MS
 * after the first change, or before anything that needs the server's copy to
 * have them: the file opened for writing again (fs_wfile_get()), fsync,
 * unmount.  An unlink drops them.
 *
 * Only where the server already did the same thing for us: a time when
 * the way to set one is learnt (ftp_learned_mtime_method()), a mode on a file
 * whose creation mode the server took (so SITE CHMOD works there).  A failure
 * is logged (the call returned already, as with a mode set after an upload).
 * What a crash loses is a time or a mode, never content.
 *
 * Locking: q->lock guards the table, `sending` and `stop`; no I/O under it
 * (what is due is taken out of the table first, and a later change for the
 * same file waits for that send to end, so the older never lands last).  A
 * pending entry pins its inode (itab_pin()): a listing does not replace the
 * time we showed, and the path still resolves when it is sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "fs_internal.h"
#include "ftpsfs/ftp_learned.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"

#define ATTRQ_YOUNG_MS 2000
#define ATTRQ_DELAY_MS 1000
#define ATTRQ_MAX      4096 /* young files remembered at once */

struct attrq_entry {
	uint64_t ino;
	int64_t young_until_ms; /* deferrals taken until then */
	int64_t due_ms;		/* pending: sent by then; 0 = nothing */
	struct ftp_attrs a;
	UT_hash_handle hh;
};

struct fs_attrq {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a new due time, or stop */
	pthread_cond_t sent; /* the thread's send of `sending` ended */
	uint64_t sending;    /* the inode the thread sends for, or 0 */
	pthread_t thread;
	bool started, stop;
	struct attrq_entry *map;
	unsigned count;
};

int fs_attrq_new(struct fs_ctx *ctx)
{
	struct fs_attrq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&q->sent, NULL);
	ctx->attrq = q;
	return 0;
}

static bool attrq_pending(const struct attrq_entry *e)
{
	return e->a.set_mtime || e->a.set_mode;
}

/* A change for @ino waits until what the thread is sending for it has
 * landed: the older must not arrive after the newer (q->lock held). */
static void attrq_wait_sent(struct fs_attrq *q, uint64_t ino)
{
	while (q->sending == ino)
		pthread_cond_wait(&q->sent, &q->lock);
}

/* Out of the table (q->lock held); the caller frees it. */
static void attrq_remove(struct fs_ctx *ctx, struct attrq_entry *e)
{
	HASH_DEL(ctx->attrq->map, e);
	ctx->attrq->count--;
	if (attrq_pending(e))
		itab_pin(ctx->itab, e->ino, false);
}

struct attrq_send_op {
	const char *path;
	const struct ftp_attrs *a;
};

static int attrq_send_fn(struct ftp_conn *c, void *arg)
{
	struct attrq_send_op *op = arg;

	return ftp_op_set_attrs(c, op->path, op->a);
}

void fs_attrq_send(struct fs_ctx *ctx, uint64_t ino, const struct ftp_attrs *a)
{
	char path[FS_PATH_MAX];
	struct attrq_send_op op = { path, a };
	int ret = itab_path(ctx->itab, ino, path, sizeof(path));

	if (ret == -ESTALE) {
		log_debug("inode %" PRIu64 " removed before its time or mode "
			  "was sent: nothing to set",
			  ino);
		return;
	}
	if (ret == 0)
		ret = fs_with_conn(ctx, attrq_send_fn, &op);
	if (ret < 0)
		log_warn("%s: cannot set its time or mode: %s", path,
			 strerror(-ret));
}

static void *attrq_thread(void *arg)
{
	struct fs_ctx *ctx = arg;
	struct fs_attrq *q = ctx->attrq;

	pthread_mutex_lock(&q->lock);
	while (!q->stop) {
		int64_t now = net_now_ms(), next = now + ATTRQ_YOUNG_MS;
		struct attrq_entry *e, *tmp, *due = NULL;
		struct timespec ts;

		HASH_ITER(hh, q->map, e, tmp)
		{
			if (e->due_ms && e->due_ms <= now) {
				due = e;
				break;
			}
			if (!e->due_ms && e->young_until_ms <= now) {
				attrq_remove(ctx, e);
				free(e);
			} else if (e->due_ms && e->due_ms < next) {
				next = e->due_ms;
			}
		}
		if (due) {
			attrq_remove(ctx, due);
			q->sending = due->ino;
			pthread_mutex_unlock(&q->lock);
			fs_attrq_send(ctx, due->ino, &due->a);
			pthread_mutex_lock(&q->lock);
			q->sending = 0;
			pthread_cond_broadcast(&q->sent);
			free(due);
			continue;
		}
		ts.tv_sec = (time_t)(next / 1000);
		ts.tv_nsec = (long)(next % 1000) * 1000000L;
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

bool fs_attrq_created(struct fs_ctx *ctx, uint64_t ino, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct fs_attrq *q = ctx->attrq;
	struct attrq_entry *e = NULL;

	/* Only a temporary by its name: others are done when the tool
	 * that set their time or mode returns. */
	if (!q || base[0] != '.')
		return false;
	pthread_mutex_lock(&q->lock);
	if (!q->stop && !q->started)
		q->started = pthread_create(&q->thread, NULL, attrq_thread,
					    ctx) == 0;
	HASH_FIND(hh, q->map, &ino, sizeof(ino), e);
	if (!e && q->started && q->count < ATTRQ_MAX &&
	    (e = calloc(1, sizeof(*e)))) {
		e->ino = ino;
		HASH_ADD(hh, q->map, ino, sizeof(e->ino), e);
		q->count++;
	}
	if (e)
		e->young_until_ms = net_now_ms() + ATTRQ_YOUNG_MS;
	pthread_mutex_unlock(&q->lock);
	return e != NULL;
}

bool fs_attrq_defer(struct fs_ctx *ctx, uint64_t ino, const mode_t *mode,
		    const int64_t *mtime)
{
	enum ftp_mtime_method m = ftp_learned_mtime_method(ctx->pool);
	struct fs_attrq *q = ctx->attrq;
	struct attrq_entry *e = NULL;
	int64_t now = net_now_ms();

	/* A time only where the way to set one is known: its refusal
	 * would have to reach the caller. */
	if (!q || (mtime && (m == FTP_MTIME_UNKNOWN || m == FTP_MTIME_NONE)))
		return false;
	pthread_mutex_lock(&q->lock);
	attrq_wait_sent(q, ino);
	HASH_FIND(hh, q->map, &ino, sizeof(ino), e);
	if (!e || q->stop || (!e->due_ms && e->young_until_ms <= now)) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	/* (not pinned, no memory: not queued, the caller sends it now) */
	if (!attrq_pending(e) && itab_pin(ctx->itab, ino, true) < 0) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	if (mode) {
		e->a.set_mode = true;
		e->a.mode = *mode & 07777;
	}
	if (mtime) {
		e->a.set_mtime = true;
		e->a.mtime = *mtime;
		e->a.method = m;
	}
	if (!e->due_ms) {
		e->due_ms = now + ATTRQ_DELAY_MS;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return true;
}

bool fs_attrq_take(struct fs_ctx *ctx, uint64_t ino, struct ftp_attrs *out)
{
	struct fs_attrq *q = ctx->attrq;
	struct attrq_entry *e = NULL;
	bool pending = false;

	if (!q)
		return false;
	pthread_mutex_lock(&q->lock);
	attrq_wait_sent(q, ino);
	HASH_FIND(hh, q->map, &ino, sizeof(ino), e);
	if (e) {
		pending = attrq_pending(e);
		*out = e->a;
		attrq_remove(ctx, e);
		free(e);
	}
	pthread_mutex_unlock(&q->lock);
	return pending;
}

void fs_attrq_flush(struct fs_ctx *ctx, uint64_t ino)
{
	struct ftp_attrs a;

	if (fs_attrq_take(ctx, ino, &a))
		fs_attrq_send(ctx, ino, &a);
}

void fs_attrq_forget(struct fs_ctx *ctx, uint64_t ino)
{
	struct ftp_attrs a;

	(void)fs_attrq_take(ctx, ino, &a);
}

void fs_attrq_stop(struct fs_ctx *ctx)
{
	struct fs_attrq *q = ctx->attrq;
	struct attrq_entry *e, *tmp;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (q->started)
		pthread_join(q->thread, NULL);
	/* What is still pending goes now, before the connections close. */
	HASH_ITER(hh, q->map, e, tmp)
	{
		bool pending = attrq_pending(e);

		attrq_remove(ctx, e);
		if (pending)
			fs_attrq_send(ctx, e->ino, &e->a);
		free(e);
	}
	pthread_cond_destroy(&q->cond);
	pthread_cond_destroy(&q->sent);
	pthread_mutex_destroy(&q->lock);
	free(q);
	ctx->attrq = NULL;
}
