/*
 * test_symlink_policy.c - containment and transformation of symlink
 * targets (src/fs/symlink_policy.c).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/symlink_policy.h"

#define DEFAULT (SYMLINK_CONTAIN | SYMLINK_TRANSFORM)

static char out[256];

static int show(const char *root, const char *dir, const char *target,
		unsigned flags)
{
	strcpy(out, "untouched");
	return symlink_present(root, dir, target, flags, out, sizeof(out));
}

TEST(relative_target_inside_is_unchanged)
{
	CHECK_INT(show("/srv", "/srv/a", "file", DEFAULT), 0);
	CHECK_STR(out, "file");
	CHECK_INT(show("/srv", "/srv/a", "./b/../c", DEFAULT), -EPERM);
	CHECK_INT(show("/srv", "/srv/a", "./b/c", DEFAULT), 0);
	CHECK_STR(out, "./b/c");
}

TEST(leading_dotdots_up_to_the_root_are_contained)
{
	CHECK_INT(show("/srv", "/srv/a/b", "../../top", DEFAULT), 0);
	CHECK_STR(out, "../../top");
	CHECK_INT(show("/srv", "/srv/a", "..", DEFAULT), 0);
	CHECK_STR(out, "..");
}

TEST(climbing_above_the_root_is_refused)
{
	CHECK_INT(show("/srv", "/srv/a", "../../etc/passwd", DEFAULT), -EPERM);
	CHECK_INT(show("/srv", "/srv", "..", DEFAULT), -EPERM);
	CHECK_INT(show("/", "/", "../../..", DEFAULT), -EPERM);
	CHECK_STR(out, "untouched");
}

TEST(dotdot_after_a_name_is_refused)
{
	/* "a" might be a symlink to the root: ".." would then leave. */
	CHECK_INT(show("/srv", "/srv/x/y", "a/../b", DEFAULT), -EPERM);
	CHECK_INT(show("/srv", "/srv/x/y", "../a/..", DEFAULT), -EPERM);
}

TEST(dot_and_empty_components_do_not_count)
{
	CHECK_INT(show("/srv", "/srv/a", ".//.././/x", DEFAULT), 0);
	CHECK_INT(show("/srv", "/srv/a", "./../../x", DEFAULT), -EPERM);
}

TEST(absolute_target_below_root_becomes_relative)
{
	CHECK_INT(show("/srv", "/srv/a/b", "/srv/c/d", DEFAULT), 0);
	CHECK_STR(out, "../../c/d");
	CHECK_INT(show("/srv", "/srv/a", "/srv/a/f", DEFAULT), 0);
	CHECK_STR(out, "f");
	CHECK_INT(show("/srv", "/srv", "//srv//./f/", DEFAULT), 0);
	CHECK_STR(out, "f");
}

TEST(absolute_target_at_the_root_or_a_parent_dir)
{
	CHECK_INT(show("/srv", "/srv", "/srv", DEFAULT), 0);
	CHECK_STR(out, ".");
	CHECK_INT(show("/srv", "/srv/a/b", "/srv/a", DEFAULT), 0);
	CHECK_STR(out, "..");
	CHECK_INT(show("/srv", "/srv/a/b", "/srv", DEFAULT), 0);
	CHECK_STR(out, "../..");
}

TEST(chroot_root_contains_every_absolute_target)
{
	/* A chrooted login (vsftpd): "/" is the user's tree. */
	CHECK_INT(show("/", "/", "/etc/passwd", DEFAULT), 0);
	CHECK_STR(out, "etc/passwd");
	CHECK_INT(show("/", "/d", "/etc/passwd", DEFAULT), 0);
	CHECK_STR(out, "../etc/passwd");
}

TEST(absolute_target_outside_root_is_refused)
{
	CHECK_INT(show("/srv", "/srv/a", "/etc/passwd", DEFAULT), -EPERM);
	CHECK_INT(show("/srv", "/srv/a", "/srvx/f", DEFAULT), -EPERM);
	CHECK_INT(show("/srv", "/srv/a", "/srv/../etc", DEFAULT), -EPERM);
	CHECK_INT(show("/srv", "/srv/a", "/", DEFAULT), -EPERM);
}

TEST(contain_without_transform_refuses_absolute)
{
	CHECK_INT(show("/srv", "/srv/a", "/srv/a/f", SYMLINK_CONTAIN), -EPERM);
	CHECK_INT(show("/srv", "/srv/a", "f", SYMLINK_CONTAIN), 0);
}

TEST(transform_without_contain_shows_the_rest_unchanged)
{
	CHECK_INT(show("/srv", "/srv/a", "/srv/b", SYMLINK_TRANSFORM), 0);
	CHECK_STR(out, "../b");
	CHECK_INT(show("/srv", "/srv/a", "/etc/passwd", SYMLINK_TRANSFORM), 0);
	CHECK_STR(out, "/etc/passwd");
	CHECK_INT(show("/srv", "/srv/a", "../../x", SYMLINK_TRANSFORM), 0);
	CHECK_STR(out, "../../x");
}

