/*
 * test_hostspec.c - remote argument parser (src/opts/hostspec.c).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/hostspec.h"

struct parsed {
	struct hostspec hs;
	const char *msg;
	int ret;
};

static void parse(struct parsed *p, const char *spec)
{
	memset(p, 0, sizeof(*p));
	p->ret = hostspec_parse(spec, &p->hs, &p->msg);
}

/* true if the error message mentions @word */
static int msg_has(const struct parsed *p, const char *word)
{
	return p->msg && strstr(p->msg, word) != NULL;
}

/* ---- plain form ---- */

TEST(plain_host_only)
{
	struct parsed p;

	parse(&p, "ftp.example.com");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.host, "ftp.example.com");
	CHECK_STR(p.hs.user, "");
	CHECK_STR(p.hs.path, "");
	CHECK_INT(p.hs.port, 21);
	CHECK_INT(p.hs.tls_mode, TLS_MODE_EXPLICIT);
	CHECK(!p.hs.host_is_ip);
}

TEST(plain_host_with_empty_path)
{
	struct parsed p;

	parse(&p, "host:");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.host, "host");
	CHECK_STR(p.hs.path, "");
}

TEST(plain_user_host_absolute_path)
{
	struct parsed p;

	parse(&p, "alice@host:/srv/ftp");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.user, "alice");
	CHECK_STR(p.hs.host, "host");
	CHECK_STR(p.hs.path, "/srv/ftp");
	CHECK_INT(p.hs.port, 21);
}

TEST(plain_relative_path_stays_relative)
{
	struct parsed p;

	parse(&p, "host:public_html/site");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.path, "public_html/site");
}

TEST(plain_port_and_absolute_path)
{
	struct parsed p;

	parse(&p, "host:2121:/p");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.port, 2121);
	CHECK_STR(p.hs.path, "/p");
}

TEST(plain_port_and_relative_path)
{
	struct parsed p;

	parse(&p, "host:2121:p");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.port, 2121);
	CHECK_STR(p.hs.path, "p");
}

TEST(plain_port_alone)
{
	struct parsed p;

	parse(&p, "host:2121");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.port, 2121);
	CHECK_STR(p.hs.path, "");
}

TEST(plain_digits_only_relative_path_is_a_port)
{
	struct parsed p;

	parse(&p, "host:2024");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.port, 2024);
	CHECK_STR(p.hs.path, "");
	parse(&p, "host:./2024");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.port, 21);
	CHECK_STR(p.hs.path, "./2024");
}

TEST(plain_path_may_contain_colons)
{
	struct parsed p;

	parse(&p, "host:/a:b/c");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.port, 21);
	CHECK_STR(p.hs.path, "/a:b/c");
}

TEST(plain_path_with_spaces)
{
	struct parsed p;

	parse(&p, "host:/My Documents/x y");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.path, "/My Documents/x y");
}

TEST(plain_user_is_everything_before_last_at)
{
	struct parsed p;

	parse(&p, "me@example.com@ftp.example.com:/in");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.user, "me@example.com");
	CHECK_STR(p.hs.host, "ftp.example.com");
}

TEST(plain_absolute_path_may_contain_at)
{
	struct parsed p;

	parse(&p, "u@host:/mail/a@b");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.user, "u");
	CHECK_STR(p.hs.path, "/mail/a@b");
}

TEST(plain_password_is_refused)
{
	struct parsed p;

	parse(&p, "user:secret@host:/p");
	CHECK_INT(p.ret, -EINVAL);
	CHECK(msg_has(&p, "password_stdin"));
	parse(&p, "me@example.com:secret@host");
	CHECK_INT(p.ret, -EINVAL);
	CHECK(msg_has(&p, "password"));
}

TEST(plain_ipv4)
{
	struct parsed p;

	parse(&p, "192.0.2.7:990:/x");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.host, "192.0.2.7");
	CHECK(p.hs.host_is_ip);
	CHECK_INT(p.hs.port, 990);
	CHECK_INT(p.hs.tls_mode, TLS_MODE_EXPLICIT);
}

