/*
 * fs_wfile.c - per-inode write state: streams, spools and uploads.
 *
 * See fs_wfile.h for the modes, the error rule and the locking.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#include "fs_verify.h"
#include "fs_wfile.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/spool.h"

#define WF_CHUNK (1024 * 1024)

enum wf_mode { WF_IDLE, WF_STREAM, WF_SPOOL };

struct fs_wfile {
	uint64_t ino;
	unsigned refs;	   /* ctx->wfiles_lock */
	UT_hash_handle hh; /* ctx->wfiles_lock */
	pthread_mutex_t lock;
	enum wf_mode mode;
	bool remote_exists;
	uint64_t remote_size;
	uint64_t size;
	/* STREAM */
	bool appending;	   /* APPE at remote_size, else STOR from 0 */
	struct ftp_conn *c; /* while an operation drives the stream */
	struct ftp_xfer *x;
	uint64_t lease;	   /* the stream, parked in the pool between writes */
	bool paused;	   /* the pool ended the upload: go on with APPE */
	bool upload_held;  /* ftp_pool_upload_begin() done for the stream */
	char tmp_path[FS_PATH_MAX]; /* atomic_upload target, "" if none */
	struct fs_verify verify;    /* -o verify: digest of the stream */
	/* SPOOL */
	struct spool sp; /* sp.fd >= 0 in SPOOL mode */
	/* outcome */
	int error;	 /* not yet reported */
	bool failed;	 /* a stream failed: the server's content is unknown */
	bool discarded;	 /* deleted: nothing goes to the server any more */
	bool chmod_pending;
	mode_t create_mode;
};

/* ---- table ---- */

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
		wf->ino = ino;
		wf->sp.fd = -1;
		pthread_mutex_init(&wf->lock, NULL);
		HASH_ADD(hh, ctx->wfiles, ino, sizeof(wf->ino), wf);
		itab_pin(ctx->itab, ino, true);
	}
	wf->refs++;
	pthread_mutex_unlock(&ctx->wfiles_lock);
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

void fs_wfile_init_empty(struct fs_wfile *wf, bool remote_exists,
			 uint64_t remote_size, mode_t create_mode)
{
	wf->mode = WF_STREAM;
	wf->appending = false;
	wf->remote_exists = remote_exists;
	wf->remote_size = remote_exists ? remote_size : 0;
	wf->size = 0;
	wf->create_mode = create_mode & 07777;
	/* Servers create files with their own umask (vsftpd's default is
	 * 077): the mode the program asked for is set after the upload. */
	wf->chmod_pending = !remote_exists;
}

void fs_wfile_init_existing(struct fs_wfile *wf, uint64_t size)
{
	wf->mode = WF_IDLE;
	wf->remote_exists = true;
	wf->remote_size = size;
	wf->size = size;
}

bool fs_wfile_defer_chmod(struct fs_wfile *wf, mode_t mode)
{
	bool deferred;

	pthread_mutex_lock(&wf->lock);
	deferred = !wf->remote_exists && !wf->discarded;
	if (deferred) {
		wf->create_mode = mode & 07777;
		wf->chmod_pending = true;
	}
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
	st.st_blocks = (st.st_size + 511) / 512;
	clock_gettime(CLOCK_REALTIME, &st.st_mtim);
	st.st_ctim = st.st_mtim;
	itab_set_attr(ctx->itab, wf->ino, &st, NULL, ITAB_FORCE);
}

static int wf_acquire(struct fs_ctx *ctx, enum ftp_pool_use use,
		      struct ftp_conn **c)
{
	char err[512];
	int ret = ftp_pool_acquire(ctx->pool, use, c, err, sizeof(err));

	if (ret < 0)
		log_err("%s", err);
	return ret;
}

static void wf_release(struct fs_ctx *ctx, struct ftp_conn *c, int ret)
{
	if (ret < 0 && c->err[0])
		log_warn("%s", c->err);
	ftp_pool_release(ctx->pool, c);
}

