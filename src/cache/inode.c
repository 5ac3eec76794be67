/*
 * inode.c - inode table and attribute cache; the listings they hold are
 * listing.c's, exact modification times mtimes.c's (data shared through
 * itab_internal.h).
 *
 * See inode.h for the model and the locking rule (one mutex, no I/O).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>
#include <utlist.h>

#include "ftpsfs/inode.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stat_clamp.h"
#include "ftpsfs/stats.h"

#include "itab_internal.h"

void itab_dirents_free(struct itab_dirent *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ents[i].name);
		free(ents[i].link_target);
	}
	free(ents);
}

int set_string(char **dst, const char *src)
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

static char *inode_key(uint64_t parent, const char *name)
{
	size_t len = strlen(name) + 20;
	char *key = malloc(len);

	if (key)
		snprintf(key, len, "%llx/%s", (unsigned long long)parent, name);
	return key;
}

struct inode *inode_find_child(struct itab *t, uint64_t parent,
				      const char *name)
{
	struct inode *in = NULL;
	char *key = inode_key(parent, name);

	if (!key)
		return NULL;
	HASH_FIND(hh_name, t->by_name, key, strlen(key), in);
	free(key);
	return in;
}

/* A change of ours to @in: a new generation for it and its directory. */
static void local_change_locked(struct itab *t, struct inode *in)
{
	struct inode *p = in->named ? inode_get(t, in->parent) : NULL;

	in->local_gen = ++t->gen;
	if (p)
		p->local_gen = t->gen;
}

/* Is the time the listing of @p gives @name exact?  (No listing, or no
 * record: the attributes came from MLST or our own change.) */
static bool listed_exact_locked(const struct inode *p, const char *name)
{
	const struct listing_rec *r = p ? listing_find(p->listing, name) : NULL;

	return !r || r->d.mtime_exact;
}

/* @in's attributes changed: its record in its parent's listing follows. */
static void listed_sync_locked(struct itab *t, struct inode *in)
{
	struct inode *p = in->named ? inode_get(t, in->parent) : NULL;
	struct listing_rec *r = p ? listing_find(p->listing, in->name) : NULL;

	if (r)
		r->d.st = in->st;
}

/* Our change gave directory @p one more (@delta 1) or one fewer (-1)
 * subdirectory: its link count follows, once it was counted. */
static void dir_subdirs_add_locked(struct itab *t, struct inode *p, int delta)
{
	if (!p || !p->subdirs_known || (delta < 0 && p->nsubdirs == 0))
		return;
	p->nsubdirs = (unsigned)((int)p->nsubdirs + delta);
	p->st.st_nlink = 2 + p->nsubdirs;
	listed_sync_locked(t, p);
}

/* Is the entry @name of @p a directory, as far as we know? */
static bool entry_is_dir_locked(struct inode *p, struct inode *in,
				const char *name)
{
	const struct listing_rec *r = listing_find(p ? p->listing : NULL, name);

	if (in && in->st_known)
		return S_ISDIR(in->st.st_mode);
	return r && S_ISDIR(r->d.st.st_mode);
}

/*
 * Attributes from the server (@force false) or from our own change
 * (@force true).  A pinned inode keeps its attributes unless forced: the
 * server's view lags behind our pending writes.  A directory whose
 * subdirectories we counted shows 2 + their number as its link count.
 */
static void inode_set_attr_locked(struct itab *t, struct inode *in,
				  const struct stat *attr,
				  const char *link_target, bool force,
				  bool exact)
{
	/* Pinned: ours, whatever the server says (size and times lag behind
	 * pending writes; a mode change may wait for the upload). */
	if (!(in->pinned && in->st_known && !force)) {
		in->st = *attr;
		in->st.st_ino = in->ino;
		in->mtime_exact = exact || force;
	}
	if (S_ISDIR(in->st.st_mode) && in->subdirs_known)
		in->st.st_nlink = 2 + in->nsubdirs;
	in->st_known = true;
	in->attr_expire = net_now_ms() + t->cfg.attr_timeout_ms;
	if (S_ISLNK(attr->st_mode) && link_target)
		(void)set_string(&in->link_target, link_target);
}

int itab_new(const struct itab_config *cfg, const struct stat *root_st,
	     struct itab **out)
{
	struct itab *t = calloc(1, sizeof(*t));
	struct inode *root = calloc(1, sizeof(*root));