TEST(plain_ipv6_in_brackets)
{
	struct parsed p;

	parse(&p, "bob@[::1]:2121:/p");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.user, "bob");
	CHECK_STR(p.hs.host, "::1");
	CHECK(p.hs.host_is_ip);
	CHECK_INT(p.hs.port, 2121);
	CHECK_STR(p.hs.path, "/p");
}

TEST(plain_ipv6_without_port)
{
	struct parsed p;

	parse(&p, "[2001:db8::1]:/p");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.host, "2001:db8::1");
	CHECK_INT(p.hs.port, 21);
	parse(&p, "[2001:db8::1]");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.host, "2001:db8::1");
}

TEST(plain_ipv6_without_brackets_is_refused)
{
	struct parsed p;

	parse(&p, "::1:/p");
	CHECK_INT(p.ret, -EINVAL);
	CHECK(msg_has(&p, "brackets"));
	parse(&p, "fe80::1");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(bad_ipv6_in_brackets)
{
	struct parsed p;

	parse(&p, "[::g]:/p");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "[::1:/p");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "[1.2.3.4]");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "[]");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(hostname_that_looks_numeric_is_not_an_ip)
{
	struct parsed p;

	parse(&p, "1.2.3");
	CHECK_INT(p.ret, 0);
	CHECK(!p.hs.host_is_ip);
}

TEST(trailing_slashes_are_stripped)
{
	struct parsed p;

	parse(&p, "host:/srv/ftp///");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.path, "/srv/ftp");
	parse(&p, "host:rel/");
	CHECK_STR(p.hs.path, "rel");
}

TEST(root_path_is_kept)
{
	struct parsed p;

	parse(&p, "host:/");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.path, "/");
}

TEST(plain_path_starting_with_double_slash_reads_as_url)
{
	struct parsed p;

	/* "name://" is a URL scheme, whatever follows; "host:/" is root */
	parse(&p, "host:///");
	CHECK_INT(p.ret, -EINVAL);
	CHECK(msg_has(&p, "scheme"));
}

TEST(empty_host_is_refused)
{
	struct parsed p;

	parse(&p, "");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "user@");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, ":/p");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "user@:/p");
	CHECK_INT(p.ret, -EINVAL);
	CHECK(p.msg != NULL);
}

TEST(empty_user_is_refused)
{
	struct parsed p;

	parse(&p, "@host:/p");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(space_in_host_is_refused)
{
	struct parsed p;

	parse(&p, "my host:/p");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "host :/p");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(port_out_of_range_is_refused)
{
	struct parsed p;

	parse(&p, "host:0");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "host:65536:/p");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "host:99999999999999999999");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "host:65535");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.port, 65535);
}

TEST(control_characters_are_refused)
{
	struct parsed p;

	parse(&p, "host:/a\r\nDELE b");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "us\ter@host");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "host:/a\x7f");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp://host/a\x01");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(too_long_parts_are_enametoolong)
{
	struct parsed p;
	static char spec[6000];

	memset(spec, 'h', 256);
	spec[256] = '\0';
	parse(&p, spec);
	CHECK_INT(p.ret, -ENAMETOOLONG);
	CHECK(msg_has(&p, "host"));

	memset(spec, 'u', 256);
	memcpy(spec + 256, "@h", 3);
	parse(&p, spec);
	CHECK_INT(p.ret, -ENAMETOOLONG);

	memcpy(spec, "h:/", 3);
	memset(spec + 3, 'p', 4094);
	spec[3 + 4094] = '\0';
	parse(&p, spec);
	CHECK_INT(p.ret, 0);
	CHECK_INT(strlen(p.hs.path), 4095);
	spec[3 + 4094] = 'p';
	spec[3 + 4095] = '\0';
	parse(&p, spec);
	CHECK_INT(p.ret, -ENAMETOOLONG);
}

