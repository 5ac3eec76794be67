/*
 * itab_internal.h - the inode table's data, shared by inode.c (inodes,
 * attributes, names) and listing.c (directory listings and their memory
 * budget).  Everything here runs with itab.lock held (see inode.h).
 * Calls between the files go one way: itab_names.c and mtimes.c call
 * inode.c, which calls listing.c, which calls snapshot.c - but for one
 * call up, inode_names_release_locked(): a listing that drops or changes
 * names gives the inodes sharing them their own copies.
 */
#ifndef FTPSFS_ITAB_INTERNAL_H
#define FTPSFS_ITAB_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/inode.h"
#include "ftpsfs/nameidx.h"

#define ITAB_ROOT_INO 1 /* FUSE_ROOT_ID */

/*
 * A directory's listing: its entries in the server's order, in the array
 * of a snapshot (inode.h) that opendirs share - while they do
 * (snap->refs > 1) its names and places never change, a structural
 * change copies it first; attributes change in place - and an index by
 * name.  An entry removed from a private array keeps its place
 * with a NULL name (a hole) until the next share compacts the array.
 */
struct dir_listing {
	struct itab_snapshot *snap; /* one reference is the listing's */
	size_t cap;		    /* room in snap->ents */
	size_t holes;		    /* entries with a NULL name */
	struct name_index ix;
	uint64_t dir; /* the directory's inode */
	size_t bytes; /* what its entries cost (ent_bytes()) */
	struct dir_listing *lru_prev, *lru_next; /* t->listings */
	int64_t expire;
	uint64_t gen;	      /* generation it was asked for at */
	bool times_pending;   /* files with minute-precise times (LIST) whose
			       * exact ones can be asked (MDTM) */
	bool times_fetching;  /* a thread asks them now (itab_mtimes_claim) */
	size_t times_next;    /* the entries before it were asked already */
	size_t times_claimed; /* where the batch being asked ends */
	bool ahead; /* fetched ahead and not used since: dropped first */
};

/* A table's inodes, by 32-bit id (inoslab.c). */
#define INOSLAB_PAGE 1024 /* inodes per page (90 KiB) */

struct inoslab_page {
	struct inode *mem; /* INOSLAB_PAGE of them, or NULL (freed) */
	uint32_t nused;
	uint32_t fresh;	    /* slots [fresh, INOSLAB_PAGE) never used yet */
	uint32_t free_head; /* a freed slot + 1, or 0 */
	uint32_t gen;	    /* slots freed so far: the high half of the
			     * numbers of the inodes made now */
	uint64_t live[INOSLAB_PAGE / 64]; /* the slots in use */
};

struct inoslab {
	struct inoslab_page *pages;
	size_t npages;
	size_t hint; /* no page before it has room */
	size_t used;
};

/* A zeroed inode with its id and number set, or NULL (no memory). */
struct inode *inoslab_alloc(struct inoslab *s);
void inoslab_release(struct inoslab *s, struct inode *in);
/* Free all pages (the inodes in them are gone). */
void inoslab_free(struct inoslab *s);
/* The inode numbered @ino, or NULL. */
struct inode *inoslab_find(const struct inoslab *s, uint64_t ino);
/* The first inode at or after position @pos (0 to start), @pos moved
 * past it; NULL at the end.  Releasing the inode returned is allowed. */
struct inode *inoslab_next(const struct inoslab *s, size_t *pos);

/* A set of inodes by name (inotab.c): their ids. */
struct inotab {
	uint32_t *slots;
	size_t nslots; /* or 0 (see oa_home() in nameidx.h) */
	size_t used;
	const struct inoslab *slab; /* where the ids point */
	uint64_t seed;		    /* of name_hash() */
};

void inotab_init(struct inotab *tb, uint64_t seed, const struct inoslab *slab);
void inotab_free(struct inotab *tb);
/* The inode named @name, or NULL. */
struct inode *inotab_find(const struct inotab *tb, const char *name);
/* Add @in (not in it yet).  Returns 0 or -ENOMEM (nothing changed). */
int inotab_add(struct inotab *tb, struct inode *in);
/* Take @in out (if there), before its name changes. */
void inotab_del(struct inotab *tb, struct inode *in);

/*
 * What only some inodes need - directories (their children and listing),
 * symlinks (their target), files open for writing (pinned) - out of line:
 * a file the kernel holds costs an 88-byte slab slot (issue 21).
 * Made when first needed (inode_more()), freed with the inode.
 */
struct inode_more {
	struct inotab *children;     /* child inodes by name (a lookup
				      * allocates nothing), or NULL */
	struct dir_listing *listing; /* or NULL */
	char *link_target;	     /* symlinks: the target, or NULL */
	int64_t used_ms;	     /* net_now_ms() the listing was last used
				      * for a request (0 never) */
	unsigned nsubdirs;	     /* subdirectories, see subdirs_known */
	unsigned pinned;	     /* open for writing: see itab_pin() */
	uint64_t local_gen; /* our last change of it (files: attributes;
			     * directories: their entries too), see
			     * inode_local_gen() */
};

