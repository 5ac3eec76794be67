/*
 * stats.c - counters of the running mount.  See stats.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ftpsfs/stats.h"

/* The one set of counters (process-wide, like the log's settings). */
static struct {
	atomic_ullong counters[STATS_COUNTER_COUNT];
	atomic_ullong ops[STATS_OP_COUNT];
	atomic_ullong op_round_trips[STATS_OP_COUNT];
	atomic_ullong op_errors[STATS_OP_COUNT];
	atomic_ullong errors[STATS_ERROR_COUNT];
	pthread_mutex_t last_lock;
	char last_error[256];	/* last_lock */
	time_t last_error_time; /* last_lock */
} stats = { .last_lock = PTHREAD_MUTEX_INITIALIZER };

/* The calling thread's operation and the round trips it made so far. */
static __thread int stats_thread_op = STATS_OP_BACKGROUND;
static __thread unsigned long long stats_thread_rtt;
static __thread int stats_thread_err;

static const char *const counter_names[STATS_COUNTER_COUNT] = {
	[STATS_LOGINS] = "logins",
	[STATS_LOGIN_FAILURES] = "login_failures",
	[STATS_CONNS_LOST] = "connections_lost",
	[STATS_DATA_CONNS] = "data_connections",
	[STATS_DATA_RESUMED] = "data_connections_resumed",
	[STATS_DATA_NOT_RESUMED] = "data_connections_not_resumed",
	[STATS_BYTES_READ] = "bytes_read",
	[STATS_BYTES_WRITTEN] = "bytes_written",
	[STATS_LISTINGS] = "listings",
	[STATS_COMMANDS] = "commands",
	[STATS_ROUND_TRIPS] = "round_trips",
	[STATS_CACHE_HITS] = "cache_hits",
	[STATS_CACHE_MISSES] = "cache_misses",
	[STATS_RETRIES] = "retries",
	[STATS_UPLOADS_RESUMED] = "uploads_resumed",
	[STATS_LISTINGS_DROPPED] = "listings_dropped",
	[STATS_OUTAGES] = "outages",
	[STATS_READAHEAD_FILES] = "readahead_files",
	[STATS_READAHEAD_USED] = "readahead_used",
	[STATS_READAHEAD_WASTED_BYTES] = "readahead_wasted_bytes",
	[STATS_WB_UPLOADS] = "writeback_uploads",
	[STATS_WB_FAILURES] = "writeback_failures",
	[STATS_WB_RETRIES] = "writeback_retries",
	[STATS_WB_CONFLICTS] = "writeback_conflicts",
	[STATS_WB_REPLAYED] = "writeback_replayed",
	[STATS_PREAD_RANGES] = "parallel_ranges",
	[STATS_PREAD_BYTES] = "parallel_bytes",
	[STATS_PREAD_FALLBACKS] = "parallel_fallbacks",
	[STATS_PREAD_STALE] = "parallel_stale",
	[STATS_PREAD_END_MS] = "parallel_range_end_ms",
	[STATS_PREAD_RETRIES] = "parallel_retries",
	[STATS_PREAD_OVERLAPS] = "parallel_overlaps",
};

static const char *const op_names[STATS_OP_COUNT] = {
	[STATS_OP_LOOKUP] = "lookup",
	[STATS_OP_GETATTR] = "getattr",
	[STATS_OP_READDIR] = "readdir",
	[STATS_OP_OPEN] = "open",
	[STATS_OP_READ] = "read",
	[STATS_OP_WRITE] = "write",
	[STATS_OP_FLUSH] = "flush",
	[STATS_OP_SETATTR] = "setattr",
	[STATS_OP_NAMESPACE] = "namespace",
	[STATS_OP_XATTR] = "xattr",
	[STATS_OP_OTHER] = "other",
	[STATS_OP_BACKGROUND] = "background",
};

static const char *const error_names[STATS_ERROR_COUNT] = {
	[STATS_ERR_REFUSED] = "refused",
	[STATS_ERR_TRANSPORT] = "transport",
	[STATS_ERR_TIMEOUT] = "timeout",
	[STATS_ERR_LOCAL] = "local",
};

void stats_add(enum stats_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&stats.counters[c], n, memory_order_relaxed);
}

void stats_round_trip(void)
{
	stats_add(STATS_ROUND_TRIPS, 1);
	if (stats_thread_op == STATS_OP_BACKGROUND)
		atomic_fetch_add_explicit(
			&stats.op_round_trips[STATS_OP_BACKGROUND], 1,
			memory_order_relaxed);
	else
		stats_thread_rtt++;
}

void stats_op_begin(enum stats_op op)
{
	stats_thread_op = op;
	stats_thread_rtt = 0;
	stats_thread_err = 0;
}

