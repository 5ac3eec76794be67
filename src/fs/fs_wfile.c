/*
 * fs_wfile.c - per-inode write state: modes, the spool, and the entry
 * points of the write path.
 *
 * See fs_wfile.h for the modes, the error rule and the locking; streams
 * are fs_wstream.c's, the upload protocol (temporary names, verification,
 * commit) ftp_upload.h's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#include "fs_wfile_internal.h"
#include "ftpsfs/fs_pread.h"
#include "ftpsfs/fs_wback.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_upload.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/spool.h"
#include "ftpsfs/wb_journal.h"

#define WF_CHUNK (1024 * 1024)
/* Attempts at a spool upload or download cut by network faults, on a
 * soft mount (a hard one: fs_tries(), each waiting for the server). */
#define WF_TRIES 3
/* Uploads (and the download a change needs first) wait for a server that
 * is briefly away rather than failing at once: failing loses data. */
#define WF_UPLOAD_USE (FTP_POOL_XFER | FTP_POOL_PATIENT)

static int wf_tries(const struct fs_ctx *ctx)
{
	return ftp_pool_is_soft(ctx->pool) ? WF_TRIES : fs_tries(ctx);
}

/* ---- table ---- */

size_t fs_wfile_count(struct fs_ctx *ctx)
{
	size_t n;

	pthread_mutex_lock(&ctx->wfiles_lock);
	n = HASH_COUNT(ctx->wfiles);
	pthread_mutex_unlock(&ctx->wfiles_lock);
	return n;
}

int fs_wfile_get(struct fs_ctx *ctx, uint64_t ino, struct fs_wfile **out,
		 bool *fresh)
{
	struct fs_wfile *wf = NULL;

	pthread_mutex_lock(&ctx->wfiles_lock);
	HASH_FIND(hh, ctx->wfiles, &ino, sizeof(ino), wf);
	*fresh = !wf;
	if (!wf) {
		wf = calloc(1, sizeof(*wf));
		if (!wf) {
			pthread_mutex_unlock(&ctx->wfiles_lock);
			return -ENOMEM;
		}
		/* pinned before it is found: not unpinned unless pinned */
		if (itab_pin(ctx->itab, ino, true) < 0) {
			free(wf);
			pthread_mutex_unlock(&ctx->wfiles_lock);
			return -ENOMEM;
		}
		wf->ino = ino;
		wf->sp.fd = -1;
		pthread_mutex_init(&wf->lock, NULL);
		HASH_ADD(hh, ctx->wfiles, ino, sizeof(wf->ino), wf);
	}
	wf->refs++;
	pthread_mutex_unlock(&ctx->wfiles_lock);
	/* Whatever was fetched ahead is not what the file will hold (after
	 * the write state is in the table: fs_readahead.c). */
	fs_readahead_forget(ctx, ino);
	fs_pread_forget(ctx, ino);
	/* A time or mode still to send goes before what is written now. */
	if (*fresh)
		fs_attrq_flush(ctx, ino);
	*out = wf;
	return 0;
}

struct fs_wfile *fs_wfile_find(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_wfile *wf = NULL;

	pthread_mutex_lock(&ctx->wfiles_lock);
	HASH_FIND(hh, ctx->wfiles, &ino, sizeof(ino), wf);
	if (wf)
		wf->refs++;
	pthread_mutex_unlock(&ctx->wfiles_lock);
	return wf;
}

/* Is the caller's reference the last one (or none is left)? */
static bool wf_last_ref(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	bool last;

	pthread_mutex_lock(&ctx->wfiles_lock);
	last = wf->refs <= 1;
	pthread_mutex_unlock(&ctx->wfiles_lock);
	return last;
}

/* Whether the server has the file; a file only we know is kept in the
 * listings of its directory until it has. */
static void wf_set_remote_exists(struct fs_ctx *ctx, struct fs_wfile *wf,
				 bool exists)
{
	wf->remote_exists = exists;
	if (wf->ino) /* 0: a replayed upload (fs_wfile_upload_fd()) */
		itab_set_local_only(ctx->itab, wf->ino,
				    !exists && !wf->discarded);
}