struct inode {
	uint64_t ino;
	uint32_t id;	 /* in the table's slab (inoslab.c) */
	uint32_t parent; /* its id; 0 for the root and for removed inodes */
	char *name;
	struct inode_more *more; /* or NULL: none of it */
	uint64_t nlookup;
	int64_t attr_expire;
	struct itab_attr st;
	uint16_t unconfirmed; /* reads given out before the server's 226
			       * (UINT16_MAX: too many to count, stays) */
	/* (the flags together in bits: no padding between them) */
	bool named : 1; /* in its parent's children index */
	bool st_known : 1;
	bool open_seen : 1;	/* opened before (keep_cache) ... */
	bool open_changed : 1;	/* ... and its size or time changed since
				 * (inode_attr_changed()) */
	bool local_only : 1;	/* created by us, not on the server yet */
	bool mtime_exact : 1;	/* st_mtim to the second (not a LIST minute) */
	bool subdirs_known : 1; /* directories: more->nsubdirs is from a
				 * listing and kept up to date by our
				 * changes (more is there) */
	bool name_shared : 1;	/* name is the string of its entry in the
				 * parent's listing (see below), else its
				 * own (or no_name) */
};

/* The inode of id @id (not 0, alive). */
static inline struct inode *inoslab_at(const struct inoslab *s, uint32_t id)
{
	return &s->pages[(id - 1) / INOSLAB_PAGE].mem[(id - 1) % INOSLAB_PAGE];
}

/* The inode in slot @i of @tb, or NULL. */
static inline struct inode *inotab_at(const struct inotab *tb, size_t i)
{
	return tb->slots[i] ? inoslab_at(tb->slab, tb->slots[i]) : NULL;
}

static inline struct inotab *inode_children(const struct inode *in)
{
	return in->more ? in->more->children : NULL;
}

static inline struct dir_listing *inode_listing(const struct inode *in)
{
	return in->more ? in->more->listing : NULL;
}

static inline const char *inode_link(const struct inode *in)
{
	return in->more ? in->more->link_target : NULL;
}

static inline unsigned inode_pinned(const struct inode *in)
{
	return in->more ? in->more->pinned : 0;
}

/*
 * Names stored once: an inode made from its parent's listing (lookup,
 * readdirplus) has no copy of its name, it points at the listing's
 * (name_shared: no copy of 24 to 272 bytes).  Invariant: a
 * shared name is the string of the entry of that name in the parent's
 * current listing.  Whatever lets that string go keeps it: a new listing
 * (the inode points at the new one's), a copy of the listing, the entry
 * removed, the listing dropped, the inode leaving its parent (an own copy
 * then: inode_names_release_locked(), inode_unlink_locked()).
 */

struct itab {
	pthread_mutex_t lock;
	struct itab_config cfg;
	char *root_path;
	/* guarded by lock: */
	struct inoslab slab; /* the inodes, by number too */
	uint64_t gen;	     /* of our last change (see inode.h) */
	size_t nlocal_only;  /* inodes with local_only set (found through
			      * their parents' children: no list links in
			      * every inode) */
	/* Listings held, least recently used first, and what they cost:
	 * kept within cfg.listing_budget (see listing_attach_locked()). */
	struct dir_listing *listings;
	size_t listing_bytes;
	pthread_cond_t times_cond; /* a listing's times_fetching ended */
	uint64_t seed;		   /* of the children indexes' name_hash() */
	size_t freed_bytes;	   /* freed since memory was last given back to
				    * the system (itab_forget()) */
	bool closing;		   /* itab_free(): names are not handed over */
	uint64_t nomem_gen;	   /* see inode_local_gen() */
};

/* @in's out-of-line part, made if needed.  NULL: no memory. */
static inline struct inode_more *inode_more(struct itab *t, struct inode *in)
{
	if (!in->more) {
		in->more = calloc(1, sizeof(*in->more));
		if (in->more)
			in->more->local_gen = t->nomem_gen;
	}
	return in->more;
}

/* Our last change of @in: without memory to record one, every inode
 * without its own record counts as changed then (server data asked
 * for before is ignored: asked again). */
static inline uint64_t inode_local_gen(const struct itab *t,
				       const struct inode *in)
{
	return in->more ? in->more->local_gen : t->nomem_gen;
}

/* Record our change of @in at generation @gen. */
static inline void inode_set_local_gen(struct itab *t, struct inode *in,
				       uint64_t gen)
{
	if (inode_more(t, in))
		in->more->local_gen = gen;
	else
		t->nomem_gen = gen;
}

/* Child inodes in the table (each holds its parent). */
static inline size_t inode_nchildren(const struct inode *in)
{
	return inode_children(in) ? inode_children(in)->used : 0;
}

/* @in's size or time changes to @size, @mtim: an open no longer keeps
 * the page cache (itab_open_keep_cache()).  Before every such change. */
static inline void inode_attr_changed(struct inode *in, off_t size,
				      const struct itab_mtim *mtim)
{
	if (in->st.st_size != size || in->st.st_mtim.tv_sec != mtim->tv_sec ||
	    in->st.st_mtim.tv_nsec != mtim->tv_nsec)
		in->open_changed = true;
}

