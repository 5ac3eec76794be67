/*
 * prefetch_queue.h - the pure part of fetching ahead (fs_prefetch.h): the
 * bounded queue of jobs for the workers, and telling a tree walk from a
 * directory listed alone (src/fs/prefetch_queue.c; the workers and the
 * fetching are src/fs/fs_prefetch.c).
 *
 * Nothing here locks, does I/O or looks at the clock: the caller passes
 * the time and holds its lock (fs_prefetch.c's pf->lock).
 */
#ifndef FTPSFS_PREFETCH_QUEUE_H
#define FTPSFS_PREFETCH_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#define PFQ_LEN 64 /* jobs waiting; more are dropped, not queued */
/*
 * Jobs running at once.  Files ahead (a reader going through a
 * directory's small files) may use them all: each is a few round trips
 * of which the reader waits for one, so the more in flight the sooner it
 * finds its next file in memory (issue 17: 2 at once made `cat` of 100
 * files at 20 ms 0.50x rclone's time, 4 made it 0.27x).  Listings ahead
 * run PFQ_LIST_WORKERS at once, one fewer, so that a walk's background
 * work leaves a connection of the default five for requests beside the
 * walk's own.  Each listing is some six round trips of latency (EPSV,
 * connect, TLS, data, 226) and a walk mostly waits for the one fetched
 * ahead: `find` of 100 directories at 20 ms took 6.5 s with 2 listings
 * at once, 4.5 s with 3 (3.7 s with 4; issue 17).
 */
#define PFQ_WORKERS	 4
#define PFQ_LIST_WORKERS 3
/*
 * Fetching ahead is a guess, and must be cheap when it is wrong: listing
 * a directory of six entries must not make us read its subdirectories of
 * a million.  So listings are fetched ahead only while a walk is under
 * way - a directory was opened whose parent was opened within
 * PFQ_WALK_MS (one of the last PFQ_RECENT opened).
 */
#define PFQ_WALK_MS 10000
#define PFQ_RECENT  16

/* Two kinds of job: a directory's listing (token 0), or a small file's
 * content fetched ahead (fs_readahead.c: token names its entry). */
struct pfq_job {
	uint64_t ino;	/* a directory (to list, or of the file) */
	uint64_t token; /* 0, or the read-ahead entry */
};

struct pf_queue {
	struct pfq_job queue[PFQ_LEN]; /* a ring: oldest at head */
	unsigned head, len;
	struct pfq_job running[PFQ_WORKERS];
	bool busy[PFQ_WORKERS];
	struct {
		uint64_t ino;
		int64_t at;
	} recent[PFQ_RECENT]; /* directories opened lately */
	unsigned recent_next;
	int64_t walk_until; /* a walk is under way until then */
};

/*
 * Queue @job at the end unless it is waiting or running already.
 * Returns true if it is waiting or running now, false if the queue was
 * full (the job is dropped).
 */
bool pfq_push(struct pf_queue *q, const struct pfq_job *job);

/* Worker @w (< PFQ_WORKERS, idle) takes the oldest job - the oldest
 * file's, while PFQ_LIST_WORKERS listings run: true with *job, false if
 * none waits that it may take. */
bool pfq_take(struct pf_queue *q, unsigned w, struct pfq_job *job);

/* Worker @w finished its job. */
void pfq_done(struct pf_queue *q, unsigned w);

/* Is @job running on a worker? */
bool pfq_running(const struct pf_queue *q, const struct pfq_job *job);

/* Drop every waiting job (running ones stay until pfq_done()). */
void pfq_clear(struct pf_queue *q);

/* Directory @dir, child of @parent (0: unknown), was opened at @now_ms:
 * a walk is under way if @parent was opened within PFQ_WALK_MS. */
void pfq_opened(struct pf_queue *q, uint64_t dir, uint64_t parent,
		int64_t now_ms);

/* Is a walk under way at @now_ms? */
bool pfq_walking(const struct pf_queue *q, int64_t now_ms);

#endif
