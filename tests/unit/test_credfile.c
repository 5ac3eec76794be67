/*
 * test_credfile.c - credentials=FILE text (src/opts/credfile.c).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/credfile.h"

static struct credfile cf;
static unsigned bad;

static int parse(const char *text)
{
	bad = 0;
	return credfile_parse(text, strlen(text), &cf, &bad);
}

TEST(all_keys_parse)
{
	CHECK_INT(parse("user=alice\npassword=s3cret\nkey_password=kp\n"), 0);
	CHECK_STR(cf.user, "alice");
	CHECK_STR(cf.password, "s3cret");
	CHECK_STR(cf.key_password, "kp");
	CHECK(cf.has_user && cf.has_password && cf.has_key_password);
}

TEST(proxy_password_parses)
{
	CHECK_INT(parse("password=a\nproxy_password=p x\n"), 0);
	CHECK_STR(cf.proxy_password, "p x");
	CHECK(cf.has_proxy_password);
	CHECK_INT(parse("proxy_password=a\nproxy_password=b\n"), -EINVAL);
	CHECK_INT(bad, 2);
}

TEST(aliases_parse)
{
	CHECK_INT(parse("username=bob\npass=pw\n"), 0);
	CHECK_STR(cf.user, "bob");
	CHECK_STR(cf.password, "pw");
	CHECK(!cf.has_key_password);
}

TEST(value_is_literal_after_the_first_equals)
{
	CHECK_INT(parse("password=  a=b #c  \n"), 0);
	CHECK_STR(cf.password, "  a=b #c  ");
}

TEST(blanks_around_the_key_are_ignored)
{
	CHECK_INT(parse("  \tuser =x\n"), 0);
	CHECK_STR(cf.user, "x");
}

TEST(crlf_lines_work)
{
	CHECK_INT(parse("user=x\r\npassword=y\r\n"), 0);
	CHECK_STR(cf.user, "x");
	CHECK_STR(cf.password, "y");
}

TEST(comments_and_blank_lines_are_skipped)
{
	CHECK_INT(parse("# my server\n\n   \n  # indented\npassword=p"), 0);
	CHECK_STR(cf.password, "p");
	CHECK(!cf.has_user);
}

TEST(empty_password_is_present_but_empty)
{
	CHECK_INT(parse("password=\n"), 0);
	CHECK(cf.has_password);
	CHECK_STR(cf.password, "");
}

TEST(unknown_key_names_its_line)
{
	CHECK_INT(parse("user=a\npasswd=typo\n"), -EINVAL);
	CHECK_INT(bad, 2);
}

TEST(line_without_equals_is_an_error)
{
	CHECK_INT(parse("user=a\n\njust text\n"), -EINVAL);
	CHECK_INT(bad, 3);
}

TEST(key_given_twice_is_an_error)
{
	CHECK_INT(parse("password=a\npass=b\n"), -EINVAL);
	CHECK_INT(bad, 2);
}

TEST(nul_byte_is_an_error)
{
	static const char text[] = "user=a\npassword=x\0y\n";

	CHECK_INT(credfile_parse(text, sizeof(text) - 1, &cf, &bad), -EINVAL);
	CHECK_INT(bad, 2);
}

TEST(cr_inside_a_value_is_an_error)
{
	CHECK_INT(parse("password=a\rb\n"), -EINVAL);
	CHECK_INT(bad, 1);
}

TEST(overlong_value_is_refused)
{
	static char text[SECRET_MAX + 32];

	memcpy(text, "password=", 9);
	memset(text + 9, 'x', SECRET_MAX + 1);
	text[9 + SECRET_MAX + 1] = '\0';
	CHECK_INT(parse(text), -ENAMETOOLONG);
	CHECK_INT(bad, 1);
	text[9 + SECRET_MAX] = '\0';
	CHECK_INT(parse(text), 0);
	CHECK_INT(strlen(cf.password), SECRET_MAX);
}

TEST(empty_file_has_nothing)
{
	CHECK_INT(parse(""), 0);
	CHECK(!cf.has_user && !cf.has_password && !cf.has_key_password);
}

static const struct check_case cases[] = {
	TEST_ENTRY(all_keys_parse),
	TEST_ENTRY(proxy_password_parses),
	TEST_ENTRY(aliases_parse),
	TEST_ENTRY(value_is_literal_after_the_first_equals),
	TEST_ENTRY(blanks_around_the_key_are_ignored),
	TEST_ENTRY(crlf_lines_work),
	TEST_ENTRY(comments_and_blank_lines_are_skipped),
	TEST_ENTRY(empty_password_is_present_but_empty),
	TEST_ENTRY(unknown_key_names_its_line),
	TEST_ENTRY(line_without_equals_is_an_error),
	TEST_ENTRY(key_given_twice_is_an_error),
	TEST_ENTRY(nul_byte_is_an_error),
	TEST_ENTRY(cr_inside_a_value_is_an_error),
	TEST_ENTRY(overlong_value_is_refused),
	TEST_ENTRY(empty_file_has_nothing),
};

CHECK_MAIN(cases)
