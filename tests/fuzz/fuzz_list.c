/*
 * fuzz_list.c - libFuzzer target for list_parse_line() and, with the input
 * as a whole STAT reply, list_stat_file_mode().  Besides memory errors it
 * checks the promises of lsparse.h: strings point into the line, accepted
 * names are safe, and a mode is permission bits or -1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftpsfs/lsparse.h"

/* 2023-11-22 12:00:00 UTC; varied below so year inference is exercised. */
#define FUZZ_NOW_BASE ((time_t)1700654400)

static void fuzz_check_inside(const char *s, const char *buf, size_t size)
{
	if (!s)
		return;
	if (s < buf || s >= buf + size)
		abort();
	if (!memchr(s, '\0', (size_t)(buf + size - s)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	time_t now = FUZZ_NOW_BASE + (time_t)(size % 731) * 86400;
	struct ftp_entry e;
	int ret;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size && !memchr(buf, '\0', size)) {
		char *text = strndup(buf, size); /* a reply's text: a string */
		int mode = text ? list_stat_file_mode(text, "/d/f") : -1;

		if (mode < -1 || mode > 07777)
			abort();
		free(text);
	}
	ret = list_parse_line(buf, size, now, &e);
	if (ret > LSPARSE_BAD_NAME)
		abort();
	if (ret >= 0) {
		fuzz_check_inside(e.name, buf, size);
		fuzz_check_inside(e.link_target, buf, size);
		fuzz_check_inside(e.owner, buf, size);
		fuzz_check_inside(e.group, buf, size);
		if (e.unique || e.mode > 07777 || e.mtime_ns)
			abort();
	}
	if (ret == LSPARSE_ENTRY) {
		if (!e.name[0] || strlen(e.name) > 255 ||
		    strpbrk(e.name, "/\r\n") || !strcmp(e.name, ".") ||
		    !strcmp(e.name, ".."))
			abort();
		/* "Mon DD HH:MM" never lands more than a day after now */
		if (e.mtime_prec == FTP_TIME_MINUTE && e.has_mode &&
		    e.mtime > (int64_t)now + 86400)
			abort();
	}
	free(buf);
	return 0;
}
