/*
 * inode.h - the inode table and the attribute/directory cache.
 *
 * Each inode records its parent inode and its own name, not a full path:
 * paths are built on demand by walking parents (so renaming a directory is
 * O(1)).  Inodes live in slab pages: an inode's number is its slab id
 * (with the times its page's slots were freed above it: a forgotten
 * number finds nothing), and each directory indexes its children by
 * name.
 * An inode lives while the kernel holds lookups on it (nlookup > 0) or it
 * has children in the table; forget() frees the rest, so memory follows
 * what the kernel caches.  The root (FUSE_ROOT_ID) is never freed.
 *
 * Each directory inode may hold a listing: the names and attributes of
 * its entries as the server last reported them, with an expiry.  A fresh
 * listing answers lookups (also negatively: a name absent from a fresh
 * listing does not exist) without a round trip.  All listings together
 * stay within a budget: the least recently used are dropped (asked again
 * when needed).
 *
 * Locking: one mutex inside the table guards everything; no function
 * here does I/O.  Results are copied out, never pointers into the table.
 */
#ifndef FTPSFS_INODE_H
#define FTPSFS_INODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "ftpsfs/stat_clamp.h"

struct itab;

struct itab_config {
	int attr_timeout_ms;   /* how long attributes are trusted */
	int dir_timeout_ms;    /* how long a directory listing is trusted */
	const char *root_path; /* absolute remote path of the mount root */
	size_t listing_budget; /* bytes all listings may hold together (the
				* least recently used go first; 0: no
				* limit), see itab_listing_bytes() */
};

/* A time as struct timespec says it, in 12 bytes (its tv_nsec is a long
 * for 30 bits), 4-aligned: see struct itab_attr. */
struct itab_mtim {
	int64_t tv_sec;
	uint32_t tv_nsec;
} __attribute__((packed, aligned(4)));

/*
 * The attributes FTP can tell (or we set), packed: 36 bytes where a
 * struct stat takes 144, in every inode, listing record and snapshot
 * entry - 4-aligned, so that a listing entry (two pointers, this, two
 * flags) takes 56 bytes, not 64 (issue 21).  The fields keep struct
 * stat's names.  The access and change times are the modification time
 * (FTP has neither), blocks follow from the size, the inode number is the
 * inode's.
 */
struct itab_attr {
	off_t st_size;
	struct itab_mtim st_mtim;
	uint32_t st_mode;
	uint32_t st_nlink;
	uint32_t st_uid;
	uint32_t st_gid;
} __attribute__((packed, aligned(4)));

static inline void itab_attr_pack(struct itab_attr *a, const struct stat *st)
{
	a->st_size = st->st_size;
	a->st_mtim.tv_sec = st->st_mtim.tv_sec;
	a->st_mtim.tv_nsec = (uint32_t)st->st_mtim.tv_nsec;
	a->st_mode = st->st_mode;
	a->st_nlink =
		st->st_nlink > UINT32_MAX ? UINT32_MAX : (uint32_t)st->st_nlink;
	a->st_uid = st->st_uid;
	a->st_gid = st->st_gid;
}

/* @a as a struct stat of inode @ino (0: none). */
static inline void itab_attr_unpack(const struct itab_attr *a, uint64_t ino,
				    struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_size = a->st_size;
	st->st_mtim.tv_sec = (time_t)a->st_mtim.tv_sec;
	st->st_mtim.tv_nsec = a->st_mtim.tv_nsec;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
	st->st_mode = a->st_mode;
	st->st_nlink = a->st_nlink;
	st->st_uid = a->st_uid;
	st->st_gid = a->st_gid;
	st->st_blksize = 4096;
	st->st_blocks = stat_blocks_of(a->st_size);
}

/* One directory entry as the server reported it. */
struct itab_dirent {
	char *name;	   /* owned */
	char *link_target; /* owned, may be NULL */
	struct itab_attr st;
	bool name_packed; /* name is in its snapshot's (or a pool's) blocks
			   * (not to be freed on its own; in the padding: no
			   * cost) */
	bool mtime_exact; /* st_mtim is exact (MLSD, MDTM, our own), not
			   * the minute or day a LIST line shows */
};

