/*
 * listing.c - directory listings of the inode table: an array of entries
 * in the server's order (the order readdir keeps), shared with opendirs
 * as a snapshot, an index by name (nameidx.h), what they cost, and the
 * budget all listings share.  Callers hold the table's lock.
 *
 * While shared, only structural changes (an entry added or removed, a
 * symlink's new target) copy the array; attributes and exact times are
 * written in place under the lock, where snapshot readers read them
 * (itab_snapshot_stat()).  A copy of a million entries is some 120 MB:
 * the exact times ls -l brings in must not cost one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"
#include "itab_internal.h"

/* The memory one entry takes: its slot in the array, its name and link
 * target with the allocator's overhead, its share of the index. */
size_t ent_bytes(const struct itab_dirent *d)
{
	size_t n = sizeof(*d) + strlen(d->name) + 1 + 16 +
		   NAME_INDEX_BYTES_PER_ENTRY;

	if (d->link_target)
		n += strlen(d->link_target) + 1 + 16;
	return n;
}

/* Move @l's live entries to the front, in order, and index them again.
 * Only for a private array (refs 1).  Returns 0 or -ENOMEM. */
static int listing_compact(struct dir_listing *l)
{
	struct itab_snapshot *s = l->snap;
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->ents[i].name)
			s->ents[k++] = s->ents[i];
	s->n = k;
	l->holes = 0;
	l->times_next = 0; /* places moved: ask from the start (what is
			    * exact already is not asked again) */
	return name_index_build(&l->ix, s->ents, s->n);
}

struct dir_listing *listing_new(struct itab *t, struct itab_dirent *ents,
				size_t n, struct itab_name_pool *pool)
{
	struct dir_listing *l = calloc(1, sizeof(*l));
	struct itab_snapshot *s = l ? snapshot_alloc(t, 0, 0) : NULL;

	if (!s) {
		free(l);
		itab_dirents_free(ents, n);
		if (pool)
			itab_pool_free(pool);
		return NULL;
	}
	if (pool)
		snapshot_take_pool(s, pool);
	free(s->ents);
	/* The array grew by doubling while it was read: up to half of it
	 * is room nobody will use (l->cap says what is there). */
	if (n > 0) {
		struct itab_dirent *fit = realloc(ents, n * sizeof(*ents));

		if (fit)
			ents = fit;
	}
	s->ents = ents;
	s->n = n;
	l->snap = s;
	l->cap = n;
	name_index_init(&l->ix);
	/* Indexed as they come: a name listed twice leaves a hole. */
	for (size_t i = 0; i < n; i++) {
		if (name_index_find(&l->ix, ents, ents[i].name) >= 0) {
			snapshot_name_free(&ents[i]);
			free(ents[i].link_target);
			ents[i].link_target = NULL;
			l->holes++;
			continue;
		}
		if (name_index_add(&l->ix, ents, i) < 0) {
			listing_free(l);
			return NULL;
		}
		l->bytes += ent_bytes(&ents[i]);
	}
	if (l->holes && listing_compact(l) < 0) {
		listing_free(l);
		return NULL;
	}
	snapshot_pack_names(s);
	return l;
}

void listing_free(struct dir_listing *l)
{
	if (!l)
		return;
	if (l->snap)
		snapshot_unref_locked(l->snap);
	name_index_free(&l->ix);
	free(l);
}

const struct itab_dirent *listing_find(const struct dir_listing *l,
				       const char *name)
{
	ssize_t pos = l ? name_index_find(&l->ix, l->snap->ents, name) : -1;

	return pos < 0 ? NULL : &l->snap->ents[pos];
}

/* Make @l's entries its own (a copy without holes while opendirs share
 * them).  Returns 0 or -ENOMEM (then @l is not fresh any more). */
