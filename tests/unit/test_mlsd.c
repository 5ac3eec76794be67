/*
 * test_mlsd.c - MLSD and MLST line parser (src/ftp/lsparse_mlsd.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/lsparse.h"

#define LINE_MAX_TEST 1024

struct parsed {
	char buf[LINE_MAX_TEST];
	struct ftp_entry e;
	int ret;
};

/* Copy @s (a literal) into a buffer of exactly its length, as a caller that
 * strips CRLF would hand it over, and parse it. */
static void parse_mlsd_n(struct parsed *p, const char *s, size_t len)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->buf, s, len);
	p->ret = mlsd_parse_line(p->buf, len, &p->e);
}

static void parse_mlsd(struct parsed *p, const char *s)
{
	parse_mlsd_n(p, s, strlen(s));
}

static void parse_mlst(struct parsed *p, const char *s)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->buf, s, strlen(s));
	p->ret = mlst_parse_line(p->buf, strlen(s), &p->e);
}

/* 2020-01-02 03:04:05 UTC */
#define T_20200102030405 INT64_C(1577934245)

TEST(owner_names_win_over_numbers_in_any_order)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;UNIX.owner=1000;UNIX.ownername=alice;"
		       "UNIX.groupname=staff;UNIX.group=50; f");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.owner, "alice");
	CHECK_STR(p.e.group, "staff");
	parse_mlsd(&p, "type=file;UNIX.uid=1000;UNIX.gid=; f");
	CHECK_STR(p.e.owner, "1000");
	CHECK(p.e.group == NULL);
	parse_mlsd(&p, "type=file;size=1; f");
	CHECK(p.e.owner == NULL);
}

TEST(plain_file_has_name_size_and_time)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=1234;modify=20200102030405; a.txt");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "a.txt");
	CHECK_INT(p.e.type, FTP_ENTRY_FILE);
	CHECK(p.e.has_size);
	CHECK_INT(p.e.size, 1234);
	CHECK_INT(p.e.mtime_prec, FTP_TIME_SECOND);
	CHECK_INT(p.e.mtime, T_20200102030405);
	CHECK_INT(p.e.mtime_ns, 0);
	CHECK(p.e.link_target == NULL);
	CHECK(p.e.unique == NULL);
	CHECK(!p.e.has_mode);
}

TEST(directory_type)
{
	struct parsed p;

	parse_mlsd(&p, "type=dir;modify=20200102030405; sub");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_DIR);
	CHECK(!p.e.has_size);
}

TEST(fact_names_are_case_insensitive)
{
	struct parsed p;

	parse_mlsd(&p, "Type=File;SIZE=7;Modify=20200102030405;UNIX.MODE=0644;"
		       "UNIQUE=801g4804045; x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_FILE);
	CHECK_INT(p.e.size, 7);
	CHECK_INT(p.e.mtime, T_20200102030405);
	CHECK_INT(p.e.mode, 0644);
	CHECK_STR(p.e.unique, "801g4804045");
}

TEST(name_keeps_spaces_semicolons_and_equals)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=1; a b;c=d; e");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "a b;c=d; e");
}

TEST(name_keeps_leading_spaces)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=1;   three spaces");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "  three spaces");
}

TEST(name_keeps_trailing_space)
{
	struct parsed p;

	parse_mlsd(&p, "type=file; trailing ");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "trailing ");
}

TEST(utf8_name_passes_through)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=3; \xc3\xa9t\xc3\xa9 \xe2\x82\xac.txt");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac.txt");
}

TEST(name_starting_with_dash_is_fine)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=0; -rf");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "-rf");
}

TEST(cdir_and_pdir_are_skipped)
{
	struct parsed p;

	parse_mlsd(&p, "type=cdir;perm=el;unique==keVO1+ZF4; test");
	CHECK_INT(p.ret, LSPARSE_SKIP);
	parse_mlsd(&p, "type=pdir;perm=e;unique==keVO1+d?3; ..");
	CHECK_INT(p.ret, LSPARSE_SKIP);
	parse_mlsd(&p, "type=cdir;modify=20200102030405; /home/user");
	CHECK_INT(p.ret, LSPARSE_SKIP);
}

