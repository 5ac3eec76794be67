/*
 * test_socks5.c - SOCKS5 handshake bytes (src/net/socks5.c): what we
 * send, and every field of what the proxy answers.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/proxy_wire.h"

static uint8_t buf[SOCKS5_MSG_MAX];
static const char *why;

TEST(greeting_offers_one_method)
{
	CHECK_INT(socks5_greeting(false, buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "\x05\x01\x00", 3) == 0);
	CHECK_INT(socks5_greeting(true, buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "\x05\x01\x02", 3) == 0);
}

TEST(method_choice_is_checked)
{
	uint8_t method = 0xee;

	CHECK_INT(socks5_parse_method((const uint8_t *)"\x05\x02", true,
				      &method, &why),
		  0);
	CHECK_INT(method, SOCKS5_AUTH_USERPASS);
	CHECK_INT(socks5_parse_method((const uint8_t *)"\x05\x00", false,
				      &method, &why),
		  0);
	CHECK_INT(method, SOCKS5_AUTH_NONE);
}

TEST(no_acceptable_method_is_eacces)
{
	uint8_t method;

	CHECK_INT(socks5_parse_method((const uint8_t *)"\x05\xff", false,
				      &method, &why),
		  -EACCES);
	CHECK(strstr(why, "authentication required"));
	CHECK_INT(socks5_parse_method((const uint8_t *)"\x05\xff", true,
				      &method, &why),
		  -EACCES);
}

TEST(method_not_offered_or_wrong_version_is_eproto)
{
	uint8_t method;

	/* "none" when we offered only user/password: not what we asked. */
	CHECK_INT(socks5_parse_method((const uint8_t *)"\x05\x00", true,
				      &method, &why),
		  -EPROTO);
	CHECK_INT(socks5_parse_method((const uint8_t *)"\x04\x00", false,
				      &method, &why),
		  -EPROTO);
	CHECK_INT(socks5_parse_method((const uint8_t *)"HT", false, &method,
				      &why),
		  -EPROTO);
}

TEST(auth_request_layout)
{
	CHECK_INT(socks5_auth_request("al", "pwd", buf, sizeof(buf)), 8);
	CHECK(memcmp(buf,
		     "\x01\x02"
		     "al"
		     "\x03"
		     "pwd",
		     8) == 0);
}

TEST(auth_request_lengths_are_1_to_255)
{
	char user[257];

	memset(user, 'u', 256);
	user[256] = '\0';
	CHECK_INT(socks5_auth_request(user, "p", buf, sizeof(buf)),
		  -ENAMETOOLONG);
	user[255] = '\0';
	CHECK_INT(socks5_auth_request(user, "p", buf, sizeof(buf)),
		  3 + 255 + 1);
	CHECK_INT(socks5_auth_request("", "p", buf, sizeof(buf)), -EINVAL);
	CHECK_INT(socks5_auth_request("u", "", buf, sizeof(buf)), -EINVAL);
	CHECK_INT(socks5_auth_request("u", "p", buf, 4), -ENOSPC);
}

TEST(auth_status)
{
	CHECK_INT(socks5_parse_auth((const uint8_t *)"\x01\x00", &why), 0);
	CHECK_INT(socks5_parse_auth((const uint8_t *)"\x01\x01", &why),
		  -EACCES);
	CHECK_STR(why, "proxy refused: authentication failed");
	CHECK_INT(socks5_parse_auth((const uint8_t *)"\x05\x00", &why),
		  -EPROTO);
}

TEST(connect_sends_a_name_for_the_proxy_to_resolve)
{
	CHECK_INT(socks5_connect_request("ftp.example", false, 2121, buf,
					 sizeof(buf)),
		  4 + 1 + 11 + 2);
	CHECK(memcmp(buf,
		     "\x05\x01\x00\x03\x0b"
		     "ftp.example"
		     "\x08\x49",
		     18) == 0);
}

TEST(connect_sends_ip_literals_as_addresses)
{
	CHECK_INT(
		socks5_connect_request("127.0.0.1", true, 21, buf, sizeof(buf)),
		10);
	CHECK(memcmp(buf, "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x15", 10) == 0);
	CHECK_INT(socks5_connect_request("::1", true, 990, buf, sizeof(buf)),
		  22);
	CHECK_INT(buf[3], SOCKS5_ATYP_IPV6);
	CHECK_INT(buf[19], 1);
	CHECK_INT(buf[20], 990 >> 8);
	CHECK_INT(buf[21], 990 & 0xff);
}

