/*
 * ftp_errno.h - the one place that turns FTP replies into errno values.
 *
 * The same code means different things after different commands (a 550
 * is ENOENT after RETR of a missing file, EACCES after a permission
 * failure, ENOTEMPTY after RMD ...), so the caller names the operation.
 * Many servers send a bare "550 Failed to open file." for both missing
 * and forbidden files (vsftpd); @target_exists lets the caller say that it
 * knows the target exists (it was just listed), which makes such a 550 a
 * permission problem.
 *
 * Two classes of 4yz refusals matter beyond their errno: 425 (no data
 * connection could be made) and 426 (the data connection was closed)
 * are transport failures, reported as -ECONNREFUSED and -ECONNABORTED so
 * that callers can tell "try again" from "no" (ftp_errno_transient()).
 */
#ifndef FTPSFS_FTP_ERRNO_H
#define FTPSFS_FTP_ERRNO_H

#include <stdbool.h>

#include "ftpsfs/reply.h"

enum ftp_op {
	FTP_OP_LOGIN, /* greeting, USER, PASS */
	FTP_OP_SETUP, /* PBSZ, PROT, TYPE */
	FTP_OP_DATA,  /* EPSV, PASV, REST, data connection */
	FTP_OP_LIST,  /* LIST, MLSD, CWD before LIST */
	FTP_OP_MLST,
	FTP_OP_RETR,
	FTP_OP_STOR,
	FTP_OP_DELE,
	FTP_OP_MKD,
	FTP_OP_RMD,
	FTP_OP_RENAME,
	FTP_OP_ATTR,	/* SIZE, MDTM, MFMT, SITE UTIME, HASH */
	FTP_OP_CHMOD,	/* SITE CHMOD: refusals are EPERM, as chmod(2)'s */
	FTP_OP_SYMLINK, /* SITE SYMLINK: refusals are EPERM, as symlink(2)'s */
};

/* A negative errno for a reply that is not a success for @op. */
int ftp_errno(enum ftp_op op, const struct ftp_reply *r, bool target_exists);

/*
 * Was @err (a negative errno from a transfer or a command) a failure of
 * the transport that a new attempt may not meet: a data connection
 * refused or cut (425, 426, a reset), a control connection lost?  Not a
 * stall (-ETIMEDOUT: waiting again would cost another timeout) and not a
 * refusal by the server.
 */
bool ftp_errno_transient(int err);

/*
 * The errno to give the kernel for @err: transport and protocol failures
 * (resets, malformed replies, refused logins) become -EIO, which is what
 * programs expect of a file system; the rest pass unchanged.
 */
int ftp_errno_kernel(int err);

#endif
