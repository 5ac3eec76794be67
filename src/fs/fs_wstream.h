/*
 * fs_wstream.h - new content streamed into STOR or APPE as it is written.
 *
 * A stream sends each write straight into an upload (ftp_upload.h) on a
 * data connection: constant memory, no local copy, any size.  Between
 * writes it is parked in the pool (ftp_pool.h), which may end the upload
 * to use the connection; the next write goes on with APPE.
 *
 * A network fault that cuts the stream (a reset, a lost control
 * connection, a 426) does not lose the upload: the last FS_WSTREAM_REPLAY
 * bytes are kept (replay.h), which is more than can be in flight in the
 * socket buffers of both sides, and the stream goes on on a fresh
 * connection from what the server holds (SIZE) with REST+STOR (APPE where
 * the server cannot restart), re-sending what it lacks.  Only when the
 * server's copy ends outside those bytes is it an error.
 *
 * A stream belongs to one fs_wfile and runs under its lock.
 */
#ifndef FTPSFS_FS_WSTREAM_H
#define FTPSFS_FS_WSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "fs_internal.h"
#include "ftpsfs/ftp_upload.h"
#include "ftpsfs/replay.h"

struct ftp_conn;
struct ftp_xfer;

#define FS_WSTREAM_REPLAY (16u << 20)

struct fs_wstream {
	struct ftp_upload up;
	bool active;	    /* begun and not yet ended */
	bool opened;	    /* a transfer was opened for it once */
	bool append;	    /* goes after the base bytes the server had */
	uint64_t base;	    /* server offset of the stream's first byte */
	uint64_t sent;	    /* bytes of the stream given to the server */
	struct ftp_conn *c; /* while a call drives the transfer */
	struct ftp_xfer *x;
	uint64_t lease; /* parked in the pool between calls, or 0 */
	bool held;	/* ftp_pool_upload_begin() done for it */
	struct replay replay;
};

/*
 * Begin a stream of file @ino (no I/O): from byte 0 with STOR (through a
 * temporary name with @atomic), or with @append after the @base bytes the
 * server has.  Returns 0 or a negative errno.
 */
int fs_wstream_begin(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino,
		     bool append, uint64_t base, bool atomic);

/* Send @len bytes.  Returns 0, or a negative errno when the server does not
 * have them and cannot get them: the stream is then over (ended). */
int fs_wstream_write(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino,
		     const char *buf, size_t len);

/*
 * End the stream: after 0 the server's file holds base + sent bytes,
 * ours (checked as the upload's flags say, renamed into place if
 * atomic).  A negative errno says why not; the stream is over either way.
 */
int fs_wstream_end(struct fs_ctx *ctx, struct fs_wstream *ws, uint64_t ino);

/*
 * ftp_upload_commit() of @up on *c; when the connection breaks on the
 * way, again on fresh ones (waiting for a server that is away, within
 * op_timeout), so that a lost reply neither fails the upload nor renames
 * twice.  *c may be replaced (NULL if none could be had).  Returns 0 or
 * a negative errno; the upload is ended either way.
 */
int fs_upload_commit(struct fs_ctx *ctx, struct ftp_conn **c,
		     struct ftp_upload *up, uint64_t size);

/*
 * The file is being deleted: stop, keeping nothing.  Returns whether the
 * file's own name may now exist on the server (a non-atomic stream
 * created it), for the caller to delete.
 */
bool fs_wstream_abandon(struct fs_ctx *ctx, struct fs_wstream *ws,
			uint64_t ino);

#endif
