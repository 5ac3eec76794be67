/*
 * wb_journal.h - the durable write-back queue in the spool directory
 * (-o writeback, DESIGN.md 5 "Behind the writer").
 *
 * One pending upload is two files in the spool directory:
 *   ID.data  the content (a hard link to the spool file), synced;
 *   ID.rec   its record: the remote path, the size and SHA-256 of the
 *            content, what the server had at the path when we first saw
 *            it (for the conflict check), whether an upload began,
 *            and the mode and time the file gets once uploaded.
 * ID is "wb-" plus 16 random hex digits.  A record is written to
 * ID.rec.tmp, synced, renamed over ID.rec and the directory synced: after
 * a crash either the old or the new record is there, whole, and names
 * content that was synced before it.  The record is removed (then the
 * data, then the directory synced) once the server has the content.
 *
 * The text format is "key=value" lines after the magic first line; the
 * path is hex-encoded, so no byte of it can break a line.
 * wb_record_format()/wb_record_parse() are pure; the rest is file I/O.
 * Nothing here logs.
 */
#ifndef FTPSFS_WB_JOURNAL_H
#define FTPSFS_WB_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WB_ID_LEN     19 /* "wb-" + 16 hex digits */
#define WB_PATH_MAX   4096
#define WB_SHA256_HEX 65 /* 64 hex digits and NUL */
#define WB_RECORD_MAX (2 * WB_PATH_MAX + 512)

struct wb_record {
	char id[WB_ID_LEN + 1];
	char path[WB_PATH_MAX]; /* the remote file */
	uint64_t size;		/* of the content */
	char sha256[WB_SHA256_HEX];
	bool seen_known;    /* the server's state below was asked */
	bool seen_exists;   /* ... a file was at path */
	uint64_t seen_size; /* ... of this size (SIZE) */
	int64_t seen_mtime; /* ... and time (MDTM; 0 unknown) */
	bool started;	    /* an upload of this content began */
	bool set_mode;	    /* after the upload: SITE CHMOD mode */
	unsigned mode;	    /* ... permission bits */
	bool set_mtime;	    /* after the upload: set the time (utimens) */
	int64_t mtime;	    /* ... to this, seconds since the epoch */
};

/* A fresh random id into @id (WB_ID_LEN + 1 bytes).  Returns 0 or -EIO. */
int wb_journal_new_id(char *id);

/* The record as text into @buf.  Returns the length, or -ENAMETOOLONG
 * when @bufsz is too small. */
int wb_record_format(const struct wb_record *r, char *buf, size_t bufsz);

/* Parse the text of a record (@len bytes); the id is not part of the
 * text: the caller sets it from the file name.  Returns 0 or -EINVAL. */
int wb_record_parse(const char *buf, size_t len, struct wb_record *r);

/* SHA-256 of the first @size bytes of @fd, as hex into @hex.  Returns 0,
 * -EIO (short file) or a negative errno. */
int wb_journal_digest(int fd, uint64_t size, char *hex);

/*
 * Make the spool file @fd durable as @dir/ID.data: its data synced, the
 * name (re)linked to it.  Returns 0 or a negative errno.
 */
int wb_journal_link(const char *dir, const char *id, int fd);

/* Write @r durably as @dir/ID.rec (see above).  Returns 0 or a negative
 * errno. */
int wb_journal_save(const char *dir, const struct wb_record *r);

/* Read @dir/@id.rec into @r.  Returns 0, -ENOENT or -EINVAL (damaged). */
int wb_journal_load(const char *dir, const char *id, struct wb_record *r);

/* Open @dir/ID.data read-only.  Returns the descriptor or a negative
 * errno. */
int wb_journal_open_data(const char *dir, const char *id);

/* Remove the record, then the data, then sync the directory.  Returns 0
 * or a negative errno (missing files are fine). */
int wb_journal_remove(const char *dir, const char *id);

/*
 * The ids of all records in @dir, oldest record first, into a new array
 * (*ids, *n; free with free()).  Leftover ID.rec.tmp files (a crash
 * during a save) are removed.  Returns 0 or a negative errno.
 */
int wb_journal_list(const char *dir, char (**ids)[WB_ID_LEN + 1], size_t *n);

/*
 * Content whose record never got written (a crash inside a close that
 * therefore never returned): each ID.data without ID.rec is renamed
 * "unsaved-ID" (never uploaded; the user decides), leftover ID.data.tmp
 * links are removed.  *kept counts the renamed.  Returns 0 or a negative
 * errno.
 */
int wb_journal_keep_orphans(const char *dir, unsigned *kept);

#endif
