/*
 * ftp_ops.h - single-command operations on one control connection:
 * namespace changes and metadata.
 *
 * Each returns 0 or a negative errno from ftp_errno() (reply) or the
 * transport, with c->err describing a failure.  Paths are absolute and are
 * refused with -EINVAL if they contain CR or LF (ftp_conn_send()).
 */
#ifndef FTPSFS_FTP_OPS_H
#define FTPSFS_FTP_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ftpsfs/ftp_hash.h"

struct ftp_entry;

struct ftp_conn;
struct ftp_xfer;

/* How the server lets us set a modification time; tried in this order. */
enum ftp_mtime_method {
	FTP_MTIME_UNKNOWN = 0,
	FTP_MTIME_MFMT,	      /* MFMT time path (draft-somers-ftp-mfxx) */
	FTP_MTIME_MDTM_WRITE, /* MDTM time path (vsftpd mdtm_write) */
	FTP_MTIME_SITE_UTIME, /* SITE UTIME time path (ProFTPD mod_site_misc) */
	FTP_MTIME_NONE,	      /* none works: -EPERM */
};

int ftp_op_delete(struct ftp_conn *c, const char *path);
int ftp_op_mkdir(struct ftp_conn *c, const char *path);
int ftp_op_rmdir(struct ftp_conn *c, const char *path);

/* RNFR @from, RNTO @to (RFC 959 4.1.3).  -ENOENT when @from is missing. */
int ftp_op_rename(struct ftp_conn *c, const char *from, const char *to);

/* A file's time and mode to set in one flight: the time with @method (a
 * method already learnt: ftp_op_set_mtime()), the mode with SITE CHMOD. */
struct ftp_attrs {
	bool set_mtime;
	int64_t mtime; /* UTC seconds */
	enum ftp_mtime_method method;
	bool set_mode;
	mode_t mode;
	int result; /* ftp_op_rename_attrs(): 0 or the first failure of these */
};

/* The time and mode of @a for @path, pipelined: 0 or the first failure
 * (every reply is read). */
int ftp_op_set_attrs(struct ftp_conn *c, const char *path,
		     const struct ftp_attrs *a);

/*
 * ftp_op_rename(), with the commands of @a (or NULL) for @to in the same
 * flight; for a rename onto a name where nothing is (a refused rename then
 * leaves them nothing to change).  Returns the rename's result; @a->result
 * is theirs (or the rename's failure).
 */
int ftp_op_rename_attrs(struct ftp_conn *c, const char *from, const char *to,
			struct ftp_attrs *a);

/* SITE CHMOD with the permission bits of @mode.  -EPERM when refused. */
int ftp_op_chmod(struct ftp_conn *c, const char *path, mode_t mode);

/*
 * SITE CHMOD of a file we have just created, asking in the same flight what
 * mode the server gave it (MLST with UNIX.mode where offered, else STAT
 * @path, whose reply holds an "ls -l" line; RFC 959 4.1.3, RFC 3659 7): what
 * the server does to new files, learnt at no extra round trip.  Returns
 * ftp_op_chmod()'s result; *was is the mode before the change (07777 bits)
 * or -1 when the server's answer did not tell it unambiguously.
 */
int ftp_op_chmod_learn(struct ftp_conn *c, const char *path, mode_t mode,
		       int *was);

/* SITE SYMLINK @target @path.  -EPERM when the server has no such command
 * or refuses the target (ProFTPD: one that does not exist); -EINVAL for a
 * target with spaces (the command could not carry it). */
int ftp_op_symlink(struct ftp_conn *c, const char *target, const char *path);

/*
 * Set the modification time of @path to @sec (UTC seconds) with *method;
 * when *method is FTP_MTIME_UNKNOWN the methods are tried in order and the
 * one that worked is stored (FTP_MTIME_NONE if none did: -EPERM).
 */
int ftp_op_set_mtime(struct ftp_conn *c, const char *path, int64_t sec,
		     enum ftp_mtime_method *method);

