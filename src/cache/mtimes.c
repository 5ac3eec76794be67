/*
 * mtimes.c - exact modification times for LIST listings (minute
 * precision at best): which files still need one, claiming a directory's
 * batch so one thread asks the server (MDTM), and merging the answers.
 *
 * See inode.h for the model and the locking rule (one mutex, no I/O).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/inode.h"
#include "ftpsfs/stat_clamp.h"

#include "itab_internal.h"

bool itab_exact_mtime(struct itab *t, uint64_t dir, const char *name,
		      const struct itab_attr *listed, struct itab_mtim *exact)
{
	const struct itab_dirent *r;
	struct inode *p;
	bool ok = false;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	r = p ? listing_find(inode_listing(p), name) : NULL;
	if (r && r->mtime_exact && r->st.st_size == listed->st_size &&
	    r->st.st_mtim.tv_sec / 60 * 60 == listed->st_mtim.tv_sec) {
		*exact = r->st.st_mtim;
		ok = true;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

bool itab_needs_exact_mtime(struct itab *t, uint64_t ino, uint64_t *dir)
{
	struct inode *in, *p;
	bool needs = false;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	p = in ? inode_parent(t, in) : NULL;
	if (p && inode_listing(p) && inode_listing(p)->times_pending &&
	    in->st_known && !in->mtime_exact && !inode_pinned(in) &&
	    S_ISREG(in->st.st_mode)) {
		*dir = p->ino;
		needs = true;
	}
	pthread_mutex_unlock(&t->lock);
	return needs;
}

void itab_mtime_reqs_free(struct itab_mtime_req *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(reqs[i].name);
	free(reqs);
}

/* Do the entry's time need asking? */
static bool mtimes_pending(const struct itab_dirent *r)
{
	return r->name && S_ISREG(r->st.st_mode) && !r->mtime_exact;
}

/* The next files of @l whose times are to be asked (at most
 * ITAB_MTIMES_BATCH: a directory of a million files must not need a
 * million requests in memory at once), into *out. */
static int mtimes_collect_locked(struct dir_listing *l,
				 struct itab_mtime_req **out, size_t *nout)
{
	const struct itab_dirent *e = l->snap->ents;
	size_t n = 0, k = 0, i, end = l->snap->n;
	struct itab_mtime_req *reqs;

	if (l->times_next > end)
		l->times_next = 0;
	for (i = l->times_next; i < end && n < ITAB_MTIMES_BATCH; i++)
		n += mtimes_pending(&e[i]);
	l->times_claimed = i;
	reqs = calloc(n ? n : 1, sizeof(*reqs));
	if (!reqs)
		return -ENOMEM;
	for (i = l->times_next; i < l->times_claimed && k < n; i++) {
		const struct itab_dirent *r = &e[i];

		if (!mtimes_pending(r))
			continue;
		reqs[k].name = strdup(r->name);
		reqs[k].size = r->st.st_size;
		reqs[k].listed = r->st.st_mtim.tv_sec;
		if (!reqs[k++].name) {
			itab_mtime_reqs_free(reqs, k);
			return -ENOMEM;
		}
	}
	*out = reqs;
	*nout = k;
	return 0;
}

int itab_mtimes_claim(struct itab *t, uint64_t dir,
		      struct itab_mtime_req **reqs, size_t *n, uint64_t *gen)
{
	struct inode *p;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		p = inode_get(t, dir);
		if (!p || !inode_listing(p) || !inode_listing(p)->times_pending)
			break;
		if (!inode_listing(p)->times_fetching) {
			ret = mtimes_collect_locked(inode_listing(p), reqs, n);
			if (ret == 0) {
				inode_listing(p)->times_fetching = true;
				*gen = t->gen;
				ret = 1;
			}
			break;
		}
		/* Another thread asks them: its answers serve us too. */
		pthread_cond_wait(&t->times_cond, &t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

void itab_mtimes_done(struct itab *t, uint64_t dir,
		      const struct itab_mtime_req *reqs, size_t n, uint64_t gen,
		      bool ok)
{
	struct inode *p;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	for (size_t i = 0; p && inode_listing(p) && i < n; i++) {
		const struct itab_dirent *cur =
			listing_find(inode_listing(p), reqs[i].name);
		struct itab_dirent *r;
		struct inode *in;

		/* Only where the listing still says what was asked about. */
		if (!reqs[i].got || !cur || cur->mtime_exact ||
		    cur->st.st_size != reqs[i].size ||
		    cur->st.st_mtim.tv_sec != reqs[i].listed)
			continue;
		/* In place, also while opendirs share it: no copy. */
		r = listing_find_attr(inode_listing(p), reqs[i].name);
		r->st.st_mtim.tv_sec = stat_time_from(reqs[i].exact);
		r->st.st_mtim.tv_nsec = 0;
		r->mtime_exact = true;
		in = inode_find_child(t, dir, reqs[i].name);
		if (in && !inode_pinned(in) && !in->mtime_exact &&
		    !older_than_ours(t, in, gen)) {
			inode_attr_changed(in, in->st.st_size, &r->st.st_mtim);
			in->st.st_mtim = r->st.st_mtim;
			in->mtime_exact = true;
		}
	}
	if (p && inode_listing(p)) {
		struct dir_listing *l = inode_listing(p);

		l->times_fetching = false;
		/* Asked to the end: done (what failed keeps its listed
		 * time).  A batch cut short is asked again. */
		if (ok)
			l->times_next = l->times_claimed;
		if (ok && l->times_next >= l->snap->n)
			l->times_pending = false;
	}
	pthread_cond_broadcast(&t->times_cond);
	pthread_mutex_unlock(&t->lock);
}
