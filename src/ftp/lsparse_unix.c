/*
 * lsparse_unix.c - LIST lines: Unix "ls -l" format, and the DOS/IIS format
 * as a fallback.
 *
 * LIST output is not specified anywhere (RFC 959 section 4.1.3 only says it
 * is meant for humans), so the parser anchors on what every Unix server
 * prints the same way: the mode string first, and a date made of three
 * tokens "Mon DD HH:MM" or "Mon DD YYYY".  The token before the month is the
 * size; between the mode and the size sit the link count, owner and
 * group, or fewer of them: owner and group are taken where all three (or
 * owner and group alone) are there, for -o idmap=names.  The name starts
 * exactly one space after the date, keeping any further spaces (SERVERS.md,
 * "LIST pitfalls").
 *
 * Times in LIST output are in the server's local time zone, which the
 * client cannot know; they are taken as UTC.  MLSD (always UTC) is
 * preferred where the server has it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ftpsfs/lsparse.h"
#include "lsparse_priv.h"

/*
 * The month is at most this many tokens after the mode string: mode,
 * links, owner, group, size give 5; the slack allows for odd servers while
 * keeping a date-like pattern inside a file name from being taken as the
 * date when the real one was not recognised.
 */
#define LIST_MONTH_TOKEN_MAX 8
/* With fewer than mode, links/owner, size before it, it is not a date. */
#define LIST_MONTH_TOKEN_MIN 3
/* "Mon DD HH:MM" may be at most this far in the future (header contract). */
#define LIST_FUTURE_SLACK 86400
/* Last second of 9999-12-31, the end of lsparse_utc_time()'s range. */
#define LIST_NOW_MAX INT64_C(253402300799)
/* The longest line of a STAT reply we parse (a reply line is shorter). */
#define FTP_LIST_STAT_LINE_MAX 4096
/* 365.2425 days: the mean Gregorian year, to estimate the current year. */
#define LIST_MEAN_YEAR INT64_C(31556952)

struct list_token {
	const char *s;
	size_t len;
	size_t end; /* offset just after the token */
};

/* Field separators before the name.  The name itself is never tokenised. */
static bool list_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool list_next_token(const char *line, size_t len, size_t *pos,
			    struct list_token *tok)
{
	size_t p = *pos, start;

	while (p < len && list_is_blank(line[p]))
		p++;
	if (p == len)
		return false;
	start = p;
	while (p < len && !list_is_blank(line[p]))
		p++;
	tok->s = line + start;
	tok->len = p - start;
	tok->end = p;
	*pos = p;
	return true;
}

static bool list_all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!lsparse_is_digit(s[i]))
			return false;
	}
	return true;
}

