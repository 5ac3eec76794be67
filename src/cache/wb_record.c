/*
 * wb_record.c - the text of a write-back record (wb_journal.h): pure, no
 * I/O, unit-tested and fuzzed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ftpsfs/wb_journal.h"

#define WB_MAGIC "ftpsfs-writeback 1\n"

static const char wb_hex[] = "0123456789abcdef";

int wb_record_format(const struct wb_record *r, char *buf, size_t bufsz)
{
	size_t plen = strlen(r->path), len;
	int n;

	if (bufsz < sizeof(WB_MAGIC) + 5 + 2 * plen + 1)
		return -ENAMETOOLONG;
	len = (size_t)snprintf(buf, bufsz, "%spath=", WB_MAGIC);
	for (size_t i = 0; i < plen; i++) {
		buf[len++] = wb_hex[(unsigned char)r->path[i] >> 4];
		buf[len++] = wb_hex[(unsigned char)r->path[i] & 15];
	}
	n = snprintf(buf + len, bufsz - len,
		     "\nsize=%" PRIu64 "\nsha256=%s\nseen_known=%d\n"
		     "seen_exists=%d\nseen_size=%" PRIu64 "\n"
		     "seen_mtime=%" PRId64 "\nstarted=%d\nmode=%d\n"
		     "set_mtime=%d\nmtime=%" PRId64 "\nend\n",
		     r->size, r->sha256, r->seen_known, r->seen_exists,
		     r->seen_size, r->seen_mtime, r->started,
		     r->set_mode ? (int)(r->mode & 07777) : -1, r->set_mtime,
		     r->set_mtime ? r->mtime : 0);
	if (n < 0 || (size_t)n >= bufsz - len)
		return -ENAMETOOLONG;
	return (int)(len + (size_t)n);
}

static int wb_unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool wb_is_hex(const char *v, size_t vlen)
{
	for (size_t i = 0; i < vlen; i++)
		if (wb_unhex(v[i]) < 0)
			return false;
	return true;
}

static int wb_parse_path(const char *v, size_t vlen, struct wb_record *r)
{
	if (vlen % 2 || vlen == 0 || vlen / 2 >= sizeof(r->path))
		return -EINVAL;
	for (size_t i = 0; i < vlen; i += 2) {
		int hi = wb_unhex(v[i]), lo = wb_unhex(v[i + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -EINVAL;
		r->path[i / 2] = (char)(hi << 4 | lo);
	}
	r->path[vlen / 2] = '\0';
	/* An absolute path that can become an FTP argument (the command
	 * layer refuses CR and LF too). */
	return r->path[0] == '/' && !strpbrk(r->path, "\r\n") ? 0 : -EINVAL;
}

/* An unsigned decimal of @vlen bytes. */
static int wb_parse_u64(const char *v, size_t vlen, uint64_t *out)
{
	uint64_t x = 0;

	if (vlen == 0 || vlen > 20)
		return -EINVAL;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9' ||
		    x > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

/* A decimal with an optional minus sign. */
static int wb_parse_i64(const char *v, size_t vlen, int64_t *out)
{
	bool neg = vlen > 0 && v[0] == '-';
	uint64_t u = 0;
	int ret = wb_parse_u64(v + neg, vlen - neg, &u);

	if (ret == 0 && u > INT64_MAX)
		ret = -EINVAL;
	if (ret == 0)
		*out = neg ? -(int64_t)u : (int64_t)u;
	return ret;
}

static int wb_parse_bool(const char *v, size_t vlen, bool *out)
{
	if (vlen != 1 || (v[0] != '0' && v[0] != '1'))
		return -EINVAL;
	*out = v[0] == '1';
	return 0;
}

/* One "key=value" line; *seen gets a bit per key found. */
static int wb_parse_line(const char *l, size_t len, struct wb_record *r,
			 unsigned *seen)
{
	const char *eq = memchr(l, '=', len);
	size_t klen, vlen;
	const char *v;
	uint64_t u = 0;
	int ret = -EINVAL;

	if (!eq)
		return -EINVAL;
	klen = (size_t)(eq - l);
	v = eq + 1;
	vlen = len - klen - 1;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(l, k, klen) == 0)
	if (KEY("path")) {
		ret = wb_parse_path(v, vlen, r);
		*seen |= 1;
	} else if (KEY("size")) {
		ret = wb_parse_u64(v, vlen, &r->size);
		*seen |= 2;
	} else if (KEY("sha256")) {
		if (vlen == WB_SHA256_HEX - 1 && wb_is_hex(v, vlen)) {
			memcpy(r->sha256, v, vlen);
			r->sha256[vlen] = '\0';
			ret = 0;
		}
		*seen |= 4;
	} else if (KEY("seen_known")) {
		ret = wb_parse_bool(v, vlen, &r->seen_known);
	} else if (KEY("seen_exists")) {
		ret = wb_parse_bool(v, vlen, &r->seen_exists);
	} else if (KEY("seen_size")) {
		ret = wb_parse_u64(v, vlen, &r->seen_size);
	} else if (KEY("seen_mtime")) {
		ret = wb_parse_i64(v, vlen, &r->seen_mtime);
	} else if (KEY("set_mtime")) {
		ret = wb_parse_bool(v, vlen, &r->set_mtime);
	} else if (KEY("mtime")) {
		ret = wb_parse_i64(v, vlen, &r->mtime);
	} else if (KEY("started")) {
		ret = wb_parse_bool(v, vlen, &r->started);
	} else if (KEY("mode")) {
		r->set_mode = !(vlen == 2 && memcmp(v, "-1", 2) == 0);
		ret = r->set_mode ? wb_parse_u64(v, vlen, &u) : 0;
		if (ret == 0 && r->set_mode && u > 07777)
			ret = -EINVAL;
		r->mode = r->set_mode ? (unsigned)u : 0;
	} else {
		ret = 0; /* a key of a later version: ignored */
	}
#undef KEY
	return ret;
}

int wb_record_parse(const char *buf, size_t len, struct wb_record *r)
{
	size_t mlen = sizeof(WB_MAGIC) - 1, pos;
	unsigned seen = 0;
	bool ended = false;

	memset(r, 0, sizeof(*r));
	if (len < mlen || memcmp(buf, WB_MAGIC, mlen) != 0)
		return -EINVAL;
	for (pos = mlen; pos < len && !ended;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t llen;

		if (!nl)
			return -EINVAL; /* a record cut short */
		llen = (size_t)(nl - (buf + pos));
		if (llen == 3 && memcmp(buf + pos, "end", 3) == 0)
			ended = true;
		else if (wb_parse_line(buf + pos, llen, r, &seen) < 0)
			return -EINVAL;
		pos += llen + 1;
	}
	return ended && seen == 7 ? 0 : -EINVAL;
}
