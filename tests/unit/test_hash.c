/*
 * test_hash.c - HASH feature lines and replies (src/ftp/hash_reply.c) and
 * their place in FEAT (src/ftp/reply.c).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/ftp_hash.h"
#include "ftpsfs/reply.h"

#define SHA256_HEX                                                             \
	"555812d3df91c5390f2211d729e58eb2005369934ac2ba69eb42913f897f7a7e"
#define B(a) (1u << (a))

static char hex[FTP_HASH_HEX_MAX];

static int parse(const char *text, enum ftp_hash_algo a)
{
	memset(hex, 'Z', sizeof(hex));
	return ftp_parse_hash(text, a, hex, sizeof(hex));
}

TEST(feat_hash_line_gives_algorithms_and_the_selected_one)
{
	struct ftp_features f;

	/* ProFTPD 1.3.8 with mod_digest */
	ftp_parse_feat("211-Features:\n AUTH TLS\n EPSV\n"
		       " HASH CRC32;MD5;SHA-1*;SHA-256;SHA-512;\n"
		       " MDTM\n XSHA256\n 211 End",
		       &f);
	CHECK_INT(f.hash_algos, B(FTP_HASH_CRC32) | B(FTP_HASH_MD5) |
					B(FTP_HASH_SHA1) | B(FTP_HASH_SHA256) |
					B(FTP_HASH_SHA512));
	CHECK_INT(f.hash_selected, FTP_HASH_SHA1);
	/* the other features are still seen */
	CHECK(f.auth_tls && f.epsv && f.mdtm);
}

TEST(feat_without_hash_has_none)
{
	struct ftp_features f;

	ftp_parse_feat("211-Features:\n MDTM\n SIZE\n XSHA256\n211 End", &f);
	CHECK_INT(f.hash_algos, 0);
	CHECK_INT(f.hash_selected, -1);
}

TEST(feat_hash_ignores_unknown_algorithms_and_case)
{
	struct ftp_features f;

	ftp_parse_feat("211-x\n hash sha-256;TIGER*;md5\n211 End", &f);
	CHECK_INT(f.hash_algos, B(FTP_HASH_SHA256) | B(FTP_HASH_MD5));
	CHECK_INT(f.hash_selected, -1); /* the selected one we don't know */
}

TEST(feat_line_that_only_starts_like_hash_is_not_it)
{
	unsigned mask = 0;
	int sel = -1;

	CHECK(!ftp_hash_feat_line("HASHES SHA-256", 14, &mask, &sel));
	CHECK(!ftp_hash_feat_line("HOST", 4, &mask, &sel));
	CHECK_INT(mask, 0);
}

TEST(hash_reply_gives_the_digest_lower_cased)
{
	CHECK_INT(parse("213-Computing SHA-256 digest\n"
			"213 SHA-256 0-12000 " SHA256_HEX " a.bin",
			FTP_HASH_SHA256),
		  0);
	CHECK_STR(hex, SHA256_HEX);
	CHECK_INT(parse("213 MD5 0-3 DBC19CF9F71B359AD11C1B0FB963DF1E x y z",
			FTP_HASH_MD5),
		  0);
	CHECK_STR(hex, "dbc19cf9f71b359ad11c1b0fb963df1e");
}

TEST(file_name_looking_like_a_digest_is_not_taken)
{
	/* The digest is the third word, whatever the name says. */
	CHECK_INT(parse("213 CRC32 0-1 aa27903b 0badf00d", FTP_HASH_CRC32), 0);
	CHECK_STR(hex, "aa27903b");
	CHECK_INT(parse("213 CRC32 0-1 nothex12 aa27903b", FTP_HASH_CRC32),
		  -EPROTO);
}

TEST(digest_of_another_algorithm_is_refused)
{
	CHECK_INT(parse("213 SHA-1 0-12000 " SHA256_HEX " a.bin",
			FTP_HASH_SHA256),
		  -EPROTO);
	CHECK_INT(parse("213 SHA-256 0-12000 "
			"214a1f4cb75fd78e3b90ce3359f95b81931cf532 a",
			FTP_HASH_SHA256),
		  -EPROTO);
}

TEST(malformed_replies_are_eproto)
{
	CHECK_INT(parse("", FTP_HASH_SHA256), -EPROTO);
	CHECK_INT(parse("213", FTP_HASH_SHA256), -EPROTO);
	CHECK_INT(parse("213 SHA-256", FTP_HASH_SHA256), -EPROTO);
	CHECK_INT(parse("213 SHA-256 0-1", FTP_HASH_SHA256), -EPROTO);
	CHECK_INT(parse("213 SHA-256 0-1 " SHA256_HEX "0 a", FTP_HASH_SHA256),
		  -EPROTO); /* one digit too many */
	CHECK_INT(parse("213-SHA-256 0-1 " SHA256_HEX " a", FTP_HASH_SHA256),
		  -EPROTO);
}

TEST(output_buffer_too_small_is_eproto)
{
	char small[10];

	CHECK_INT(
		ftp_parse_hash("213 MD5 0-1 dbc19cf9f71b359ad11c1b0fb963df1e a",
			       FTP_HASH_MD5, small, sizeof(small)),
		-EPROTO);
}

TEST(names_map_both_ways)
{
	for (int a = 0; a < FTP_HASH_COUNT; a++)
		CHECK_INT(ftp_hash_by_name(
				  ftp_hash_info((enum ftp_hash_algo)a)->name),
			  a);
	CHECK_INT(ftp_hash_by_name("SHA-256"), -1);
	CHECK_INT(ftp_hash_by_name(""), -1);
}

static const struct check_case cases[] = {
	TEST_ENTRY(feat_hash_line_gives_algorithms_and_the_selected_one),
	TEST_ENTRY(feat_without_hash_has_none),
	TEST_ENTRY(feat_hash_ignores_unknown_algorithms_and_case),
	TEST_ENTRY(feat_line_that_only_starts_like_hash_is_not_it),
	TEST_ENTRY(hash_reply_gives_the_digest_lower_cased),
	TEST_ENTRY(file_name_looking_like_a_digest_is_not_taken),
	TEST_ENTRY(digest_of_another_algorithm_is_refused),
	TEST_ENTRY(malformed_replies_are_eproto),
	TEST_ENTRY(output_buffer_too_small_is_eproto),
	TEST_ENTRY(names_map_both_ways),
};

CHECK_MAIN(cases)
