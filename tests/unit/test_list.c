/*
 * test_list.c - LIST line parser (src/ftp/lsparse_unix.c) and the civil
 * time helper (src/ftp/lsparse_time.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "ftpsfs/lsparse.h"

#define LINE_MAX_TEST 1024

/* 2023-11-22 12:00:00 UTC */
#define NOW_NOV22 ((time_t)1700654400)

struct parsed {
	char buf[LINE_MAX_TEST];
	struct ftp_entry e;
	int ret;
};

static void parse_at_n(struct parsed *p, const char *s, size_t len, time_t now)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->buf, s, len);
	p->ret = list_parse_line(p->buf, len, now, &p->e);
}

static void parse_at(struct parsed *p, const char *s, time_t now)
{
	parse_at_n(p, s, strlen(s), now);
}

static void parse(struct parsed *p, const char *s)
{
	parse_at(p, s, NOW_NOV22);
}

/* ---- real server lines ---- */

TEST(vsftpd_file_with_spaces_in_name)
{
	struct parsed p;

	parse(&p, "-rw-r--r--    1 1000     1000         1234 Nov 22 00:36 "
		  "my file.txt");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "my file.txt");
	CHECK_INT(p.e.type, FTP_ENTRY_FILE);
	CHECK(p.e.has_size);
	CHECK_INT(p.e.size, 1234);
	CHECK(p.e.has_mode);
	CHECK_INT(p.e.mode, 0644);
	CHECK_INT(p.e.mtime_prec, FTP_TIME_MINUTE);
	CHECK_INT(p.e.mtime, INT64_C(1700613360));
	CHECK_INT(p.e.mtime_ns, 0);
	CHECK(p.e.link_target == NULL);
	CHECK(p.e.unique == NULL);
}

TEST(vsftpd_directory_with_year)
{
	struct parsed p;

	parse(&p,
	      "drwxr-xr-x    2 0        0            4096 Jan 01  2020 dir");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "dir");
	CHECK_INT(p.e.type, FTP_ENTRY_DIR);
	CHECK_INT(p.e.size, 4096);
	CHECK_INT(p.e.mode, 0755);
	CHECK_INT(p.e.mtime_prec, FTP_TIME_DAY);
	CHECK_INT(p.e.mtime, INT64_C(1577836800));
}

TEST(vsftpd_link_with_spaces_in_target)
{
	struct parsed p;

	parse(&p, "lrwxrwxrwx    1 0        0               7 Mar 03 12:00 "
		  "link -> target with spaces");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_LINK);
	CHECK_STR(p.e.name, "link");
	CHECK_STR(p.e.link_target, "target with spaces");
	CHECK_INT(p.e.mtime, INT64_C(1677844800));
}

TEST(proftpd_named_owner_and_group)
{
	struct parsed p;

	parse(&p, "-rw-r--r--   1 ftpsfstest ftpgrp     5 Nov 22 00:36 a");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "a");
	CHECK_INT(p.e.size, 5);
	CHECK_STR(p.e.owner, "ftpsfstest");
	CHECK_STR(p.e.group, "ftpgrp");
}

TEST(owner_and_group_without_a_link_count)
{
	struct parsed p;

	parse(&p, "drwxr-xr-x alice staff 4096 Nov 22 00:36 d");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.owner, "alice");
	CHECK_STR(p.e.group, "staff");
	CHECK_STR(p.e.name, "d");
}

TEST(links_and_owner_without_group_give_no_owner)
{
	struct parsed p;

	/* "1 alice": link count and owner, or owner and group? Unknown. */
	parse(&p, "-rw-r--r-- 1 alice 5 Nov 22 00:36 a");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK(p.e.owner == NULL);
	CHECK(p.e.group == NULL);
	CHECK_INT(p.e.size, 5);
}

