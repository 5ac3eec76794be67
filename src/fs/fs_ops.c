/*
 * fs_ops.c - the operation table and connection set-up with the kernel.
 */
#include <errno.h>

#include "fs_internal.h"
#include "ftpsfs/net.h"

void fs_ctx_init(struct fs_ctx *ctx)
{
	pthread_mutex_init(&ctx->handles_lock, NULL);
	pthread_mutex_init(&ctx->wfiles_lock, NULL);
	pthread_mutex_init(&ctx->ready_lock, NULL);
	pthread_mutex_init(&ctx->space_lock, NULL);
	ctx->handles.prev = ctx->handles.next = &ctx->handles;
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
}

static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* One MLSD/LIST gives every entry's attributes: always use
	 * readdirplus, not only for the first "ls -l" of a directory. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
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

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.readlink = fs_op_readlink,
	.statfs = fs_op_statfs,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.open = fs_op_open,
	.read = fs_op_read,
	.release = fs_op_release,
	.setattr = fs_op_setattr,
	.mknod = fs_op_mknod,
	.mkdir = fs_op_mkdir,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.symlink = fs_op_symlink,
	.rename = fs_op_rename,
	.link = fs_op_link,
	.create = fs_op_create,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.fsync = fs_op_fsync,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
};