TEST(connect_refuses_bad_names)
{
	char name[257];

	memset(name, 'a', 256);
	name[256] = '\0';
	CHECK_INT(socks5_connect_request(name, false, 21, buf, sizeof(buf)),
		  -ENAMETOOLONG);
	CHECK_INT(socks5_connect_request("", false, 21, buf, sizeof(buf)),
		  -EINVAL);
	CHECK_INT(
		socks5_connect_request("not-an-ip", true, 21, buf, sizeof(buf)),
		-EINVAL);
}

TEST(reply_length_by_address_type)
{
	size_t len = 0;

	CHECK_INT(socks5_reply_length((const uint8_t *)"\x05\x00\x00\x01\x7f",
				      &len, &why),
		  0);
	CHECK_INT(len, 10);
	CHECK_INT(socks5_reply_length((const uint8_t *)"\x05\x00\x00\x04\x00",
				      &len, &why),
		  0);
	CHECK_INT(len, 22);
	CHECK_INT(socks5_reply_length((const uint8_t *)"\x05\x00\x00\x03\x07",
				      &len, &why),
		  0);
	CHECK_INT(len, 4 + 1 + 7 + 2);
}

TEST(reply_header_fields_are_checked)
{
	size_t len = 0;

	CHECK_INT(socks5_reply_length((const uint8_t *)"\x04\x00\x00\x01\x7f",
				      &len, &why),
		  -EPROTO);
	CHECK_INT(socks5_reply_length((const uint8_t *)"\x05\x00\x01\x01\x7f",
				      &len, &why),
		  -EPROTO);
	CHECK_INT(socks5_reply_length((const uint8_t *)"\x05\x00\x00\x02\x7f",
				      &len, &why),
		  -EPROTO);
	CHECK_INT(socks5_reply_length((const uint8_t *)"\x05\x00\x00\x03\x00",
				      &len, &why),
		  -EPROTO);
	CHECK_INT(socks5_reply_length((const uint8_t *)"HTTP/", &len, &why),
		  -EPROTO);
}

static int reply_with_code(uint8_t rep)
{
	uint8_t r[10] = { 5, rep, 0, 1, 127, 0, 0, 1, 0, 80 };

	return socks5_parse_reply(r, sizeof(r), &why);
}

TEST(reply_codes_map_to_errno)
{
	CHECK_INT(reply_with_code(0), 0);
	CHECK_INT(reply_with_code(1), -ENOENT);
	CHECK_INT(reply_with_code(2), -EACCES);
	CHECK_INT(reply_with_code(3), -ENETUNREACH);
	CHECK_INT(reply_with_code(4), -EHOSTUNREACH);
	CHECK_STR(why, "proxy: host unreachable");
	CHECK_INT(reply_with_code(5), -ECONNREFUSED);
	CHECK_INT(reply_with_code(6), -ETIMEDOUT);
	CHECK_INT(reply_with_code(7), -EPROTO);
	CHECK_INT(reply_with_code(8), -EPROTO);
	CHECK_INT(reply_with_code(9), -EPROTO);
	CHECK_INT(reply_with_code(0xff), -EPROTO);
}

TEST(reply_of_the_wrong_length_is_refused)
{
	uint8_t r[11] = { 5, 0, 0, 1, 127, 0, 0, 1, 0, 80, 0 };

	CHECK_INT(socks5_parse_reply(r, 11, &why), -EPROTO);
	CHECK_INT(socks5_parse_reply(r, 9, &why), -EPROTO);
	CHECK_INT(socks5_parse_reply(r, 3, &why), -EPROTO);
}

static const struct check_case cases[] = {
	TEST_ENTRY(greeting_offers_one_method),
	TEST_ENTRY(method_choice_is_checked),
	TEST_ENTRY(no_acceptable_method_is_eacces),
	TEST_ENTRY(method_not_offered_or_wrong_version_is_eproto),
	TEST_ENTRY(auth_request_layout),
	TEST_ENTRY(auth_request_lengths_are_1_to_255),
	TEST_ENTRY(auth_status),
	TEST_ENTRY(connect_sends_a_name_for_the_proxy_to_resolve),
	TEST_ENTRY(connect_sends_ip_literals_as_addresses),
	TEST_ENTRY(connect_refuses_bad_names),
	TEST_ENTRY(reply_length_by_address_type),
	TEST_ENTRY(reply_header_fields_are_checked),
	TEST_ENTRY(reply_codes_map_to_errno),
	TEST_ENTRY(reply_of_the_wrong_length_is_refused),
};

CHECK_MAIN(cases)