TEST(pureftpd_line)
{
	struct parsed p;

	parse(&p, "-rw-r--r--    1 1000       1000              0 Nov 22 00:36 "
		  "empty");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "empty");
	CHECK(p.e.has_size);
	CHECK_INT(p.e.size, 0);
}

TEST(character_device_has_no_size)
{
	struct parsed p;

	parse(&p, "crw-rw-rw-   1 0 0   1,   3 Jan  1  2020 null");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_OTHER);
	CHECK_STR(p.e.name, "null");
	CHECK(!p.e.has_size);
	CHECK_INT(p.e.mode, 0666);
}

TEST(block_device_with_joined_numbers)
{
	struct parsed p;

	parse(&p, "brw-rw----   1 0 6 8,0 Jan  1  2020 sda");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_OTHER);
	CHECK(!p.e.has_size);
	CHECK_STR(p.e.name, "sda");
}

TEST(fifo_and_socket_are_other)
{
	struct parsed p;

	parse(&p, "prw-r--r--   1 0 0 0 Jan  1  2020 fifo");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_OTHER);
	parse(&p, "srwxrwxrwx   1 0 0 0 Jan  1  2020 sock");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_OTHER);
}

TEST(acl_and_selinux_markers_after_mode)
{
	struct parsed p;

	parse(&p, "-rw-r--r--+ 1 0 0 5 Jan  1  2020 acl");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mode, 0644);
	parse(&p, "drwxr-xr-x. 2 0 0 6 Jan  1  2020 selinux");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_DIR);
	parse(&p, "-rw-r--r--@ 1 0 0 5 Jan  1  2020 mac");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
}

TEST(size_beyond_4gib)
{
	struct parsed p;

	parse(&p, "-rw-r--r--    1 0 0 5368709120 Jan  1  2020 big.iso");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.size, INT64_C(5368709120));
}

TEST(size_overflow_is_invalid)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 18446744073709551616 Jan  1  2020 x");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(missing_group_column)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 owner 12 Jan 1 2020 x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "x");
	CHECK_INT(p.e.size, 12);
}

TEST(owner_named_like_a_month)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 jan users 12 Jan 1 2020 x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.size, 12);
	CHECK_STR(p.e.name, "x");
}

TEST(date_like_text_in_name_is_kept)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 12 Jan 1 2020 Feb 2 2021 report");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "Feb 2 2021 report");
	CHECK_INT(p.e.mtime, INT64_C(1577836800));
}

TEST(total_line_is_skipped)
{
	struct parsed p;

	parse(&p, "total 123");
	CHECK_INT(p.ret, LSPARSE_SKIP);
	parse(&p, "total 0");
	CHECK_INT(p.ret, LSPARSE_SKIP);
	parse(&p, "total 12K");
	CHECK_INT(p.ret, LSPARSE_SKIP);
}

TEST(blank_line_is_skipped)
{
	struct parsed p;

	parse(&p, "");
	CHECK_INT(p.ret, LSPARSE_SKIP);
	parse(&p, "   ");
	CHECK_INT(p.ret, LSPARSE_SKIP);
}

TEST(dot_and_dotdot_are_skipped)
{
	struct parsed p;

	parse(&p, "drwxr-xr-x    2 0 0 4096 Jan 01  2020 .");
	CHECK_INT(p.ret, LSPARSE_SKIP);
	parse(&p, "drwxr-xr-x    2 0 0 4096 Jan 01  2020 ..");
	CHECK_INT(p.ret, LSPARSE_SKIP);
}

TEST(hidden_file_is_an_entry)
{
	struct parsed p;

	parse(&p, "-rw-------    1 0 0 10 Jan 01  2020 .netrc");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, ".netrc");
	CHECK_INT(p.e.mode, 0600);
}

/* ---- mode string ---- */

