/* Unit tests for server sizes and times into struct stat (stat_clamp.h,
 * fs_entry_to_stat()): no overflow, absurd sizes saturate. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/fs.h"
#include "ftpsfs/lsparse.h"
#include "ftpsfs/stat_clamp.h"

TEST(off_max_is_two_to_the_63_minus_one)
{
	CHECK(STAT_OFF_MAX == (off_t)INT64_MAX);
	CHECK(STAT_TIME_MAX == (time_t)INT64_MAX);
}

TEST(sizes_that_fit_are_kept)
{
	off_t out = -1;

	CHECK(stat_size_from(0, &out));
	CHECK_INT(out, 0);
	CHECK(stat_size_from(5000000000ull, &out));
	CHECK_INT(out, 5000000000ll);
	CHECK(stat_size_from(INT64_MAX, &out));
	CHECK_INT(out, INT64_MAX);
}

TEST(sizes_beyond_off_max_saturate)
{
	off_t out = 0;

	CHECK(!stat_size_from((uint64_t)INT64_MAX + 1, &out));
	CHECK_INT(out, INT64_MAX);
	CHECK(!stat_size_from(UINT64_MAX, &out));
	CHECK_INT(out, INT64_MAX);
}

TEST(blocks_round_up_without_overflow)
{
	CHECK_INT(stat_blocks_of(0), 0);
	CHECK_INT(stat_blocks_of(-5), 0);
	CHECK_INT(stat_blocks_of(1), 1);
	CHECK_INT(stat_blocks_of(512), 1);
	CHECK_INT(stat_blocks_of(513), 2);
	/* (size + 511) / 512 overflows here (UBSan: signed overflow) */
	CHECK_INT(stat_blocks_of(INT64_MAX), INT64_MAX / 512 + 1);
	CHECK_INT(stat_blocks_of(INT64_MAX - 511), INT64_MAX / 512);
}

TEST(times_of_years_0_and_9999_are_kept)
{
	CHECK_INT(stat_time_from(-62167219200ll), -62167219200ll);
	CHECK_INT(stat_time_from(253402300799ll), 253402300799ll);
}

static struct ftp_entry file_of_size(uint64_t size)
{
	struct ftp_entry e = { .name = "f",
			       .type = FTP_ENTRY_FILE,
			       .has_size = true,
			       .size = size };

	return e;
}

TEST(entry_of_size_2_to_the_64_minus_1_is_shown_as_off_max)
{
	struct fs_ctx ctx = { .uid = 1, .gid = 2 };
	struct ftp_entry e = file_of_size(UINT64_MAX);
	struct stat st;

	fs_entry_to_stat(&ctx, &e, &st);
	CHECK_INT(st.st_size, INT64_MAX);
	CHECK_INT(st.st_blocks, INT64_MAX / 512 + 1);
	CHECK(S_ISREG(st.st_mode));
}

TEST(entry_of_size_off_max_has_its_blocks)
{
	struct fs_ctx ctx = { .uid = 1, .gid = 2 };
	struct ftp_entry e = file_of_size(INT64_MAX);
	struct stat st;

	fs_entry_to_stat(&ctx, &e, &st);
	CHECK_INT(st.st_size, INT64_MAX);
	CHECK_INT(st.st_blocks, INT64_MAX / 512 + 1);
}

TEST(entry_times_far_in_the_past_and_future_are_kept)
{
	struct fs_ctx ctx = { .uid = 1, .gid = 2 };
	struct ftp_entry e = file_of_size(1);
	struct stat st;

	e.mtime_prec = FTP_TIME_SECOND;
	CHECK_INT(lsparse_utc_time(0, 1, 1, 0, 0, 0, &e.mtime), 0);
	fs_entry_to_stat(&ctx, &e, &st);
	CHECK_INT(st.st_mtim.tv_sec, -62167219200ll);
	CHECK_INT(lsparse_utc_time(9999, 12, 31, 23, 59, 59, &e.mtime), 0);
	fs_entry_to_stat(&ctx, &e, &st);
	CHECK_INT(st.st_mtim.tv_sec, 253402300799ll);
}

static const struct check_case cases[] = {
	TEST_ENTRY(off_max_is_two_to_the_63_minus_one),
	TEST_ENTRY(sizes_that_fit_are_kept),
	TEST_ENTRY(sizes_beyond_off_max_saturate),
	TEST_ENTRY(blocks_round_up_without_overflow),
	TEST_ENTRY(times_of_years_0_and_9999_are_kept),
	TEST_ENTRY(entry_of_size_2_to_the_64_minus_1_is_shown_as_off_max),
	TEST_ENTRY(entry_of_size_off_max_has_its_blocks),
	TEST_ENTRY(entry_times_far_in_the_past_and_future_are_kept),
};

CHECK_MAIN(cases)
