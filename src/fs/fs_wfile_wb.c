/*
 * fs_wfile_wb.c - the write state with -o writeback: close() journals the
 * spool (record beside it, fs_wback.h), the queue's workers upload it
 * later, times set meanwhile wait in the record.
 *
 * The state itself and the synchronous uploads are fs_wfile.c's
 * (fs_wfile_internal.h); the queue, its workers and the replay at mount
 * are fs_wback.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fs_wfile_internal.h"
#include "ftpsfs/fs_wback.h"
#include "ftpsfs/inode.h"
#include "ftpsfs/log.h"

/* The record and its data are no longer needed (uploaded, deleted). */
void wf_wb_forget(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	int ret = wb_journal_remove(ctx->spool_dir, wf->wb.id);

	if (ret < 0)
		log_warn("write-back record %s/%s.rec: cannot remove: %s",
			 ctx->spool_dir, wf->wb.id, strerror(-ret));
	wf->wb_journaled = false;
	wf->wb.started = false;
}

void wf_wb_save_mode(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	int ret;

	wf->wb.set_mode = wf->chmod_pending;
	wf->wb.mode = wf->create_mode;
	ret = wb_journal_save(ctx->spool_dir, &wf->wb);
	/* The upload still sets it; only a crash before then loses it. */
	if (ret < 0)
		log_warn("%s: cannot record mode %04o in %s/%s.rec: %s",
			 wf->wb.path, (unsigned)wf->create_mode, ctx->spool_dir,
			 wf->wb.id, strerror(-ret));
}

void fs_wfile_wb_init(struct fs_ctx *ctx, struct fs_wfile *wf,
		      bool remote_exists)
{
	char path[FS_PATH_MAX];
	struct wb_record *r = &wf->wb;

	if (!ctx->wback)
		return;
	r->seen_known = !remote_exists;
	r->seen_exists = false;
	r->seen_size = 0;
	r->seen_mtime = 0;
	if (!remote_exists || itab_path(ctx->itab, wf->ino, path, sizeof(path)))
		return;
	/* What the server has now: a later change by someone else is a
	 * conflict (fs_wback_target()). */
	r->seen_known =
		fs_wback_remote_state(ctx, path, &r->seen_exists, &r->seen_size,
				      &r->seen_mtime) == 0;
}

/* Make the spool durable in the spool directory and queue its upload. */
static int wf_wb_journal(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	struct wb_record *r = &wf->wb;
	struct fs_wback_job *job;
	int ret = 0;

	if (!r->id[0])
		ret = wb_journal_new_id(r->id);
	if (ret == 0)
		ret = itab_path(ctx->itab, wf->ino, r->path, sizeof(r->path));
	if (ret == 0)
		ret = wb_journal_link(ctx->spool_dir, r->id, wf->sp.fd);
	if (ret == 0)
		ret = wb_journal_digest(wf->sp.fd, wf->sp.size, r->sha256);
	r->size = wf->sp.size;
	/* A new file's mode waits for its upload, also after a crash. */
	r->set_mode = wf->chmod_pending;
	r->mode = wf->create_mode;
	if (ret == 0)
		ret = wb_journal_save(ctx->spool_dir, r);
	if (ret < 0) {
		log_warn("%s: cannot journal the write-back in %s (%s): "
			 "uploading now",
			 r->path, ctx->spool_dir, strerror(-ret));
		/* No record of ours yet: no data without one either. */
		if (!wf->wb_journaled && r->id[0])
			(void)wb_journal_remove(ctx->spool_dir, r->id);
		return ret;
	}
	wf->wb_journaled = true;
	job = fs_wback_enqueue(ctx->wback, wf, wf->sp.size, wf->wb_job);
	if (!job)
		return -ENOMEM; /* record kept: uploaded now, then removed */
	if (!wf->wb_job) {
		/* The queue's reference, dropped by its worker. */
		pthread_mutex_lock(&ctx->wfiles_lock);
		wf->refs++;
		pthread_mutex_unlock(&ctx->wfiles_lock);
		wf->wb_job = job;
	}
	return 0;
}

int fs_wfile_close(struct fs_ctx *ctx, struct fs_wfile *wf)
{
	int ret = -EAGAIN;

	if (!ctx->wback)
		return fs_wfile_flush(ctx, wf);
	pthread_mutex_lock(&wf->lock);
	/* A new file nothing was written to is still a file to create. */
	if (wf->mode == WF_STREAM && !wf->discarded && !wf->failed)
		ret = wf_to_spool(ctx, wf);
	/* Queued already, or room for one more. */
	if (wf_spool_unsent(ctx, wf) && !wf->discarded && !wf->failed &&
	    (wf->wb_job || fs_wback_has_room(ctx->wback)))
		ret = wf_wb_journal(ctx, wf);
	else if (ret == 0)
		ret = -EAGAIN;
	if (ret == 0) {
		/* A failure of an earlier upload is still to be reported. */
		ret = wf->error;
		wf->error = 0;
	} else {
		/* Nothing to journal, or the journal failed: synchronous. */
		ret = wf_flush_locked(ctx, wf);
	}
	pthread_mutex_unlock(&wf->lock);
	return ret;
}

