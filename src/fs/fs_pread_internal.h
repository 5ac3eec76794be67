/*
 * fs_pread_internal.h - what the two halves of the parallel ranged reads
 * share: the readers' side (fs_pread.c: the open files' ranges, scheduled
 * and copied out) and the workers (fs_pread_work.c: each range fetched on
 * its own connection).  Locking and ownership: fs_pread.c's header.
 */
#ifndef FTPSFS_FS_PREAD_INTERNAL_H
#define FTPSFS_FS_PREAD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_internal.h"
#include "ftpsfs/fs_pread.h"

#define PR_CHUNK (16u << 20)
/* The first ranges are smaller (4, 8 MiB, then PR_CHUNK): the reader gets
 * its next bytes soon after the ranges begin, not after a whole range.
 * (Starting at 1 MiB cost another ~5% of a 256 MiB read at 20 ms.) */
#define PR_RAMP_FIRST (4u << 20)
#define PR_RAMP_STEPS 2
/* The last ranges of a file shrink (no smaller than this) so that the
 * streams end together: with ranges of PR_CHUNK to the end, the last
 * stream went on alone for up to a whole range while the others idled. */
#define PR_TAPER_MIN (2u << 20)
#define PR_ALIGN     (64u << 10)
/* Sequential bytes read by the stream before ranges take over ... */
#define PR_AFTER (8u << 20)
/* ... or of a file that the attributes say is big. */
#define PR_BIG_FILE  (64ull << 20)
#define PR_AFTER_BIG (256u << 10)
/* Files in parallel mode at once (memory: N + 2 ranges each). */
#define PR_FILES 2
#define PR_QUEUE (FS_PREAD_MAX * PR_FILES * 2)
/* How long a worker looks for a free connection before its range fails
 * (connections being given back by other ranges come within this). */
#define PR_CONN_WAIT_MS 1000
#define PR_POLL_MS	20
/* A range that failed (a data connection cut, a timeout, a 4xx) is fetched
 * again on another connection this many times; a file's ranges get
 * PR_FILE_RETRIES in all.  Then the reader falls back to one stream. */
#define PR_RANGE_RETRIES 2
#define PR_FILE_RETRIES	 8
/* One read from the data connection at most. */
#define PR_READ_MAX (1u << 20)
/* The end of the range read last, kept: the kernel steps back into it at
 * times (a page it dropped), which must not cost the ranges. */
#define PR_TAIL (1u << 20)

/* A range is waiting (for one of the file's streams), queued (for a
 * worker), being fetched, ready, or failed. */
enum pr_state {
	PR_EMPTY,
	PR_WAITING,
	PR_QUEUED,
	PR_FETCHING,
	PR_READY,
	PR_FAILED
};

/* What a worker learnt of its range. */
struct pr_result {
	bool pre; /* the check before RETR was made (range 0) */
	uint64_t pre_size;
	int64_t pre_mtime;
	uint64_t size; /* the check after the transfer */
	int64_t mtime;
	uint64_t gap; /* bytes the range could have had while it opened */
};

struct pr_slot {
	uint64_t k;   /* range number */
	uint64_t off; /* the range's bytes in the file */
	size_t len;
	unsigned gen;
	enum pr_state state;
	char *buf; /* PR_READY: the range's bytes (pr_buf_new()) */
	size_t buf_len;
	size_t got;	/* PR_FETCHING: bytes fetched so far */
	int err;	/* PR_FAILED */
	unsigned tries; /* fetches that failed and were tried again */
	struct pr_result res;
};

struct fs_pread {
	struct fs_preads *pw;
	uint64_t ino;
	struct fs_pread *prev, *next; /* pw->files; pw->lock */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a range became ready or failed */
	atomic_uint refs;
	/* guarded by lock: */
	unsigned gens;	  /* the last slot generation handed out */
	unsigned retries; /* ranges fetched again (PR_FILE_RETRIES) */
	bool active;
	bool held;		/* activated, fetches not started yet
				 * (fs_pread_begin()) */
	struct ftp_conn *given; /* the stream's connection, for the first
				 * range that runs */
	int stale;		/* sticky: the file changed (-EIO) */
	bool no_more;		/* a range failed: one stream from now on */
	uint64_t size;		/* the file's size then */
	bool base_known;	/* kept across activations of one open, until
				 * a local write (fs_pread_forget) */
	uint64_t base_size;	/* SIZE and MDTM the first checked range saw */
	int64_t base_mtime;
	uint64_t head;	      /* first range still wanted */
	uint64_t next_k;      /* the next range to cut ... */
	uint64_t next_off;    /* ... and where it begins */
	uint64_t budget;      /* bytes from the head's offset that ranges
			       * may cover: (streams + 1) * PR_CHUNK */
	unsigned streams;     /* ranges fetched at once, at most (fewer while
			       * the pool has no connection for more) */
	unsigned max_streams; /* ... when it has */
	unsigned inflight;    /* jobs queued or running (any gen) */
	uint64_t gap;	      /* the last range's pr_result.gap */
	unsigned nslots;      /* the slots in use (all): ranges are cut while
			       * the budget allows, so that a worker seldom
			       * waits for the reader to take the oldest
			       * range, even when the last ranges are small */
	struct pr_slot slots[FS_PREAD_MAX + 1];
	char *tail;	   /* PR_TAIL bytes, made at the first use */
	uint64_t tail_off; /* ... the file's bytes from here */
	size_t tail_len;   /* ... this many (0: none) */
	/* the reader's (f->lock): the pattern of the stream's reads */
	uint64_t seq_end, seq_len;
	bool seeked; /* ranges ended for a seek: 8 MiB in order
		      * before they begin again */
};

struct pr_job {
	struct fs_pread *pr; /* NULL: a login ahead (fs_pread_opened()) */
	uint64_t k;
	unsigned gen;
	bool spare; /* opened while another range ends (FTP_POOL_SPARE) */
};

struct fs_preads {
	struct fs_ctx *ctx;
	unsigned n;
	atomic_uint active_files;
	volatile int stop_io; /* the workers' network waits end */
	pthread_mutex_t lock;
	pthread_cond_t work;
	/* guarded by lock: */
	struct pr_job queue[PR_QUEUE];
	unsigned head, len;
	bool stopping;
	unsigned warming; /* logins ahead queued or running */
	struct fs_pread *files;
	pthread_t threads[FS_PREAD_MAX + 1]; /* n + 1: the spare's */
	unsigned started;
};

/* A range's buffer (mapped on its own) and its release. */
char *pr_buf_new(size_t len);
void pr_buf_free(char *buf, size_t len);
/* Drop a reference on the file's state; the last one frees it. */
void pr_unref(struct fs_pread *pr);
/* A job of the file ended (pr->lock held). */
void pr_job_done_locked(struct fs_pread *pr);
/* Is the job still wanted?  Records its @got bytes (takes pr->lock). */
bool pr_job_progress(const struct pr_job *j, size_t got);

#endif
