/*
 * inode.c - inode table and attribute cache; the listings they hold are
 * listing.c's, exact modification times mtimes.c's (data shared through
 * itab_internal.h).
 *
 * See inode.h for the model and the locking rule (one mutex, no I/O).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utlist.h>

#include "ftpsfs/inode.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stat_clamp.h"
#include "ftpsfs/stats.h"

#include "itab_internal.h"

struct inode *inode_find_child(struct itab *t, uint64_t parent,
			       const char *name)
{
	struct inode *p = inode_get(t, parent);

	return p && inode_children(p) ? inotab_find(inode_children(p), name)
				      : NULL;
}

/* A change of ours to @in: a new generation for it and its directory. */
void local_change_locked(struct itab *t, struct inode *in)
{
	struct inode *p = inode_parent(t, in);

	inode_set_local_gen(t, in, ++t->gen);
	if (p)
		inode_set_local_gen(t, p, t->gen);
}

/* Is the time the listing of @p gives @name exact?  (No listing, or no
 * record: the attributes came from MLST or our own change.) */
static bool listed_exact_locked(const struct inode *p, const char *name)
{
	const struct itab_dirent *r =
		p ? listing_find(inode_listing(p), name) : NULL;

	return !r || r->mtime_exact;
}

/* @in's attributes changed: its record in its parent's listing follows. */
static void listed_sync_locked(struct itab *t, struct inode *in)
{
	struct inode *p = inode_parent(t, in);
	struct itab_dirent *r =
		p ? listing_find_attr(inode_listing(p), in->name) : NULL;

	if (r)
		r->st = in->st;
}

/* Our change gave directory @p one more (@delta 1) or one fewer (-1)
 * subdirectory: its link count follows, once it was counted. */
void dir_subdirs_add_locked(struct itab *t, struct inode *p, int delta)
{
	if (!p || !p->subdirs_known || (delta < 0 && p->more->nsubdirs == 0))
		return;
	p->more->nsubdirs = (unsigned)((int)p->more->nsubdirs + delta);
	p->st.st_nlink = 2 + p->more->nsubdirs;
	listed_sync_locked(t, p);
}

/* Is the entry @name of @p a directory, as far as we know? */
bool entry_is_dir_locked(struct inode *p, struct inode *in, const char *name)
{
	const struct itab_dirent *r =
		listing_find(p ? inode_listing(p) : NULL, name);

	if (in && in->st_known)
		return S_ISDIR(in->st.st_mode);
	return r && S_ISDIR(r->st.st_mode);
}

/*
 * Attributes from the server (@force false) or from our own change
 * (@force true).  A pinned inode keeps its attributes unless forced: the
 * server's view lags behind our pending writes.  A directory whose
 * subdirectories we counted shows 2 + their number as its link count.
 */
static void inode_set_attr_locked(struct itab *t, struct inode *in,
				  const struct itab_attr *attr,
				  const char *link_target, bool force,
				  bool exact)
{
	/* Pinned: ours, whatever the server says (size and times lag behind
	 * pending writes; a mode change may wait for the upload). */
	if (!(inode_pinned(in) && in->st_known && !force)) {
		inode_attr_changed(in, attr->st_size, &attr->st_mtim);
		in->st = *attr;
		in->mtime_exact = exact || force;
	}
	if (S_ISDIR(in->st.st_mode) && in->subdirs_known)
		in->st.st_nlink = 2 + in->more->nsubdirs;
	in->st_known = true;
	in->attr_expire = net_now_ms() + t->cfg.attr_timeout_ms;
	/* (without memory for it, readlink asks the server) */
	if (S_ISLNK(attr->st_mode) && link_target && inode_more(t, in))
		(void)set_string(&in->more->link_target, link_target);
}

/* The name of an inode without one (the root; one that left the
 * namespace without memory for a copy of its shared one): never freed. */
static char no_name[1];

