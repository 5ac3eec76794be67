/*
 * fs_prefetch.c - listings fetched ahead in the background.  See
 * fs_prefetch.h.
 *
 * Locking: pf->lock guards the queue, the in-flight marks and the walk
 * detection (pure code: prefetch_queue.c); it is a leaf (never held
 * across I/O or while taking another lock).  Workers do the fetching with
 * the same function as requests (fs_fetch_listing), which keeps the cache
 * consistent with its generations.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fs_internal.h"
#include "ftpsfs/fs_prefetch.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/prefetch_queue.h"

/* How long a job waits for an idle connection before it is dropped. */
#define PF_IDLE_WAIT_MS 2000
/* A walk that looks at times (ls -lR, rsync, du) asked for them this
 * recently: the listings fetched ahead get theirs too. */
#define PF_TIMES_RECENT_MS 5000
/* Listings fetched ahead (while a walk is under way: prefetch_queue.h)
 * only up to this many entries: a bigger one is dropped as it is read
 * (its size is unknown before).  What was fetched ahead and not used is
 * the first the cache drops (listing.c). */
#define PF_AHEAD_ENTRIES 20000
/*
 * A walk (find, du) reads a directory's subdirectories one after another,
 * each a listing of a few round trips; most of them were handed to the
 * kernel before the walk was seen to be one (the first opendir below the
 * directory), so readdirplus queued none.  So each opendir of a walk
 * queues the next PF_SIBLINGS_AHEAD subdirectories of its parent, in the
 * parent's order (the walk's): the workers list them while the walk
 * reads this one.  A window, not the rest of the parent: what is fetched
 * ahead stays a few directories ahead of the reader.  A parent of more
 * than PF_AHEAD_ENTRIES entries is not scanned (one scan per opendir).
 */
#define PF_SIBLINGS_AHEAD 8

struct fs_prefetch {
	struct fs_ctx *ctx;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* a job ended */
	/* guarded by lock: */
	struct pf_queue q;
	bool stopping;
	pthread_t threads[PFQ_WORKERS];
	unsigned started;
};

/* Queue @job unless it is known already.  Returns whether it is queued
 * or running now. */
static bool pf_queue(struct fs_prefetch *pf, const struct pfq_job *job)
{
	bool queued = false;

	if (!pf)
		return false;
	pthread_mutex_lock(&pf->lock);
	if (!pf->stopping) {
		queued = pfq_push(&pf->q, job);
		pthread_cond_signal(&pf->work);
	}
	pthread_mutex_unlock(&pf->lock);
	return queued;
}

void fs_prefetch_listing(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_prefetch *pf = ctx->prefetch;
	bool walking;

	if (!pf)
		return;
	pthread_mutex_lock(&pf->lock);
	walking = pfq_walking(&pf->q, net_now_ms());
	pthread_mutex_unlock(&pf->lock);
	if (walking)
		(void)pf_queue(pf, &(struct pfq_job){ ino, 0 });
}

/* Is @d a subdirectory of @parent whose listing is not fresh?  Then
 * *ino is its inode (one the kernel was handed). */
static bool pf_sibling_unlisted(struct fs_ctx *ctx, uint64_t parent,
				const struct itab_dirent *d, uint64_t *ino)
{
	return S_ISDIR(d->st.st_mode) &&
	       itab_find_child(ctx->itab, parent, d->name, ino) == 0 &&
	       !itab_listing_fresh(ctx->itab, *ino);
}

/* Queue the listings of the PF_SIBLINGS_AHEAD subdirectories of @parent
 * that follow @name in its fresh listing (see PF_SIBLINGS_AHEAD). */
static void pf_queue_siblings(struct fs_prefetch *pf, uint64_t parent,
			      const char *name)
{
	struct fs_ctx *ctx = pf->ctx;
	struct itab_snapshot *snap;
	unsigned ahead = 0;
	size_t i = 0;

	if (itab_snapshot(ctx->itab, parent, &snap) < 0)
		return; /* not fresh: its entries may be gone */
	if (snap->n > PF_AHEAD_ENTRIES)
		goto out;
	while (i < snap->n && strcmp(snap->ents[i].name, name) != 0)
		i++;
	for (i++; i < snap->n && ahead < PF_SIBLINGS_AHEAD; i++) {
		const struct itab_dirent *d = &snap->ents[i];
		uint64_t ino;

		if (!S_ISDIR(d->st.st_mode))
			continue;
		ahead++; /* listed already or not: a place in the window */
		if (pf_sibling_unlisted(ctx, parent, d, &ino) &&
		    !pf_queue(pf, &(struct pfq_job){ ino, 0 }))
			break; /* queue full */
	}
out:
	itab_snapshot_free(snap);
}

void fs_prefetch_opened(struct fs_ctx *ctx, uint64_t dir)
{
	struct fs_prefetch *pf = ctx->prefetch;
	uint64_t parent = 0;
	char name[256];
	bool walking;

	if (!pf)
		return;
	if (itab_parent_name(ctx->itab, dir, &parent, name, sizeof(name)) < 0)
		parent = 0;
	pthread_mutex_lock(&pf->lock);
	pfq_opened(&pf->q, dir, parent, net_now_ms());
	walking = pfq_walking(&pf->q, net_now_ms());
	pthread_mutex_unlock(&pf->lock);
	if (walking && parent)
		pf_queue_siblings(pf, parent, name);
}

