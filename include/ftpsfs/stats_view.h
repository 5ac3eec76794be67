/*
 * stats_view.h - `ftpsfs --stats MOUNTPOINT [SECONDS]`: the mount's
 * statistics (stats.h, read through the user.ftpsfs.stats attribute) as
 * one line of rates per interval, like vmstat (stats_view.c).
 */
#ifndef FTPSFS_STATS_VIEW_H
#define FTPSFS_STATS_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What one reading of the attribute holds that the view shows. */
struct stats_sample {
	uint64_t ops, bytes_in, bytes_out, round_trips, retries, errors;
	unsigned busy, idle, uploads_pending;
	bool server_down;
};

/*
 * Parse the attribute's "name=value" lines (@len bytes of @text, not
 * necessarily terminated) into *s.  Returns 0, or -EINVAL when it is not
 * the statistics of an ftpsfs mount (no op_ or connection lines).
 */
int stats_view_parse(const char *text, size_t len, struct stats_sample *s);

/* The header (two lines), and one line of rates from @a to @b, @secs
 * apart, into @out. */
void stats_view_header(FILE *out);
void stats_view_line(FILE *out, const struct stats_sample *a,
		     const struct stats_sample *b, double secs);

/* The command: @argc/@argv after "--stats".  Returns the exit status: 0
 * (interrupted, or the mount went away), 1 (usage, not a mount). */
int stats_view_main(const char *progname, int argc, char **argv);

#endif