/* Callers check list_all_digits() and a small @len first. */
static int list_small_number(const char *s, size_t len)
{
	int v = 0;

	for (size_t i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool list_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (!list_all_digits(s, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* ---- mode string ---- */

static int list_parse_type(char c, enum ftp_entry_type *type)
{
	switch (c) {
	case '-':
		*type = FTP_ENTRY_FILE;
		return 0;
	case 'd':
		*type = FTP_ENTRY_DIR;
		return 0;
	case 'l':
		*type = FTP_ENTRY_LINK;
		return 0;
	case 'b': /* block device */
	case 'c': /* character device */
	case 'p': /* fifo */
	case 's': /* socket */
	case 'D': /* Solaris door */
		*type = FTP_ENTRY_OTHER;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * One "rwx" triplet; @k is 0 for user, 1 for group, 2 for other.  The
 * execute column doubles as setuid/setgid/sticky: lower case means the
 * execute bit is set as well, upper case that it is not.  Old Linux and
 * Solaris show setgid without group execute ("mandatory locking") as 'l'.
 */
static int list_parse_triplet(const char *s, int k, uint32_t *mode)
{
	static const uint32_t special[3] = { 04000, 02000, 01000 };
	const char set = k == 2 ? 't' : 's';
	const char unset = k == 2 ? 'T' : 'S';
	const int shift = 3 * (2 - k);
	uint32_t m = 0;

	if (s[0] == 'r')
		m |= 4;
	else if (s[0] != '-')
		return -EINVAL;
	if (s[1] == 'w')
		m |= 2;
	else if (s[1] != '-')
		return -EINVAL;
	m <<= shift;
	if (s[2] == 'x')
		m |= 1u << shift;
	else if (s[2] == set)
		m |= (1u << shift) | special[k];
	else if (s[2] == unset || (k == 1 && (s[2] == 'l' || s[2] == 'L')))
		m |= special[k];
	else if (s[2] != '-')
		return -EINVAL;
	*mode |= m;
	return 0;
}

/*
 * "drwxr-xr-x", optionally followed by one marker: '+' (POSIX ACL), '.'
 * (SELinux context) or '@' (macOS extended attributes).
 */
static int list_parse_mode(const struct list_token *tok, struct ftp_entry *out)
{
	uint32_t mode = 0;

	if (tok->len == 11) {
		char m = tok->s[10];

		if (m != '+' && m != '.' && m != '@')
			return -EINVAL;
	} else if (tok->len != 10) {
		return -EINVAL;
	}
	if (list_parse_type(tok->s[0], &out->type) < 0)
		return -EINVAL;
	for (int k = 0; k < 3; k++) {
		if (list_parse_triplet(tok->s + 1 + 3 * k, k, &mode) < 0)
			return -EINVAL;
	}
	out->mode = mode;
	out->has_mode = true;
	return 0;
}

/* ---- date ---- */

/* English month abbreviation to 1..12, or 0.  ls prints these in the C
 * locale, which is what FTP servers use. */
static int list_month(const struct list_token *tok)
{
	static const char *const months[12] = { "jan", "feb", "mar", "apr",
						"may", "jun", "jul", "aug",
						"sep", "oct", "nov", "dec" };

	for (int i = 0; i < 12; i++) {
		if (lsparse_ascii_ieq(tok->s, tok->len, months[i]))
			return i + 1;
	}
	return 0;
}

static int list_day(const struct list_token *tok)
{
	int day;

	if (tok->len > 2 || !list_all_digits(tok->s, tok->len))
		return 0;
	day = list_small_number(tok->s, tok->len);
	return day <= 31 ? day : 0;
}

/* The token after the day: "HH:MM" (or "H:MM") or a four-digit year. */
struct list_clock {
	int year; /* 0 when the token is a time of day */
	int hour;
	int min;
};

static bool list_clock(const struct list_token *tok, struct list_clock *c)
{
	const char *colon = memchr(tok->s, ':', tok->len);
	size_t hlen;

	if (!colon) {
		if (tok->len != 4 || !list_all_digits(tok->s, 4))
			return false;
		c->year = list_small_number(tok->s, 4);
		c->hour = 0;
		c->min = 0;
		return true;
	}
	hlen = (size_t)(colon - tok->s);
	if (hlen < 1 || hlen > 2 || tok->len != hlen + 3 ||
	    !list_all_digits(tok->s, hlen) || !list_all_digits(colon + 1, 2))
		return false;
	c->year = 0;
	c->hour = list_small_number(tok->s, hlen);
	c->min = list_small_number(colon + 1, 2);
	return c->hour <= 23 && c->min <= 59;
}

/*
 * ls omits the year for recent dates.  Take the latest year for which the
 * date is at most LIST_FUTURE_SLACK after @now: a file touched "in the
 * future" by a server whose clock or time zone is ahead still lands in the
 * current year, and "Dec 31 23:59" seen on January 1st is last year's.
 */
static int list_infer_year(int month, int day, const struct list_clock *c,
			   time_t now, int64_t *out)
{
	int64_t n = now, guess, t;

	if (n < 0)
		n = 0;
	if (n > LIST_NOW_MAX)
		n = LIST_NOW_MAX;
	guess = 1970 + n / LIST_MEAN_YEAR;
	/* the guess is off by at most one; Feb 29 may be 8 years back */
	for (int64_t y = guess + 2; y >= guess - 10; y--) {
		if (lsparse_utc_time((int)y, month, day, c->hour, c->min, 0,
				     &t) < 0)
			continue;
		if (t <= n + LIST_FUTURE_SLACK) {
			*out = t;
			return 0;
		}
	}
	return -EINVAL;
}

static int list_set_time(int month, int day, const struct list_clock *c,
			 time_t now, struct ftp_entry *out)
{
	int64_t t;
	int ret;

	if (c->year) {
		ret = lsparse_utc_time(c->year, month, day, 0, 0, 0, &t);
		out->mtime_prec = FTP_TIME_DAY;
	} else {
		ret = list_infer_year(month, day, c, now, &t);
		out->mtime_prec = FTP_TIME_MINUTE;
	}
	if (ret < 0)
		return ret;
	out->mtime = t;
	return 0;
}

/* ---- the line ---- */

struct list_date {
	struct list_token size; /* token before the month */
	struct list_token cols[LIST_MONTH_TOKEN_MAX]; /* tokens before it */
	int ncols;
	int month;
	int day;
	struct list_clock clock;
	size_t end; /* offset just after the time or year */
};

/* Does the date start at @tok (a month)?  Reads ahead from @pos. */
static bool list_date_at(const char *line, size_t len, size_t pos,
			 const struct list_token *tok, struct list_date *d)
{
	struct list_token day, clock;

	d->month = list_month(tok);
	if (!d->month)
		return false;
	if (!list_next_token(line, len, &pos, &day) ||
	    !list_next_token(line, len, &pos, &clock))
		return false;
	d->day = list_day(&day);
	if (!d->day || !list_clock(&clock, &d->clock))
		return false;
	d->end = clock.end;
	return true;
}

/*
 * The size column: a byte count, except for devices, which show
 * "major, minor" there ("1,   3" or "1,3"); their size is unknown.
 */
static bool list_size(const struct list_date *d, char type_char,
		      struct ftp_entry *out)
{
	if (type_char == 'b' || type_char == 'c') {
		out->has_size = false;
		return true;
	}
	if (!list_parse_u64(d->size.s, d->size.len, &out->size))
		return out->type == FTP_ENTRY_OTHER;
	out->has_size = true;
	return true;
}

static int list_find_date(const char *line, size_t len, size_t pos,
			  char type_char, struct ftp_entry *out,
			  struct list_date *d)
{
	struct list_token prev = { 0 }, tok;

	struct list_token cols[LIST_MONTH_TOKEN_MAX];

	for (int i = 1; i <= LIST_MONTH_TOKEN_MAX; i++) {
		if (!list_next_token(line, len, &pos, &tok))
			break;
		if (i >= LIST_MONTH_TOKEN_MIN &&
		    list_date_at(line, len, pos, &tok, d)) {
			d->size = prev;
			d->ncols = i - 2; /* between the mode and the size */
			memcpy(d->cols, cols, sizeof(cols));
			if (list_size(d, type_char, out))
				return 0;
		}
		cols[i - 1] = tok;
		prev = tok;
	}
	return -EINVAL;
}

/* First " -> " at or after @from, or @len.  A name that itself contains
 * " -> " is ambiguous in ls output: it is cut at its first arrow. */
static size_t list_find_arrow(const char *line, size_t from, size_t len)
{
	for (size_t i = from; i + 4 <= len; i++) {
		if (!memcmp(line + i, " -> ", 4))
			return i;
	}
	return len;
}

/* Split and terminate name (and link target) in place: [start, len). */
static int list_take_name(char *line, size_t start, size_t len,
			  struct ftp_entry *out)
{
	size_t name_end = len;
	int ret;

	if (out->type == FTP_ENTRY_LINK)
		name_end = list_find_arrow(line, start, len);
	ret = lsparse_check_name(line + start, name_end - start);
	if (name_end == len) {
		out->name = lsparse_terminate_tail(line, start, len);
		return ret;
	}
	if (lsparse_target_ok(line + name_end + 4, len - name_end - 4))
		out->link_target =
			lsparse_terminate_tail(line, name_end + 4, len);
	line[name_end] = '\0';
	out->name = line + start;
	return ret;
}

/* Owner and group from the columns before the size: "links owner group"
 * or "owner group" (no link count); terminated in place. */
static void list_take_owner(char *line, const struct list_date *d,
			    struct ftp_entry *out)
{
	const struct list_token *owner, *group;

	if (d->ncols == 3) {
		owner = &d->cols[1];
		group = &d->cols[2];
	} else if (d->ncols == 2 &&
		   !list_all_digits(d->cols[0].s, d->cols[0].len)) {
		owner = &d->cols[0];
		group = &d->cols[1];
	} else {
		return; /* "links owner", or odder: not told apart */
	}
	/* Each token ends before a blank (never at the line's end: the
	 * size and date follow), so ending it there cuts nothing. */
	line[owner->end] = '\0';
	line[group->end] = '\0';
	out->owner = owner->s;
	out->group = group->s;
}

static int list_parse_unix(char *line, size_t len, time_t now,
			   struct ftp_entry *out)
{
	struct list_token mode;
	struct list_date d;
	size_t pos = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!list_next_token(line, len, &pos, &mode) || mode.s != line)
		return -EINVAL;
	ret = list_parse_mode(&mode, out);
	if (ret < 0)
		return ret;
	ret = list_find_date(line, len, pos, mode.s[0], out, &d);
	if (ret < 0)
		return ret;
	ret = list_set_time(d.month, d.day, &d.clock, now, out);
	if (ret < 0)
		return ret;
	/* exactly one space, then the name, leading spaces and all */
	if (d.end >= len || line[d.end] != ' ')
		return -EINVAL;
	ret = list_take_name(line, d.end + 1, len, out);
	if (ret >= 0)
		list_take_owner(line, &d, out);
	return ret;
}

/* ---- DOS / IIS ---- */

/* "01-31-20" or "01-31-2020"; two-digit years pivot as POSIX %y does. */
static bool list_dos_date(const struct list_token *tok, int *y, int *m, int *d)
{
	const char *s = tok->s;

	if ((tok->len != 8 && tok->len != 10) || s[2] != '-' || s[5] != '-' ||
	    !list_all_digits(s, 2) || !list_all_digits(s + 3, 2) ||
	    !list_all_digits(s + 6, tok->len - 6))
		return false;
	*m = list_small_number(s, 2);
	*d = list_small_number(s + 3, 2);
	*y = list_small_number(s + 6, tok->len - 6);
	if (tok->len == 8)
		*y += *y < 69 ? 2000 : 1900;
	return true;
}

/* "02:15PM" (IIS default) or "14:15" (IIS with four-digit years). */
static bool list_dos_clock(const struct list_token *tok, int *h, int *min)
{
	const char *s = tok->s;
	bool pm;

	if ((tok->len != 5 && tok->len != 7) || s[2] != ':' ||
	    !list_all_digits(s, 2) || !list_all_digits(s + 3, 2))
		return false;
	*h = list_small_number(s, 2);
	*min = list_small_number(s + 3, 2);
	if (tok->len == 5)
		return true;
	if (lsparse_ascii_ieq(s + 5, 2, "pm"))
		pm = true;
	else if (lsparse_ascii_ieq(s + 5, 2, "am"))
		pm = false;
	else
		return false;
	if (*h < 1 || *h > 12)
		return false;
	*h = *h % 12 + (pm ? 12 : 0);
	return true;
}

/*
 * "01-31-20  02:15PM       <DIR>          name" or "...  1234 name".  The
 * name starts at the first non-blank after the size column, so leading
 * spaces in names cannot be told apart from padding in this format.
 */
static int list_parse_dos(char *line, size_t len, struct ftp_entry *out)
{
	struct list_token date, clock, size;
	int y, m, d, h, min;
	size_t pos = 0;
	int64_t t;

	memset(out, 0, sizeof(*out));
	if (!list_next_token(line, len, &pos, &date) ||
	    !list_next_token(line, len, &pos, &clock) ||
	    !list_next_token(line, len, &pos, &size))
		return -EINVAL;
	if (!list_dos_date(&date, &y, &m, &d) ||
	    !list_dos_clock(&clock, &h, &min) ||
	    lsparse_utc_time(y, m, d, h, min, 0, &t) < 0)
		return -EINVAL;
	if (lsparse_ascii_ieq(size.s, size.len, "<dir>"))
		out->type = FTP_ENTRY_DIR;
	else if (list_parse_u64(size.s, size.len, &out->size))
		out->has_size = true;
	else
		return -EINVAL;
	while (pos < len && list_is_blank(line[pos]))
		pos++;
	if (pos == len)
		return -EINVAL;
	out->mtime = t;
	out->mtime_prec = FTP_TIME_MINUTE;
	return list_take_name(line, pos, len, out);
}

/* "total 1234" (ls's block count; GNU ls -h prints "total 12K"). */
static bool list_is_total(const char *line, size_t len)
{
	struct list_token word, count, extra;
	size_t pos = 0;

	if (!list_next_token(line, len, &pos, &word) ||
	    !lsparse_ascii_ieq(word.s, word.len, "total") ||
	    !list_next_token(line, len, &pos, &count))
		return false;
	return lsparse_is_digit(count.s[0]) &&
	       !list_next_token(line, len, &pos, &extra);
}

int list_parse_line(char *line, size_t len, time_t now, struct ftp_entry *out)
{
	size_t pos = 0;
	struct list_token tok;
	int ret;

	memset(out, 0, sizeof(*out));
	/* blank lines carry nothing; not worth an error */
	if (!list_next_token(line, len, &pos, &tok))
		return LSPARSE_SKIP;
	if (list_is_total(line, len))
		return LSPARSE_SKIP;
	ret = list_parse_unix(line, len, now, out);
	if (ret != -EINVAL)
		return ret;
	return list_parse_dos(line, len, out);
}

int list_stat_file_mode(const char *text, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *line = text + strcspn(text, "\n"); /* past "213-..." */
	char buf[FTP_LIST_STAT_LINE_MAX];
	struct ftp_entry e;
	int mode = -1, found = 0;

	while (*line == '\n') {
		size_t len = strcspn(++line, "\n"), skip;

		if (!line[len])
			break; /* the closing "213 ..." */
		if (len >= sizeof(buf))
			return -1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		line += len;
		skip = strspn(buf, " ");
		if (list_parse_line(buf + skip, len - skip, time(NULL), &e) !=
		    LSPARSE_ENTRY)
			continue;
		found++;
		if (e.type == FTP_ENTRY_FILE && e.has_mode &&
		    strcmp(e.name, base) == 0)
			mode = (int)(e.mode & 07777);
	}
	return found == 1 ? mode : -1;
}
