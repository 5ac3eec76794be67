/*
 * fs_ops.c - the operation table and connection set-up with the kernel.
 */
#include <errno.h>

#include "fs_internal.h"
#include "ftpsfs/fs_wback.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"

void fs_ctx_init(struct fs_ctx *ctx)
{
	pthread_mutex_init(&ctx->handles_lock, NULL);
	pthread_mutex_init(&ctx->wfiles_lock, NULL);
	pthread_mutex_init(&ctx->ready_lock, NULL);
	pthread_mutex_init(&ctx->space_lock, NULL);
	ctx->handles.prev = ctx->handles.next = &ctx->handles;
	(void)fs_attrq_new(ctx); /* without it, times and modes go at once */
}

int fs_ready(struct fs_ctx *ctx)
{
	int ret = 0;

	if (!ctx->late_setup)
		return 0;
	pthread_mutex_lock(&ctx->ready_lock);
	if (!ctx->ready) {
		/* Logging in at the first operation: bounded like it. */
		int64_t saved = fs_op_deadline_begin(ctx);

		ret = ctx->late_setup(ctx, ctx->late_setup_arg);
		fs_op_deadline_end(saved);
		ctx->ready = ret == 0;
		/* An earlier mount's pending uploads before any request
		 * (under ready_lock: the others wait too). */
		if (ctx->ready)
			fs_wback_replay_late(ctx);
	}
	pthread_mutex_unlock(&ctx->ready_lock);
	return ret < 0 ? -EIO : 0;
}

static void fs_intr_cb(fuse_req_t req, void *data)
{
	struct fs_intr *intr = data;

	(void)req;
	intr->flag = 1;
}

int64_t fs_op_deadline_begin(const struct fs_ctx *ctx)
{
	int64_t saved = net_op_deadline();

	if (!saved && ctx->op_timeout_ms > 0)
		net_set_op_deadline(net_deadline(ctx->op_timeout_ms));
	return saved;
}

void fs_op_deadline_end(int64_t saved)
{
	net_set_op_deadline(saved);
}

void fs_intr_begin(fuse_req_t req, struct fs_intr *intr)
{
	intr->flag = 0;
	intr->saved_deadline = fs_op_deadline_begin(fs_ctx_of(req));
	net_set_cancel(&intr->flag);
	/* Calls fs_intr_cb at once if the interrupt came already. */
	fuse_req_interrupt_func(req, fs_intr_cb, intr);
}

void fs_intr_end(fuse_req_t req, struct fs_intr *intr)
{
	fuse_req_interrupt_func(req, NULL, NULL);
	net_set_cancel(NULL);
	fs_op_deadline_end(intr->saved_deadline);
}

void fs_intr_waits_begin(fuse_req_t req, struct fs_intr *intr)
{
	intr->flag = 0;
	net_set_wait_cancel(&intr->flag);
	fuse_req_interrupt_func(req, fs_intr_cb, intr);
}

void fs_intr_waits_end(fuse_req_t req, struct fs_intr *intr)
{
	fuse_req_interrupt_func(req, NULL, NULL);
	net_set_wait_cancel(NULL);
}

void fs_handle_track(struct fs_ctx *ctx, struct fs_handle *h,
		     void (*destroy)(struct fs_handle *h))
{
	h->destroy = destroy;
	pthread_mutex_lock(&ctx->handles_lock);
	h->next = ctx->handles.next;
	h->prev = &ctx->handles;
	h->next->prev = h;
	ctx->handles.next = h;
	pthread_mutex_unlock(&ctx->handles_lock);
}

void fs_handle_untrack(struct fs_ctx *ctx, struct fs_handle *h)
{
	pthread_mutex_lock(&ctx->handles_lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	pthread_mutex_unlock(&ctx->handles_lock);
}

void fs_ctx_release_handles(struct fs_ctx *ctx)
{
	if (!ctx->handles.next)
		return; /* never initialised */
	while (ctx->handles.next != &ctx->handles) {
		struct fs_handle *h = ctx->handles.next;

		fs_handle_untrack(ctx, h);
		h->destroy(h);
	}
	pthread_mutex_destroy(&ctx->handles_lock);
	pthread_mutex_destroy(&ctx->wfiles_lock);
	pthread_mutex_destroy(&ctx->ready_lock);
	pthread_mutex_destroy(&ctx->space_lock);
}

static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/*
	 * One MLSD/LIST gives every entry's attributes, but an entry handed
	 * out by readdirplus is an inode the kernel holds (and we with it):
	 * "ls -f" of a million files must not make a million.  With _AUTO
	 * the kernel asks readdirplus for a directory's first batch and for
	 * every next one only after a program looked at an entry it gave
	 * (ls -l, find -type: it revalidates or looks them up); a walk that
	 * only reads names gets plain readdir.
	 */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
	/*
	 * Without async reads the kernel sends a file's reads in order, one
	 * at a time, which keeps a RETR stream sequential instead of being
	 * restarted by readahead requests arriving out of order.
	 */
	conn->want &= ~FUSE_CAP_ASYNC_READ;
	conn->max_readahead = 1024 * 1024;
	/* Fewer, larger writes: each is one request and one lock. */
	conn->max_write = 1024 * 1024;
}

