/*
 * list_tz.c - the offset of a server's LIST times from UTC, from files
 * whose exact time MDTM tells (see list_tz.h).
 */
#include <errno.h>
#include <stdbool.h>

#include "ftpsfs/list_tz.h"

/*
 * The offset one sample implies, or false.  list = floor((mdtm + off) /
 * 60) * 60, so list - mdtm lies in (off - 60, off]: round up to the next
 * quarter hour and check the rest.
 */
static bool list_tz_one(const struct list_tz_sample *s, int *off)
{
	int64_t diff = s->list_time - s->mdtm_time;
	int64_t q = diff >= 0 ? (diff + LIST_TZ_STEP - 1) / LIST_TZ_STEP
			      : -(-diff / LIST_TZ_STEP);

	q *= LIST_TZ_STEP;
	if (q - diff >= 60 || q > LIST_TZ_MAX || q < -LIST_TZ_MAX)
		return false;
	*off = (int)q;
	return true;
}

int list_tz_detect(const struct list_tz_sample *s, size_t n, time_t now,
		   int *offset)
{
	bool found = false;
	int off = 0, one;

	for (size_t i = 0; i < n; i++) {
		int64_t age = (int64_t)now - s[i].mdtm_time;

		if (age > LIST_TZ_RECENT || age < -LIST_TZ_RECENT)
			continue;
		if (!list_tz_one(&s[i], &one))
			return -EINVAL;
		if (found && one != off)
			return -EINVAL;
		off = one;
		found = true;
	}
	if (!found)
		return -ENOENT;
	*offset = off;
	return 0;
}