/* A new inode (not named yet) with a copy of @name, or, with @shared
 * (@name's string in the parent's listing), pointing at that.  (The
 * copy is its own allocation: an inode inside which a name could fit
 * would be 16 bytes bigger, and most names are shared.) */
static struct inode *inode_alloc(struct itab *t, const char *name,
				 const char *shared)
{
	char *nm = shared ? (char *)shared : *name ? strdup(name) : no_name;
	struct inode *in = nm ? inoslab_alloc(&t->slab) : NULL;

	if (!in) {
		if (nm != shared && nm != no_name)
			free(nm);
		return NULL;
	}
	in->name = nm;
	in->name_shared = shared != NULL;
	return in;
}

static void inode_name_free(struct inode *in)
{
	if (in->name != no_name && !in->name_shared)
		free(in->name);
	in->name_shared = false;
	in->name = no_name;
}

/* inode_names_release_locked() for @in.  Returns false if @in left its
 * parent (no memory for a copy: the parent's index changed). */
static bool name_release_one(struct itab *t, struct inode *in,
			     const struct dir_listing *to)
{
	const struct itab_dirent *d = to ? listing_find(to, in->name) : NULL;
	char *copy;

	if (d) {
		in->name = d->name;
		return true;
	}
	copy = strdup(in->name);
	if (!copy) {
		inode_unlink_locked(t, in);
		return false;
	}
	in->name = copy;
	in->name_shared = false;
	return true;
}

void inode_names_release_locked(struct itab *t, struct inode *p,
				const struct dir_listing *to, const char *name)
{
	if (t->closing || !p || !inode_children(p))
		return;
	if (name) { /* one entry goes: its child only (no walk) */
		struct inode *in = inotab_find(inode_children(p), name);

		if (in && in->name_shared)
			name_release_one(t, in, to);
		return;
	}
restart:
	for (size_t i = 0; inode_children(p) && i < inode_children(p)->nslots;
	     i++) {
		struct inode *in = inotab_at(inode_children(p), i);

		if (in && in->name_shared && !name_release_one(t, in, to))
			goto restart;
	}
}

int itab_new(const struct itab_config *cfg, const struct stat *root_st,
	     struct itab **out)
{
	struct itab *t = calloc(1, sizeof(*t));
	struct inode *root = t ? inode_alloc(t, "", NULL) : NULL;

	if (!root)
		goto fail;
	t->cfg = *cfg;
	if (t->cfg.listing_budget == 0)
		t->cfg.listing_budget = SIZE_MAX;
	t->root_path = strdup(cfg->root_path);
	if (!t->root_path)
		goto fail;
	t->cfg.root_path = t->root_path;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->times_cond, NULL);
	/* (the first inode of a slab is numbered 1: ITAB_ROOT_INO) */
	root->nlookup = 1;
	itab_attr_pack(&root->st, root_st);
	root->st_known = true;
	root->mtime_exact = true;
	root->attr_expire = net_now_ms() + cfg->attr_timeout_ms;
	t->seed = name_seed_new();
	*out = t;
	return 0;

fail:
	if (t) {
		inoslab_free(&t->slab);
		free(t->root_path);
	}
	free(t);
	return -ENOMEM;
}

int itab_set_root_path(struct itab *t, const char *root_path)
{
	char *copy = strdup(root_path);

	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&t->lock);
	free(t->root_path);
	t->root_path = copy;
	t->cfg.root_path = copy;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static void inode_destroy(struct itab *t, struct inode *in)
{
	if (in->local_only)
		t->nlocal_only--;
	listing_drop_locked(t, in);
	/* (a shared name is its listing's: in itab_free() maybe freed
	 * already, never to be read here) */
	t->freed_bytes += sizeof(*in) + 64;
	if (in->more) {
		if (in->more->children)
			inotab_free(in->more->children);
		free(in->more->children);
		free(in->more->link_target);
		free(in->more);
	}
	inode_name_free(in);
	inoslab_release(&t->slab, in);
}

