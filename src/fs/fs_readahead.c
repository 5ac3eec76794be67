/*
 * fs_readahead.c - small files fetched ahead of their open, when a
 * reader goes through a directory file after file (readahead.h says
 * when).  The prefetch workers (fs_prefetch.c) do the fetching on idle
 * connections; reads take the bytes from memory.
 *
 * Never stale, never mixed: an entry records the size and mtime its
 * directory's listing gave when the fetch was decided; it is stored only
 * when the server confirmed the transfer (226 and close_notify:
 * ftp_xfer_finish()) with exactly that many bytes, and served only while
 * the inode's fresh attributes still say that size and mtime and no
 * write state exists for it.  Every local write goes through
 * fs_wfile_get(), which drops the entry (fs_readahead_forget()); a fetch
 * under way then finds its entry gone (tokens) and throws its bytes
 * away.  A decision reserves its entry before it looks for write state,
 * and fs_wfile_get() drops entries after it made its own: one of the two
 * sees the other.
 *
 * Locking: ra->lock guards the directories and the store; it is a leaf
 * (no I/O, no other lock taken under it, the inode table included).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "fs_wfile.h"
#include "ftpsfs/fs_prefetch.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/readahead.h"
#include "ftpsfs/stats.h"

#define RA_DIRS 4 /* directories whose opens are followed at once */
/* A directory's order is taken again from its listing this often (a
 * file added meanwhile is found at once: its name is not in the order). */
#define RA_ORDER_MS 2000
/* A read of a file whose fetch is under way waits this long for it (the
 * fetch started earlier: usually sooner done than a RETR of our own),
 * then reads from the server itself. */
#define RA_WAIT_MS 1000

struct ra_dir {
	uint64_t dir; /* 0: slot unused */
	struct ra_order *order;
	struct ra_pattern pat;
	int64_t built_ms, used_ms;
};

/* A file to fetch ahead. */
struct ra_next {
	char name[NAME_MAX + 1];
};

struct fs_readahead {
	pthread_mutex_t lock;
	pthread_cond_t settled; /* a fetch ended, or an entry was dropped */
	/* guarded by lock: */
	struct ra_dir dirs[RA_DIRS];
	struct ra_store store;
};

