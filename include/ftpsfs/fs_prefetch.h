/*
 * fs_prefetch.h - listings and exact times fetched ahead, in the
 * background (fs_prefetch.c).
 *
 * A tree walk (find, du, rsync, cp -r) lists one directory after another,
 * and each listing costs round trips - on a real network the cost that
 * matters.  While a walk is under way (a directory was opened whose
 * parent was opened seconds before) and readdirplus hands the kernel
 * subdirectories, their listings are fetched ahead by a few worker
 * threads on idle connections, so that the walk finds them cached - each
 * within a budget of entries (a bigger directory is dropped as it is
 * read), and dropped first from the cache while unused.  Listing one
 * directory alone fetches nothing ahead.  The exact times of LIST listings
 * (inode.h) are asked ahead only while the walk looks at times (a stat
 * asked for them in the last seconds: ls -lR, rsync): asking them for
 * every listing of a find made it 2.5 times slower on loopback.
 * Most subdirectories of a walk were handed to the kernel before the walk
 * was seen to be one, so each opendir of a walk also queues the next few
 * subdirectories of its parent (a window in the walk's order, not the
 * rest of the parent).  Bounded: a small queue (further work is dropped,
 * not queued), a few workers (prefetch_queue.h), and only while the pool
 * has an idle connection - background work never makes a request wait
 * for a connection.
 *
 * The same workers fetch small files ahead of a reader that goes through a
 * directory file after file (fs_readahead.c).
 */
#ifndef FTPSFS_FS_PREFETCH_H
#define FTPSFS_FS_PREFETCH_H

#include <stdint.h>

struct fs_ctx;
struct fs_prefetch;

/* Start the workers (after daemonising).  Returns 0 or a negative errno. */
int fs_prefetch_start(struct fs_ctx *ctx, struct fs_prefetch **out);

/* Stop them (waits for work under way, bounded by the timeouts). */
void fs_prefetch_stop(struct fs_prefetch *pf);

/* The state of read-ahead across files (fs_readahead.c), for
 * ctx->readahead; free it after fs_prefetch_stop().  Returns 0 or
 * -ENOMEM. */
struct fs_readahead;
int fs_readahead_new(struct fs_readahead **out);
void fs_readahead_free(struct fs_readahead *ra);

#endif