	if (!t || !root)
		goto fail;
	t->cfg = *cfg;
	if (t->cfg.listing_budget == 0)
		t->cfg.listing_budget = SIZE_MAX;
	t->root_path = strdup(cfg->root_path);
	root->name = strdup("");
	root->key = strdup("root");
	if (!t->root_path || !root->name || !root->key)
		goto fail;
	t->cfg.root_path = t->root_path;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->times_cond, NULL);
	root->ino = ITAB_ROOT_INO;
	root->nlookup = 1;
	root->st = *root_st;
	root->st.st_ino = ITAB_ROOT_INO;
	root->st_known = true;
	root->mtime_exact = true;
	root->attr_expire = net_now_ms() + cfg->attr_timeout_ms;
	t->next_ino = ITAB_ROOT_INO + 1;
	HASH_ADD(hh, t->by_ino, ino, sizeof(root->ino), root);
	*out = t;
	return 0;

fail:
	if (root) {
		free(root->name);
		free(root->key);
	}
	free(root);
	if (t)
		free(t->root_path);
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
		DL_DELETE2(t->local_only, in, local_prev, local_next);
	listing_drop_locked(t, in);
	free(in->name);
	free(in->key);
	free(in->link_target);
	free(in);
}

void itab_free(struct itab *t)
{
	struct inode *in, *tmp;

	if (!t)
		return;
	HASH_CLEAR(hh_name, t->by_name);
	HASH_ITER(hh, t->by_ino, in, tmp) {
		HASH_DELETE(hh, t->by_ino, in);
		inode_destroy(t, in);
	}
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
		in = inode_get(t, in->parent);
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
static int inode_link_locked(struct itab *t, struct inode *in,
			     struct inode *parent, const char *name)
{
	char *nm = strdup(name), *key = inode_key(parent->ino, name);

	if (!nm || !key) {
		free(nm);
		free(key);
		return -ENOMEM;
	}
	free(in->name);
	free(in->key);
	in->name = nm;
	in->key = key;
	in->parent = parent->ino;
	parent->nchildren++;
	HASH_ADD_KEYPTR(hh_name, t->by_name, in->key, strlen(in->key), in);
	in->named = true;
	return 0;
}

static void inode_maybe_free_locked(struct itab *t, struct inode *in);

/* Take @in out of its parent (rename source, removed entry). */
static void inode_unlink_locked(struct itab *t, struct inode *in)
{
	struct inode *parent;

	if (!in->named)
		return;
	HASH_DELETE(hh_name, t->by_name, in);
	in->named = false;
	parent = inode_get(t, in->parent);
	in->parent = 0;
	/* The caller frees the parent if this made it unused: it may
	 * still hold a pointer to it. */
	if (parent)
		parent->nchildren--;
}

/* Find or create the child inode and count one lookup. */
static struct inode *child_ref_locked(struct itab *t, struct inode *parent,
				      const char *name)
{
	struct inode *in = inode_find_child(t, parent->ino, name);

	if (in) {
		in->nlookup++;
		return in;
	}
	in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	if (inode_link_locked(t, in, parent, name) < 0) {
		free(in);
		return NULL;
	}
	in->ino = t->next_ino++;
	in->nlookup = 1;
	HASH_ADD(hh, t->by_ino, ino, sizeof(in->ino), in);
	return in;
}

int itab_lookup(struct itab *t, uint64_t parent, const char *name,
		struct stat *st)
{
	const struct listing_rec *r;
	struct inode *p, *in;
	int ret = -EAGAIN;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, parent);
	if (!p) {
		ret = -ESTALE;
		goto out;
	}
	if (!listing_fresh(p->listing))
		goto out;
	listing_used_locked(t, p);
	r = listing_find(p->listing, name);
	if (!r) {
		ret = -ENOENT;
		goto out;
	}
	in = child_ref_locked(t, p, name);
	if (!in) {
		ret = -ENOMEM;
		goto out;
	}
	inode_set_attr_locked(t, in, &r->d.st, r->d.link_target, false,
			      r->d.mtime_exact);
	in->attr_expire = p->listing->expire;
	*st = in->st;
	ret = 0;
out:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int itab_listed(struct itab *t, uint64_t dir, const char *name,
		struct stat *st, bool *exact)
{
	const struct listing_rec *r;
	struct inode *p;
	int ret = -EAGAIN;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (!p) {
		ret = -ESTALE;
	} else if (listing_fresh(p->listing)) {
		r = listing_find(p->listing, name);
		ret = r ? 0 : -ENOENT;
		if (r) {
			*st = r->d.st;
			*exact = r->d.mtime_exact;
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
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, parent);
	if (!p) {
		ret = -ESTALE;
		goto out;
	}
	in = child_ref_locked(t, p, name);
	if (!in) {
		ret = -ENOMEM;
		goto out;
	}
	if (ours && S_ISDIR(attr->st_mode) && !entry_is_dir_locked(p, in, name))
		dir_subdirs_add_locked(t, p, 1);
	if (!in->st_known || !older_than_ours(in, since)) {
		inode_set_attr_locked(t, in, attr, link_target, false,
				      ours || listed_exact_locked(p, name));
		if (ours)
			local_change_locked(t, in);
		if (p->listing)
			ret = listing_upsert(t, p->listing, name, &in->st,
					     link_target, false);
	}
	*st = in->st;
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
		bool ours = in->pinned || (!in->named && in->ino != ITAB_ROOT_INO);

		*st = in->st;
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

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (!in || (!(flags & ITAB_FORCE) && older_than_ours(in, since)))
		goto out;
	inode_set_attr_locked(t, in, attr, link_target, flags & ITAB_FORCE,
			      (flags & ITAB_EXACT_MTIME) ||
				      listed_exact_locked(
					      in->named ? inode_get(t, in->parent)
							: NULL,
					      in->name));
	if (flags & ITAB_FORCE)
		local_change_locked(t, in);
	p = in->named ? inode_get(t, in->parent) : NULL;
	if (p && p->listing)
		(void)listing_upsert(t, p->listing, in->name, &in->st,
				     in->link_target, flags & ITAB_EXACT_MTIME);
out:
	pthread_mutex_unlock(&t->lock);
}

void itab_set_attr(struct itab *t, uint64_t ino, const struct stat *attr,
		   const char *link_target, unsigned flags)
{
	set_attr(t, ino, attr, link_target, flags, ITAB_NOW);
}

void itab_set_listed_attr(struct itab *t, uint64_t ino,
			  const struct stat *attr, const char *link_target,
			  uint64_t since)
{
	set_attr(t, ino, attr, link_target, 0, since);
}

void itab_pin(struct itab *t, uint64_t ino, bool pin)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && pin)
		in->pinned++;
	else if (in && in->pinned)
		in->pinned--;
	pthread_mutex_unlock(&t->lock);
}

