/*
 * fs_poll.c - -o poll=SECONDS: see another client's changes without
 * waiting for the caches to expire.
 *
 * FTP cannot tell a client that a directory changed (no notification
 * in RFC 959 or its extensions), so the only way is to ask again.  Every
 * interval, the directories whose listings served a request in the last
 * POLL_RECENT_MS (at most POLL_DIRS_MAX, the most recently used first)
 * are listed again; names added or removed and files whose size or
 * modification time changed are told to the kernel (fs_refresh_kernel()),
 * so that its entries, attributes and page cache follow.  Directories
 * nobody looks at cost nothing: a mount of a large tree polls only what
 * is in use.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_internal.h"
#include "ftpsfs/fs_poll.h"
#include "ftpsfs/fs_refresh.h"
#include "ftpsfs/log.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"

#define POLL_RECENT_MS (5 * 60 * 1000) /* "recently used" */
#define POLL_DIRS_MAX  32	       /* directories per interval */

struct fs_poll {
	struct fs_ctx *ctx;
	unsigned interval_s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* stop */
	bool stopping;	     /* lock */
	volatile int cancel; /* ends the network waits of a round at stop
			      * (net_set_cancel()) */
};

static int dirent_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct itab_dirent *const *)a)->name,
		      (*(const struct itab_dirent *const *)b)->name);
}

/* @s's entries by name.  Pointers are sorted, not the entries: the
 * snapshots are the cache's listings, whose order readdir offsets and
 * the name index rely on.  NULL: no memory. */
static const struct itab_dirent **poll_sorted(const struct itab_snapshot *s)
{
	const struct itab_dirent **v = malloc((s->n + 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		v[i] = &s->ents[i];
	qsort(v, s->n, sizeof(*v), dirent_cmp);
	return v;
}

static bool poll_changed(const struct itab_snapshot *os,
			 const struct itab_dirent *a,
			 const struct itab_snapshot *ns,
			 const struct itab_dirent *b)
{
	struct stat sa, sb;

	/* attributes are read under the table's lock (they change in
	 * place) */
	itab_snapshot_stat(os, a, 0, &sa);
	itab_snapshot_stat(ns, b, 0, &sb);
	return sa.st_size != sb.st_size ||
	       sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
	       (sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT);
}

/* What the kernel must drop for @name of @dir: its entry (@entry) and the
 * inode's attributes and pages, if the table has one.  Returns false
 * without memory. */
static bool poll_note(struct fs_ctx *ctx, uint64_t dir, const char *name,
		      bool entry, struct itab_name *v, size_t *n)
{
	uint64_t ino = 0;

	(void)itab_find_child(ctx->itab, dir, name, &ino);
	if (!entry && !ino)
		return true; /* nothing of it is cached */
	v[*n].ino = ino;
	v[*n].parent = entry ? dir : 0;
	v[*n].name = entry ? strdup(name) : NULL;
	if (entry && !v[*n].name)
		return false;
	(*n)++;
	return true;
}

/*
 * Compare the sorted listings @old and @new of @dir; the differences go
 * to the kernel.  Returns the number of names that changed.
 */
static size_t poll_diff(struct fs_ctx *ctx, uint64_t dir,
			struct itab_snapshot *old, struct itab_snapshot *new)
{
	struct itab_name *v = calloc(old->n + new->n + 1, sizeof(*v));
	const struct itab_dirent **o = poll_sorted(old), **w = poll_sorted(new);
	size_t i = 0, j = 0, n = 0, changes = 0;
	bool ok = v && o && w;

	while (ok && (i < old->n || j < new->n)) {
		int c = i == old->n   ? 1
			: j == new->n ? -1
				      : strcmp(o[i]->name, w[j]->name);

		if (c < 0) { /* removed by someone else */
			ok = poll_note(ctx, dir, o[i]->name, true, v, &n);
			itab_remove(ctx->itab, dir, o[i++]->name);
			changes++;
		} else if (c > 0) { /* added: a negative entry may hide it */
			ok = poll_note(ctx, dir, w[j++]->name, true, v, &n);
			changes++;
		} else {
			if (poll_changed(old, o[i], new, w[j])) {
				ok = poll_note(ctx, dir, w[j]->name, false, v,
					       &n);
				changes++;
			}
			i++;
			j++;
		}
	}
	if (ok && changes)
		v[n++].ino = dir; /* its own times and cached contents */
	if (v)
		fs_refresh_kernel(ctx, v, n);
	free(o);
	free(w);
	return changes;
}

static void poll_dir(struct fs_ctx *ctx, uint64_t dir)
{
	struct itab_snapshot *old = NULL, *new = NULL;
	char path[FS_PATH_MAX];
	size_t changes;
	int ret;

	if (itab_snapshot_any(ctx->itab, dir, &old) < 0)
		old = NULL; /* nothing to compare with: nothing to tell */
	ret = fs_fetch_listing(ctx, dir, false, &new);
	if (ret < 0) {
		log_debug("poll: listing of inode %llu failed: %s",
			  (unsigned long long)dir, strerror(-ret));
		goto out;
	}
	if (!old)
		goto out;
	changes = poll_diff(ctx, dir, old, new);
	if (changes && itab_path(ctx->itab, dir, path, sizeof(path)) == 0)
		log_info("poll: %s: %zu name%s changed on the server", path,
			 changes, changes == 1 ? "" : "s");
out:
	itab_snapshot_free(old);
	itab_snapshot_free(new);
}

static void poll_round(struct fs_poll *p)
{
	struct itab_recent dirs[POLL_DIRS_MAX];
	size_t n = itab_recent_dirs(p->ctx->itab, net_now_ms() - POLL_RECENT_MS,
				    dirs, POLL_DIRS_MAX);

	stats_op_begin(STATS_OP_BACKGROUND);
	for (size_t i = 0; i < n && !p->cancel; i++)
		poll_dir(p->ctx, dirs[i].ino);
	stats_op_end();
}

static void *poll_main(void *arg)
{
	struct fs_poll *p = arg;
	struct timespec until;

	(void)net_set_cancel(&p->cancel); /* a server that is away must not
					   * hold up the unmount */
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += p->interval_s;
		while (!p->stopping &&
		       pthread_cond_timedwait(&p->wake, &p->lock, &until) !=
			       ETIMEDOUT)
			;
		if (p->stopping)
			break;
		pthread_mutex_unlock(&p->lock);
		poll_round(p);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int fs_poll_start(struct fs_ctx *ctx, unsigned interval_s, struct fs_poll **out)
{
	struct fs_poll *p;
	pthread_condattr_t ca;
	int ret;

	*out = NULL;
	if (interval_s == 0)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ctx = ctx;
	p->interval_s = interval_s;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	ret = -pthread_create(&p->thread, NULL, poll_main, p);
	if (ret < 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void fs_poll_stop(struct fs_poll *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	p->cancel = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
