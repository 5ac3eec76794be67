/*
 * fuzz_credfile.c - libFuzzer target for credfile_parse(): any bytes give
 * 0 or an error with the offending line, and every value found is a
 * NUL-terminated string without CR or LF.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/credfile.h"

static void check_value(const char *v, size_t size)
{
	size_t n = strnlen(v, size);

	if (n == size || memchr(v, '\r', n) || memchr(v, '\n', n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct credfile *cf = malloc(sizeof(*cf));
	unsigned bad = 0;
	int ret;

	if (!cf)
		return 0;
	ret = credfile_parse((const char *)data, size, cf, &bad);
	if (ret == 0) {
		check_value(cf->user, sizeof(cf->user));
		check_value(cf->password, sizeof(cf->password));
		check_value(cf->key_password, sizeof(cf->key_password));
	} else if ((ret != -EINVAL && ret != -ENAMETOOLONG) || bad == 0) {
		abort();
	}
	free(cf);
	return 0;
}
