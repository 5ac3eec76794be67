/*
 * symlink_policy.h - what readlink shows for a symlink the server reports.
 *
 * The kernel follows a symlink's target on the LOCAL machine: an absolute
 * target "/etc/passwd" would open the client's own /etc/passwd, and
 * "../../.." would climb out of the mount point.  A hostile server could
 * so make programs that walk the mount (cp -r, rsync, a backup) read or
 * overwrite local files (the sshfs CVE that added contain_symlinks).  So:
 *
 * SYMLINK_TRANSFORM (default on): an absolute target below the mount's
 *   remote root is rewritten as the relative path from the link's
 *   directory ("/srv/ftp/a/b" seen from "/srv/ftp/x" is "../a/b"), as
 *   sshfs's transform_symlinks does.  It then points where the server
 *   meant, inside the mount.  Other targets are left as they are.
 *
 * SYMLINK_CONTAIN (default on): what would be shown must stay inside the
 *   mount, else readlink fails with EPERM (sshfs's contain_symlinks).  A
 *   target is contained only if it is relative, its ".." components all
 *   come first, and there are no more of them than the link's depth below
 *   the mount root ("../a" from "root/x/link" is fine, "../../a" is not).
 *   A ".." AFTER a name ("a/../../b") is refused although it might be
 *   harmless: "a" could itself be a symlink, and ".." then climbs from
 *   wherever "a" points, which lexical reasoning cannot see.  With leading
 *   ".." only, each step climbs from the link's real directory, and every
 *   name after them is a real entry or a symlink checked by this same
 *   rule, so no path through the mount escapes it.
 *
 * Without SYMLINK_CONTAIN the (possibly transformed) target is shown as
 * the server sent it.
 *
 * Pure function: no I/O, no globals.
 */
#ifndef FTPSFS_SYMLINK_POLICY_H
#define FTPSFS_SYMLINK_POLICY_H

#include <stddef.h>

#define SYMLINK_CONTAIN	  1u
#define SYMLINK_TRANSFORM 2u

/*
 * @root: absolute remote path of the mount root; @linkdir: absolute remote
 * path of the directory holding the link (at or below @root); @target: the
 * link's target as the server reported it.  On success writes what
 * readlink shows into @out and returns 0.  Returns -EPERM when containment
 * refuses the target, -EIO for an empty target, -EINVAL when @linkdir is
 * not below @root, -ENAMETOOLONG when @out is too small.
 */
int symlink_present(const char *root, const char *linkdir, const char *target,
		    unsigned flags, char *out, size_t outsz);

/*
 * The other way: the target to send when a program creates a symlink to
 * @target in @linkdir (remote, at or below @root).  SITE SYMLINK (ProFTPD)
 * resolves a relative target against the connection's working directory,
 * not the link's, so it is sent as an absolute path: @linkdir joined with
 * @target, "." and ".." resolved lexically; the server shows it back as
 * that absolute path, which symlink_present() turns into the relative one
 * again.  Refused with -EPERM: an absolute @target (a path on this machine
 * names nothing on the server) and one that climbs above @root (outside
 * the mount).  Also -EIO for an empty target, -EINVAL when @linkdir is not
 * below @root, -ENAMETOOLONG.
 */
int symlink_server_target(const char *root, const char *linkdir,
			  const char *target, char *out, size_t outsz);

#endif
