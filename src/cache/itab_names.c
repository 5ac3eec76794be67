/*
 * itab_names.c - changes to the namespace that we made ourselves: files
 * only we know of yet (created, not uploaded), removals and renames, with
 * the link counts and generations they change.
 *
 * The table, its indexes and lookups are inode.c's (itab_internal.h);
 * see inode.h for the model and the locking rule (one mutex, no I/O).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/inode.h"

#include "itab_internal.h"

void itab_set_local_only(struct itab *t, uint64_t ino, bool on)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && in->local_only != on) {
		in->local_only = on;
		if (on)
			t->nlocal_only++;
		else
			t->nlocal_only--;
	}
	pthread_mutex_unlock(&t->lock);
}

int itab_add_local_entries(struct itab *t, uint64_t dir,
			   struct itab_dirent **ents, size_t *n, size_t *cap)
{
	struct inode *parent;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	parent = t->nlocal_only ? inode_get(t, dir) : NULL;
	/* A file not on the server yet is a named child of @dir. */
	for (size_t i = 0; parent && inode_children(parent) &&
			   i < inode_children(parent)->nslots;
	     i++) {
		struct inode *in = inotab_at(inode_children(parent), i);
		struct itab_dirent *d;

		if (!in || !in->local_only || !in->named || !in->st_known)
			continue;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 16;
			struct itab_dirent *p = realloc(*ents, c * sizeof(*p));

			if (!p) {
				ret = -ENOMEM;
				break;
			}
			*ents = p;
			*cap = c;
		}
		d = &(*ents)[*n];
		memset(d, 0, sizeof(*d));
		d->st = in->st;
		d->mtime_exact = true;
		d->name = strdup(in->name);
		if (!d->name) {
			ret = -ENOMEM;
			break;
		}
		(*n)++;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

void itab_remove(struct itab *t, uint64_t parent, const char *name)
{
	struct inode *p, *in;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, parent);
	in = inode_find_child(t, parent, name);
	if (p) {
		if (entry_is_dir_locked(p, in, name))
			dir_subdirs_add_locked(t, p, -1);
		listing_remove(t, inode_listing(p), name);
		inode_set_local_gen(t, p, ++t->gen);
	}
	if (in) {
		/* Open files see it as deleted (fstat: no links). */
		in->st.st_nlink = 0;
		inode_unlink_locked(t, in);
		inode_maybe_free_locked(t, in);
		inode_maybe_free_locked(t, inode_get(t, parent));
	}
	pthread_mutex_unlock(&t->lock);
}

int itab_rename(struct itab *t, uint64_t parent, const char *name,
		uint64_t newparent, const char *newname)
{
	struct inode *p, *np, *in, *victim;
	const struct itab_dirent *r;
	struct itab_attr st;
	char *link = NULL;
	bool have_rec = false, exact = false;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, parent);
	np = inode_get(t, newparent);
	if (!p || !np) {
		ret = -ESTALE;
		goto out;
	}
	inode_set_local_gen(t, p, ++t->gen);
	inode_set_local_gen(t, np, t->gen);
	r = listing_find(inode_listing(p), name);
	if (r) {
		st = r->st;
		exact = r->mtime_exact;
		have_rec = true;
		link = r->link_target ? strdup(r->link_target) : NULL;
	}
	in = inode_find_child(t, parent, name);
	if (in && !have_rec && in->st_known) {
		st = in->st;
		have_rec = true;
	}
	if (entry_is_dir_locked(p, in, name)) {
		dir_subdirs_add_locked(t, p, -1);
		dir_subdirs_add_locked(t, np, 1);
	}
	listing_remove(t, inode_listing(p), name);
	/* A replaced target: unreachable from now on. */
	victim = inode_find_child(t, newparent, newname);
	if (entry_is_dir_locked(np, victim, newname))
		dir_subdirs_add_locked(t, np, -1);
	if (victim && victim != in) {
		victim->st.st_nlink = 0;
		inode_unlink_locked(t, victim);
		inode_maybe_free_locked(t, victim);
	}
	listing_remove(t, inode_listing(np), newname);
	if (have_rec && inode_listing(np))
		ret = listing_upsert(t, inode_listing(np), newname, &st, link,
				     exact);
	if (in) {
		inode_unlink_locked(t, in);
		ret = inode_link_locked(t, in, np, newname);
		if (ret < 0)
			inode_maybe_free_locked(t, in);
	}
	inode_maybe_free_locked(t, inode_get(t, newparent));
	inode_maybe_free_locked(t, inode_get(t, parent));
out:
	free(link);
	pthread_mutex_unlock(&t->lock);
	return ret;
}
