/*
 * fs_wstream.c - streaming uploads: open, park, resume after a cut, end.
 * See fs_wstream.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "fs_wstream.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"

/* Fresh connections a cut stream may use to go on (a soft mount's; a
 * hard one's are fs_tries(), each waiting for a server that is away). */
#define WS_RECOVER_TRIES 3
/* Without REST STREAM the stream goes on with APPE, which is only right
 * once the server has stopped writing what the cut connection carried:
 * its size must hold still this long. */
#define WS_APPE_SETTLE_MS 250
#define WS_CHUNK	  (256 * 1024)
/* An upload waits for a server that is briefly away (a restart) rather
 * than failing at once: failing would lose the data. */
#define WS_UPLOAD_USE (FTP_POOL_XFER | FTP_POOL_PATIENT)

int fs_wstream_begin(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino,
		     bool append, uint64_t base, bool atomic)
{
	char path[FS_PATH_MAX];
	unsigned flags = (atomic && !append ? FTP_UPLOAD_ATOMIC : 0) |
			 (ctx->verify ? FTP_UPLOAD_VERIFY : 0);
	int ret = itab_path(ctx->itab, ino, path, sizeof(path));

	if (ret == 0)
		ret = ftp_upload_begin(&ws->up, path, flags,
				       ctx->feat.hash_algos);
	if (ret < 0)
		return ret;
	/* Appended to a start we never read: only sizes can be checked. */
	if (append)
		ftp_upload_size_only(&ws->up);
	replay_init(&ws->replay, FS_WSTREAM_REPLAY, 0);
	ws->active = true;
	ws->opened = false;
	ws->append = append;
	ws->base = append ? base : 0;
	ws->sent = 0;
	ws->c = NULL;
	ws->x = NULL;
	ws->lease = 0;
	return 0;
}

/* While the stream runs, our own downloads of the file must not park (a
 * vsftpd lock would stall the upload: ftp_pool.h). */
static int ws_hold(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino,
		   bool on)
{
	int ret = 0;

	if (on && !ws->held)
		ret = ftp_pool_upload_begin(ctx->pool, ino);
	else if (!on && ws->held)
		ftp_pool_upload_end(ctx->pool, ino);
	if (ret == 0)
		ws->held = on;
	return ret;
}

static void ws_release(struct fs_ctx *ctx, struct fs_wstream *ws)
{
	if (ws->c)
		ftp_pool_release(ctx->pool, ws->c); /* closed if broken */
	ws->c = NULL;
}

/* The stream is over: give everything back. */
static void ws_finish(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino)
{
	ws_release(ctx, ws);
	(void)ws_hold(ctx, ws, ino, false);
	replay_free(&ws->replay);
	ftp_upload_end(&ws->up);
	ws->active = false;
}

/*
 * Take the transfer back from the pool.  Returns 0 with ws->c and ws->x
 * set, or with both NULL when the pool ended the upload and the server
 * confirmed it (it holds base + sent bytes), or the negative errno of
 * that ending.
 */
static int ws_unpark(struct fs_ctx *ctx, struct fs_wstream *ws)
{
	int ret;

	if (!ws->lease)
		return 0;
	ret = ftp_pool_unpark(ctx->pool, ws->lease, &ws->c, &ws->x);
	ws->lease = 0;
	if (ret == 1)
		return 0;
	ws->c = NULL;
	ws->x = NULL;
	return ret;
}

static void ws_park(struct fs_ctx *ctx, struct fs_wstream *ws)
{
	uint64_t lease =
		ftp_pool_park_upload(ctx->pool, ws->c, ws->x, FTP_OP_STOR);

	if (lease) { /* else we keep holding it */
		ws->lease = lease;
		ws->c = NULL;
		ws->x = NULL;
	}
}

/* Open the transfer where the server's copy ends (base + sent): STOR for
 * a new stream, else APPE. */
static int ws_open(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino)
{
	const char *verb = ws->opened || ws->append ? "APPE" : "STOR";
	char err[512];
	int ret = ws_hold(ctx, ws, ino, true);

	if (ret == 0)
		ret = ftp_pool_xfer_open(
			ctx->pool, WS_UPLOAD_USE,
			&(struct ftp_xfer_cmd){
				.verb = verb,
				.arg = ftp_upload_target(&ws->up),
				.op = FTP_OP_STOR },
			&ws->c, &ws->x, err, sizeof(err));
	if (ret < 0) {
		if (ret != -ENOMEM)
			log_warn("%s %s: %s", verb, ws->up.path, err);
		return ret;
	}
	ws->opened = true;
	return 0;
}

