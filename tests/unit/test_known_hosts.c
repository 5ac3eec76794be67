/*
 * test_known_hosts.c - the trust-on-first-use file (src/opts/known_hosts.c).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/known_hosts.h"

#define FP_A                                                                   \
	"sha256:"                                                              \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B                                                                   \
	"sha256:"                                                              \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static uint8_t fp[FINGERPRINT_LEN];
static unsigned line;

static int lookup(const char *text, const char *key)
{
	memset(fp, 0, sizeof(fp));
	line = 0;
	return known_hosts_lookup(text, strlen(text), key, fp, &line);
}

TEST(key_of_a_name_is_lower_case_with_port)
{
	char key[KNOWN_HOSTS_KEY_MAX];

	CHECK_INT(
		known_hosts_key("FTP.Example.COM", false, 21, key, sizeof(key)),
		0);
	CHECK_STR(key, "ftp.example.com:21");
}

TEST(key_of_an_ipv6_literal_is_bracketed)
{
	char key[KNOWN_HOSTS_KEY_MAX];

	CHECK_INT(known_hosts_key("::1", true, 990, key, sizeof(key)), 0);
	CHECK_STR(key, "[::1]:990");
	CHECK_INT(known_hosts_key("127.0.0.1", true, 2121, key, sizeof(key)),
		  0);
	CHECK_STR(key, "127.0.0.1:2121");
}

TEST(key_refuses_blanks_and_empty)
{
	char key[KNOWN_HOSTS_KEY_MAX];

	CHECK_INT(known_hosts_key("", false, 21, key, sizeof(key)), -EINVAL);
	CHECK_INT(known_hosts_key("a b", false, 21, key, sizeof(key)), -EINVAL);
	CHECK_INT(known_hosts_key("a\nb", false, 21, key, sizeof(key)),
		  -EINVAL);
	CHECK_INT(known_hosts_key("host", false, 21, key, 6), -ENAMETOOLONG);
}

TEST(lookup_finds_the_line_and_its_number)
{
	CHECK_INT(lookup("# comment\n\nother:21 " FP_B "\nhost:21 " FP_A "\n",
			 "host:21"),
		  0);
	CHECK_INT(line, 4);
	CHECK_INT(fp[0], 0xaa);
}

TEST(lookup_is_case_insensitive_on_the_host)
{
	CHECK_INT(lookup("HOST:21 " FP_A "\n", "host:21"), 0);
}

TEST(lookup_distinguishes_ports)
{
	CHECK_INT(lookup("host:21 " FP_A "\n", "host:2121"), -ENOENT);
	CHECK_INT(lookup("host:2121 " FP_A "\n", "host:21"), -ENOENT);
}

TEST(first_line_wins)
{
	CHECK_INT(lookup("host:21 " FP_A "\nhost:21 " FP_B "\n", "host:21"), 0);
	CHECK_INT(line, 1);
	CHECK_INT(fp[0], 0xaa);
}

TEST(malformed_lines_are_skipped)
{
	CHECK_INT(lookup("host:21 sha256:zz\nhost:21\nhost:21 " FP_A
			 " extra\nhost:21\t " FP_B "\r\n",
			 "host:21"),
		  0);
	CHECK_INT(line, 4);
	CHECK_INT(fp[0], 0xbb);
}

TEST(last_line_without_newline_is_read)
{
	CHECK_INT(lookup("host:21 " FP_A, "host:21"), 0);
	CHECK_INT(line, 1);
}

TEST(empty_text_has_nothing)
{
	CHECK_INT(lookup("", "host:21"), -ENOENT);
}

TEST(format_line_round_trips)
{
	char buf[400];
	int n;

	CHECK_INT(lookup("h:1 " FP_A "\n", "h:1"), 0);
	n = known_hosts_format_line("[::1]:21", fp, buf, sizeof(buf));
	CHECK_INT(n, (int)strlen("[::1]:21 " FP_A "\n"));
	CHECK_STR(buf, "[::1]:21 " FP_A "\n");
	CHECK_INT(lookup(buf, "[::1]:21"), 0);
	CHECK_INT(known_hosts_format_line("[::1]:21", fp, buf, 20),
		  -ENAMETOOLONG);
}

static const struct check_case cases[] = {
	TEST_ENTRY(key_of_a_name_is_lower_case_with_port),
	TEST_ENTRY(key_of_an_ipv6_literal_is_bracketed),
	TEST_ENTRY(key_refuses_blanks_and_empty),
	TEST_ENTRY(lookup_finds_the_line_and_its_number),
	TEST_ENTRY(lookup_is_case_insensitive_on_the_host),
	TEST_ENTRY(lookup_distinguishes_ports),
	TEST_ENTRY(first_line_wins),
	TEST_ENTRY(malformed_lines_are_skipped),
	TEST_ENTRY(last_line_without_newline_is_read),
	TEST_ENTRY(empty_text_has_nothing),
	TEST_ENTRY(format_line_round_trips),
};

CHECK_MAIN(cases)
