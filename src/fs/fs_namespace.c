/*
 * fs_namespace.c - mkdir, unlink, rmdir, rename, symlink, link.
 *
 * Each maps to one FTP command (RFC 959 4.1.3) and then updates the cache
 * in place, so that "ls" right after shows the change without a new
 * listing.  rename over an existing file is done by the server where it
 * allows it; where it refuses, the target is first moved aside and only
 * deleted once the rename succeeded, so a failure never loses both files.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_internal.h"
#include "fs_wfile.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/log.h"
#include "ftpsfs/lsparse.h"
#include "ftpsfs/symlink_policy.h"

struct ns_op {
	const char *path;
	const char *path2;
	bool target_exists; /* rename: something is at path2 */
	bool target_is_dir;
	mode_t mode;		 /* mkdir */
	bool chmod_failed;	 /* mkdir: the server's mode stands */
	bool maybe_done;	 /* a try lost its reply with its connection */
	struct ftp_attrs *attrs; /* rename: the file's time and mode that
				  * waited for it (fs_attrq.c), or NULL */
};

/*
 * A command whose connection broke before its reply came may have been
 * carried out: fs_with_conn() tries again on a fresh connection, and
 * that try must not report the work as failed ("no such file" for a DELE
 * done the first time) nor do it twice.  Each operation below checks,
 * on its next try, what the server now holds (@done says whether the
 * work is there); a failure that says nothing of it stays a failure.
 */
static int ns_settle(struct ftp_conn *c, struct ns_op *op, int ret, bool done)
{
	if (ret < 0 && op->maybe_done && done) {
		log_info("%s: done before the connection was lost (its reply "
			 "never came)",
			 op->path);
		return 0;
	}
	if (ret < 0 && ftp_conn_broken(c))
		op->maybe_done = true;
	return ret;
}

/* Is something (of @type, or anything if negative) at @path now? */
static bool ns_is_there(struct ftp_conn *c, const char *path, int type)
{
	int what = ftp_op_what_is(c, path);

	return what >= 0 && (type < 0 || what == type);
}

/*
 * MKD, then SITE CHMOD to the mode asked for: the server applies its own
 * umask, and a mode we only pretend to have misleads programs that
 * compare (rsync -a skips a chmod it thinks is done).  Without SITE
 * CHMOD the directory keeps the server's mode; *chmod_failed says so.
 */
static int ns_mkdir(struct ftp_conn *c, void *arg)
{
	struct ns_op *op = arg;
	int ret = ftp_op_mkdir(c, op->path);

	if (ret < 0 && op->maybe_done && !ftp_conn_broken(c))
		ret = ns_settle(c, op, ret,
				ns_is_there(c, op->path, FTP_ENTRY_DIR));
	else
		ret = ns_settle(c, op, ret, false);
	if (ret == 0 && ftp_op_chmod(c, op->path, op->mode) < 0)
		op->chmod_failed = true;
	return ret;
}

/* DELE and RMD refused on a later try: done if nothing is there now
 * (vsftpd's 550 does not say whether the name is missing). */
static int ns_removed(struct ftp_conn *c, struct ns_op *op, int ret)
{
	if (ret < 0 && op->maybe_done && !ftp_conn_broken(c))
		return ns_settle(c, op, ret,
				 ftp_op_what_is(c, op->path) == -ENOENT);
	return ns_settle(c, op, ret, false);
}

static int ns_delete(struct ftp_conn *c, void *arg)
{
	struct ns_op *op = arg;

	return ns_removed(c, op, ftp_op_delete(c, op->path));
}

static int ns_rmdir(struct ftp_conn *c, void *arg)
{
	struct ns_op *op = arg;

	return ns_removed(c, op, ftp_op_rmdir(c, op->path));
}

static int ns_symlink(struct ftp_conn *c, void *arg)
{
	struct ns_op *op = arg;
	int ret = ftp_op_symlink(c, op->path2, op->path);

	if (ret < 0 && op->maybe_done && !ftp_conn_broken(c))
		return ns_settle(c, op, ret, ns_is_there(c, op->path, -1));
	return ns_settle(c, op, ret, false);
}

