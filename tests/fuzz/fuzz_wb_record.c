/*
 * fuzz_wb_record.c - libFuzzer target for wb_record_parse(): any bytes
 * parse or are refused; what parses formats back to text that parses to
 * the same record.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/wb_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[WB_RECORD_MAX];
	static struct wb_record r, back;
	int len, ret = wb_record_parse((const char *)data, size, &r);

	if (ret == -EINVAL)
		return 0;
	if (ret != 0 || r.path[0] != '/' || strpbrk(r.path, "\r\n"))
		abort();
	len = wb_record_format(&r, text, sizeof(text));
	if (len < 0 || wb_record_parse(text, (size_t)len, &back) != 0 ||
	    strcmp(back.path, r.path) != 0 || back.size != r.size ||
	    strcmp(back.sha256, r.sha256) != 0 || back.started != r.started ||
	    back.set_mode != r.set_mode || back.mode != r.mode ||
	    back.set_mtime != r.set_mtime ||
	    (r.set_mtime && back.mtime != r.mtime) ||
	    back.seen_mtime != r.seen_mtime)
		abort();
	return 0;
}
