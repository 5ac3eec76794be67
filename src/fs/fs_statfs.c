/*
 * fs_statfs.c - statfs: what df shows.
 *
 * FTP has no standard way to ask for a file system's size or free space.
 * Where the server offers AVBL (FEAT), its answer is the free space, and
 * the size shown is the same number: the space used is not known, so
 * none is claimed.  Otherwise the mount reports one 4 KiB block, all of it
 * free: df lists only file systems with a non-zero size, and that
 * placeholder is the smallest one, where an invented capacity (rclone
 * reports 1 PiB) would mislead programs that check for space.  Both are
 * documented in ftpsfs(1), FILES AND ATTRIBUTES.
 */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs_internal.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"

#define FS_STATFS_BLOCK 4096

struct statfs_op {
	char path[FS_PATH_MAX];
	uint64_t avail;
};

static int statfs_avbl(struct ftp_conn *c, void *arg)
{
	struct statfs_op *op = arg;

	return ftp_op_avbl(c, op->path, &op->avail);
}

/* The server's free space for the mount root, asked at most once per
 * attr_timeout.  Returns 0 with *avail, or -ENOTSUP when it is not known
 * (no AVBL, not logged in yet, or the last answer was a refusal). */
static int statfs_space(fuse_req_t req, struct fs_ctx *ctx, uint64_t *avail)
{
	struct statfs_op op = { .avail = 0 };
	int64_t now = net_now_ms();
	int ret;

	/* delay_connect: no login just for df. */
	if (!ctx->feat.avbl)
		return -ENOTSUP;
	pthread_mutex_lock(&ctx->space_lock);
	if (now < ctx->space_until_ms) {
		ret = ctx->space_known ? 0 : -ENOTSUP;
		*avail = ctx->space_avail;
		pthread_mutex_unlock(&ctx->space_lock);
		return ret;
	}
	pthread_mutex_unlock(&ctx->space_lock);

	ret = itab_path(ctx->itab, FUSE_ROOT_ID, op.path, sizeof(op.path));
	if (ret == 0)
		ret = fs_with_conn_for(req, ctx, statfs_avbl, &op);
	if (ret < 0)
		log_debug("AVBL %s: %s", op.path, strerror(-ret));
	pthread_mutex_lock(&ctx->space_lock);
	ctx->space_known = ret == 0;
	ctx->space_avail = op.avail;
	ctx->space_until_ms = now + (int64_t)(ctx->attr_timeout * 1000);
	pthread_mutex_unlock(&ctx->space_lock);
	*avail = op.avail;
	return ret == 0 ? 0 : -ENOTSUP;
}

void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct statvfs sv;
	uint64_t avail = 0;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = FS_STATFS_BLOCK;
	sv.f_frsize = FS_STATFS_BLOCK;
	sv.f_namemax = 255;
	if (statfs_space(req, ctx, &avail) == 0) {
		sv.f_bavail = avail / FS_STATFS_BLOCK;
		sv.f_bfree = sv.f_bavail;
		/* A full quota still lists the mount: one block, used. */
		sv.f_blocks = sv.f_bavail ? sv.f_bavail : 1;
	} else {
		sv.f_blocks = 1; /* "unknown", see above */
		sv.f_bfree = 1;
		sv.f_bavail = 1;
	}
	fuse_reply_statfs(req, &sv);
}
