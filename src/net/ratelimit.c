/*
 * ratelimit.c - the mount's bandwidth caps (ratelimit.h).
 *
 * Each direction keeps the time at which the bytes accounted so far
 * would have been moved at the cap ("next", a virtual clock).  Bytes move
 * it forward by n / rate; a thread sleeps until the clock is no longer
 * ahead of now.  Threads share the clock, so several transfers together
 * get the cap, not each.  The clock never lags now by more than the
 * burst: idle time does not buy an unbounded burst later.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "ftpsfs/net.h"
#include "ftpsfs/ratelimit.h"

#define RATELIMIT_CHUNK_MIN 4096

struct bucket {
	pthread_mutex_t lock;
	_Atomic uint64_t bps; /* 0: no cap */
	int64_t next_us;      /* lock: see above */
};

static struct bucket buckets[RATELIMIT_DIRS] = {
	{ .lock = PTHREAD_MUTEX_INITIALIZER },
	{ .lock = PTHREAD_MUTEX_INITIALIZER },
};

static int64_t ratelimit_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void ratelimit_set(enum ratelimit_dir d, uint64_t bps)
{
	pthread_mutex_lock(&buckets[d].lock);
	atomic_store(&buckets[d].bps, bps);
	buckets[d].next_us = 0; /* a new rate starts afresh */
	pthread_mutex_unlock(&buckets[d].lock);
}

uint64_t ratelimit_get(enum ratelimit_dir d)
{
	return atomic_load(&buckets[d].bps);
}

size_t ratelimit_chunk(enum ratelimit_dir d, size_t len)
{
	uint64_t bps = ratelimit_get(d), chunk = bps / 10;

	if (bps == 0)
		return len;
	if (chunk < RATELIMIT_CHUNK_MIN)
		chunk = RATELIMIT_CHUNK_MIN;
	return chunk < len ? (size_t)chunk : len;
}

int ratelimit_account(enum ratelimit_dir d, size_t n)
{
	struct bucket *b = &buckets[d];
	int64_t now, wait_us;
	uint64_t bps;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&b->lock);
	bps = atomic_load(&b->bps);
	if (bps == 0) {
		pthread_mutex_unlock(&b->lock);
		return 0;
	}
	now = ratelimit_now_us();
	if (b->next_us < now - RATELIMIT_BURST_MS * 1000)
		b->next_us = now - RATELIMIT_BURST_MS * 1000;
	/* n < 2^44 bytes in one call, bps >= 1: no overflow below 2^63. */
	b->next_us += (int64_t)((uint64_t)n * 1000000 / bps);
	wait_us = b->next_us - now;
	pthread_mutex_unlock(&b->lock);
	/* Less than a millisecond ahead: the clock keeps the debt, a later
	 * call sleeps it. */
	return wait_us >= 1000 ? net_sleep((int)(wait_us / 1000)) : 0;
}
