/*
 * fuzz_hostspec.c - libFuzzer target for hostspec_parse().  Checks that an
 * accepted spec never yields control characters, an empty host or port 0.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/hostspec.h"

static void fuzz_check_field(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = malloc(size + 1);
	struct hostspec hs;
	const char *msg = NULL;
	int ret;

	if (!spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	ret = hostspec_parse(spec, &hs, &msg);
	if (ret < 0) {
		if ((ret != -EINVAL && ret != -ENAMETOOLONG) || !msg)
			abort();
	} else {
		size_t plen;

		if (ret != 0 || !hs.host[0] || hs.port == 0)
			abort();
		fuzz_check_field(hs.user, sizeof(hs.user));
		fuzz_check_field(hs.host, sizeof(hs.host));
		fuzz_check_field(hs.path, sizeof(hs.path));
		plen = strlen(hs.path);
		if (plen > 1 && hs.path[plen - 1] == '/')
			abort();
	}
	free(spec);
	return 0;
}