void stats_op_end(void)
{
	int op = stats_thread_op;

	atomic_fetch_add_explicit(&stats.ops[op], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&stats.op_round_trips[op], stats_thread_rtt,
				  memory_order_relaxed);
	if (stats_thread_err)
		atomic_fetch_add_explicit(&stats.op_errors[op], 1,
					  memory_order_relaxed);
	stats_thread_op = STATS_OP_BACKGROUND;
	stats_thread_rtt = 0;
	stats_thread_err = 0;
}

/* The kind of failure @err is, or -1 when it is an answer (a name that
 * does not exist, an attribute that is not there ...). */
static int stats_error_kind(int err)
{
	switch (err) {
	case 0:
	case ENOENT:
	case EEXIST:
	case ENOTEMPTY:
	case ENODATA:
	case ENOTDIR:
	case EISDIR:
	case ERANGE:
	case EINTR:
		return -1;
	case ETIMEDOUT:
		return STATS_ERR_TIMEOUT;
	case EIO:
		return STATS_ERR_TRANSPORT;
	case ENOMEM:
	case ENAMETOOLONG:
	case EINVAL:
	case EILSEQ:
	case EBADF:
		return STATS_ERR_LOCAL;
	default:
		return STATS_ERR_REFUSED; /* EACCES, EPERM, ENOSPC ... */
	}
}

void stats_op_failed(int err)
{
	int kind = stats_error_kind(err);

	if (kind < 0)
		return;
	stats_thread_err = err;
	atomic_fetch_add_explicit(&stats.errors[kind], 1, memory_order_relaxed);
}

void stats_note_error(const char *msg)
{
	pthread_mutex_lock(&stats.last_lock);
	snprintf(stats.last_error, sizeof(stats.last_error), "%s", msg);
	stats.last_error_time = time(NULL);
	pthread_mutex_unlock(&stats.last_lock);
}

/* Append to @buf at *@len, counting beyond @bufsz. */
static void stats_put(char *buf, size_t bufsz, size_t *len, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));

static void stats_put(char *buf, size_t bufsz, size_t *len, const char *fmt,
		      ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*len < bufsz ? buf + *len : NULL,
		      *len < bufsz ? bufsz - *len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

static unsigned long long stats_get(atomic_ullong *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

int stats_format(const struct stats_pool *pool, const struct stats_cache *cache,
		 const struct stats_writeback *wb, char *buf, size_t bufsz)
{
	char when[32] = "";
	size_t len = 0;
	struct tm tm;

	stats_put(buf, bufsz, &len, "server_state=%s\n",
		  pool->server_down ? "down" : "up");
	stats_put(buf, bufsz, &len,
		  "connections_open=%u\nconnections_idle=%u\n"
		  "connections_busy=%u\nconnections_parked=%u\n"
		  "connections_max=%u\n",
		  pool->open, pool->idle, pool->busy, pool->parked, pool->max);
	stats_put(buf, bufsz, &len,
		  "cached_inodes=%zu\ncached_listings=%zu\n"
		  "cached_listing_bytes=%zu\nuploads_pending=%zu\n",
		  cache->inodes, cache->listings, cache->listing_bytes,
		  cache->uploads_pending);
	stats_put(buf, bufsz, &len,
		  "writeback=%d\nwriteback_queued=%zu\n"
		  "writeback_bytes_pending=%llu\nwriteback_oldest_ms=%llu\n",
		  wb->on, wb->queued, (unsigned long long)wb->bytes,
		  (unsigned long long)wb->oldest_ms);
	for (int i = 0; i < STATS_COUNTER_COUNT; i++)
		stats_put(buf, bufsz, &len, "%s=%llu\n", counter_names[i],
			  stats_get(&stats.counters[i]));
	for (int i = 0; i < STATS_OP_COUNT; i++)
		stats_put(buf, bufsz, &len,
			  "op_%s=%llu\nop_%s_round_trips=%llu\n"
			  "op_%s_errors=%llu\n",
			  op_names[i], stats_get(&stats.ops[i]), op_names[i],
			  stats_get(&stats.op_round_trips[i]), op_names[i],
			  stats_get(&stats.op_errors[i]));
	for (int i = 0; i < STATS_ERROR_COUNT; i++)
		stats_put(buf, bufsz, &len, "errors_%s=%llu\n", error_names[i],
			  stats_get(&stats.errors[i]));
	pthread_mutex_lock(&stats.last_lock);
	if (stats.last_error_time && localtime_r(&stats.last_error_time, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", &tm);
	stats_put(buf, bufsz, &len, "last_error=%s\nlast_error_time=%s\n",
		  stats.last_error, when);
	pthread_mutex_unlock(&stats.last_lock);
	return len > (size_t)INT32_MAX ? -E2BIG : (int)len;
}
