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
	if (r->code == 421 || text_has(r, "too many") ||
	    text_has(r, "maximum number"))
		return -EUSERS;
	if (r->code == 530 || r->code == 532)
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

int ftp_errno(enum ftp_op op, const struct ftp_reply *r, bool target_exists)
{
	int e;

	if (op == FTP_OP_LOGIN)
		return errno_login(r);
	switch (r->code) {
	case 421:
		return -EIO; /* connection closing; the pool reconnects */
	case 425:
	case 426:
		return -EIO;
	case 452:
		return -ENOSPC;
	case 552:
		return -EDQUOT;
	case 500:
	case 502:
	case 504:
		return -ENOTSUP;
	case 501:
		return -EINVAL;
	case 530:
	case 532:
		return -EACCES;
	}
	e = errno_from_text(r);
	if (e)
		return e;
	switch (r->code) {
	case 550:
		return errno_550(op, target_exists);
	case 553:
		return -EACCES; /* file name not allowed */
	case 450:
		return -EBUSY;
	default:
		return -EIO;
	}
}
