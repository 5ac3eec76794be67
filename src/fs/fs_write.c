/*
 * fs_write.c - create, write, flush, fsync, setattr, mknod.
 *
 * The write state itself lives in fs_wfile.c; here are the FUSE entry
 * points and the attribute changes (size, mode, times, owner).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fs_internal.h"
#include "fs_wfile.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_learned.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/log.h"

int fs_check_name(const char *name)
{
	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	/* CR or LF would end the FTP command early (command injection). */
	if (strpbrk(name, "\r\n"))
		return -EINVAL;
	return 0;
}

int fs_flush_inode(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_wfile *wf = fs_wfile_find(ctx, ino);
	int ret;

	if (!wf)
		return 0;
	ret = fs_wfile_flush(ctx, wf);
	fs_wfile_put(ctx, wf);
	return ret;
}

void fs_discard_inode(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_wfile *wf = fs_wfile_find(ctx, ino);

	if (wf) {
		(void)fs_wfile_discard(ctx, wf);
		fs_wfile_put(ctx, wf);
	}
}

/* Mode for a new file or directory, with the caller's umask applied. */
static mode_t fs_new_mode(fuse_req_t req, mode_t mode)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);

	return mode & 07777 & ~(fc ? fc->umask : 022);
}

/* An upload of @ino failed with @err: is its directory gone? */
static int flush_check_dir(struct fs_ctx *ctx, uint64_t ino, int err)
{
	char name[NAME_MAX + 1];
	uint64_t parent;

	if (err < 0 &&
	    itab_parent_name(ctx->itab, ino, &parent, name, sizeof(name)) == 0)
		return fs_check_dir_gone(ctx, parent, err);
	return err;
}

/* Does @name exist in @parent?  Returns 0 with *exists (and *st when it
 * does), or a negative errno. */
static int fs_exists(struct fs_ctx *ctx, uint64_t parent, const char *name,
		     bool *exists, struct stat *st)
{
	char link[FS_PATH_MAX];
	int ret = itab_lookup(ctx->itab, parent, name, st);

	if (ret == 0) {
		/* itab_lookup counted a lookup: give it back. */
		itab_forget(ctx->itab, st->st_ino, 1);
	} else if (ret == -EAGAIN) {
		ret = fs_stat_remote(ctx, parent, name, st, link, sizeof(link),
				     NULL);
	}
	*exists = ret == 0;
	return ret == -ENOENT ? 0 : ret;
}

/*
 * The part of create and mknod that makes the entry and its write state:
 * on success *fout is an open handle (for writing) and *st the entry's
 * attributes, with one lookup counted for the kernel.
 */