TEST(setuid_setgid_sticky_with_execute)
{
	struct parsed p;

	parse(&p, "-rwsr-sr-t 1 0 0 5 Jan 1 2020 x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mode, 07755);
}

TEST(setuid_setgid_sticky_without_execute)
{
	struct parsed p;

	parse(&p, "-rwSr-Sr-T 1 0 0 5 Jan 1 2020 x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mode, 07644);
}

TEST(sticky_directory)
{
	struct parsed p;

	parse(&p, "drwxrwxrwt 9 0 0 4096 Jan 1 2020 tmp");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mode, 01777);
}

TEST(mandatory_lock_l_is_setgid)
{
	struct parsed p;

	parse(&p, "-rw-r-lr-- 1 0 0 5 Jan 1 2020 x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mode, 02644);
}

TEST(no_permissions)
{
	struct parsed p;

	parse(&p, "---------- 1 0 0 5 Jan 1 2020 x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mode, 0);
}

TEST(bad_mode_string_is_invalid)
{
	struct parsed p;

	parse(&p, "-rw-r--r-x- 1 0 0 5 Jan 1 2020 x");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "-rw-r--r- 1 0 0 5 Jan 1 2020 x");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "xrw-r--r-- 1 0 0 5 Jan 1 2020 x");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "-rwzr--r-- 1 0 0 5 Jan 1 2020 x");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(mode_must_be_first)
{
	struct parsed p;

	parse(&p, " -rw-r--r-- 1 0 0 5 Jan 1 2020 x");
	CHECK_INT(p.ret, -EINVAL);
}

/* ---- names ---- */

TEST(leading_spaces_belong_to_name)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020   two spaces");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "  two spaces");
}

TEST(leading_spaces_after_time_belong_to_name)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Nov 22 00:36  one");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, " one");
}

TEST(trailing_and_inner_spaces_are_kept)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020 a   b ");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "a   b ");
}

TEST(utf8_name_passes_through)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020 \xe6\x97\xa5\xe6\x9c\xac "
		  "\xc3\xa9.txt");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "\xe6\x97\xa5\xe6\x9c\xac \xc3\xa9.txt");
}

TEST(name_starting_with_dash)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020 -rf");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "-rf");
}

TEST(name_that_looks_like_a_listing_line)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020 -rw-r--r-- 1 0 0 9 x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "-rw-r--r-- 1 0 0 9 x");
	CHECK_INT(p.e.size, 5);
}

TEST(arrow_in_file_name_is_kept)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020 a -> b");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "a -> b");
	CHECK(p.e.link_target == NULL);
}

TEST(link_splits_at_first_arrow)
{
	struct parsed p;

	parse(&p, "lrwxrwxrwx 1 0 0 5 Jan  1  2020 a -> b -> c");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "a");
	CHECK_STR(p.e.link_target, "b -> c");
}

TEST(link_without_arrow_has_no_target)
{
	struct parsed p;

	parse(&p, "lrwxrwxrwx 1 0 0 5 Jan  1  2020 dangling");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_LINK);
	CHECK_STR(p.e.name, "dangling");
	CHECK(p.e.link_target == NULL);
}

TEST(link_with_absolute_target)
{
	struct parsed p;

	parse(&p, "lrwxrwxrwx 1 0 0 11 Jan  1  2020 pw -> /etc/passwd");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.link_target, "/etc/passwd");
}

TEST(link_with_empty_target_has_no_target)
{
	struct parsed p;

	parse(&p, "lrwxrwxrwx 1 0 0 0 Jan  1  2020 l -> ");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_STR(p.e.name, "l");
	CHECK(p.e.link_target == NULL);
}

TEST(link_name_with_slash_is_bad_name)
{
	struct parsed p;

	parse(&p, "lrwxrwxrwx 1 0 0 5 Jan  1  2020 a/b -> c");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(slash_in_name_is_bad_name)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020 ../../etc/passwd");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
	CHECK_STR(p.e.name, "../../etc/passwd");
}

