/*
 * fs_dir.c - opendir, readdir, readdirplus, releasedir.
 *
 * opendir takes a copy of the directory's listing (from the cache when
 * fresh, else one MLSD/LIST), so that offsets stay stable while a program
 * reads the directory even if the cache is refreshed meanwhile.
 * readdirplus hands the kernel every entry's attributes from that one
 * listing: ls -l, find and rsync need no LOOKUP per entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "ftpsfs/stats.h"

/* Offsets: 1 = after ".", 2 = after "..", 2 + i + 1 = after entry i. */
#define DIR_FIRST_ENTRY 2

struct fs_dir {
	struct fs_handle h; /* first: the list links back to us */
	struct itab_snapshot *snap;
};

static void dir_destroy(struct fs_handle *h)
{
	struct fs_dir *d = (struct fs_dir *)h;

	itab_snapshot_free(d->snap);
	free(d);
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_intr intr;
	struct fs_dir *d;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	d = calloc(1, sizeof(*d));
	if (!d) {
		fs_reply_err(req, ENOMEM);
		return;
	}
	fs_prefetch_opened(ctx, ino);
	ret = itab_snapshot(ctx->itab, ino, &d->snap);
	if (ret == -EAGAIN) {
		/* Being fetched ahead right now: that listing will do. */
		fs_prefetch_wait(ctx, ino);
		ret = itab_snapshot(ctx->itab, ino, &d->snap);
	}
	stats_add(ret == -EAGAIN ? STATS_CACHE_MISSES : STATS_CACHE_HITS, 1);
	if (ret == -EAGAIN) {
		fs_intr_begin(req, &intr);
		ret = fs_fetch_listing(ctx, ino, false, &d->snap);
		fs_intr_end(req, &intr);
	}
	if (ret < 0) {
		free(d);
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	fs_handle_track(ctx, &d->h, dir_destroy);
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0) {
		fs_handle_untrack(ctx, &d->h);
		dir_destroy(&d->h);
	}
}

static void dir_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi, bool plus)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct itab_snapshot *snap = ((struct fs_dir *)(uintptr_t)fi->fh)->snap;
	char *buf = calloc(1, size);
	size_t used = 0;

	if (!buf) {
		fs_reply_err(req, ENOMEM);
		return;
	}
	for (off_t i = off; i < (off_t)snap->n + DIR_FIRST_ENTRY; i++) {
		struct fuse_entry_param e;
		const char *name;
		size_t need;

		memset(&e, 0, sizeof(e));
		if (i < DIR_FIRST_ENTRY) {
			/* "." and "..": ino 0 in readdirplus means "don't
			 * instantiate", as libfuse's passthrough_ll does. */
			name = i == 0 ? "." : "..";
			e.attr.st_mode = S_IFDIR;
			e.attr.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
		} else {
			const struct itab_dirent *d =
				&snap->ents[i - DIR_FIRST_ENTRY];

			name = d->name;
			itab_snapshot_stat(snap, d, 0, &e.attr);
			if (plus) {
				struct stat st;

				/* Counts a lookup: the kernel now holds it. */
				if (itab_add_listed(ctx->itab, ino, name,
						    &e.attr, d->link_target,
						    snap->gen, &st) < 0)
					break;
				fs_fill_entry(ctx, &st, &e);
				/* A walk may go there next: list it ahead. */
				if (S_ISDIR(st.st_mode))
					fs_prefetch_listing(ctx, st.st_ino);
			} else {
				e.attr.st_ino = FUSE_ROOT_ID + 1 + (uint64_t)i;
			}
		}
		need = plus ? fuse_add_direntry_plus(req, buf + used,
						     size - used, name, &e,
						     i + 1)
			    : fuse_add_direntry(req, buf + used, size - used,
						name, &e.attr, i + 1);
		if (need > size - used) {
			/* Did not fit: the kernel never saw this lookup. */
			if (plus && e.ino)
				itab_forget(ctx->itab, e.ino, 1);
			break;
		}
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	dir_read(req, ino, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	dir_read(req, ino, size, off, fi, true);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;

	(void)ino;
	fs_handle_untrack(fs_ctx_of(req), &d->h);
	dir_destroy(&d->h);
	fs_reply_err(req, 0);
}