/* Both paths of an entry pair, or a negative errno. */
static int ns_paths(struct fs_ctx *ctx, uint64_t parent, const char *name,
		    char *path, uint64_t parent2, const char *name2,
		    char *path2)
{
	int ret = fs_check_name(name);

	if (ret == 0)
		ret = itab_child_path(ctx->itab, parent, name, path,
				      FS_PATH_MAX);
	if (ret == 0 && name2)
		ret = fs_check_name(name2);
	if (ret == 0 && name2)
		ret = itab_child_path(ctx->itab, parent2, name2, path2,
				      FS_PATH_MAX);
	return ret;
}

/* @empty: a directory known to be empty (its listing is installed before
 * the kernel can ask for anything in it). */
static void ns_reply_new_entry(fuse_req_t req, uint64_t parent,
			       const char *name, struct stat *attr,
			       const char *link, bool empty)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fuse_entry_param e;
	struct stat st;
	int ret;

	attr->st_uid = ctx->uid;
	attr->st_gid = ctx->gid;
	attr->st_blksize = 4096;
	clock_gettime(CLOCK_REALTIME, &attr->st_mtim);
	attr->st_atim = attr->st_ctim = attr->st_mtim;
	itab_touch_dir(ctx->itab, parent);
	ret = itab_add_entry(ctx->itab, parent, name, attr, link, &st);
	if (ret < 0) {
		/* Done on the server; our cache will learn it later. */
		itab_invalidate_dir(ctx->itab, parent);
		fs_reply_err(req, -ret);
		return;
	}
	if (empty)
		(void)itab_set_listing(ctx->itab, st.st_ino, NULL, 0, ITAB_NOW,
				       0);
	fs_fill_entry(ctx, &st, &e);
	fuse_reply_entry(req, &e);
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	char path[FS_PATH_MAX];
	struct ns_op op = { .path = path };
	struct stat attr;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	op.mode = mode & 07777 & ~(fc ? fc->umask : 022);
	ret = ctx->read_only ? -EROFS
			     : ns_paths(ctx, parent, name, path, 0, NULL, NULL);
	if (ret == 0) {
		ret = fs_with_conn_for(req, ctx, ns_mkdir, &op);
		if (ret < 0)
			ret = fs_check_dir_gone(ctx, parent, ret);
	}
	if (ret < 0) {
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	memset(&attr, 0, sizeof(attr));
	attr.st_mode = S_IFDIR | fs_shown_perm(ctx, S_IFDIR, op.mode);
	attr.st_nlink = 2;
	attr.st_size = 4096;
	/* The MKD made it, so it is empty: no listing to fetch before cp -r
	 * or tar x fill it (four round trips at least).  Not after a lost
	 * reply: what is there then may not be ours. */
	ns_reply_new_entry(req, parent, name, &attr, NULL,
			   !op.maybe_done && !op.chmod_failed);
	if (op.chmod_failed) /* the mode above is a guess: ask the server */
		itab_invalidate_dir(ctx->itab, parent);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	char path[FS_PATH_MAX];
	struct ns_op op = { .path = path };
	struct fs_wfile *wf = NULL;
	bool on_server = true;
	uint64_t ino = 0;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	ret = ctx->read_only ? -EROFS
			     : ns_paths(ctx, parent, name, path, 0, NULL, NULL);
	if (ret < 0)
		goto out;
	/* Data still being written to it has nowhere to go now; a file
	 * created but not yet uploaded is not on the server at all.  (The
	 * inode is found by name, also when the listing expired.) */
	fs_readahead_forget_name(ctx, parent, name);
	if (itab_find_child(ctx->itab, parent, name, &ino) == 0)
		wf = fs_wfile_find(ctx, ino);
	if (wf) {
		on_server = fs_wfile_discard(ctx, wf);
		fs_wfile_put(ctx, wf);
	}
	if (on_server)
		ret = fs_with_conn_for(req, ctx, ns_delete, &op);
	if (ret < 0)
		ret = fs_check_dir_gone(ctx, parent, ret);
	if (ret == 0 && ino)
		fs_attrq_forget(ctx, ino); /* nothing left to set them on */
	if (ret == 0) {
		itab_remove(ctx->itab, parent, name);
		itab_touch_dir(ctx->itab, parent);
	}
out:
	fs_reply_err(req, -ftp_errno_kernel(ret));
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	char path[FS_PATH_MAX];
	struct ns_op op = { .path = path };
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	ret = ctx->read_only ? -EROFS
			     : ns_paths(ctx, parent, name, path, 0, NULL, NULL);
	if (ret == 0) {
		ret = fs_with_conn_for(req, ctx, ns_rmdir, &op);
		if (ret < 0)
			ret = fs_check_dir_gone(ctx, parent, ret);
	}
	if (ret == 0) {
		itab_remove(ctx->itab, parent, name);
		itab_touch_dir(ctx->itab, parent);
	}
	fs_reply_err(req, -ftp_errno_kernel(ret));
}

