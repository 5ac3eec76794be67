/*
 * fs.h - the FUSE low-level operations and the mount context they share.
 *
 * Process-wide state, each kept where it says and nowhere else:
 *  - the parsed options (main.c) and this context, handed to libfuse as
 *    userdata (every operation reaches it through fuse_req_userdata());
 *  - singletons every layer uses without a context to carry: the log
 *    settings (log.c, set once before any thread), the statistics
 *    (stats.c: atomic counters, the last error under last_lock) and the
 *    bandwidth caps (ratelimit.c: one bucket per direction);
 *  - flags for signal handlers: SIGUSR1's pipe (fs_refresh.c), askpass's
 *    (askpass.c) and --stats's (stats_view.c, not a mount);
 *  - the per-thread channels below (thread-locals in sock.c, stats.c)
 *    and fs_gone.c's nesting depth.
 *
 * Locks, and the one order they are taken in.  FUSE runs operations on
 * several threads; each lock guards one thing (conditions wait on the
 * lock named with them):
 *
 *   ready_lock    delay_connect's first login (held across it: I/O)
 *   f->lock       one open file's read stream (fs_internal.h; held across
 *                 network I/O: one reader of a handle at a time)
 *   wf->lock      one file's write state (fs_wfile_internal.h; held
 *                 across network I/O: one writer of a file at a time)
 *   wfiles_lock   the table of write states and their reference counts
 *   handles_lock  the list of open handles
 *   space_lock    statfs's cached AVBL answer
 *   pr->lock      one open file's parallel ranges (fs_pread.c; no I/O;
 *                 cond: a range became ready or failed)
 *   pw.lock       the parallel ranges' job queue and files (fs_pread.c;
 *                 no I/O; cond work)
 *   pool.lock     the connection pool (pool_internal.h; never held across
 *                 I/O; conds: a connection became free, the maintenance
 *                 thread's tick)
 *   attrq.lock    times and modes waiting to be sent (fs_attrq.c; no I/O,
 *                 takes only itab.lock; conds: a new due time, a send
 *                 ended)
 *   itab.lock     the inode table (inode.h; a leaf, no I/O; cond
 *                 times_cond: a directory's exact times were fetched)
 *   ra.lock       files fetched ahead (fs_readahead.c; a leaf, no I/O;
 *                 cond settled)
 *   pf.lock       the queue of work fetched ahead (fs_prefetch.c; a leaf;
 *                 conds: work queued, a job ended)
 *   wb.lock       the write-back queue (fs_wback.c; a leaf, taken inside
 *                 wf->lock; conds: work, a job ended)
 *   poll.lock     poll='s thread: its stop flag (fs_poll.c; a leaf; cond
 *                 wake)
 *   idmap.lock    idmap=names's cache of NSS answers (idmap.c; a leaf,
 *                 NSS is asked without it)
 *   stats last_lock  the last error's text (stats.c; a leaf)
 *   refresh.lock  entries queued for the kernel (fs_refresh.c; a leaf)
 *   bucket.lock   a bandwidth cap's clock (ratelimit.c; a leaf, no I/O)
 *   pin_lock      the TLS pin (tls_internal.h; TOFU's first recording does
 *                 local file I/O under it)
 *   charset.lock  iconv's state (charset.c; a leaf)
 *
 * Order: ready_lock, then f->lock or wf->lock (never both: a read looks
 * at the write state before it takes f->lock), then wfiles_lock, then
 * handles_lock or space_lock, then pr->lock, then pw.lock, then
 * pool.lock, then attrq.lock, then the leaves (itab.lock, ra.lock,
 * pf.lock, wb.lock, poll.lock, idmap.lock, pin_lock, charset.lock, stats
 * last_lock, refresh.lock, bucket.lock).  A thread holding a lock may take
 * only locks after it.
 *
 * Besides the locks, each thread carries channels of its own, set by the
 * fs layer for the request it serves and read below it without being
 * passed: in net.h (sock.c) a cancel flag (net_set_cancel(): FUSE
 * interrupts, read by every network wait, saved and restored by the pool
 * when it ends another thread's parked upload), a wait-cancel flag
 * (net_set_wait_cancel(): ends only a wait for a connection) and the
 * operation deadline (net_set_op_deadline(): op_timeout, also saved and
 * restored by the pool); in stats.h (stats.c) the operation its round
 * trips count for, those round trips and its last error
 * (stats_op_begin()/stats_op_end()).
 */
#ifndef FTPSFS_FS_H
#define FTPSFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ftpsfs/reply.h"

struct ftp_pool;
struct fs_prefetch;
struct fs_preads;
struct fs_readahead;
struct fs_refresh;
struct idmap;
struct fs_wfile;
struct fs_attrq;
struct itab;

/* Open file and directory handles, linked so that those the kernel never
 * released (a lazy unmount with files open) are freed at exit. */
struct fs_handle {
	struct fs_handle *prev, *next;
	void (*destroy)(struct fs_handle *h);
};