int itab_parent_name(struct itab *t, uint64_t ino, uint64_t *parent,
		     char *name, size_t namesz)
{
	struct inode *in;
	int ret = -ESTALE;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && in->ino == ITAB_ROOT_INO) {
		ret = -EINVAL;
	} else if (in && in->named) {
		*parent = in->parent;
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
	struct dir_listing *l = calloc(1, sizeof(*l));
	struct inode *p;
	int ret = 0;

	if (!l) {
		itab_dirents_free(ents, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct listing_rec *r = NULL;

		/* A server listing a name twice: keep the first. */
		HASH_FIND_STR(l->by_name, ents[i].name, r);
		if (r)
			continue;
		r = calloc(1, sizeof(*r));
		if (!r) {
			ret = -ENOMEM;
			break;
		}
		r->d = ents[i];
		ents[i].name = ents[i].link_target = NULL; /* moved */
		HASH_ADD_KEYPTR(hh, l->by_name, r->d.name, strlen(r->d.name), r);
	}
	itab_dirents_free(ents, n);
	if (ret < 0) {
		listing_free(l);
		return ret;
	}

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (!p) {
		ret = -ESTALE;
		goto out;
	}
	if (older_than_ours(p, since)) {
		ret = -EAGAIN; /* we changed it meanwhile */
		goto out;
	}
	l->expire = net_now_ms() + t->cfg.dir_timeout_ms;
	l->gen = since;
	for (struct listing_rec *r = l->by_name;
	     (flags & ITAB_TIMES_ASKABLE) && r && !l->times_pending;
	     r = r->hh.next)
		l->times_pending = S_ISREG(r->d.st.st_mode) && !r->d.mtime_exact;
	p->nsubdirs = 0;
	for (struct listing_rec *r = l->by_name; r; r = r->hh.next) {
		p->nsubdirs += S_ISDIR(r->d.st.st_mode);
		l->bytes += rec_bytes(r);
	}
	p->subdirs_known = true;
	p->st.st_nlink = 2 + p->nsubdirs;
	listed_sync_locked(t, p);
	/* Refresh the attributes of children the kernel knows; a pinned
	 * child keeps ours, also in the listing. */
	for (struct listing_rec *r = l->by_name; r; r = r->hh.next) {
		struct inode *in = inode_find_child(t, dir, r->d.name);

		if (!in)
			continue;
		inode_set_attr_locked(t, in, &r->d.st, r->d.link_target, false,
				      r->d.mtime_exact);
		in->attr_expire = l->expire;
		if (in->pinned)
			r->d.st = in->st;
	}
	listing_attach_locked(t, p, l);
	l = NULL;
out:
	pthread_mutex_unlock(&t->lock);
	listing_free(l);
	return ret;
}

/* Copy @dir's listing, fresh or (@any) not; a fresh one copied counts as
 * used. */
static int snapshot_copy(struct itab *t, uint64_t dir, bool any,
			 struct itab_snapshot **out)
{
	struct itab_snapshot *s = NULL;
	struct inode *p;
	size_t n;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (!p) {
		ret = -ESTALE;
		goto out;
	}
	if (!(any ? p->listing != NULL : listing_fresh(p->listing))) {
		ret = -EAGAIN;
		goto out;
	}
	if (!any)
		listing_used_locked(t, p);
	n = HASH_COUNT(p->listing->by_name);
	s = calloc(1, sizeof(*s));
	if (!s || (n && !(s->ents = calloc(n, sizeof(*s->ents))))) {
		ret = -ENOMEM;
		goto out;
	}
	s->gen = p->listing->gen;
	for (struct listing_rec *r = p->listing->by_name; r; r = r->hh.next) {
		struct itab_dirent *d = &s->ents[s->n++];

		*d = r->d;
		d->name = strdup(r->d.name);
		d->link_target = r->d.link_target ? strdup(r->d.link_target)
						  : NULL;
		if (!d->name || (r->d.link_target && !d->link_target)) {
			ret = -ENOMEM;
			goto out;
		}
	}
	*out = s;
	s = NULL;
out:
	pthread_mutex_unlock(&t->lock);
	itab_snapshot_free(s);
	return ret;
}

int itab_snapshot(struct itab *t, uint64_t dir, struct itab_snapshot **out)
{
	return snapshot_copy(t, dir, false, out);
}

int itab_snapshot_any(struct itab *t, uint64_t dir, struct itab_snapshot **out)
{
	return snapshot_copy(t, dir, true, out);
}

void itab_snapshot_free(struct itab_snapshot *s)
{
	if (!s)
		return;
	itab_dirents_free(s->ents, s->n);
	free(s);
}

int itab_readlink(struct itab *t, uint64_t ino, char *buf, size_t bufsz)
{
	struct inode *in;
	int ret = -ESTALE;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && !in->link_target)
		ret = -EAGAIN;
	else if (in)
		ret = snprintf(buf, bufsz, "%s", in->link_target) < (int)bufsz
			      ? 0
			      : -ENAMETOOLONG;
	pthread_mutex_unlock(&t->lock);
	return ret;
}

