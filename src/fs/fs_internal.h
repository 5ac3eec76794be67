/*
 * fs_internal.h - helpers shared by the files of src/fs only.
 */
#ifndef FTPSFS_FS_INTERNAL_H
#define FTPSFS_FS_INTERNAL_H

#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

#include "ftpsfs/fs.h"
#include "ftpsfs/ftp_errno.h"
#include "ftpsfs/inode.h"
#include "ftpsfs/lsparse.h"

struct ftp_conn;
struct fs_pread;
struct fs_wfile;

#define FS_PATH_MAX 4096

/* An open file. */
struct fs_file {
	struct fs_handle h; /* first: the list links back to us */
	struct fs_ctx *ctx;
	uint64_t ino;
	pthread_mutex_t lock; /* serialises reads of this handle */
	uint64_t lease;	      /* parked read stream, 0 if none */
	uint64_t pos;	      /* offset the parked stream is at */
	char path[FS_PATH_MAX];
	struct fs_wfile *wf; /* write state when opened for writing */
	struct fs_pread *pr; /* parallel ranges (fs_pread.h), or NULL */
};

/* Allocate and track a handle for @ino (path filled in).  Returns 0 or a
 * negative errno. */
int fs_file_new(struct fs_ctx *ctx, uint64_t ino, struct fs_file **out);
/* Untrack and free (parked stream aborted, write state released). */
void fs_file_free(struct fs_file *f);

static inline struct fs_ctx *fs_ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * How often an operation whose connection broke is tried in all, each
 * time on a new one: on a soft mount twice; otherwise a few times more,
 * each try waiting for the server while it is away (ftp_pool.h), all
 * within op_timeout - a flapping link or a server restarting costs time,
 * not the operation.
 */
#define FS_TRIES_SOFT 2
#define FS_TRIES_HARD 8
int fs_tries(const struct fs_ctx *ctx);

/*
 * Run @fn on a pooled connection; when the connection turns out to be
 * dead (closed by the server while idle, reset), run it again on a fresh
 * one (fs_tries() in all).  @fn must be safe to run again after a lost
 * reply (fs_namespace.c checks what the first try did).  Returns @fn's
 * result, or the pool's error.
 */
typedef int (*fs_conn_fn)(struct ftp_conn *c, void *arg);
int fs_with_conn(struct fs_ctx *ctx, fs_conn_fn fn, void *arg);

/* fs_with_conn() for the kernel's request @req: an interrupt ends its
 * wait for a server that is away (fs_intr_waits_begin()). */
int fs_with_conn_for(fuse_req_t req, struct fs_ctx *ctx, fs_conn_fn fn,
		     void *arg);

/*
 * List directory @dir on the server, install the listing in the cache and
 * return a copy of it in *snap (even when the cache keeps listings for 0
 * seconds).  @force_list asks for LIST even when MLSD is available (for
 * symlink targets): that listing only goes to *snap, never to the cache.
 * Returns 0 or a negative errno.
 */
int fs_fetch_listing(struct fs_ctx *ctx, uint64_t dir, bool force_list,
		     struct itab_snapshot **snap);

/* The same, fetched ahead (@ahead_max > 0): at most @ahead_max entries
 * (a bigger directory is dropped as it is read, -E2BIG), and the cache
 * drops the listing first while nobody used it.  @ahead_max 0: as
 * fs_fetch_listing(). */
int fs_fetch_listing_max(struct fs_ctx *ctx, uint64_t dir, bool force_list,
			 struct itab_snapshot **snap, size_t ahead_max);

/* What one listing entry costs, roughly (for messages; test_itab_mem.c
 * measures it). */
#define FS_BYTES_PER_ENTRY 95

/*
 * Ask the server the exact times of @dir's files whose listing gives them
 * to the minute (LIST; inode.h "Exact times on demand"), in batches of
 * ITAB_MTIMES_BATCH in the listing's order: until @ino's is known, or
 * (@ino 0) for the whole directory.  Returns 0 (also when there was
 * nothing to ask) or a negative errno.
 */
int fs_fetch_exact_mtimes(struct fs_ctx *ctx, uint64_t dir, uint64_t ino);

