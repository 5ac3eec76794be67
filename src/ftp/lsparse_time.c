/*
 * lsparse_time.c - civil UTC date to seconds since the epoch.
 *
 * Listing times must not depend on the process's TZ or locale, and timegm()
 * is not in C11, so the conversion is done by hand: count days from
 * 1970-01-01 in the proleptic Gregorian calendar, using 400-year eras
 * (146097 days each) so the arithmetic stays exact for any year.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "ftpsfs/lsparse.h"

#define LSPARSE_YEAR_MIN 0
#define LSPARSE_YEAR_MAX 9999

static bool listing_is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int listing_days_in_month(int year, int month)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30,
						31, 31, 30, 31, 30, 31 };

	if (month == 2 && listing_is_leap(year))
		return 29;
	return days[month - 1];
}

/*
 * Days since 1970-01-01.  Shifting the year to start in March puts the leap
 * day last, so the day of the year is a linear function of the month.
 */
static int64_t listing_days_from_civil(int year, int month, int day)
{
	int64_t y = (int64_t)year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;			     /* 0..399 */
	int64_t mp = (month + 9) % 12;			     /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + (day - 1);	     /* 0..365 */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */

	/* 719468 = days from 0000-03-01 to 1970-01-01 */
	return era * 146097 + doe - 719468;
}

int lsparse_utc_time(int year, int month, int day, int hour, int min, int sec,
		     int64_t *out)
{
	if (year < LSPARSE_YEAR_MIN || year > LSPARSE_YEAR_MAX)
		return -EINVAL;
	if (month < 1 || month > 12)
		return -EINVAL;
	if (day < 1 || day > listing_days_in_month(year, month))
		return -EINVAL;
	/* sec 60: a leap second (RFC 3659 section 2.3 allows it) */
	if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
		return -EINVAL;

	*out = listing_days_from_civil(year, month, day) * 86400 + hour * 3600 +
	       min * 60 + sec;
	return 0;
}