void itab_set_local_only(struct itab *t, uint64_t ino, bool on)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && in->local_only != on) {
		in->local_only = on;
		if (on)
			DL_APPEND2(t->local_only, in, local_prev, local_next);
		else
			DL_DELETE2(t->local_only, in, local_prev, local_next);
	}
	pthread_mutex_unlock(&t->lock);
}

int itab_add_local_entries(struct itab *t, uint64_t dir,
			   struct itab_dirent **ents, size_t *n, size_t *cap)
{
	struct inode *in;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	DL_FOREACH2(t->local_only, in, local_next) {
		struct itab_dirent *d;

		if (!in->named || in->parent != dir || !in->st_known)
			continue;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 16;
			struct itab_dirent *p = realloc(*ents, c * sizeof(*p));

			if (!p) {
				ret = -ENOMEM;
				break;
			}
			*ents = p;
			*cap = c;
		}
		d = &(*ents)[*n];
		memset(d, 0, sizeof(*d));
		d->st = in->st;
		d->mtime_exact = true;
		d->name = strdup(in->name);
		if (!d->name) {
			ret = -ENOMEM;
			break;
		}
		(*n)++;
	}
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

void itab_remove(struct itab *t, uint64_t parent, const char *name)
{
	struct inode *p, *in;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, parent);
	in = inode_find_child(t, parent, name);
	if (p) {
		if (entry_is_dir_locked(p, in, name))
			dir_subdirs_add_locked(t, p, -1);
		listing_remove(t, p->listing, name);
		p->local_gen = ++t->gen;
	}
	if (in) {
		/* Open files see it as deleted (fstat: no links). */
		in->st.st_nlink = 0;
		inode_unlink_locked(t, in);
		inode_maybe_free_locked(t, in);
		inode_maybe_free_locked(t, inode_get(t, parent));
	}
	pthread_mutex_unlock(&t->lock);
}

