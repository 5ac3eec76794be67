/*
 * nameidx.c - an index by name of an array of directory entries.  See
 * nameidx.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ftpsfs/inode.h"
#include "ftpsfs/nameidx.h"

uint64_t name_seed_new(void)
{
	struct timespec ts;
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(seed)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec ^ (uintptr_t)&ts;
	}
	return seed;
}

void name_index_init(struct name_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	ix->seed = name_seed_new();
}

void name_index_free(struct name_index *ix)
{
	free(ix->slots);
	ix->slots = NULL;
	ix->nslots = ix->used = 0;
}

/* FNV-1a from the seed, its high bits folded in (the mask keeps the
 * low ones). */
size_t name_hash(uint64_t seed, const char *name)
{
	uint64_t h = 14695981039346656037ull ^ seed;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

static size_t ix_hash(const struct name_index *ix, const char *name)
{
	return name_hash(ix->seed, name);
}

/* The slot holding @name, or the free one where it would go. */
static size_t ix_slot(const struct name_index *ix,
		      const struct itab_dirent *ents, const char *name)
{
	size_t i = oa_home(ix_hash(ix, name), ix->nslots);

	while (ix->slots[i] && strcmp(ents[ix->slots[i] - 1].name, name))
		i = oa_next(i, ix->nslots);
	return i;
}

ssize_t name_index_find(const struct name_index *ix,
			const struct itab_dirent *ents, const char *name)
{
	size_t i;

	if (!ix->nslots)
		return -1;
	i = ix_slot(ix, ents, name);
	return ix->slots[i] ? (ssize_t)ix->slots[i] - 1 : -1;
}

/* Move to a table of @nslots slots (more than used). */
static int ix_resize(struct name_index *ix, const struct itab_dirent *ents,
		     size_t nslots)
{
	uint32_t *old = ix->slots;
	size_t nold = ix->nslots;

	ix->slots = calloc(nslots, sizeof(*ix->slots));
	if (!ix->slots) {
		ix->slots = old;
		return -ENOMEM;
	}
	ix->nslots = nslots;
	for (size_t i = 0; i < nold; i++)
		if (old[i])
			ix->slots[ix_slot(ix, ents, ents[old[i] - 1].name)] =
				old[i];
	free(old);
	return 0;
}

int name_index_add(struct name_index *ix, const struct itab_dirent *ents,
		   size_t pos)
{
	if ((!ix->nslots || oa_full(ix->used, ix->nslots)) &&
	    ix_resize(ix, ents, oa_size_for(ix->used + 1)) < 0)
		return -ENOMEM;
	ix->slots[ix_slot(ix, ents, ents[pos].name)] = (uint32_t)(pos + 1);
	ix->used++;
	return 0;
}

void name_index_del(struct name_index *ix, const struct itab_dirent *ents,
		    size_t pos)
{
	size_t i, j;

	if (!ix->nslots)
		return;
	i = ix_slot(ix, ents, ents[pos].name);
	if (ix->slots[i] != pos + 1)
		return;
	ix->slots[i] = 0;
	ix->used--;
	/* Linear probing without tombstones: move later members of the
	 * chain back into the hole unless their home slot lies
	 * (cyclically) after the hole. */
	for (j = oa_next(i, ix->nslots); ix->slots[j];
	     j = oa_next(j, ix->nslots)) {
		size_t k = oa_home(ix_hash(ix, ents[ix->slots[j] - 1].name),
				   ix->nslots);
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);

		if (stays)
			continue;
		ix->slots[i] = ix->slots[j];
		ix->slots[j] = 0;
		i = j;
	}
}

int name_index_build(struct name_index *ix, const struct itab_dirent *ents,
		     size_t n)
{
	/* 2/3 full: a listing mostly stays as it came */
	size_t nslots = n < 8 ? 16 : n + n / 2;

	free(ix->slots);
	ix->used = 0;
	ix->slots = calloc(nslots, sizeof(*ix->slots));
	ix->nslots = ix->slots ? nslots : 0;
	if (!ix->slots)
		return -ENOMEM;
	for (size_t p = 0; p < n; p++) {
		size_t i;

		if (!ents[p].name)
			continue;
		i = ix_slot(ix, ents, ents[p].name);
		if (!ix->slots[i]) {
			ix->slots[i] = (uint32_t)(p + 1);
			ix->used++;
		}
	}
	return 0;
}
