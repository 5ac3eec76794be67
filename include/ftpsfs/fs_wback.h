/*
 * fs_wback.h - opt-in durable write-back (-o writeback).
 *
 * What it promises (DESIGN.md 5 "Behind the writer"):
 *  - close() returns once the file's bytes are durable in the spool
 *    directory: data synced, then a record (wb_journal.h).  Uploads run in
 *    the background, WB_WORKERS at once, with the mount's upload rules
 *    (resume, verify, atomic_upload, chmod of new files).
 *  - fsync() still means "the server has it": it uploads now (waiting for
 *    a running upload of the file first) and reports the error.
 *  - A file whose upload is pending keeps its write state, so reads and
 *    stat see our bytes and size (served from the spool).  A read or a
 *    new write while its upload runs waits for that upload (one lock per
 *    file); a write after it joins the same content, and the next close
 *    journals and queues it again.
 *  - utimens of a pending file is kept in its record and set after the
 *    upload (fs_wfile_defer_mtime()); a later write drops it.  So is a
 *    chmod that waits for the upload (fs_wfile_defer_chmod()).  rename of
 *    a pending file uploads it first (as fsync); unlink drops the pending
 *    upload and its record.
 *  - Conflicts: before the first upload of a journaled content the server
 *    is asked what is at the path (SIZE, MDTM).  If that differs from what
 *    it had when we first opened the file (existence, size, time), ours is
 *    uploaded as "NAME.ftpsfs-conflict-YYYYMMDD-HHMMSS" beside it and
 *    logged; the server's file is left alone.  Once an upload of ours
 *    began (the record says so before the first byte is sent) a
 *    difference may be our own partial upload, so it is not checked.
 *  - At most WB_MAX_JOBS files are pending: beyond that a close uploads
 *    its file before it returns, as without writeback, so a writer far
 *    ahead of the link slows down to it instead of exhausting descriptors.
 *  - A server that is away: an upload waits as any operation (op_timeout),
 *    then the job is tried again every WB_RETRY_MS; statistics count it.
 *    While the pool knows the server is away (an outage) jobs are not
 *    tried at all: an attempt holds its file's lock while it waits.
 *  - Unmount waits for the queue up to op_timeout (120 s without), then
 *    logs each file still pending and where its record is.
 *  - The next mount with the same spool directory uploads every record
 *    before it serves any request (fs_wback_replay()).
 *
 * Locking: wb->lock guards the job list and the gauges; a leaf (fs.h),
 * taken inside a file's wf->lock (enqueue, finish), never the other way
 * round.  A worker holds the file's wf->lock across the upload, as a
 * synchronous flush does.
 */
#ifndef FTPSFS_FS_WBACK_H
#define FTPSFS_FS_WBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftpsfs/fs.h"
#include "ftpsfs/stats.h"
#include "ftpsfs/wb_journal.h"

#define WB_WORKERS  4
#define WB_RETRY_MS 2000
/* The replay at mount tries a failed upload again (pauses from
 * WB_RETRY_MS, doubling) for this long at most. */
#define WB_REPLAY_RETRY_MS 90000
/* Pending files at most: each keeps its spool file open.  A close that
 * finds the queue full uploads its file itself (back-pressure). */
#define WB_MAX_JOBS 512

struct fs_wback;
struct fs_wback_job;
struct fs_wfile;

/* Start the queue and its workers into ctx->wback.  Returns 0 or a
 * negative errno. */
int fs_wback_start(struct fs_ctx *ctx);

/* Wait for the queue (bounded, see above), stop the workers, drop what is
 * left (its records stay) and free.  NULL-safe. */
void fs_wback_stop(struct fs_ctx *ctx);

/*
 * Queue the upload of @wf (@bytes long) - or, when @job is its queued job
 * already, update that.  Called with wf->lock held.  Returns the job, or
 * NULL when memory ran out.
 */
struct fs_wback_job *fs_wback_enqueue(struct fs_wback *wb, struct fs_wfile *wf,
				      uint64_t bytes, struct fs_wback_job *job);

/* Is there room for another job (see WB_MAX_JOBS)? */
bool fs_wback_has_room(struct fs_wback *wb);

/* The worker's upload of @job is over: take it off the queue (the worker
 * frees it).  Called with wf->lock held. */
void fs_wback_finish(struct fs_wback *wb, struct fs_wback_job *job);

/* Is @err worth another try later (the server away, a connection cut)? */
bool fs_wback_retryable(int err);

/*
 * What the server has at @path: *exists, and if so *size (SIZE) and
 * *mtime (MDTM, 0 when it gives none).  Returns 0 or a negative errno
 * (the server could not say).
 */
int fs_wback_remote_state(struct fs_ctx *ctx, const char *path, bool *exists,
			  uint64_t *size, int64_t *mtime);

/*
 * Where record @r's content goes: its path, or a conflict name beside it
 * (*conflict true, logged) when the server's file changed since @r saw
 * it.  Returns 0 with @out set, or a negative errno (the server could not
 * be asked: try later).
 */
int fs_wback_target(struct fs_ctx *ctx, const struct wb_record *r, char *out,
		    size_t outsz, bool *conflict);

/*
 * Upload every record left in the spool directory by an earlier mount
 * (before this one serves requests).  A record whose content no longer
 * matches its digest is never uploaded under its name: the content is
 * kept as "unsaved-ID" and logged.  A failure that may pass is tried
 * again for WB_REPLAY_RETRY_MS at most; then the records left stay for
 * the next mount (logged).  A delay_connect mount that cannot reach the
 * server now leaves the replay to fs_wback_replay_late().
 */
void fs_wback_replay(struct fs_ctx *ctx);

/* The replay fs_wback_replay() left for later, if any: run by fs_ready()
 * once late_setup succeeded, before any request is served. */
void fs_wback_replay_late(struct fs_ctx *ctx);

/* Gauges for the statistics. */
void fs_wback_gauges(struct fs_wback *wb, struct stats_writeback *out);

#endif
