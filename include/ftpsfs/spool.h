/*
 * spool.h - local copies of files being changed, and the upload plan.
 *
 * A spool holds the whole new content of one remote file in an unlinked
 * temporary file inside a private (mode 0700) directory, plus what is
 * needed to upload only what changed: the size the server has and the
 * lowest offset at which our content may differ from it.
 *
 * upload_plan() is pure: from those numbers and the server's abilities it
 * picks the cheapest upload that leaves the server with exactly our
 * content.
 */
#ifndef FTPSFS_SPOOL_H
#define FTPSFS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPOOL_CLEAN UINT64_MAX /* changed_from when nothing changed */

struct spool {
	int fd;
	uint64_t size;	       /* our content's size */
	uint64_t remote_size;  /* the server's file's size */
	uint64_t changed_from; /* [0, changed_from) equals the server's */
};

/*
 * Create (or check) the private spool directory: @dir if given, else
 * $TMPDIR or /tmp plus "ftpsfs-spool-UID".  It must be a directory owned
 * by us with no access for others; it is created with mode 0700.  The
 * chosen path goes to @out.  Returns 0 or a negative errno with @err.
 */
int spool_dir_prepare(const char *dir, char *out, size_t outsz, char *err,
		      size_t errsz);

/* An empty spool in @dir standing for a server file of @remote_size
 * bytes (0 if it does not exist).  Returns 0 or a negative errno. */
int spool_open(const char *dir, uint64_t remote_size, struct spool *sp);
void spool_close(struct spool *sp);

/*
 * Give the spool's content a name in @dir, so that it outlives the spool
 * (an upload that could not be done): "unsaved-DATE-TIME-N-NAME", NAME
 * the last component of @path, N the first number free.  The name goes to @out.
 * Returns 0 or a negative errno.
 */
int spool_keep(const struct spool *sp, const char *dir, const char *path,
	       char *out, size_t outsz);

/* Write or read at @off.  Writes move changed_from down. */
int spool_pwrite(struct spool *sp, const void *buf, size_t len, uint64_t off);
ssize_t spool_pread(struct spool *sp, void *buf, size_t len, uint64_t off);

/* Fill [off, off+len) with what the server has there, without marking it
 * changed (used while copying the server's file in). */
int spool_fill(struct spool *sp, const void *buf, size_t len, uint64_t off);

/* Cut or extend (with zeros) to @size. */
int spool_truncate(struct spool *sp, uint64_t size);

/* The server now has exactly our content. */
void spool_mark_clean(struct spool *sp);

enum upload_how {
	UPLOAD_NONE,	  /* the server already has our content */
	UPLOAD_STOR,	  /* the whole file */
	UPLOAD_APPE,	  /* only [remote_size, size): appended data */
	UPLOAD_REST_STOR, /* REST offset + STOR: [offset, size) */
};

struct upload_plan {
	enum upload_how how;
	uint64_t offset; /* first byte to send */
};

/*
 * What to send.  @remote_exists false means there is no file on the server
 * yet; @can_rest_stor: the server restarts uploads (REST STREAM, RFC 3659
 * section 5); @atomic: the upload goes to a temporary name, which must get
 * the whole content.  A shrunk file always gets a whole STOR: STOR after
 * REST does not truncate.
 */
struct upload_plan upload_plan(const struct spool *sp, bool remote_exists,
			       bool can_rest_stor, bool atomic);

#endif
