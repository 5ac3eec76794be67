/*
 * itab_internal.h - the inode table's data, shared by inode.c (inodes,
 * attributes, names) and listing.c (directory listings and their memory
 * budget).  Everything here runs with itab.lock held (see inode.h).
 */
#ifndef FTPSFS_ITAB_INTERNAL_H
#define FTPSFS_ITAB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#include "ftpsfs/inode.h"

#define ITAB_ROOT_INO 1 /* FUSE_ROOT_ID */

struct listing_rec {
	struct itab_dirent d; /* d.name is the hash key */
	UT_hash_handle hh;
};

struct dir_listing {
	struct listing_rec *by_name;
	uint64_t dir;	/* the directory's inode */
	size_t bytes;	/* what its records cost (rec_bytes()) */
	struct dir_listing *lru_prev, *lru_next; /* t->listings */
	int64_t expire;
	uint64_t gen; /* generation it was asked for at */
	bool times_pending;  /* files with minute-precise times (LIST) whose
			      * exact ones can be asked (MDTM) */
	bool times_fetching; /* a thread asks them now (itab_mtimes_claim) */
};

struct inode {
	uint64_t ino;
	uint64_t parent; /* 0 for the root and for removed inodes */
	char *name;
	char *key; /* "<parent hex>/<name>": names never contain '/' */
	bool named; /* in the by_name index */
	uint64_t nlookup;
	unsigned nchildren; /* child inodes in the table */
	unsigned pinned;    /* open for writing: see itab_pin() */
	struct stat st;
	bool st_known;
	int64_t attr_expire;
	char *link_target;
	struct dir_listing *listing;
	uint64_t local_gen; /* our last change of it (files: attributes;
			     * directories: their entries too) */
	bool open_seen;
	unsigned unconfirmed; /* reads given out before the server's 226 */
	off_t open_size;
	struct timespec open_mtime;
	bool local_only;   /* created by us, not on the server yet */
	struct inode *local_prev, *local_next; /* t->local_only list */
	bool mtime_exact;   /* st_mtim to the second (not a LIST minute) */
	bool subdirs_known; /* directories: nsubdirs is from a listing */
	unsigned nsubdirs;  /* ... and kept up to date by our changes */
	int64_t used_ms;    /* directories: net_now_ms() its listing was
			     * last used for a request (0 never) */
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
	uint64_t gen; /* of our last change (see inode.h) */
	struct inode *local_only; /* inodes with local_only set */
	/* Listings held, least recently used first, and what they cost:
	 * kept within cfg.listing_budget (see listing_attach_locked()). */
	struct dir_listing *listings;
	size_t listing_bytes;
	pthread_cond_t times_cond; /* a listing's times_fetching ended */
};

static inline struct inode *inode_get(struct itab *t, uint64_t ino)
{
	struct inode *in = NULL;

	HASH_FIND(hh, t->by_ino, &ino, sizeof(ino), in);
	return in;
}

/* Is server data asked for at @since older than our last change? */
static inline bool older_than_ours(const struct inode *in, uint64_t since)
{
	return since != ITAB_NOW && in->local_gen > since;
}

/* Replace *@dst by a copy of @src (NULL allowed): 0 or -ENOMEM. */
int set_string(char **dst, const char *src);

/* inode.c */
struct inode *inode_find_child(struct itab *t, uint64_t parent,
			       const char *name);

/* listing.c */
void listing_free(struct dir_listing *l);
struct listing_rec *listing_find(const struct dir_listing *l, const char *name);
size_t rec_bytes(const struct listing_rec *r);
int listing_upsert(struct itab *t, struct dir_listing *l, const char *name,
		   const struct stat *st, const char *link, bool exact);
void listing_remove(struct itab *t, struct dir_listing *l, const char *name);
void listing_drop_locked(struct itab *t, struct inode *p);
void listing_used_locked(struct itab *t, struct inode *p);
void listing_attach_locked(struct itab *t, struct inode *p,
			   struct dir_listing *l);
bool listing_fresh(const struct dir_listing *l);

#endif