TEST(cr_in_name_is_bad_name)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020 a\rb");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(nul_in_name_is_bad_name)
{
	struct parsed p;
	const char s[] = "-rw-r--r-- 1 0 0 5 Jan  1  2020 a\0b";

	parse_at_n(&p, s, sizeof(s) - 1, NOW_NOV22);
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(nul_before_name_is_invalid)
{
	struct parsed p;
	const char s[] = "-rw-r--r-- 1 0 0 5\0 Jan  1  2020 ab";

	parse_at_n(&p, s, sizeof(s) - 1, NOW_NOV22);
	CHECK_INT(p.ret, -EINVAL);
}

TEST(empty_name_is_bad_name)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020 ");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(name_of_256_bytes_is_bad_name)
{
	struct parsed p;
	char line[400];
	const char *pre = "-rw-r--r-- 1 0 0 5 Jan  1  2020 ";
	size_t n = strlen(pre);

	memcpy(line, pre, n);
	memset(line + n, 'x', 256);
	parse_at_n(&p, line, n + 255, NOW_NOV22);
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	parse_at_n(&p, line, n + 256, NOW_NOV22);
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
}

TEST(parser_writes_only_inside_len)
{
	char buf[64];
	struct ftp_entry e;
	const char *s = "lrwxrwxrwx 1 0 0 5 Jan  1  2020 a -> b";
	size_t n = strlen(s);

	memset(buf, '#', sizeof(buf));
	memcpy(buf, s, n);
	CHECK_INT(list_parse_line(buf, n, NOW_NOV22, &e), LSPARSE_ENTRY);
	CHECK_STR(e.name, "a");
	CHECK_STR(e.link_target, "b");
	CHECK(buf[n] == '#');
}

/* ---- dates ---- */

TEST(month_names_are_case_insensitive)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 JAN  1  2020 x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mtime, INT64_C(1577836800));
	parse(&p, "-rw-r--r-- 1 0 0 5 jan  1  2020 x");
	CHECK_INT(p.e.mtime, INT64_C(1577836800));
}

TEST(single_digit_hour)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Nov 22 0:36 x");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mtime, INT64_C(1700613360));
}

TEST(impossible_date_is_invalid)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Feb 30  2020 x");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "-rw-r--r-- 1 0 0 5 Feb 3 24:00 x");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "-rw-r--r-- 1 0 0 5 Feb 0 2020 x");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(date_without_name_is_invalid)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 Jan  1  2020");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(missing_date_is_invalid)
{
	struct parsed p;

	parse(&p, "-rw-r--r-- 1 0 0 5 x");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "-rw-r--r-- 1 0 0 5 2020-01-01 12:00 x");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(garbage_is_invalid)
{
	struct parsed p;

	parse(&p, "hello world");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "226 Transfer complete");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "-rw-r--r--");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(year_before_new_year_is_last_year)
{
	struct parsed p;

	/* now: 2024-01-01 00:30 UTC */
	parse_at(&p, "-rw-r--r-- 1 0 0 5 Dec 31 23:59 x", 1704069000);
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mtime, INT64_C(1704067140));
}

TEST(year_less_than_a_day_ahead_is_this_year)
{
	struct parsed p;

	/* now: 2024-01-01 00:30 UTC; 2024-01-01 12:00 is 11.5 h ahead */
	parse_at(&p, "-rw-r--r-- 1 0 0 5 Jan  1 12:00 x", 1704069000);
	CHECK_INT(p.e.mtime, INT64_C(1704110400));
}

TEST(year_more_than_a_day_ahead_is_last_year)
{
	struct parsed p;

	/* now: 2024-01-01 00:30 UTC; 2024-01-02 12:00 is 35.5 h ahead */
	parse_at(&p, "-rw-r--r-- 1 0 0 5 Jan  2 12:00 x", 1704069000);
	CHECK_INT(p.e.mtime, INT64_C(1672660800));
}

