/*
 * path.c - a remote directory and a name joined into one path (path.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/path.h"

/* The separator between @dir and @name: none after the root's own '/'
 * and none before an empty name (the directory itself). */
static const char *path_sep(const char *dir, const char *name)
{
	return strcmp(dir, "/") != 0 && name[0] ? "/" : "";
}

int path_join(char *out, size_t outsz, const char *dir, const char *name)
{
	int n = snprintf(out, outsz, "%s%s%s", dir, path_sep(dir, name), name);

	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

char *path_join_new(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *out = malloc(len);

	if (out)
		(void)path_join(out, len, dir, name);
	return out;
}