/* The transfer failed with @ret: end it to learn the server's reason
 * (a quota, a full disk, or a 426 for a cut).  Returns that reason. */
static int ws_end_transfer(struct fs_wstream *ws, int ret)
{
	int why;

	if (!ws->x)
		return ret;
	why = ftp_xfer_finish_upload(ws->c, ws->x, FTP_OP_STOR);
	ws->x = NULL;
	/* A control connection lost with the data one adds nothing: the
	 * cut stands. */
	if (why < 0 && ftp_conn_broken(ws->c) && ftp_errno_transient(ret))
		return ret;
	return why < 0 ? why : ret;
}

/* Send the kept bytes from stream offset @from up to what was sent. */
static int ws_resend(struct fs_wstream *ws, uint64_t from)
{
	char *buf = malloc(WS_CHUNK);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (ret == 0 && from < ws->sent) {
		ssize_t n = replay_read(&ws->replay, from, buf, WS_CHUNK);

		if (n <= 0) {
			ret = -EIO;
			break;
		}
		ret = ftp_xfer_write(ws->c, ws->x, buf, (size_t)n);
		from += (uint64_t)n;
	}
	free(buf);
	return ret;
}

/* Where the server's copy ends, if it can go on from there: REST+STOR
 * rewrites from any offset, APPE only once the copy holds still. */
static int ws_resume_point(struct fs_ctx *ctx, struct fs_wstream *ws,
			   uint64_t *off)
{
	uint64_t lo = ws->base + replay_start(&ws->replay);
	uint64_t hi = ws->base + ws->sent, again;
	int ret = ftp_upload_resume_point(ws->c, &ws->up, lo, hi, off);

	if (ret < 0 || ftp_conn_feat(ws->c)->rest_stream)
		return ret;
	if (net_sleep(WS_APPE_SETTLE_MS) < 0)
		return -EINTR;
	ret = ftp_upload_resume_point(ws->c, &ws->up, lo, hi, &again);
	if (ret == 0 && again != *off)
		return -ECONNABORTED; /* still moving: look again */
	return ret;
}

/* Go on from the server's copy on a fresh connection. */
static int ws_recover_once(struct fs_ctx *ctx, struct fs_wstream *ws)
{
	char err[512];
	uint64_t off = 0;
	bool rest;
	int ret = ftp_pool_acquire(ctx->pool, WS_UPLOAD_USE, &ws->c, err,
				   sizeof(err));

	if (ret < 0) {
		ws->c = NULL;
		log_err("%s", err);
		return ret;
	}
	ret = ws_resume_point(ctx, ws, &off);
	if (ret < 0)
		goto fail;
	rest = ftp_conn_feat(ws->c)->rest_stream;
	ret = ftp_xfer_open(
		ws->c,
		&(struct ftp_xfer_cmd){ .verb = rest ? "STOR" : "APPE",
					.arg = ftp_upload_target(&ws->up),
					.rest = rest ? off : 0,
					.op = FTP_OP_STOR },
		&ws->x);
	if (ret < 0)
		goto fail;
	ret = ws_resend(ws, off - ws->base);
	if (ret < 0) {
		ret = ws_end_transfer(ws, ret);
		goto fail;
	}
	stats_add(STATS_UPLOADS_RESUMED, 1);
	log_info("%s: upload cut by a network fault after %" PRIu64
		 " bytes; went on from the server's %" PRIu64,
		 ws->up.path, ws->base + ws->sent, off);
	return 0;
fail:
	if (ftp_conn_err(ws->c)[0])
		log_warn("upload of %s: %s", ws->up.path, ftp_conn_err(ws->c));
	return ret;
}

/* The stream was cut (@why): go on if a fresh connection can. */
static int ws_recover(struct fs_ctx *ctx, struct fs_wstream *ws, int why)
{
	int tries =
		ftp_pool_is_soft(ctx->pool) ? WS_RECOVER_TRIES : fs_tries(ctx);
	int ret = why;

	for (int i = 0;
	     i < tries && ftp_errno_transient(ret) && !net_op_expired(); i++) {
		ws_release(ctx, ws);
		ret = ws_recover_once(ctx, ws);
	}
	return ret;
}

/* The bytes are the stream's now, whatever the transfer did with them:
 * a recovery sends what the server lacks. */
