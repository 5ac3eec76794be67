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
	FTP_OP_ATTR, /* SIZE, MDTM, MFMT, SITE CHMOD */
};

/* A negative errno for a reply that is not a success for @op. */
int ftp_errno(enum ftp_op op, const struct ftp_reply *r, bool target_exists);

#endif
