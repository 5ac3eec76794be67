/*
 * fs_symlink.h - readlink's view of a server's symlink target.
 */
#ifndef FTPSFS_FS_SYMLINK_H
#define FTPSFS_FS_SYMLINK_H

#include <stddef.h>
#include <stdint.h>

struct fs_ctx;

/*
 * What readlink shows for symlink @ino whose server target is @target,
 * under the mount's symlink policy (symlink_policy.h).  Returns 0 with
 * @out, -EPERM (the target leaves the mount: logged), or another negative
 * errno.
 */
int fs_symlink_present(struct fs_ctx *ctx, uint64_t ino, const char *target,
		       char *out, size_t outsz);

#endif
