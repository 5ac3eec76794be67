/*
 * credfile.c - parse "key=value" credentials files.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "ftpsfs/credfile.h"

struct credfile_field {
	const char *name;
	size_t offset_value, offset_has, size;
};

#define FIELD(n, v, h)                                                         \
	{                                                                      \
		n, offsetof(struct credfile, v), offsetof(struct credfile, h), \
			sizeof(((struct credfile *)0)->v)                      \
	}

static const struct credfile_field credfile_fields[] = {
	FIELD("user", user, has_user),
	FIELD("username", user, has_user),
	FIELD("password", password, has_password),
	FIELD("pass", password, has_password),
	FIELD("key_password", key_password, has_key_password),
	FIELD("proxy_password", proxy_password, has_proxy_password),
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* One non-comment line [s, e) without its newline. */
static int credfile_line(const char *s, const char *e, struct credfile *out)
{
	const char *eq = memchr(s, '=', (size_t)(e - s));
	const char *ke;

	if (!eq)
		return -EINVAL;
	ke = eq;
	while (ke > s && is_blank(ke[-1]))
		ke--;
	for (size_t i = 0;
	     i < sizeof(credfile_fields) / sizeof(credfile_fields[0]); i++) {
		const struct credfile_field *f = &credfile_fields[i];
		char *value = (char *)out + f->offset_value;
		bool *has = (bool *)((char *)out + f->offset_has);
		size_t vlen = (size_t)(e - (eq + 1));

		if (strlen(f->name) != (size_t)(ke - s) ||
		    memcmp(f->name, s, (size_t)(ke - s)) != 0)
			continue;
		if (*has)
			return -EINVAL; /* given twice */
		if (vlen >= f->size)
			return -ENAMETOOLONG;
		/* A CR inside could never be sent in a command. */
		if (memchr(eq + 1, '\r', vlen))
			return -EINVAL;
		memcpy(value, eq + 1, vlen);
		value[vlen] = '\0';
		*has = true;
		return 0;
	}
	return -EINVAL;
}

int credfile_parse(const char *text, size_t len, struct credfile *out,
		   unsigned *bad_line)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *s = p;
		int ret;

		lineno++;
		p = nl ? nl + 1 : end;
		if (memchr(s, '\0', (size_t)(e - s))) {
			*bad_line = lineno;
			return -EINVAL;
		}
		if (e > s && e[-1] == '\r')
			e--;
		while (s < e && is_blank(*s))
			s++;
		if (s == e || *s == '#')
			continue;
		ret = credfile_line(s, e, out);
		if (ret < 0) {
			*bad_line = lineno;
			return ret;
		}
	}
	return 0;
}