static inline struct inode *inode_get(struct itab *t, uint64_t ino)
{
	return inoslab_find(&t->slab, ino);
}

/* @in's parent, if it is in one. */
static inline struct inode *inode_parent(const struct itab *t,
					 const struct inode *in)
{
	return in->named && in->parent ? inoslab_at(&t->slab, in->parent)
				       : NULL;
}

/* Is server data asked for at @since older than our last change? */
static inline bool older_than_ours(const struct itab *t, const struct inode *in,
				   uint64_t since)
{
	return since != ITAB_NOW && inode_local_gen(t, in) > since;
}

/* Memory freed after which it is given back to the system (see
 * itab_forget()). */
#define ITAB_TRIM_BYTES (8u << 20)

/* Replace *@dst by a copy of @src (NULL allowed): 0 or -ENOMEM.  Inline
 * so that listing.c needs nothing from inode.c (calls go one way). */
static inline int set_string(char **dst, const char *src)
{
	char *copy = NULL;

	if (src) {
		copy = strdup(src);
		if (!copy)
			return -ENOMEM;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

/* inode.c */
struct inode *inode_find_child(struct itab *t, uint64_t parent,
			       const char *name);
/* @p's listing lets its names go: the children whose names it holds
 * point at @to's (the listing replacing it, or a copy of it) where it has
 * them, else get their own copies.  Without memory for one, that child
 * leaves the namespace (as if removed): never a name in freed memory.
 * With @name, only the child of that name (its entry goes). */
void inode_names_release_locked(struct itab *t, struct inode *p,
				const struct dir_listing *to, const char *name);

/* listing.c */
/* A listing of @ents[0, @n) (taken over, also on failure, with the
 * blocks of @pool, NULL allowed; a name listed twice: the first counts),
 * its snapshot of table @t.  NULL: no memory. */
struct dir_listing *listing_new(struct itab *t, struct itab_dirent *ents,
				size_t n, struct itab_name_pool *pool);
void listing_free(struct dir_listing *l);
const struct itab_dirent *listing_find(const struct dir_listing *l,
				       const char *name);
/* The same, to be changed: the entries are made the listing's own first.
 * NULL if absent, or if that failed (then the listing is not fresh any
 * more: asked again when needed). */
struct itab_dirent *listing_find_mut(struct dir_listing *l, const char *name);
/* The same, for a change of its attributes only (st, mtime_exact): in
 * place, also while opendirs share the entries (they read them under the
 * lock, itab_snapshot_stat()).  Never fails but for an absent name. */
struct itab_dirent *listing_find_attr(struct dir_listing *l, const char *name);
size_t ent_bytes(const struct itab_dirent *d);
int listing_upsert(struct itab *t, struct dir_listing *l, const char *name,
		   const struct itab_attr *st, const char *link, bool exact);
void listing_remove(struct itab *t, struct dir_listing *l, const char *name);
void listing_drop_locked(struct itab *t, struct inode *p);
void listing_used_locked(struct itab *t, struct inode *p);
/* (@p->more is there) */
void listing_attach_locked(struct itab *t, struct inode *p,
			   struct dir_listing *l);
bool listing_fresh(const struct dir_listing *l);
/* @l's entries for one more reader (without holes).  NULL: no memory. */
struct itab_snapshot *listing_share_locked(struct dir_listing *l);

/* snapshot.c */
/* A snapshot of @n entries (room for @cap), no names yet, refs 1, of
 * table @t (NULL: not shared).  NULL: no memory. */
struct itab_snapshot *snapshot_alloc(struct itab *t, size_t n, size_t cap);
/* Drop one reference (the table's lock held, if it has a table). */
void snapshot_unref_locked(struct itab_snapshot *s);
/* Move the names of @s's entries into blocks (s->blocks): a name costs
 * its bytes, not a heap chunk each (16 to 24 bytes less).  Without memory
 * for a block they stay as they are. */
void snapshot_pack_names(struct itab_snapshot *s);
/* @s holds the blocks of @pool from now on (@pool is emptied). */
void snapshot_take_pool(struct itab_snapshot *s, struct itab_name_pool *pool);
/* Free the name of entry @d (NULL allowed) unless it is packed; then
 * NULL. */
void snapshot_name_free(struct itab_dirent *d);
/* Copy the entries of @src[0, @n) that have a name to @dst (zeroed, room
 * for them), strings too.  Returns 0, or -ENOMEM (what was copied is in
 * @dst: free it with the rest). */
int itab_dirents_copy(struct itab_dirent *dst, const struct itab_dirent *src,
		      size_t n);

/* inode.c, for itab_names.c (t->lock held): the name index, link counts
 * and generations. */
void dir_subdirs_add_locked(struct itab *t, struct inode *p, int delta);
bool entry_is_dir_locked(struct inode *p, struct inode *in, const char *name);
int inode_link_locked(struct itab *t, struct inode *in, struct inode *parent,
		      const char *name);
void inode_maybe_free_locked(struct itab *t, struct inode *in);
void inode_unlink_locked(struct itab *t, struct inode *in);
void local_change_locked(struct itab *t, struct inode *in);

#endif
