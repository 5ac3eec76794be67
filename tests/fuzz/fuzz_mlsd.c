/*
 * fuzz_mlsd.c - libFuzzer target for mlsd_parse_line() and
 * mlst_parse_line().  Besides memory errors it checks the promises of
 * lsparse.h: strings point into the line, and accepted names are safe.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/lsparse.h"

/* @s must be a NUL-terminated string inside [buf, buf + size). */
static void fuzz_check_inside(const char *s, const char *buf, size_t size)
{
	if (!s)
		return;
	if (s < buf || s >= buf + size)
		abort();
	if (!memchr(s, '\0', (size_t)(buf + size - s)))
		abort();
}

static void fuzz_check_entry(int ret, const struct ftp_entry *e,
			     const char *buf, size_t size, bool is_mlst)
{
	if (ret < 0)
		return;
	if (ret > LSPARSE_BAD_NAME)
		abort();
	fuzz_check_inside(e->name, buf, size);
	fuzz_check_inside(e->link_target, buf, size);
	fuzz_check_inside(e->unique, buf, size);
	fuzz_check_inside(e->owner, buf, size);
	fuzz_check_inside(e->group, buf, size);
	if (e->mode > 07777 || e->mtime_ns >= 1000000000u)
		abort();
	if (ret != LSPARSE_ENTRY)
		return;
	if (!e->name || !e->name[0] || strpbrk(e->name, "\r\n"))
		abort();
	if (!is_mlst && (strlen(e->name) > 255 || strchr(e->name, '/') ||
			 !strcmp(e->name, ".") || !strcmp(e->name, "..")))
		abort();
	if (e->link_target &&
	    (!e->link_target[0] || strpbrk(e->link_target, "\r\n")))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so a read or write past @len is caught */
	char *buf = malloc(size ? size : 1);
	struct ftp_entry e;
	int ret;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	ret = mlsd_parse_line(buf, size, &e);
	fuzz_check_entry(ret, &e, buf, size, false);

	memcpy(buf, data, size);
	ret = mlst_parse_line(buf, size, &e);
	fuzz_check_entry(ret, &e, buf, size, true);
	free(buf);
	return 0;
}
