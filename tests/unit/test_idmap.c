/*
 * test_idmap.c - uidfile=/gidfile= lines and lookups (src/opts/idmap.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ftpsfs/idmap.h"

TEST(a_line_is_name_colon_id_with_spaces_allowed)
{
	char name[64];
	uint32_t id = 0;

	CHECK_INT(idmap_parse_line("alice:1000\n", name, sizeof(name), &id), 1);
	CHECK_STR(name, "alice");
	CHECK_INT(id, 1000);
	CHECK_INT(idmap_parse_line("  bob smith : 7 \r\n", name, sizeof(name),
				   &id),
		  1);
	CHECK_STR(name, "bob smith");
	CHECK_INT(id, 7);
	/* the last ':' splits: names may hold one (domain\user:...) */
	CHECK_INT(idmap_parse_line("a:b:0", name, sizeof(name), &id), 1);
	CHECK_STR(name, "a:b");
	CHECK_INT(id, 0);
}

TEST(comments_and_blank_lines_are_nothing)
{
	char name[64];
	uint32_t id;

	CHECK_INT(idmap_parse_line("# owner:uid\n", name, sizeof(name), &id),
		  0);
	CHECK_INT(idmap_parse_line("   \n", name, sizeof(name), &id), 0);
	CHECK_INT(idmap_parse_line("", name, sizeof(name), &id), 0);
}

TEST(bad_lines_are_refused)
{
	const char *bad[] = { "alice",
			      "alice:",
			      ":1000",
			      "alice:-1",
			      "alice:1x",
			      "alice:4294967295",
			      "alice:99999999999",
			      NULL };
	char name[64];
	uint32_t id;

	for (int i = 0; bad[i]; i++)
		CHECK_INT(idmap_parse_line(bad[i], name, sizeof(name), &id),
			  -EINVAL);
	CHECK_INT(idmap_parse_line("muchtoolongname:1", name, 8, &id), -EINVAL);
}

TEST(the_file_comes_first_then_the_system_then_nothing)
{
	char path[] = "/tmp/test_idmap_XXXXXX", err[256] = "";
	struct idmap *m = NULL;
	int fd = mkstemp(path);
	uid_t uid = 1;
	gid_t gid = 1;
	FILE *f;

	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	fputs("root:4242\n1000:77\nroot:4343\n", f); /* the last line wins */
	fclose(f);
	CHECK_INT(idmap_new(path, NULL, &m, err, sizeof(err)), 0);
	unlink(path);
	CHECK(idmap_uid(m, "root", &uid) && uid == 4343);
	CHECK(idmap_uid(m, "1000", &uid) && uid == 77);
	/* not in the file: the system's accounts ("root" is group 0) */
	CHECK(idmap_gid(m, "root", &gid) && gid == 0);
	CHECK(!idmap_uid(m, "no-such-user-ftpsfs", &uid));
	CHECK(!idmap_uid(m, "no-such-user-ftpsfs", &uid)); /* cached miss */
	CHECK(!idmap_uid(m, NULL, &uid));
	CHECK(!idmap_uid(NULL, "root", &uid));
	idmap_free(m);
}

TEST(a_bad_file_says_where)
{
	char path[] = "/tmp/test_idmap_XXXXXX", err[256] = "";
	struct idmap *m = NULL;
	int fd = mkstemp(path);
	FILE *f;

	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	fputs("alice:1\n\nbob\n", f);
	fclose(f);
	CHECK_INT(idmap_new(NULL, path, &m, err, sizeof(err)), -EINVAL);
	unlink(path);
	CHECK(strstr(err, "line 3") != NULL);
	CHECK_INT(idmap_new("/nonexistent/uids", NULL, &m, err, sizeof(err)),
		  -ENOENT);
	CHECK(strstr(err, "/nonexistent/uids") != NULL);
}

static const struct check_case cases[] = {
	TEST_ENTRY(a_line_is_name_colon_id_with_spaces_allowed),
	TEST_ENTRY(comments_and_blank_lines_are_nothing),
	TEST_ENTRY(bad_lines_are_refused),
	TEST_ENTRY(the_file_comes_first_then_the_system_then_nothing),
	TEST_ENTRY(a_bad_file_says_where),
};

CHECK_MAIN(cases)
