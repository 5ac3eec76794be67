/*
 * lsparse_mlsd.c - MLSD and MLST entry lines (RFC 3659 section 7).
 *
 * RFC 3659 section 7.2 grammar, as far as it matters here:
 *   entry = [ facts ] SP pathname
 *   facts = 1*( fact ";" )
 *   fact  = factname "=" value
 * Fact values cannot hold SP or ";" (section 7.5), so the FIRST space ends
 * the facts and every byte after it is the name, spaces, ";" and "="
 * included.  Fact names are case-insensitive (section 7.1).  Values may hold
 * "=" ("unique==keVO1+ZF4", "type=OS.unix=slink:/x"): split at the first.
 *
 * Malformed structure (no space, a fact without "=" or ";") makes the
 * whole line -EINVAL.  A well-formed fact with an unusable value (a size
 * that is not a number, an impossible date) is ignored instead: the entry
 * is still worth showing, just with less information.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ftpsfs/lsparse.h"
#include "lsparse_priv.h"

/* An MLST pathname is a path, not a component: allow up to PATH_MAX. */
#define MLST_PATH_MAX 4095

/* Fractional seconds beyond nanoseconds are dropped (section 2.3 allows any
 * number of digits). */
#define MLSD_FRACTION_DIGITS 9

struct mlsd_fact {
	char *name;
	size_t name_len;
	char *value; /* NUL-terminated in place (over its ';') */
	size_t value_len;
};

struct mlsd_state {
	bool has_type;
	bool is_cdir_pdir;
	bool has_size;		       /* from "size", which wins over "sizd" */
	bool owner_named, group_named; /* from UNIX.ownername/groupname,
					* which win over the numbers */
};

/* Parse @len decimal digits; false on an empty string, a non-digit or
 * overflow. */
static bool mlsd_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!lsparse_is_digit(s[i]))
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static int mlsd_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/*
 * "modify" (RFC 3659 section 2.3): YYYYMMDDHHMMSS[.F+], always UTC.
 * Returns false if the value is not such a time.
 */
static bool mlsd_parse_time(const char *v, size_t len, struct ftp_entry *out)
{
	uint32_t ns = 0;
	int64_t t;

	if (len < 14)
		return false;
	for (size_t i = 0; i < 14; i++) {
		if (!lsparse_is_digit(v[i]))
			return false;
	}
	if (len > 14) {
		size_t nfrac = len - 15;

		if (v[14] != '.' || nfrac == 0)
			return false;
		for (size_t i = 0; i < nfrac; i++) {
			char c = v[15 + i];

			if (!lsparse_is_digit(c))
				return false;
			if (i < MLSD_FRACTION_DIGITS)
				ns = ns * 10 + (uint32_t)(c - '0');
		}
		for (size_t i = nfrac; i < MLSD_FRACTION_DIGITS; i++)
			ns *= 10;
	}
	if (lsparse_utc_time(mlsd_digits(v, 4), mlsd_digits(v + 4, 2),
			     mlsd_digits(v + 6, 2), mlsd_digits(v + 8, 2),
			     mlsd_digits(v + 10, 2), mlsd_digits(v + 12, 2),
			     &t) < 0)
		return false;
	out->mtime = t;
	out->mtime_ns = ns;
	out->mtime_prec = FTP_TIME_SECOND;
	return true;
}

/* "UNIX.mode": octal; some servers include the file type bits (100644);
 * pyftpdlib writes Python's "0o751". */
static void mlsd_parse_mode(const char *v, size_t len, struct ftp_entry *out)
{
	uint32_t mode = 0;

	if (len > 2 && v[0] == '0' && (v[1] == 'o' || v[1] == 'O')) {
		v += 2;
		len -= 2;
	}
	/* 7 octal digits hold any st_mode; more is garbage */
	if (len == 0 || len > 7)
		return;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '7')
			return;
		mode = mode * 8 + (uint32_t)(v[i] - '0');
	}
	out->mode = mode & 07777;
	out->has_mode = true;
}

