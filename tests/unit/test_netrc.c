/*
 * test_netrc.c - ~/.netrc lookup (src/opts/netrc.c).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/netrc.h"

static struct netrc_match m;

static int lookup(const char *text, const char *host, const char *user)
{
	memset(&m, 0x55, sizeof(m));
	return netrc_lookup(text, strlen(text), host, user, &m);
}

TEST(machine_entry_matches)
{
	CHECK_INT(lookup("machine a.example login al password pa\n"
			 "machine ftp.example.com login bob password s3cret\n",
			 "ftp.example.com", NULL),
		  0);
	CHECK_STR(m.login, "bob");
	CHECK_STR(m.password, "s3cret");
}

TEST(host_match_is_case_insensitive)
{
	CHECK_INT(lookup("machine FTP.Example.COM login bob password pw",
			 "ftp.example.com", NULL),
		  0);
	CHECK_STR(m.login, "bob");
}

TEST(no_match_is_enoent)
{
	CHECK_INT(lookup("machine other login x password y\n", "host", NULL),
		  -ENOENT);
	CHECK_INT(lookup("", "host", NULL), -ENOENT);
	CHECK_INT(lookup("  \n# only a comment\n", "host", NULL), -ENOENT);
}

TEST(first_matching_machine_wins)
{
	CHECK_INT(lookup("machine h login one password p1\n"
			 "machine h login two password p2\n",
			 "h", NULL),
		  0);
	CHECK_STR(m.login, "one");
}

TEST(default_is_used_when_no_machine_matches)
{
	CHECK_INT(lookup("machine other login x password y\n"
			 "default login anonymous password me@example.com\n",
			 "h", NULL),
		  0);
	CHECK_STR(m.login, "anonymous");
	CHECK_STR(m.password, "me@example.com");
}

TEST(machine_wins_over_earlier_default)
{
	CHECK_INT(lookup("default login anon password x\n"
			 "machine h login real password y\n",
			 "h", NULL),
		  0);
	CHECK_STR(m.login, "real");
}

TEST(login_filter_skips_other_logins)
{
	CHECK_INT(lookup("machine h login alice password pa\n"
			 "machine h login bob password pb\n",
			 "h", "bob"),
		  0);
	CHECK_STR(m.login, "bob");
	CHECK_STR(m.password, "pb");
}

TEST(login_filter_accepts_entry_without_login)
{
	CHECK_INT(lookup("machine h login alice password pa\n"
			 "machine h password shared\n",
			 "h", "carol"),
		  0);
	CHECK_STR(m.login, "");
	CHECK_STR(m.password, "shared");
}

TEST(login_filter_with_no_matching_login_is_enoent)
{
	CHECK_INT(lookup("machine h login alice password pa\n", "h", "bob"),
		  -ENOENT);
}

TEST(empty_login_filter_means_any)
{
	CHECK_INT(lookup("machine h login alice password pa\n", "h", ""), 0);
	CHECK_STR(m.login, "alice");
}

TEST(login_filter_applies_to_default)
{
	CHECK_INT(lookup("default login anon password x\n", "h", "bob"),
		  -ENOENT);
}

TEST(entry_without_password)
{
	CHECK_INT(lookup("machine h login alice\n", "h", NULL), 0);
	CHECK_STR(m.login, "alice");
	CHECK_STR(m.password, "");
}

TEST(one_line_and_multi_line_layouts)
{
	CHECK_INT(
		lookup("machine h\n\tlogin alice\n\tpassword pa\n", "h", NULL),
		0);
	CHECK_STR(m.password, "pa");
	CHECK_INT(lookup("machine\th\r\nlogin\talice\r\npassword\tpa\r\n", "h",
			 NULL),
		  0);
	CHECK_STR(m.password, "pa");
}

TEST(fields_in_any_order)
{
	CHECK_INT(lookup("machine h password pa account acct login alice", "h",
			 NULL),
		  0);
	CHECK_STR(m.login, "alice");
	CHECK_STR(m.password, "pa");
}

TEST(quoted_password_with_spaces)
{
	CHECK_INT(
		lookup("machine h login a password \"two words\"\n", "h", NULL),
		0);
	CHECK_STR(m.password, "two words");
}

TEST(quoted_password_with_escaped_quote_and_backslash)
{
	CHECK_INT(lookup("machine h login a password \"say \\\"hi\\\" \\\\o/\"",
			 "h", NULL),
		  0);
	CHECK_STR(m.password, "say \"hi\" \\o/");
}

TEST(unquoted_backslash_is_literal)
{
	CHECK_INT(
		lookup("machine h login DOMAIN\\user password p\\w", "h", NULL),
		0);
	CHECK_STR(m.login, "DOMAIN\\user");
	CHECK_STR(m.password, "p\\w");
}

TEST(empty_quoted_password)
{
	CHECK_INT(lookup("machine h login a password \"\"", "h", NULL), 0);
	CHECK_STR(m.password, "");
}

TEST(quoted_machine_name)
{
	CHECK_INT(lookup("machine \"h\" login a password b", "h", NULL), 0);
	CHECK_STR(m.login, "a");
}

TEST(macdef_body_is_skipped)
{
	CHECK_INT(lookup("macdef init\n"
			 "machine h login evil password evil\n"
			 "cd /pub\n"
			 "\n"
			 "machine h login good password pw\n",
			 "h", NULL),
		  0);
	CHECK_STR(m.login, "good");
}

TEST(macdef_body_ends_at_crlf_empty_line)
{
	CHECK_INT(lookup("machine x login y password z\r\n"
			 "macdef init\r\nmachine h login evil\r\n\r\n"
			 "machine h login good password pw\r\n",
			 "h", NULL),
		  0);
	CHECK_STR(m.login, "good");
}

TEST(macdef_at_end_of_file)
{
	CHECK_INT(lookup("machine h login a password b\nmacdef m\nls\n", "h",
			 NULL),
		  0);
	CHECK_STR(m.login, "a");
}

TEST(comments_are_ignored)
{
	CHECK_INT(lookup("# machine h login evil password evil\n"
			 "machine h # the server\n"
			 "  login good # me\n"
			 "  password pw\n",
			 "h", NULL),
		  0);
	CHECK_STR(m.login, "good");
	CHECK_STR(m.password, "pw");
}

TEST(hash_in_value_position_is_a_value)
{
	CHECK_INT(lookup("machine h login a password #secret", "h", NULL), 0);
	CHECK_STR(m.password, "#secret");
}

TEST(hash_inside_token_is_part_of_it)
{
	CHECK_INT(lookup("machine h login a password pass#word", "h", NULL), 0);
	CHECK_STR(m.password, "pass#word");
}

TEST(unknown_words_are_skipped)
{
	CHECK_INT(lookup("machine h port 2121 login a password b", "h", NULL),
		  0);
	CHECK_STR(m.login, "a");
}

TEST(truncated_file_is_einval)
{
	CHECK_INT(lookup("machine h login a password", "h", NULL), -EINVAL);
	CHECK_INT(lookup("machine", "h", NULL), -EINVAL);
	CHECK_INT(lookup("machine h login", "h", NULL), -EINVAL);
	CHECK_INT(lookup("machine h macdef", "h", NULL), -EINVAL);
}

TEST(unterminated_quote_is_einval)
{
	CHECK_INT(lookup("machine h login a password \"abc", "h", NULL),
		  -EINVAL);
	CHECK_INT(lookup("machine h login a password \"abc\ndef\"", "h", NULL),
		  -EINVAL);
	CHECK_INT(lookup("machine h login a password \"abc\\", "h", NULL),
		  -EINVAL);
}

TEST(match_before_a_later_syntax_error_is_returned)
{
	CHECK_INT(lookup("machine h login a password b\nmachine x login \"oops",
			 "h", NULL),
		  0);
	CHECK_STR(m.login, "a");
}

TEST(nul_in_a_value_is_einval)
{
	const char text[] = "machine h login a password p\0w";

	CHECK_INT(netrc_lookup(text, sizeof(text) - 1, "h", NULL, &m), -EINVAL);
}

TEST(text_is_bounded_by_len)
{
	const char *text = "machine h login a password secretXYZ";

	CHECK_INT(netrc_lookup(text, strlen(text) - 3, "h", NULL, &m), 0);
	CHECK_STR(m.password, "secret");
}

static char big[8192];

TEST(too_long_password_is_enametoolong)
{
	size_t n = strlen("machine h login a password ");

	memcpy(big, "machine h login a password ", n);
	memset(big + n, 'p', 1024);
	big[n + 1024] = '\0';
	CHECK_INT(lookup(big, "h", NULL), -ENAMETOOLONG);
	big[n + 1023] = '\0';
	CHECK_INT(lookup(big, "h", NULL), 0);
	CHECK_INT(strlen(m.password), 1023);
}

TEST(too_long_field_of_another_machine_is_fine)
{
	size_t n = strlen("machine x login a password ");

	memcpy(big, "machine x login a password ", n);
	memset(big + n, 'p', 4000);
	memcpy(big + n + 4000, "\nmachine h login b password c", 30);
	CHECK_INT(lookup(big, "h", NULL), 0);
	CHECK_STR(m.login, "b");
}

TEST(too_long_machine_name_does_not_match)
{
	size_t n = strlen("machine ");

	memcpy(big, "machine ", n);
	memset(big + n, 'h', 2000);
	memcpy(big + n + 2000, " login a password b", 20);
	CHECK_INT(lookup(big, "h", NULL), -ENOENT);
}

static const struct check_case cases[] = {
	TEST_ENTRY(machine_entry_matches),
	TEST_ENTRY(host_match_is_case_insensitive),
	TEST_ENTRY(no_match_is_enoent),
	TEST_ENTRY(first_matching_machine_wins),
	TEST_ENTRY(default_is_used_when_no_machine_matches),
	TEST_ENTRY(machine_wins_over_earlier_default),
	TEST_ENTRY(login_filter_skips_other_logins),
	TEST_ENTRY(login_filter_accepts_entry_without_login),
	TEST_ENTRY(login_filter_with_no_matching_login_is_enoent),
	TEST_ENTRY(empty_login_filter_means_any),
	TEST_ENTRY(login_filter_applies_to_default),
	TEST_ENTRY(entry_without_password),
	TEST_ENTRY(one_line_and_multi_line_layouts),
	TEST_ENTRY(fields_in_any_order),
	TEST_ENTRY(quoted_password_with_spaces),
	TEST_ENTRY(quoted_password_with_escaped_quote_and_backslash),
	TEST_ENTRY(unquoted_backslash_is_literal),
	TEST_ENTRY(empty_quoted_password),
	TEST_ENTRY(quoted_machine_name),
	TEST_ENTRY(macdef_body_is_skipped),
	TEST_ENTRY(macdef_body_ends_at_crlf_empty_line),
	TEST_ENTRY(macdef_at_end_of_file),
	TEST_ENTRY(comments_are_ignored),
	TEST_ENTRY(hash_in_value_position_is_a_value),
	TEST_ENTRY(hash_inside_token_is_part_of_it),
	TEST_ENTRY(unknown_words_are_skipped),
	TEST_ENTRY(truncated_file_is_einval),
	TEST_ENTRY(unterminated_quote_is_einval),
	TEST_ENTRY(match_before_a_later_syntax_error_is_returned),
	TEST_ENTRY(nul_in_a_value_is_einval),
	TEST_ENTRY(text_is_bounded_by_len),
	TEST_ENTRY(too_long_password_is_enametoolong),
	TEST_ENTRY(too_long_field_of_another_machine_is_fine),
	TEST_ENTRY(too_long_machine_name_does_not_match),
};

CHECK_MAIN(cases)