/* A directory listing as it was at opendir: read only, shared by the
 * opendirs of a listing whose names did not change meanwhile (its
 * attributes may: itab_snapshot_stat(); snapshot.c). */
struct itab_snapshot {
	size_t n;
	struct itab_dirent *ents;
	uint64_t gen; /* the table's generation when the server said this */
	/* private: */
	unsigned refs;		   /* holders (under table->lock if table) */
	struct itab *table;	   /* the table whose listing it is, or NULL */
	struct name_block *blocks; /* the names of its entries, packed
				    * (name_packed; those added later are
				    * their own), or NULL */
};

/*
 * Generations order what the server says against our own changes.  A
 * listing may be on its way while we change the directory or a file in
 * it; applied afterwards, it would undo what we know (a file just
 * appended to shows its old size, one just created is missing).  So
 * every change of ours takes a new generation, and server data is tagged
 * with the generation read before it was asked for: data older than our
 * last change of an inode does not replace what we know of it.
 */
#define ITAB_NOW UINT64_MAX /* data as current as anything we know */
uint64_t itab_generation(struct itab *t);

int itab_new(const struct itab_config *cfg, const struct stat *root_st,
	     struct itab **out);
void itab_free(struct itab *t);

/* Change the remote path of the root (delay_connect learns it late).
 * Returns 0 or -ENOMEM. */
int itab_set_root_path(struct itab *t, const char *root_path);

/*
 * Absolute remote path of @ino into @buf.  Returns 0, -ESTALE (unknown
 * inode), or -ENAMETOOLONG.
 */
int itab_path(struct itab *t, uint64_t ino, char *buf, size_t bufsz);

/* Same for the entry @name inside directory @parent; -ENOENT when
 * @parent was removed (itab_remove()) or an ancestor was. */
int itab_child_path(struct itab *t, uint64_t parent, const char *name,
		    char *buf, size_t bufsz);

/*
 * Answer a lookup from the cache.  Returns 0 (inode found or made, its
 * lookup count incremented, attributes into *st with st_ino set), -ENOENT
 * (the parent's fresh listing lacks @name), or -EAGAIN (nothing fresh
 * known: ask the server).
 */
int itab_lookup(struct itab *t, uint64_t parent, const char *name,
		struct stat *st);

/*
 * Record an entry @name of @parent that we made (create, mkdir: a change
 * of ours, see generations) and count a lookup.  Returns 0 with *st
 * (st_ino set), or -ESTALE if @parent is gone, -ENOMEM.  The parent's
 * listing, if any, gets the entry too (a file we created is listed at
 * once).
 */
int itab_add_entry(struct itab *t, uint64_t parent, const char *name,
		   const struct stat *attr, const char *link_target,
		   struct stat *st);

/* The same for what the server said about @name in a listing asked for at
 * generation @since: an inode we changed later keeps what we know, and
 * *st shows that. */
int itab_add_listed(struct itab *t, uint64_t parent, const char *name,
		    const struct stat *attr, const char *link_target,
		    uint64_t since, struct stat *st);

/*
 * Fresh attributes of @ino.  Returns 0, -EAGAIN (expired or unknown:
 * ask the server; *st then holds the stale ones if any), -ESTALE.  The
 * attributes of a pinned inode (open for writing) and of a deleted one
 * never expire: they are ours.
 */
int itab_getattr(struct itab *t, uint64_t ino, struct stat *st);

/*
 * Replace the attributes of @ino (after MLST, or our own change), also in
 * its parent's listing.  Without ITAB_FORCE, the size and times of a
 * pinned inode are kept (see itab_pin()).
 */
#define ITAB_FORCE	 1 /* our own change: also for pinned inodes */
#define ITAB_EXACT_MTIME 2 /* st_mtim is exact (set by us, MLST, MDTM) */
void itab_set_attr(struct itab *t, uint64_t ino, const struct stat *attr,
		   const char *link_target, unsigned flags);

/* Attributes the server gave in a listing asked for at generation
 * @since: ignored if we changed the inode after that. */