int itab_rename(struct itab *t, uint64_t parent, const char *name,
		uint64_t newparent, const char *newname)
{
	struct inode *p, *np, *in, *victim;
	struct listing_rec *r;
	struct stat st;
	char *link = NULL;
	bool have_rec = false, exact = false;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, parent);
	np = inode_get(t, newparent);
	if (!p || !np) {
		ret = -ESTALE;
		goto out;
	}
	p->local_gen = np->local_gen = ++t->gen;
	r = listing_find(p->listing, name);
	if (r) {
		st = r->d.st;
		exact = r->d.mtime_exact;
		have_rec = true;
		link = r->d.link_target ? strdup(r->d.link_target) : NULL;
	}
	in = inode_find_child(t, parent, name);
	if (in && !have_rec && in->st_known) {
		st = in->st;
		have_rec = true;
	}
	if (entry_is_dir_locked(p, in, name)) {
		dir_subdirs_add_locked(t, p, -1);
		dir_subdirs_add_locked(t, np, 1);
	}
	listing_remove(t, p->listing, name);
	/* A replaced target: unreachable from now on. */
	victim = inode_find_child(t, newparent, newname);
	if (entry_is_dir_locked(np, victim, newname))
		dir_subdirs_add_locked(t, np, -1);
	if (victim && victim != in) {
		victim->st.st_nlink = 0;
		inode_unlink_locked(t, victim);
		inode_maybe_free_locked(t, victim);
	}
	listing_remove(t, np->listing, newname);
	if (have_rec && np->listing)
		ret = listing_upsert(t, np->listing, newname, &st, link, exact);
	if (in) {
		inode_unlink_locked(t, in);
		ret = inode_link_locked(t, in, np, newname);
		if (ret < 0)
			inode_maybe_free_locked(t, in);
	}
	inode_maybe_free_locked(t, inode_get(t, newparent));
	inode_maybe_free_locked(t, inode_get(t, parent));
out:
	free(link);
	pthread_mutex_unlock(&t->lock);
	return ret;
}

void itab_touch_dir(struct itab *t, uint64_t dir)
{
	struct inode *in, *p;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, dir);
	if (in)
		local_change_locked(t, in); /* its parent lists its time */
	if (in && in->st_known) {
		clock_gettime(CLOCK_REALTIME, &in->st.st_mtim);
		in->st.st_ctim = in->st.st_mtim;
		p = in->named ? inode_get(t, in->parent) : NULL;
		if (p && p->listing)
			(void)listing_upsert(t, p->listing, in->name, &in->st,
					     NULL, false);
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
		p->local_gen = ++t->gen;
	}
	pthread_mutex_unlock(&t->lock);
}

/* Free @in if nothing holds it, then its parent if that became free. */
static void inode_maybe_free_locked(struct itab *t, struct inode *in)
{
	while (in && in->ino != ITAB_ROOT_INO && in->nlookup == 0 &&
	       in->nchildren == 0) {
		struct inode *parent = in->named ? inode_get(t, in->parent)
						 : NULL;

		HASH_DELETE(hh, t->by_ino, in);
		if (in->named)
			HASH_DELETE(hh_name, t->by_name, in);
		inode_destroy(t, in);
		if (!parent)
			break;
		parent->nchildren--;
		in = parent;
	}
}

void itab_forget(struct itab *t, uint64_t ino, uint64_t n)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && in->ino != ITAB_ROOT_INO) {
		in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
		inode_maybe_free_locked(t, in);
	}
	pthread_mutex_unlock(&t->lock);
}

bool itab_open_keep_cache(struct itab *t, uint64_t ino)
{
	struct inode *in;
	bool keep = false;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in) {
		keep = in->open_seen && in->unconfirmed == 0 &&
		       in->open_size == in->st.st_size &&
		       in->open_mtime.tv_sec == in->st.st_mtim.tv_sec &&
		       in->open_mtime.tv_nsec == in->st.st_mtim.tv_nsec;
		in->open_seen = true;
		in->open_size = in->st.st_size;
		in->open_mtime = in->st.st_mtim;
	}
	pthread_mutex_unlock(&t->lock);
	return keep;
}

void itab_data_unconfirmed(struct itab *t, uint64_t ino, int delta)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in && delta > 0) {
		in->unconfirmed++;
	} else if (in && in->unconfirmed > 0) {
		in->unconfirmed--;
		if (delta < -1) {
			in->open_seen = false;
			if (!in->pinned)
				in->attr_expire = 0;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

size_t itab_count(struct itab *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = HASH_CNT(hh, t->by_ino);
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
