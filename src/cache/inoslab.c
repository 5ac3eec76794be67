/*
 * inoslab.c - the inodes of a table in pages of INOSLAB_PAGE, each known
 * by a 32-bit id (issue 21): no allocator header per inode (8 bytes), the
 * children indexes (inotab.c) hold 4-byte ids, not 8-byte pointers, and
 * no index by number at all: an inode's number is its id, above it how
 * often its page's slots were freed before (so a number, once forgotten,
 * does not come back for another inode: a request still on its way for
 * it finds nothing).  The first inodes get 1, 2, 3 ...  A page's memory
 * is freed once its last inode is: after the kernel forgets its inodes
 * the memory goes back (itab_forget() trims).  An inode never moves while
 * it lives.  Not thread-safe: the table's lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "itab_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SLAB_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SLAB_POISON(p, n)   ((void)(p), (void)(n))
#define SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Ids 1.. (0: none); a page's slots are ids page * INOSLAB_PAGE + 1... */
#define MAX_PAGES ((UINT32_MAX - 1) / INOSLAB_PAGE)

void inoslab_free(struct inoslab *s)
{
	for (size_t p = 0; p < s->npages; p++)
		free(s->pages[p].mem);
	free(s->pages);
	memset(s, 0, sizeof(*s));
}

static bool is_live(const struct inoslab_page *pg, uint32_t slot)
{
	return pg->live[slot / 64] >> (slot % 64) & 1;
}

/* A slot of page @p (which has room). */
static struct inode *take(struct inoslab *s, size_t p)
{
	struct inoslab_page *pg = &s->pages[p];
	uint32_t slot;
	struct inode *in;

	if (pg->free_head) { /* a freed slot: its first bytes link the next */
		slot = pg->free_head - 1;
		SLAB_UNPOISON(&pg->mem[slot], sizeof(struct inode));
		memcpy(&pg->free_head, &pg->mem[slot], sizeof(pg->free_head));
	} else {
		slot = pg->fresh++;
		SLAB_UNPOISON(&pg->mem[slot], sizeof(struct inode));
	}
	pg->nused++;
	pg->live[slot / 64] |= 1ull << (slot % 64);
	s->used++;
	in = &pg->mem[slot];
	memset(in, 0, sizeof(*in));
	in->id = (uint32_t)(p * INOSLAB_PAGE + slot + 1);
	in->ino = (uint64_t)pg->gen << 32 | in->id;
	return in;
}

static bool has_room(const struct inoslab_page *pg)
{
	return !pg->mem || pg->free_head || pg->fresh < INOSLAB_PAGE;
}

/* Room for page @p in s->pages: 0 or -ENOMEM. */
static int pages_grow(struct inoslab *s, size_t p)
{
	size_t n = s->npages ? s->npages * 2 : 4;
	struct inoslab_page *v;

	if (n > MAX_PAGES)
		n = MAX_PAGES;
	if (p >= n)
		return -ENOMEM;
	v = realloc(s->pages, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v + s->npages, 0, (n - s->npages) * sizeof(*v));
	s->pages = v;
	s->npages = n;
	return 0;
}

struct inode *inoslab_alloc(struct inoslab *s)
{
	size_t p = s->hint;
	struct inoslab_page *pg;

	while (p < s->npages && !has_room(&s->pages[p]))
		p++;
	if (p == s->npages && pages_grow(s, p) < 0)
		return NULL;
	pg = &s->pages[p];
	if (!pg->mem) {
		pg->mem = malloc(INOSLAB_PAGE * sizeof(struct inode));
		if (!pg->mem)
			return NULL;
		SLAB_POISON(pg->mem, INOSLAB_PAGE * sizeof(struct inode));
		pg->fresh = 0;
		pg->free_head = 0;
	}
	s->hint = p;
	return take(s, p);
}

void inoslab_release(struct inoslab *s, struct inode *in)
{
	size_t p = (in->id - 1) / INOSLAB_PAGE;
	struct inoslab_page *pg = &s->pages[p];
	uint32_t slot = (in->id - 1) % INOSLAB_PAGE;

	s->used--;
	if (p < s->hint)
		s->hint = p;
	pg->gen++; /* (wraps after 2^32 frees in one page) */
	pg->live[slot / 64] &= ~(1ull << (slot % 64));
	if (--pg->nused == 0) { /* the page goes back (not its record) */
		free(pg->mem);
		pg->mem = NULL;
		return;
	}
	memcpy(in, &pg->free_head, sizeof(pg->free_head));
	pg->free_head = slot + 1;
	SLAB_POISON(in, sizeof(*in));
}

struct inode *inoslab_find(const struct inoslab *s, uint64_t ino)
{
	uint32_t id = (uint32_t)ino;
	size_t p = (size_t)(id - 1) / INOSLAB_PAGE;
	const struct inoslab_page *pg;
	struct inode *in;

	if (id == 0 || p >= s->npages)
		return NULL;
	pg = &s->pages[p];
	if (!pg->mem || !is_live(pg, (id - 1) % INOSLAB_PAGE))
		return NULL;
	in = &pg->mem[(id - 1) % INOSLAB_PAGE];
	return in->ino == ino ? in : NULL;
}

struct inode *inoslab_next(const struct inoslab *s, size_t *pos)
{
	for (; *pos < s->npages * INOSLAB_PAGE; (*pos)++) {
		const struct inoslab_page *pg = &s->pages[*pos / INOSLAB_PAGE];
		uint32_t slot = *pos % INOSLAB_PAGE;

		if (!pg->mem) { /* the whole page is free */
			*pos += INOSLAB_PAGE - slot - 1;
			continue;
		}
		if (is_live(pg, slot)) {
			(*pos)++;
			return &pg->mem[slot];
		}
	}
	return NULL;
}
