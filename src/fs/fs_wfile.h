/*
 * fs_wfile.h - the write state of one inode, shared by its open handles.
 *
 * Three modes (DESIGN.md 5):
 *  - STREAM: new content written from the start (create, O_TRUNC) or
 *    appended at the server's end goes straight into STOR or APPE:
 *    constant memory, no local copy, any size (fs_wstream.h).
 *  - SPOOL: anything else (writes elsewhere, O_RDWR reads of our own
 *    writes, truncate to a non-zero size) goes to a local spool that is
 *    uploaded on flush/fsync/release, only the changed tail where the
 *    server allows (spool.h).
 *  - IDLE: the server has exactly our content.
 * A write that breaks a stream's order ends the stream (the server then
 * has everything so far) and continues in the spool.
 *
 * Errors: a failed upload is remembered and returned by the next write,
 * flush or fsync of every handle; the upload is never reported as done.
 *
 * Locking: ctx->wfiles_lock guards the table and reference counts;
 * wf->lock guards everything else and is held across network I/O (one
 * writer at a time per file).  The order of all locks: fs.h.
 */
#ifndef FTPSFS_FS_WFILE_H
#define FTPSFS_FS_WFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs_internal.h"

struct fs_wback_job;
struct wb_record;

/*
 * The write state of @ino with one more reference; made if absent (then
 * *fresh is true and the caller initialises it with one of the
 * fs_wfile_init_* calls).  Pins the inode's attributes while it exists.
 */
int fs_wfile_get(struct fs_ctx *ctx, uint64_t ino, struct fs_wfile **out,
		 bool *fresh);

/* How many files have a write state: written, their upload not done
 * (for the statistics). */
size_t fs_wfile_count(struct fs_ctx *ctx);

/* The write state of @ino if there is one (with a reference), else NULL. */
struct fs_wfile *fs_wfile_find(struct fs_ctx *ctx, uint64_t ino);

/* Drop a reference; the last one uploads what is pending (errors are
 * logged: nobody is left to tell) and frees. */
void fs_wfile_put(struct fs_ctx *ctx, struct fs_wfile *wf);

/* The file is new or truncated to 0: empty content, to be streamed.
 * @remote_size: what the server has under the name now (0 if nothing).
 * A file not on the server yet stays in its directory's listings until
 * uploaded (itab_set_local_only()). */
void fs_wfile_init_empty(struct fs_ctx *ctx, struct fs_wfile *wf,
			 bool remote_exists, uint64_t remote_size,
			 mode_t create_mode);

/* The server has the file with @size bytes, and so do we. */
void fs_wfile_init_existing(struct fs_wfile *wf, uint64_t size);

int fs_wfile_write(struct fs_ctx *ctx, struct fs_wfile *wf, const char *buf,
		   size_t len, uint64_t off);

/*
 * Serve a read from our pending content: from the spool if there is one;
 * a running stream is first completed so that the server has it.  Returns
 * the byte count, or -EAGAIN when the caller should read from the server.
 */
ssize_t fs_wfile_read(struct fs_ctx *ctx, struct fs_wfile *wf, char *buf,
		      size_t len, uint64_t off);

int fs_wfile_truncate(struct fs_ctx *ctx, struct fs_wfile *wf, uint64_t size);

/* Upload what is pending; returns the first error not yet reported. */
int fs_wfile_flush(struct fs_ctx *ctx, struct fs_wfile *wf);

/* The file is being deleted: pending data has nowhere to go.  Returns
 * whether the server has the file (then the caller deletes it there). */
bool fs_wfile_discard(struct fs_ctx *ctx, struct fs_wfile *wf);

/*
 * chmod of a file open for writing: a file not on the server yet, or a
 * mode that takes away the owner's write permission, is set after the
 * upload by the last writer (the server would refuse the upload of what
 * is still to come).  Returns true if deferred so, false if the caller
 * should send SITE CHMOD now (a mode deferred earlier is then dropped).
 * With -o writeback a journaled file's record is updated either way.
 */
bool fs_wfile_defer_chmod(struct fs_ctx *ctx, struct fs_wfile *wf, mode_t mode);

/*
 * -o writeback (fs_wback.h).  close() of a file open for writing: on a
 * writeback mount the spool is synced, journaled in the spool directory
 * and its upload queued, then 0 (or an earlier upload's error) is
 * returned; a file with nothing to send, or whose journal cannot be
 * written, is uploaded now as fs_wfile_flush() does.  Without writeback
 * this is fs_wfile_flush().  fs_wfile_flush() itself (fsync, rename,
 * utimens) always uploads before it returns and then drops the record.
 */
int fs_wfile_close(struct fs_ctx *ctx, struct fs_wfile *wf);

/* A write state just made (fresh) on a writeback mount: remember what the
 * server has at its path (asked when @remote_exists) for the conflict
 * check.  A no-op without writeback. */
void fs_wfile_wb_init(struct fs_ctx *ctx, struct fs_wfile *wf,
		      bool remote_exists);

/*
 * The queue's worker runs @job, the journaled upload of @wf: conflict
 * check, upload, record removed.  Returns 0 when the job is over (sent,
 * nothing left to send, or failed for good: the record then stays for the
 * next mount and the error is reported by the next close or fsync; the
 * job is finished with fs_wback_finish()), or a negative errno worth
 * another try later (fs_wback_retryable(); the job stays queued).
 */
int fs_wfile_wb_upload(struct fs_ctx *ctx, struct fs_wfile *wf,
		       struct fs_wback_job *job);

/*
 * utimens on a writeback mount: while @wf has an upload still to come
 * (journaled, or changes a close will journal), remember @sec (in the
 * record too) and set it after the upload; a later write drops it.
 * Returns true if deferred so, false if the caller sets it now.
 */
bool fs_wfile_defer_mtime(struct fs_ctx *ctx, struct fs_wfile *wf, int64_t sec);

/* The queue stops with @wf's job still queued: forget the job (the
 * record stays). */
void fs_wfile_wb_abandon(struct fs_wfile *wf);

/* Upload @size bytes of @fd to @path, whole, with the mount's upload
 * rules (atomic_upload, verify, retries), then set the mode and time
 * @after asks for (a failure there is only logged): replay of a record.
 * Returns 0 or a negative errno. */
int fs_wfile_upload_fd(struct fs_ctx *ctx, const char *path, int fd,
		       uint64_t size, const struct wb_record *after);

#endif