int fs_readahead_new(struct fs_readahead **out)
{
	struct fs_readahead *ra = calloc(1, sizeof(*ra));

	pthread_condattr_t ca;

	if (!ra)
		return -ENOMEM;
	pthread_mutex_init(&ra->lock, NULL);
	/* net_now_ms() is monotonic: so are the waits. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ra->settled, &ca);
	pthread_condattr_destroy(&ca);
	*out = ra;
	return 0;
}

void fs_readahead_free(struct fs_readahead *ra)
{
	if (!ra)
		return;
	ra_store_clear(&ra->store);
	for (size_t i = 0; i < RA_DIRS; i++)
		ra_order_free(ra->dirs[i].order);
	pthread_cond_destroy(&ra->settled);
	pthread_mutex_destroy(&ra->lock);
	free(ra);
}

/* Count the bytes the store dropped unserved.  (lock held) */
static void ra_drain_wasted(struct fs_readahead *ra)
{
	if (ra->store.wasted) {
		stats_add(STATS_READAHEAD_WASTED_BYTES, ra->store.wasted);
		ra->store.wasted = 0;
	}
}

/* The slot of @dir, or NULL.  (lock held) */
static struct ra_dir *ra_dir_find(struct fs_readahead *ra, uint64_t dir)
{
	for (size_t i = 0; i < RA_DIRS; i++)
		if (ra->dirs[i].dir == dir)
			return &ra->dirs[i];
	return NULL;
}

/* The order of @dir's names from its fresh listing.  Returns 0 or a
 * negative errno (-EAGAIN: no fresh listing). */
static int ra_order_of(struct fs_ctx *ctx, uint64_t dir,
		       struct ra_order **order)
{
	struct itab_snapshot *snap;
	const char **names;
	int ret = itab_snapshot(ctx->itab, dir, &snap);

	if (ret < 0)
		return ret;
	names = calloc(snap->n ? snap->n : 1, sizeof(*names));
	if (!names) {
		itab_snapshot_free(snap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < snap->n; i++)
		names[i] = snap->ents[i].name;
	ret = ra_order_new(names, snap->n, order);
	free(names);
	itab_snapshot_free(snap);
	return ret;
}

/* Install @order for @dir (a new pattern), replacing the least recently
 * used slot.  Takes @order.  (lock held) */
static struct ra_dir *ra_dir_install(struct fs_readahead *ra, uint64_t dir,
				     struct ra_order *order)
{
	struct ra_dir *d = ra_dir_find(ra, dir);
	struct ra_pattern pat = { 0 };

	if (!d) {
		d = &ra->dirs[0];
		for (size_t i = 1; i < RA_DIRS; i++)
			if (ra->dirs[i].used_ms < d->used_ms)
				d = &ra->dirs[i];
	} else if (d->pat.valid && d->pat.last < d->order->n) {
		/* The same directory listed again: the pattern goes on
		 * where the last open was, if that name is still there. */
		ssize_t i = ra_order_find(order, d->order->names[d->pat.last]);

		if (i >= 0) {
			pat = d->pat;
			pat.last = (size_t)i;
		}
	}
	ra_order_free(d->order);
	memset(d, 0, sizeof(*d));
	d->dir = dir;
	d->order = order;
	d->pat = pat;
	d->built_ms = net_now_ms();
	return d;
}

/*
 * Feed the open of the file @name in @dir to the pattern.  Returns the
 * number of files to fetch ahead (copied into @next), 0 if none.
 */
static size_t ra_note_open(struct fs_ctx *ctx, uint64_t dir, const char *name,
			   struct ra_next next[RA_WINDOW])
{
	struct fs_readahead *ra = ctx->readahead;
	struct ra_order *fresh = NULL;
	int64_t now = net_now_ms();
	struct ra_dir *d;
	size_t count = 0;
	ssize_t i;
	unsigned by;

	pthread_mutex_lock(&ra->lock);
	d = ra_dir_find(ra, dir);
	i = d && now - d->built_ms < RA_ORDER_MS ? ra_order_find(d->order, name)
						 : -1;
	pthread_mutex_unlock(&ra->lock);
	if (i < 0) {
		/* A directory not followed yet, an old order, or a name it
		 * lacks: take it from the listing. */
		if (ra_order_of(ctx, dir, &fresh) < 0)
			return 0;
		if (ra_order_find(fresh, name) < 0) {
			ra_order_free(fresh);
			return 0;
		}
	}
	pthread_mutex_lock(&ra->lock);
	if (fresh)
		d = ra_dir_install(ra, dir, fresh);
	else if (!(d = ra_dir_find(ra, dir)))
		goto out; /* replaced meanwhile: not worth a retry */
	i = ra_order_find(d->order, name);
	if (i < 0)
		goto out;
	d->used_ms = now;
	ra_store_expire(&ra->store, now);
	by = ra_pattern_opened(&d->pat, d->order, (size_t)i);
	if (!by) {
		ra_store_drop_unstarted(&ra->store, dir);
		goto out;
	}
	for (size_t k = 1; k <= RA_WINDOW; k++) {
		const char *n = ra_order_next(d->order, (size_t)i, by, k);

		if (!n)
			break;
		if (strlen(n) <= NAME_MAX)
			memcpy(next[count++].name, n, strlen(n) + 1);
	}
out:
	ra_drain_wasted(ra);
	pthread_mutex_unlock(&ra->lock);
	return count;
}

/* Decide to fetch @nx of @dir ahead, and queue it. */
static void ra_consider(struct fs_ctx *ctx, uint64_t dir,
			const struct ra_next *nx)
{
	struct fs_readahead *ra = ctx->readahead;
	struct fs_wfile *wf = NULL;
	uint64_t ino, token;
	struct stat st;
	bool exact;
	int ret;

	/* What the listing says (or the inode, if looked up already: as
	 * fresh or fresher): a small regular file. */
	if (itab_find_child(ctx->itab, dir, nx->name, &ino) == 0)
		ret = itab_getattr(ctx->itab, ino, &st);
	else
		ret = itab_listed(ctx->itab, dir, nx->name, &st, &exact);
	/* A LIST line's minute may become exact (MDTM, inode.h) before the
	 * file is read: then the copy no longer matches and is not used. */
	if (ret != 0 || !S_ISREG(st.st_mode) || st.st_size > RA_FILE_MAX)
		return;
	pthread_mutex_lock(&ra->lock);
	ret = ra_store_reserve(&ra->store, dir, nx->name, st.st_size,
			       &st.st_mtim, net_now_ms(), &token);
	ra_drain_wasted(ra);
	pthread_mutex_unlock(&ra->lock);
	if (ret < 0)
		return;
	/* Open for writing, written, or not on the server yet: not ours to
	 * guess.  Looked for after the reservation (see the top of this
	 * file); an inode made meanwhile has no write state before
	 * fs_wfile_get() drops the reservation. */
	if (itab_find_child(ctx->itab, dir, nx->name, &ino) == 0)
		wf = fs_wfile_find(ctx, ino);
	if (wf)
		fs_wfile_put(ctx, wf);
	if (wf || !fs_prefetch_file(ctx, dir, token)) {
		pthread_mutex_lock(&ra->lock);
		ra_store_cancel(&ra->store, token);
		pthread_mutex_unlock(&ra->lock);
	}
}

void fs_readahead_opened(struct fs_ctx *ctx, uint64_t ino)
{
	char name[NAME_MAX + 1];
	struct ra_next next[RA_WINDOW];
	uint64_t dir;
	size_t n;

	if (!ctx->readahead ||
	    itab_parent_name(ctx->itab, ino, &dir, name, sizeof(name)) < 0)
		return;
	n = ra_note_open(ctx, dir, name, next);
	/* Background work never makes a request wait for a connection: the
	 * workers fetch only on idle ones, and drop what waits too long for
	 * one (fs_prefetch.c). */
	for (size_t k = 0; k < n; k++)
		ra_consider(ctx, dir, &next[k]);
}

/* RETR @path into a new buffer of exactly @size bytes.  Returns 0 with
 * *out, or a negative errno (also when the server's file is longer or
 * shorter, or the end is not confirmed). */
static int ra_fetch(struct fs_ctx *ctx, const char *path, size_t size,
		    char **out)
{
	char err[512], *buf = malloc(size + 1);
	struct ftp_conn *c = NULL; /* ftp_pool_xfer_open(): none yet */
	struct ftp_xfer *x;
	size_t got = 0;
	ssize_t n = 1;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = ftp_pool_xfer_open(
		ctx->pool, FTP_POOL_XFER,
		&(struct ftp_xfer_cmd){ .verb = "RETR",
					.arg = path,
					.op = FTP_OP_RETR,
					.target_exists = true },
		&c, &x, err, sizeof(err));
	if (ret < 0) {
		log_debug("read-ahead RETR %s: %s", path, err);
		free(buf);
		return ret;
	}
	/* One byte more than the size: a longer file shows. */
	while (got <= size &&
	       (n = ftp_xfer_read(c, x, buf + got, size + 1 - got)) > 0)
		got += (size_t)n;
	if (n == 0) {
		ret = ftp_xfer_finish(c, x, FTP_OP_RETR);
		if (ret == 0 && got != size)
			ret = -EIO;
	} else {
		ftp_xfer_abort(c, x);
		ret = n < 0 ? (int)n : -EIO;
	}
	ftp_pool_release(ctx->pool, c);
	if (ret < 0) {
		log_debug("read-ahead RETR %s: not used (%d)", path, ret);
		free(buf);
		return ret;
	}
	*out = buf;
	return 0;
}

void fs_readahead_run(struct fs_ctx *ctx, uint64_t token)
{
	struct fs_readahead *ra = ctx->readahead;
	char path[FS_PATH_MAX], *data = NULL;
	struct ra_entry e;
	int ret;

	if (!ra)
		return;
	pthread_mutex_lock(&ra->lock);
	ret = ra_store_start(&ra->store, token, &e);
	pthread_mutex_unlock(&ra->lock);
	if (ret < 0)
		return; /* dropped meanwhile */
	ret = itab_child_path(ctx->itab, e.dir, e.name, path, sizeof(path));
	if (ret == 0)
		ret = ra_fetch(ctx, path, (size_t)e.size, &data);
	pthread_mutex_lock(&ra->lock);
	if (ret < 0)
		ra_store_cancel(&ra->store, token);
	else if (ra_store_fill(&ra->store, token, data, (size_t)e.size,
			       net_now_ms()) < 0)
		free(data);
	else
		stats_add(STATS_READAHEAD_FILES, 1);
	ra_drain_wasted(ra);
	pthread_cond_broadcast(&ra->settled);
	pthread_mutex_unlock(&ra->lock);
}

void fs_readahead_dropped(struct fs_ctx *ctx, uint64_t token)
{
	struct fs_readahead *ra = ctx->readahead;

	if (!ra)
		return;
	pthread_mutex_lock(&ra->lock);
	ra_store_cancel(&ra->store, token);
	pthread_mutex_unlock(&ra->lock);
}

/* If @name of @dir is being fetched, wait (RA_WAIT_MS at most) until
 * the fetch ended. */
static void ra_wait_fetch(struct fs_readahead *ra, uint64_t dir,
			  const char *name)
{
	int64_t until = net_now_ms() + RA_WAIT_MS;

	pthread_mutex_lock(&ra->lock);
	while (ra_store_fetching(&ra->store, dir, name) &&
	       net_now_ms() < until) {
		struct timespec ts = { .tv_sec = until / 1000,
				       .tv_nsec = (until % 1000) * 1000000 };

		pthread_cond_timedwait(&ra->settled, &ra->lock, &ts);
	}
	pthread_mutex_unlock(&ra->lock);
}

ssize_t fs_readahead_read(struct fs_ctx *ctx, uint64_t ino, char *buf,
			  size_t size, uint64_t off)
{
	struct fs_readahead *ra = ctx->readahead;
	char name[NAME_MAX + 1];
	struct stat st;
	uint64_t dir;
	bool first;
	ssize_t n;

	if (!ra ||
	    itab_parent_name(ctx->itab, ino, &dir, name, sizeof(name)) < 0)
		return -EAGAIN;
	ra_wait_fetch(ra, dir, name);
	/* The attributes as they are now, after the wait. */
	if (itab_getattr(ctx->itab, ino, &st) != 0)
		return -EAGAIN;
	pthread_mutex_lock(&ra->lock);
	ra_store_expire(&ra->store, net_now_ms());
	n = ra_store_read(&ra->store, dir, name, st.st_size, &st.st_mtim, buf,
			  size, off, &first);
	ra_drain_wasted(ra);
	pthread_mutex_unlock(&ra->lock);
	if (n < 0)
		return -EAGAIN;
	if (first)
		stats_add(STATS_READAHEAD_USED, 1);
	return n;
}

void fs_readahead_forget_name(struct fs_ctx *ctx, uint64_t dir,
			      const char *name)
{
	struct fs_readahead *ra = ctx->readahead;

	if (!ra)
		return;
	pthread_mutex_lock(&ra->lock);
	ra_store_drop(&ra->store, dir, name);
	ra_drain_wasted(ra);
	pthread_cond_broadcast(&ra->settled);
	pthread_mutex_unlock(&ra->lock);
}

void fs_readahead_forget(struct fs_ctx *ctx, uint64_t ino)
{
	char name[NAME_MAX + 1];
	uint64_t dir;

	if (ctx->readahead &&
	    itab_parent_name(ctx->itab, ino, &dir, name, sizeof(name)) == 0)
		fs_readahead_forget_name(ctx, dir, name);
}