/*
 * "OS.unix=slink:TARGET" (Pure-FTPd, ProFTPD's UseSlink) or
 * "OS.unix=symlink" (ProFTPD) name a symbolic link; other OS.unix types
 * (blkdev, chr-13/29, ...) are devices and the like.  Section 7.5.1 leaves
 * "OS.name=type" values to the operating system.
 */
static void mlsd_parse_os_type(char *v, size_t len, struct ftp_entry *out)
{
	const size_t prefix = strlen("os.unix=");
	char *kind = v + prefix;
	size_t kind_len;
	char *colon;

	out->type = FTP_ENTRY_OTHER;
	if (len < prefix || !lsparse_ascii_ieq(v, prefix, "os.unix="))
		return;
	kind_len = len - prefix;
	colon = memchr(kind, ':', kind_len);
	if (colon)
		kind_len = (size_t)(colon - kind);
	if (!lsparse_ascii_ieq(kind, kind_len, "slink") &&
	    !lsparse_ascii_ieq(kind, kind_len, "symlink"))
		return;
	out->type = FTP_ENTRY_LINK;
	/* the value was NUL-terminated by the caller, so the target is too */
	if (colon && lsparse_target_ok(colon + 1, len - prefix - kind_len - 1))
		out->link_target = colon + 1;
}

/* "type" (RFC 3659 section 7.5.1). */
static void mlsd_parse_type(char *v, size_t len, struct ftp_entry *out,
			    struct mlsd_state *st)
{
	st->has_type = true;
	st->is_cdir_pdir = false;
	out->link_target = NULL;
	if (lsparse_ascii_ieq(v, len, "file")) {
		out->type = FTP_ENTRY_FILE;
	} else if (lsparse_ascii_ieq(v, len, "dir")) {
		out->type = FTP_ENTRY_DIR;
	} else if (lsparse_ascii_ieq(v, len, "cdir") ||
		   lsparse_ascii_ieq(v, len, "pdir")) {
		/* the listed directory itself or its parent (section 7.5.1) */
		out->type = FTP_ENTRY_DIR;
		st->is_cdir_pdir = true;
	} else {
		mlsd_parse_os_type(v, len, out);
	}
}

/*
 * Owner and group (not in RFC 3659; ProFTPD's UNIX.owner/UNIX.group are
 * numbers, UNIX.ownername/UNIX.groupname names; others send UNIX.uid and
 * UNIX.gid): the names where given.  Empty values are no owner.
 */
static void mlsd_apply_owner_fact(const struct mlsd_fact *f,
				  struct ftp_entry *out, struct mlsd_state *st)
{
	if (f->value_len == 0)
		return;
	if (lsparse_ascii_ieq(f->name, f->name_len, "unix.ownername")) {
		out->owner = f->value;
		st->owner_named = true;
	} else if (lsparse_ascii_ieq(f->name, f->name_len, "unix.groupname")) {
		out->group = f->value;
		st->group_named = true;
	} else if ((lsparse_ascii_ieq(f->name, f->name_len, "unix.owner") ||
		    lsparse_ascii_ieq(f->name, f->name_len, "unix.uid")) &&
		   !st->owner_named) {
		out->owner = f->value;
	} else if ((lsparse_ascii_ieq(f->name, f->name_len, "unix.group") ||
		    lsparse_ascii_ieq(f->name, f->name_len, "unix.gid")) &&
		   !st->group_named) {
		out->group = f->value;
	}
}

static void mlsd_apply_fact(const struct mlsd_fact *f, struct ftp_entry *out,
			    struct mlsd_state *st)
{
	uint64_t size;

