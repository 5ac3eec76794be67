/* Unit tests for list_tz.c: the server's LIST time zone from MDTM. */
#include <errno.h>

#include "check.h"
#include "ftpsfs/list_tz.h"

#define NOW INT64_C(1800000000)
#define T   (NOW - 3 * 86400) /* a recent file's MDTM time, second-exact */

/* What a server in zone @off lists for a file changed at @t (UTC): the
 * local time, cut to the minute. */
static int64_t listed(int64_t t, int off)
{
	return (t + off) / 60 * 60;
}

TEST(utc_server_has_offset_zero)
{
	struct list_tz_sample s[] = { { listed(T + 37, 0), T + 37 } };
	int off = 99;

	CHECK_INT(list_tz_detect(s, 1, NOW, &off), 0);
	CHECK_INT(off, 0);
}

TEST(east_and_west_of_utc)
{
	static const int zones[] = { 7200,
				     -5 * 3600,
				     19800 /* +05:30 */,
				     20700 /* +05:45 */,
				     -9 * 3600 - 1800,
				     14 * 3600,
				     -12 * 3600 };

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		for (int sec = 0; sec < 60; sec += 59) {
			struct list_tz_sample s = { listed(T + sec, zones[i]),
						    T + sec };
			int off = 0;

			CHECK_INT(list_tz_detect(&s, 1, NOW, &off), 0);
			CHECK_INT(off, zones[i]);
		}
	}
}

TEST(all_samples_must_agree)
{
	struct list_tz_sample s[] = { { listed(T, 3600), T },
				      { listed(T + 100, 7200), T + 100 } };
	int off = 0;

	CHECK_INT(list_tz_detect(s, 2, NOW, &off), -EINVAL);
}

TEST(old_files_listed_by_day_are_not_used)
{
	int64_t old = NOW - 400 * 86400;
	/* "Jan 01  2024": midnight, nothing to learn from */
	struct list_tz_sample s[] = { { old / 86400 * 86400, old } };
	int off = 0;

	CHECK_INT(list_tz_detect(s, 1, NOW, &off), -ENOENT);
	CHECK_INT(list_tz_detect(s, 0, NOW, &off), -ENOENT);
}

TEST(a_time_that_fits_no_zone_is_refused)
{
	/* 7 minutes off: no quarter hour explains it (a file changed between
	 * the listing and MDTM) */
	struct list_tz_sample s[] = { { listed(T, 0) + 420, T } };
	/* more than 14 hours */
	struct list_tz_sample far[] = { { listed(T, 15 * 3600), T } };
	int off = 0;

	CHECK_INT(list_tz_detect(s, 1, NOW, &off), -EINVAL);
	CHECK_INT(list_tz_detect(far, 1, NOW, &off), -EINVAL);
}

static const struct check_case cases[] = {
	TEST_ENTRY(utc_server_has_offset_zero),
	TEST_ENTRY(east_and_west_of_utc),
	TEST_ENTRY(all_samples_must_agree),
	TEST_ENTRY(old_files_listed_by_day_are_not_used),
	TEST_ENTRY(a_time_that_fits_no_zone_is_refused),
};

CHECK_MAIN(cases)