void fs_wfile_init_empty(struct fs_ctx *ctx, struct fs_wfile *wf,
			 bool remote_exists, uint64_t remote_size,
			 mode_t create_mode)
{
	wf->mode = WF_STREAM;
	wf->appending = false;
	wf_set_remote_exists(ctx, wf, remote_exists);
	wf->remote_size = remote_exists ? remote_size : 0;
	wf->size = 0;
	wf->create_mode = create_mode & 07777;
	/* Servers create files with their own umask (vsftpd's default is
	 * 077): the mode the program asked for is set after the upload. */
	wf->chmod_pending = !remote_exists;
	wf->created = !remote_exists;
}

void fs_wfile_init_existing(struct fs_wfile *wf, uint64_t size)
{
	wf->mode = WF_IDLE;
	wf->remote_exists = true;
	wf->remote_size = size;
	wf->size = size;
}

bool fs_wfile_defer_chmod(struct fs_ctx *ctx, struct fs_wfile *wf, mode_t mode)
{
	bool deferred;

	pthread_mutex_lock(&wf->lock);
	/*
	 * Not on the server yet: the upload creates it.  Taking away the
	 * owner's write permission while the file is open for writing
	 * would make the server refuse the upload of what is still to
	 * come (local file systems check permissions at open only).
	 */
	deferred = !wf->discarded && (!wf->remote_exists || !(mode & S_IWUSR));
	wf->chmod_pending = deferred;
	if (deferred)
		wf->create_mode = mode & 07777;
	/* A pending upload's record says which mode follows it, also after
	 * a crash (the replay sets it). */
	if (wf->wb_journaled)
		wf_wb_save_mode(ctx, wf);
	pthread_mutex_unlock(&wf->lock);
	return deferred;
}

/* ---- helpers ---- */

/* Our content's size and "modified now" into the cache. */
static void wf_update_attr(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	struct stat st;

	if (itab_getattr(ctx->itab, wf->ino, &st) == -ESTALE)
		return;
	st.st_size = (off_t)wf->size;
	st.st_blocks = (blkcnt_t)(wf->size / 512 + (wf->size % 512 != 0));
	clock_gettime(CLOCK_REALTIME, &st.st_mtim);
	st.st_ctim = st.st_mtim;
	itab_set_attr(ctx->itab, wf->ino, &st, NULL, ITAB_FORCE);
}

static unsigned wf_upload_flags(const struct fs_ctx *ctx)
{
	return (ctx->atomic_upload ? FTP_UPLOAD_ATOMIC : 0) |
	       (ctx->verify ? FTP_UPLOAD_VERIFY : 0);
}

/* Does the spool hold content the server lacks? */
bool wf_spool_unsent(const struct fs_ctx *ctx, const struct fs_wfile *wf)
{
	return wf->mode == WF_SPOOL &&
	       upload_plan(&wf->sp, wf->remote_exists, ctx->feat.rest_stream,
			   ctx->atomic_upload)
			       .how != UPLOAD_NONE;
}

/* ---- streams ---- */

/* Bring a stream to its end: after this the server has our content (or
 * wf->error says why not).  Mode becomes IDLE. */
static int wf_stream_end(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	int ret = 0;

	if (!wf->ws.active) /* nothing written: the empty file */
		ret = fs_wstream_begin(ctx, &wf->ws, wf->ino, wf->appending,
				       wf->remote_size, ctx->atomic_upload);
	if (ret == 0)
		ret = fs_wstream_end(ctx, &wf->ws, wf->ino);
	wf->mode = WF_IDLE;
	if (ret < 0) {
		/* Without atomic_upload the server may hold a part. */
		wf->failed = true;
		wf->error = ret;
		return ret;
	}
	wf_set_remote_exists(ctx, wf, true);
	wf->remote_size = wf->size;
	return 0;
}

static int wf_stream_write(struct fs_ctx *ctx, struct fs_wfile *wf,
			   const char *buf, size_t len)
{
	int ret = 0;

	if (!wf->ws.active)
		ret = fs_wstream_begin(ctx, &wf->ws, wf->ino, wf->appending,
				       wf->remote_size, ctx->atomic_upload);
	if (ret == 0)
		ret = fs_wstream_write(ctx, &wf->ws, wf->ino, buf, len);
	if (ret < 0) {
		/* The stream is over; this write reports why, every later
		 * one fails. */
		wf->mode = WF_IDLE;
		wf->failed = true;
		wf->error = 0;
		return ret;
	}
	wf->size += len;
	return 0;
}

/* ---- spools ---- */

/* Copy the server's file into the spool; a cut transfer goes on where
 * it stopped (REST). */
