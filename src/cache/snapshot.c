/*
 * snapshot.c - what opendir holds of a listing: the listing's own array
 * of entries, shared by reference (listing.c copies it before changing
 * its names while shared).  The count of holders is guarded by the
 * table's lock for a snapshot of a table, and so are the attributes,
 * which change in place (itab_snapshot_stat()); names and link targets
 * never change while shared, so readers of those need no lock.  Below
 * listing.c: nothing here calls up (taking a snapshot of a directory's
 * listing is listing.c's itab_snapshot()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "itab_internal.h"

struct itab_snapshot *snapshot_alloc(struct itab *t, size_t n, size_t cap)
{
	struct itab_snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ents = calloc(cap ? cap : 1, sizeof(*s->ents));
	if (!s->ents) {
		free(s);
		return NULL;
	}
	s->n = n;
	s->refs = 1;
	s->table = t;
	return s;
}

void itab_dirents_free(struct itab_dirent *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		snapshot_name_free(&ents[i]);
		free(ents[i].link_target);
	}
	free(ents);
}

int itab_dirents_copy(struct itab_dirent *dst, const struct itab_dirent *src,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!src[i].name)
			continue; /* removed */
		*dst = src[i];
		dst->name = strdup(src[i].name);
		dst->name_packed = false;
		dst->link_target =
			src[i].link_target ? strdup(src[i].link_target) : NULL;
		if (!dst->name || (src[i].link_target && !dst->link_target))
			return -ENOMEM; /* the caller frees what was made */
		dst++;
	}
	return 0;
}

int itab_snapshot_copy(const struct itab_dirent *ents, size_t n,
		       struct itab_snapshot **out)
{
	struct itab_snapshot *s = snapshot_alloc(NULL, n, n);

	if (!s)
		return -ENOMEM;
	if (itab_dirents_copy(s->ents, ents, n) < 0) {
		itab_snapshot_free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void itab_snapshot_stat(const struct itab_snapshot *s,
			const struct itab_dirent *d, uint64_t ino,
			struct stat *st)
{
	struct itab *t = s->table;

	if (t)
		pthread_mutex_lock(&t->lock);
	itab_attr_unpack(&d->st, ino, st);
	if (t)
		pthread_mutex_unlock(&t->lock);
}

/* A block of names.  At most 64 KiB, under glibc's mmap threshold: each
 * is carved from the heap where the names copied before it were freed
 * (one block for all would exist beside all of them: a listing's names
 * twice at the peak, 29 MB more for a million). */
#define NAME_BLOCK_MAX (64u << 10)
struct name_block {
	struct name_block *next;
	char bytes[];
};

/* The first block of a pool, and how they grow: a small listing does
 * not take 64 KiB. */
#define NAME_BLOCK_MIN (1u << 10)

char *itab_pool_add(struct itab_name_pool *pool, const char *name)
{
	size_t len = strlen(name) + 1;
	char *p;

	if (len > pool->room - pool->used) {
		size_t room = pool->room ? 2 * pool->room : NAME_BLOCK_MIN;
		struct name_block *b;

		room = room > NAME_BLOCK_MAX ? NAME_BLOCK_MAX : room;
		room = room < len ? len : room;
		b = malloc(sizeof(*b) + room);
		if (!b)
			return NULL;
		b->next = pool->blocks;
		pool->blocks = b;
		pool->room = room;
		pool->used = 0;
	}
	p = pool->blocks->bytes + pool->used;
	memcpy(p, name, len);
	pool->used += len;
	return p;
}

static void blocks_free(struct name_block *b)
{
	while (b) {
		struct name_block *next = b->next;

		free(b);
		b = next;
	}
}

void itab_pool_free(struct itab_name_pool *pool)
{
	blocks_free(pool->blocks);
	memset(pool, 0, sizeof(*pool));
}

void snapshot_take_pool(struct itab_snapshot *s, struct itab_name_pool *pool)
{
	struct name_block **end = &s->blocks;

	while (*end)
		end = &(*end)->next;
	*end = pool->blocks;
	memset(pool, 0, sizeof(*pool));
}

void snapshot_pack_names(struct itab_snapshot *s)
{
	struct name_block *b = NULL;
	size_t left = 0, room = 0, used = 0;

	for (size_t i = 0; i < s->n; i++)
		left += s->ents[i].name && !s->ents[i].name_packed
				? strlen(s->ents[i].name) + 1
				: 0;
	for (size_t i = 0; i < s->n; i++) {
		struct itab_dirent *d = &s->ents[i];
		size_t len;

		if (!d->name || d->name_packed)
			continue;
		len = strlen(d->name) + 1;
		if (len > room - used) {
			room = left < NAME_BLOCK_MAX ? left : NAME_BLOCK_MAX;
			b = malloc(sizeof(*b) + room);
			if (!b)
				return; /* the rest stay where they are */
			b->next = s->blocks;
			s->blocks = b;
			used = 0;
		}
		memcpy(b->bytes + used, d->name, len);
		free(d->name);
		d->name = b->bytes + used;
		d->name_packed = true;
		used += len;
		left -= len;
	}
}

void snapshot_name_free(struct itab_dirent *d)
{
	if (!d->name_packed)
		free(d->name);
	d->name = NULL;
	d->name_packed = false;
}

void snapshot_unref_locked(struct itab_snapshot *s)
{
	if (--s->refs > 0)
		return;
	for (size_t i = 0; i < s->n; i++) {
		snapshot_name_free(&s->ents[i]);
		free(s->ents[i].link_target);
	}
	free(s->ents);
	blocks_free(s->blocks);
	free(s);
}

void itab_snapshot_free(struct itab_snapshot *s)
{
	struct itab *t;

	if (!s)
		return;
	t = s->table;
	if (t)
		pthread_mutex_lock(&t->lock);
	snapshot_unref_locked(s);
	if (t)
		pthread_mutex_unlock(&t->lock);
}
