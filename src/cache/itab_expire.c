/*
 * itab_expire.c - making what the table knows stale on request (SIGUSR1,
 * setfattr user.ftpsfs.refresh): listings dropped, attributes expired,
 * and the inodes concerned handed out so that the kernel can be told
 * (fs_refresh.c); and which directories -o poll lists again.  See
 * inode.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/inode.h"

#include "itab_internal.h"

/* Record @in (and where the kernel knows it) in @v[*n]; false without
 * memory. */
static bool expire_record(const struct itab *t, struct itab_name *v, size_t *n,
			  const struct inode *in)
{
	const struct inode *p =
		in->parent ? inoslab_at(&t->slab, in->parent) : NULL;

	v[*n].ino = in->ino;
	v[*n].parent = p ? p->ino : 0;
	if (p && in->name && !(v[*n].name = strdup(in->name)))
		return false;
	(*n)++;
	return true;
}

ssize_t itab_expire_all(struct itab *t, struct itab_name **out)
{
	struct itab_name *v;
	struct inode *in;
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	v = calloc(t->slab.used + 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	for (size_t pos = 0; (in = inoslab_next(&t->slab, &pos));) {
		if (!expire_record(t, v, &n, in)) {
			pthread_mutex_unlock(&t->lock);
			itab_names_free(v, n);
			return -ENOMEM;
		}
	}
	for (size_t pos = 0; (in = inoslab_next(&t->slab, &pos));) {
		listing_drop_locked(t, in);
		if (!inode_pinned(in))
			in->attr_expire = 0;
	}
	pthread_mutex_unlock(&t->lock);
	*out = v;
	return (ssize_t)n;
}

void itab_names_free(struct itab_name *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

ssize_t itab_expire_one(struct itab *t, uint64_t ino, struct itab_name **out)
{
	struct inode *top, *parent;
	const struct inotab *kids;
	struct itab_name *v;
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	top = inode_get(t, ino);
	if (!top) {
		pthread_mutex_unlock(&t->lock);
		return -ESTALE;
	}
	/* The inode and its children (its index of them). */
	v = calloc(inode_nchildren(top) + 1, sizeof(*v));
	if (!v || !expire_record(t, v, &n, top))
		goto nomem;
	kids = inode_children(top);
	for (size_t i = 0; kids && i < kids->nslots; i++) {
		struct inode *in = inotab_at(kids, i);

		if (!in || n > inode_nchildren(top))
			continue;
		if (!expire_record(t, v, &n, in))
			goto nomem;
		if (!inode_pinned(in))
			in->attr_expire = 0;
	}
	listing_drop_locked(t, top);
	/* A file's attributes are its parent's listing's too: that one
	 * goes (a record taken out alone would say "no such file"). */
	if (!S_ISDIR(top->st.st_mode) && (parent = inode_parent(t, top)))
		listing_drop_locked(t, parent);
	/* a listing on its way may predate the request */
	inode_set_local_gen(t, top, ++t->gen);
	if (!inode_pinned(top))
		top->attr_expire = 0;
	pthread_mutex_unlock(&t->lock);
	*out = v;
	return (ssize_t)n;
nomem:
	pthread_mutex_unlock(&t->lock);
	if (v)
		itab_names_free(v, n);
	return -ENOMEM;
}

static int recent_cmp(const void *a, const void *b)
{
	const struct itab_recent *x = a, *y = b;

	return (x->used_ms < y->used_ms) - (x->used_ms > y->used_ms);
}

size_t itab_recent_dirs(struct itab *t, int64_t since_ms,
			struct itab_recent *out, size_t max)
{
	struct itab_recent *all;
	const struct inode *in;
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	all = calloc(t->slab.used + 1, sizeof(*all));
	for (size_t pos = 0; all && (in = inoslab_next(&t->slab, &pos));) {
		int64_t used = in->more ? in->more->used_ms : 0;

		if (used >= since_ms && used > 0 &&
		    (in->ino == ITAB_ROOT_INO || in->named)) {
			all[n].ino = in->ino;
			all[n++].used_ms = used;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (!all)
		return 0;
	qsort(all, n, sizeof(*all), recent_cmp); /* most recent first */
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof(*out));
	free(all);
	return n;
}