/* Directory over directory: rename(2) may replace an empty one. */
static int ns_rename_over_dir(struct ftp_conn *c, struct ns_op *op)
{
	int ret = ftp_op_rmdir(c, op->path2);

	if (ret < 0)
		return ret == -EACCES ? -ENOTEMPTY : ret;
	return ftp_op_rename(c, op->path, op->path2);
}

/*
 * File over file on a server that refuses to replace: move the target
 * aside, rename, then delete the old copy - or put it back if the rename
 * still fails.  Never both copies lost; not atomic (documented).
 */
static int ns_rename_over_file(struct ftp_conn *c, struct ns_op *op, int err)
{
	const char *slash = strrchr(op->path2, '/');
	char aside[FS_PATH_MAX];
	unsigned char rnd[6];
	int ret;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return err;
	snprintf(aside, sizeof(aside),
		 "%.*s/.ftpsfs-old-%02x%02x%02x%02x%02x%02x",
		 slash ? (int)(slash - op->path2) : 0, op->path2, rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	if (ftp_op_rename(c, op->path2, aside) < 0)
		return err; /* the target was not what stood in the way */
	ret = ftp_op_rename(c, op->path, op->path2);
	if (ret == 0) {
		if (ftp_op_delete(c, aside) < 0)
			log_warn(
				"renamed over %s, but could not delete its old "
				"copy %s",
				op->path2, aside);
		return 0;
	}
	if (ftp_op_rename(c, aside, op->path2) < 0)
		log_err("rename failed and the old %s is now %s", op->path2,
			aside);
	return ret;
}

/* RNFR refused on a later try: done if the source is gone and the
 * target is there. */
static bool ns_renamed(struct ftp_conn *c, const struct ns_op *op)
{
	return ftp_op_what_is(c, op->path) == -ENOENT &&
	       ns_is_there(c, op->path2, -1);
}

static int ns_rename(struct ftp_conn *c, void *arg)
{
	struct ns_op *op = arg;
	/* Only onto a free name: a refused rename must not leave them to
	 * change the file that is there. */
	int ret = ftp_op_rename_attrs(c, op->path, op->path2,
				      op->target_exists ? NULL : op->attrs);

	if (ret == -ENOENT && op->maybe_done && !ftp_conn_broken(c))
		return ns_settle(c, op, ret, ns_renamed(c, op));
	ret = ns_settle(c, op, ret, false);
	if (ret == 0 || ftp_conn_broken(c) || ret == -ENOENT ||
	    !op->target_exists)
		return ret;
	return op->target_is_dir ? ns_rename_over_dir(c, op)
				 : ns_rename_over_file(c, op, ret);
}

/* The time and mode that rode with a rename: a failure is logged; a
 * rename that failed leaves them to send to the file where it is. */
static void ns_rename_attrs_done(struct fs_ctx *ctx, uint64_t ino, int ret,
				 const struct ftp_attrs *a)
{
	if (ret < 0)
		fs_attrq_send(ctx, ino, a);
	else if (a->result < 0)
		log_warn("renamed, but its time or mode was not set: %s",
			 strerror(-a->result));
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	char path[FS_PATH_MAX], path2[FS_PATH_MAX];
	struct ns_op op = { .path = path, .path2 = path2 };
	struct ftp_attrs attrs = { 0 };
	uint64_t ino = 0, victim = 0;
	struct stat st;
	int ret, exists;

	FS_READY_OR_REPLY(req, ctx);
	if (ctx->read_only) {
		ret = -EROFS;
		goto out;
	}
	/* RENAME_EXCHANGE cannot be done with FTP commands. */
	if (flags & ~RENAME_NOREPLACE) {
		ret = -EINVAL;
		goto out;
	}
	ret = ns_paths(ctx, parent, name, path, newparent, newname, path2);
	if (ret < 0)
		goto out;
	/* The server must have the file before it can rename it, and a
	 * file open for writing at the target its content, in case the
	 * rename fails. */
	if (itab_find_child(ctx->itab, parent, name, &ino) == 0) {
		ret = fs_flush_inode(ctx, ino);
		if (ret < 0)
			goto out;
	}
	if (itab_find_child(ctx->itab, newparent, newname, &victim) == 0 &&
	    victim != ino) {
		ret = fs_flush_inode(ctx, victim);
		if (ret < 0)
			goto out;
	} else {
		victim = 0;
	}
	exists = itab_lookup(ctx->itab, newparent, newname, &st);
	if (exists == 0) {
		itab_forget(ctx->itab, st.st_ino, 1);
		if (flags & RENAME_NOREPLACE) {
			ret = -EEXIST;
			goto out;
		}
		op.target_exists = true;
		op.target_is_dir = S_ISDIR(st.st_mode);
	}
	/* A time and mode set since the upload ride in the rename's flight
	 * (rsync: write .name.XXXXXX, set them, rename), or go first when
	 * something is at the target. */
	if (ino && op.target_exists)
		fs_attrq_flush(ctx, ino);
	else if (ino && fs_attrq_take(ctx, ino, &attrs))
		op.attrs = &attrs;
	ret = fs_with_conn_for(req, ctx, ns_rename, &op);
	if (op.attrs)
		ns_rename_attrs_done(ctx, ino, ret, &attrs);
	if (ret < 0)
		ret = fs_check_dir_gone(ctx, parent, ret);
	if (ret < 0 && ret != -ENOENT && newparent != parent)
		ret = fs_check_dir_gone(ctx, newparent, ret);
	if (ret == 0 && victim)
		fs_discard_inode(ctx, victim); /* replaced: like unlinked */
	/* Fetched under the old names: not worth keeping. */
	fs_readahead_forget_name(ctx, parent, name);
	fs_readahead_forget_name(ctx, newparent, newname);
	if (ret == 0)
		ret = itab_rename(ctx->itab, parent, name, newparent, newname);
	if (ret == 0) {
		itab_touch_dir(ctx->itab, parent);
		itab_touch_dir(ctx->itab, newparent);
	}
	if (ret < 0) {
		/* What the server now has is uncertain: ask again later. */
		itab_invalidate_dir(ctx->itab, parent);
		itab_invalidate_dir(ctx->itab, newparent);
	}
out:
	fs_reply_err(req, -ftp_errno_kernel(ret));
}

/* The target to send for a new link in @parent (symlink_policy.h). */
static int ns_symlink_target(struct fs_ctx *ctx, uint64_t parent,
			     const char *link, char *out, size_t outsz)
{
	char root[FS_PATH_MAX], dir[FS_PATH_MAX];
	int ret = itab_path(ctx->itab, FUSE_ROOT_ID, root, sizeof(root));

	if (ret == 0)
		ret = itab_path(ctx->itab, parent, dir, sizeof(dir));
	if (ret == 0)
		ret = symlink_server_target(root, dir, link, out, outsz);
	if (ret == -EPERM)
		log_info(
			"symlink to %s refused: only targets inside the mount, "
			"given relative, can be created on the server",
			link);
	return ret;
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	char path[FS_PATH_MAX], target[FS_PATH_MAX];
	struct ns_op op = { .path = path, .path2 = target };
	struct stat attr;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	ret = ctx->read_only ? -EROFS
			     : ns_paths(ctx, parent, name, path, 0, NULL, NULL);
	if (ret == 0 && strpbrk(link, "\r\n"))
		ret = -EINVAL;
	if (ret == 0)
		ret = ns_symlink_target(ctx, parent, link, target,
					sizeof(target));
	if (ret == 0) {
		ret = fs_with_conn_for(req, ctx, ns_symlink, &op);
		if (ret < 0)
			ret = fs_check_dir_gone(ctx, parent, ret);
	}
	if (ret < 0) {
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	memset(&attr, 0, sizeof(attr));
	attr.st_mode = S_IFLNK | 0777;
	attr.st_nlink = 1;
	attr.st_size = (off_t)strlen(link);
	ns_reply_new_entry(req, parent, name, &attr, link, false);
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	/* FTP has no hard links.  EPERM is what link(2) returns for a file
	 * system that does not support them (and what makes git fall back
	 * to rename). */
	fs_reply_err(req, fs_ctx_of(req)->read_only ? EROFS : EPERM);
}
