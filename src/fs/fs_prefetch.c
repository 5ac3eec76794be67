/*
 * fs_prefetch.c - listings fetched ahead in the background.  See
 * fs_prefetch.h.
 *
 * Locking: pf->lock guards the queue and the in-flight marks; it is a
 * leaf (never held across I/O or while taking another lock).  Workers do
 * the fetching with the same function as requests (fs_fetch_listing),
 * which keeps the cache consistent with its generations.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "fs_internal.h"
#include "ftpsfs/fs_prefetch.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"

#define PF_QUEUE 64	/* jobs waiting; more are dropped */
#define PF_WORKERS 2
/* How long a job waits for an idle connection before it is dropped. */
#define PF_IDLE_WAIT_MS 2000
/* A walk that looks at times (ls -lR, rsync, du) asked for them this
 * recently: the listings fetched ahead get theirs too. */
#define PF_TIMES_RECENT_MS 5000
/*
 * Fetching ahead is a guess, and must be cheap when it is wrong: listing
 * a directory of six entries must not make us read its subdirectories of
 * a million.  So listings are fetched ahead only while a walk is under
 * way - a directory was opened whose parent was opened within
 * PF_WALK_MS - and only up to PF_AHEAD_ENTRIES entries: a bigger one is
 * dropped as it is read (its size is unknown before).  What was fetched
 * ahead and not used is the first the cache drops (listing.c).
 */
#define PF_WALK_MS 10000
#define PF_RECENT 16 /* directories opened lately, remembered */
#define PF_AHEAD_ENTRIES 20000

/* Two kinds of job: a directory's listing (token 0), or a small file's
 * content fetched ahead (fs_readahead.c: token names its entry). */
struct pf_job {
	uint64_t ino;	/* a directory (to list, or of the file) */
	uint64_t token; /* 0, or the read-ahead entry */
};

struct fs_prefetch {
	struct fs_ctx *ctx;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* a job ended */
	/* guarded by lock: */
	struct pf_job queue[PF_QUEUE];
	unsigned head, len;
	struct pf_job running[PF_WORKERS];
	bool busy[PF_WORKERS];
	bool stopping;
	pthread_t threads[PF_WORKERS];
	unsigned started;
	struct { uint64_t ino; int64_t at; } recent[PF_RECENT];
	unsigned recent_next;
	int64_t walk_until; /* a walk is under way until then */
};

static bool pf_same(const struct pf_job *a, const struct pf_job *b)
{
	return a->ino == b->ino && a->token == b->token;
}

/* Is @job queued or running already?  (lock held) */
static bool pf_known_locked(struct fs_prefetch *pf, const struct pf_job *job)
{
	for (unsigned i = 0; i < pf->len; i++)
		if (pf_same(&pf->queue[(pf->head + i) % PF_QUEUE], job))
			return true;
	for (unsigned w = 0; w < PF_WORKERS; w++)
		if (pf->busy[w] && pf_same(&pf->running[w], job))
			return true;
	return false;
}

/* Queue @job unless it is known already.  Returns whether it is queued
 * or running now. */
static bool pf_queue(struct fs_prefetch *pf, const struct pf_job *job)
{
	bool queued = false;

	if (!pf)
		return false;
	pthread_mutex_lock(&pf->lock);
	if (!pf->stopping && pf_known_locked(pf, job)) {
		queued = true;
	} else if (!pf->stopping && pf->len < PF_QUEUE) {
		pf->queue[(pf->head + pf->len++) % PF_QUEUE] = *job;
		pthread_cond_signal(&pf->work);
		queued = true;
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
	walking = net_now_ms() < pf->walk_until;
	pthread_mutex_unlock(&pf->lock);
	if (walking)
		(void)pf_queue(pf, &(struct pf_job){ ino, 0 });
}

void fs_prefetch_opened(struct fs_ctx *ctx, uint64_t dir)
{
	struct fs_prefetch *pf = ctx->prefetch;
	uint64_t parent = 0;
	char name[256];
	int64_t now = net_now_ms();

	if (!pf)
		return;
	if (itab_parent_name(ctx->itab, dir, &parent, name, sizeof(name)) < 0)
		parent = 0;
	pthread_mutex_lock(&pf->lock);
	for (unsigned i = 0; parent && i < PF_RECENT; i++)
		if (pf->recent[i].ino == parent &&
		    now - pf->recent[i].at < PF_WALK_MS)
			pf->walk_until = now + PF_WALK_MS;
	pf->recent[pf->recent_next].ino = dir;
	pf->recent[pf->recent_next].at = now;
	pf->recent_next = (pf->recent_next + 1) % PF_RECENT;
	pthread_mutex_unlock(&pf->lock);
}

bool fs_prefetch_file(struct fs_ctx *ctx, uint64_t ino, uint64_t token)
{
	return pf_queue(ctx->prefetch, &(struct pf_job){ ino, token });
}

void fs_prefetch_wait(struct fs_ctx *ctx, uint64_t dir)
{
	struct fs_prefetch *pf = ctx->prefetch;
	struct pf_job job = { dir, 0 };

	if (!pf)
		return;
	pthread_mutex_lock(&pf->lock);
	for (;;) {
		bool running = false;

		for (unsigned w = 0; w < PF_WORKERS; w++)
			running |= pf->busy[w] && pf_same(&pf->running[w], &job);
		if (!running)
			break;
		/* A worker is fetching it: its listing serves us too. */
		pthread_cond_wait(&pf->done, &pf->lock);
	}
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
static void pf_run_file(struct fs_prefetch *pf, const struct pf_job *job)
{
	if (!pf_connection_free(pf))
		fs_readahead_dropped(pf->ctx, job->token);
	else
		fs_readahead_run(pf->ctx, job->token);
}

static void pf_run(struct fs_prefetch *pf, const struct pf_job *job)
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
	if (fs_fetch_listing_max(ctx, job->ino, false, NULL,
				 PF_AHEAD_ENTRIES) < 0) {
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

	free(wk);
	pthread_mutex_lock(&pf->lock);
	while (!pf->stopping) {
		if (pf->len == 0) {
			pthread_cond_wait(&pf->work, &pf->lock);
			continue;
		}
		pf->running[w] = pf->queue[pf->head];
		pf->head = (pf->head + 1) % PF_QUEUE;
		pf->len--;
		pf->busy[w] = true;
		pthread_mutex_unlock(&pf->lock);
		pf_run(pf, &pf->running[w]);
		pthread_mutex_lock(&pf->lock);
		pf->busy[w] = false;
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
	for (unsigned w = 0; w < PF_WORKERS; w++) {
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
		(void)pf_queue(pf, &(struct pf_job){ FUSE_ROOT_ID, 0 });
	return 0;
}

void fs_prefetch_stop(struct fs_prefetch *pf)
{
	if (!pf)
		return;
	pthread_mutex_lock(&pf->lock);
	pf->stopping = true;
	pf->len = 0;
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
