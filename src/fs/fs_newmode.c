/*
 * fs_newmode.c - the mode the server gives the files we create, learnt per
 * directory, so that a created file whose asked mode is that one needs no
 * SITE CHMOD: one round trip less per file for cp -r (issue 17).
 *
 * A server creates files with its own umask (vsftpd's local_umask,
 * ProFTPD's Umask, which may differ per directory).  The first CHMOD in a
 * directory asks in its flight what the new file had before
 * (ftp_op_chmod_learn()); later files there whose mode is that one are left
 * as the server made them.  A guess is never stored: only what the server
 * said of a file we had just uploaded, before anything changed its mode.
 *
 * Lock-free: each of the 16 slots packs 48 bits of the directory path's
 * hash, a "known" bit and the 12 permission bits in one atomic word; a
 * second directory hashed to the slot replaces the first (it is then
 * learnt again, at no extra round trip).
 */
#include <string.h>

#include "fs_internal.h"

#define NM_SLOTS                                                               \
	(sizeof(((struct fs_ctx *)0)->new_file_mode) /                         \
	 sizeof(((struct fs_ctx *)0)->new_file_mode[0]))
#define NM_KNOWN  0x8000ull
#define NM_TAG(h) ((h) & ~0xffffull)

/* FNV-1a of the directory part of @path (all before the last '/'). */
static uint64_t nm_dir_hash(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)path[i];
		h *= 1099511628211ull;
	}
	return h;
}

int fs_newmode_get(struct fs_ctx *ctx, const char *path)
{
	uint64_t h = nm_dir_hash(path);
	uint64_t v = atomic_load(&ctx->new_file_mode[h % NM_SLOTS]);

	if (!(v & NM_KNOWN) || NM_TAG(v) != NM_TAG(h))
		return -1;
	return (int)(v & 07777);
}

void fs_newmode_set(struct fs_ctx *ctx, const char *path, int mode)
{
	uint64_t h = nm_dir_hash(path);

	if (mode < 0)
		return;
	atomic_store(&ctx->new_file_mode[h % NM_SLOTS],
		     NM_TAG(h) | NM_KNOWN | (uint64_t)(mode & 07777));
}