void itab_set_listed_attr(struct itab *t, uint64_t ino, const struct stat *attr,
			  const char *link_target, uint64_t since);

/*
 * While an inode is pinned (open for writing), what the server reports
 * about its size and times is stale by definition: only our own updates
 * (force) change them.  Counted: pin and unpin in pairs.  A pinned inode
 * stays in the table (with its name and path) after the kernel forgot it,
 * until the last unpin.  Returns 0, or -ENOMEM (a pin not counted: do
 * not unpin it).
 */
int itab_pin(struct itab *t, uint64_t ino, bool pin);

/*
 * @ino was created by us and is not on the server yet (@on true), or now
 * is there or gone (false).  While set, listings of its directory fetched
 * from the server keep it (itab_add_local_entries()): a file exists from
 * create() on, whatever the cache timeouts, until it is deleted.
 */
void itab_set_local_only(struct itab *t, uint64_t ino, bool on);

/*
 * Append to the @n entries of @ents (capacity *@cap, grown with realloc)
 * the entries of @dir that are local only (see above).  Names may repeat
 * server entries: the caller keeps the first.  Returns 0 or -ENOMEM.
 */
int itab_add_local_entries(struct itab *t, uint64_t dir,
			   struct itab_dirent **ents, size_t *n, size_t *cap);

/*
 * The inode named @name in @parent, if the table has one, whether or not
 * the parent's listing is fresh (no lookup counted).  Returns 0 with
 * *ino, or -ENOENT.
 */
int itab_find_child(struct itab *t, uint64_t parent, const char *name,
		    uint64_t *ino);

/*
 * What the fresh listing of @dir says of @name, without a lookup (no
 * inode is made or counted).  Returns 0 with *st and *exact (the mtime is
 * exact, not a LIST line's minute), -EAGAIN (no fresh listing), -ENOENT
 * (not in it), or -ESTALE.
 */
int itab_listed(struct itab *t, uint64_t dir, const char *name, struct stat *st,
		bool *exact);

/* The entry @name of @parent is gone (unlink, rmdir): drop it from the
 * listing; its inode lives on, unreachable by path, until forgotten, and
 * shows no links. */
void itab_remove(struct itab *t, uint64_t parent, const char *name);

/*
 * @name in @parent is now @newname in @newparent, with its inode (so open
 * files and cached attributes follow); a replaced target is dropped.
 * Returns 0 or -ESTALE, -ENOMEM.
 */
int itab_rename(struct itab *t, uint64_t parent, const char *name,
		uint64_t newparent, const char *newname);

/* An entry of @dir was added, removed or renamed: as on any file system
 * its modification time is now (the server's own time is not exact). */
void itab_touch_dir(struct itab *t, uint64_t dir);

/* Forget the listing of @dir (the server's state is unknown). */
void itab_invalidate_dir(struct itab *t, uint64_t dir);

/* An inode and where the kernel knows it (name NULL for the root and
 * removed inodes). */
struct itab_name {
	uint64_t ino;
	uint64_t parent;
	char *name;
};

/*
 * Forget every listing and make every attribute stale, except those of
 * pinned inodes (writes pending), so that the next access asks the server.
 * The inodes are returned in *out (for the kernel's caches; free with
 * itab_names_free()).  Returns their count or -ENOMEM (nothing changed).
 */
ssize_t itab_expire_all(struct itab *t, struct itab_name **out);
void itab_names_free(struct itab_name *v, size_t n);

/*
 * The same for one inode: @ino's listing (a directory; for a file, its
 * parent's, which holds its attributes) and the attributes of @ino and of
 * its children in the table (pinned ones excepted).  The
 * inodes (@ino first) are returned in *out as above.  Returns their count,
 * -ESTALE or -ENOMEM.
 */
ssize_t itab_expire_one(struct itab *t, uint64_t ino, struct itab_name **out);

/*
 * The exact mtime we know for @name in @dir, if it agrees with @listed (a
 * LIST entry: same size, and its minute-precise mtime is the exact one
 * cut to the minute).  Returns true and *exact, else false.
 */
