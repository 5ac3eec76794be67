/*
 * ftp_upload.h - an upload as the server must end up holding it: the
 * protocol steps below the FUSE layer.
 *
 * An upload makes the server's file @path hold our content.  It writes to
 * its target: the file itself, or with FTP_UPLOAD_ATOMIC a hidden
 * temporary name beside it (".ftpsfs-tmp-RANDOM") that replaces the file
 * only once complete (RNFR/RNTO), so that a failed upload leaves the old
 * content in place.  The content may travel in pieces: STOR, APPE after
 * the pool ended a parked transfer, REST+STOR after a connection was cut
 * (ftp_upload_resume_point()).
 *
 * Committing checks that the server holds what we sent - the server's
 * HASH of the whole file against our digest of it with FTP_UPLOAD_VERIFY
 * (or SIZE where it offers no digest we compute), SIZE with an atomic or
 * resumed upload - then renames the temporary file over @path.  A failure
 * deletes the temporary file.  Nothing here writes the data itself (the
 * caller owns the transfer: ftp_xfer.h) or logs a failure: failures are
 * described in the connection's c->err, for the caller to log once (a
 * verified upload and a rename found done after a lost reply are logged
 * here, as debug and info).
 */
#ifndef FTPSFS_FTP_UPLOAD_H
#define FTPSFS_FTP_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftpsfs/ftp_hash.h"

struct evp_md_ctx_st;
struct ftp_conn;

#define FTP_UPLOAD_PATH_MAX 4096

#define FTP_UPLOAD_ATOMIC 1u /* through a temporary name */
#define FTP_UPLOAD_VERIFY 2u /* -o verify: HASH (or SIZE) at commit */

struct ftp_upload {
	char path[FTP_UPLOAD_PATH_MAX]; /* the file */
	char tmp[FTP_UPLOAD_PATH_MAX]; /* atomic: the temporary name, else "" */
	unsigned flags;
	struct evp_md_ctx_st *md; /* verify: digest of bytes from 0, or NULL */
	int algo;		  /* enum ftp_hash_algo of md */
	bool check_size;	  /* commit compares SIZE even without verify */
	char digest[FTP_HASH_HEX_MAX]; /* md's final value, once taken */
	bool cut;		       /* the commit lost its connection */
};

/*
 * Begin an upload of @path: choose the temporary name (atomic) and, with
 * FTP_UPLOAD_VERIFY, the strongest digest in @hash_algos (FEAT HASH, bits
 * 1 << enum ftp_hash_algo) that we can compute.  No I/O.  Returns 0,
 * -ENAMETOOLONG, -ENOMEM or -EIO (no random bytes).  Free with
 * ftp_upload_end() (commit and abandon do).
 */
int ftp_upload_begin(struct ftp_upload *u, const char *path, unsigned flags,
		     unsigned hash_algos);

/* Where the bytes go: the temporary name, else the file. */
const char *ftp_upload_target(const struct ftp_upload *u);

/* Our content, from byte 0, in order (for the digest of -o verify). */
void ftp_upload_digest(struct ftp_upload *u, const void *buf, size_t len);

/* The content does not start at byte 0 (an append to a file we never
 * read): only the size can be checked. */
void ftp_upload_size_only(struct ftp_upload *u);

/* Does committing send commands (a check, a rename)?  Else it needs no
 * connection. */
bool ftp_upload_needs_commit(const struct ftp_upload *u);

/*
 * All @size bytes are on the server (the transfer ended with 2xx): check
 * them as the flags say, rename the temporary file over the file.
 * Returns 0, -EIO (the server holds something else: c->err says what), or
 * the error of a command; on failure a temporary file is deleted (if the
 * connection still works).  Ends the upload - except when the connection
 * broke on the way (ftp_upload_cut()): then call it again on a fresh
 * connection (it first learns whether the rename was done before its
 * reply was lost), or give up with ftp_upload_abandon().
 */
int ftp_upload_commit(struct ftp_conn *c, struct ftp_upload *u, uint64_t size);

/* Did the last ftp_upload_commit() lose its connection (see above)? */
bool ftp_upload_cut(const struct ftp_upload *u);

/* Give up: delete the temporary file if there is one and @c (may be
 * NULL) still works.  Ends the upload. */
void ftp_upload_abandon(struct ftp_conn *c, struct ftp_upload *u);

/* Free what the upload holds (no I/O); safe to call twice. */
void ftp_upload_end(struct ftp_upload *u);

/*
 * After a cut transfer: where can it go on?  The server's copy of the
 * target (SIZE; a missing file counts as empty) must end within
 * [@lo, @hi], the bytes we can still send again.  Returns 0 with *off,
 * -EIO (outside: c->err says how far), or the error of asking.  Once the
 * upload goes on from *off, its commit compares SIZE too.
 */
int ftp_upload_resume_point(struct ftp_conn *c, struct ftp_upload *u,
			    uint64_t lo, uint64_t hi, uint64_t *off);

#endif
