/*
 * stat_clamp.h - numbers from the server into struct stat fields, without
 * overflow.
 *
 * A listing's size is an unsigned 64-bit number the server chose; off_t,
 * blkcnt_t and time_t are signed.  A size of 2^63 or more would turn
 * negative (the kernel answers stat with EIO), and rounding 2^63-1 up to
 * 512-byte blocks overflows.  These helpers saturate instead: pure,
 * header-only, unit-tested in tests/unit/test_stat_clamp.c.
 */
#ifndef FTPSFS_STAT_CLAMP_H
#define FTPSFS_STAT_CLAMP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The largest off_t, blkcnt_t and time_t (all signed, two's complement). */
#define STAT_OFF_MAX  ((off_t)(((uint64_t)1 << (sizeof(off_t) * 8 - 1)) - 1))
#define STAT_TIME_MAX ((time_t)(((uint64_t)1 << (sizeof(time_t) * 8 - 1)) - 1))
#define STAT_TIME_MIN (-STAT_TIME_MAX - 1)

/*
 * @size as an off_t in *out, STAT_OFF_MAX when it does not fit (2^63 or
 * more: not a size any file can have; some servers mean "unknown").
 * Returns true when @size fitted, false when it was clamped.
 */
static inline bool stat_size_from(uint64_t size, off_t *out)
{
	if (size > (uint64_t)STAT_OFF_MAX) {
		*out = STAT_OFF_MAX;
		return false;
	}
	*out = (off_t)size;
	return true;
}

/* 512-byte blocks holding @size bytes (rounded up; 0 for size <= 0),
 * without the overflow of (size + 511) / 512 near STAT_OFF_MAX. */
static inline blkcnt_t stat_blocks_of(off_t size)
{
	if (size <= 0)
		return 0;
	return (blkcnt_t)(size / 512 + (size % 512 != 0));
}

/* Seconds @t as a time_t, saturated where time_t is narrower (32-bit
 * time_t: listings and MDTM give years 0 to 9999). */
static inline time_t stat_time_from(int64_t t)
{
	if (sizeof(time_t) < sizeof(int64_t)) {
		if (t > (int64_t)STAT_TIME_MAX)
			return STAT_TIME_MAX;
		if (t < (int64_t)STAT_TIME_MIN)
			return STAT_TIME_MIN;
	}
	return (time_t)t;
}

#endif