TEST(errmsg_may_be_null)
{
	struct hostspec hs;

	CHECK_INT(hostspec_parse("", &hs, NULL), -EINVAL);
}

/* ---- URLs ---- */

TEST(url_ftp_is_explicit_tls_on_21)
{
	struct parsed p;

	parse(&p, "ftp://host");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.host, "host");
	CHECK_INT(p.hs.port, 21);
	CHECK_INT(p.hs.tls_mode, TLS_MODE_EXPLICIT);
	CHECK_STR(p.hs.path, "");
}

TEST(url_ftpes_is_explicit_tls)
{
	struct parsed p;

	parse(&p, "ftpes://host:2121/");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.tls_mode, TLS_MODE_EXPLICIT);
	CHECK_INT(p.hs.port, 2121);
	CHECK_STR(p.hs.path, "");
}

TEST(url_ftps_is_implicit_tls_on_990)
{
	struct parsed p;

	parse(&p, "ftps://host");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.tls_mode, TLS_MODE_IMPLICIT);
	CHECK_INT(p.hs.port, 990);
	parse(&p, "FTPS://host:9990");
	CHECK_INT(p.ret, 0);
	CHECK_INT(p.hs.tls_mode, TLS_MODE_IMPLICIT);
	CHECK_INT(p.hs.port, 9990);
}

TEST(url_path_is_relative_to_login_dir)
{
	struct parsed p;

	parse(&p, "ftp://host/pub/linux/");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.path, "pub/linux");
}

TEST(url_double_slash_or_2f_is_absolute)
{
	struct parsed p;

	parse(&p, "ftp://host//srv/ftp");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.path, "/srv/ftp");
	parse(&p, "ftp://host/%2Fsrv/ftp");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.path, "/srv/ftp");
	parse(&p, "ftp://host//");
	CHECK_STR(p.hs.path, "/");
}

TEST(url_user_and_path_are_percent_decoded)
{
	struct parsed p;

	parse(&p, "ftps://me%40example.com@host/My%20Documents/%e2%82%ac");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.user, "me@example.com");
	CHECK_STR(p.hs.path, "My Documents/\xe2\x82\xac");
}

TEST(url_raw_at_in_user_is_refused)
{
	struct parsed p;

	parse(&p, "ftp://me@example.com@host/");
	CHECK_INT(p.ret, -EINVAL);
	CHECK(msg_has(&p, "%40"));
}

TEST(url_password_is_refused_with_advice)
{
	struct parsed p;

	parse(&p, "ftps://user:secret@host/");
	CHECK_INT(p.ret, -EINVAL);
	CHECK(msg_has(&p, "password_stdin"));
	CHECK(msg_has(&p, "netrc"));
	parse(&p, "ftps://user:@host/");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(url_encoded_colon_in_user_is_not_a_password)
{
	struct parsed p;

	parse(&p, "ftp://dom%3Auser@host");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.user, "dom:user");
}

TEST(url_sftp_points_to_sshfs)
{
	struct parsed p;

	parse(&p, "sftp://host/");
	CHECK_INT(p.ret, -EINVAL);
	CHECK_STR(p.msg, "sftp is not FTPS; use sshfs");
}