void itab_free(struct itab *t)
{
	struct inode *in;

	if (!t)
		return;
	t->closing = true; /* inodes go in any order */
	for (size_t pos = 0; (in = inoslab_next(&t->slab, &pos));)
		inode_destroy(t, in);
	inoslab_free(&t->slab);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->times_cond);
	free(t->root_path);
	free(t);
}

/* Build root_path + "/a/b/c" for @in, then @extra if not NULL. */
static int path_locked(struct itab *t, struct inode *in, const char *extra,
		       char *buf, size_t bufsz)
{
	const char *parts[512];
	size_t nparts = 0, o = 0, rl = strlen(t->root_path);

	if (extra)
		parts[nparts++] = extra;
	while (in->ino != ITAB_ROOT_INO) {
		if (nparts == sizeof(parts) / sizeof(parts[0]))
			return -ENAMETOOLONG;
		parts[nparts++] = in->name;
		in = inode_parent(t, in);
		if (!in)
			return -ESTALE; /* removed, or an ancestor was */
	}
	if (rl + 1 > bufsz)
		return -ENAMETOOLONG;
	memcpy(buf, t->root_path, rl);
	o = rl;
	/* root_path is "/" or has no trailing '/' (hostspec). */
	if (o == 1 && buf[0] == '/')
		o = 0;
	while (nparts > 0) {
		const char *p = parts[--nparts];
		size_t l = strlen(p);

		if (o + 1 + l + 1 > bufsz)
			return -ENAMETOOLONG;
		buf[o++] = '/';
		memcpy(buf + o, p, l);
		o += l;
	}
	if (o == 0)
		buf[o++] = '/';
	buf[o] = '\0';
	return 0;
}

int itab_path(struct itab *t, uint64_t ino, char *buf, size_t bufsz)
{
	struct inode *in;
	int ret = -ESTALE;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in)
		ret = path_locked(t, in, NULL, buf, bufsz);
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int itab_child_path(struct itab *t, uint64_t parent, const char *name,
		    char *buf, size_t bufsz)
{
	struct inode *in;
	int ret = -ESTALE;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, parent);
	if (in)
		ret = path_locked(t, in, name, buf, bufsz);
	/* A directory that was removed (or one of its ancestors) holds no
	 * names: what a local file system says when creating in it. */
	if (in && ret == -ESTALE)
		ret = -ENOENT;
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/* Give @in the name @name in @parent and index it. */
int inode_link_locked(struct itab *t, struct inode *in, struct inode *parent,
		      const char *name)
{
	/* (a new inode's name is in place already) */
	char *nm = in->name == name ? in->name : strdup(name);

	if (!nm)
		return -ENOMEM;
	if (nm != in->name) {
		inode_name_free(in);
		in->name = nm;
	}
	if (!inode_children(parent)) {
		struct inode_more *m = inode_more(t, parent);

		if (!m || !(m->children = malloc(sizeof(*m->children))))
			return -ENOMEM;
		inotab_init(m->children, t->seed, &t->slab);
	}
	if (inotab_add(parent->more->children, in) < 0)
		return -ENOMEM;
	in->parent = parent->id;
	in->named = true;
	return 0;
}

/* Take @in out of @p's children index (freed once empty). */
static void children_del_locked(struct inode *p, struct inode *in)
{
	struct inotab *kids = inode_children(p);

	if (!kids)
		return;
	inotab_del(kids, in);
	if (kids->used == 0) {
		inotab_free(kids);
		free(kids);
		p->more->children = NULL;
	}
}

/* Take @in out of its parent (rename source, removed entry). */
void inode_unlink_locked(struct itab *t, struct inode *in)
{
	struct inode *parent;

	if (!in->named)
		return;
	parent = inode_parent(t, in);
	in->named = false;
	in->parent = 0;
	/* The caller frees the parent if this made it unused: it may
	 * still hold a pointer to it.  (A parent lives while it has
	 * children: it is there.) */
	if (parent)
		children_del_locked(parent, in);
	/* Out of its parent: not its listing's name any more (without
	 * memory for a copy, an empty one: it has no path anyway). */
	if (in->name_shared) {
		char *copy = strdup(in->name);

		in->name = copy ? copy : no_name;
		in->name_shared = copy == NULL;
	}
}

