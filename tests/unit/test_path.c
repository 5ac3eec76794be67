/* Unit tests for path.c: a remote directory and a name joined. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "ftpsfs/path.h"

TEST(one_slash_between_directory_and_name)
{
	char out[64];

	CHECK_INT(path_join(out, sizeof(out), "/srv/data", "a.txt"), 0);
	CHECK_STR(out, "/srv/data/a.txt");
}

TEST(no_second_slash_after_the_root)
{
	char out[64];

	CHECK_INT(path_join(out, sizeof(out), "/", "a.txt"), 0);
	CHECK_STR(out, "/a.txt");
}

TEST(an_empty_name_is_the_directory_itself)
{
	char out[64];

	CHECK_INT(path_join(out, sizeof(out), "/srv", ""), 0);
	CHECK_STR(out, "/srv");
	CHECK_INT(path_join(out, sizeof(out), "/", ""), 0);
	CHECK_STR(out, "/");
}

TEST(a_relative_name_may_hold_slashes)
{
	char out[64];

	/* ftp_resolve_root(): the login directory and a relative path */
	CHECK_INT(path_join(out, sizeof(out), "/home/u", "web/site"), 0);
	CHECK_STR(out, "/home/u/web/site");
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
	int ok = p && q && strcmp(p, "/d/name") == 0 &&
		 strcmp(q, "/name") == 0;

	free(p);
	free(q);
	CHECK(ok);
}

static const struct check_case cases[] = {
	TEST_ENTRY(one_slash_between_directory_and_name),
	TEST_ENTRY(no_second_slash_after_the_root),
	TEST_ENTRY(an_empty_name_is_the_directory_itself),
	TEST_ENTRY(a_relative_name_may_hold_slashes),
	TEST_ENTRY(too_long_is_refused_exactly_at_the_limit),
	TEST_ENTRY(new_string_is_joined_the_same_way),
};

CHECK_MAIN(cases)
