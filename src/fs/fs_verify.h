/*
 * fs_verify.h - -o verify: after each upload the server must show our
 * size and, where it offers HASH with an algorithm we can compute here
 * (SHA-256, SHA-512, SHA-1, MD5, strongest first), our digest of the whole
 * file.  A mismatch is EIO for the writer; with atomic_upload the target
 * is not replaced.
 *
 * The digest of a streamed upload is computed as the bytes go out; of a
 * spool upload, from the spool.  An append to a file whose start we never
 * read (shell >>) can only be checked by size.
 */
#ifndef FTPSFS_FS_VERIFY_H
#define FTPSFS_FS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evp_md_ctx_st;
struct fs_ctx;
struct ftp_conn;
struct spool;

struct fs_verify {
	struct evp_md_ctx_st *md; /* digest from byte 0; NULL: size only */
	int algo;		  /* enum ftp_hash_algo of md */
};

/* Begin for new content from byte 0 (an algorithm the server offers, or
 * size only).  Returns 0 or -ENOMEM. */
int fs_verify_start(struct fs_ctx *ctx, struct fs_verify *v);

void fs_verify_update(struct fs_verify *v, const void *buf, size_t len);

/* The content is not known from byte 0: compare sizes only. */
void fs_verify_size_only(struct fs_verify *v);

/* Feed the spool's whole content.  Returns 0 or a negative errno. */
int fs_verify_spool(struct fs_verify *v, const struct spool *sp);

/*
 * The server's @path must hold @size bytes and (if a digest runs) the
 * same digest.  Returns 0, -EIO (logged, with both values), or the error
 * of asking.  Ends the digest either way.
 */
int fs_verify_check(struct fs_verify *v, struct ftp_conn *c, const char *path,
		    uint64_t size);

void fs_verify_free(struct fs_verify *v);

#endif
