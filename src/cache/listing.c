/*
 * listing.c - directory listings of the inode table: records by name
 * (uthash iterates in insertion order, which keeps readdir in the
 * server's order), what they cost, and the budget all listings share.
 * Callers hold the table's lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"
#include "itab_internal.h"

static void rec_free(struct listing_rec *r)
{
	free(r->d.name);
	free(r->d.link_target);
	free(r);
}

/* The memory one record takes, allocator overhead counted roughly. */
size_t rec_bytes(const struct listing_rec *r)
{
	size_t n = sizeof(*r) + strlen(r->d.name) + 1 + 32;

	if (r->d.link_target)
		n += strlen(r->d.link_target) + 1 + 16;
	return n;
}

void listing_free(struct dir_listing *l)
{
	struct listing_rec *r, *tmp;

	if (!l)
		return;
	HASH_ITER(hh, l->by_name, r, tmp) {
		HASH_DEL(l->by_name, r);
		rec_free(r);
	}
	free(l);
}

struct listing_rec *listing_find(const struct dir_listing *l,
				 const char *name)
{
	struct listing_rec *r = NULL;

	if (l)
		HASH_FIND_STR(l->by_name, name, r);
	return r;
}

/* Add @r's cost to its listing and the table (@sign +1) or take it
 * off (-1). */
static void listing_count(struct itab *t, struct dir_listing *l,
			  const struct listing_rec *r, int sign)
{
	size_t n = rec_bytes(r);

	if (sign > 0) {
		l->bytes += n;
		t->listing_bytes += n;
	} else {
		l->bytes -= n;
		t->listing_bytes -= n;
	}
}

/* Insert or update @name in @l with @st (and @link for symlinks). */
int listing_upsert(struct itab *t, struct dir_listing *l,
			  const char *name, const struct stat *st,
			  const char *link, bool exact)
{
	struct listing_rec *r = listing_find(l, name);
	int ret = 0;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r || !(r->d.name = strdup(name))) {
			free(r);
			return -ENOMEM;
		}
		HASH_ADD_KEYPTR(hh, l->by_name, r->d.name, strlen(r->d.name), r);
	} else {
		listing_count(t, l, r, -1);
	}
	r->d.st = *st;
	r->d.mtime_exact = exact;
	if (S_ISLNK(st->st_mode) && link)
		ret = set_string(&r->d.link_target, link);
	listing_count(t, l, r, +1);
	return ret;
}

void listing_remove(struct itab *t, struct dir_listing *l,
			   const char *name)
{
	struct listing_rec *r = listing_find(l, name);

	if (r) {
		listing_count(t, l, r, -1);
		HASH_DEL(l->by_name, r);
		rec_free(r);
	}
}

/* Forget @p's listing (the next lookup or readdir asks the server). */
void listing_drop_locked(struct itab *t, struct inode *p)
{
	struct dir_listing *l = p->listing;

	if (!l)
		return;
	DL_DELETE2(t->listings, l, lru_prev, lru_next);
	t->listing_bytes -= l->bytes;
	listing_free(l);
	p->listing = NULL;
}

/* @p's listing was used: the last to be dropped for the budget (and one
 * that -o poll lists again, itab_recent_dirs()). */
void listing_used_locked(struct itab *t, struct inode *p)
{
	p->used_ms = net_now_ms();
	DL_DELETE2(t->listings, p->listing, lru_prev, lru_next);
	DL_APPEND2(t->listings, p->listing, lru_prev, lru_next);
}

/*
 * Make @l @p's listing and keep all listings within the budget: drop
 * the least recently used others until they fit.  A listing is a cache
 * of what the server says, so dropping one costs a round trip later,
 * nothing else: names created here and not uploaded yet live in their
 * inodes and come back with the next listing (itab_add_local_entries()).
 * @l itself stays whatever it costs (the entry limit bounds it), and so
 * does one whose exact times are being asked.
 */
void listing_attach_locked(struct itab *t, struct inode *p,
				  struct dir_listing *l)
{
	struct dir_listing *old, *tmp;

	listing_drop_locked(t, p);
	l->dir = p->ino;
	p->listing = l;
	DL_APPEND2(t->listings, l, lru_prev, lru_next);
	t->listing_bytes += l->bytes;
	DL_FOREACH_SAFE2(t->listings, old, tmp, lru_next) {
		struct inode *owner;

		if (t->listing_bytes <= t->cfg.listing_budget)
			break;
		if (old == l || old->times_fetching)
			continue;
		owner = inode_get(t, old->dir);
		if (owner) {
			listing_drop_locked(t, owner);
			stats_add(STATS_LISTINGS_DROPPED, 1);
		}
	}
}

bool listing_fresh(const struct dir_listing *l)
{
	return l && l->expire > net_now_ms();
}