static int create_common(fuse_req_t req, uint64_t parent, const char *name,
			 mode_t mode, int flags, struct fs_file **fout,
			 struct stat *st)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_file *f = NULL;
	struct stat attr;
	bool fresh, exists;
	int ret;

	if (ctx->read_only)
		return -EROFS;
	ret = fs_check_name(name);
	if (ret == 0)
		ret = fs_exists(ctx, parent, name, &exists, &attr);
	if (ret < 0)
		return ret;
	/* O_EXCL is checked against what we know of the server; FTP offers
	 * no atomic exclusive create (documented). */
	if (exists && (flags & O_EXCL))
		return -EEXIST;
	if (exists && S_ISDIR(attr.st_mode))
		return -EISDIR;
	if (!exists) {
		memset(&attr, 0, sizeof(attr));
		attr.st_mode = S_IFREG | fs_shown_perm(ctx, S_IFREG,
						       fs_new_mode(req, mode));
		attr.st_nlink = 1;
		attr.st_uid = ctx->uid;
		attr.st_gid = ctx->gid;
		attr.st_blksize = 4096;
		clock_gettime(CLOCK_REALTIME, &attr.st_mtim);
		attr.st_atim = attr.st_ctim = attr.st_mtim;
	}
	ret = itab_add_entry(ctx->itab, parent, name, &attr, NULL, st);
	if (ret < 0)
		return ret;
	if (!exists)
		itab_touch_dir(ctx->itab, parent);
	ret = fs_file_new(ctx, st->st_ino, &f);
	if (ret == 0)
		ret = fs_wfile_get(ctx, st->st_ino, &f->wf, &fresh);
	if (ret == 0 && (!exists || (flags & O_TRUNC))) {
		if (fresh)
			fs_wfile_init_empty(ctx, f->wf, exists,
					    (uint64_t)attr.st_size,
					    fs_new_mode(req, mode));
		else
			ret = fs_wfile_truncate(ctx, f->wf, 0);
	} else if (ret == 0 && fresh) {
		fs_wfile_init_existing(f->wf, (uint64_t)attr.st_size);
	}
	if (ret == 0 && fresh)
		fs_wfile_wb_init(ctx, f->wf, exists);
	if (ret < 0) {
		if (f)
			fs_file_free(f);
		if (!exists)
			itab_remove(ctx->itab, parent, name);
		itab_forget(ctx->itab, st->st_ino, 1);
		return ret;
	}
	(void)itab_getattr(ctx->itab, st->st_ino, st);
	*fout = f;
	return 0;
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fuse_entry_param e;
	struct fs_file *f;
	struct stat st;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	ret = create_common(req, parent, name, mode, fi->flags, &f, &st);
	if (ret < 0) {
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	fs_fill_entry(ctx, &st, &e);
	fi->fh = (uintptr_t)f;
	if (fuse_reply_create(req, &e, fi) != 0) {
		fs_file_free(f);
		itab_forget(ctx->itab, st.st_ino, 1);
	}
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fuse_entry_param e;
	struct fs_file *f;
	struct stat st;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	(void)rdev;
	/* FTP stores files; devices, fifos and sockets cannot exist there. */
	if (!S_ISREG(mode)) {
		fs_reply_err(req, EPERM);
		return;
	}
	ret = create_common(req, parent, name, mode, O_CREAT | O_EXCL, &f, &st);
	if (ret < 0) {
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	/* mknod returns no open file: store the empty file now. */
	ret = flush_check_dir(ctx, st.st_ino, fs_wfile_flush(ctx, f->wf));
	fs_file_free(f);
	if (ret < 0) {
		itab_remove(ctx->itab, parent, name);
		itab_forget(ctx->itab, st.st_ino, 1);
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	(void)itab_getattr(ctx->itab, st.st_ino, &st);
	fs_fill_entry(ctx, &st, &e);
	fuse_reply_entry(req, &e);
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		 off_t off, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	int ret;

	if (!f->wf) {
		fs_reply_err(req, EBADF);
		return;
	}
	/* A streamed upload starts here (its STOR): a refusal may mean
	 * that the directory is gone. */
	ret = flush_check_dir(
		ctx, ino, fs_wfile_write(ctx, f->wf, buf, size, (uint64_t)off));
	if (ret < 0)
		fs_reply_err(req, -ftp_errno_kernel(ret));
	else
		fuse_reply_write(req, size);
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	int ret = 0;

	/* close(): this is where a failed upload must be reported (with
	 * -o writeback: where the content is journaled, fs_wback.h). */
	if (f->wf)
		ret = flush_check_dir(fs_ctx_of(req), ino,
				      fs_wfile_close(fs_ctx_of(req), f->wf));
	fs_reply_err(req, -ftp_errno_kernel(ret));
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	int ret = 0;

	(void)ino;
	(void)datasync;
	/* Always "the server has it", also with -o writeback. */
	if (f->wf)
		ret = fs_wfile_flush(fs_ctx_of(req), f->wf);
	if (ret == 0)
		fs_attrq_flush(fs_ctx_of(req), f->ino);
	fs_reply_err(req, -ftp_errno_kernel(ret));
}

/* ---- setattr ---- */

static int setattr_size(struct fs_ctx *ctx, uint64_t ino, uint64_t size,
			struct fuse_file_info *fi)
{
	struct fs_file *f = fi ? (struct fs_file *)(uintptr_t)fi->fh : NULL;
	struct fs_wfile *wf;
	struct stat st;
	bool fresh;
	int ret;

	if (f && f->wf)
		return fs_wfile_truncate(ctx, f->wf, size);
	/* truncate(2) by path: apply and upload now. */
	ret = itab_getattr(ctx->itab, ino, &st);
	if (ret == -ESTALE)
		return ret;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	ret = fs_wfile_get(ctx, ino, &wf, &fresh);
	if (ret < 0)
		return ret;
	if (fresh)
		fs_wfile_init_existing(wf, (uint64_t)st.st_size);
	ret = fs_wfile_truncate(ctx, wf, size);
	if (ret == 0)
		ret = fs_wfile_flush(ctx, wf);
	fs_wfile_put(ctx, wf);
	return ret;
}

struct attr_op {
	struct fs_ctx *ctx;
	const char *path;
	mode_t mode;
	int64_t mtime;
	bool is_dir;
};

static int attr_chmod(struct ftp_conn *c, void *arg)
{
	struct attr_op *op = arg;

	return ftp_op_chmod(c, op->path, op->mode);
}

static int attr_mtime(struct ftp_conn *c, void *arg)
{
	struct attr_op *op = arg;

	return ftp_learned_set_mtime(c, op->path, op->mtime, op->is_dir);
}

int fs_set_remote_mtime(struct fs_ctx *ctx, const char *path, int64_t sec,
			bool is_dir)
{
	struct attr_op op = {
		.ctx = ctx, .path = path, .mtime = sec, .is_dir = is_dir
	};

	return fs_with_conn(ctx, attr_mtime, &op);
}

/* -o writeback: a file whose upload is pending gets its time after the
 * upload, not now (fs_wback.h).  A file just uploaded and no longer open
 * for writing gets it with its rename (fs_attrq.c). */
static bool setattr_defer_mtime(struct fs_ctx *ctx, uint64_t ino, int64_t sec)
{
	struct fs_wfile *wf = fs_wfile_find(ctx, ino);
	bool deferred = wf ? ctx->wback && fs_wfile_defer_mtime(ctx, wf, sec)
			   : fs_attrq_defer(ctx, ino, NULL, &sec);

	if (wf)
		fs_wfile_put(ctx, wf);
	return deferred;
}

/*
 * A server that keeps file times may still refuse to set a directory's
 * (vsftpd).  That is EPERM - unless the user chose ignore_dir_times,
 * which lets tar and rsync -a finish cleanly at the price of directory
 * times (said once in the log): then 0, with nothing more to do.
 */
static int setattr_dir_time_refused(struct fs_ctx *ctx, const char *path,
				    int err)
{
	if (!ctx->ignore_dir_times)
		return -EPERM;
	if (!atomic_exchange(&ctx->warned_dir_times, true))
		log_warn("the server cannot set directory times (%s: %s); "
			 "ignoring them as ignore_dir_times asks",
			 path, strerror(-err));
	return 0;
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	char path[FS_PATH_MAX];
	struct attr_op op = { .ctx = ctx, .path = path };
	struct stat st;
	int ret;

	FS_READY_OR_REPLY(req, ctx);
	if (ctx->read_only) {
		fs_reply_err(req, EROFS);
		return;
	}
	ret = itab_path(ctx->itab, ino, path, sizeof(path));
	if (ret < 0)
		goto out;
	/* Owners are not FTP's business: every file shows as the mounting
	 * user's, so "changing" to that is true already; anything else is
	 * refused. */
	if (((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != ctx->uid) ||
	    ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != ctx->gid)) {
		ret = -EPERM;
		goto out;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		ret = setattr_size(ctx, ino, (uint64_t)attr->st_size, fi);
		if (ret < 0)
			goto out;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		struct fs_wfile *wf = fs_wfile_find(ctx, ino);

		op.mode = attr->st_mode;
		/* A file created but not uploaded yet gets it afterwards;
		 * one just uploaded with its rename (fs_attrq.c). */
		if ((!wf || !fs_wfile_defer_chmod(ctx, wf, op.mode)) &&
		    !fs_attrq_defer(ctx, ino, &op.mode, NULL))
			ret = fs_with_conn_for(req, ctx, attr_chmod, &op);
		if (wf)
			fs_wfile_put(ctx, wf);
		if (ret < 0)
			goto out;
		(void)itab_getattr(ctx->itab, ino, &st);
		/* With file_mode=/dir_mode= the server's bits changed,
		 * the shown ones stay (documented). */
		st.st_mode = (st.st_mode & S_IFMT) |
			     fs_shown_perm(ctx, st.st_mode & S_IFMT,
					   attr->st_mode & 07777);
		itab_set_attr(ctx->itab, ino, &st, NULL, ITAB_FORCE);
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		struct timespec now;
		bool deferred;

		clock_gettime(CLOCK_REALTIME, &now);
		op.mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW)
				   ? now.tv_sec
				   : attr->st_mtim.tv_sec;
		deferred = setattr_defer_mtime(ctx, ino, op.mtime);
		/* The upload would set the time again: finish it first. */
		if (!deferred)
			ret = fs_flush_inode(ctx, ino);
		if (ret < 0)
			goto out;
		(void)itab_getattr(ctx->itab, ino, &st);
		op.is_dir = S_ISDIR(st.st_mode);
		if (!deferred)
			ret = fs_with_conn_for(req, ctx, attr_mtime, &op);
		if (ret < 0 && op.is_dir && ret != -ENOENT) {
			/* Nothing was set: the cache keeps the old time. */
			ret = setattr_dir_time_refused(ctx, path, ret);
			goto out;
		}
		if (ret < 0)
			goto out;
		(void)itab_getattr(ctx->itab, ino, &st);
		/* FTP keeps whole seconds. */
		st.st_mtim.tv_sec = (time_t)op.mtime;
		st.st_mtim.tv_nsec = 0;
		/* (The change time shows it too: FTP keeps no other.) */
		itab_set_attr(ctx->itab, ino, &st, NULL,
			      ITAB_FORCE | ITAB_EXACT_MTIME);
	}
	/* Access times: FTP has none; st_atime always shows st_mtime, so a
	 * request to set it alone changes nothing there is to change. */
out:
	if (ret < 0) {
		fs_reply_err(req, -ftp_errno_kernel(ret));
		return;
	}
	(void)itab_getattr(ctx->itab, ino, &st);
	st.st_atim = st.st_mtim;
	fuse_reply_attr(req, &st, ctx->attr_timeout);
}
