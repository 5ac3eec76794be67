/*
 * fs_xattr.c - read-only extended attributes: the server's checksums of a
 * file (getfattr -n user.ftpsfs.sha256 FILE asks the server's HASH
 * instead of downloading the file) and the mount's statistics
 * (user.ftpsfs.stats, on any file or directory: stats.h).
 *
 * The names are not listed by listxattr: cp -a, rsync -X and tar --xattrs
 * would otherwise make the server hash every file they copy, in every
 * algorithm.  FTP has no extended attributes of its own, so there is
 * nothing else to list, and nothing can be set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs_internal.h"
#include "ftpsfs/fs_wback.h"
#include "ftpsfs/ftp_hash.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/inode.h"
#include "ftpsfs/stats.h"

#define XATTR_HASH_PREFIX "user.ftpsfs."
#define XATTR_STATS "user.ftpsfs.stats"

struct hash_op {
	const char *path;
	enum ftp_hash_algo algo;
	char hex[FTP_HASH_HEX_MAX];
};

static int hash_fn(struct ftp_conn *c, void *arg)
{
	struct hash_op *op = arg;

	return ftp_op_hash(c, op->path, op->algo, op->hex, sizeof(op->hex));
}

/* user.ftpsfs.stats: what the mount has done (stats.h), on any inode. */
static void xattr_stats(fuse_req_t req, size_t size)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct stats_pool pool = { 0 };
	struct stats_cache cache = { 0 };
	struct stats_writeback wb;
	char *buf = NULL;
	int len;

	if (ctx->pool)
		ftp_pool_counts(ctx->pool, &pool);
	cache.inodes = itab_count(ctx->itab);
	cache.listing_bytes = itab_listing_bytes(ctx->itab, &cache.listings);
	fs_wback_gauges(ctx->wback, &wb);
	len = stats_format(&pool, &cache, &wb, NULL, 0);
	if (len >= 0 && size == 0) {
		fuse_reply_xattr(req, (size_t)len);
		return;
	}
	/* Counters move between the size query and this call: a buffer
	 * that no longer fits is ERANGE, and the caller asks again. */
	buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (!buf) {
		fs_reply_err(req, ENOMEM);
		return;
	}
	len = stats_format(&pool, &cache, &wb, buf, (size_t)len + 1);
	if (len < 0 || (size_t)len > size)
		fs_reply_err(req, len < 0 ? -len : ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)len);
	free(buf);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	char path[FS_PATH_MAX];
	struct hash_op op = { .path = path };
	struct stat st;
	size_t len;
	int algo, ret;

	if (strcmp(name, XATTR_STATS) == 0) {
		xattr_stats(req, size);
		return;
	}
	/* Everything but our names, at once and without the server (the
	 * kernel asks for security.capability before writes). */
	if (strncmp(name, XATTR_HASH_PREFIX, strlen(XATTR_HASH_PREFIX)) != 0 ||
	    (algo = ftp_hash_by_name(name + strlen(XATTR_HASH_PREFIX))) < 0) {
		fs_reply_err(req, ENODATA);
		return;
	}
	FS_READY_OR_REPLY(req, ctx);
	op.algo = (enum ftp_hash_algo)algo;
	ret = itab_getattr(ctx->itab, ino, &st);
	if (ret == -EAGAIN)
		ret = 0; /* expired attributes still tell the file's type */
	if (ret == 0 && !S_ISREG(st.st_mode))
		ret = -ENODATA;
	else if (ret == 0 && !(ctx->feat.hash_algos & (1u << algo)))
		ret = -ENOTSUP; /* the server can't: say so, don't pretend */
	/* The server's file must be what the program sees. */
	if (ret == 0)
		ret = fs_flush_inode(ctx, ino);
	if (ret == 0)
		ret = itab_path(ctx->itab, ino, path, sizeof(path));
	if (ret == 0)
		ret = fs_with_conn(ctx, hash_fn, &op);
	if (ret < 0) {
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	len = strlen(op.hex);
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fs_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, op.hex, len);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	/* No attribute to list (see above). */
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}