struct fs_ctx {
	struct itab *itab;
	struct ftp_pool *pool;
	struct fs_prefetch *prefetch;	/* background fetching, or NULL */
	struct fs_readahead *readahead; /* files fetched ahead, or NULL
					 * (no_readahead; fs_readahead.c) */
	struct fs_refresh *refresh;	/* tells the kernel what is stale
					 * (fs_refresh.h), or NULL */
	/* fs_gone.c: the directory last found still there after a refusal
	 * inside it, and when (net_now_ms): not asked again at once. */
	atomic_ullong gone_present_dir;
	atomic_llong gone_present_ms;
	struct fs_wback *wback;	  /* -o writeback queue, or NULL (fs_wback.h) */
	struct fs_attrq *attrq;	  /* times and modes sent a moment later, or
				   * NULL (fs_attrq.c) */
	struct fs_preads *preads; /* parallel ranged reads, or NULL
				   * (parallel_reads=0; fs_pread.c) */
	struct ftp_features feat; /* what the server offered at login (what
				   * it was found to do: ftp_learned.h) */
	uid_t uid;		  /* owner shown for every file ... */
	gid_t gid;
	struct idmap *idmap; /* ... or, with idmap=names, where the
			      * server's name maps (idmap.h); NULL */
	double attr_timeout; /* seconds, for the kernel */
	int op_timeout_ms;   /* one request's work for the server; 0 none */
	double negative_timeout;
	bool read_only;	       /* -o ro: every change is EROFS */
	bool atomic_upload;    /* upload to a temporary name, then rename */
	bool verify;	       /* check SIZE and HASH after each upload */
	bool ignore_dir_times; /* directory times the server refuses: no-op */
	bool show_suid;	       /* allow_suid: keep setuid/setgid bits */
	/* -o file_mode=, dir_mode=, umask= (fs_shown_perm()). */
	bool file_mode_set, dir_mode_set;
	mode_t file_mode, dir_mode, umask;
	bool list_hidden;	/* MLSD hides dot files: LIST -a adds them */
	unsigned max_entries;	/* -o dir_max_entries */
	unsigned symlink_flags; /* SYMLINK_CONTAIN, SYMLINK_TRANSFORM */
	atomic_bool warned_dir_times; /* said once: ignore_dir_times */
	char spool_dir[4096];	      /* private directory for spool files */
	pthread_mutex_t wfiles_lock;
	struct fs_wfile *wfiles; /* write state by inode; wfiles_lock */
	/* The mode the server gives the files we create, learnt per
	 * directory (fs_newmode.c); 0 = not known. */
	atomic_ullong new_file_mode[16];
	atomic_int new_mode_misses;   /* answers that did not tell it; at 3
				       * the server is not asked again */
	atomic_llong times_wanted_ms; /* when a stat last asked exact times
				       * (net_now_ms; fs_prefetch.c) */
	pthread_mutex_t handles_lock;
	struct fs_handle handles; /* list head; guarded by handles_lock */
	/* delay_connect: run once, at the first operation, before any path
	 * is built (log in, learn features and the root path). */
	int (*late_setup)(struct fs_ctx *ctx, void *arg);
	void *late_setup_arg;
	pthread_mutex_t ready_lock;
	bool ready; /* late_setup done (or not needed); ready_lock */
	/* write-back records wait for ready (fs_wback_replay_late()) */
	atomic_bool wb_replay_late;
	/* statfs: the server's AVBL answer, trusted for attr_timeout. */
	pthread_mutex_t space_lock;
	bool space_known;	/* space_lock */
	uint64_t space_avail;	/* bytes; space_lock */
	int64_t space_until_ms; /* net_now_ms() until which both hold */
};

/* At unmount, after the write-back queue stopped: send the times and modes
 * still waiting (src/fs/fs_attrq.c) and free their queue. */
void fs_attrq_stop(struct fs_ctx *ctx);

/* 0 once the mount can reach paths on the server; runs late_setup the
 * first time.  A failure is returned (EIO) and retried next time. */
int fs_ready(struct fs_ctx *ctx);

void fs_ctx_init(struct fs_ctx *ctx);
/* Destroy the handles still open; call after the session loop ended. */
void fs_ctx_release_handles(struct fs_ctx *ctx);

struct ftp_entry;

/*
 * The permission bits shown for an entry of type @type (S_IFREG, S_IFDIR,
 * S_IFLNK; 0 for what is shown as a file but is none on the server) whose
 * own bits are @perm: file_mode= or dir_mode= instead of them where given,
 * less umask=; setuid and setgid only with allow_suid (a shared mount must
 * not show root's bits it won't honour).  Symlinks keep @perm: Linux never
 * checks a link's own bits.
 */
static inline mode_t fs_shown_perm(const struct fs_ctx *ctx, mode_t type,
				   mode_t perm)
{
	if (S_ISLNK(type))
		return perm & 07777;
	if (S_ISREG(type) && ctx->file_mode_set)
		perm = ctx->file_mode;
	else if (S_ISDIR(type) && ctx->dir_mode_set)
		perm = ctx->dir_mode;
	perm &= ~ctx->umask;
	return perm & (ctx->show_suid ? 07777 : 01777);
}

/* Attributes for the kernel from a listing entry (owner: ctx's uid/gid;
 * default modes where the server gave none). */
void fs_entry_to_stat(const struct fs_ctx *ctx, const struct ftp_entry *e,
		      struct stat *st);

/* The operation table (fs_ops.c). */
extern const struct fuse_lowlevel_ops fs_ops;

#endif