static int wf_download(struct fs_ctx *ctx, struct fs_wfile *wf,
		       const char *path)
{
	char *buf = malloc(WF_CHUNK), err[512];
	struct ftp_conn *c = NULL;
	struct ftp_xfer *x = NULL;
	int tries = wf_tries(ctx);
	uint64_t got = 0;
	int ret = -ENOMEM;

	for (int attempt = 0; buf && attempt < tries; attempt++) {
		ret = ftp_pool_xfer_open(
			ctx->pool, WF_UPLOAD_USE,
			&(struct ftp_xfer_cmd){ .verb = "RETR",
						.arg = path,
						.rest = got,
						.op = FTP_OP_RETR,
						.target_exists = true },
			&c, &x, err, sizeof(err));
		if (ret < 0) {
			log_warn("RETR %s: %s", path, err);
			break;
		}
		for (;;) {
			ssize_t n = ftp_xfer_read(c, x, buf, WF_CHUNK);

			if (n == 0) {
				ret = ftp_xfer_finish(c, x, FTP_OP_RETR);
				break;
			}
			ret = n < 0 ? (int)n
				    : spool_fill(&wf->sp, buf, (size_t)n, got);
			if (ret < 0) {
				ftp_xfer_abort(c, x);
				break;
			}
			got += (uint64_t)n;
		}
		if (ret < 0 && ftp_conn_err(c)[0])
			log_warn("RETR %s: %s", path, ftp_conn_err(c));
		ftp_pool_release(ctx->pool, c);
		c = NULL;
		if (ret == 0 || !ftp_errno_transient(ret))
			break;
	}
	free(buf);
	return ret;
}

/* Enter SPOOL mode with our current content in the spool. */
int wf_to_spool(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	char path[FS_PATH_MAX];
	int ret;

	if (wf->mode == WF_SPOOL)
		return 0;
	if (wf->mode == WF_STREAM && wf->ws.active) {
		ret = wf_stream_end(ctx, wf);
		if (ret < 0)
			return ret;
	}
	ret = spool_open(ctx->spool_dir,
			 wf->remote_exists ? wf->remote_size : 0, &wf->sp);
	if (ret < 0) {
		log_err("cannot create a spool file in %s: %s", ctx->spool_dir,
			strerror(-ret));
		return ret;
	}
	if (wf->mode == WF_IDLE && wf->remote_exists && wf->remote_size > 0 &&
	    !wf->discarded) {
		/* Our content is the server's: copy it in. */
		ret = itab_path(ctx->itab, wf->ino, path, sizeof(path));
		if (ret == 0)
			ret = wf_download(ctx, wf, path);
		if (ret < 0) {
			spool_close(&wf->sp);
			return ret;
		}
		/* What RETR gave is what the server has. */
		wf->remote_size = wf->sp.size;
		spool_mark_clean(&wf->sp);
		wf->size = wf->sp.size;
	}
	/* From a pending stream the content is empty: the spool already
	 * says the server's bytes differ from 0 on. */
	wf->mode = WF_SPOOL;
	return 0;
}

/* Send spool bytes [from, size) on an open upload. */
static int wf_send_spool(struct fs_wfile *wf, struct ftp_conn *c,
			 struct ftp_xfer *x, uint64_t from)
{
	char *buf = malloc(WF_CHUNK);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (from < wf->sp.size) {
		ssize_t n = spool_pread(&wf->sp, buf, WF_CHUNK, from);

		if (n <= 0) {
			ret = n < 0 ? (int)n : -EIO;
			break;
		}
		ret = ftp_xfer_write(c, x, buf, (size_t)n);
		if (ret < 0)
			break;
		from += (uint64_t)n;
	}
	free(buf);
	return ret;
}

/* The spool holds the whole content: its digest is the file's, however
 * little of it is sent. */
