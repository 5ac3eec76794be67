/*
 * fs.h - the FUSE low-level operations and the mount context they share.
 *
 * The context is the only process-wide state besides the parsed options:
 * it is handed to libfuse as userdata and reaches every operation through
 * fuse_req_userdata().
 */
#ifndef FTPSFS_FS_H
#define FTPSFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ftpsfs/reply.h"

struct ftp_pool;
struct fs_wfile;
struct itab;

/* Open file and directory handles, linked so that those the kernel never
 * released (a lazy unmount with files open) are freed at exit. */
struct fs_handle {
	struct fs_handle *prev, *next;
	void (*destroy)(struct fs_handle *h);
};

struct fs_ctx {
	struct itab *itab;
	struct ftp_pool *pool;
	struct ftp_features feat; /* what the server offered at login */
	uid_t uid;		  /* owner shown for every file */
	gid_t gid;
	double attr_timeout;	  /* seconds, for the kernel */
	int op_timeout_ms;	  /* one request's work for the server; 0 none */
	double negative_timeout;
	bool read_only;		  /* -o ro: every change is EROFS */
	bool atomic_upload;	  /* upload to a temporary name, then rename */
	bool verify;		  /* check SIZE and HASH after each upload */
	bool ignore_dir_times;	  /* directory times the server refuses: no-op */
	bool show_suid;		  /* allow_suid: keep setuid/setgid bits */
	unsigned symlink_flags;	  /* SYMLINK_CONTAIN, SYMLINK_TRANSFORM */
	bool warned_dir_times;	  /* wfiles_lock */
	char spool_dir[4096];	  /* private directory for spool files */
	pthread_mutex_t wfiles_lock;
	struct fs_wfile *wfiles;  /* write state by inode; wfiles_lock */
	int mtime_method;	  /* enum ftp_mtime_method; wfiles_lock */
	pthread_mutex_t handles_lock;
	struct fs_handle handles; /* list head; guarded by handles_lock */
	/* delay_connect: run once, at the first operation, before any path
	 * is built (log in, learn features and the root path). */
	int (*late_setup)(struct fs_ctx *ctx, void *arg);
	void *late_setup_arg;
	pthread_mutex_t ready_lock;
	bool ready; /* late_setup done (or not needed); ready_lock */
	/* statfs: the server's AVBL answer, trusted for attr_timeout. */
	pthread_mutex_t space_lock;
	bool space_known;	/* space_lock */
	uint64_t space_avail;	/* bytes; space_lock */
	int64_t space_until_ms; /* net_now_ms() until which both hold */
};

/* 0 once the mount can reach paths on the server; runs late_setup the
 * first time.  A failure is returned (EIO) and retried next time. */
int fs_ready(struct fs_ctx *ctx);

void fs_ctx_init(struct fs_ctx *ctx);
/* Destroy the handles still open; call after the session loop ended. */
void fs_ctx_release_handles(struct fs_ctx *ctx);

struct ftp_entry;

/* Attributes for the kernel from a listing entry (owner: ctx's uid/gid;
 * default modes where the server gave none). */
void fs_entry_to_stat(const struct fs_ctx *ctx, const struct ftp_entry *e,
		      struct stat *st);

/* The operation table (fs_ops.c). */
extern const struct fuse_lowlevel_ops fs_ops;

#endif
