/*
 * fuzz_proxy.c - libFuzzer target for the proxy handshake checks
 * (src/net/socks5.c, src/net/httpconnect.c) and proxy= (proxyspec.c).
 * The first byte picks the parser; the rest is what the proxy (or the
 * command line) sent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/proxy.h"
#include "ftpsfs/proxy_wire.h"

static void fuzz_socks5(const uint8_t *d, size_t n)
{
	const char *why = NULL;
	uint8_t method;
	size_t len = 0;

	if (n >= 2) {
		(void)socks5_parse_method(d, n & 1, &method, &why);
		(void)socks5_parse_auth(d, &why);
	}
	if (n >= SOCKS5_REPLY_HEAD && socks5_reply_length(d, &len, &why) == 0) {
		if (len < SOCKS5_REPLY_HEAD || len > SOCKS5_REPLY_MAX)
			abort();
		why = NULL;
		if (len <= n && socks5_parse_reply(d, len, &why) < 0 && !why)
			abort();
	}
}

static void fuzz_http(const uint8_t *d, size_t n)
{
	const char *why = NULL;
	size_t end = 0;
	int status, ret;

	if (n > HTTP_CONNECT_REPLY_MAX)
		n = HTTP_CONNECT_REPLY_MAX;
	ret = http_connect_header_end((const char *)d, n, &end, &why);
	if (ret == 0) {
		if (end > n || end < 4)
			abort();
		(void)http_connect_parse_status((const char *)d, end, true,
						&status, &why);
	} else if (ret != -EAGAIN && ret != -EPROTO && ret != -E2BIG) {
		abort();
	}
}

static void fuzz_spec(const uint8_t *d, size_t n)
{
	struct proxy_spec px;
	const char *msg = NULL;
	char *text = malloc(n + 1);

	if (!text)
		return;
	memcpy(text, d, n);
	text[n] = '\0';
	if (proxy_spec_parse(text, &px, &msg) == 0 &&
	    (px.type == PROXY_NONE || px.port == 0 || !px.host[0]))
		abort();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_socks5(data + 1, size - 1);
		break;
	case 1:
		fuzz_http(data + 1, size - 1);
		break;
	default:
		fuzz_spec(data + 1, size - 1);
		break;
	}
	return 0;
}