static int wf_digest_spool(struct fs_wfile *wf, struct ftp_upload *up)
{
	char *buf = malloc(WF_CHUNK);
	uint64_t off = 0;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (off < wf->sp.size) {
		ssize_t n = spool_pread(&wf->sp, buf, WF_CHUNK, off);

		if (n <= 0) {
			ret = n < 0 ? (int)n : -EIO;
			break;
		}
		ftp_upload_digest(up, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	return ret;
}

int wf_upload_plan(struct fs_ctx *ctx, struct fs_wfile *wf, const char *path,
		   struct upload_plan plan)
{
	char err[512];
	struct ftp_upload up;
	struct ftp_conn *c = NULL;
	struct ftp_xfer *x;
	int ret, sret;

	ret = ftp_upload_begin(&up, path, wf_upload_flags(ctx),
			       ctx->feat.hash_algos);
	if (ret == 0 && ctx->verify)
		ret = wf_digest_spool(wf, &up);
	if (ret == 0)
		ret = ftp_pool_upload_begin(ctx->pool, wf->ino);
	if (ret < 0) {
		ftp_upload_end(&up);
		return ret;
	}
	ret = ftp_pool_xfer_open(
		ctx->pool, WF_UPLOAD_USE,
		&(struct ftp_xfer_cmd){
			.verb = plan.how == UPLOAD_APPE ? "APPE" : "STOR",
			.arg = ftp_upload_target(&up),
			.rest = plan.how == UPLOAD_REST_STOR ? plan.offset : 0,
			.op = FTP_OP_STOR },
		&c, &x, err, sizeof(err));
	if (ret < 0) {
		log_warn("upload of %s: %s", path, err);
		ftp_upload_end(&up);
		goto out;
	}
	sret = wf_send_spool(wf, c, x, plan.offset);
	ret = ftp_xfer_finish_upload(c, x, FTP_OP_STOR);
	if (ret == 0)
		ret = sret;
	if (ret == 0)
		ret = fs_upload_commit(ctx, &c, &up, wf->sp.size);
	else
		ftp_upload_abandon(c, &up);
	if (ret < 0 && c)
		log_warn("upload of %s: %s", path, ftp_conn_err(c));
	if (c)
		ftp_pool_release(ctx->pool, c);
out:
	ftp_pool_upload_end(ctx->pool, wf->ino);
	return ret;
}

/* Upload what the spool holds that the server lacks to @path (NULL: the
 * inode's own path); *sent says whether anything was sent. */
int wf_spool_upload(struct fs_ctx *ctx, struct fs_wfile *wf, const char *path,
		    bool *sent)
{
	struct upload_plan plan =
		upload_plan(&wf->sp, wf->remote_exists, ctx->feat.rest_stream,
			    ctx->atomic_upload);
	char own[FS_PATH_MAX];
	int tries = wf_tries(ctx);
	int ret = 0;

	*sent = false;
	if (!path && plan.how != UPLOAD_NONE) {
		ret = itab_path(ctx->itab, wf->ino, own, sizeof(own));
		if (ret < 0)
			return ret;
		path = own;
	}
	for (int attempt = 0; plan.how != UPLOAD_NONE; attempt++) {
		bool partial = plan.how != UPLOAD_STOR;

		ret = wf_upload_plan(ctx, wf, path, plan);
		if (ret == 0 || attempt + 1 == tries || net_op_expired())
			break;
		/* A refused APPE or REST (or anything but a full disk,
		 * quota or stall) gets one whole STOR; a cut upload is sent
		 * again, whole: the server may now hold a part. */
		if (!(partial && ret != -EDQUOT && ret != -ENOSPC &&
		      ret != -ETIMEDOUT) &&
		    !ftp_errno_transient(ret))
			break;
		plan.how = UPLOAD_STOR;
		plan.offset = 0;
	}
	if (ret < 0) {
		/* The spool still has everything: a later flush retries,
		 * whole, since the server may now hold a part. */
		wf->sp.changed_from = 0;
		wf_set_remote_exists(ctx, wf, true);
		wf->error = ret;
		return ret;
	}
	if (plan.how == UPLOAD_NONE)
		return 0;
	spool_mark_clean(&wf->sp);
	wf_set_remote_exists(ctx, wf, true);
	wf->remote_size = wf->size;
	*sent = true;
	return 0;
}

/* ---- operations ---- */

/* May the next write at @off start a stream from IDLE? */
static bool wf_can_stream_from_idle(struct fs_ctx *ctx, struct fs_wfile *wf,
				    uint64_t off)
{
	if (off != wf->size || ctx->atomic_upload)
		return false;
	if (wf->size == 0)
		return true; /* STOR of new content */
	return wf->remote_exists && wf->remote_size == wf->size; /* APPE */
}

int fs_wfile_write(struct fs_ctx *ctx, struct fs_wfile *wf, const char *buf,
		   size_t len, uint64_t off)
{
	int ret = 0;

	pthread_mutex_lock(&wf->lock);
	if (wf->failed) {
		ret = wf->error ? wf->error : -EIO;
		wf->error = 0;
		goto out;
	}
	/* Write-back keeps every byte local until close (fs_wback.h). */
	if (wf->mode == WF_IDLE && !wf->discarded && !ctx->wback &&
	    wf_can_stream_from_idle(ctx, wf, off)) {
		wf->mode = WF_STREAM;
		wf->appending = wf->size > 0;
	}
	if (wf->mode == WF_STREAM && !wf->discarded && !ctx->wback &&
	    off == wf->size) {
		ret = wf_stream_write(ctx, wf, buf, len);
		goto out;
	}
	ret = wf_to_spool(ctx, wf);
	if (ret == 0)
		ret = spool_pwrite(&wf->sp, buf, len, off);
	if (ret == 0)
		wf->size = wf->sp.size;
out:
	if (ret == 0) {
		wf_update_attr(ctx, wf);
		wf->wb.set_mtime = false; /* now is the time again */
	}
	pthread_mutex_unlock(&wf->lock);
	return ret;
}

ssize_t fs_wfile_read(struct fs_ctx *ctx, struct fs_wfile *wf, char *buf,
		      size_t len, uint64_t off)
{
	ssize_t ret = -EAGAIN;

	pthread_mutex_lock(&wf->lock);
	if (wf->mode == WF_SPOOL) {
		ret = spool_pread(&wf->sp, buf, len, off);
	} else if (wf->mode == WF_STREAM && !wf->ws.active) {
		ret = 0; /* new, empty content not yet sent */
	} else if (wf->mode == WF_STREAM) {
		/* Let the server have it all, then read it back from there. */
		ret = wf_stream_end(ctx, wf);
		if (ret == 0)
			ret = -EAGAIN;
	}
	pthread_mutex_unlock(&wf->lock);
	return ret;
}

int fs_wfile_truncate(struct fs_ctx *ctx, struct fs_wfile *wf, uint64_t size)
{
	int ret = 0;

	pthread_mutex_lock(&wf->lock);
	if (wf->failed) {
		ret = -EIO;
	} else if (size == 0) {
		/* Whatever was there: new, empty content to stream. */
		if (wf->mode == WF_STREAM && wf->ws.active)
			ret = wf_stream_end(ctx, wf);
		if (wf->mode == WF_SPOOL)
			spool_close(&wf->sp);
		if (ret == 0) {
			wf->mode = WF_STREAM;
			wf->appending = false;
			wf->size = 0;
		}
	} else if (size != wf->size) {
		ret = wf_to_spool(ctx, wf);
		if (ret == 0)
			ret = spool_truncate(&wf->sp, size);
		if (ret == 0)
			wf->size = size;
	}
	if (ret == 0) {
		wf_update_attr(ctx, wf);
		wf->wb.set_mtime = false; /* now is the time again */
	}
	pthread_mutex_unlock(&wf->lock);
	return ret;
}

struct wf_chmod_op {
	const char *path;
	mode_t mode;
	bool learn; /* ask what mode the server gave the new file */
	int was;    /* its answer, or -1 */
};

static int wf_chmod_fn(struct ftp_conn *c, void *arg)
{
	struct wf_chmod_op *op = arg;

	op->was = -1;
	if (op->learn)
		return ftp_op_chmod_learn(c, op->path, op->mode, &op->was);
	return ftp_op_chmod(c, op->path, op->mode);
}

#define WF_NEWMODE_MISSES 3

/* A file we created, still with the mode the server gave it, where the
 * server is known to give new files @wf->create_mode: nothing to send
 * (fs_newmode.c). */
static bool wf_mode_is_servers(struct fs_ctx *ctx, struct fs_wfile *wf,
			       const char *path)
{
	if (!wf->created || fs_newmode_get(ctx, path) != (int)wf->create_mode)
		return false;
	log_debug("%s: the server gives new files here mode %04o: no SITE "
		  "CHMOD",
		  path, (unsigned)wf->create_mode);
	return true;
}

/* The mode that waited for the upload, once no writer is left to need
 * the old one (see fs_wfile_defer_chmod()). */
void wf_apply_chmod(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	char path[FS_PATH_MAX];
	struct wf_chmod_op op = { path, wf->create_mode, false, -1 };
	int ret;

	if (!wf->chmod_pending || !wf->remote_exists || !wf_last_ref(ctx, wf) ||
	    itab_path(ctx->itab, wf->ino, path, sizeof(path)) < 0)
		return;
	wf->chmod_pending = false;
	if (wf_mode_is_servers(ctx, wf, path)) {
		fs_attrq_created(ctx, wf->ino, path);
		return;
	}
	/* A temporary (rsync's .name.XXXXXX) where SITE CHMOD is known to
	 * work: its mode rides with its rename, as what is set next does.
	 * (The server's own mode held it all through the upload anyway.) */
	if (wf->created && fs_newmode_get(ctx, path) >= 0 &&
	    fs_attrq_created(ctx, wf->ino, path) &&
	    fs_attrq_defer(ctx, wf->ino, &op.mode, NULL)) {
		wf->created = false;
		return;
	}
	op.learn = wf->created && fs_newmode_get(ctx, path) < 0 &&
		   atomic_load(&ctx->new_mode_misses) < WF_NEWMODE_MISSES;
	/* Once more on a fresh connection if this one was dead. */
	ret = fs_with_conn(ctx, wf_chmod_fn, &op);
	if (ret < 0)
		log_warn("%s: cannot set mode %04o: %s", path,
			 (unsigned)wf->create_mode, strerror(-ret));
	if (op.learn && op.was < 0)
		atomic_fetch_add(&ctx->new_mode_misses, 1);
	else if (op.learn)
		fs_newmode_set(ctx, path, op.was);
	if (ret == 0 && wf->created)
		fs_attrq_created(ctx, wf->ino, path);
	wf->created = false; /* the server's mode is ours now */
}

/* The time utimens asked for, on the server (a failure is logged: the
 * content is there). */
void wf_set_mtime(struct fs_ctx *ctx, const char *path, int64_t sec)
{
	int ret = fs_set_remote_mtime(ctx, path, sec, false);

	if (ret < 0)
		log_warn("%s: cannot set the time: %s", path, strerror(-ret));
}

/* A time deferred by fs_wfile_defer_mtime(), once the content is up. */
void wf_apply_mtime(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	char path[FS_PATH_MAX];
	struct stat st;

	if (!wf->wb.set_mtime ||
	    itab_path(ctx->itab, wf->ino, path, sizeof(path)) < 0)
		return;
	wf->wb.set_mtime = false;
	wf_set_mtime(ctx, path, wf->wb.mtime);
	if (itab_getattr(ctx->itab, wf->ino, &st) == -ESTALE)
		return;
	/* FTP keeps whole seconds. */
	st.st_mtim.tv_sec = (time_t)wf->wb.mtime;
	st.st_mtim.tv_nsec = 0;
	itab_set_attr(ctx->itab, wf->ino, &st, NULL,
		      ITAB_FORCE | ITAB_EXACT_MTIME);
}

int wf_flush_locked(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	bool sent = false;
	int ret = 0;

	if (wf->discarded || wf->failed)
		goto report;
	if (wf->mode == WF_STREAM) {
		ret = wf_stream_end(ctx, wf);
		sent = ret == 0;
	} else if (wf->mode == WF_SPOOL) {
		ret = wf_spool_upload(ctx, wf, NULL, &sent);
	}
	if (ret == 0)
		wf_apply_chmod(ctx, wf);
	/* The server has it: the write-back record has done its job, once
	 * the mode is set too.  A mode that waits for the last close keeps
	 * it: a crash before then leaves the file with the server's umask,
	 * unless the replay uploads it again and sets the mode. */
	if (ret == 0 && wf->wb_journaled && !wf->chmod_pending)
		wf_wb_forget(ctx, wf);
	/* Only an upload makes the server's time "now": a close with nothing
	 * to send (also the kernel's late RELEASE after a utimens) must not
	 * undo a time set meanwhile. */
	if (sent)
		wf_update_attr(ctx, wf);
	if (ret == 0)
		wf_apply_mtime(ctx, wf);
report:
	/* Each failure is reported once; a failed stream keeps failing. */
	ret = wf->error ? wf->error : (wf->failed ? -EIO : 0);
	wf->error = 0;
	return ret;
}

int fs_wfile_flush(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	int ret;

	pthread_mutex_lock(&wf->lock);
	ret = wf_flush_locked(ctx, wf);
	pthread_mutex_unlock(&wf->lock);
	return ret;
}

bool fs_wfile_discard(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	bool on_server;

	pthread_mutex_lock(&wf->lock);
	wf->discarded = true;
	on_server = wf->remote_exists;
	if (wf->mode == WF_STREAM && wf->ws.active &&
	    fs_wstream_abandon(ctx, &wf->ws, wf->ino))
		on_server = true;
	if (wf->mode == WF_STREAM)
		wf->mode = WF_IDLE;
	wf->chmod_pending = false;
	wf->error = 0;
	if (wf->wb_journaled)
		wf_wb_forget(ctx, wf);
	itab_set_local_only(ctx->itab, wf->ino, false);
	pthread_mutex_unlock(&wf->lock);
	return on_server;
}

/* The last close could not upload @wf (the file at @path): what the
 * user wrote stays in the spool directory under a name of its own,
 * rather than going with the spool file. */
static void wf_keep_spool(struct fs_ctx *ctx, struct fs_wfile *wf,
			  const char *path)
{
	char kept[FS_PATH_MAX];
	int ret;

	if (wf->mode != WF_SPOOL || wf->sp.fd < 0 || wf->discarded ||
	    wf->sp.changed_from == SPOOL_CLEAN)
		return;
	ret = spool_keep(&wf->sp, ctx->spool_dir, path, kept, sizeof(kept));
	if (ret < 0)
		log_err("%s: could not keep the unsaved content in %s: %s",
			path, ctx->spool_dir, strerror(-ret));
	else
		log_err("%s: the unsaved content (%llu bytes) is kept in %s",
			path, (unsigned long long)wf->sp.size, kept);
}

void fs_wfile_put(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	char path[FS_PATH_MAX];
	bool last;
	int ret;

	pthread_mutex_lock(&ctx->wfiles_lock);
	last = --wf->refs == 0;
	if (last)
		HASH_DEL(ctx->wfiles, wf);
	pthread_mutex_unlock(&ctx->wfiles_lock);
	if (!last)
		return;
	if (wf->wb_journaled &&
	    (wf->mode != WF_SPOOL || wf_spool_unsent(ctx, wf))) {
		/* The queue gave up or the mount ends: the record stays for
		 * the next mount (fs_wback_replay()).  (Uploaded already, it
		 * waited for this last close to set the mode: below.) */
		log_err("%s: upload still pending; kept in %s as %s.data, "
			"uploaded at the next mount with this spool_dir",
			wf->wb.path, ctx->spool_dir, wf->wb.id);
		ret = 0;
	} else {
		ret = wf_flush_locked(ctx, wf);
	}
	if (ret < 0) {
		if (itab_path(ctx->itab, wf->ino, path, sizeof(path)) < 0)
			snprintf(path, sizeof(path), "inode %llu",
				 (unsigned long long)wf->ino);
		log_err("%s: changes not saved on the server: %s", path,
			strerror(-ret));
		wf_keep_spool(ctx, wf, path);
	}
	if (wf->ws.active)
		(void)fs_wstream_abandon(ctx, &wf->ws, wf->ino);
	spool_close(&wf->sp);
	itab_set_local_only(ctx->itab, wf->ino, false);
	itab_pin(ctx->itab, wf->ino, false);
	pthread_mutex_destroy(&wf->lock);
	free(wf);
}

int fs_wfile_upload_fd(struct fs_ctx *ctx, const char *path, int fd,
		       uint64_t size, const struct wb_record *after)
{
	struct wf_chmod_op op = { path, (mode_t)after->mode, false, -1 };
	struct fs_wfile *wf = calloc(1, sizeof(*wf));
	bool sent;
	int ret;

	if (!wf)
		return -ENOMEM;
	pthread_mutex_init(&wf->lock, NULL);
	wf->mode = WF_SPOOL;
	wf->sp.fd = fd;
	wf->sp.size = wf->size = size;
	wf->sp.changed_from = 0; /* all of it, whatever the server has */
	ret = wf_spool_upload(ctx, wf, path, &sent);
	if (ret == 0 && after->set_mode) {
		int cret = fs_with_conn(ctx, wf_chmod_fn, &op);

		if (cret < 0)
			log_warn("%s: cannot set mode %04o: %s", path,
				 after->mode, strerror(-cret));
	}
	if (ret == 0 && after->set_mtime)
		wf_set_mtime(ctx, path, after->mtime);
	pthread_mutex_destroy(&wf->lock);
	free(wf);
	return ret;
}