/*
 * Every operation counted in the statistics by kind, with the round trips
 * it made (stats.h): a thin wrapper per operation.
 */
#define FS_COUNTED(name, kind, params, args)                                   \
	static void counted_##name params                                      \
	{                                                                      \
		stats_op_begin(kind);                                          \
		fs_op_##name args;                                             \
		stats_op_end();                                                \
	}

FS_COUNTED(lookup, STATS_OP_LOOKUP,
	   (fuse_req_t req, fuse_ino_t parent, const char *name),
	   (req, parent, name))
FS_COUNTED(getattr, STATS_OP_GETATTR,
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	   (req, ino, fi))
FS_COUNTED(readlink, STATS_OP_OTHER, (fuse_req_t req, fuse_ino_t ino),
	   (req, ino))
FS_COUNTED(statfs, STATS_OP_OTHER, (fuse_req_t req, fuse_ino_t ino), (req, ino))
FS_COUNTED(opendir, STATS_OP_READDIR,
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	   (req, ino, fi))
FS_COUNTED(readdir, STATS_OP_READDIR,
	   (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	    struct fuse_file_info *fi),
	   (req, ino, size, off, fi))
FS_COUNTED(readdirplus, STATS_OP_READDIR,
	   (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	    struct fuse_file_info *fi),
	   (req, ino, size, off, fi))
FS_COUNTED(open, STATS_OP_OPEN,
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	   (req, ino, fi))
FS_COUNTED(read, STATS_OP_READ,
	   (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	    struct fuse_file_info *fi),
	   (req, ino, size, off, fi))
FS_COUNTED(release, STATS_OP_FLUSH,
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	   (req, ino, fi))
FS_COUNTED(setattr, STATS_OP_SETATTR,
	   (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
	    struct fuse_file_info *fi),
	   (req, ino, attr, to_set, fi))
FS_COUNTED(mknod, STATS_OP_WRITE,
	   (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	    dev_t rdev),
	   (req, parent, name, mode, rdev))
FS_COUNTED(mkdir, STATS_OP_NAMESPACE,
	   (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode),
	   (req, parent, name, mode))
FS_COUNTED(unlink, STATS_OP_NAMESPACE,
	   (fuse_req_t req, fuse_ino_t parent, const char *name),
	   (req, parent, name))
FS_COUNTED(rmdir, STATS_OP_NAMESPACE,
	   (fuse_req_t req, fuse_ino_t parent, const char *name),
	   (req, parent, name))
FS_COUNTED(symlink, STATS_OP_NAMESPACE,
	   (fuse_req_t req, const char *link, fuse_ino_t parent,
	    const char *name),
	   (req, link, parent, name))
FS_COUNTED(rename, STATS_OP_NAMESPACE,
	   (fuse_req_t req, fuse_ino_t parent, const char *name,
	    fuse_ino_t newparent, const char *newname, unsigned int flags),
	   (req, parent, name, newparent, newname, flags))
FS_COUNTED(link, STATS_OP_NAMESPACE,
	   (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	    const char *newname),
	   (req, ino, newparent, newname))
FS_COUNTED(create, STATS_OP_WRITE,
	   (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	    struct fuse_file_info *fi),
	   (req, parent, name, mode, fi))
FS_COUNTED(write, STATS_OP_WRITE,
	   (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	    off_t off, struct fuse_file_info *fi),
	   (req, ino, buf, size, off, fi))
FS_COUNTED(flush, STATS_OP_FLUSH,
	   (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	   (req, ino, fi))
FS_COUNTED(fsync, STATS_OP_FLUSH,
	   (fuse_req_t req, fuse_ino_t ino, int datasync,
	    struct fuse_file_info *fi),
	   (req, ino, datasync, fi))
FS_COUNTED(getxattr, STATS_OP_XATTR,
	   (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size),
	   (req, ino, name, size))
FS_COUNTED(listxattr, STATS_OP_XATTR,
	   (fuse_req_t req, fuse_ino_t ino, size_t size), (req, ino, size))
FS_COUNTED(setxattr, STATS_OP_XATTR,
	   (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
	    size_t size, int flags),
	   (req, ino, name, value, size, flags))

int fs_reply_err(fuse_req_t req, int err)
{
	stats_op_failed(err);
	return fuse_reply_err(req, err);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.lookup = counted_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = counted_getattr,
	.readlink = counted_readlink,
	.statfs = counted_statfs,
	.opendir = counted_opendir,
	.readdir = counted_readdir,
	.readdirplus = counted_readdirplus,
	.releasedir = fs_op_releasedir,
	.open = counted_open,
	.read = counted_read,
	.release = counted_release,
	.setattr = counted_setattr,
	.mknod = counted_mknod,
	.mkdir = counted_mkdir,
	.unlink = counted_unlink,
	.rmdir = counted_rmdir,
	.symlink = counted_symlink,
	.rename = counted_rename,
	.link = counted_link,
	.create = counted_create,
	.write = counted_write,
	.flush = counted_flush,
	.fsync = counted_fsync,
	.getxattr = counted_getxattr,
	.listxattr = counted_listxattr,
	.setxattr = counted_setxattr,
};
