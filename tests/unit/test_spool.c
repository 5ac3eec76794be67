/* Unit tests for spool files and the upload plan. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ftpsfs/spool.h"

static char spool_dir[256];

static struct spool fake(uint64_t size, uint64_t remote, uint64_t changed)
{
	struct spool sp = { .fd = -1,
			    .size = size,
			    .remote_size = remote,
			    .changed_from = changed };

	return sp;
}

TEST(new_file_is_stored_whole)
{
	struct spool sp = fake(10, 0, 0);
	struct upload_plan p = upload_plan(&sp, false, true, false);

	CHECK_INT(p.how, UPLOAD_STOR);
	CHECK_INT(p.offset, 0);
}

TEST(unchanged_file_is_not_uploaded)
{
	struct spool sp = fake(10, 10, SPOOL_CLEAN);

	CHECK_INT(upload_plan(&sp, true, true, false).how, UPLOAD_NONE);
}

TEST(append_sends_only_the_tail)
{
	struct spool sp = fake(15, 10, 10);
	struct upload_plan p = upload_plan(&sp, true, false, false);

	CHECK_INT(p.how, UPLOAD_APPE);
	CHECK_INT(p.offset, 10);
}

TEST(growth_by_truncate_is_appended)
{
	struct spool sp = fake(20, 10, 10); /* zeros after the old end */

	CHECK_INT(upload_plan(&sp, true, true, false).how, UPLOAD_APPE);
}

TEST(change_near_end_restarts_there)
{
	struct spool sp = fake(100, 100, 90);
	struct upload_plan p = upload_plan(&sp, true, true, false);

	CHECK_INT(p.how, UPLOAD_REST_STOR);
	CHECK_INT(p.offset, 90);
}

TEST(change_without_rest_support_sends_all)
{
	struct spool sp = fake(100, 100, 90);

	CHECK_INT(upload_plan(&sp, true, false, false).how, UPLOAD_STOR);
}

TEST(shrunk_file_is_stored_whole)
{
	/* STOR after REST does not truncate: the old tail would remain. */
	struct spool sp = fake(50, 100, 50);

	CHECK_INT(upload_plan(&sp, true, true, false).how, UPLOAD_STOR);
}

TEST(atomic_upload_is_always_whole)
{
	struct spool sp = fake(15, 10, 10);

	CHECK_INT(upload_plan(&sp, true, true, true).how, UPLOAD_STOR);
}

TEST(spool_tracks_lowest_change)
{
	struct spool sp;
	char buf[8];

	CHECK_INT(spool_open(spool_dir, 0, &sp), 0);
	CHECK_INT(spool_fill(&sp, "abcdefgh", 8, 0), 0);
	spool_mark_clean(&sp);
	CHECK(sp.changed_from == SPOOL_CLEAN);
	CHECK_INT(sp.remote_size, 8);
	CHECK_INT(spool_pwrite(&sp, "XY", 2, 5), 0);
	CHECK_INT(sp.changed_from, 5);
	CHECK_INT(spool_pwrite(&sp, "Z", 1, 7), 0);
	CHECK_INT(sp.changed_from, 5);
	CHECK_INT(spool_pread(&sp, buf, sizeof(buf), 0), 8);
	CHECK(memcmp(buf, "abcdeXYZ", 8) == 0);
	spool_close(&sp);
}

TEST(spool_write_beyond_end_leaves_zero_hole)
{
	struct spool sp;
	char buf[6];

	CHECK_INT(spool_open(spool_dir, 0, &sp), 0);
	CHECK_INT(spool_pwrite(&sp, "ab", 2, 4), 0);
	CHECK_INT(sp.size, 6);
	CHECK_INT(spool_pread(&sp, buf, sizeof(buf), 0), 6);
	CHECK(memcmp(buf, "\0\0\0\0ab", 6) == 0);
	CHECK_INT(spool_pread(&sp, buf, sizeof(buf), 6), 0);
	spool_close(&sp);
}

