/*
 * readahead.h - the pure part of read-ahead across files: which files a
 * reader will open next, and the bounded store of what was fetched for
 * them (src/cache/readahead.c; the fetching is src/fs/fs_readahead.c).
 *
 * Tools that read a directory's files one after another (cat *, grep -r,
 * tar, cp -r) pay several round trips per small file.  When the opens of
 * a directory follow its order - the listing's, or the names' sorted
 * with strcmp (a shell glob) - twice in a row, the next few small files
 * are fetched ahead.  An open of anything else in that directory ends
 * the guess.
 *
 * Nothing here locks, does I/O or looks at the clock: the caller passes
 * the time and holds its lock.
 */
#ifndef FTPSFS_READAHEAD_H
#define FTPSFS_READAHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define RA_FILE_MAX (256 * 1024) /* only files this small */
/* Files fetched ahead of the reader: more than the workers fetching at
 * once (PFQ_WORKERS), so that one that ends finds the next queued. */
#define RA_WINDOW  8
#define RA_BUDGET  (4 * 1024 * 1024) /* bytes held (and reserved) in all */
#define RA_ENTRIES 64		     /* files held (and reserved) in all */
#define RA_TTL_MS  30000	     /* an entry unused this long is dropped */

/* ---- the order of a directory's names ---- */

struct ra_order {
	size_t n;
	char **names;	/* owned; listing order */
	size_t *sorted; /* listing indexes in strcmp order */
	size_t *rank;	/* listing index -> position in sorted */
};

/* Copy @n names (listing order) into *out (free with ra_order_free()).
 * Returns 0 or -ENOMEM. */
int ra_order_new(const char *const *names, size_t n, struct ra_order **out);
void ra_order_free(struct ra_order *o);

/* Listing index of @name, or -1 if the order lacks it. */
ssize_t ra_order_find(const struct ra_order *o, const char *name);

#define RA_BY_LISTING 1u
#define RA_BY_NAME    2u

/* The @k-th name (k >= 1) after listing index @i in order @by (one of
 * RA_BY_*), or NULL past the end.  Points into @o. */
const char *ra_order_next(const struct ra_order *o, size_t i, unsigned by,
			  size_t k);

/* ---- the pattern of opens in one directory ---- */

struct ra_pattern {
	bool valid;
	size_t last;	 /* listing index of the last open */
	unsigned streak; /* opens in a row, each the next one of the last */
	unsigned by;	 /* RA_BY_* the streak followed */
};

/*
 * The file at listing index @i was opened.  Returns the order (RA_BY_*,
 * listing preferred) that the last two or more opens followed, or 0: no
 * pattern (yet, or any more).  Opening the same file again changes
 * nothing and returns 0.
 */
unsigned ra_pattern_opened(struct ra_pattern *p, const struct ra_order *o,
			   size_t i);

/* ---- the store of fetched files ---- */

enum ra_state {
	RA_FREE = 0,
	RA_RESERVED, /* decided, not started */
	RA_FETCHING,
	RA_READY,
};

struct ra_entry {
	enum ra_state state;
	uint64_t dir, token;
	char name[256];	       /* in dir (NAME_MAX + 1) */
	off_t size;	       /* as listed when decided */
	struct timespec mtime; /* as listed when decided */
	char *data;	       /* RA_READY: exactly size bytes (owned) */
	uint64_t served;       /* bytes from 0 handed out, contiguous */
	int64_t since_ms;      /* reserved, or stored */
};

struct ra_store {
	struct ra_entry e[RA_ENTRIES];
	size_t bytes; /* sizes of all entries not free */
	uint64_t next_token;
	uint64_t wasted; /* fetched bytes dropped unserved (to drain) */
};

/*
 * Entries are known by directory and name, not inode: the files fetched
 * ahead have usually not been looked up yet.
 *
 * Make room for @name in directory @dir with the listed @size and
 * @mtime: the oldest stored entries go if needed.  Returns 0 with *token,
 * -EEXIST (already there), -EFBIG (too big, or the name too long), -ENOSPC (the
 * budget is taken by fetches under way).
 */
int ra_store_reserve(struct ra_store *s, uint64_t dir, const char *name,
		     off_t size, const struct timespec *mtime, int64_t now_ms,
		     uint64_t *token);

/* A worker starts fetching entry @token: returns 0 with a copy of the
 * entry in *out (data NULL), or -ENOENT (dropped meanwhile: do not
 * fetch). */
int ra_store_start(struct ra_store *s, uint64_t token, struct ra_entry *out);

/*
 * The fetch of @token ended with @len bytes @data.  Returns 0 (the store
 * owns @data now) or -ENOENT (dropped meanwhile, or @len is not the size
 * decided on: the caller frees @data; counted as wasted).
 */
int ra_store_fill(struct ra_store *s, uint64_t token, char *data, size_t len,
		  int64_t now_ms);

/* Entry @token was not fetched after all (failed, or no idle
 * connection): drop it. */
void ra_store_cancel(struct ra_store *s, uint64_t token);

/* Drop what is held or decided for @name of @dir (a write, unlink, rename, or a
 * failed fetch).  Unserved fetched bytes count as wasted. */
void ra_store_drop(struct ra_store *s, uint64_t dir, const char *name);

/* The pattern in @dir broke: drop the entries not started yet. */
void ra_store_drop_unstarted(struct ra_store *s, uint64_t dir);

/* Drop entries unused for RA_TTL_MS. */
void ra_store_expire(struct ra_store *s, int64_t now_ms);

/*
 * Serve @len bytes at @off of @name in @dir if a fetched copy exists whose
 * listed size and mtime are exactly @size and @mtime (the inode's attributes
 * now).  Returns the byte count (0 at or past the end), or -ENOENT (none
 * usable; one that disagrees is dropped, and so is one whose fetch has not
 * started: the reader reads it itself).  *first tells whether this was
 * the first read served from it.  An entry served whole is dropped.
 */
ssize_t ra_store_read(struct ra_store *s, uint64_t dir, const char *name,
		      off_t size, const struct timespec *mtime, char *buf,
		      size_t len, uint64_t off, bool *first);

/* Is @name of @dir being fetched right now? */
bool ra_store_fetching(struct ra_store *s, uint64_t dir, const char *name);

/* Free every entry (counted as wasted). */
void ra_store_clear(struct ra_store *s);

#endif
