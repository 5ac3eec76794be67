/*
 * test_httpconnect.c - HTTP CONNECT bytes (src/net/httpconnect.c): the
 * request, where the proxy's reply header ends, what its status means.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/proxy_wire.h"

static char buf[1024];
static const char *why;

TEST(request_without_credentials)
{
	int n = http_connect_request("ftp.example", false, 21, NULL, buf,
				     sizeof(buf));

	CHECK_STR(buf, "CONNECT ftp.example:21 HTTP/1.1\r\n"
		       "Host: ftp.example:21\r\n\r\n");
	CHECK_INT(n, strlen(buf));
}

TEST(request_with_basic_credentials)
{
	CHECK(http_connect_request("10.0.0.1", true, 990, "YWw6cHc=", buf,
				   sizeof(buf)) > 0);
	CHECK_STR(buf, "CONNECT 10.0.0.1:990 HTTP/1.1\r\n"
		       "Host: 10.0.0.1:990\r\n"
		       "Proxy-Authorization: Basic YWw6cHc=\r\n\r\n");
}

TEST(request_brackets_ipv6)
{
	CHECK(http_connect_request("::1", true, 2121, NULL, buf, sizeof(buf)) >
	      0);
	CHECK(strncmp(buf,
		      "CONNECT [::1]:2121 HTTP/1.1\r\nHost: [::1]:2121\r\n",
		      47) == 0);
}

TEST(request_refuses_line_breaks_and_small_buffers)
{
	CHECK_INT(http_connect_request("a\r\nX: y", false, 21, NULL, buf,
				       sizeof(buf)),
		  -EINVAL);
	CHECK_INT(
		http_connect_request("a b", false, 21, NULL, buf, sizeof(buf)),
		-EINVAL);
	CHECK_INT(
		http_connect_request("h", false, 21, "x\ny", buf, sizeof(buf)),
		-EINVAL);
	CHECK_INT(http_connect_request("h", false, 21, NULL, buf, 10), -ENOSPC);
}

static int header_end(const char *s, size_t *end)
{
	return http_connect_header_end(s, strlen(s), end, &why);
}

TEST(header_end_after_the_empty_line)
{
	const char *r = "HTTP/1.1 200 Connection established\r\n"
			"Proxy-Agent: x\r\n\r\n220 greeting\r\n";
	size_t end = 0;

	CHECK_INT(header_end(r, &end), 0);
	CHECK_INT(end, strstr(r, "220") - r);
}

TEST(header_incomplete_wants_more)
{
	size_t end = 0;

	CHECK_INT(header_end("HTTP/1.0 200 OK\r\n", &end), -EAGAIN);
	CHECK_INT(header_end("HTTP/1.0 200 OK\r\n\r", &end), -EAGAIN);
	CHECK_INT(header_end("HTT", &end), -EAGAIN);
	CHECK_INT(header_end("HTTP/1.1 2", &end), -EAGAIN);
}

TEST(header_garbage_is_eproto_early)
{
	size_t end = 0;

	CHECK_INT(header_end("220 ftp server ready\r\n", &end), -EPROTO);
	CHECK_INT(header_end("HTTP/2 200\r\n\r\n", &end), -EPROTO);
	CHECK_INT(header_end("HTTP/1.1 2x0 OK\r\n\r\n", &end), -EPROTO);
	CHECK_INT(header_end("\x05\x00", &end), -EPROTO);
	CHECK(strstr(why, "not an HTTP proxy"));
}

TEST(header_with_nul_is_eproto)
{
	static const char r[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n";
	size_t end = 0;

	CHECK_INT(http_connect_header_end(r, sizeof(r) - 1, &end, &why),
		  -EPROTO);
}

TEST(header_without_end_is_bounded)
{
	static char big[HTTP_CONNECT_REPLY_MAX];
	size_t end = 0;

	memset(big, 'x', sizeof(big));
	memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
	CHECK_INT(http_connect_header_end(big, sizeof(big) - 1, &end, &why),
		  -EAGAIN);
	CHECK_INT(http_connect_header_end(big, sizeof(big), &end, &why),
		  -E2BIG);
}

static int status_of(const char *s, bool sent_auth, int *code)
{
	return http_connect_parse_status(s, strlen(s), sent_auth, code, &why);
}

TEST(status_2xx_is_success)
{
	int code = 0;

	CHECK_INT(status_of("HTTP/1.1 200 Connection established\r\n\r\n",
			    false, &code),
		  0);
	CHECK_INT(code, 200);
	CHECK_INT(status_of("HTTP/1.0 200\r\n\r\n", false, &code), 0);
}

TEST(status_auth_failures_are_eacces)
{
	int code = 0;

	CHECK_INT(
		status_of("HTTP/1.0 407 Proxy Authentication Required\r\n\r\n",
			  true, &code),
		-EACCES);
	CHECK_STR(why, "proxy refused: authentication failed");
	CHECK_INT(status_of("HTTP/1.0 407 x\r\n\r\n", false, &code), -EACCES);
	CHECK(strstr(why, "authentication required"));
	CHECK_INT(status_of("HTTP/1.0 401 Unauthorized\r\n\r\n", true, &code),
		  -EACCES);
	CHECK_INT(status_of("HTTP/1.1 403 Forbidden\r\n\r\n", true, &code),
		  -EACCES);
}

TEST(status_server_unreachable_counts_as_refused)
{
	int code = 0;

	CHECK_INT(status_of("HTTP/1.1 500 Unable to connect\r\n\r\n", false,
			    &code),
		  -ECONNREFUSED);
	CHECK_INT(status_of("HTTP/1.1 502 Bad Gateway\r\n\r\n", false, &code),
		  -ECONNREFUSED);
	CHECK_INT(status_of("HTTP/1.1 503 x\r\n\r\n", false, &code),
		  -ECONNREFUSED);
	CHECK_INT(status_of("HTTP/1.1 504 x\r\n\r\n", false, &code),
		  -ETIMEDOUT);
}

TEST(status_other_is_eproto)
{
	int code = 0;

	CHECK_INT(status_of("HTTP/1.1 400 Bad Request\r\n\r\n", false, &code),
		  -EPROTO);
	CHECK_INT(code, 400);
	CHECK_INT(status_of("HTTP/1.1 301 Moved\r\n\r\n", false, &code),
		  -EPROTO);
	CHECK_INT(status_of("HTTP/1.1 200x\r\n\r\n", false, &code), -EPROTO);
	CHECK_INT(code, 0);
}

static const struct check_case cases[] = {
	TEST_ENTRY(request_without_credentials),
	TEST_ENTRY(request_with_basic_credentials),
	TEST_ENTRY(request_brackets_ipv6),
	TEST_ENTRY(request_refuses_line_breaks_and_small_buffers),
	TEST_ENTRY(header_end_after_the_empty_line),
	TEST_ENTRY(header_incomplete_wants_more),
	TEST_ENTRY(header_garbage_is_eproto_early),
	TEST_ENTRY(header_with_nul_is_eproto),
	TEST_ENTRY(header_without_end_is_bounded),
	TEST_ENTRY(status_2xx_is_success),
	TEST_ENTRY(status_auth_failures_are_eacces),
	TEST_ENTRY(status_server_unreachable_counts_as_refused),
	TEST_ENTRY(status_other_is_eproto),
};

CHECK_MAIN(cases)