TEST(dot_and_dotdot_listed_as_dir_are_skipped)
{
	struct parsed p;

	parse_mlsd(&p, "type=dir;modify=20200102030405; .");
	CHECK_INT(p.ret, LSPARSE_SKIP);
	parse_mlsd(&p, "type=dir;modify=20200102030405; ..");
	CHECK_INT(p.ret, LSPARSE_SKIP);
}

TEST(dotted_names_that_are_not_dot_or_dotdot_are_entries)
{
	struct parsed p;

	parse_mlsd(&p, "type=file; ...");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "...");
	parse_mlsd(&p, "type=file; .hidden");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, ".hidden");
}

TEST(slink_type_gives_link_with_target)
{
	struct parsed p;

	parse_mlsd(&p, "type=OS.unix=slink:/etc/passwd;size=11; pw");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_LINK);
	CHECK_STR(p.e.link_target, "/etc/passwd");
	CHECK_STR(p.e.name, "pw");
}

TEST(slink_type_is_case_insensitive)
{
	struct parsed p;

	parse_mlsd(&p, "type=os.UNIX=SLINK:rel/t; l");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_LINK);
	CHECK_STR(p.e.link_target, "rel/t");
}

TEST(symlink_type_gives_link_without_target)
{
	struct parsed p;

	parse_mlsd(&p,
		   "modify=20200102030405;perm=adfrw;size=9;"
		   "type=OS.unix=symlink;unique=FD00U2C4B6;UNIX.mode=0777; ln");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_LINK);
	CHECK(p.e.link_target == NULL);
	CHECK_INT(p.e.mode, 0777);
}

TEST(slink_with_empty_target_has_no_target)
{
	struct parsed p;

	parse_mlsd(&p, "type=OS.unix=slink:; l");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_LINK);
	CHECK(p.e.link_target == NULL);
}

TEST(slink_target_with_cr_is_dropped)
{
	struct parsed p;

	parse_mlsd(&p, "type=OS.unix=slink:a\rb; l");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_LINK);
	CHECK(p.e.link_target == NULL);
}

TEST(device_types_are_other)
{
	struct parsed p;

	parse_mlsd(&p,
		   "type=OS.unix=chr-13/29;perm=;unique==keVO1+5G4; device");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_OTHER);
	parse_mlsd(&p, "type=OS.unix=blkdev; sda");
	CHECK_INT(p.e.type, FTP_ENTRY_OTHER);
	parse_mlsd(&p, "type=OS.unix=chrdev; null");
	CHECK_INT(p.e.type, FTP_ENTRY_OTHER);
}

TEST(unknown_type_is_other)
{
	struct parsed p;

	parse_mlsd(&p, "type=mystery;size=1; m");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_OTHER);
	parse_mlsd(&p, "type=OS.vms=dir; m");
	CHECK_INT(p.e.type, FTP_ENTRY_OTHER);
}

TEST(missing_type_means_file)
{
	struct parsed p;

	parse_mlsd(&p, "size=5; f");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_FILE);
}

TEST(unique_value_may_contain_equals)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;unique==keVO1+4G4;size=1; f");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.unique, "=keVO1+4G4");
	CHECK_INT(p.e.size, 1);
}

TEST(empty_unique_is_null)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;unique=; f");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK(p.e.unique == NULL);
}

TEST(modify_fraction_gives_nanoseconds)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;modify=20200102030405.123; f");
	CHECK_INT(p.e.mtime, T_20200102030405);
	CHECK_INT(p.e.mtime_ns, 123000000);
	parse_mlsd(&p, "type=file;modify=20200102030405.123456789; f");
	CHECK_INT(p.e.mtime_ns, 123456789);
	CHECK_INT(p.e.mtime_prec, FTP_TIME_SECOND);
}

TEST(modify_fraction_beyond_nanoseconds_is_truncated)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;modify=20200102030405.1234567899999; f");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mtime_ns, 123456789);
}

