/*
 * fs_wfile_internal.h - what fs_wfile.c (the write state, the spool, its
 * uploads) shares with fs_wfile_wb.c (the same state with -o writeback:
 * journaling at close, the queue's uploads).  Not for other files.
 */
#ifndef FTPSFS_FS_WFILE_INTERNAL_H
#define FTPSFS_FS_WFILE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uthash.h>

#include "fs_wfile.h"
#include "fs_wstream.h"
#include "ftpsfs/ftp_upload.h"
#include "ftpsfs/spool.h"
#include "ftpsfs/wb_journal.h"

enum wf_mode { WF_IDLE, WF_STREAM, WF_SPOOL };

struct fs_wfile {
	uint64_t ino;
	unsigned refs;	   /* ctx->wfiles_lock */
	UT_hash_handle hh; /* ctx->wfiles_lock */
	pthread_mutex_t lock;
	enum wf_mode mode;
	bool remote_exists;
	uint64_t remote_size;
	uint64_t size;
	/* STREAM */
	bool appending; /* APPE after remote_size, else STOR from 0 */
	struct fs_wstream ws;
	/* SPOOL */
	struct spool sp; /* sp.fd >= 0 in SPOOL mode */
	/* outcome */
	int error;	/* not yet reported */
	bool failed;	/* a stream failed: the server's content is unknown */
	bool discarded; /* deleted: nothing goes to the server any more */
	bool chmod_pending; /* set create_mode once the content is uploaded */
	mode_t create_mode;
	/* We create the file, and its mode on the server is still the one
	 * the server gave it (fs_newmode.c). */
	bool created;
	/* -o writeback (fs_wback.h): the spool is journaled (wb.id names
	 * it in the spool directory) and the queue holds a reference. */
	bool wb_journaled;
	struct fs_wback_job *wb_job; /* queued upload, or NULL */
	struct wb_record wb;	     /* id, remote path, what the server had */
};

/* fs_wfile.c, with wf->lock held where the state is touched. */
bool wf_spool_unsent(const struct fs_ctx *ctx, const struct fs_wfile *wf);
int wf_to_spool(struct fs_ctx *ctx, struct fs_wfile *wf);
int wf_upload_plan(struct fs_ctx *ctx, struct fs_wfile *wf, const char *path,
		   struct upload_plan plan);
int wf_spool_upload(struct fs_ctx *ctx, struct fs_wfile *wf, const char *path,
		    bool *sent);
void wf_apply_chmod(struct fs_ctx *ctx, struct fs_wfile *wf);
void wf_set_mtime(struct fs_ctx *ctx, const char *path, int64_t sec);
void wf_apply_mtime(struct fs_ctx *ctx, struct fs_wfile *wf);
int wf_flush_locked(struct fs_ctx *ctx, struct fs_wfile *wf);

/* fs_wfile_wb.c: the record and its data are no longer needed. */
void wf_wb_forget(struct fs_ctx *ctx, struct fs_wfile *wf);
/* ... the mode to set after the upload (chmod_pending, create_mode)
 * changed: into the record. */
void wf_wb_save_mode(struct fs_ctx *ctx, struct fs_wfile *wf);

#endif