TEST(url_unknown_scheme_is_refused)
{
	struct parsed p;

	parse(&p, "http://host/");
	CHECK_INT(p.ret, -EINVAL);
	CHECK(msg_has(&p, "scheme"));
	parse(&p, "file:///etc");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(url_ipv6_with_port)
{
	struct parsed p;

	parse(&p, "ftps://[2001:db8::2]:990/x");
	CHECK_INT(p.ret, 0);
	CHECK_STR(p.hs.host, "2001:db8::2");
	CHECK(p.hs.host_is_ip);
	CHECK_INT(p.hs.port, 990);
	CHECK_STR(p.hs.path, "x");
}

TEST(url_ipv6_without_brackets_is_refused)
{
	struct parsed p;

	parse(&p, "ftp://::1/");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp://[::1]x/");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(url_bad_percent_escape)
{
	struct parsed p;

	parse(&p, "ftp://host/a%2");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp://host/a%zz");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp://u%4@host");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(url_encoded_control_characters_are_refused)
{
	struct parsed p;

	parse(&p, "ftp://host/a%0d%0aDELE%20x");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp://host/a%00b");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp://u%0a@host/");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(url_bad_port)
{
	struct parsed p;

	parse(&p, "ftp://host:/");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp://host:21x/");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp://host:70000/");
	CHECK_INT(p.ret, -EINVAL);
}

TEST(url_empty_host_is_refused)
{
	struct parsed p;

	parse(&p, "ftp://");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp:///path");
	CHECK_INT(p.ret, -EINVAL);
	parse(&p, "ftp://user@/path");
	CHECK_INT(p.ret, -EINVAL);
}

static const struct check_case cases[] = {
	TEST_ENTRY(plain_host_only),
	TEST_ENTRY(plain_host_with_empty_path),
	TEST_ENTRY(plain_user_host_absolute_path),
	TEST_ENTRY(plain_relative_path_stays_relative),
	TEST_ENTRY(plain_port_and_absolute_path),
	TEST_ENTRY(plain_port_and_relative_path),
	TEST_ENTRY(plain_port_alone),
	TEST_ENTRY(plain_digits_only_relative_path_is_a_port),
	TEST_ENTRY(plain_path_may_contain_colons),
	TEST_ENTRY(plain_path_with_spaces),
	TEST_ENTRY(plain_user_is_everything_before_last_at),
	TEST_ENTRY(plain_absolute_path_may_contain_at),
	TEST_ENTRY(plain_password_is_refused),
	TEST_ENTRY(plain_ipv4),
	TEST_ENTRY(plain_ipv6_in_brackets),
	TEST_ENTRY(plain_ipv6_without_port),
	TEST_ENTRY(plain_ipv6_without_brackets_is_refused),
	TEST_ENTRY(bad_ipv6_in_brackets),
	TEST_ENTRY(hostname_that_looks_numeric_is_not_an_ip),
	TEST_ENTRY(trailing_slashes_are_stripped),
	TEST_ENTRY(root_path_is_kept),
	TEST_ENTRY(plain_path_starting_with_double_slash_reads_as_url),
	TEST_ENTRY(empty_host_is_refused),
	TEST_ENTRY(empty_user_is_refused),
	TEST_ENTRY(space_in_host_is_refused),
	TEST_ENTRY(port_out_of_range_is_refused),
	TEST_ENTRY(control_characters_are_refused),
	TEST_ENTRY(too_long_parts_are_enametoolong),
	TEST_ENTRY(errmsg_may_be_null),
	TEST_ENTRY(url_ftp_is_explicit_tls_on_21),
	TEST_ENTRY(url_ftpes_is_explicit_tls),
	TEST_ENTRY(url_ftps_is_implicit_tls_on_990),
	TEST_ENTRY(url_path_is_relative_to_login_dir),
	TEST_ENTRY(url_double_slash_or_2f_is_absolute),
	TEST_ENTRY(url_user_and_path_are_percent_decoded),
	TEST_ENTRY(url_raw_at_in_user_is_refused),
	TEST_ENTRY(url_password_is_refused_with_advice),
	TEST_ENTRY(url_encoded_colon_in_user_is_not_a_password),
	TEST_ENTRY(url_sftp_points_to_sshfs),
	TEST_ENTRY(url_unknown_scheme_is_refused),
	TEST_ENTRY(url_ipv6_with_port),
	TEST_ENTRY(url_ipv6_without_brackets_is_refused),
	TEST_ENTRY(url_bad_percent_escape),
	TEST_ENTRY(url_encoded_control_characters_are_refused),
	TEST_ENTRY(url_bad_port),
	TEST_ENTRY(url_empty_host_is_refused),
};

CHECK_MAIN(cases)