static int listing_own(struct dir_listing *l)
{
	struct itab_snapshot *old = l->snap, *s;
	int ret;

	if (old->refs == 1)
		return 0;
	s = snapshot_alloc(old->table, old->n - l->holes, old->n - l->holes);
	ret = s ? itab_dirents_copy(s->ents, old->ents, old->n) : -ENOMEM;
	if (ret < 0) {
		if (s)
			snapshot_unref_locked(s);
		l->expire = 0;
		return ret;
	}
	s->gen = old->gen;
	l->snap = s;
	l->cap = s->n;
	l->holes = 0;
	ret = name_index_build(&l->ix, s->ents, s->n);
	/* The children's shared names: the copy's now (without an index,
	 * their own copies). */
	inode_names_release_locked(old->table, inode_get(old->table, l->dir),
				   ret < 0 ? NULL : l, NULL);
	snapshot_unref_locked(old);
	if (ret < 0)
		l->expire = 0;
	return ret;
}

struct itab_dirent *listing_find_attr(struct dir_listing *l, const char *name)
{
	ssize_t pos = l ? name_index_find(&l->ix, l->snap->ents, name) : -1;

	return pos < 0 ? NULL : &l->snap->ents[pos];
}

struct itab_dirent *listing_find_mut(struct dir_listing *l, const char *name)
{
	ssize_t pos;

	if (!l || listing_own(l) < 0)
		return NULL;
	pos = name_index_find(&l->ix, l->snap->ents, name);
	return pos < 0 ? NULL : &l->snap->ents[pos];
}

struct itab_snapshot *listing_share_locked(struct dir_listing *l)
{
	/* Holes only in a private array: compacting it moves nobody's
	 * entries. */
	if (l->holes && listing_compact(l) < 0) {
		l->expire = 0;
		return NULL;
	}
	l->snap->refs++;
	return l->snap;
}

/* Add @d's cost to its listing and the table (@sign +1) or take it
 * off (-1). */
static void listing_count(struct itab *t, struct dir_listing *l,
			  const struct itab_dirent *d, int sign)
{
	size_t n = ent_bytes(d);

	if (sign > 0) {
		l->bytes += n;
		t->listing_bytes += n;
	} else {
		l->bytes -= n;
		t->listing_bytes -= n;
	}
}

/* A new entry @name at the end of @l (its own already).  Returns it, or
 * NULL (no memory). */
static struct itab_dirent *listing_append(struct dir_listing *l,
					  const char *name)
{
	struct itab_snapshot *s = l->snap;
	struct itab_dirent *d;

	if (s->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct itab_dirent *e = realloc(s->ents, cap * sizeof(*e));

		if (!e)
			return NULL;
		s->ents = e;
		l->cap = cap;
	}
	d = &s->ents[s->n];
	memset(d, 0, sizeof(*d));
	d->name = strdup(name);
	if (!d->name)
		return NULL;
	if (name_index_add(&l->ix, s->ents, s->n) < 0) {
		free(d->name);
		d->name = NULL;
		return NULL;
	}
	s->n++;
	return d;
}

/* Insert or update @name in @l with @st (and @link for symlinks). */
int listing_upsert(struct itab *t, struct dir_listing *l, const char *name,
		   const struct itab_attr *st, const char *link, bool exact)
{
	const struct itab_dirent *cur = listing_find(l, name);
	bool new_link =
		S_ISLNK(st->st_mode) && link &&
		(!cur || !cur->link_target || strcmp(cur->link_target, link));
	struct itab_dirent *d;
	int ret = 0;

	/* The same again (readdirplus of a listing tells it what it
	 * holds): the snapshot opendirs share stays theirs. */
	if (cur && !new_link && cur->mtime_exact == exact &&
	    memcmp(&cur->st, st, sizeof(*st)) == 0)
		return 0;
	/* Only the attributes change: in place, shared or not. */
	d = cur && !new_link ? listing_find_attr(l, name) : NULL;
	if (!d && listing_own(l) < 0)
		return -ENOMEM;
	if (!d)
		d = listing_find_mut(l, name);
	if (d)
		listing_count(t, l, d, -1);
	else if (!(d = listing_append(l, name)))
		return -ENOMEM;
	d->st = *st;
	d->mtime_exact = exact;
	if (new_link)
		ret = set_string(&d->link_target, link);
	listing_count(t, l, d, +1);
	return ret;
}