bool itab_exact_mtime(struct itab *t, uint64_t dir, const char *name,
		      const struct itab_attr *listed, struct itab_mtim *exact);

/* Parent and name of @ino (for refreshing it through its parent's
 * listing).  Returns 0, -ESTALE, or -EINVAL for the root. */
int itab_parent_name(struct itab *t, uint64_t ino, uint64_t *parent, char *name,
		     size_t namesz);

/* Is @ino known but removed (itab_remove(), a rename over it): no path
 * leads to it any more? */
bool itab_is_removed(struct itab *t, uint64_t ino);

/*
 * Install a new listing for directory @dir, asked for at generation
 * @since.  Takes ownership of @ents (and of every string in it) on
 * success and on failure.  Attributes of known child inodes are refreshed
 * from it.  With ITAB_TIMES_ASKABLE, files whose times are not exact
 * (LIST minutes) can have them asked later (itab_mtimes_claim()).
 * Returns 0, -ESTALE, -ENOMEM, or -EAGAIN (nothing installed) if we
 * changed the directory after @since: ask again.
 */
#define ITAB_TIMES_ASKABLE 1
#define ITAB_AHEAD	   2 /* fetched ahead: dropped first until used */
int itab_set_listing(struct itab *t, uint64_t dir, struct itab_dirent *ents,
		     size_t n, uint64_t since, unsigned flags);

/* The same, and a snapshot of what was installed into *@snap (also when
 * the cache keeps listings for no time; and, on -EAGAIN, of what was not
 * installed: its generation keeps our newer changes).  Otherwise *@snap
 * is untouched.  @snap NULL: as itab_set_listing(). */
int itab_set_listing_snap(struct itab *t, uint64_t dir,
			  struct itab_dirent *ents, size_t n, uint64_t since,
			  unsigned flags, struct itab_snapshot **snap);

/*
 * Names of a listing on its way, packed in blocks as they come (a name
 * costs its bytes, not a heap chunk of its own: 1,000,000 names took
 * 30 MiB more while read).  An entry whose name is from a pool says so
 * (name_packed); itab_dirents_free() leaves such names to the pool.
 */
struct itab_name_pool {
	struct name_block *blocks; /* the newest first */
	size_t used, room;	   /* in the newest */
};

/* A copy of @name in @pool, or NULL (no memory). */
char *itab_pool_add(struct itab_name_pool *pool, const char *name);
void itab_pool_free(struct itab_name_pool *pool);

/* itab_set_listing_snap() for entries whose packed names are in @pool
 * (taken over, emptied, also on failure; NULL: none). */
int itab_set_listing_pool(struct itab *t, uint64_t dir,
			  struct itab_dirent *ents, size_t n,
			  struct itab_name_pool *pool, uint64_t since,
			  unsigned flags, struct itab_snapshot **snap);

/*
 * Exact times on demand.  A listing from LIST gives times to the minute;
 * tools that compare times (rsync, make, ls -l) need seconds, which MDTM
 * gives one file at a time.  Rather than ask them for every file of every
 * listing (find and ls -f don't need them), they are asked for a whole
 * directory when its first file's attributes are asked for
 * (itab_needs_exact_mtime()), or in the background.
 */

/* Is @ino a file whose exact time its directory's listing still lacks?
 * Returns true with *dir. */
bool itab_needs_exact_mtime(struct itab *t, uint64_t ino, uint64_t *dir);

struct itab_mtime_req {
	char *name;
	off_t size;	/* as listed */
	int64_t listed; /* the listed (minute) time */
	int64_t exact;	/* the answer ... */
	bool got;	/* ... if there is one */
};

/* Files whose times one claim asks at most (in the listing's order). */
#define ITAB_MTIMES_BATCH 4096

/*
 * Take on asking the exact times of @dir's next files (a batch; the one
 * after it goes to the next claim).  Returns 1 with the
 * files in *reqs (*n of them; free with itab_mtime_reqs_free()) and the
 * table's generation in *gen; then the caller must call
 * itab_mtimes_done().  Returns 0 when there is nothing to ask - also
 * after waiting for another thread that was asking them - or -ENOMEM.
 */
