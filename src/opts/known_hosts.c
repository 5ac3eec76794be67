/*
 * known_hosts.c - parse and format the trust-on-first-use file.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ftpsfs/known_hosts.h"

int known_hosts_key(const char *host, bool host_is_ip, uint16_t port, char *out,
		    size_t outsz)
{
	bool v6 = host_is_ip && strchr(host, ':');
	size_t o = 0, hl = strlen(host);
	int n;

	if (hl == 0)
		return -EINVAL;
	if (hl + 10 > outsz)
		return -ENAMETOOLONG;
	if (v6)
		out[o++] = '[';
	for (size_t i = 0; i < hl; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c <= ' ' || c == 0x7f)
			return -EINVAL;
		out[o++] = (char)tolower(c);
	}
	if (v6)
		out[o++] = ']';
	n = snprintf(out + o, outsz - o, ":%u", (unsigned)port);
	if (n < 0 || (size_t)n >= outsz - o)
		return -ENAMETOOLONG;
	return 0;
}

/* The next field of [*p, end) separated by blanks; its length. */
static size_t next_field(const char **p, const char *end, const char **field)
{
	const char *s = *p, *f;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	f = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*field = f;
	*p = s;
	return (size_t)(s - f);
}

int known_hosts_lookup(const char *text, size_t len, const char *key,
		       uint8_t fp[FINGERPRINT_LEN], unsigned *line)
{
	const char *p = text, *end = text + len;
	size_t klen = strlen(key);
	unsigned lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *cur = p, *host, *pin, *rest;
		size_t hl, pl;

		lineno++;
		p = nl ? nl + 1 : end;
		if (eol > cur && eol[-1] == '\r')
			eol--;
		hl = next_field(&cur, eol, &host);
		if (hl == 0 || host[0] == '#')
			continue;
		pl = next_field(&cur, eol, &pin);
		if (next_field(&cur, eol, &rest) != 0)
			continue; /* a third field: not our format */
		if (hl != klen || strncasecmp(host, key, klen) != 0)
			continue;
		if (fingerprint_parse(pin, pl, fp) < 0)
			continue;
		*line = lineno;
		return 0;
	}
	return -ENOENT;
}

int known_hosts_format_line(const char *key, const uint8_t fp[FINGERPRINT_LEN],
			    char *out, size_t outsz)
{
	char text[FINGERPRINT_TEXT_LEN + 1];
	int n;

	fingerprint_format(fp, text);
	n = snprintf(out, outsz, "%s %s\n", key, text);
	if (n < 0 || (size_t)n >= outsz)
		return -ENAMETOOLONG;
	return n;
}
