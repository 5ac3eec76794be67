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
	CHECK_INT(map(FTP_OP_RETR, "550 /x: No such file or directory", false),
		  -ENOENT);
	CHECK_INT(map(FTP_OP_MLST, "550 'x': not found", false), -ENOENT);
}

TEST(permission_text_is_eacces)
{
	CHECK_INT(map(FTP_OP_RETR, "550 secret: Permission denied", false),
		  -EACCES);
}

TEST(vsftpd_ambiguous_550_uses_existence)
{
	CHECK_INT(map(FTP_OP_RETR, "550 Failed to open file.", true), -EACCES);
	CHECK_INT(map(FTP_OP_RETR, "550 Failed to open file.", false), -ENOENT);
	CHECK_INT(map(FTP_OP_LIST, "550 Failed to change directory.", true),
		  -EACCES);
}

TEST(storage_errors)
{
	CHECK_INT(map(FTP_OP_STOR, "452 Insufficient storage space", false),
		  -ENOSPC);
	CHECK_INT(map(FTP_OP_STOR, "552 Exceeded storage allocation", false),
		  -EDQUOT);
	CHECK_INT(map(FTP_OP_STOR, "550 Quota exceeded", false), -EDQUOT);
}

TEST(rmd_not_empty)
{
	CHECK_INT(map(FTP_OP_RMD, "550 Directory not empty", true), -ENOTEMPTY);
	CHECK_INT(
		map(FTP_OP_RMD, "550 Remove directory operation failed.", true),
		-ENOTEMPTY);
}

TEST(login_refusals)
{
	CHECK_INT(map(FTP_OP_LOGIN, "530 Login incorrect.", false), -EACCES);
	CHECK_INT(map(FTP_OP_LOGIN,
		      "421 There are too many connections from your internet "
		      "address.",
		      false),
		  -EUSERS);
	CHECK_INT(map(FTP_OP_LOGIN,
		      "530 Sorry, the maximum number of clients (2) from your "
		      "host are already connected.",
		      false),
		  -EUSERS);
}

TEST(unsupported_commands)
{
	CHECK_INT(map(FTP_OP_MLST, "500 Unknown command.", false), -ENOTSUP);
	CHECK_INT(map(FTP_OP_ATTR, "502 Command not implemented.", false),
		  -ENOTSUP);
}

TEST(data_connection_failures_are_transient)
{
	CHECK_INT(map(FTP_OP_RETR, "426 Failure writing network stream.", true),
		  -ECONNABORTED);
	CHECK_INT(map(FTP_OP_DATA, "425 EPSV: Address already in use", false),
		  -ECONNREFUSED);
	CHECK(ftp_errno_transient(
		map(FTP_OP_STOR, "426 Connection closed; transfer aborted.",
		    false)));
	CHECK(ftp_errno_transient(map(
		FTP_OP_DATA, "425 Unable to build data connection", false)));
	CHECK(ftp_errno_transient(-ECONNRESET));
}

TEST(refusals_and_stalls_are_not_transient)
{
	CHECK_INT(map(FTP_OP_RETR, "451 Local error", true), -EIO);
	CHECK(!ftp_errno_transient(
		map(FTP_OP_STOR, "552 Quota exceeded", false)));
	CHECK(!ftp_errno_transient(map(FTP_OP_STOR, "451 Local error", false)));
	CHECK(!ftp_errno_transient(-ETIMEDOUT));
	CHECK(!ftp_errno_transient(-EIO));
}

TEST(kernel_sees_transport_failures_as_eio)
{
	CHECK_INT(ftp_errno_kernel(-ECONNREFUSED), -EIO);
	CHECK_INT(ftp_errno_kernel(-ECONNABORTED), -EIO);
	CHECK_INT(ftp_errno_kernel(-EPROTO), -EIO);
	CHECK_INT(ftp_errno_kernel(-ENOENT), -ENOENT);
	CHECK_INT(ftp_errno_kernel(-EDQUOT), -EDQUOT);
}

TEST(site_chmod_refusals_are_eperm)
{
	CHECK_INT(map(FTP_OP_CHMOD, "500 Unknown SITE command.", false),
		  -EPERM);
	CHECK_INT(map(FTP_OP_CHMOD, "550 x: Permission denied", true), -EPERM);
	CHECK_INT(map(FTP_OP_CHMOD, "501 Bad mode", true), -EPERM);
	CHECK_INT(map(FTP_OP_CHMOD, "550 x: No such file or directory", false),
		  -ENOENT);
}

TEST(site_symlink_to_a_missing_target_is_eperm)
{
	CHECK_INT(map(FTP_OP_SYMLINK, "550 target: No such file or directory",
		      false),
		  -EPERM);
	CHECK_INT(map(FTP_OP_SYMLINK, "502 Command not implemented.", false),
		  -EPERM);
}

static const struct check_case cases[] = {
	TEST_ENTRY(missing_file_is_enoent),
	TEST_ENTRY(permission_text_is_eacces),
	TEST_ENTRY(vsftpd_ambiguous_550_uses_existence),
	TEST_ENTRY(storage_errors),
	TEST_ENTRY(rmd_not_empty),
	TEST_ENTRY(login_refusals),
	TEST_ENTRY(unsupported_commands),
	TEST_ENTRY(data_connection_failures_are_transient),
	TEST_ENTRY(refusals_and_stalls_are_not_transient),
	TEST_ENTRY(kernel_sees_transport_failures_as_eio),
	TEST_ENTRY(site_chmod_refusals_are_eperm),
	TEST_ENTRY(site_symlink_to_a_missing_target_is_eperm),
};

CHECK_MAIN(cases)
