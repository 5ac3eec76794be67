/*
 * inode.c - inode table, attribute cache and directory listings.
 *
 * See inode.h for the model and the locking rule (one mutex, no I/O).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "ftpsfs/inode.h"
#include "ftpsfs/net.h"

#define ITAB_ROOT_INO 1 /* FUSE_ROOT_ID */

struct listing_idx {
	const char *name; /* key: points into ents[i].name */
	size_t i;
	UT_hash_handle hh;
};

struct dir_listing {
	struct itab_dirent *ents;
	size_t n;
	struct listing_idx *idx_mem; /* n records */
	struct listing_idx *by_name; /* uthash head */
	int64_t expire;
};

struct inode {
	uint64_t ino;
	uint64_t parent; /* 0 for the root */
	char *name;
	char *key; /* "<parent hex>/<name>": names never contain '/' */
	uint64_t nlookup;
	unsigned nchildren; /* child inodes in the table */
	struct stat st;
	bool st_known;
	int64_t attr_expire;
	char *link_target;
	struct dir_listing *listing;
	bool open_seen;
	off_t open_size;
	struct timespec open_mtime;
	UT_hash_handle hh;
	UT_hash_handle hh_name;
};

struct itab {
	pthread_mutex_t lock;
	struct itab_config cfg;
	char *root_path;
	/* guarded by lock: */
	struct inode *by_ino;
	struct inode *by_name;
	uint64_t next_ino;
};

static void listing_free(struct dir_listing *l)
{
	if (!l)
		return;
	HASH_CLEAR(hh, l->by_name);
	free(l->idx_mem);
	itab_dirents_free(l->ents, l->n);
	free(l);
}

void itab_dirents_free(struct itab_dirent *ents, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ents[i].name);
		free(ents[i].link_target);
	}
	free(ents);
}

static struct inode *inode_get(struct itab *t, uint64_t ino)
{
	struct inode *in = NULL;

	HASH_FIND(hh, t->by_ino, &ino, sizeof(ino), in);
	return in;
}

static char *inode_key(uint64_t parent, const char *name)
{
	size_t len = strlen(name) + 20;
	char *key = malloc(len);

	if (key)
		snprintf(key, len, "%llx/%s", (unsigned long long)parent, name);
	return key;
}

