/* Unit tests for path.c: a remote directory and a name joined. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "ftpsfs/path.h"

/* (directory, name, expected) */
static const char *const joins[][3] = {
	{ "/srv/data", "a.txt", "/srv/data/a.txt" }, /* one slash between */
	{ "/", "a.txt", "/a.txt" },		     /* none after the root */
	{ "/srv", "", "/srv" }, /* an empty name: the directory itself */
	{ "/", "", "/" },
	/* ftp_resolve_root(): the login directory and a relative path */
	{ "/home/u", "web/site", "/home/u/web/site" },
};

TEST(joined_with_exactly_one_slash)
{
	char out[64];

	for (size_t i = 0; i < sizeof(joins) / sizeof(joins[0]); i++) {
		CHECK_INT(path_join(out, sizeof(out), joins[i][0], joins[i][1]),
			  0);
		CHECK_STR(out, joins[i][2]);
	}
}

TEST(too_long_is_refused_exactly_at_the_limit)
{
	char out[8];

	/* "/ab/cde" is 7 bytes and its NUL the 8th: fits */
	CHECK_INT(path_join(out, sizeof(out), "/ab", "cde"), 0);
	CHECK_STR(out, "/ab/cde");
	CHECK_INT(path_join(out, sizeof(out), "/ab", "cdef"), -ENAMETOOLONG);
	CHECK_INT(path_join(out, sizeof(out), "/abcdefgh", ""), -ENAMETOOLONG);
}

TEST(new_string_is_joined_the_same_way)
{
	char *p = path_join_new("/d", "name");
	char *q = path_join_new("/", "name");
	int ok = p && q && strcmp(p, "/d/name") == 0 && strcmp(q, "/name") == 0;

	free(p);
	free(q);
	CHECK(ok);
}

static const struct check_case cases[] = {
	TEST_ENTRY(joined_with_exactly_one_slash),
	TEST_ENTRY(too_long_is_refused_exactly_at_the_limit),
	TEST_ENTRY(new_string_is_joined_the_same_way),
};

CHECK_MAIN(cases)
