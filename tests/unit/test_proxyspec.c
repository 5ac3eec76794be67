/*
 * test_proxyspec.c - the value of proxy= (src/opts/proxyspec.c).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/proxy.h"

static struct proxy_spec px;
static const char *msg;

static int parse(const char *text)
{
	msg = NULL;
	return proxy_spec_parse(text, &px, &msg);
}

TEST(socks5_with_user)
{
	CHECK_INT(parse("socks5://alice@proxy.example:1080"), 0);
	CHECK_INT(px.type, PROXY_SOCKS5);
	CHECK_STR(px.host, "proxy.example");
	CHECK_INT(px.port, 1080);
	CHECK_STR(px.user, "alice");
	CHECK(!px.host_is_ip);
	CHECK(px.password == NULL);
}

TEST(socks5h_is_a_synonym)
{
	CHECK_INT(parse("SOCKS5H://127.0.0.1:9050"), 0);
	CHECK_INT(px.type, PROXY_SOCKS5);
	CHECK(px.host_is_ip);
	CHECK_STR(px.user, "");
}

TEST(http_with_ipv6_and_trailing_slash)
{
	CHECK_INT(parse("http://[::1]:3128/"), 0);
	CHECK_INT(px.type, PROXY_HTTP);
	CHECK_STR(px.host, "::1");
	CHECK(px.host_is_ip);
	CHECK_INT(px.port, 3128);
}

TEST(user_is_percent_decoded)
{
	CHECK_INT(parse("http://me%40corp@p:8080"), 0);
	CHECK_STR(px.user, "me@corp");
}

TEST(password_in_url_is_refused)
{
	CHECK_INT(parse("socks5://alice:secret@p:1080"), -EINVAL);
	CHECK(strstr(msg, "password"));
	CHECK_INT(px.type, PROXY_NONE);
}

TEST(port_is_required)
{
	CHECK_INT(parse("socks5://p"), -EINVAL);
	CHECK(strstr(msg, "port"));
	CHECK_INT(parse("socks5://p:0"), -EINVAL);
	CHECK_INT(parse("socks5://p:65536"), -EINVAL);
}

TEST(unknown_schemes_are_refused)
{
	CHECK_INT(parse("https://p:443"), -EINVAL);
	CHECK(strstr(msg, "https"));
	CHECK_INT(parse("socks4://p:1080"), -EINVAL);
	CHECK_INT(parse("p:1080"), -EINVAL);
}

TEST(path_and_bad_hosts_are_refused)
{
	CHECK_INT(parse("http://p:3128/x"), -EINVAL);
	CHECK_INT(parse("http://:3128"), -EINVAL);
	CHECK_INT(parse("http://a b:3128"), -EINVAL);
	CHECK_INT(parse("http://p%0d%0a:3128"), -EINVAL);
	CHECK_INT(parse("socks5://u%0a@p:1080"), -EINVAL);
}

static const struct check_case cases[] = {
	TEST_ENTRY(socks5_with_user),
	TEST_ENTRY(socks5h_is_a_synonym),
	TEST_ENTRY(http_with_ipv6_and_trailing_slash),
	TEST_ENTRY(user_is_percent_decoded),
	TEST_ENTRY(password_in_url_is_refused),
	TEST_ENTRY(port_is_required),
	TEST_ENTRY(unknown_schemes_are_refused),
	TEST_ENTRY(path_and_bad_hosts_are_refused),
};

CHECK_MAIN(cases)