TEST(modify_leap_second_is_accepted)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;modify=20161231235960; f");
	CHECK_INT(p.e.mtime_prec, FTP_TIME_SECOND);
	CHECK_INT(p.e.mtime, INT64_C(1483228800));
}

TEST(bad_modify_is_ignored_not_fatal)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;modify=20201302030405; f");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mtime_prec, FTP_TIME_NONE);
	parse_mlsd(&p, "type=file;modify=2020010203040; f");
	CHECK_INT(p.e.mtime_prec, FTP_TIME_NONE);
	parse_mlsd(&p, "type=file;modify=20200102030405.; f");
	CHECK_INT(p.e.mtime_prec, FTP_TIME_NONE);
	parse_mlsd(&p, "type=file;modify=20200230000000; f");
	CHECK_INT(p.e.mtime_prec, FTP_TIME_NONE);
	parse_mlsd(&p, "type=file;modify=20200102030405Z; f");
	CHECK_INT(p.e.mtime_prec, FTP_TIME_NONE);
}

TEST(modify_before_epoch_is_negative)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;modify=19691231235959; f");
	CHECK_INT(p.e.mtime_prec, FTP_TIME_SECOND);
	CHECK_INT(p.e.mtime, -1);
}

TEST(size_beyond_4gib)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=5368709120; big");
	CHECK_INT(p.e.size, INT64_C(5368709120));
	parse_mlsd(&p, "type=file;size=18446744073709551615; huge");
	CHECK(p.e.has_size);
	CHECK(p.e.size == UINT64_MAX);
}

TEST(size_overflow_or_garbage_is_ignored)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=18446744073709551616; f");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK(!p.e.has_size);
	parse_mlsd(&p, "type=file;size=-1; f");
	CHECK(!p.e.has_size);
	parse_mlsd(&p, "type=file;size=; f");
	CHECK(!p.e.has_size);
}

TEST(sizd_gives_directory_size)
{
	struct parsed p;

	parse_mlsd(&p, "type=dir;sizd=4096; d");
	CHECK(p.e.has_size);
	CHECK_INT(p.e.size, 4096);
}

TEST(size_wins_over_sizd)
{
	struct parsed p;

	parse_mlsd(&p, "type=dir;size=10;sizd=4096; d");
	CHECK_INT(p.e.size, 10);
	parse_mlsd(&p, "type=dir;sizd=4096;size=10; d");
	CHECK_INT(p.e.size, 10);
}

TEST(unix_mode_keeps_permission_bits_only)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;UNIX.mode=0755; f");
	CHECK(p.e.has_mode);
	CHECK_INT(p.e.mode, 0755);
	parse_mlsd(&p, "type=file;UNIX.mode=104755; f");
	CHECK_INT(p.e.mode, 04755);
	parse_mlsd(&p, "type=file;unix.mode=644; f");
	CHECK_INT(p.e.mode, 0644);
}

TEST(unix_mode_in_python_octal_notation)
{
	struct parsed p;

	/* pyftpdlib 1.5: oct(st_mode & 0o777) */
	parse_mlsd(&p, "type=file;unix.mode=0o751; f");
	CHECK(p.e.has_mode);
	CHECK_INT(p.e.mode, 0751);
	parse_mlsd(&p, "type=file;unix.mode=0o; f");
	CHECK(!p.e.has_mode);
}

TEST(bad_unix_mode_is_ignored)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;UNIX.mode=0789; f");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK(!p.e.has_mode);
	parse_mlsd(&p, "type=file;UNIX.mode=77777777777; f");
	CHECK(!p.e.has_mode);
}

TEST(unknown_facts_and_perm_are_ignored)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;perm=adfrw;UNIX.owner=1000;UNIX.group=1000;"
		       "UNIX.ownername=me;X.foo=bar=baz;create=20200101000000;"
		       "lang=en;media-type=text/plain;charset=UTF-8; f");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "f");
	CHECK(!p.e.has_mode);
}

