/*
 * snapshot.c - what opendir holds of a listing: one array of entries and
 * one block of names (two allocations, however many entries), shared by
 * every opendir of a listing that did not change since.
 *
 * A snapshot made from a listing stays linked to it while somebody holds
 * it: the next opendir takes another reference instead of a copy.  Any
 * change of the listing unlinks it (the holders keep what they read, the
 * next opendir gets a new one), and so does the listing's end.  Links and
 * the count of holders are guarded by the table's lock; the entries never
 * change once made, so readers need no lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "itab_internal.h"

/* A snapshot for @n entries whose names and link targets take @bytes. */
static struct itab_snapshot *snap_alloc(size_t n, size_t bytes)
{
	struct itab_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ents = calloc(n ? n : 1, sizeof(*s->ents));
	s->names = malloc(bytes ? bytes : 1);
	if (!s->ents || !s->names) {
		free(s->ents);
		free(s->names);
		free(s);
		return NULL;
	}
	s->refs = 1;
	return s;
}

/* Copy @str (may be NULL) to *@o in @s's block of names. */
static char *snap_str(struct itab_snapshot *s, size_t *o, const char *str)
{
	size_t len;
	char *p;

	if (!str)
		return NULL;
	len = strlen(str) + 1;
	p = s->names + *o;
	memcpy(p, str, len);
	*o += len;
	return p;
}

static size_t str_bytes(const char *str)
{
	return str ? strlen(str) + 1 : 0;
}

/* Append one entry to @s (room made by snap_alloc()). */
static void snap_put(struct itab_snapshot *s, size_t *o, const char *name,
		     const char *link, const struct itab_attr *st, bool exact)
{
	struct itab_dirent *d = &s->ents[s->n++];

	d->name = snap_str(s, o, name);
	d->link_target = snap_str(s, o, link);
	d->st = *st;
	d->mtime_exact = exact;
}

int itab_snapshot_copy(const struct itab_dirent *ents, size_t n,
		       struct itab_snapshot **out)
{
	struct itab_snapshot *s;
	size_t bytes = 0, o = 0;

	for (size_t i = 0; i < n; i++)
		bytes += str_bytes(ents[i].name) + str_bytes(ents[i].link_target);
	s = snap_alloc(n, bytes);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		snap_put(s, &o, ents[i].name, ents[i].link_target,
			 &ents[i].st, ents[i].mtime_exact);
	*out = s;
	return 0;
}

struct itab_snapshot *listing_snapshot_locked(struct itab *t,
					      struct dir_listing *l, bool link)
{
	struct itab_snapshot *s;
	size_t bytes = 0, o = 0;

	for (const struct listing_rec *r = l->by_name; r; r = r->hh.next)
		bytes += str_bytes(r->name) + str_bytes(r->link_target);
	s = snap_alloc(HASH_COUNT(l->by_name), bytes);
	if (!s)
		return NULL;
	for (const struct listing_rec *r = l->by_name; r; r = r->hh.next)
		snap_put(s, &o, r->name, r->link_target, &r->st,
			 r->mtime_exact);
	s->gen = l->gen;
	if (link) {
		s->table = t;
		s->listing = l;
		l->snap = s;
	}
	return s;
}

void listing_changed_locked(struct dir_listing *l)
{
	if (l && l->snap) {
		l->snap->listing = NULL;
		l->snap = NULL;
	}
}

int itab_snapshot(struct itab *t, uint64_t dir, struct itab_snapshot **out)
{
	struct itab_snapshot *s = NULL;
	struct inode *p;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (!p) {
		ret = -ESTALE;
	} else if (!listing_fresh(p->listing)) {
		ret = -EAGAIN;
	} else {
		listing_used_locked(t, p);
		s = p->listing->snap;
		if (s)
			s->refs++;
		else
			s = listing_snapshot_locked(t, p->listing, true);
		ret = s ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&t->lock);
	if (s)
		*out = s;
	return ret;
}

void itab_snapshot_free(struct itab_snapshot *s)
{
	bool last = true;

	if (!s)
		return;
	if (s->table) {
		pthread_mutex_lock(&s->table->lock);
		last = --s->refs == 0;
		if (last)
			listing_changed_locked(s->listing);
		pthread_mutex_unlock(&s->table->lock);
	}
	if (!last)
		return;
	free(s->ents);
	free(s->names);
	free(s);
}