/* Fetch the listing of @dir ahead, in the background (fs_prefetch.h); a
 * no-op when nothing runs. */
void fs_prefetch_listing(struct fs_ctx *ctx, uint64_t dir);
/* @dir was opened (opendir): when its parent was opened lately, a walk
 * is under way, and fetching ahead starts (fs_prefetch.c). */
void fs_prefetch_opened(struct fs_ctx *ctx, uint64_t dir);
/* If a worker is fetching the listing of @dir right now, wait for it. */
void fs_prefetch_wait(struct fs_ctx *ctx, uint64_t dir);
/* Queue the read-ahead of entry @token (a file of directory @dir,
 * fs_readahead.c) for a worker.  Returns false when it was not queued (queue
 * full, stopping): then the caller drops the entry. */
bool fs_prefetch_file(struct fs_ctx *ctx, uint64_t dir, uint64_t token);

/*
 * Read-ahead across files (fs_readahead.c, readahead.h); all are no-ops
 * when ctx->readahead is NULL.
 */
/* @ino was opened read-only: follow the pattern, queue fetches ahead. */
void fs_readahead_opened(struct fs_ctx *ctx, uint64_t ino);
/* A worker fetches entry @token now / drops it unfetched. */
void fs_readahead_run(struct fs_ctx *ctx, uint64_t token);
void fs_readahead_dropped(struct fs_ctx *ctx, uint64_t token);
/* Serve a read of @ino from a usable fetched copy.  Returns the byte
 * count (0 past the end) or -EAGAIN: read from the server. */
ssize_t fs_readahead_read(struct fs_ctx *ctx, uint64_t ino, char *buf,
			  size_t size, uint64_t off);
/* @ino (or @name of @dir) is written, truncated, unlinked or renamed:
 * drop what was fetched or is being fetched for it. */
void fs_readahead_forget(struct fs_ctx *ctx, uint64_t ino);
void fs_readahead_forget_name(struct fs_ctx *ctx, uint64_t dir,
			      const char *name);

/*
 * An operation inside directory @dir failed with @err.  If @err is a
 * refusal that may mean "no such directory" (EACCES, EPERM, ENOENT), ask
 * the server whether @dir (or an ancestor) is gone; if so, drop the
 * topmost one gone from the cache and the kernel (fs_gone.c).  Returns
 * -ENOENT then, else @err.  Costs a listing, only on such failures.
 */
int fs_check_dir_gone(struct fs_ctx *ctx, uint64_t dir, int err);

/* Find @name in @snap; NULL if absent. */
const struct itab_dirent *fs_snapshot_find(const struct itab_snapshot *snap,
					   const char *name);

/*
 * Ask the server about @name in @parent (MLST, else the parent's listing).
 * Returns 0 with *attr and, for symlinks whose target is known, @link
 * filled ("" otherwise); -ENOENT; or another negative errno.
 */
int fs_stat_remote(struct fs_ctx *ctx, uint64_t parent, const char *name,
		   struct stat *attr, char *link, size_t linksz, uint64_t *gen);

/* Link @h into the context's list of open handles / take it out. */
void fs_handle_track(struct fs_ctx *ctx, struct fs_handle *h,
		     void (*destroy)(struct fs_handle *h));
void fs_handle_untrack(struct fs_ctx *ctx, struct fs_handle *h);

/* Entry reply from attributes (attr/entry timeouts from the context). */
void fs_fill_entry(const struct fs_ctx *ctx, const struct stat *st,
		   struct fuse_entry_param *e);

/* fuse_reply_err() that counts the failure in the statistics. */
int fs_reply_err(fuse_req_t req, int err);

/* The first line of every operation that reaches the server. */
#define FS_READY_OR_REPLY(req, ctx)                                            \
	do {                                                                   \
		int fs_ready_ret_ = fs_ready(ctx);                             \
		if (fs_ready_ret_ < 0) {                                       \
			fs_reply_err(req, -fs_ready_ret_);                     \
			return;                                                \
		}                                                              \
	} while (0)

