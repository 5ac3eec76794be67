/*
 * fs_xattr.c - extended attributes as a control surface.  Read: the
 * server's checksums of a file (getfattr -n user.ftpsfs.sha256 FILE asks
 * the server's HASH instead of downloading the file) and the mount's
 * statistics (user.ftpsfs.stats, on any file or directory: stats.h).
 * Set: user.ftpsfs.refresh on a file or directory forgets what is cached
 * of it (another client changed it), here and in the kernel;
 * user.ftpsfs.bwlimit and bwlimit_up (on any path of the mount) change
 * the mount's bandwidth caps, and read back the current ones in bytes per
 * second (ratelimit.h).
 *
 * The names are not listed by listxattr: cp -a, rsync -X and tar --xattrs
 * would otherwise make the server hash every file they copy, in every
 * algorithm, or copy our settings.  FTP has no extended attributes of its
 * own, so there is nothing else to list or to set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "fs_internal.h"
#include "fs_wfile.h"
#include "ftpsfs/fs_refresh.h"
#include "ftpsfs/fs_wback.h"
#include "ftpsfs/ftp_hash.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/inode.h"
#include "ftpsfs/log.h"
#include "ftpsfs/opts.h"
#include "ftpsfs/ratelimit.h"
#include "ftpsfs/stats.h"

#define XATTR_HASH_PREFIX "user.ftpsfs."
#define XATTR_STATS	  "user.ftpsfs.stats"
#define XATTR_REFRESH	  "user.ftpsfs.refresh"
#define XATTR_BWLIMIT	  "user.ftpsfs.bwlimit"
#define XATTR_BWLIMIT_UP  "user.ftpsfs.bwlimit_up"

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
	cache.uploads_pending = fs_wfile_count(ctx);
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

/* The direction user.ftpsfs.bwlimit[_up] @name is about, or -1. */
static int xattr_rate_dir(const char *name)
{
	if (strcmp(name, XATTR_BWLIMIT) == 0)
		return RATELIMIT_DOWN;
	if (strcmp(name, XATTR_BWLIMIT_UP) == 0)
		return RATELIMIT_UP;
	return -1;
}

static void xattr_rate_get(fuse_req_t req, enum ratelimit_dir d, size_t size)
{
	char num[24];
	int len = snprintf(num, sizeof(num), "%llu",
			   (unsigned long long)ratelimit_get(d));

	if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if (size < (size_t)len)
		fs_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, num, (size_t)len);
}

/* A new cap from setfattr's value (not NUL-terminated; "10M", "0"). */
static int xattr_rate_set(enum ratelimit_dir d, const char *value, size_t size)
{
	char text[32];
	uint64_t bps;

	if (size == 0 || size >= sizeof(text))
		return -EINVAL;
	memcpy(text, value, size);
	text[size] = '\0';
	if (opts_parse_rate(text, &bps) < 0)
		return -EINVAL;
	ratelimit_set(d, bps);
	log_info("%s set to %s (%llu bytes/s; 0 = no limit)",
		 d == RATELIMIT_DOWN ? "bwlimit" : "bwlimit_up", text,
		 (unsigned long long)bps);
	return 0;
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
	if (xattr_rate_dir(name) >= 0) {
		xattr_rate_get(req, (enum ratelimit_dir)xattr_rate_dir(name),
			       size);
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

/* user.ftpsfs.refresh: @ino's listing and attributes, and those of its
 * children, are asked again; the kernel drops its entries for them too. */
static int xattr_refresh(struct fs_ctx *ctx, fuse_ino_t ino)
{
	struct itab_name *v = NULL;
	ssize_t n = itab_expire_one(ctx->itab, ino, &v);

	if (n < 0)
		return (int)n;
	for (ssize_t i = 0; i < n; i++)
		fs_readahead_forget(ctx, v[i].ino); /* fetched copies too */
	/* From the refresh thread: the kernel holds @ino's lock now. */
	fs_refresh_kernel(ctx, v, (size_t)n);
	return 0;
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	int ret = -ENOTSUP;

	if (flags & XATTR_CREATE)
		ret = -EEXIST; /* ours always "exist" */
	else if (strcmp(name, XATTR_REFRESH) == 0)
		ret = xattr_refresh(ctx, ino);
	else if (xattr_rate_dir(name) >= 0)
		ret = xattr_rate_set((enum ratelimit_dir)xattr_rate_dir(name),
				     value, size);
	fs_reply_err(req, -ret);
}
