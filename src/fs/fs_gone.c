/*
 * fs_gone.c - a directory the cache believes in, gone from the server.
 *
 * Another client may remove a directory while our listing of its parent
 * still shows it (for dir_timeout).  Operations inside it then fail with
 * a 550 whose text rarely says why (vsftpd: "Create directory operation
 * failed."), and every later try fails the same way against a directory
 * the kernel still shows.  So when an operation inside a directory fails
 * with a refusal that can mean "no such directory", the parent's listing
 * is asked again: if the directory is no longer in it, it is dropped from
 * the cache and from the kernel, and the operation fails with ENOENT -
 * what a local file system says for a path whose directory is gone.  A
 * listing that fails (CWD or LIST refused) is such an operation too, so
 * the check climbs to the topmost directory gone.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "ftpsfs/fs_refresh.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"

/* Ancestors looked at, at most, for the topmost one that is gone. */
#define GONE_DEPTH_MAX 16
/* A directory found still there is not asked again for this long: a
 * program that keeps writing after a refusal costs one listing, not one
 * per write. */
#define GONE_RECHECK_MS 2000

/* Is @dir (named @name in @parent) in @parent's listing on the server?
 * Returns 1, 0, or a negative errno (-ENOENT: @parent is gone too). */
static int gone_still_listed(struct fs_ctx *ctx, uint64_t parent,
			     const char *name)
{
	struct itab_snapshot *snap = NULL;
	int ret = fs_fetch_listing(ctx, parent, false, &snap);

	if (ret < 0)
		return ret;
	ret = fs_snapshot_find(snap, name) != NULL;
	itab_snapshot_free(snap);
	return ret;
}

/* Drop @ino, known as @name in @parent, from the cache and the kernel. */
static void gone_drop(struct fs_ctx *ctx, uint64_t ino, uint64_t parent,
		      const char *name)
{
	struct itab_name *v = calloc(2, sizeof(*v));
	char path[FS_PATH_MAX];

	if (itab_path(ctx->itab, ino, path, sizeof(path)) == 0)
		log_info("%s: gone from the server; dropped from the cache",
			 path);
	itab_remove(ctx->itab, parent, name);
	if (!v || !(v[0].name = strdup(name))) {
		free(v);
		return; /* the kernel's entries expire by their timeouts */
	}
	v[0].parent = parent;
	v[0].ino = ino;
	v[1].ino = parent; /* its cached directory contents */
	fs_refresh_kernel(ctx, v, 2);
}

int fs_check_dir_gone(struct fs_ctx *ctx, uint64_t dir, int err)
{
	/* Listing the parent may find it gone too, and so on up: each
	 * level is one nested call (fs_fetch_listing() checks its own
	 * failures), at most this deep. */
	static __thread int depth;
	char name[NAME_MAX + 1];
	uint64_t parent;
	int ret;

	if ((err != -EACCES && err != -ENOENT && err != -EPERM) ||
	    depth >= GONE_DEPTH_MAX)
		return err;
	if (itab_is_removed(ctx->itab, dir))
		return -ENOENT; /* found gone meanwhile, by another thread */
	if (itab_parent_name(ctx->itab, dir, &parent, name, sizeof(name)) < 0)
		return err; /* the root, or unknown */
	if (atomic_load(&ctx->gone_present_dir) == dir &&
	    net_now_ms() - atomic_load(&ctx->gone_present_ms) < GONE_RECHECK_MS)
		return err;
	depth++;
	ret = gone_still_listed(ctx, parent, name);
	depth--;
	if (ret != 0 && ret != -ENOENT) { /* there, or nothing learnt */
		atomic_store(&ctx->gone_present_dir, dir);
		atomic_store(&ctx->gone_present_ms, net_now_ms());
	}
	if (ret == 0)
		gone_drop(ctx, dir, parent, name);
	/* -ENOENT: the parent is gone too (and was dropped). */
	return ret == 0 || ret == -ENOENT ? -ENOENT : err;
}
