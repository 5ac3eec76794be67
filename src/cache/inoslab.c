/*
 * inoslab.c - the inodes of a table in pages of INOSLAB_PAGE, each known
 * by a 32-bit id (issue 21): no allocator header per inode (8 bytes),
 * and the indexes (inotab.c) hold 4-byte ids, not 8-byte pointers.  A
 * page is freed once its last inode is: after the kernel forgets its
 * inodes the memory goes back (itab_forget() trims).  An inode never
 * moves while it lives.  Not thread-safe: the table's lock.
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
	s->used++;
	in = &pg->mem[slot];
	memset(in, 0, sizeof(*in));
	in->id = (uint32_t)(p * INOSLAB_PAGE + slot + 1);
	return in;
}

static bool has_room(const struct inoslab_page *pg)
{
	return !pg->mem || pg->free_head || pg->fresh < INOSLAB_PAGE;
}

struct inode *inoslab_alloc(struct inoslab *s)
{
	size_t p = s->hint;

	while (p < s->npages && !has_room(&s->pages[p]))
		p++;
	if (p == s->npages) {
		size_t n = s->npages ? s->npages * 2 : 4;
		struct inoslab_page *v;

		if (n > MAX_PAGES)
			n = MAX_PAGES;
		if (p >= n)
			return NULL;
		v = realloc(s->pages, n * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + s->npages, 0, (n - s->npages) * sizeof(*v));
		s->pages = v;
		s->npages = n;
	}
	if (!s->pages[p].mem) {
		s->pages[p].mem = malloc(INOSLAB_PAGE * sizeof(struct inode));
		if (!s->pages[p].mem)
			return NULL;
		SLAB_POISON(s->pages[p].mem,
			    INOSLAB_PAGE * sizeof(struct inode));
		s->pages[p].fresh = 0;
		s->pages[p].free_head = 0;
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
	if (--pg->nused == 0) { /* the page goes back */
		free(pg->mem);
		pg->mem = NULL;
		if (s->used == 0)
			inoslab_free(s);
		return;
	}
	memcpy(in, &pg->free_head, sizeof(pg->free_head));
	pg->free_head = slot + 1;
	SLAB_POISON(in, sizeof(*in));
}