TEST(year_on_new_years_eve_for_january_first_is_next_year)
{
	struct parsed p;

	/* now: 2023-12-31 23:00 UTC; "Jan 1 00:30" is 1.5 h ahead */
	parse_at(&p, "-rw-r--r-- 1 0 0 5 Jan  1 00:30 x", 1704063600);
	CHECK_INT(p.e.mtime, INT64_C(1704069000));
}

TEST(year_for_february_29_is_last_leap_year)
{
	struct parsed p;

	/* now: 2023-06-01 */
	parse_at(&p, "-rw-r--r-- 1 0 0 5 Feb 29 10:00 x", 1685577600);
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mtime, INT64_C(1582970400));
}

TEST(year_for_same_day_later_today)
{
	struct parsed p;

	/* now: 2023-11-22 00:00; server clock ahead by 12 h */
	parse_at(&p, "-rw-r--r-- 1 0 0 5 Nov 22 12:00 x", 1700611200);
	CHECK_INT(p.e.mtime, INT64_C(1700654400));
}

/* ---- DOS / IIS ---- */

TEST(dos_directory)
{
	struct parsed p;

	parse(&p, "01-31-20  02:15PM       <DIR>          My Documents");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_DIR);
	CHECK_STR(p.e.name, "My Documents");
	CHECK_INT(p.e.mtime_prec, FTP_TIME_MINUTE);
	CHECK_INT(p.e.mtime, INT64_C(1580480100));
	CHECK(!p.e.has_mode);
}

TEST(dos_file_with_size)
{
	struct parsed p;

	parse(&p, "01-31-20  12:05AM              5368709120 big file.bin");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.type, FTP_ENTRY_FILE);
	CHECK(p.e.has_size);
	CHECK_INT(p.e.size, INT64_C(5368709120));
	CHECK_STR(p.e.name, "big file.bin");
	CHECK_INT(p.e.mtime, INT64_C(1580429100));
}

TEST(dos_four_digit_year_and_24h_clock)
{
	struct parsed p;

	parse(&p, "01-31-2020  14:15                 12 a.txt");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mtime, INT64_C(1580480100));
}

TEST(dos_two_digit_year_pivot)
{
	struct parsed p;

	parse(&p, "12-31-99  01:00PM                 12 old.txt");
	CHECK_INT(p.ret, LSPARSE_ENTRY);
	CHECK_INT(p.e.mtime, INT64_C(946645200));
}

TEST(dos_bad_name_and_bad_time)
{
	struct parsed p;

	parse(&p, "01-31-20  02:15PM       <DIR>          a/b");
	CHECK_INT(p.ret, LSPARSE_BAD_NAME);
	parse(&p, "01-31-20  13:15PM       <DIR>          a");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "01-31-20  02:15PM       <DIR>");
	CHECK_INT(p.ret, -EINVAL);
}

/* ---- lsparse_utc_time ---- */

TEST(utc_time_epoch_and_known_dates)
{
	int64_t t;

	CHECK_INT(lsparse_utc_time(1970, 1, 1, 0, 0, 0, &t), 0);
	CHECK_INT(t, 0);
	CHECK_INT(lsparse_utc_time(2000, 2, 29, 0, 0, 0, &t), 0);
	CHECK_INT(t, INT64_C(951782400));
	CHECK_INT(lsparse_utc_time(2038, 1, 19, 3, 14, 8, &t), 0);
	CHECK_INT(t, INT64_C(2147483648));
	CHECK_INT(lsparse_utc_time(1900, 3, 1, 0, 0, 0, &t), 0);
	CHECK_INT(t, INT64_C(-2203891200));
	CHECK_INT(lsparse_utc_time(9999, 12, 31, 23, 59, 59, &t), 0);
	CHECK_INT(t, INT64_C(253402300799));
}

