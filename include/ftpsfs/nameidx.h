/*
 * nameidx.h - an index by name of an array of directory entries (a
 * listing being fetched, a cached listing).
 *
 * Open addressing with linear probing: each slot holds an entry's
 * position + 1 (0: free), the table at most 3/4 full (built 2/3 full) -
 * 6 bytes per entry, where a uthash record takes more than 56.  Names come from
 * the server, so the hash starts from a random seed: a server cannot choose
 * names that all land in one probe chain.  Entries whose name is NULL
 * (removed) are never indexed.  Not thread-safe: the owner's lock.
 */
#ifndef FTPSFS_NAMEIDX_H
#define FTPSFS_NAMEIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct itab_dirent;

struct name_index {
	uint32_t *slots;
	size_t nslots; /* or 0 (see oa_home()) */
	size_t used;   /* indexed entries */
	uint64_t seed;
};

/*
 * Table sizes for open addressing (here and inotab.c): any size, not a
 * power of two, so that a table can follow its count closely - grown to
 * half full once more than three quarters full (between the two, 1.33
 * to 2 slots per member where powers of two gave 2 to 4: a million
 * inodes took 16 MiB per index, issue 21).  Linear probing wraps at the
 * end.
 */
static inline size_t oa_home(size_t hash, size_t nslots)
{
	return hash % nslots;
}

static inline size_t oa_next(size_t i, size_t nslots)
{
	return i + 1 < nslots ? i + 1 : 0;
}

/* Would one more member make @used of @nslots more than 3/4 full? */
static inline bool oa_full(size_t used, size_t nslots)
{
	return (used + 1) * 4 > nslots * 3;
}

/* Slots for @n members: half full (at least 8). */
static inline size_t oa_size_for(size_t n)
{
	return n < 4 ? 8 : 2 * n;
}

/* A random seed for name_hash(), and the hash of @name from it. */
uint64_t name_seed_new(void);
size_t name_hash(uint64_t seed, const char *name);

/* An empty index with a fresh seed (allocates nothing). */
void name_index_init(struct name_index *ix);
void name_index_free(struct name_index *ix);

/* The position of @name in @ents, or -1. */
ssize_t name_index_find(const struct name_index *ix,
			const struct itab_dirent *ents, const char *name);

/* Index @ents[@pos] (its name not indexed yet).  Returns 0 or -ENOMEM
 * (nothing changed). */
int name_index_add(struct name_index *ix, const struct itab_dirent *ents,
		   size_t pos);

/* Take @ents[@pos] out of the index (before its name is freed). */
void name_index_del(struct name_index *ix, const struct itab_dirent *ents,
		    size_t pos);

/* Index @ents[0, @n) afresh (names NULL skipped; the first of equal
 * names wins, later ones are not indexed).  Returns 0 or -ENOMEM (then
 * the index is empty). */
int name_index_build(struct name_index *ix, const struct itab_dirent *ents,
		     size_t n);

/* What the index takes per indexed entry, in bytes (for budgets). */
#define NAME_INDEX_BYTES_PER_ENTRY 6

#endif
