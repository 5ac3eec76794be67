/*
 * stats_view.c - `ftpsfs --stats MOUNTPOINT [SECONDS]`.
 *
 * The mount keeps counters that only go up (stats.h); a person watching
 * it wants rates, at a glance, the way vmstat and iostat show them.  Each
 * interval the attribute user.ftpsfs.stats is read again and the change
 * divided by the time between the readings; gauges (connections, uploads
 * pending) are shown as they are.  A header line every STATS_VIEW_HEADER
 * lines keeps the columns readable in a scrolling terminal.  The reading
 * is getxattr(2) on the mount point: nothing needs the server, and no
 * privilege beyond reaching the mount point.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>

#include "ftpsfs/stats_view.h"

#define STATS_VIEW_XATTR  "user.ftpsfs.stats"
#define STATS_VIEW_HEADER 20	    /* lines between headers */
#define STATS_VIEW_MAX	  (1 << 20) /* the attribute is ~2 KiB; a bound */

static volatile sig_atomic_t view_stop;

static void view_on_signal(int sig)
{
	(void)sig;
	view_stop = 1;
}

/* The decimal number of @n bytes at @p, or -1. */
static long long view_number(const char *p, size_t n)
{
	long long v = 0;

	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* The value of "name=" at the start of @line (@n bytes), or -1. */
static long long view_value(const char *line, size_t n, const char *name)
{
	size_t l = strlen(name);

	if (n <= l || memcmp(line, name, l) != 0 || line[l] != '=')
		return -1;
	return view_number(line + l + 1, n - l - 1);
}

/* Add what @line says to *s; true if it is a line the view knows. */
static bool view_line(const char *line, size_t n, struct stats_sample *s)
{
	static const char *const errors[] = { "errors_refused",
					      "errors_transport",
					      "errors_timeout",
					      "errors_local" };
	const char *eq = memchr(line, '=', n);
	long long v;

	if (n == 17 && memcmp(line, "server_state=down", 17) == 0) {
		s->server_down = true;
		return true;
	}
	/* op_NAME=N counts operations; op_NAME_round_trips and _errors are
	 * not operations, and background work is not the user's. */
	if (eq && n > 3 && memcmp(line, "op_", 3) == 0 &&
	    !memmem(line, (size_t)(eq - line), "_round_trips", 12) &&
	    !memmem(line, (size_t)(eq - line), "_errors", 7) &&
	    !memmem(line, (size_t)(eq - line), "background", 10)) {
		v = view_number(eq + 1, n - (size_t)(eq + 1 - line));
		s->ops += (uint64_t)(v > 0 ? v : 0);
		return v >= 0;
	}
	if ((v = view_value(line, n, "bytes_read")) >= 0)
		s->bytes_in = (uint64_t)v;
	else if ((v = view_value(line, n, "bytes_written")) >= 0)
		s->bytes_out = (uint64_t)v;
	else if ((v = view_value(line, n, "round_trips")) >= 0)
		s->round_trips = (uint64_t)v;
	else if ((v = view_value(line, n, "retries")) >= 0)
		s->retries = (uint64_t)v;
	else if ((v = view_value(line, n, "connections_busy")) >= 0)
		s->busy = (unsigned)v;
	else if ((v = view_value(line, n, "connections_idle")) >= 0)
		s->idle = (unsigned)v;
	else if ((v = view_value(line, n, "uploads_pending")) >= 0)
		s->uploads_pending = (unsigned)v;
	else {
		for (size_t i = 0; i < sizeof(errors) / sizeof(*errors); i++)
			if ((v = view_value(line, n, errors[i])) >= 0) {
				s->errors += (uint64_t)v;
				return true;
			}
		return false;
	}
	return true;
}

int stats_view_parse(const char *text, size_t len, struct stats_sample *s)
{
	unsigned known = 0;
	size_t o = 0;

	memset(s, 0, sizeof(*s));
	while (o < len) {
		const char *nl = memchr(text + o, '\n', len - o);
		size_t n = nl ? (size_t)(nl - (text + o)) : len - o;

		known += view_line(text + o, n, s);
		o += n + 1;
	}
	return known >= 8 ? 0 : -EINVAL;
}

/* @v per second in 5 columns: 999, 12.3k, 4.5M, 1.2G. */
static void view_rate(char *buf, size_t sz, double v)
{
	static const char units[] = " kMGT";
	int u = 0;

	while (v >= 999.5 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, sz, "%.0f", v);
	else
		snprintf(buf, sz, v < 9.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

void stats_view_header(FILE *out)
{
	fprintf(out, "%6s %6s %6s %6s %4s %4s %5s %5s %4s %5s\n", "ops/s",
		"in/s", "out/s", "rtt/s", "busy", "idle", "retry", "error",
		"upl", "state");
}

static double view_per_s(uint64_t a, uint64_t b, double secs)
{
	return b >= a && secs > 0 ? (double)(b - a) / secs : 0;
}

void stats_view_line(FILE *out, const struct stats_sample *a,
		     const struct stats_sample *b, double secs)
{
	char ops[16], in[16], outb[16], rtt[16];

	view_rate(ops, sizeof(ops), view_per_s(a->ops, b->ops, secs));
	view_rate(in, sizeof(in), view_per_s(a->bytes_in, b->bytes_in, secs));
	view_rate(outb, sizeof(outb),
		  view_per_s(a->bytes_out, b->bytes_out, secs));
	view_rate(rtt, sizeof(rtt),
		  view_per_s(a->round_trips, b->round_trips, secs));
	fprintf(out, "%6s %6s %6s %6s %4u %4u %5llu %5llu %4u %5s\n", ops, in,
		outb, rtt, b->busy, b->idle,
		(unsigned long long)(b->retries - a->retries),
		(unsigned long long)(b->errors - a->errors), b->uploads_pending,
		b->server_down ? "down" : "up");
	fflush(out);
}

/* Read the attribute of @path into *s.  Returns 0 or a negative errno. */
static int view_read(const char *path, struct stats_sample *s)
{
	for (int tries = 0; tries < 5; tries++) {
		ssize_t size = getxattr(path, STATS_VIEW_XATTR, NULL, 0);
		char *buf;
		ssize_t got;
		int ret;

		if (size < 0)
			return -errno;
		if (size > STATS_VIEW_MAX)
			return -E2BIG;
		buf = malloc((size_t)size + 1);
		if (!buf)
			return -ENOMEM;
		got = getxattr(path, STATS_VIEW_XATTR, buf, (size_t)size + 1);
		ret = got < 0 ? -errno : stats_view_parse(buf, (size_t)got, s);
		free(buf);
		if (ret != -ERANGE) /* grew between the calls: again */
			return ret;
	}
	return -ERANGE;
}

static double view_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep @secs, or less when a signal asks to stop. */
static void view_sleep(double secs)
{
	struct timespec ts = { .tv_sec = (time_t)secs,
			       .tv_nsec = (long)((secs - (double)(time_t)secs) *
						 1e9) };

	while (!view_stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int view_parse_interval(const char *text, double *secs)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || !(v >= 0.1 && v <= 3600))
		return -EINVAL;
	*secs = v;
	return 0;
}

int stats_view_main(const char *progname, int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = view_on_signal };
	struct stats_sample prev, cur;
	double secs = 1, t0, t1;
	const char *mnt;
	int ret, lines = 0;

	if (argc < 1 || argc > 2 ||
	    (argc == 2 && view_parse_interval(argv[1], &secs) < 0)) {
		fprintf(stderr,
			"usage: %s --stats MOUNTPOINT [SECONDS]\n"
			"  SECONDS between lines: 0.1 to 3600 (default 1)\n",
			progname);
		return 1;
	}
	mnt = argv[0];
	ret = view_read(mnt, &prev);
	if (ret < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, mnt,
			ret == -ENODATA || ret == -ENOTSUP || ret == -EINVAL
				? "not an ftpsfs mount point (no statistics "
				  "attribute)"
				: strerror(-ret));
		return 1;
	}
	/* No SA_RESTART: the signal ends the sleep at once. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	t0 = view_now();
	while (!view_stop) {
		if (lines++ % STATS_VIEW_HEADER == 0)
			stats_view_header(stdout);
		view_sleep(secs);
		if (view_stop)
			break;
		ret = view_read(mnt, &cur);
		t1 = view_now();
		if (ret < 0) {
			/* Unmounted: the directory beneath has no statistics
			 * (or the connection to the kernel is gone). */
			fprintf(stderr, "%s: %s: the mount went away (%s)\n",
				progname, mnt, strerror(-ret));
			return 0;
		}
		stats_view_line(stdout, &prev, &cur, t1 - t0);
		prev = cur;
		t0 = t1;
	}
	return 0;
}