static void ws_accept(struct fs_wstream *ws, const char *buf, size_t len)
{
	ftp_upload_digest(&ws->up, buf, len);
	if (replay_append(&ws->replay, buf, len) < 0)
		log_warn("%s: out of memory for the bytes kept to resend; a "
			 "network fault now fails this upload",
			 ws->up.path);
	ws->sent += len;
}

int fs_wstream_write(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino,
		     const char *buf, size_t len)
{
	int ret = ws_unpark(ctx, ws);

	if (ret < 0)
		ret = ws_recover(ctx, ws, ret);
	else if (!ws->x)
		ret = ws_open(ctx, ws, ino);
	if (ret == 0) {
		ret = ftp_xfer_write(ws->c, ws->x, buf, len);
		ws_accept(ws, buf, len);
		if (ret < 0)
			ret = ws_recover(ctx, ws, ws_end_transfer(ws, ret));
	}
	if (ret < 0) {
		(void)ws_end_transfer(ws, ret);
		if (ws->c && ftp_conn_err(ws->c)[0])
			log_warn("upload of %s: %s", ws->up.path,
				 ftp_conn_err(ws->c));
		ftp_upload_abandon(ws->c, &ws->up);
		ws_finish(ctx, ws, ino);
		return ret;
	}
	ws_park(ctx, ws);
	return 0;
}

int fs_upload_commit(struct fs_ctx *ctx, struct ftp_conn **c,
		     struct ftp_upload *up, uint64_t size)
{
	int tries =
		ftp_pool_is_soft(ctx->pool) ? WS_RECOVER_TRIES : fs_tries(ctx);
	char err[512];
	int ret = ftp_upload_commit(*c, up, size);

	for (int i = 1;
	     ret < 0 && ftp_upload_cut(up) && i < tries && !net_op_expired();
	     i++) {
		log_debug("upload of %s: %s; committing on a fresh connection",
			  up->path, ftp_conn_err(*c));
		ftp_pool_release(ctx->pool, *c); /* broken: closed */
		ret = ftp_pool_acquire(ctx->pool,
				       FTP_POOL_META | FTP_POOL_PATIENT, c, err,
				       sizeof(err));
		if (ret < 0) {
			*c = NULL;
			log_err("%s", err);
			break;
		}
		ret = ftp_upload_commit(*c, up, size);
	}
	if (ftp_upload_cut(up) || ret < 0)
		ftp_upload_abandon(*c, up); /* ends it; no-op if ended */
	return ret;
}

int fs_wstream_end(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino)
{
	char err[512];
	int ret = ws_unpark(ctx, ws);

	if (ret < 0)
		ret = ws_recover(ctx, ws, ret);
	else if (!ws->x && !ws->opened)
		ret = ws_open(ctx, ws, ino); /* nothing written: empty file */
	for (int i = 0; ret == 0 && ws->x; i++) {
		ret = ftp_xfer_finish_upload(ws->c, ws->x, FTP_OP_STOR);
		ws->x = NULL;
		if (ret < 0 && i < WS_RECOVER_TRIES)
			ret = ws_recover(ctx, ws, ret);
	}
	if (ret == 0 && !ws->c && ftp_upload_needs_commit(&ws->up)) {
		ret = ftp_pool_acquire(ctx->pool,
				       FTP_POOL_META | FTP_POOL_PATIENT, &ws->c,
				       err, sizeof(err));
		if (ret < 0) {
			ws->c = NULL;
			log_err("%s", err);
		}
	}
	if (ret == 0)
		ret = fs_upload_commit(ctx, &ws->c, &ws->up,
				       ws->base + ws->sent);
	else
		ftp_upload_abandon(ws->c, &ws->up);
	if (ret < 0 && ws->c && ftp_conn_err(ws->c)[0])
		log_warn("upload of %s: %s", ws->up.path, ftp_conn_err(ws->c));
	ws_finish(ctx, ws, ino);
	return ret;
}

bool fs_wstream_abandon(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino)
{
	bool on_server = ws->opened && !ws->up.tmp[0];
	char err[512];

	/* Let the server finish what it got: the caller deletes it (or
	 * the temporary file goes here). */
	(void)ws_unpark(ctx, ws);
	(void)ws_end_transfer(ws, 0);
	if (ws->up.tmp[0] && !ws->c &&
	    ftp_pool_acquire(ctx->pool, FTP_POOL_META, &ws->c, err,
			     sizeof(err)) < 0)
		ws->c = NULL;
	ftp_upload_abandon(ws->c, &ws->up);
	ws_finish(ctx, ws, ino);
	return on_server;
}