TEST(no_flags_shows_the_server_target)
{
	CHECK_INT(show("/srv", "/srv/a", "/srv/b", 0), 0);
	CHECK_STR(out, "/srv/b");
}

TEST(empty_target_is_eio)
{
	CHECK_INT(show("/srv", "/srv", "", DEFAULT), -EIO);
}

TEST(link_dir_outside_root_is_einval)
{
	CHECK_INT(show("/srv", "/other", "f", DEFAULT), -EINVAL);
	CHECK_INT(show("/srv/a", "/srv", "f", DEFAULT), -EINVAL);
	CHECK_INT(show("/srv", "/srv/a/..", "f", DEFAULT), -EINVAL);
	CHECK_INT(show("/srv/..", "/srv/..", "f", DEFAULT), -EINVAL);
}

TEST(small_buffer_is_enametoolong)
{
	char small[4];

	CHECK_INT(symlink_present("/srv", "/srv", "abcdef", DEFAULT, small,
				  sizeof(small)),
		  -ENAMETOOLONG);
	CHECK_INT(symlink_present("/srv", "/srv/a/b/c", "/srv/x", DEFAULT,
				  small, sizeof(small)),
		  -ENAMETOOLONG);
}

static char sent[256];

static int server_target(const char *root, const char *dir, const char *target)
{
	memset(sent, 'Z', sizeof(sent));
	return symlink_server_target(root, dir, target, sent, sizeof(sent));
}

TEST(created_relative_target_is_sent_absolute)
{
	CHECK_INT(server_target("/srv", "/srv/a/b", "../f1"), 0);
	CHECK_STR(sent, "/srv/a/f1");
	CHECK_INT(server_target("/srv", "/srv/a", "f"), 0);
	CHECK_STR(sent, "/srv/a/f");
	CHECK_INT(server_target("/", "/t1/a/b", "./x/../y//z"), 0);
	CHECK_STR(sent, "/t1/a/b/y/z");
	CHECK_INT(server_target("/", "/", "x"), 0);
	CHECK_STR(sent, "/x");
	CHECK_INT(server_target("/srv", "/srv/a", ".."), 0);
	CHECK_STR(sent, "/srv");
	CHECK_INT(server_target("/", "/a", ".."), 0);
	CHECK_STR(sent, "/");
}

TEST(created_target_must_stay_in_the_mount)
{
	CHECK_INT(server_target("/srv", "/srv/a", "../../etc/passwd"), -EPERM);
	CHECK_INT(server_target("/", "/a", "../.."), -EPERM);
	CHECK_INT(server_target("/srv", "/srv", "/etc/passwd"), -EPERM);
	CHECK_INT(server_target("/srv", "/srv", ""), -EIO);
	CHECK_INT(server_target("/srv", "/other", "x"), -EINVAL);
}

TEST(created_target_round_trips_through_present)
{
	char shown[256];

	/* what the server lists back reads as what was created */
	CHECK_INT(server_target("/srv", "/srv/a/b", "../c/f"), 0);
	CHECK_INT(symlink_present("/srv", "/srv/a/b", sent, DEFAULT, shown,
				  sizeof(shown)),
		  0);
	CHECK_STR(shown, "../c/f");
}

TEST(created_target_too_long_is_enametoolong)
{
	char small[8];

	CHECK_INT(symlink_server_target("/", "/abcdef", "ghij", small,
					sizeof(small)),
		  -ENAMETOOLONG);
}

static const struct check_case cases[] = {
	TEST_ENTRY(created_relative_target_is_sent_absolute),
	TEST_ENTRY(created_target_must_stay_in_the_mount),
	TEST_ENTRY(created_target_round_trips_through_present),
	TEST_ENTRY(created_target_too_long_is_enametoolong),
	TEST_ENTRY(relative_target_inside_is_unchanged),
	TEST_ENTRY(leading_dotdots_up_to_the_root_are_contained),
	TEST_ENTRY(climbing_above_the_root_is_refused),
	TEST_ENTRY(dotdot_after_a_name_is_refused),
	TEST_ENTRY(dot_and_empty_components_do_not_count),
	TEST_ENTRY(absolute_target_below_root_becomes_relative),
	TEST_ENTRY(absolute_target_at_the_root_or_a_parent_dir),
	TEST_ENTRY(chroot_root_contains_every_absolute_target),
	TEST_ENTRY(absolute_target_outside_root_is_refused),
	TEST_ENTRY(contain_without_transform_refuses_absolute),
	TEST_ENTRY(transform_without_contain_shows_the_rest_unchanged),
	TEST_ENTRY(no_flags_shows_the_server_target),
	TEST_ENTRY(empty_target_is_eio),
	TEST_ENTRY(link_dir_outside_root_is_einval),
	TEST_ENTRY(small_buffer_is_enametoolong),
};

CHECK_MAIN(cases)
