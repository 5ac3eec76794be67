/*
 * list_tz.h - the time zone of a server's LIST output.
 *
 * LIST shows times in the server's local zone (ls -l), while MDTM answers
 * in UTC (RFC 3659 section 3).  A server in UTC+2 lists a file changed at
 * 10:30 UTC as "12:30"; ftpsfs reads LIST times as UTC, so everything only
 * LIST dates (directories, files MDTM does not answer for) would be two
 * hours off.  Comparing the LIST time of files with their MDTM time gives
 * the offset.  Pure functions: no I/O, no globals.
 */
#ifndef FTPSFS_LIST_TZ_H
#define FTPSFS_LIST_TZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One file seen both ways: its LIST time read as UTC, and MDTM's. */
struct list_tz_sample {
	int64_t list_time;
	int64_t mdtm_time;
};

/* Zones are whole quarter hours, within UTC-14..UTC+14. */
#define LIST_TZ_STEP 900
#define LIST_TZ_MAX  (14 * 3600)

/* ls shows "Mon DD HH:MM" for files younger than six months; stay well
 * inside that, so that no day-precision time is taken for one. */
#define LIST_TZ_RECENT (150 * 86400)

/*
 * The server's LIST offset from UTC in seconds (LIST time = UTC + offset),
 * from @n samples; @now bounds which samples can be used: only files
 * changed within the last 150 days, which ls shows to the minute (older
 * ones only to the day).  A usable sample's LIST time is its MDTM time plus
 * the offset, cut to the minute.  Returns 0 and *offset when at least one
 * sample is usable and all usable samples agree; -ENOENT when none is
 * usable; -EINVAL when they disagree or fit no zone (then LIST times are
 * left as they are).
 */
int list_tz_detect(const struct list_tz_sample *s, size_t n, time_t now,
		   int *offset);

#endif
