/*
 * fs_refresh.h - forget cached server state on SIGUSR1 (fs_refresh.c).
 */
#ifndef FTPSFS_FS_REFRESH_H
#define FTPSFS_FS_REFRESH_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <stddef.h>

struct fs_ctx;
struct fs_refresh;
struct itab_name;

/* Handle SIGUSR1 from now on (after daemonising: a thread is started).
 * Returns 0 or a negative errno. */
int fs_refresh_start(struct fs_ctx *ctx, struct fuse_session *se,
		     struct fs_refresh **out);

/*
 * Have the kernel drop what it caches of the @n entries of @v (an entry
 * with a parent and name: its dentry; with an ino: its attributes and
 * pages), soon, from the refresh thread (callable while serving a
 * request).  Takes ownership of @v (itab_names_free()).  Without a
 * refresh thread the kernel's caches expire by their timeouts.
 */
void fs_refresh_kernel(struct fs_ctx *ctx, struct itab_name *v, size_t n);

/* Stop handling it (before the session is destroyed). */
void fs_refresh_stop(struct fs_refresh *r);

#endif
