/*
 * proxyspec.c - parse proxy=: a scheme, then a URL authority with the
 * remote argument's rules (hostspec_parse_authority()).  Pure.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "ftpsfs/proxy.h"

/* Long enough for a user and a host at their maximum, percent-encoded. */
#define PROXY_SPEC_MAX 2048

static int proxy_fail(const char **msg, const char *text, int err)
{
	*msg = text;
	return err;
}

const char *proxy_type_name(enum proxy_type type)
{
	return type == PROXY_SOCKS5 ? "socks5"
	       : type == PROXY_HTTP ? "http"
				    : "none";
}

/* The scheme before "://": its type and the length of "scheme://". */
static int proxy_scheme(const char *text, enum proxy_type *type, size_t *skip)
{
	static const struct {
		const char *prefix;
		enum proxy_type type;
	} schemes[] = {
		{ "socks5://", PROXY_SOCKS5 },
		{ "socks5h://", PROXY_SOCKS5 }, /* curl's name: same for us */
		{ "http://", PROXY_HTTP },
	};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].prefix);

		if (strncasecmp(text, schemes[i].prefix, n) == 0) {
			*type = schemes[i].type;
			*skip = n;
			return 0;
		}
	}
	return -EINVAL;
}

int proxy_spec_parse(const char *text, struct proxy_spec *out,
		     const char **errmsg)
{
	const char *msg = "invalid proxy=", *auth, *at;
	struct hostspec hs;
	size_t len = strnlen(text, PROXY_SPEC_MAX + 1), skip = 0, auth_len;
	int ret;

	memset(out, 0, sizeof(*out));
	if (len > PROXY_SPEC_MAX) {
		ret = proxy_fail(&msg, "proxy= too long", -ENAMETOOLONG);
		goto out;
	}
	ret = proxy_scheme(text, &out->type, &skip);
	if (ret < 0) {
		msg = strstr(text, "https://") == text
			      ? "proxy=https:// is not supported (TLS to the "
				"proxy): use http:// or socks5://"
			      : "proxy= must start with socks5://, socks5h:// "
				"or http://";
		goto out;
	}
	auth = text + skip;
	auth_len = len - skip;
	if (auth_len > 0 && auth[auth_len - 1] == '/')
		auth_len--; /* "http://proxy:3128/" as browsers write it */
	if (memchr(auth, '/', auth_len)) {
		ret = proxy_fail(&msg, "proxy= takes no path", -EINVAL);
		goto out;
	}
	at = memchr(auth, '@', auth_len);
	if (at && memchr(auth, ':', (size_t)(at - auth))) {
		ret = proxy_fail(&msg,
				 "a password in proxy= is refused: "
				 "passwords never go on the command "
				 "line (see PROXIES in ftpsfs(1))",
				 -EINVAL);
		goto out;
	}
	ret = hostspec_parse_authority(auth, auth_len, &hs, &msg);
	if (ret < 0)
		goto out;
	if (hs.port == 0) {
		ret = proxy_fail(&msg,
				 "proxy= needs a port (socks5://host:1080, "
				 "http://host:3128)",
				 -EINVAL);
		goto out;
	}
	/* A user fits RFC 1929's 255 bytes: HOSTSPEC_USER_MAX is 255. */
	memcpy(out->host, hs.host, sizeof(out->host));
	memcpy(out->user, hs.user, sizeof(out->user));
	out->host_is_ip = hs.host_is_ip;
	out->port = hs.port;
out:
	if (ret < 0) {
		out->type = PROXY_NONE;
		if (errmsg)
			*errmsg = msg;
	}
	return ret;
}