/*
 * What is at @path now (to learn whether a command whose reply was lost
 * was carried out): its enum ftp_entry_type (lsparse.h), -ENOENT when
 * nothing is there, or another negative errno when the server would not
 * say.  MLST where offered, else SIZE and CWD.
 */
int ftp_op_what_is(struct ftp_conn *c, const char *path);

/*
 * What is at @path, without listing its directory (one that refuses to
 * be listed: a drop box): MLST (RFC 3659 7) where offered and allowed,
 * else SIZE (a file, with its size) or CWD (a directory).  Returns 0
 * with *@e (for MLST its name points into @line; after SIZE/CWD only
 * type and size are known), -ENOENT, or another negative errno.
 */
int ftp_op_stat_one(struct ftp_conn *c, const char *path, struct ftp_entry *e,
		    char *line, size_t linesz);

/* SIZE (RFC 3659 section 4). */
int ftp_op_size(struct ftp_conn *c, const char *path, uint64_t *size);

/*
 * SIZE and MDTM of @path in one flight (two round trips where pipelining
 * is off): what tells whether a file changed on the server (RFC 3659
 * sections 3 and 4).  Returns 0 with *size and *mtime (seconds since the
 * epoch; -1 when the server has no MDTM for it), or SIZE's negative errno
 * or the transport's.
 */
int ftp_op_size_mdtm(struct ftp_conn *c, const char *path, uint64_t *size,
		     int64_t *mtime);
/* The same in two halves, to ride in another flight (ftp_conn_cork()):
 * send SIZE and MDTM (0 or a negative errno), later read their replies
 * (as above). */
int ftp_op_size_mdtm_send(struct ftp_conn *c, const char *path);
int ftp_op_size_mdtm_recv(struct ftp_conn *c, uint64_t *size, int64_t *mtime);

/*
 * End the download @x before its end (ftp_xfer_abort()) and ask SIZE and
 * MDTM of @path (ftp_op_size_mdtm()), all in one flight where the server
 * takes pipelined commands.  Frees @x.  Returns 0 with *size and *mtime;
 * -EIO when the connection could not be brought back in step (it is
 * broken: close it); or SIZE's negative errno.
 */
int ftp_op_abort_size_mdtm(struct ftp_conn *c, struct ftp_xfer *x,
			   const char *path, uint64_t *size, int64_t *mtime);

/* AVBL @path: the bytes this login may still store there ("213 N",
 * draft-peterson-streamlined-ftp-command-extensions-10 section 4).
 * -ENOTSUP when FEAT did not offer it. */
int ftp_op_avbl(struct ftp_conn *c, const char *path, uint64_t *bytes);

/*
 * The server's @a digest of the file @path (HASH), in lower-case hex in
 * @hex (FTP_HASH_HEX_MAX bytes will do).  -ENOTSUP when the server does
 * not offer @a, else 0 or the negative errno of its reply.
 */
int ftp_op_hash(struct ftp_conn *c, const char *path, enum ftp_hash_algo a,
		char *hex, size_t hexsz);

/*
 * MDTM of @n paths, pipelined: all commands are sent, then all replies
 * read, so a directory of N files costs one round trip instead of N
 * (RFC 959 does not forbid sending the next command before the reply).
 * For each path, results[i] is 0 with secs[i] set, or a negative errno.
 * Returns 0, also when a transport error or the operation's deadline
 * cut the batch short after some answers came (those stand, the rest
 * carry the error, the connection is broken); else the transport error.
 */
int ftp_op_mdtm_many(struct ftp_conn *c, const char *const *paths, size_t n,
		     int64_t *secs, int *results);

/* The same for @n names in the directory @dir; -ENOMEM when the paths
 * cannot be made. */
int ftp_op_mdtm_in(struct ftp_conn *c, const char *dir,
		   const char *const *names, size_t n, int64_t *secs,
		   int *results);

#endif
