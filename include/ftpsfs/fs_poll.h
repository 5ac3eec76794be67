/*
 * fs_poll.h - -o poll=SECONDS: list recently used directories again and
 * tell the kernel what another client changed (fs_poll.c).
 */
#ifndef FTPSFS_FS_POLL_H
#define FTPSFS_FS_POLL_H

struct fs_ctx;
struct fs_poll;

/* Start polling every @interval_s seconds (after daemonising: a thread is
 * started); with 0, nothing is started and *out is NULL.  Returns 0 or a
 * negative errno. */
int fs_poll_start(struct fs_ctx *ctx, unsigned interval_s,
		  struct fs_poll **out);

/* Stop (NULL allowed); waits for a round in progress to end. */
void fs_poll_stop(struct fs_poll *p);

#endif