	if (lsparse_ascii_ieq(f->name, f->name_len, "type")) {
		mlsd_parse_type(f->value, f->value_len, out, st);
	} else if (lsparse_ascii_ieq(f->name, f->name_len, "size")) {
		/* section 7.5.5 */
		if (mlsd_parse_u64(f->value, f->value_len, &size)) {
			out->size = size;
			out->has_size = true;
			st->has_size = true;
		}
	} else if (lsparse_ascii_ieq(f->name, f->name_len, "sizd")) {
		/* directory size (a common extension): only if no "size" */
		if (!st->has_size &&
		    mlsd_parse_u64(f->value, f->value_len, &size)) {
			out->size = size;
			out->has_size = true;
		}
	} else if (lsparse_ascii_ieq(f->name, f->name_len, "modify")) {
		/* section 7.5.3; a bad value leaves the time unknown */
		mlsd_parse_time(f->value, f->value_len, out);
	} else if (lsparse_ascii_ieq(f->name, f->name_len, "unique")) {
		/* section 7.5.2: opaque, compared only for equality */
		out->unique = f->value_len ? f->value : NULL;
	} else if (lsparse_ascii_ieq(f->name, f->name_len, "unix.mode")) {
		mlsd_parse_mode(f->value, f->value_len, out);
	} else {
		mlsd_apply_owner_fact(f, out, st);
	}
	/* "perm", "create", ...: not needed (section 7.1 lets clients
	 * ignore facts they do not use) */
}

/*
 * Split one "name=value;" fact starting at @p (before @end) and terminate
 * its value in place.  Returns the position after the ';' or NULL if the
 * fact is malformed.
 */
static char *mlsd_next_fact(char *p, char *end, struct mlsd_fact *f)
{
	char *semi = memchr(p, ';', (size_t)(end - p));
	char *eq;

	if (!semi)
		return NULL;
	eq = memchr(p, '=', (size_t)(semi - p));
	if (!eq || eq == p)
		return NULL;
	f->name = p;
	f->name_len = (size_t)(eq - p);
	f->value = eq + 1;
	f->value_len = (size_t)(semi - f->value);
	*semi = '\0';
	return semi + 1;
}

static int mlsd_parse_facts(char *facts, size_t len, struct ftp_entry *out,
			    struct mlsd_state *st)
{
	char *p = facts, *end = facts + len;
	struct mlsd_fact f;

	if (len == 0 || memchr(facts, '\0', len))
		return -EINVAL;
	while (p < end) {
		p = mlsd_next_fact(p, end, &f);
		if (!p)
			return -EINVAL;
		mlsd_apply_fact(&f, out, st);
	}
	return 0;
}

/* Validate an MLST pathname: a path, so '/' is fine, but still no bytes
 * that could break a command or a log line. */
static int mlst_check_path(const char *path, size_t len)
{
	if (len == 0 || len > MLST_PATH_MAX)
		return LSPARSE_BAD_NAME;
	for (size_t i = 0; i < len; i++) {
		if (path[i] == '\r' || path[i] == '\n' || path[i] == '\0')
			return LSPARSE_BAD_NAME;
	}
	return LSPARSE_ENTRY;
}

static int mlsx_parse(char *line, size_t len, struct ftp_entry *out,
		      bool is_mlst)
{
	struct mlsd_state st = { 0 };
	char *sp = memchr(line, ' ', len);
	size_t facts_len, name_start;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!sp)
		return -EINVAL;
	facts_len = (size_t)(sp - line);
	ret = mlsd_parse_facts(line, facts_len, out, &st);
	if (ret < 0)
		return ret;
	/* RFC 3659 section 7.5.1: "type" is optional; a server that omits it
	 * is describing plain files */
	if (!st.has_type)
		out->type = FTP_ENTRY_FILE;

	name_start = facts_len + 1;
	ret = is_mlst ? mlst_check_path(line + name_start, len - name_start)
		      : lsparse_check_name(line + name_start, len - name_start);
	/* slide the name over the separating space to terminate it in place */
	out->name = lsparse_terminate_tail(line, name_start, len);
	if (ret == LSPARSE_SKIP)
		return LSPARSE_SKIP;
	/* the directory's own and parent's entries: not children.  For MLST
	 * they are the very object asked about, so they stay (as DIR). */
	if (st.is_cdir_pdir && !is_mlst)
		return LSPARSE_SKIP;
	return ret;
}

int mlsd_parse_line(char *line, size_t len, struct ftp_entry *out)
{
	return mlsx_parse(line, len, out, false);
}

int mlst_parse_line(char *line, size_t len, struct ftp_entry *out)
{
	/* RFC 3659 section 7.2: the entry line of an MLST reply starts with
	 * exactly one space */
	if (len == 0 || line[0] != ' ') {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return mlsx_parse(line + 1, len - 1, out, true);
}