TEST(real_vsftpd_like_pureftpd_line)
{
	struct parsed p;

	parse_mlsd(
		&p,
		"type=file;size=5;modify=20231122003612;UNIX.mode=0644;"
		"UNIX.uid=1000;UNIX.gid=1000;unique=801g4804045; my file.txt");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "my file.txt");
	CHECK_INT(p.e.size, 5);
	CHECK_INT(p.e.mode, 0644);
	CHECK_INT(p.e.mtime, INT64_C(1700613372));
}

TEST(real_iis_line)
{
	struct parsed p;

	parse_mlsd(&p, "modify=20200102030405.123;perm=flcdmpe;type=dir;"
		       "UNIX.mode=0755; Program Files");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_DIR);
	CHECK_STR(p.e.name, "Program Files");
}

TEST(line_without_space_is_invalid)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=1;name");
	CHECK_INT(p.ret, -EINVAL);
	parse_mlsd(&p, "");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(line_without_facts_is_invalid)
{
	struct parsed p;

	parse_mlsd(&p, " name");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(fact_without_equals_is_invalid)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size; f");
	CHECK_INT(p.ret, -EINVAL);
	parse_mlsd(&p, "-rw-r--r-- 1 0 0 5 Jan 1 2020 f");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(fact_without_semicolon_is_invalid)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=1 f");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(empty_fact_name_is_invalid)
{
	struct parsed p;

	parse_mlsd(&p, "=file; f");
	CHECK_INT(p.ret, -EINVAL);
	parse_mlsd(&p, "; f");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(nul_in_facts_is_invalid)
{
	struct parsed p;

	parse_mlsd_n(&p, "type=fi\0le;size=1; f", 20);
	CHECK_INT(p.ret, -EINVAL);
}

TEST(nul_in_name_is_bad_name)
{
	struct parsed p;

	parse_mlsd_n(&p, "type=file;size=1; f\0g", 21);
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(slash_in_name_is_bad_name)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=1; ../../etc/passwd");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
	CHECK_STR(p.e.name, "../../etc/passwd");
	parse_mlsd(&p, "type=file;size=1; /");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(cr_or_lf_in_name_is_bad_name)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=1; a\rb");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
	parse_mlsd(&p, "type=file;size=1; a\nDELE x");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(empty_name_is_bad_name)
{
	struct parsed p;

	parse_mlsd(&p, "type=file;size=1; ");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
	CHECK_STR(p.e.name, "");
}

TEST(name_of_255_bytes_is_fine_256_is_bad)
{
	struct parsed p;
	char line[300];
	size_t pre = strlen("type=file; ");

	memcpy(line, "type=file; ", pre);
	memset(line + pre, 'n', 256);
	parse_mlsd_n(&p, line, pre + 255);
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(strlen(p.e.name), 255);
	parse_mlsd_n(&p, line, pre + 256);
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(parser_writes_only_inside_len)
{
	char buf[32];
	struct ftp_entry e;
	const char *s = "type=file; abc";
	size_t n = strlen(s);

	memset(buf, '#', sizeof(buf));
	memcpy(buf, s, n);
	CHECK_INT(mlsd_parse_line(buf, n, &e), LSPARSE_ENTRY);
	CHECK_STR(e.name, "abc");
	CHECK(buf[n] == '#');
}

TEST(mlst_requires_leading_space)
{
	struct parsed p;

	parse_mlst(&p, "type=file;size=1; /a/b");
	CHECK_INT(p.ret, -EINVAL);
	parse_mlst(&p, "");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(mlst_name_is_whole_path)
{
	struct parsed p;

	parse_mlst(&p,
		   " type=file;size=12;modify=20200102030405; /pub/my file");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "/pub/my file");
	CHECK_INT(p.e.size, 12);
	CHECK_INT(p.e.mtime, T_20200102030405);
}

TEST(mlst_cdir_is_a_directory_entry)
{
	struct parsed p;

	parse_mlst(&p, " type=cdir;modify=20200102030405; /home/user");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_DIR);
	CHECK_STR(p.e.name, "/home/user");
}

TEST(mlst_path_with_lf_is_bad_name)
{
	struct parsed p;

	parse_mlst(&p, " type=file; /a\nb");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(mlst_two_leading_spaces_mean_no_facts)
{
	struct parsed p;

	parse_mlst(&p, "  /a");
	CHECK_INT(p.ret, -EINVAL);
}

static const struct check_case cases[] = {
	TEST_ENTRY(owner_names_win_over_numbers_in_any_order),
	TEST_ENTRY(plain_file_has_name_size_and_time),
	TEST_ENTRY(directory_type),
	TEST_ENTRY(fact_names_are_case_insensitive),
	TEST_ENTRY(name_keeps_spaces_semicolons_and_equals),
	TEST_ENTRY(name_keeps_leading_spaces),
	TEST_ENTRY(name_keeps_trailing_space),
	TEST_ENTRY(utf8_name_passes_through),
	TEST_ENTRY(name_starting_with_dash_is_fine),
	TEST_ENTRY(cdir_and_pdir_are_skipped),
	TEST_ENTRY(dot_and_dotdot_listed_as_dir_are_skipped),
	TEST_ENTRY(dotted_names_that_are_not_dot_or_dotdot_are_entries),
	TEST_ENTRY(slink_type_gives_link_with_target),
	TEST_ENTRY(slink_type_is_case_insensitive),
	TEST_ENTRY(symlink_type_gives_link_without_target),
	TEST_ENTRY(slink_with_empty_target_has_no_target),
	TEST_ENTRY(slink_target_with_cr_is_dropped),
	TEST_ENTRY(device_types_are_other),
	TEST_ENTRY(unknown_type_is_other),
	TEST_ENTRY(missing_type_means_file),
	TEST_ENTRY(unique_value_may_contain_equals),
	TEST_ENTRY(empty_unique_is_null),
	TEST_ENTRY(modify_fraction_gives_nanoseconds),
	TEST_ENTRY(modify_fraction_beyond_nanoseconds_is_truncated),
	TEST_ENTRY(modify_leap_second_is_accepted),
	TEST_ENTRY(bad_modify_is_ignored_not_fatal),
	TEST_ENTRY(modify_before_epoch_is_negative),
	TEST_ENTRY(size_beyond_4gib),
	TEST_ENTRY(size_overflow_or_garbage_is_ignored),
	TEST_ENTRY(sizd_gives_directory_size),
	TEST_ENTRY(size_wins_over_sizd),
	TEST_ENTRY(unix_mode_keeps_permission_bits_only),
	TEST_ENTRY(unix_mode_in_python_octal_notation),
	TEST_ENTRY(bad_unix_mode_is_ignored),
	TEST_ENTRY(unknown_facts_and_perm_are_ignored),
	TEST_ENTRY(real_vsftpd_like_pureftpd_line),
	TEST_ENTRY(real_iis_line),
	TEST_ENTRY(line_without_space_is_invalid),
	TEST_ENTRY(line_without_facts_is_invalid),
	TEST_ENTRY(fact_without_equals_is_invalid),
	TEST_ENTRY(fact_without_semicolon_is_invalid),
	TEST_ENTRY(empty_fact_name_is_invalid),
	TEST_ENTRY(nul_in_facts_is_invalid),
	TEST_ENTRY(nul_in_name_is_bad_name),
	TEST_ENTRY(slash_in_name_is_bad_name),
	TEST_ENTRY(cr_or_lf_in_name_is_bad_name),
	TEST_ENTRY(empty_name_is_bad_name),
	TEST_ENTRY(name_of_255_bytes_is_fine_256_is_bad),
	TEST_ENTRY(parser_writes_only_inside_len),
	TEST_ENTRY(mlst_requires_leading_space),
	TEST_ENTRY(mlst_name_is_whole_path),
	TEST_ENTRY(mlst_cdir_is_a_directory_entry),
	TEST_ENTRY(mlst_path_with_lf_is_bad_name),
	TEST_ENTRY(mlst_two_leading_spaces_mean_no_facts),
};

CHECK_MAIN(cases)
