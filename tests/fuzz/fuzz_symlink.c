/*
 * fuzz_symlink.c - libFuzzer target for symlink_present() and
 * symlink_server_target().
 *
 * Input: a flags byte, then root, link directory and target separated by
 * NUL bytes.  Whatever the input, a target shown under SYMLINK_CONTAIN
 * must stay inside the mount when the kernel resolves it from the link's
 * directory: relative, ".." only in front, and no more of them than the
 * directory's depth below the root.  A target sent for a new link must
 * be absolute, free of "." and "..", and at or below the root.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/symlink_policy.h"

/* Components of @p, skipping "" and "."; counts names and ".." in front. */
static bool shape(const char *p, size_t *leading_up, size_t *names)
{
	bool seen_name = false;

	*leading_up = *names = 0;
	while (*p) {
		const char *c;
		size_t n;

		while (*p == '/')
			p++;
		c = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (seen_name)
				return false;
			(*leading_up)++;
		} else {
			seen_name = true;
			(*names)++;
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *root, *dir, *target, *end;
	char out[512];
	size_t root_up, root_names, dir_up, dir_names, up, names;
	unsigned flags;
	int ret;

	if (size < 1)
		return 0;
	flags = data[0] & 3;
	buf = malloc(size + 3);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	memset(buf + size - 1, 0, 4);
	root = buf;
	end = buf + size - 1;
	dir = root + strlen(root) + 1;
	target = dir <= end ? dir + strlen(dir) + 1 : end;
	if (dir > end)
		dir = end;
	if (target > end)
		target = end;
	ret = symlink_present(root, dir, target, flags, out, sizeof(out));
	if (ret != 0 && ret != -EPERM && ret != -EIO && ret != -EINVAL &&
	    ret != -ENAMETOOLONG)
		abort();
	if (ret == 0 && strnlen(out, sizeof(out)) == sizeof(out))
		abort();
	if (ret == 0 && (flags & SYMLINK_CONTAIN)) {
		(void)shape(root, &root_up, &root_names);
		(void)shape(dir, &dir_up, &dir_names);
		if (out[0] == '/' || !shape(out, &up, &names) ||
		    up > dir_names - root_names)
			abort();
	}
	ret = symlink_server_target(root, dir, target, out, sizeof(out));
	if (ret != 0 && ret != -EPERM && ret != -EIO && ret != -EINVAL &&
	    ret != -ENAMETOOLONG)
		abort();
	if (ret == 0) {
		(void)shape(root, &root_up, &root_names);
		if (out[0] != '/' || strstr(out, "/./") ||
		    strstr(out, "/../") || !shape(out, &up, &names) ||
		    up != 0 || names < root_names)
			abort();
	}
	free(buf);
	return 0;
}
