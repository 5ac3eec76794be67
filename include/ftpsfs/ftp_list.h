/*
 * ftp_list.h - directory listings and single-entry lookups.
 */
#ifndef FTPSFS_FTP_LIST_H
#define FTPSFS_FTP_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "ftpsfs/lsparse.h"

struct ftp_conn;

/* Limits on what one listing may cost us (hostile servers). */
#define FTP_LIST_LINE_MAX  8192
#define FTP_LIST_BYTES_MAX (256ull << 20)
/* Entries per directory: the default of -o dir_max_entries, and the most
 * it may be set to (with FTP_LIST_BYTES_MAX, what bounds the memory one
 * listing takes). */
#define FTP_LIST_ENTRIES_MAX   1000000
#define FTP_LIST_ENTRIES_LIMIT 10000000

/*
 * Called once per entry; return 0 to go on or a negative errno to stop.
 * @e's strings live only for the duration of the call.
 */
typedef int (*ftp_list_cb)(void *arg, const struct ftp_entry *e);

/*
 * List directory @path (absolute): MLSD when the server offers MLST, else
 * "CWD path" and "LIST -a" parsed as Unix ls -l (with @force_list).
 * Entries with names that must not reach the kernel are dropped and
 * logged.  @dir_known says the directory is known to exist (makes an
 * ambiguous 550 mean EACCES).  Returns 0 or a negative errno.
 */
int ftp_list_dir(struct ftp_conn *c, const char *path, bool force_list,
		 bool dir_known, ftp_list_cb cb, void *arg);

/*
 * MLST @path (RFC 3659 section 7): the facts of one entry, without a data
 * connection.  On success the entry's strings point into @buf.  The name
 * is the path as the server sent it.  Returns 0, -ENOENT, -ENOTSUP (no
 * MLST), or another negative errno.
 */
int ftp_mlst(struct ftp_conn *c, const char *path, struct ftp_entry *e,
	     char *buf, size_t bufsz);

/* ftp_mlst() in two halves, for a pipelined flight: send "MLST path"
 * (-ENOTSUP, nothing sent, without MLST), and later read its reply. */
int ftp_mlst_send(struct ftp_conn *c, const char *path);
int ftp_mlst_read(struct ftp_conn *c, const char *path, struct ftp_entry *e,
		  char *buf, size_t bufsz);

#endif