/* Find or create the child inode and count one lookup.  @listed: its
 * entry in the parent's listing, if there is one (its name is shared). */
static struct inode *child_ref_locked(struct itab *t, struct inode *parent,
				      const char *name,
				      const struct itab_dirent *listed)
{
	struct inode *in = inode_find_child(t, parent->ino, name);
	const char *shared = listed ? listed->name : NULL;

	if (in) {
		in->nlookup++;
		return in;
	}
	in = inode_alloc(t, name, shared);
	if (!in)
		return NULL;
	if (inode_link_locked(t, in, parent, in->name) < 0) {
		inode_name_free(in);
		inoslab_release(&t->slab, in);
		return NULL;
	}
	in->nlookup = 1;
	return in;
}

int itab_lookup(struct itab *t, uint64_t parent, const char *name,
		struct stat *st)
{
	const struct itab_dirent *r;
	struct inode *p, *in;
	int ret = -EAGAIN;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, parent);
	if (!p) {
		ret = -ESTALE;
		goto out;
	}
	if (!listing_fresh(inode_listing(p)))
		goto out;
	listing_used_locked(t, p);
	r = listing_find(inode_listing(p), name);
	if (!r) {
		ret = -ENOENT;
		goto out;
	}
	in = child_ref_locked(t, p, name, r);
	if (!in) {
		ret = -ENOMEM;
		goto out;
	}
	inode_set_attr_locked(t, in, &r->st, r->link_target, false,
			      r->mtime_exact);
	in->attr_expire = inode_listing(p)->expire;
	itab_attr_unpack(&in->st, in->ino, st);
	ret = 0;
out:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int itab_listed(struct itab *t, uint64_t dir, const char *name, struct stat *st,
		bool *exact)
{
	const struct itab_dirent *r;
	struct inode *p;
	int ret = -EAGAIN;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (!p) {
		ret = -ESTALE;
	} else if (listing_fresh(inode_listing(p))) {
		r = listing_find(inode_listing(p), name);
		ret = r ? 0 : -ENOENT;
		if (r) {
			itab_attr_unpack(&r->st, 0, st);
			*exact = r->mtime_exact;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/* itab_add_entry() (@since ITAB_NOW, @ours) and itab_add_listed(). */
static int add_entry(struct itab *t, uint64_t parent, const char *name,
		     const struct stat *attr, const char *link_target,
		     uint64_t since, bool ours, struct stat *st)
{
	struct inode *p, *in;
	struct itab_attr a;
	int ret = 0;

	itab_attr_pack(&a, attr);
	pthread_mutex_lock(&t->lock);
	p = inode_get(t, parent);
	if (!p) {
		ret = -ESTALE;
		goto out;
	}
	in = child_ref_locked(t, p, name, listing_find(inode_listing(p), name));
	if (!in) {
		ret = -ENOMEM;
		goto out;
	}
	if (ours && S_ISDIR(attr->st_mode) && !entry_is_dir_locked(p, in, name))
		dir_subdirs_add_locked(t, p, 1);
	if (!in->st_known || !older_than_ours(t, in, since)) {
		inode_set_attr_locked(t, in, &a, link_target, false,
				      ours || listed_exact_locked(p, name));
		if (ours)
			local_change_locked(t, in);
		/* What the listing said comes back unchanged (readdirplus):
		 * its exactness too.  Ours: the server's time is asked. */
		if (inode_listing(p))
			ret = listing_upsert(t, inode_listing(p), name, &in->st,
					     link_target,
					     !ours && in->mtime_exact);
	}
	itab_attr_unpack(&in->st, in->ino, st);
out:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int itab_add_entry(struct itab *t, uint64_t parent, const char *name,
		   const struct stat *attr, const char *link_target,
		   struct stat *st)
{
	return add_entry(t, parent, name, attr, link_target, ITAB_NOW, true,
			 st);
}

int itab_add_listed(struct itab *t, uint64_t parent, const char *name,
		    const struct stat *attr, const char *link_target,
		    uint64_t since, struct stat *st)
{
	return add_entry(t, parent, name, attr, link_target, since, false, st);
}

uint64_t itab_generation(struct itab *t)
{
	uint64_t gen;

	pthread_mutex_lock(&t->lock);
	gen = t->gen;
	pthread_mutex_unlock(&t->lock);
	return gen;
}

int itab_getattr(struct itab *t, uint64_t ino, struct stat *st)
{
	struct inode *in;
	int ret = -ESTALE;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in) {
		/* Open for writing, or deleted (no name to ask the server
		 * about): what we know is all there is. */
		bool ours = inode_pinned(in) ||
			    (!in->named && in->ino != ITAB_ROOT_INO);

		itab_attr_unpack(&in->st, in->ino, st);
		ret = in->st_known && (ours || in->attr_expire > net_now_ms())
			      ? 0
			      : -EAGAIN;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/* itab_set_attr() and itab_set_listed_attr(). */
static void set_attr(struct itab *t, uint64_t ino, const struct stat *attr,
		     const char *link_target, unsigned flags, uint64_t since)
{
	struct inode *in, *p;
	struct itab_attr a;

	itab_attr_pack(&a, attr);
	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (!in || (!(flags & ITAB_FORCE) && older_than_ours(t, in, since)))
		goto out;
	inode_set_attr_locked(
		t, in, &a, link_target, flags & ITAB_FORCE,
		(flags & ITAB_EXACT_MTIME) ||
			listed_exact_locked(inode_parent(t, in), in->name));
	if (flags & ITAB_FORCE)
		local_change_locked(t, in);
	p = inode_parent(t, in);
	if (p && inode_listing(p))
		(void)listing_upsert(t, inode_listing(p), in->name, &in->st,
				     inode_link(in), flags & ITAB_EXACT_MTIME);
out:
	pthread_mutex_unlock(&t->lock);
}

void itab_set_attr(struct itab *t, uint64_t ino, const struct stat *attr,
		   const char *link_target, unsigned flags)
{
	set_attr(t, ino, attr, link_target, flags, ITAB_NOW);
}

void itab_set_listed_attr(struct itab *t, uint64_t ino, const struct stat *attr,
			  const char *link_target, uint64_t since)
{
	set_attr(t, ino, attr, link_target, 0, since);
}

int itab_pin(struct itab *t, uint64_t ino, bool pin)
{
	struct inode *in;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && pin) {
		if (inode_more(t, in))
			in->more->pinned++;
		else
			ret = -ENOMEM;
	} else if (in && inode_pinned(in)) {
		in->more->pinned--;
		/* Forgotten by the kernel meanwhile: no longer needed. */
		inode_maybe_free_locked(t, in);
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int itab_parent_name(struct itab *t, uint64_t ino, uint64_t *parent, char *name,
		     size_t namesz)
{
	struct inode *in;
	int ret = -ESTALE;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && in->ino == ITAB_ROOT_INO) {
		ret = -EINVAL;
	} else if (in && in->named) {
		*parent = inode_parent(t, in)->ino;
		ret = snprintf(name, namesz, "%s", in->name) < (int)namesz
			      ? 0
			      : -ENAMETOOLONG;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

bool itab_is_removed(struct itab *t, uint64_t ino)
{
	struct inode *in;
	bool removed;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	removed = in && in->ino != ITAB_ROOT_INO && !in->named;
	pthread_mutex_unlock(&t->lock);
	return removed;
}

int itab_set_listing(struct itab *t, uint64_t dir, struct itab_dirent *ents,
		     size_t n, uint64_t since, unsigned flags)
{
	return itab_set_listing_snap(t, dir, ents, n, since, flags, NULL);
}

int itab_set_listing_snap(struct itab *t, uint64_t dir,
			  struct itab_dirent *ents, size_t n, uint64_t since,
			  unsigned flags, struct itab_snapshot **snap)
{
	return itab_set_listing_pool(t, dir, ents, n, NULL, since, flags, snap);
}

int itab_set_listing_pool(struct itab *t, uint64_t dir,
			  struct itab_dirent *ents, size_t n,
			  struct itab_name_pool *pool, uint64_t since,
			  unsigned flags, struct itab_snapshot **snap)
{
	/* Made outside the lock: a big listing takes a while to index.
	 * The entries become the listing's without a copy. */
	struct dir_listing *l = listing_new(t, ents, n, pool);
	struct itab_dirent *e;
	struct inode *p;
	int ret = 0;

	if (!l)
		return -ENOMEM;
	e = l->snap->ents;
	n = l->snap->n;
	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (!p) {
		ret = -ESTALE;
		goto out;
	}
	l->gen = l->snap->gen = since;
	if (older_than_ours(t, p, since)) {
		ret = -EAGAIN; /* we changed it meanwhile */
		if (snap) {    /* the caller's alone */
			*snap = l->snap;
			l->snap = NULL;
		}
		goto out;
	}
	l->expire = net_now_ms() + t->cfg.dir_timeout_ms;
	l->ahead = flags & ITAB_AHEAD;
	if (!inode_more(t, p)) {
		ret = -ENOMEM;
		goto out;
	}
	p->more->nsubdirs = 0;
	for (size_t i = 0; i < n; i++) {
		l->times_pending |= (flags & ITAB_TIMES_ASKABLE) &&
				    S_ISREG(e[i].st.st_mode) &&
				    !e[i].mtime_exact;
		p->more->nsubdirs += S_ISDIR(e[i].st.st_mode);
	}
	p->subdirs_known = true;
	p->st.st_nlink = 2 + p->more->nsubdirs;
	listed_sync_locked(t, p);
	/* Refresh the attributes of children the kernel knows; a pinned
	 * child keeps ours, and a directory its counted links, also in
	 * the listing (not shared yet: readdirplus then finds the listing
	 * saying what the inode does, and leaves it shared). */
	for (size_t i = 0; inode_children(p) && i < n; i++) {
		struct inode *in = inode_find_child(t, dir, e[i].name);

		if (!in)
			continue;
		inode_set_attr_locked(t, in, &e[i].st, e[i].link_target, false,
				      e[i].mtime_exact);
		in->attr_expire = l->expire;
		e[i].st = in->st;
	}
	listing_attach_locked(t, p, l);
	if (snap)
		*snap = listing_share_locked(l); /* no holes: no failure */
	l = NULL;
out:
	listing_free(l);
	pthread_mutex_unlock(&t->lock);
	return ret;
}

bool itab_listing_fresh(struct itab *t, uint64_t dir)
{
	struct inode *p;
	bool fresh;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	fresh = p && listing_fresh(inode_listing(p));
	pthread_mutex_unlock(&t->lock);
	return fresh;
}

int itab_readlink(struct itab *t, uint64_t ino, char *buf, size_t bufsz)
{
	struct inode *in;
	int ret = -ESTALE;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && !inode_link(in))
		ret = -EAGAIN;
	else if (in)
		ret = snprintf(buf, bufsz, "%s", inode_link(in)) < (int)bufsz
			      ? 0
			      : -ENAMETOOLONG;
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int itab_find_child(struct itab *t, uint64_t parent, const char *name,
		    uint64_t *ino)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = inode_find_child(t, parent, name);
	if (in)
		*ino = in->ino;
	pthread_mutex_unlock(&t->lock);
	return in ? 0 : -ENOENT;
}

void itab_touch_dir(struct itab *t, uint64_t dir)
{
	struct inode *in, *p;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, dir);
	if (in)
		local_change_locked(t, in); /* its parent lists its time */
	if (in && in->st_known) {
		struct timespec ts;
		struct itab_mtim now;

		clock_gettime(CLOCK_REALTIME, &ts);
		now.tv_sec = ts.tv_sec;
		now.tv_nsec = (uint32_t)ts.tv_nsec;
		inode_attr_changed(in, in->st.st_size, &now);
		in->st.st_mtim = now;
		p = inode_parent(t, in);
		if (p && inode_listing(p))
			(void)listing_upsert(t, inode_listing(p), in->name,
					     &in->st, NULL, false);
	}
	pthread_mutex_unlock(&t->lock);
}

void itab_invalidate_dir(struct itab *t, uint64_t dir)
{
	struct inode *p;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (p) {
		listing_drop_locked(t, p);
		/* a listing on its way may predate what made us forget */
		inode_set_local_gen(t, p, ++t->gen);
	}
	pthread_mutex_unlock(&t->lock);
}

/* Free @in if nothing holds it, then its parent if that became free.  A
 * pinned inode is held too: its write state (with -o writeback a queued
 * upload, after the last release) still needs its path and attributes
 * once the kernel has forgotten it. */
void inode_maybe_free_locked(struct itab *t, struct inode *in)
{
	while (in && in->ino != ITAB_ROOT_INO && in->nlookup == 0 &&
	       inode_pinned(in) == 0 && inode_nchildren(in) == 0) {
		struct inode *parent = inode_parent(t, in);

		if (parent)
			children_del_locked(parent, in);
		inode_destroy(t, in);
		if (!parent)
			break;
		in = parent;
	}
}

void itab_forget(struct itab *t, uint64_t ino, uint64_t n)
{
	struct inode *in;
	bool trim = false;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && in->ino != ITAB_ROOT_INO) {
		in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
		inode_maybe_free_locked(t, in);
	}
	if (t->freed_bytes >= ITAB_TRIM_BYTES) {
		t->freed_bytes = 0;
		trim = true;
	}
	pthread_mutex_unlock(&t->lock);
	/* The kernel forgets in batches (drop_caches, memory pressure,
	 * unmount): once megabytes were freed, hand the pages back to the
	 * system, or the daemon's RSS stays at its peak (glibc keeps freed
	 * memory in its arenas).  Outside the lock: it takes a while. */
	if (trim)
		malloc_trim(0);
}

bool itab_open_keep_cache(struct itab *t, uint64_t ino)
{
	struct inode *in;
	bool keep = false;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in) {
		/* The size and time the last open saw: a bit set when
		 * they change, not a record of them in every inode. */
		keep = in->open_seen && !in->open_changed &&
		       in->unconfirmed == 0;
		in->open_seen = true;
		in->open_changed = false;
	}
	pthread_mutex_unlock(&t->lock);
	return keep;
}

void itab_data_unconfirmed(struct itab *t, uint64_t ino, int delta)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && in->unconfirmed == UINT16_MAX) {
		/* too many to count: never confirmed (no page cache kept) */
	} else if (in && delta > 0) {
		in->unconfirmed++;
	} else if (in && in->unconfirmed > 0) {
		in->unconfirmed--;
		if (delta < -1) {
			in->open_seen = false;
			if (!inode_pinned(in))
				in->attr_expire = 0;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

size_t itab_count(struct itab *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->slab.used;
	pthread_mutex_unlock(&t->lock);
	return n;
}

size_t itab_listing_bytes(struct itab *t, size_t *nlistings)
{
	struct dir_listing *l;
	size_t bytes, n = 0;

	pthread_mutex_lock(&t->lock);
	bytes = t->listing_bytes;
	DL_COUNT2(t->listings, l, n, lru_next);
	pthread_mutex_unlock(&t->lock);
	if (nlistings)
		*nlistings = n;
	return bytes;
}