/* Upload to the conflict name @target: a whole STOR of the spool. */
static int wf_wb_upload_conflict(struct fs_ctx *ctx, struct fs_wfile *wf,
				 const char *target)
{
	int ret = wf_upload_plan(ctx, wf, target,
				 (struct upload_plan){ UPLOAD_STOR, 0 });

	if (ret == 0) {
		char name[256];
		uint64_t dir;

		/* Ours is kept there; the server's stays under the name,
		 * with its own mode and time. */
		spool_mark_clean(&wf->sp);
		wf->chmod_pending = false;
		wf->wb.set_mtime = false;
		if (itab_parent_name(ctx->itab, wf->ino, &dir, name,
				     sizeof(name)) == 0)
			itab_invalidate_dir(ctx->itab, dir);
	}
	return ret;
}

int fs_wfile_wb_upload(struct fs_ctx *ctx, struct fs_wfile *wf,
		       struct fs_wback_job *job)
{
	char target[FS_PATH_MAX];
	bool sent, conflict = false;
	int ret = 0;

	pthread_mutex_lock(&wf->lock);
	/* fsync'd, unlinked or already sent meanwhile: nothing to do.  Not
	 * in the spool: truncated to 0 since, and the record keeps the
	 * content closed last until the next close journals the new one. */
	if (!wf->wb_journaled || wf->discarded || wf->failed ||
	    wf->mode != WF_SPOOL)
		goto done;
	ret = itab_path(ctx->itab, wf->ino, wf->wb.path, sizeof(wf->wb.path));
	if (ret == 0)
		ret = fs_wback_target(ctx, &wf->wb, target, sizeof(target),
				      &conflict);
	if (ret == 0 && conflict) {
		ret = wf_wb_upload_conflict(ctx, wf, target);
	} else if (ret == 0) {
		if (!wf->wb.started) {
			/* After a crash from here on, what the server has
			 * may be a part of ours, not someone else's. */
			wf->wb.started = true;
			(void)wb_journal_save(ctx->spool_dir, &wf->wb);
		}
		ret = wf_spool_upload(ctx, wf, wf->wb.path, &sent);
		if (ret == 0)
			wf_apply_chmod(ctx, wf);
		if (ret == 0)
			wf_apply_mtime(ctx, wf);
	}
	if (ret < 0 && fs_wback_retryable(ret)) {
		wf->error = 0; /* the queue tries again */
		pthread_mutex_unlock(&wf->lock);
		return ret;
	}
	if (ret < 0) {
		log_err("%s: write-back upload failed: %s; kept in %s as %s",
			wf->wb.path, strerror(-ret), ctx->spool_dir, wf->wb.id);
		/* Reported by the next close or fsync; the record stays. */
	} else {
		/* A mode that waits for the last close keeps the record
		 * until then (wf_flush_locked()). */
		if (!wf->chmod_pending)
			wf_wb_forget(ctx, wf);
		/* Our own upload is what the server has now. */
		wf->wb.seen_known = !conflict;
		wf->wb.seen_exists = true;
		wf->wb.seen_size = wf->sp.size;
		wf->wb.seen_mtime = 0;
	}
done:
	fs_wback_finish(ctx->wback, job);
	wf->wb_job = NULL;
	pthread_mutex_unlock(&wf->lock);
	return ret < 0 ? ret : 0;
}

bool fs_wfile_defer_mtime(struct fs_ctx *ctx, struct fs_wfile *wf, int64_t sec)
{
	bool pending, deferred = false;

	pthread_mutex_lock(&wf->lock);
	/* An upload is still to come: journaled, or a close will journal
	 * what was written (or create the new file). */
	pending = wf->wb_journaled ||
		  (wf->mode == WF_STREAM && !wf->ws.active) ||
		  wf_spool_unsent(ctx, wf);
	if (ctx->wback && pending && !wf->discarded && !wf->failed) {
		wf->wb.set_mtime = true;
		wf->wb.mtime = sec;
		deferred = !wf->wb_journaled ||
			   wb_journal_save(ctx->spool_dir, &wf->wb) == 0;
		wf->wb.set_mtime = deferred;
	}
	pthread_mutex_unlock(&wf->lock);
	return deferred;
}

void fs_wfile_wb_abandon(struct fs_wfile *wf)
{
	pthread_mutex_lock(&wf->lock);
	wf->wb_job = NULL;
	pthread_mutex_unlock(&wf->lock);
}
