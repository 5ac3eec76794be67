/* Unit tests for the reply-to-errno mapping. */
#include <errno.h>

#include "check.h"
#include "ftpsfs/ftp_errno.h"

static int map(enum ftp_op op, const char *line, bool exists)
{
	struct ftp_reply r;

	ftp_reply_init(&r);
	ftp_reply_feed_line(&r, line, strlen(line));
	return ftp_errno(op, &r, exists);
}

TEST(missing_file_is_enoent)
{
	CHECK_INT(map(FTP_OP_RETR, "550 /x: No such file or directory", false), -ENOENT);
	CHECK_INT(map(FTP_OP_MLST, "550 'x': not found", false), -ENOENT);
}

TEST(permission_text_is_eacces)
{
	CHECK_INT(map(FTP_OP_RETR, "550 secret: Permission denied", false), -EACCES);
}

TEST(vsftpd_ambiguous_550_uses_existence)
{
	CHECK_INT(map(FTP_OP_RETR, "550 Failed to open file.", true), -EACCES);
	CHECK_INT(map(FTP_OP_RETR, "550 Failed to open file.", false), -ENOENT);
	CHECK_INT(map(FTP_OP_LIST, "550 Failed to change directory.", true), -EACCES);
}

TEST(storage_errors)
{
	CHECK_INT(map(FTP_OP_STOR, "452 Insufficient storage space", false), -ENOSPC);
	CHECK_INT(map(FTP_OP_STOR, "552 Exceeded storage allocation", false), -EDQUOT);
	CHECK_INT(map(FTP_OP_STOR, "550 Quota exceeded", false), -EDQUOT);
}

TEST(rmd_not_empty)
{
	CHECK_INT(map(FTP_OP_RMD, "550 Directory not empty", true), -ENOTEMPTY);
	CHECK_INT(map(FTP_OP_RMD, "550 Remove directory operation failed.", true), -ENOTEMPTY);
}

TEST(login_refusals)
{
	CHECK_INT(map(FTP_OP_LOGIN, "530 Login incorrect.", false), -EACCES);
	CHECK_INT(map(FTP_OP_LOGIN, "421 There are too many connections from your internet address.", false), -EUSERS);
	CHECK_INT(map(FTP_OP_LOGIN, "530 Sorry, the maximum number of clients (2) from your host are already connected.", false), -EUSERS);
}

TEST(unsupported_commands)
{
	CHECK_INT(map(FTP_OP_MLST, "500 Unknown command.", false), -ENOTSUP);
	CHECK_INT(map(FTP_OP_ATTR, "502 Command not implemented.", false), -ENOTSUP);
}

TEST(transfer_failures_are_eio)
{
	CHECK_INT(map(FTP_OP_RETR, "426 Failure writing network stream.", true), -EIO);
	CHECK_INT(map(FTP_OP_RETR, "425 Unable to build data connection", true), -EIO);
	CHECK_INT(map(FTP_OP_RETR, "451 Local error", true), -EIO);
}

static const struct check_case cases[] = {
	TEST_ENTRY(missing_file_is_enoent),
	TEST_ENTRY(permission_text_is_eacces),
	TEST_ENTRY(vsftpd_ambiguous_550_uses_existence),
	TEST_ENTRY(storage_errors),
	TEST_ENTRY(rmd_not_empty),
	TEST_ENTRY(login_refusals),
	TEST_ENTRY(unsupported_commands),
	TEST_ENTRY(transfer_failures_are_eio),
};

CHECK_MAIN(cases)