static struct inode *inode_find_child(struct itab *t, uint64_t parent,
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

static int set_string(char **dst, const char *src)
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

static void inode_set_attr_locked(struct itab *t, struct inode *in,
				  const struct stat *attr,
				  const char *link_target)
{
	in->st = *attr;
	in->st.st_ino = in->ino;
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
	t->root_path = strdup(cfg->root_path);
	root->name = strdup("");
	root->key = strdup("root");
	if (!t->root_path || !root->name || !root->key)
		goto fail;
	t->cfg.root_path = t->root_path;
	pthread_mutex_init(&t->lock, NULL);
	root->ino = ITAB_ROOT_INO;
	root->nlookup = 1;
	root->st = *root_st;
	root->st.st_ino = ITAB_ROOT_INO;
	root->st_known = true;
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

static void inode_destroy(struct inode *in)
{
	listing_free(in->listing);
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
		inode_destroy(in);
	}
	pthread_mutex_destroy(&t->lock);
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
			return -ESTALE;
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
	pthread_mutex_unlock(&t->lock);
	return ret;
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
	in->name = strdup(name);
	in->key = inode_key(parent->ino, name);
	if (!in->name || !in->key) {
		inode_destroy(in);
		return NULL;
	}
	in->ino = t->next_ino++;
	in->parent = parent->ino;
	in->nlookup = 1;
	parent->nchildren++;
	HASH_ADD(hh, t->by_ino, ino, sizeof(in->ino), in);
	HASH_ADD_KEYPTR(hh_name, t->by_name, in->key, strlen(in->key), in);
	return in;
}

static bool listing_fresh(const struct dir_listing *l)
{
	return l && l->expire > net_now_ms();
}

static const struct itab_dirent *listing_find(const struct dir_listing *l,
					      const char *name)
{
	struct listing_idx *x = NULL;

	HASH_FIND(hh, l->by_name, name, strlen(name), x);
	return x ? &l->ents[x->i] : NULL;
}

int itab_lookup(struct itab *t, uint64_t parent, const char *name,
		struct stat *st)
{
	const struct itab_dirent *d;
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
	d = listing_find(p->listing, name);
	if (!d) {
		ret = -ENOENT;
		goto out;
	}
	in = child_ref_locked(t, p, name);
	if (!in) {
		ret = -ENOMEM;
		goto out;
	}
	inode_set_attr_locked(t, in, &d->st, d->link_target);
	in->attr_expire = p->listing->expire;
	*st = in->st;
	ret = 0;
out:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int itab_add_entry(struct itab *t, uint64_t parent, const char *name,
		   const struct stat *attr, const char *link_target,
		   struct stat *st)
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
	inode_set_attr_locked(t, in, attr, link_target);
	*st = in->st;
out:
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int itab_getattr(struct itab *t, uint64_t ino, struct stat *st)
{
	struct inode *in;
	int ret = -ESTALE;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in) {
		*st = in->st;
		ret = in->st_known && in->attr_expire > net_now_ms() ? 0
								   : -EAGAIN;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

void itab_set_attr(struct itab *t, uint64_t ino, const struct stat *attr,
		   const char *link_target)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = inode_get(t, ino);
	if (in)
		inode_set_attr_locked(t, in, attr, link_target);
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
	} else if (in) {
		*parent = in->parent;
		ret = snprintf(name, namesz, "%s", in->name) < (int)namesz
			      ? 0
			      : -ENAMETOOLONG;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

int itab_set_listing(struct itab *t, uint64_t dir, struct itab_dirent *ents,
		     size_t n)
{
	struct dir_listing *l = calloc(1, sizeof(*l));
	struct inode *p;
	int ret = 0;

	if (!l || (n && !(l->idx_mem = calloc(n, sizeof(*l->idx_mem))))) {
		free(l);
		itab_dirents_free(ents, n);
		return -ENOMEM;
	}
	l->ents = ents;
	l->n = n;
	for (size_t i = 0; i < n; i++) {
		struct listing_idx *x = &l->idx_mem[i], *dup = NULL;

		/* A server listing a name twice: keep the first. */
		HASH_FIND(hh, l->by_name, ents[i].name, strlen(ents[i].name), dup);
		if (dup)
			continue;
		x->name = ents[i].name;
		x->i = i;
		HASH_ADD_KEYPTR(hh, l->by_name, x->name, strlen(x->name), x);
	}

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (!p) {
		ret = -ESTALE;
		goto out;
	}
	l->expire = net_now_ms() + t->cfg.dir_timeout_ms;
	/* Refresh the attributes of children the kernel knows. */
	for (size_t i = 0; i < n; i++) {
		struct inode *in = inode_find_child(t, dir, ents[i].name);

		if (in) {
			inode_set_attr_locked(t, in, &ents[i].st,
					      ents[i].link_target);
			in->attr_expire = l->expire;
		}
	}
	listing_free(p->listing);
	p->listing = l;
	l = NULL;
out:
	pthread_mutex_unlock(&t->lock);
	listing_free(l);
	return ret;
}

int itab_snapshot(struct itab *t, uint64_t dir, struct itab_snapshot **out)
{
	struct itab_snapshot *s = NULL;
	struct inode *p;
	int ret = 0;

	pthread_mutex_lock(&t->lock);
	p = inode_get(t, dir);
	if (!p) {
		ret = -ESTALE;
		goto out;
	}
	if (!listing_fresh(p->listing)) {
		ret = -EAGAIN;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s || (p->listing->n &&
		   !(s->ents = calloc(p->listing->n, sizeof(*s->ents))))) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < p->listing->n; i++) {
		const struct itab_dirent *d = &p->listing->ents[i];

		s->ents[i].st = d->st;
		s->ents[i].name = strdup(d->name);
		if (d->link_target)
			s->ents[i].link_target = strdup(d->link_target);
		s->n = i + 1;
		if (!s->ents[i].name ||
		    (d->link_target && !s->ents[i].link_target)) {
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

/* Free @in if nothing holds it, then its parent if that became free. */
static void inode_maybe_free_locked(struct itab *t, struct inode *in)
{
	while (in && in->ino != ITAB_ROOT_INO && in->nlookup == 0 &&
	       in->nchildren == 0) {
		struct inode *parent = inode_get(t, in->parent);

		HASH_DELETE(hh, t->by_ino, in);
		HASH_DELETE(hh_name, t->by_name, in);
		inode_destroy(in);
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
		keep = in->open_seen && in->open_size == in->st.st_size &&
		       in->open_mtime.tv_sec == in->st.st_mtim.tv_sec &&
		       in->open_mtime.tv_nsec == in->st.st_mtim.tv_nsec;
		in->open_seen = true;
		in->open_size = in->st.st_size;
		in->open_mtime = in->st.st_mtim;
	}
	pthread_mutex_unlock(&t->lock);
	return keep;
}

size_t itab_count(struct itab *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = HASH_CNT(hh, t->by_ino);
	pthread_mutex_unlock(&t->lock);
	return n;
}
