/*
 * inotab.c - a directory's child inodes by name, without a handle in
 * each inode.
 *
 * Open addressing with linear probing, at most 3/4 full (oa_full() in
 * nameidx.h), deletion by
 * shifting the rest of a probe chain back (no tombstones), shrunk when
 * far too big for what is left (so memory follows forget).  A 4-byte
 * slab id per slot (inoslab.c): 5 to 8 bytes per inode where a pointer
 * took 11 to 16 and a uthash handle 56 plus its share of the buckets.
 * Names are hashed from the table's random seed (they come from the
 * server).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "itab_internal.h"

/* The slot of the inode named @name, or the free one where it would
 * go. */
static size_t probe(const struct inotab *tb, const char *name)
{
	size_t i = oa_home(name_hash(tb->seed, name), tb->nslots);

	for (; tb->slots[i]; i = oa_next(i, tb->nslots))
		if (strcmp(inotab_at(tb, i)->name, name) == 0)
			break;
	return i;
}

void inotab_init(struct inotab *tb, uint64_t seed, const struct inoslab *slab)
{
	memset(tb, 0, sizeof(*tb));
	tb->seed = seed;
	tb->slab = slab;
}

void inotab_free(struct inotab *tb)
{
	free(tb->slots);
	tb->slots = NULL;
	tb->nslots = tb->used = 0;
}

struct inode *inotab_find(const struct inotab *tb, const char *name)
{
	return tb->nslots ? inotab_at(tb, probe(tb, name)) : NULL;
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
		const struct inode *in = inoslab_at(tb->slab, old[i]);
		size_t j = oa_home(name_hash(tb->seed, in->name), nslots);

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
	tb->slots[probe(tb, in->name)] = in->id;
	tb->used++;
	return 0;
}

void inotab_del(struct inotab *tb, struct inode *in)
{
	size_t i, j;

	if (!tb->nslots)
		return;
	i = probe(tb, in->name);
	if (tb->slots[i] != in->id)
		return;
	tb->slots[i] = 0;
	tb->used--;
	for (j = oa_next(i, tb->nslots); tb->slots[j];
	     j = oa_next(j, tb->nslots)) {
		size_t k = oa_home(name_hash(tb->seed, inotab_at(tb, j)->name),
				   tb->nslots);
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