bool fs_prefetch_file(struct fs_ctx *ctx, uint64_t ino, uint64_t token)
{
	return pf_queue(ctx->prefetch, &(struct pfq_job){ ino, token });
}

void fs_prefetch_wait(struct fs_ctx *ctx, uint64_t dir)
{
	struct fs_prefetch *pf = ctx->prefetch;
	struct pfq_job job = { dir, 0 };

	if (!pf)
		return;
	pthread_mutex_lock(&pf->lock);
	/* A worker is fetching it: its listing serves us too. */
	while (pfq_running(&pf->q, &job))
		pthread_cond_wait(&pf->done, &pf->lock);
	pthread_mutex_unlock(&pf->lock);
}

/* Wait (bounded) until the pool has an idle connection to spare. */
static bool pf_connection_free(struct fs_prefetch *pf)
{
	int64_t until = net_deadline(PF_IDLE_WAIT_MS);

	while (!ftp_pool_has_idle(pf->ctx->pool)) {
		if (net_now_ms() >= until || pf->stopping)
			return false;
		(void)net_sleep(20);
	}
	return true;
}

/* A file's content ahead: only on an idle connection (a reader that
 * catches up meanwhile reads the file itself). */
static void pf_run_file(struct fs_prefetch *pf, const struct pfq_job *job)
{
	if (!pf_connection_free(pf))
		fs_readahead_dropped(pf->ctx, job->token);
	else
		fs_readahead_run(pf->ctx, job->token);
}

static void pf_run(struct fs_prefetch *pf, const struct pfq_job *job)
{
	struct fs_ctx *ctx = pf->ctx;

	if (job->token) {
		pf_run_file(pf, job);
		return;
	}
	if (!pf_connection_free(pf))
		return; /* busy: requests come first */
	if (itab_listing_fresh(ctx->itab, job->ino))
		return; /* cached already */
	if (fs_fetch_listing_max(ctx, job->ino, false, NULL, PF_AHEAD_ENTRIES) <
	    0) {
		log_debug("prefetch of the listing of inode %llu failed",
			  (unsigned long long)job->ino);
		return;
	}
	if (net_now_ms() - atomic_load(&ctx->times_wanted_ms) <
	    PF_TIMES_RECENT_MS)
		(void)fs_fetch_exact_mtimes(ctx, job->ino, 0);
}

struct pf_worker {
	struct fs_prefetch *pf;
	unsigned id;
};

static void *pf_thread(void *arg)
{
	struct pf_worker *wk = arg;
	struct fs_prefetch *pf = wk->pf;
	unsigned w = wk->id;
	struct pfq_job job;

	free(wk);
	pthread_mutex_lock(&pf->lock);
	while (!pf->stopping) {
		if (!pfq_take(&pf->q, w, &job)) {
			pthread_cond_wait(&pf->work, &pf->lock);
			continue;
		}
		pthread_mutex_unlock(&pf->lock);
		pf_run(pf, &job);
		pthread_mutex_lock(&pf->lock);
		pfq_done(&pf->q, w);
		pthread_cond_broadcast(&pf->done);
	}
	pthread_mutex_unlock(&pf->lock);
	return NULL;
}

int fs_prefetch_start(struct fs_ctx *ctx, struct fs_prefetch **out)
{
	struct fs_prefetch *pf = calloc(1, sizeof(*pf));

	if (!pf)
		return -ENOMEM;
	pf->ctx = ctx;
	pthread_mutex_init(&pf->lock, NULL);
	pthread_cond_init(&pf->work, NULL);
	pthread_cond_init(&pf->done, NULL);
	for (unsigned w = 0; w < PFQ_WORKERS; w++) {
		struct pf_worker *wk = malloc(sizeof(*wk));

		if (!wk)
			break;
		wk->pf = pf;
		wk->id = w;
		if (pthread_create(&pf->threads[w], NULL, pf_thread, wk) != 0) {
			free(wk);
			break;
		}
		pf->started++;
	}
	ctx->prefetch = pf;
	*out = pf;
	/* The first lookup will need the root's listing: have it ready (and
	 * passive mode learnt, so that later transfers go in one flight).
	 * Not with delay_connect: the network may not be up yet. */
	if (!ctx->late_setup)
		(void)pf_queue(pf, &(struct pfq_job){ FUSE_ROOT_ID, 0 });
	return 0;
}

void fs_prefetch_stop(struct fs_prefetch *pf)
{
	if (!pf)
		return;
	pthread_mutex_lock(&pf->lock);
	pf->stopping = true;
	pfq_clear(&pf->q);
	pthread_cond_broadcast(&pf->work);
	pthread_cond_broadcast(&pf->done);
	pthread_mutex_unlock(&pf->lock);
	for (unsigned w = 0; w < pf->started; w++)
		pthread_join(pf->threads[w], NULL);
	pf->ctx->prefetch = NULL;
	pthread_mutex_destroy(&pf->lock);
	pthread_cond_destroy(&pf->work);
	pthread_cond_destroy(&pf->done);
	free(pf);
}
