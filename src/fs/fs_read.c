/*
 * fs_read.c - open, read, release: streaming RETR with REST on jumps.
 *
 * A handle keeps one RETR stream while reads are sequential.  Between
 * reads the stream is parked in the pool (ftp_pool.h), so an idle open
 * file never holds a connection hostage.  A jump backwards, or forwards by
 * more than FS_READ_SKIP_MAX, restarts the transfer with REST offset
 * (RFC 3659 section 5); a short jump forwards reads and discards.  A big
 * file read on and on is fetched in parallel ranges instead (fs_pread.h).
 * Bytes handed to the kernel are always exactly those at the requested
 * offset: a stream that ends unconfirmed (no close_notify, no 226) is an
 * error, never a short file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "fs_wfile.h"
#include "ftpsfs/fs_pread.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"

#define FS_READ_SKIP_MAX (256 * 1024)

/* Give back a parked stream and the write state, free the handle. */
static void file_destroy(struct fs_handle *h)
{
	struct fs_file *f = (struct fs_file *)h;
	struct ftp_conn *c;
	struct ftp_xfer *x;

	fs_pread_release(f);
	/* Ended in the background: a release must not wait for the server's
	 * answer to ABOR. */
	if (f->lease && ftp_pool_unpark(f->ctx->pool, f->lease, &c, &x) == 1)
		ftp_pool_abandon(f->ctx->pool, c, x);
	if (f->wf)
		fs_wfile_put(f->ctx, f->wf);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int fs_file_new(struct fs_ctx *ctx, uint64_t ino, struct fs_file **out)
{
	struct fs_file *f = calloc(1, sizeof(*f));
	int ret;

	if (!f)
		return -ENOMEM;
	ret = itab_path(ctx->itab, ino, f->path, sizeof(f->path));
	if (ret < 0) {
		free(f);
		return ret;
	}
	pthread_mutex_init(&f->lock, NULL);
	f->ctx = ctx;
	f->ino = ino;
	fs_handle_track(ctx, &f->h, file_destroy);
	*out = f;
	return 0;
}

void fs_file_free(struct fs_file *f)
{
	fs_handle_untrack(f->ctx, &f->h);
	file_destroy(&f->h);
}

/* Opening for writing: join (or make) the inode's write state. */
static int open_for_write(struct fs_ctx *ctx, struct fs_file *f,
			  const struct stat *st, int flags)
{
	bool fresh;
	int ret;

	if (ctx->read_only)
		return -EROFS;
	ret = fs_wfile_get(ctx, f->ino, &f->wf, &fresh);
	if (ret < 0)
		return ret;
	if (fresh) {
		fs_wfile_init_existing(f->wf, (uint64_t)st->st_size);
		fs_wfile_wb_init(ctx, f->wf, true);
	}
	if (flags & O_TRUNC)
		ret = fs_wfile_truncate(ctx, f->wf, 0);
	return ret;
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY, known;
	struct fs_file *f;
	struct stat st;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	ret = fs_file_new(ctx, ino, &f);
	if (ret < 0) {
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	known = itab_getattr(ctx->itab, ino, &st) != -ESTALE;
	if (known && !S_ISREG(st.st_mode))
		ret = -EACCES; /* a device or fifo listed by the server */
	else if (writing)
		ret = open_for_write(ctx, f, &st, fi->flags);
	if (ret < 0) {
		fs_file_free(f);
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	/* Keep the page cache only if the file did not change. */
	fi->keep_cache = !writing && itab_open_keep_cache(ctx->itab, ino);
	fi->fh = (uintptr_t)f;
	if (fuse_reply_open(req, fi) != 0) {
		fs_file_free(f);
		return;
	}
	/* After the reply: the guess costs this open nothing. */
	if (!writing)
		fs_readahead_opened(ctx, ino);
	if (!writing && known)
		fs_pread_opened(ctx, (uint64_t)st.st_size);
}

/* State of one read() call: a connection and a stream, if any. */
struct read_io {
	struct ftp_conn *c;
	struct ftp_xfer *x;
	uint64_t pos;
};

/* Open RETR at @off (on io->c if there is one, else a pooled one). */
static int read_io_start(struct fs_ctx *ctx, struct fs_file *f,
			 struct read_io *io, uint64_t off)
{
	char err[512];
	int ret;

	/* The file may have been renamed since it was opened. */
	ret = itab_path(ctx->itab, f->ino, f->path, sizeof(f->path));
	if (ret < 0)
		return ret;
	ret = ftp_pool_xfer_open(
		ctx->pool, FTP_POOL_XFER,
		&(struct ftp_xfer_cmd){ .verb = "RETR",
					.arg = f->path,
					.rest = off,
					.op = FTP_OP_RETR,
					.target_exists = true },
		&io->c, &io->x, err, sizeof(err));
	if (ret < 0) {
		if (ret != -EINTR)
			log_warn("RETR %s: %s", f->path, err);
		io->x = NULL;
		return ret;
	}
	io->pos = off;
	return 0;
}

/* Bring the stream to @off: reuse, skip forward, or restart. */
static int read_io_seek(struct fs_ctx *ctx, struct fs_file *f,
			struct read_io *io, uint64_t off)
{
	char scratch[16384];

	if (io->x && off > io->pos && off - io->pos <= FS_READ_SKIP_MAX) {
		while (io->pos < off) {
			size_t want = off - io->pos < sizeof(scratch)
					      ? off - io->pos
					      : sizeof(scratch);
			ssize_t n = ftp_xfer_read(io->c, io->x, scratch, want);

			if (n <= 0)
				break;
			io->pos += (uint64_t)n;
		}
	}
	if (io->x && io->pos == off && !io->x->eof)
		return 0;
	if (io->x) {
		ftp_xfer_abort(io->c, io->x);
		io->x = NULL;
		if (ftp_conn_broken(io->c)) {
			ftp_pool_release(ctx->pool, io->c);
			io->c = NULL;
		}
	}
	return read_io_start(ctx, f, io, off);
}

/*
 * Fill @buf from @off.  Returns the byte count (short only at the end of
 * the file) or a negative errno.  A stream that breaks in the middle is
 * restarted at the current offset (REST): after a cut (a reset, a lost
 * connection) fs_tries() times in all, within op_timeout - while the
 * server is away each restart waits for it; after the server's own
 * failure reply once.
 */
static ssize_t read_fill(struct fs_ctx *ctx, struct fs_file *f,
			 struct read_io *io, char *buf, size_t size,
			 uint64_t off)
{
	int cuts = fs_tries(ctx) - 1, refusals = 1;
	size_t got = 0;

	while (got < size) {
		ssize_t n;
		bool cut;
		int ret = read_io_seek(ctx, f, io, off + got);

		if (ret < 0)
			return ret;
		n = ftp_xfer_read(io->c, io->x, buf + got, size - got);
		if (n > 0) {
			got += (size_t)n;
			io->pos += (uint64_t)n;
			continue;
		}
		if (n == 0) {
			struct ftp_xfer *x = io->x;

			io->x = NULL;
			ret = ftp_xfer_finish(io->c, x, FTP_OP_RETR);
			if (ret == 0)
				break; /* end of file */
			log_warn("RETR %s: %s", f->path, ftp_conn_err(io->c));
		} else {
			ret = (int)n;
			/* Interrupted: the caller hands the stream to the
			 * pool to end (ftp_pool_abandon()). */
			if (ret == -EINTR)
				return ret;
			log_warn("RETR %s: %s", f->path, ftp_conn_err(io->c));
			ftp_xfer_abort(io->c, io->x);
			io->x = NULL;
		}
		cut = ftp_errno_transient(ret) || ftp_conn_broken(io->c);
		ftp_pool_release(ctx->pool, io->c);
		io->c = NULL;
		/* A reset is worth another try from where we are; a stall
		 * already cost the whole timeout. */
		if (ret == -ETIMEDOUT || ret == -EINTR || net_op_expired() ||
		    (cut ? cuts-- : refusals--) <= 0)
			return ret;
	}
	return (ssize_t)got;
}

/*
 * The stream has given all of the file we know of: look for the server's
 * end of it now, so that the transfer is finished (226) instead of aborted
 * at close (ABOR and NOOP: another round trip), and its connection is free
 * at once.  Returns true when the stream ended cleanly (close_notify)
 * right at the file's size: every byte is here, so the kernel gets them
 * before the server's 226 is read (a round trip later; the caller reads
 * it then).  A file that grew meanwhile loses its stream (the next read
 * starts again at its offset).  An end without close_notify is finished
 * now; at the file's size it is not an error for the bytes already read
 * (docs/DESIGN.md 4), so the read keeps them.
 */
#define FS_READ_END_PEEK_MS 200

static bool read_io_at_end(struct fs_ctx *ctx, struct fs_file *f,
			   struct read_io *io)
{
	struct ftp_xfer *x = io->x;
	struct stat st;
	int ret;

	if (!x || itab_getattr(ctx->itab, f->ino, &st) == -ESTALE ||
	    io->pos != (uint64_t)st.st_size)
		return false;
	ret = ftp_xfer_peek_end(io->c, x, FS_READ_END_PEEK_MS);
	if (ret == 0)
		return false; /* not yet: park it as usual */
	if (ret == 1 && x->clean_eof)
		return true;
	io->x = NULL;
	if (ret != 1)
		ftp_xfer_abort(io->c, x);
	else if (ftp_xfer_finish(io->c, x, FTP_OP_RETR) < 0)
		log_debug("RETR %s: %s", f->path, ftp_conn_err(io->c));
	ftp_pool_release(ctx->pool, io->c);
	io->c = NULL;
	return false;
}

/* After the reply (the handle may be gone by now: only @c and @x are
 * ours): the 226 of a stream that ended at the file's end.  Without it the
 * bytes the kernel got are not to be kept beyond this open. */
static void read_io_finish_late(struct fs_ctx *ctx, fuse_ino_t ino,
				struct ftp_conn *c, struct ftp_xfer *x)
{
	int ret = ftp_xfer_finish(c, x, FTP_OP_RETR);

	if (ret < 0)
		log_warn("RETR: the server did not confirm a transfer that "
			 "ended cleanly at the file's size: %s",
			 ftp_conn_err(c));
	itab_data_unconfirmed(ctx->itab, ino,
			      ret < 0 ? ITAB_DATA_REFUSED
				      : ITAB_DATA_CONFIRMED);
	ftp_pool_release(ctx->pool, c);
}

/* What a read finds without the server: the pending writes of the file
 * (of any handle), which are part of what we read, or its copy fetched
 * ahead (fs_readahead.c).  Returns the byte count or a negative errno, or
 * -EAGAIN: ask the server. */
static ssize_t read_local(struct fs_ctx *ctx, struct fs_file *f, char *buf,
			  size_t size, off_t off)
{
	struct fs_wfile *wf = f->wf ? f->wf : fs_wfile_find(ctx, f->ino);
	ssize_t n;

	if (wf) {
		n = fs_wfile_read(ctx, wf, buf, size, (uint64_t)off);
		if (wf != f->wf)
			fs_wfile_put(ctx, wf);
		return n;
	}
	n = fs_readahead_read(ctx, f->ino, buf, size, (uint64_t)off);
	return n >= 0 ? n : -EAGAIN;
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct read_io io = { 0 };
	char *buf = malloc(size ? size : 1);
	struct ftp_conn *late_c = NULL;
	struct ftp_xfer *late_x = NULL;
	struct ftp_conn *given = NULL;
	bool at_end = false, ranges = false;
	struct fs_intr intr;
	ssize_t n;

	(void)ino;
	if (!buf) {
		fs_reply_err(req, ENOMEM);
		return;
	}
	n = read_local(ctx, f, buf, size, off);
	if (n != -EAGAIN)
		goto reply;
	pthread_mutex_lock(&f->lock);
	fs_intr_begin(req, &intr);
	/* Big files read on: parallel ranges (fs_pread.h). */
	n = fs_pread_read(ctx, f, buf, size, (uint64_t)off);
	if (n != -EAGAIN) {
		fs_intr_end(req, &intr);
		pthread_mutex_unlock(&f->lock);
		goto reply;
	}
	if (f->lease && ftp_pool_unpark(ctx->pool, f->lease, &io.c, &io.x) == 1)
		io.pos = f->pos;
	f->lease = 0;

	n = read_fill(ctx, f, &io, buf, size, (uint64_t)off);
	if (n >= 0)
		ranges = fs_pread_note(ctx, f, (uint64_t)off, (size_t)n);
	if (n >= 0 && !ranges)
		at_end = read_io_at_end(ctx, f, &io);
	/* Abort and resynchronise below without the interrupt flag. */
	fs_intr_end(req, &intr);

	if (at_end) {
		late_c = io.c;
		late_x = io.x;
		itab_data_unconfirmed(ctx->itab, ino, ITAB_DATA_SENT);
	} else if (n >= 0 && io.x && !ranges) {
		f->pos = io.pos;
		f->lease = ftp_pool_park(ctx->pool, io.c, io.x, f->ino);
	} else if (n >= 0 && io.x) {
		/* Ranges go on from here: the stream is ended here (ABOR,
		 * NOOP: a round trip; the reader waits for the first range
		 * anyway) and its connection given back before the ranges
		 * start, so that the first range finds it idle.  Abandoned,
		 * it waited for the pool's thread, which may be logging in
		 * a spare (0.5-1 s under load); given back to the pool, the
		 * first range's worker, racing the others for it, could
		 * lose and log in a new one (0.4 s).  So the first range
		 * gets it. */
		ftp_xfer_abort(io.c, io.x);
		if (ftp_conn_broken(io.c))
			ftp_pool_release(ctx->pool, io.c); /* closed */
		else
			given = io.c;
	} else if (io.x) {
		/* Interrupted in the middle of the stream: reply now, and
		 * let the pool put the connection back in step (ABOR, NOOP:
		 * up to five replies of `timeout` from a slow server). */
		ftp_pool_abandon(ctx->pool, io.c, io.x);
	} else if (io.c) {
		ftp_pool_release(ctx->pool, io.c);
	}
	if (ranges)
		fs_pread_begin(ctx, f, given);
	pthread_mutex_unlock(&f->lock);
reply:
	if (n < 0)
		fs_reply_err(req, -ftp_errno_kernel((int)n));
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
	if (late_x)
		read_io_finish_late(ctx, ino, late_c, late_x);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;

	(void)ino;
	fs_file_free(f);
	fs_reply_err(req, 0);
}
