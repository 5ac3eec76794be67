/*
 * errmap.c - FTP reply code (and text) to errno, by operation.
 *
 * RFC 959 section 4.2 defines the codes; servers agree on the classes but
 * not on the details, so where the code is ambiguous (mostly 550) the text
 * is consulted for well-known phrases, then the operation decides.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "ftpsfs/ftp_errno.h"

static bool text_has(const struct ftp_reply *r, const char *needle)
{
	return strcasestr(r->text, needle) != NULL;
}

/* Phrases that say what went wrong whatever the code; 0 if none. */
static int errno_from_text(const struct ftp_reply *r)
{
	if (text_has(r, "quota"))
		return -EDQUOT;
	if (text_has(r, "no space") || text_has(r, "disk full") ||
	    text_has(r, "insufficient storage"))
		return -ENOSPC;
	if (text_has(r, "not a directory"))
		return -ENOTDIR;
	if (text_has(r, "is a directory"))
		return -EISDIR;
	if (text_has(r, "not empty"))
		return -ENOTEMPTY;
	if (text_has(r, "permission denied") || text_has(r, "access denied") ||
	    text_has(r, "not allowed") || text_has(r, "forbidden"))
		return -EACCES;
	if (text_has(r, "no such file") || text_has(r, "not found") ||
	    text_has(r, "does not exist") || text_has(r, "doesn't exist"))
		return -ENOENT;
	if (text_has(r, "already exists") || text_has(r, "file exists"))
		return -EEXIST;
	return 0;
}

/* Login-time refusals: too many connections must be told apart from a
 * wrong password, so that the pool can shrink instead of failing. */
static int errno_login(const struct ftp_reply *r)
{
	if (r->code == FTP_REPLY_NOT_AVAILABLE || text_has(r, "too many") ||
	    text_has(r, "maximum number"))
		return -EUSERS;
	if (r->code == FTP_REPLY_NOT_LOGGED_IN ||
	    r->code == FTP_REPLY_NEED_ACCOUNT_STORE)
		return -EACCES;
	return -EPROTO;
}

/* 550: "requested action not taken; file unavailable". */
static int errno_550(enum ftp_op op, bool target_exists)
{
	switch (op) {
	case FTP_OP_RMD:
		return target_exists ? -ENOTEMPTY : -ENOENT;
	case FTP_OP_MKD:
		return target_exists ? -EEXIST : -EACCES;
	case FTP_OP_STOR:
		return -EACCES;
	default:
		return target_exists ? -EACCES : -ENOENT;
	}
}

/* What every operation means by these codes, whatever the text says. */
static int errno_by_code(int code)
{
	switch (code) {
	case FTP_REPLY_NOT_AVAILABLE:
		return -EIO; /* connection closing; the pool reconnects */
	case FTP_REPLY_CANT_OPEN_DATA:
		return -ECONNREFUSED;
	case FTP_REPLY_XFER_ABORTED:
		return -ECONNABORTED;
	case FTP_REPLY_NO_STORAGE:
		return -ENOSPC;
	case FTP_REPLY_EXCEEDED_STORAGE:
		return -EDQUOT;
	case FTP_REPLY_SYNTAX_ERROR:
	case FTP_REPLY_NOT_IMPLEMENTED:
	case FTP_REPLY_BAD_PARAM:
		return -ENOTSUP;
	case FTP_REPLY_BAD_ARGS:
		return -EINVAL;
	case FTP_REPLY_NOT_LOGGED_IN:
	case FTP_REPLY_NEED_ACCOUNT_STORE:
		return -EACCES;
	default:
		return 0;
	}
}

static int errno_general(enum ftp_op op, const struct ftp_reply *r,
			 bool target_exists)
{
	int e = errno_by_code(r->code);

	if (e)
		return e;
	e = errno_from_text(r);
	if (e)
		return e;
	switch (r->code) {
	case FTP_REPLY_FILE_UNAVAILABLE:
		return errno_550(op, target_exists);
	case FTP_REPLY_BAD_FILENAME:
		return -EACCES; /* file name not allowed */
	case FTP_REPLY_FILE_BUSY:
		return -EBUSY;
	default:
		return -EIO;
	}
}

/*
 * SITE CHMOD and SITE SYMLINK stand for chmod(2) and symlink(2), whose
 * callers expect EPERM for a change they may not make: an unknown SITE
 * command or argument is a missing capability, and EACCES would mean a
 * directory on the path cannot be searched.  ProFTPD links only to files
 * that exist: its "no such file" after SITE SYMLINK is about the target,
 * which symlink(2) allows (the link's directory exists: the kernel
 * looked it up).
 */
static int errno_site(enum ftp_op op, int e)
{
	switch (e) {
	case -ENOTSUP:
	case -EINVAL:
	case -EACCES:
		return -EPERM;
	case -ENOENT:
		return op == FTP_OP_SYMLINK ? -EPERM : e;
	default:
		return e;
	}
}

int ftp_errno(enum ftp_op op, const struct ftp_reply *r, bool target_exists)
{
	int e;

	if (op == FTP_OP_LOGIN)
		return errno_login(r);
	e = errno_general(op, r, target_exists);
	if (op == FTP_OP_CHMOD || op == FTP_OP_SYMLINK)
		e = errno_site(op, e);
	return e;
}

bool ftp_errno_transient(int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ECONNABORTED:
	case -ECONNRESET:
	case -EPIPE:
		return true;
	default:
		return false;
	}
}

int ftp_errno_kernel(int err)
{
	switch (err) {
	case -ECONNRESET:
	case -ECONNREFUSED:
	case -ECONNABORTED:
	case -EPIPE:
	case -EPROTO:
	case -EPROTONOSUPPORT:
	case -EMSGSIZE:
	case -E2BIG:
	case -EUSERS:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
		return -EIO;
	default:
		return err;
	}
}
