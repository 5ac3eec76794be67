/*
 * inotab.c - sets of inodes without a handle in each inode: the table's
 * inodes by number, a directory's child inodes by name.
 *
 * Open addressing with linear probing, at most 3/4 full (oa_full() in
 * nameidx.h), deletion by
 * shifting the rest of a probe chain back (no tombstones), shrunk when
 * far too big for what is left (so memory follows forget).  A 4-byte
 * slab id per slot (inoslab.c): 5 to 8 bytes per inode and index where
 * a pointer took 11 to 16 and a uthash handle 56 plus its share of the
 * buckets.  Names are hashed from the table's random seed
 * (they come from the server).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "itab_internal.h"

static size_t ino_hash(uint64_t ino)
{
	uint64_t h = ino * 0x9E3779B97F4A7C15ull;

	return (size_t)(h ^ (h >> 32));
}

/* The hash of @in (oa_home() of it: where its probe chain starts). */
static size_t home_of(const struct inotab *tb, const struct inode *in)
{
	return tb->by_name ? name_hash(tb->seed, in->name) : ino_hash(in->ino);
}

/* The slot of the inode numbered @ino or named @name, or the free one
 * where it would go. */
static size_t probe(const struct inotab *tb, uint64_t ino, const char *name)
{
	size_t i = oa_home(name ? name_hash(tb->seed, name) : ino_hash(ino),
			   tb->nslots);

	for (; tb->slots[i]; i = oa_next(i, tb->nslots)) {
		const struct inode *in = inoslab_at(tb->slab, tb->slots[i]);

		if (name ? strcmp(in->name, name) == 0 : in->ino == ino)
			break;
	}
	return i;
}

void inotab_init(struct inotab *tb, bool by_name, uint64_t seed,
		 const struct inoslab *slab)
{
	memset(tb, 0, sizeof(*tb));
	tb->by_name = by_name;
	tb->seed = seed;
	tb->slab = slab;
}

void inotab_free(struct inotab *tb)
{
	free(tb->slots);
	tb->slots = NULL;
	tb->nslots = tb->used = 0;
}

struct inode *inotab_find(const struct inotab *tb, uint64_t ino,
			  const char *name)
{
	return tb->nslots ? inotab_at(tb, probe(tb, ino, name)) : NULL;
}

static int resize(struct inotab *tb, size_t nslots)
{
	uint32_t *old = tb->slots;
	size_t nold = tb->nslots;

	tb->slots = calloc(nslots, sizeof(*tb->slots));
	if (!tb->slots) {
		tb->slots = old;
		return -ENOMEM;
	}
	tb->nslots = nslots;
	for (size_t i = 0; i < nold; i++) {
		if (!old[i])
			continue;
		size_t j = oa_home(home_of(tb, inoslab_at(tb->slab, old[i])),
				   nslots);

		while (tb->slots[j])
			j = oa_next(j, nslots);
		tb->slots[j] = old[i];
	}
	free(old);
	return 0;
}

int inotab_add(struct inotab *tb, struct inode *in)
{
	if ((!tb->nslots || oa_full(tb->used, tb->nslots)) &&
	    resize(tb, oa_size_for(tb->used + 1)) < 0)
		return -ENOMEM;
	tb->slots[probe(tb, in->ino, tb->by_name ? in->name : NULL)] = in->id;
	tb->used++;
	return 0;
}

void inotab_del(struct inotab *tb, struct inode *in)
{
	size_t i, j;

	if (!tb->nslots)
		return;
	i = probe(tb, in->ino, tb->by_name ? in->name : NULL);
	if (tb->slots[i] != in->id)
		return;
	tb->slots[i] = 0;
	tb->used--;
	for (j = oa_next(i, tb->nslots); tb->slots[j];
	     j = oa_next(j, tb->nslots)) {
		size_t k = oa_home(home_of(tb, inotab_at(tb, j)), tb->nslots);
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);

		if (stays)
			continue;
		tb->slots[i] = tb->slots[j];
		tb->slots[j] = 0;
		i = j;
	}
	/* Far too big for what is left: smaller (if that fails, stays). */
	if (tb->used == 0) {
		inotab_free(tb);
	} else if (tb->nslots > 64 && tb->used * 8 < tb->nslots) {
		(void)resize(tb, oa_size_for(tb->used));
	}
}
