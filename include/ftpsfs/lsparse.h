/*
 * lsparse.h - parsers for directory listings sent by the server.
 *
 * MLSD/MLST (RFC 3659 section 7) and Unix "ls -l" style LIST lines.  The
 * parsers are pure functions over one line of bytes: no I/O, no globals, no
 * allocation.  They parse the line in place: on success the string fields of
 * the entry point into the caller's line buffer, which must stay alive and
 * unmodified for as long as the entry is used.  Nothing is written outside
 * line[0, len): the buffer needs no spare byte for a terminating NUL (the
 * name, last on the line, is moved one byte left over its separator).
 *
 * Everything here treats the line as hostile: lengths are explicit, embedded
 * NULs are detected, and names that could escape the mount or confuse the
 * kernel ("/", NUL, CR, LF, ".", "..", empty, longer than NAME_MAX) are
 * reported as LSPARSE_BAD_NAME so the caller can drop and log them.
 */
#ifndef FTPSFS_LSPARSE_H
#define FTPSFS_LSPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum ftp_entry_type {
	FTP_ENTRY_FILE,
	FTP_ENTRY_DIR,
	FTP_ENTRY_LINK,
	FTP_ENTRY_OTHER, /* device, fifo, socket: shown, never opened */
};

/* How much of mtime the listing actually told us. */
enum ftp_time_prec {
	FTP_TIME_NONE,	 /* no time at all */
	FTP_TIME_DAY,	 /* LIST "Jan  1  2020": date only */
	FTP_TIME_MINUTE, /* LIST "Jan  1 12:34" */
	FTP_TIME_SECOND, /* MLSD modify=YYYYMMDDHHMMSS */
};

struct ftp_entry {
	const char *name; /* NUL-terminated, inside the line buffer */
	/* LIST "a -> b" or MLSD OS.unix=slink:b; else NULL */
	const char *link_target;
	const char *unique; /* MLSD "unique" fact value, else NULL */
	enum ftp_entry_type type;
	bool has_size;
	uint64_t size;
	enum ftp_time_prec mtime_prec;
	int64_t mtime;	   /* seconds since the epoch, UTC */
	uint32_t mtime_ns; /* MLSD fractional seconds, else 0 */
	bool has_mode;
	uint32_t mode; /* permission bits only (07777) */
	/* Owner and group as the server names them (MLSD UNIX.ownername,
	 * else UNIX.owner/UNIX.uid; the LIST columns), NUL-terminated inside
	 * the line buffer; NULL when not shown.  Used by -o idmap=names. */
	const char *owner;
	const char *group;
};

/* Results of the line parsers besides a negative errno. */
enum listing_result {
	LSPARSE_ENTRY = 0, /* *out holds an entry */
	LSPARSE_SKIP = 1,  /* not an entry: "total 12", "." / "..", cdir/pdir */
	LSPARSE_BAD_NAME = 2, /* an entry whose name must be dropped; out->name
			       * may point at the raw name for logging (may hold
			       * control characters: escape before printing) */
};

/*
 * Parse one MLSD line (facts, one space, name) without its CRLF.
 * Returns LSPARSE_ENTRY, LSPARSE_SKIP or LSPARSE_BAD_NAME, or -EINVAL when
 * the line is not a valid fact line.  @line is modified in place.
 *
 * -EINVAL: no space, no facts, a fact without '=' or ';', a NUL in the
 * facts.  Unknown facts, and known facts with unusable values (a size that
 * is not a number, an impossible date), are ignored.  No "type" fact means
 * a plain file.  SKIP: type=cdir/pdir, names "." and "..".
 */
int mlsd_parse_line(char *line, size_t len, struct ftp_entry *out);

/*
 * Parse the entry line of an MLST reply (RFC 3659 section 7.2: one leading
 * space, facts, one space, pathname).  Same as mlsd_parse_line() except that
 * the leading space is required and the name is a path: '/' is allowed, and
 * out->name is the whole path as the server sent it.  Also unlike MLSD:
 * type=cdir/pdir give a DIR entry (it is the object asked about), "." and
 * ".." are not skipped, and the path may be up to 4095 bytes; CR, LF and
 * NUL still make it LSPARSE_BAD_NAME.
 */
int mlst_parse_line(char *line, size_t len, struct ftp_entry *out);

/*
 * Parse one LIST line in Unix "ls -l" format (also the common variants:
 * missing group column, ACL '+'/'.' after the mode, device "maj, min"
 * instead of a size, numeric or named owners, sizes beyond 4 GiB).
 * @now is the current time, used to pick the year of "Mon DD HH:MM" dates:
 * the latest year for which the date is not more than a day in the future.
 * Returns LSPARSE_ENTRY, LSPARSE_SKIP ("total N" lines, "." and "..") or
 * LSPARSE_BAD_NAME, or -EINVAL for a line that isn't a listing entry.
 * @line is modified in place.
 *
 * Blank lines are LSPARSE_SKIP as well.  The name starts exactly one space
 * after the time or year.  For links it ends at the first " -> ", so a link
 * whose name itself contains " -> " is split there (ls output is ambiguous);
 * a target holding CR, LF or NUL is dropped (link_target NULL).  Devices
 * have no size.  LIST times are in the server's (unknown) time zone and are
 * taken as UTC.  Lines in DOS/IIS format ("01-31-20  02:15PM  <DIR>  name")
 * are accepted as a fallback; their names lose any leading spaces.
 */
int list_parse_line(char *line, size_t len, time_t now, struct ftp_entry *out);

/*
 * The permission bits of the regular file @path from the text of a 2xx
 * reply to "STAT @path" (RFC 959 4.1.3: an "ls -l" of it between the first
 * and the last line, as vsftpd and ProFTPD send it; lines may be indented),
 * or -1 unless exactly one line parses and it names a regular file called
 * as @path's last component.
 */
int list_stat_file_mode(const char *text, const char *path);

/*
 * Days-from-civil helper shared by the parsers: seconds since the epoch of
 * the given UTC date and time, or -EINVAL if a field is out of range.
 * Month is 1..12.  Result in *out.  Year 0..9999 (proleptic Gregorian);
 * sec may be 60, a leap second (RFC 3659 section 2.3), which counts as
 * the first second of the next minute.
 */
int lsparse_utc_time(int year, int month, int day, int hour, int min, int sec,
		     int64_t *out);

#endif