/*
 * The operation deadline (op_timeout, DESIGN.md 4): what one kernel
 * request may spend waiting for the server, however each reply arrives
 * within `timeout`.  begin sets it on the calling thread unless a deadline
 * is set already (the outermost call of a request wins); pass what it
 * returns to end.  When it passes, waits fail with -ETIMEDOUT and the
 * connection is dropped.
 */
int64_t fs_op_deadline_begin(const struct fs_ctx *ctx);
void fs_op_deadline_end(int64_t saved);

/*
 * FUSE interrupts (a program killed or Ctrl-C'd in a read, an opendir, a
 * lookup or a getattr that waits for the server):
 * between begin and end, network waits of this thread return -EINTR once
 * the kernel interrupts @req; the request's operation deadline runs
 * meanwhile too.
 */
struct fs_intr {
	volatile int flag;
	int64_t saved_deadline;
};
void fs_intr_begin(fuse_req_t req, struct fs_intr *intr);
void fs_intr_end(fuse_req_t req, struct fs_intr *intr);

/*
 * The same for a request whose commands must not be cut between command
 * and reply (mkdir, unlink, rename, chmod ...: the server may have done
 * the work): an interrupt ends only its wait for a connection, while the
 * server is away (net_set_wait_cancel()).  No deadline is set here:
 * fs_with_conn() does.
 */
void fs_intr_waits_begin(fuse_req_t req, struct fs_intr *intr);
void fs_intr_waits_end(fuse_req_t req, struct fs_intr *intr);

/* Operations, by file. */
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname,
		  unsigned int flags);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		const char *newname);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags);

/* Upload pending writes of @ino, if any (before rename, utimens ...). */
int fs_flush_inode(struct fs_ctx *ctx, uint64_t ino);

/* @ino is gone from the server (replaced by a rename): writes still
 * coming through its open handles have nowhere to go. */
void fs_discard_inode(struct fs_ctx *ctx, uint64_t ino);

/* Set the server's time of @path to @sec (MFMT, vsftpd's MDTM or SITE
 * UTIME, as ftp_learned_set_mtime() learns it; fs_write.c).  Returns 0 or a
 * negative errno. */
int fs_set_remote_mtime(struct fs_ctx *ctx, const char *path, int64_t sec,
			bool is_dir);

/* Check a name from the kernel before it becomes part of a command. */
int fs_check_name(const char *name);

/* fs_newmode.c: the permission bits the server gives a file created in
 * @path's directory, or -1 when not known; and learning them (@mode -1:
 * nothing learnt). */
int fs_newmode_get(struct fs_ctx *ctx, const char *path);
void fs_newmode_set(struct fs_ctx *ctx, const char *path, int mode);

/*
 * fs_attrq.c: the time and mode of a file we just uploaded, sent in its
 * rename's flight or within a second.  fs_attrq_new(): 0 or -ENOMEM (the
 * mount works without it).  fs_attrq_created(): @ino was created and
 * uploaded by us at @path, its creation mode set or to be set through the
 * queue (only a name starting with a dot is taken: a temporary); true if
 * taken.  fs_attrq_defer(): record a mode
 * and/or a time (NULL: not set) for a young @ino; true if recorded, false if
 * the caller sends it now.  fs_attrq_take(): what is pending for @ino, out
 * of the queue (true) or nothing (false).  fs_attrq_flush(): send it now.
 * fs_attrq_forget(): drop it (the file is gone).  fs_attrq_stop(): fs.h.
 */
struct ftp_attrs;
int fs_attrq_new(struct fs_ctx *ctx);
bool fs_attrq_created(struct fs_ctx *ctx, uint64_t ino, const char *path);
bool fs_attrq_defer(struct fs_ctx *ctx, uint64_t ino, const mode_t *mode,
		    const int64_t *mtime);
bool fs_attrq_take(struct fs_ctx *ctx, uint64_t ino, struct ftp_attrs *out);
void fs_attrq_flush(struct fs_ctx *ctx, uint64_t ino);
void fs_attrq_forget(struct fs_ctx *ctx, uint64_t ino);
/* @a for @ino on the server now, on its own (a failure is logged). */
void fs_attrq_send(struct fs_ctx *ctx, uint64_t ino, const struct ftp_attrs *a);

#endif
