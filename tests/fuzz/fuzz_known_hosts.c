/*
 * fuzz_known_hosts.c - libFuzzer target for known_hosts_lookup() and
 * fingerprint_parse().  The first byte picks the key looked up; the rest
 * is the file's text.  A found pin must print and parse back to itself.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/known_hosts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "host:21", "[::1]:990",
					    "ftp.example.com:2121", "h:1" };
	char text[FINGERPRINT_TEXT_LEN + 1], line[400];
	uint8_t fp[FINGERPRINT_LEN], back[FINGERPRINT_LEN];
	unsigned lineno = 0;
	char *copy;
	int ret;

	if (size == 0)
		return 0;
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	/* The same bytes as a fingerprint on its own. */
	(void)fingerprint_parse(copy, size - 1, fp);
	ret = known_hosts_lookup(copy, size - 1, keys[data[0] % 4], fp,
				 &lineno);
	if (ret != 0 && ret != -ENOENT)
		abort();
	if (ret == 0) {
		if (lineno == 0)
			abort();
		fingerprint_format(fp, text);
		if (fingerprint_parse(text, strlen(text), back) != 0 ||
		    memcmp(fp, back, sizeof(fp)) != 0)
			abort();
		if (known_hosts_format_line(keys[data[0] % 4], fp, line,
					    sizeof(line)) < 0)
			abort();
	}
	free(copy);
	return 0;
}