/* "<dir>/.ftpsfs-tmp-<random>" next to @path, for atomic uploads. */
static int wf_make_tmp_path(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');
	unsigned char rnd[8];
	int dirlen = slash ? (int)(slash - path) : 0;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	if (snprintf(out, outsz, "%.*s/.ftpsfs-tmp-%02x%02x%02x%02x%02x%02x%02x%02x",
		     dirlen, path, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
		     rnd[5], rnd[6], rnd[7]) >= (int)outsz)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Atomic upload, second half: the temporary file must have exactly our
 * size (SIZE, RFC 3659 section 4) before it replaces the target; else it
 * is deleted and the target keeps its old content.  -o verify has checked
 * it already (@verified): no second SIZE.
 */
static int wf_commit_tmp(struct ftp_conn *c, const char *tmp,
			 const char *path, uint64_t size, bool verified)
{
	uint64_t got = size;
	int ret = verified ? 0 : ftp_op_size(c, tmp, &got);

	if (ret == 0 && got != size) {
		snprintf(c->err, sizeof(c->err),
			 "upload of %s incomplete: server has %llu of %llu bytes",
			 path, (unsigned long long)got, (unsigned long long)size);
		ret = -EIO;
	}
	if (ret == 0)
		ret = ftp_op_rename(c, tmp, path);
	if (ret < 0 && !c->broken)
		(void)ftp_op_delete(c, tmp);
	return ret;
}

/* ---- streams ---- */

/*
 * A stream is parked in the pool between writes (ftp_pool.h), so that
 * more files than the pool has connections can be written at once.  The
 * pool may end the upload to use the connection; the next write then goes
 * on with APPE to the same target.
 */
static bool wf_stream_started(const struct fs_wfile *wf)
{
	return wf->x || wf->lease || wf->paused;
}

/* While a stream runs, our own downloads of the file must not park (a
 * vsftpd lock would stall the upload: ftp_pool.h). */
static int wf_hold_upload(struct fs_ctx *ctx, struct fs_wfile *wf, bool on)
{
	int ret = 0;

	if (on && !wf->upload_held)
		ret = ftp_pool_upload_begin(ctx->pool, wf->ino);
	else if (!on && wf->upload_held)
		ftp_pool_upload_end(ctx->pool, wf->ino);
	if (ret == 0)
		wf->upload_held = on;
	return ret;
}

/* Delete the atomic upload's temporary file, if any (best effort). */
static void wf_drop_tmp(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	struct ftp_conn *c;

	if (!wf->tmp_path[0] || wf_acquire(ctx, FTP_POOL_META, &c) < 0)
		return;
	(void)ftp_op_delete(c, wf->tmp_path);
	ftp_pool_release(ctx->pool, c);
	wf->tmp_path[0] = '\0';
}

/* Take the stream back from the pool: then wf->c and wf->x drive it, or
 * it is paused; or the pool's ending of the upload failed (< 0). */
static int wf_stream_unpark(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	int ret;

	if (!wf->lease)
		return 0;
	ret = ftp_pool_unpark(ctx->pool, wf->lease, &wf->c, &wf->x);
	wf->lease = 0;
	if (ret == 1)
		return 0;
	wf->c = NULL;
	wf->x = NULL;
	if (ret < 0) {
		wf_drop_tmp(ctx, wf);
		return ret;
	}
	wf->paused = true;
	return 0;
}

static void wf_stream_park(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	uint64_t lease = ftp_pool_park_upload(ctx->pool, wf->c, wf->x,
					      FTP_OP_STOR);

	if (lease) { /* else we keep holding it */
		wf->lease = lease;
		wf->c = NULL;
		wf->x = NULL;
	}
}

static int wf_stream_start(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	char path[FS_PATH_MAX];
	const char *target = path;
	const char *verb = wf->appending ? "APPE" : "STOR";
	int ret = itab_path(ctx->itab, wf->ino, path, sizeof(path));

	if (ret < 0)
		return ret;
	ret = wf_hold_upload(ctx, wf, true);
	if (ret < 0)
		return ret;
	if (wf->paused) {
		/* Where the pool ended the upload: its end is ours. */
		verb = "APPE";
		if (wf->tmp_path[0])
			target = wf->tmp_path;
	} else {
		if (ctx->verify) {
			ret = fs_verify_start(ctx, &wf->verify);
			if (ret < 0)
				return ret;
			/* Appended to a start we never read. */
			if (wf->appending)
				fs_verify_size_only(&wf->verify);
		}
		wf->tmp_path[0] = '\0';
		if (ctx->atomic_upload && !wf->appending) {
			ret = wf_make_tmp_path(path, wf->tmp_path,
					       sizeof(wf->tmp_path));
			if (ret < 0)
				return ret;
			target = wf->tmp_path;
		}
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		ret = wf_acquire(ctx, FTP_POOL_XFER, &wf->c);
		if (ret < 0)
			return ret;
		ret = ftp_xfer_open(wf->c, verb, target, 0, FTP_OP_STOR, false,
				    &wf->x);
		if (ret == 0) {
			wf->paused = false;
			return 0;
		}
		/* A connection that died while idle (a network hiccup can
		 * take all idle ones at once): nothing is sent yet, so try
		 * a fresh one, twice at most. */
		bool again = wf->c->broken && attempt < 2;

		wf_release(ctx, wf->c, ret);
		wf->c = NULL;
		wf->x = NULL;
		if (!again)
			break;
	}
	return ret;
}

/* Bring a stream to its end: after this the server has our content (or
 * wf->error says why not).  Mode becomes IDLE. */
static int wf_stream_end(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	char path[FS_PATH_MAX];
	int ret = wf_stream_unpark(ctx, wf);

	if (ret == 0 && !wf->x && !wf->paused)
		ret = wf_stream_start(ctx, wf); /* nothing written: empty file */
	if (ret == 0 && wf->x)
		ret = ftp_xfer_finish_upload(wf->c, wf->x, FTP_OP_STOR);
	wf->x = NULL;
	wf->paused = false;
	if (ret == 0 && (wf->tmp_path[0] || ctx->verify) && !wf->c)
		ret = wf_acquire(ctx, FTP_POOL_META, &wf->c);
	if (ret == 0 && (wf->tmp_path[0] || ctx->verify))
		ret = itab_path(ctx->itab, wf->ino, path, sizeof(path));
	if (ret == 0 && ctx->verify)
		ret = fs_verify_check(&wf->verify, wf->c,
				      wf->tmp_path[0] ? wf->tmp_path : path,
				      wf->size);
	fs_verify_free(&wf->verify);
	if (ret == 0 && wf->tmp_path[0]) {
		ret = wf_commit_tmp(wf->c, wf->tmp_path, path, wf->size,
				    ctx->verify);
	} else if (ret < 0 && wf->tmp_path[0] && wf->c && !wf->c->broken) {
		(void)ftp_op_delete(wf->c, wf->tmp_path);
	}
	wf->tmp_path[0] = '\0';
	if (wf->c)
		wf_release(ctx, wf->c, ret);
	wf->c = NULL;
	(void)wf_hold_upload(ctx, wf, false);
	wf->mode = WF_IDLE;
	if (ret < 0) {
		/* Without atomic_upload the server may hold a part. */
		wf->failed = true;
		wf->error = ret;
		return ret;
	}
	wf->remote_exists = true;
	wf->remote_size = wf->size;
	return 0;
}

/* ---- spools ---- */

/* Copy the server's file into the spool. */
static int wf_download(struct fs_ctx *ctx, struct fs_wfile *wf,
		       const char *path)
{
	struct ftp_conn *c;
	struct ftp_xfer *x;
	char *buf = malloc(WF_CHUNK);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = wf_acquire(ctx, FTP_POOL_XFER, &c);
	if (ret < 0)
		goto out;
	ret = ftp_xfer_open(c, "RETR", path, 0, FTP_OP_RETR, true, &x);
	if (ret < 0) {
		wf_release(ctx, c, ret);
		goto out;
	}
	for (;;) {
		ssize_t n = ftp_xfer_read(c, x, buf, WF_CHUNK);

		if (n > 0)
			ret = spool_fill(&wf->sp, buf, (size_t)n, x->bytes - (uint64_t)n);
		if (n < 0 || ret < 0) {
			ftp_xfer_abort(c, x);
			ret = n < 0 ? (int)n : ret;
			break;
		}
		if (n == 0) {
			ret = ftp_xfer_finish(c, x, FTP_OP_RETR);
			break;
		}
	}
	wf_release(ctx, c, ret);
out:
	free(buf);
	return ret;
}

/* Enter SPOOL mode with our current content in the spool. */
static int wf_to_spool(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	char path[FS_PATH_MAX];
	int ret;

	if (wf->mode == WF_SPOOL)
		return 0;
	if (wf->mode == WF_STREAM && wf_stream_started(wf)) {
		ret = wf_stream_end(ctx, wf);
		if (ret < 0)
			return ret;
	}
	ret = spool_open(ctx->spool_dir, wf->remote_exists ? wf->remote_size : 0,
			 &wf->sp);
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

static int wf_upload_plan(struct fs_ctx *ctx, struct fs_wfile *wf,
			  struct upload_plan plan)
{
	char path[FS_PATH_MAX], tmp[FS_PATH_MAX];
	const char *target = path;
	struct fs_verify v = { 0 };
	struct ftp_conn *c;
	struct ftp_xfer *x;
	int ret, sret;

	ret = itab_path(ctx->itab, wf->ino, path, sizeof(path));
	if (ret < 0)
		return ret;
	if (ctx->atomic_upload) {
		ret = wf_make_tmp_path(path, tmp, sizeof(tmp));
		if (ret < 0)
			return ret;
		target = tmp;
	}
	if (ctx->verify) {
		/* The spool holds the whole content: its digest is the
		 * file's, however little is sent. */
		ret = fs_verify_start(ctx, &v);
		if (ret == 0)
			ret = fs_verify_spool(&v, &wf->sp);
		if (ret < 0) {
			fs_verify_free(&v);
			return ret;
		}
	}
	ret = ftp_pool_upload_begin(ctx->pool, wf->ino);
	if (ret == 0) {
		ret = wf_acquire(ctx, FTP_POOL_XFER, &c);
		if (ret < 0)
			ftp_pool_upload_end(ctx->pool, wf->ino);
	}
	if (ret < 0) {
		fs_verify_free(&v);
		return ret;
	}
	ret = ftp_xfer_open(c, plan.how == UPLOAD_APPE ? "APPE" : "STOR", target,
			    plan.how == UPLOAD_REST_STOR ? plan.offset : 0,
			    FTP_OP_STOR, false, &x);
	if (ret == 0) {
		sret = wf_send_spool(wf, c, x, plan.offset);
		ret = ftp_xfer_finish_upload(c, x, FTP_OP_STOR);
		if (ret == 0)
			ret = sret;
	}
	if (ret == 0 && ctx->verify)
		ret = fs_verify_check(&v, c, target, wf->sp.size);
	fs_verify_free(&v);
	if (ret == 0 && ctx->atomic_upload)
		ret = wf_commit_tmp(c, tmp, path, wf->sp.size, ctx->verify);
	else if (ret < 0 && ctx->atomic_upload && !c->broken)
		(void)ftp_op_delete(c, tmp);
	if (ret < 0)
		log_debug("upload of %s: %s", path, c->err);
	wf_release(ctx, c, ret);
	ftp_pool_upload_end(ctx->pool, wf->ino);
	return ret;
}

/* Upload what the spool holds that the server lacks: 1 if something was
 * sent, 0 if the server had it all. */
static int wf_spool_upload(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	struct upload_plan plan = upload_plan(&wf->sp, wf->remote_exists,
					      ctx->feat.rest_stream,
					      ctx->atomic_upload);
	int ret;

	if (plan.how == UPLOAD_NONE)
		return 0;
	ret = wf_upload_plan(ctx, wf, plan);
	if (ret < 0 && plan.how != UPLOAD_STOR && ret != -EDQUOT &&
	    ret != -ENOSPC && ret != -ETIMEDOUT) {
		/* APPE or REST refused (or cut): send it all. */
		plan.how = UPLOAD_STOR;
		plan.offset = 0;
		ret = wf_upload_plan(ctx, wf, plan);
	}
	if (ret < 0) {
		/* The spool still has everything: a later flush retries,
		 * whole, since the server may now hold a part. */
		wf->sp.changed_from = 0;
		wf->remote_exists = true;
		wf->error = ret;
		return ret;
	}
	spool_mark_clean(&wf->sp);
	wf->remote_exists = true;
	wf->remote_size = wf->size;
	return 1;
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
	if (wf->mode == WF_IDLE && !wf->discarded &&
	    wf_can_stream_from_idle(ctx, wf, off)) {
		wf->mode = WF_STREAM;
		wf->appending = wf->size > 0;
		wf->x = NULL;
	}
	if (wf->mode == WF_STREAM && !wf->discarded && off == wf->size) {
		ret = wf_stream_unpark(ctx, wf);
		if (ret == 0 && !wf->x)
			ret = wf_stream_start(ctx, wf);
		if (ret == 0)
			ret = ftp_xfer_write(wf->c, wf->x, buf, len);
		if (ret == 0)
			fs_verify_update(&wf->verify, buf, len);
		if (ret < 0) {
			int why = ret;

			/* The server's reply says why (quota, disk full);
			 * a temporary file goes. */
			if (wf->x)
				why = wf_stream_end(ctx, wf);
			else
				wf_drop_tmp(ctx, wf);
			(void)wf_hold_upload(ctx, wf, false);
			wf->paused = false;
			wf->mode = WF_IDLE;
			wf->failed = true;
			ret = why < 0 ? why : ret;
			wf->error = 0;
			goto out;
		}
		wf->size += len;
		wf_stream_park(ctx, wf);
		goto out;
	}
	ret = wf_to_spool(ctx, wf);
	if (ret == 0)
		ret = spool_pwrite(&wf->sp, buf, len, off);
	if (ret == 0)
		wf->size = wf->sp.size;
out:
	if (ret == 0)
		wf_update_attr(ctx, wf);
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
	} else if (wf->mode == WF_STREAM && !wf_stream_started(wf)) {
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
		if (wf->mode == WF_STREAM && wf_stream_started(wf))
			ret = wf_stream_end(ctx, wf);
		if (wf->mode == WF_SPOOL)
			spool_close(&wf->sp);
		if (ret == 0) {
			wf->mode = WF_STREAM;
			wf->appending = false;
			wf->x = NULL;
			wf->size = 0;
		}
	} else if (size != wf->size) {
		ret = wf_to_spool(ctx, wf);
		if (ret == 0)
			ret = spool_truncate(&wf->sp, size);
		if (ret == 0)
			wf->size = size;
	}
	if (ret == 0)
		wf_update_attr(ctx, wf);
	pthread_mutex_unlock(&wf->lock);
	return ret;
}

struct wf_chmod_op {
	const char *path;
	mode_t mode;
};

static int wf_chmod_fn(struct ftp_conn *c, void *arg)
{
	struct wf_chmod_op *op = arg;

	return ftp_op_chmod(c, op->path, op->mode);
}

static int wf_flush_locked(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	char path[FS_PATH_MAX];
	bool sent = false;
	int ret = 0;

	if (wf->discarded || wf->failed)
		goto report;
	if (wf->mode == WF_STREAM) {
		ret = wf_stream_end(ctx, wf);
		sent = ret == 0;
	} else if (wf->mode == WF_SPOOL) {
		ret = wf_spool_upload(ctx, wf);
		sent = ret == 1;
		if (ret > 0)
			ret = 0;
	}
	if (ret == 0 && wf->chmod_pending &&
	    itab_path(ctx->itab, wf->ino, path, sizeof(path)) == 0) {
		struct wf_chmod_op op = { path, wf->create_mode };
		int r;

		wf->chmod_pending = false;
		/* Once more on a fresh connection if this one was dead. */
		r = fs_with_conn(ctx, wf_chmod_fn, &op);
		if (r < 0)
			log_warn("%s: cannot set mode %04o: %s", path,
				 (unsigned)wf->create_mode, strerror(-r));
	}
	/* Only an upload makes the server's time "now": a close with nothing
	 * to send (also the kernel's late RELEASE after a utimens) must not
	 * undo a time set meanwhile. */
	if (sent)
		wf_update_attr(ctx, wf);
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
	if (wf->mode == WF_STREAM && wf_stream_started(wf)) {
		/* Let the server finish what it got; it is deleted next
		 * (a temporary file of atomic_upload here). */
		(void)wf_stream_unpark(ctx, wf);
		if (wf->x) {
			(void)ftp_xfer_finish_upload(wf->c, wf->x, FTP_OP_STOR);
			wf_release(ctx, wf->c, 0);
		}
		wf->c = NULL;
		wf->x = NULL;
		wf->paused = false;
		if (wf->tmp_path[0])
			wf_drop_tmp(ctx, wf);
		else
			on_server = true;
	}
	(void)wf_hold_upload(ctx, wf, false);
	if (wf->mode == WF_STREAM)
		wf->mode = WF_IDLE;
	wf->error = 0;
	pthread_mutex_unlock(&wf->lock);
	return on_server;
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
	ret = wf_flush_locked(ctx, wf);
	if (ret < 0) {
		if (itab_path(ctx->itab, wf->ino, path, sizeof(path)) < 0)
			snprintf(path, sizeof(path), "inode %llu",
				 (unsigned long long)wf->ino);
		log_err("%s: changes not saved on the server: %s", path,
			strerror(-ret));
	}
	spool_close(&wf->sp);
	fs_verify_free(&wf->verify);
	(void)wf_hold_upload(ctx, wf, false);
	itab_pin(ctx->itab, wf->ino, false);
	pthread_mutex_destroy(&wf->lock);
	free(wf);
}