TEST(utc_time_rejects_out_of_range_fields)
{
	int64_t t;

	CHECK_INT(lsparse_utc_time(1900, 2, 29, 0, 0, 0, &t), -EINVAL);
	CHECK_INT(lsparse_utc_time(2021, 13, 1, 0, 0, 0, &t), -EINVAL);
	CHECK_INT(lsparse_utc_time(2021, 0, 1, 0, 0, 0, &t), -EINVAL);
	CHECK_INT(lsparse_utc_time(2021, 4, 31, 0, 0, 0, &t), -EINVAL);
	CHECK_INT(lsparse_utc_time(2021, 4, 30, 24, 0, 0, &t), -EINVAL);
	CHECK_INT(lsparse_utc_time(2021, 4, 30, 0, 60, 0, &t), -EINVAL);
	CHECK_INT(lsparse_utc_time(2021, 4, 30, 0, 0, 61, &t), -EINVAL);
	CHECK_INT(lsparse_utc_time(-1, 1, 1, 0, 0, 0, &t), -EINVAL);
	CHECK_INT(lsparse_utc_time(10000, 1, 1, 0, 0, 0, &t), -EINVAL);
}

TEST(utc_time_matches_every_day_for_decades)
{
	int64_t t, expect = 0;

	/* walk day by day from 1970 to 2100 and check continuity */
	for (int y = 1970; y < 2100; y++) {
		for (int m = 1; m <= 12; m++) {
			for (int d = 1; d <= 31; d++) {
				if (lsparse_utc_time(y, m, d, 0, 0, 0, &t) < 0)
					continue;
				CHECK_INT(t, expect);
				expect += 86400;
			}
		}
	}
}

TEST(stat_reply_gives_the_files_mode)
{
	CHECK_INT(list_stat_file_mode("213-Status follows:\n"
				      "-rw-r-----    1 1017     1017   4096 "
				      "Dec 06 19:03 f3\n213 End of status",
				      "/d/f3"),
		  0640);
	/* Indented lines (RFC 959 leaves their form to the server). */
	CHECK_INT(list_stat_file_mode("211-Status of /d/f:\n -rwxr-xr-x 1 a b "
				      "1 Jan  1 2020 f\n211 End",
				      "/d/f"),
		  0755);
}

TEST(stat_reply_that_is_not_one_file_tells_nothing)
{
	/* Another name, a directory's listing, a directory, no lines. */
	CHECK_INT(
		list_stat_file_mode("213-S\n-rw-r--r-- 1 a b 1 Jan  1 2020 g\n"
				    "213 E",
				    "/d/f"),
		-1);
	CHECK_INT(
		list_stat_file_mode("213-S\n-rw-r--r-- 1 a b 1 Jan  1 2020 f\n"
				    "-rw-r--r-- 1 a b 1 Jan  1 2020 f\n213 E",
				    "/d/f"),
		-1);
	CHECK_INT(
		list_stat_file_mode("213-S\ndrwxr-xr-x 1 a b 1 Jan  1 2020 f\n"
				    "213 E",
				    "/d/f"),
		-1);
	CHECK_INT(list_stat_file_mode("213 nothing", "/d/f"), -1);
	CHECK_INT(list_stat_file_mode("", "/d/f"), -1);
	CHECK_INT(list_stat_file_mode("213-S\ngarbage\n213 E", "/d/f"), -1);
}