void listing_remove(struct itab *t, struct dir_listing *l, const char *name)
{
	struct itab_dirent *d;

	if (!listing_find(l, name) || !(d = listing_find_mut(l, name)))
		return;
	listing_count(t, l, d, -1);
	name_index_del(&l->ix, l->snap->ents, (size_t)(d - l->snap->ents));
	inode_names_release_locked(t, inode_get(t, l->dir), NULL, d->name);
	snapshot_name_free(d);
	free(d->link_target);
	d->link_target = NULL;
	l->holes++;
}

/* Free @p's listing (its children's names are seen to). */
static void listing_unhook_locked(struct itab *t, struct inode *p)
{
	struct dir_listing *l = inode_listing(p);

	if (!l)
		return;
	DL_DELETE2(t->listings, l, lru_prev, lru_next);
	t->listing_bytes -= l->bytes;
	t->freed_bytes += l->bytes;
	listing_free(l);
	p->more->listing = NULL;
}

/* Forget @p's listing (the next lookup or readdir asks the server). */
void listing_drop_locked(struct itab *t, struct inode *p)
{
	if (inode_listing(p))
		inode_names_release_locked(t, p, NULL, NULL);
	listing_unhook_locked(t, p);
}

/* @p's listing was used: the last to be dropped for the budget (and one
 * that -o poll lists again, itab_recent_dirs()). */
void listing_used_locked(struct itab *t, struct inode *p)
{
	inode_listing(p)->ahead = false;
	p->more->used_ms = net_now_ms();
	DL_DELETE2(t->listings, inode_listing(p), lru_prev, lru_next);
	DL_APPEND2(t->listings, inode_listing(p), lru_prev, lru_next);
}

/*
 * Make @l @p's listing and keep all listings within the budget: drop
 * the least recently used others until they fit.  A listing is a cache
 * of what the server says, so dropping one costs a round trip later,
 * nothing else: names created here and not uploaded yet live in their
 * inodes and come back with the next listing (itab_add_local_entries()).
 * @l itself stays whatever it costs (the entry limit bounds it), and so
 * does one whose exact times are being asked.  Listings fetched ahead
 * that nobody used yet go first: they were a guess.
 */
void listing_attach_locked(struct itab *t, struct inode *p,
			   struct dir_listing *l)
{
	/* the children's names the old one holds: the new one's */
	if (inode_listing(p))
		inode_names_release_locked(t, p, l, NULL);
	listing_unhook_locked(t, p);
	l->dir = p->ino;
	p->more->listing = l;
	DL_APPEND2(t->listings, l, lru_prev, lru_next);
	t->listing_bytes += l->bytes;
	for (int pass = 0; pass < 2; pass++) {
		struct dir_listing *old, *tmp;

		DL_FOREACH_SAFE2(t->listings, old, tmp, lru_next)
		{
			struct inode *owner;

			if (t->listing_bytes <= t->cfg.listing_budget)
				return;
			if (old == l || old->times_fetching ||
			    (pass == 0 && !old->ahead))
				continue;
			owner = inode_get(t, old->dir);
			if (owner) {
				listing_drop_locked(t, owner);
				stats_add(STATS_LISTINGS_DROPPED, 1);
			}
		}
	}
}

bool listing_fresh(const struct dir_listing *l)
{
	return l && l->expire > net_now_ms();
}

/* @dir's listing, fresh or (@any) not; a fresh one counts as used. */
static int snapshot_of(struct itab *t, uint64_t dir, bool any,
		       struct itab_snapshot **out)
{
	struct itab_snapshot *s = NULL;
	struct inode *p;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (!p) {
		ret = -ESTALE;
	} else if (!(any ? inode_listing(p) != NULL
			 : listing_fresh(inode_listing(p)))) {
		ret = -EAGAIN;
	} else {
		if (!any)
			listing_used_locked(t, p);
		s = listing_share_locked(inode_listing(p));
		ret = s ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&t->lock);
	if (s)
		*out = s;
	return ret;
}

int itab_snapshot(struct itab *t, uint64_t dir, struct itab_snapshot **out)
{
	return snapshot_of(t, dir, false, out);
}

int itab_snapshot_any(struct itab *t, uint64_t dir, struct itab_snapshot **out)
{
	return snapshot_of(t, dir, true, out);
}
