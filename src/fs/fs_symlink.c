/*
 * fs_symlink.c - apply the symlink policy to the link being read.
 */
#include <errno.h>
#include <string.h>

#include "fs_internal.h"
#include "fs_symlink.h"
#include "ftpsfs/log.h"
#include "ftpsfs/symlink_policy.h"

int fs_symlink_present(struct fs_ctx *ctx, uint64_t ino, const char *target,
		       char *out, size_t outsz)
{
	char root[FS_PATH_MAX], link[FS_PATH_MAX], dir[FS_PATH_MAX];
	char esc_link[256], esc_target[256];
	char *slash;
	int ret;

	ret = itab_path(ctx->itab, FUSE_ROOT_ID, root, sizeof(root));
	if (ret == 0)
		ret = itab_path(ctx->itab, ino, link, sizeof(link));
	if (ret < 0)
		return ret;
	/* The directory holding the link: its path minus the last name. */
	memcpy(dir, link, strlen(link) + 1);
	slash = strrchr(dir, '/');
	if (!slash)
		return -EIO;
	slash[slash == dir ? 1 : 0] = '\0';
	ret = symlink_present(root, dir, target, ctx->symlink_flags, out,
			      outsz);
	if (ret == -EPERM)
		log_warn("symlink %s -> %s points outside the mount: not shown "
			 "(EPERM; -o no_contain_symlinks shows it)",
			 log_escape(esc_link, sizeof(esc_link), link,
				    strlen(link)),
			 log_escape(esc_target, sizeof(esc_target), target,
				    strlen(target)));
	return ret;
}
