/*
 * fs_pread.h - parallel ranged reads of big files (fs_pread.c; the
 * workers: fs_pread_work.c).
 *
 * One RETR stream runs at the rate one TCP connection gets; a long fat
 * path, or a server that caps each connection, keeps that well below the
 * link.  An open file read sequentially beyond a threshold (8 MiB; 256 KiB
 * of one the attributes say is big, 64 MiB) is fetched from then on in
 * ranges of 16 MiB (the first two 4 and 8 MiB), each with its own
 * REST + RETR (RFC 3659 section 5) on a pooled connection, by a few
 * worker threads (-o parallel_reads=N), and handed to the kernel in order.
 * Memory is bounded: N + 2 ranges per file, two files at once.
 *
 * Never stale or mixed bytes: each range is checked after its transfer
 * with SIZE and MDTM against the size the file had when the ranges began
 * and the time the first range saw (the first also looks before its
 * transfer: a cached size the server no longer has means the mount's view
 * was out of date already, and one stream reads the file, as without
 * ranges).  A file replaced on the server meanwhile
 * (a new file renamed over it, as uploads with a temporary name do) makes
 * every later read of the open file fail with EIO: reopen it to read the
 * new version.  (A file rewritten in place while a transfer runs is beyond
 * what any FTP client can tell, one stream or several.)  A local write to
 * the file drops the ranges; reads go on with one stream.
 *
 * Fallbacks to the one stream: a seek outside the ranges fetched, a range
 * that could not be fetched (no free connection, a refused connection: a
 * server limit), or a pool that allows fewer than two transfers.
 */
#ifndef FTPSFS_FS_PREAD_H
#define FTPSFS_FS_PREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fs_ctx;
struct fs_file;
struct fs_preads;

/* The most streams -o parallel_reads takes. */
#define FS_PREAD_MAX 16

/* Start @n workers for ctx->preads (after daemonising); @n 0: *out NULL,
 * nothing runs.  Returns 0 or a negative errno. */
int fs_preads_start(struct fs_ctx *ctx, unsigned n, struct fs_preads **out);

/* End the workers (their transfers end within the timeouts); the files'
 * state stays until fs_preads_free(), after the handles are released. */
void fs_preads_stop(struct fs_preads *pw);
void fs_preads_free(struct fs_preads *pw);

/*
 * Serve a read of @f (its lock held) from its ranges.  Returns the byte
 * count; -EAGAIN when the ranges do not serve it (not in parallel mode,
 * a fallback: read with the stream); -EIO when the file changed on the
 * server (from then on, for every read of @f); -EINTR.
 */
ssize_t fs_pread_read(struct fs_ctx *ctx, struct fs_file *f, char *buf,
		      size_t size, uint64_t off);

/* The stream of @f (its lock held) served [@off, @off + @n): follow the
 * pattern.  Returns true when ranges take over from @off + @n: the caller
 * ends its stream instead of parking it, then calls fs_pread_begin(). */
bool fs_pread_note(struct fs_ctx *ctx, struct fs_file *f, uint64_t off,
		   size_t n);

/* The stream that fs_pread_note() ended is over: the ranges of @f (its
 * lock held) start being fetched, the first on @c (the stream's
 * connection, in step and taken; NULL: none) if it is given. */
struct ftp_conn;
void fs_pread_begin(struct fs_ctx *ctx, struct fs_file *f, struct ftp_conn *c);

/* A file of @size bytes was opened for reading: if it is big enough for
 * ranges, the connections they would take are logged in now, in the
 * background (a login is ~10 round trips: begun when the ranges begin,
 * the first ranges waited for it). */
void fs_pread_opened(struct fs_ctx *ctx, uint64_t size);

/* @f is closed: its ranges are dropped (transfers under way end). */
void fs_pread_release(struct fs_file *f);

/* @ino is written locally: drop the ranges of its open files. */
void fs_pread_forget(struct fs_ctx *ctx, uint64_t ino);

#endif