static const struct check_case cases[] = {
	TEST_ENTRY(vsftpd_file_with_spaces_in_name),
	TEST_ENTRY(vsftpd_directory_with_year),
	TEST_ENTRY(vsftpd_link_with_spaces_in_target),
	TEST_ENTRY(proftpd_named_owner_and_group),
	TEST_ENTRY(owner_and_group_without_a_link_count),
	TEST_ENTRY(links_and_owner_without_group_give_no_owner),
	TEST_ENTRY(pureftpd_line),
	TEST_ENTRY(character_device_has_no_size),
	TEST_ENTRY(block_device_with_joined_numbers),
	TEST_ENTRY(fifo_and_socket_are_other),
	TEST_ENTRY(acl_and_selinux_markers_after_mode),
	TEST_ENTRY(size_beyond_4gib),
	TEST_ENTRY(size_overflow_is_invalid),
	TEST_ENTRY(missing_group_column),
	TEST_ENTRY(owner_named_like_a_month),
	TEST_ENTRY(date_like_text_in_name_is_kept),
	TEST_ENTRY(total_line_is_skipped),
	TEST_ENTRY(blank_line_is_skipped),
	TEST_ENTRY(dot_and_dotdot_are_skipped),
	TEST_ENTRY(hidden_file_is_an_entry),
	TEST_ENTRY(setuid_setgid_sticky_with_execute),
	TEST_ENTRY(setuid_setgid_sticky_without_execute),
	TEST_ENTRY(sticky_directory),
	TEST_ENTRY(mandatory_lock_l_is_setgid),
	TEST_ENTRY(no_permissions),
	TEST_ENTRY(bad_mode_string_is_invalid),
	TEST_ENTRY(mode_must_be_first),
	TEST_ENTRY(leading_spaces_belong_to_name),
	TEST_ENTRY(leading_spaces_after_time_belong_to_name),
	TEST_ENTRY(trailing_and_inner_spaces_are_kept),
	TEST_ENTRY(utf8_name_passes_through),
	TEST_ENTRY(name_starting_with_dash),
	TEST_ENTRY(name_that_looks_like_a_listing_line),
	TEST_ENTRY(arrow_in_file_name_is_kept),
	TEST_ENTRY(link_splits_at_first_arrow),
	TEST_ENTRY(link_without_arrow_has_no_target),
	TEST_ENTRY(link_with_absolute_target),
	TEST_ENTRY(link_with_empty_target_has_no_target),
	TEST_ENTRY(link_name_with_slash_is_bad_name),
	TEST_ENTRY(slash_in_name_is_bad_name),
	TEST_ENTRY(cr_in_name_is_bad_name),
	TEST_ENTRY(nul_in_name_is_bad_name),
	TEST_ENTRY(nul_before_name_is_invalid),
	TEST_ENTRY(empty_name_is_bad_name),
	TEST_ENTRY(name_of_256_bytes_is_bad_name),
	TEST_ENTRY(parser_writes_only_inside_len),
	TEST_ENTRY(month_names_are_case_insensitive),
	TEST_ENTRY(single_digit_hour),
	TEST_ENTRY(impossible_date_is_invalid),
	TEST_ENTRY(date_without_name_is_invalid),
	TEST_ENTRY(missing_date_is_invalid),
	TEST_ENTRY(garbage_is_invalid),
	TEST_ENTRY(year_before_new_year_is_last_year),
	TEST_ENTRY(year_less_than_a_day_ahead_is_this_year),
	TEST_ENTRY(year_more_than_a_day_ahead_is_last_year),
	TEST_ENTRY(year_on_new_years_eve_for_january_first_is_next_year),
	TEST_ENTRY(year_for_february_29_is_last_leap_year),
	TEST_ENTRY(year_for_same_day_later_today),
	TEST_ENTRY(dos_directory),
	TEST_ENTRY(dos_file_with_size),
	TEST_ENTRY(dos_four_digit_year_and_24h_clock),
	TEST_ENTRY(dos_two_digit_year_pivot),
	TEST_ENTRY(dos_bad_name_and_bad_time),
	TEST_ENTRY(utc_time_epoch_and_known_dates),
	TEST_ENTRY(utc_time_rejects_out_of_range_fields),
	TEST_ENTRY(utc_time_matches_every_day_for_decades),
	TEST_ENTRY(stat_reply_gives_the_files_mode),
	TEST_ENTRY(stat_reply_that_is_not_one_file_tells_nothing),
};

CHECK_MAIN(cases)