TEST(kept_spool_outlives_its_file_under_new_names)
{
	char kept[512], kept2[512], buf[8] = { 0 };
	struct spool sp;
	FILE *f;

	CHECK_INT(spool_open(spool_dir, 0, &sp), 0);
	CHECK_INT(spool_pwrite(&sp, "unsaved", 7, 0), 0);
	CHECK_INT(spool_keep(&sp, spool_dir, "/dir/report.txt", kept,
			     sizeof(kept)),
		  0);
	CHECK_INT(spool_keep(&sp, spool_dir, "/dir/report.txt", kept2,
			     sizeof(kept2)),
		  0);
	spool_close(&sp);
	CHECK(strstr(kept, "/unsaved-") && strstr(kept, "-report.txt"));
	CHECK(strcmp(kept, kept2) != 0); /* the same second: the next number */
	f = fopen(kept, "rb");
	CHECK(f);
	CHECK_INT(fread(buf, 1, sizeof(buf), f), 7);
	fclose(f);
	CHECK(memcmp(buf, "unsaved", 7) == 0);
	CHECK_INT(unlink(kept), 0);
	CHECK_INT(unlink(kept2), 0);
}

TEST(spool_truncate_marks_change)
{
	struct spool sp;

	CHECK_INT(spool_open(spool_dir, 0, &sp), 0);
	CHECK_INT(spool_fill(&sp, "abcdefgh", 8, 0), 0);
	spool_mark_clean(&sp);
	CHECK_INT(spool_truncate(&sp, 3), 0);
	CHECK_INT(sp.changed_from, 3);
	CHECK_INT(sp.size, 3);
	CHECK_INT(upload_plan(&sp, true, true, false).how, UPLOAD_STOR);
	spool_mark_clean(&sp);
	CHECK_INT(spool_truncate(&sp, 10), 0);
	CHECK_INT(sp.changed_from, 3);
	CHECK_INT(upload_plan(&sp, true, true, false).how, UPLOAD_APPE);
	spool_close(&sp);
}

TEST(empty_spool_of_existing_file_differs_from_start)
{
	struct spool sp;

	CHECK_INT(spool_open(spool_dir, 100, &sp), 0);
	CHECK_INT(sp.changed_from, 0);
	CHECK_INT(upload_plan(&sp, true, true, false).how, UPLOAD_STOR);
	spool_close(&sp);
}

TEST(spool_dir_must_be_private)
{
	char out[512], err[512], dir[512];

	snprintf(dir, sizeof(dir), "%s/open", spool_dir);
	CHECK_INT(mkdir(dir, 0755), 0);
	CHECK_INT(spool_dir_prepare(dir, out, sizeof(out), err, sizeof(err)),
		  -EPERM);
	CHECK_INT(chmod(dir, 0700), 0);
	CHECK_INT(spool_dir_prepare(dir, out, sizeof(out), err, sizeof(err)),
		  0);
	rmdir(dir);
}

static const struct check_case cases[] = {
	TEST_ENTRY(new_file_is_stored_whole),
	TEST_ENTRY(unchanged_file_is_not_uploaded),
	TEST_ENTRY(append_sends_only_the_tail),
	TEST_ENTRY(growth_by_truncate_is_appended),
	TEST_ENTRY(change_near_end_restarts_there),
	TEST_ENTRY(change_without_rest_support_sends_all),
	TEST_ENTRY(shrunk_file_is_stored_whole),
	TEST_ENTRY(atomic_upload_is_always_whole),
	TEST_ENTRY(spool_tracks_lowest_change),
	TEST_ENTRY(spool_write_beyond_end_leaves_zero_hole),
	TEST_ENTRY(kept_spool_outlives_its_file_under_new_names),
	TEST_ENTRY(spool_truncate_marks_change),
	TEST_ENTRY(empty_spool_of_existing_file_differs_from_start),
	TEST_ENTRY(spool_dir_must_be_private),
};

int main(void)
{
	int ret;

	snprintf(spool_dir, sizeof(spool_dir), "/tmp/ftpsfs-test-spool-XXXXXX");
	if (!mkdtemp(spool_dir))
		return 2;
	ret = check_run(cases, sizeof(cases) / sizeof(cases[0]));
	rmdir(spool_dir);
	return ret;
}
