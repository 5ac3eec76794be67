/*
 * fs_attr.c - lookup, forget, getattr, readlink.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs_internal.h"
#include "fs_symlink.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"

static void reply_negative(fuse_req_t req)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fuse_entry_param e;

	/* ino 0 with a timeout: the kernel caches "does not exist". */
	memset(&e, 0, sizeof(e));
	e.entry_timeout = ctx->negative_timeout;
	fuse_reply_entry(req, &e);
}

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fuse_entry_param e;
	char link[FS_PATH_MAX];
	struct stat st, attr;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	if (strlen(name) > 255) {
		fs_reply_err(req, ENAMETOOLONG);
		return;
	}
	ret = itab_lookup(ctx->itab, parent, name, &st);
	stats_add(ret == -EAGAIN ? STATS_CACHE_MISSES : STATS_CACHE_HITS, 1);
	if (ret == -EAGAIN) {
		struct fs_intr intr;
		uint64_t gen;

		fs_intr_begin(req, &intr);
		ret = fs_stat_remote(ctx, parent, name, &attr, link,
				     sizeof(link), &gen);
		fs_intr_end(req, &intr);
		if (ret == 0)
			ret = itab_add_listed(ctx->itab, parent, name, &attr,
					      link[0] ? link : NULL, gen, &st);
	}
	if (ret == -ENOENT) {
		reply_negative(req);
		return;
	}
	if (ret < 0) {
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	fs_fill_entry(ctx, &st, &e);
	fuse_reply_entry(req, &e);
}

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	itab_forget(fs_ctx_of(req)->itab, ino, nlookup);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets)
{
	struct fs_ctx *ctx = fs_ctx_of(req);

	for (size_t i = 0; i < count; i++)
		itab_forget(ctx->itab, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Fetch fresh attributes of @ino from the server into the cache. */
static int refresh_attr(struct fs_ctx *ctx, fuse_ino_t ino, struct stat *st)
{
	char name[256], link[FS_PATH_MAX];
	struct stat attr;
	uint64_t parent, gen;
	int ret;

	ret = itab_parent_name(ctx->itab, ino, &parent, name, sizeof(name));
	if (ret == -EINVAL) {
		/* The root: its parent may be outside a chroot, so there
		 * is nothing to list; keep the attributes from mount time
		 * (documented). */
		itab_set_attr(ctx->itab, ino, st, NULL, 0);
		return itab_getattr(ctx->itab, ino, st) == -ESTALE ? -ESTALE
								   : 0;
	}
	if (ret < 0)
		return ret;
	ret = fs_stat_remote(ctx, parent, name, &attr, link, sizeof(link),
			     &gen);
	if (ret < 0)
		return ret;
	/* The server may now report another type under the same name. */
	if ((attr.st_mode & S_IFMT) != (st->st_mode & S_IFMT))
		return -ESTALE;
	itab_set_listed_attr(ctx->itab, ino, &attr, link[0] ? link : NULL, gen);
	return itab_getattr(ctx->itab, ino, st) == -ESTALE ? -ESTALE : 0;
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct stat st;
	uint64_t dir;
	int ret;

	double timeout = ctx->attr_timeout;

	FS_READY_OR_REPLY(req, ctx);
	(void)fi;
	ret = itab_getattr(ctx->itab, ino, &st);
	stats_add(ret == -EAGAIN ? STATS_CACHE_MISSES : STATS_CACHE_HITS, 1);
	if (ret == -EAGAIN) {
		struct fs_intr intr;

		fs_intr_begin(req, &intr);
		ret = refresh_attr(ctx, ino, &st);
		fs_intr_end(req, &intr);
	}
	/* Someone looks at a time LIST gave to the minute: ask the exact
	 * ones of the whole directory (one round trip for all).  If that
	 * fails, so does this: a minute-precise time would pass for exact.
	 * A batch that op_timeout cut short after some answers (a slow
	 * server) is progress, not failure: until this file's answer comes,
	 * its listed time is shown, for the kernel not to keep. */
	if (ret == 0 && itab_needs_exact_mtime(ctx->itab, ino, &dir)) {
		atomic_store(&ctx->times_wanted_ms, net_now_ms());
		ret = fs_fetch_exact_mtimes(ctx, dir, ino);
		if (ret == 0 && itab_needs_exact_mtime(ctx->itab, ino, &dir))
			timeout = 0;
	}
	if (ret == 0)
		ret = itab_getattr(ctx->itab, ino, &st) == -ESTALE ? -ESTALE
								   : 0;
	if (ret < 0) {
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	fuse_reply_attr(req, &st, timeout);
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct itab_snapshot *snap = NULL;
	const struct itab_dirent *d;
	char target[FS_PATH_MAX], shown[FS_PATH_MAX], name[256];
	uint64_t parent;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	ret = itab_readlink(ctx->itab, ino, target, sizeof(target));
	if (ret != -EAGAIN)
		goto out;
	/* MLSD may name a symlink without its target (ProFTPD's
	 * OS.unix=symlink): LIST shows "name -> target". */
	ret = itab_parent_name(ctx->itab, ino, &parent, name, sizeof(name));
	if (ret == 0)
		ret = fs_fetch_listing(ctx, parent, true, &snap);
	if (ret < 0)
		goto out;
	d = fs_snapshot_find(snap, name);
	if (!d)
		ret = -ENOENT;
	else if (!d->link_target)
		ret = -EIO;
	else
		ret = snprintf(target, sizeof(target), "%s", d->link_target) <
				      (int)sizeof(target)
			      ? 0
			      : -ENAMETOOLONG;
	if (ret == 0) {
		struct stat st;

		itab_snapshot_stat(snap, d, ino, &st);
		itab_set_listed_attr(ctx->itab, ino, &st, d->link_target,
				     snap->gen);
	}
	itab_snapshot_free(snap);
out:
	/* The server's target as-is could point anywhere on this machine. */
	if (ret == 0)
		ret = fs_symlink_present(ctx, ino, target, shown,
					 sizeof(shown));
	if (ret < 0)
		fs_reply_err(req, -ftp_errno_kernel(ret));
	else
		fuse_reply_readlink(req, shown);
}