int itab_mtimes_claim(struct itab *t, uint64_t dir,
		      struct itab_mtime_req **reqs, size_t *n, uint64_t *gen);

/* The answers: installed where the listing still says what was asked
 * about and our own changes after @gen know no better.  @ok false (asking
 * failed): the times stay to be asked. */
void itab_mtimes_done(struct itab *t, uint64_t dir,
		      const struct itab_mtime_req *reqs, size_t n, uint64_t gen,
		      bool ok);
void itab_mtime_reqs_free(struct itab_mtime_req *reqs, size_t n);

/*
 * The fresh listing of @dir as a snapshot: the same one for every caller
 * until the listing changes.  Returns 0 with *out (free with
 * itab_snapshot_free), -EAGAIN when there is none or it expired, -ESTALE,
 * -ENOMEM.  Never write to it.
 */
int itab_snapshot(struct itab *t, uint64_t dir, struct itab_snapshot **out);
void itab_snapshot_free(struct itab_snapshot *s);

/*
 * The attributes of entry @d of snapshot @s as a struct stat of inode
 * @ino (0: none).  Names, link targets and places in a snapshot never
 * change, but attributes and exact times arriving later are written in
 * place, under the table's lock: read them here, not from @d->st.
 */
void itab_snapshot_stat(const struct itab_snapshot *s,
			const struct itab_dirent *d, uint64_t ino,
			struct stat *st);

/* A snapshot of the @n entries @ents (copied; not linked to the table).
 * Returns 0 with *out, or -ENOMEM. */
int itab_snapshot_copy(const struct itab_dirent *ents, size_t n,
		       struct itab_snapshot **out);

/* Does @dir have a fresh listing?  (Not a use of it: a listing fetched
 * ahead stays first to be dropped.) */
bool itab_listing_fresh(struct itab *t, uint64_t dir);

/* The same, whether or not the listing is fresh (-EAGAIN: none held),
 * and without counting as a use (-o poll compares with it). */
int itab_snapshot_any(struct itab *t, uint64_t dir, struct itab_snapshot **out);

/*
 * -o poll: the directories whose listings served a request at or after
 * @since_ms (net_now_ms()), the most recently used first, at most @max
 * into @out.  Returns their count (0 also without memory).
 */
struct itab_recent {
	uint64_t ino;
	int64_t used_ms;
};
size_t itab_recent_dirs(struct itab *t, int64_t since_ms,
			struct itab_recent *out, size_t max);

/*
 * The cached symlink target of @ino into @buf.  Returns 0, -EAGAIN (not
 * known: ask the server), -ESTALE, -ENAMETOOLONG.
 */
int itab_readlink(struct itab *t, uint64_t ino, char *buf, size_t bufsz);

/* The kernel dropped @n lookups of @ino. */
void itab_forget(struct itab *t, uint64_t ino, uint64_t n);

/*
 * Page-cache policy: returns true if (size, mtime) of @ino equal what
 * they were when it was last opened, then records the current ones.
 */
bool itab_open_keep_cache(struct itab *t, uint64_t ino);

/*
 * Data of @ino given to the kernel before the server confirmed its
 * transfer: @delta +1 before the reply; then -1 when the server confirmed
 * it, or -2 when it did not (the next open drops the kernel's page cache,
 * and the attributes are asked again).  Meanwhile opens do not keep the
 * page cache either.
 */
#define ITAB_DATA_SENT	    1
#define ITAB_DATA_CONFIRMED (-1)
#define ITAB_DATA_REFUSED   (-2)
void itab_data_unconfirmed(struct itab *t, uint64_t ino, int delta);

/* Number of inodes (for tests of forget). */
size_t itab_count(struct itab *t);

/* What the listings held cost, in bytes (approximate: records, names and
 * link targets with allocator overhead), and how many are held. */
size_t itab_listing_bytes(struct itab *t, size_t *nlistings);

/* Free @ents and their strings (packed names excepted). */
void itab_dirents_free(struct itab_dirent *ents, size_t n);

#endif
