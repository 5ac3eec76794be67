/*
 * fs_refresh.h - forget cached server state on SIGUSR1 (fs_refresh.c).
 */
#ifndef FTPSFS_FS_REFRESH_H
#define FTPSFS_FS_REFRESH_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

struct fs_ctx;
struct fs_refresh;

/* Handle SIGUSR1 from now on (after daemonising: a thread is started).
 * Returns 0 or a negative errno. */
int fs_refresh_start(struct fs_ctx *ctx, struct fuse_session *se,
		     struct fs_refresh **out);

/* Stop handling it (before the session is destroyed). */
void fs_refresh_stop(struct fs_refresh *r);

#endif
