/*
 * probe_write.c - the checks that change something: on the probe's own
 * temporary file (stored by probe_data.c) and a temporary directory made
 * here, never on anything else.  APPE, setting a file's time by each of
 * the three ways ftpsfs knows (ftp_op_set_mtime(): MFMT, vsftpd's "MDTM
 * time path", ProFTPD's SITE UTIME), a directory's time, SITE CHMOD and
 * SITE SYMLINK; then everything is deleted again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/ftp_learned.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/log.h"
#include "probe_internal.h"

/* 2001-02-03 04:05:06 UTC, a minute more for each method: a time no file
 * has by accident, different for each check. */
#define PROBE_TIME0 981173106

static const char probe_appended[] = "appended\n";

/* "the name" + @suffix into @out: 0 or -ENAMETOOLONG. */
static int probe_tmp_sibling(const struct probe *p, const char *suffix,
			     char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s%s", p->tmp_path, suffix);

	return n > 0 && (size_t)n < outsz ? 0 : -ENAMETOOLONG;
}

static void probe_write_appe(struct probe *p)
{
	struct ftp_conn *c = probe_conn_for(p, "APPE");
	struct probe_xfer f;
	uint64_t size = 0;

	if (!c)
		return;
	if (probe_stor(p, c, probe_xfer_mode(p), p->tmp_path, probe_appended,
		       sizeof(probe_appended) - 1, true, &f) < 0) {
		probe_fact("APPE", "no (%s)", f.err);
		return;
	}
	if (ftp_op_size(c, p->tmp_path, &size) < 0)
		probe_fact("APPE", "accepted (the size was not checked: no "
				   "SIZE)");
	else if (size == p->content_len + sizeof(probe_appended) - 1)
		probe_fact("APPE", "yes");
	else
		probe_fact("APPE",
			   "accepted, but the file has %llu bytes "
			   "instead of %zu",
			   (unsigned long long)size,
			   p->content_len + sizeof(probe_appended) - 1);
}

/* Set the temporary file's time with @m, and say under @key whether it
 * was refused, or whether MDTM then shows it. */
static void probe_write_time(struct probe *p, enum ftp_mtime_method m,
			     const char *key, int64_t when)
{
	struct ftp_conn *c = probe_conn_for(p, key);
	enum ftp_mtime_method method = m;
	const char *path = p->tmp_path;
	int64_t sec = 0;
	int res = -EIO;

	if (!c)
		return;
	if (ftp_op_set_mtime(c, path, when, &method) < 0) {
		probe_fact(key, "no (%s)", p->last_text);
		return;
	}
	if (ftp_op_mdtm_many(c, &path, 1, &sec, &res) < 0 || res < 0) {
		probe_fact(key, "accepted (not verified: no MDTM)");
		return;
	}
	probe_fact(key, "%s",
		   sec == when ? "yes"
			       : "accepted, but MDTM shows another "
				 "time");
}

/*
 * Each way on its own, then the one a mount settles on, found the
 * mount's way (ftp_learned_set_mtime(): the first that works in
 * ftp_op_set_mtime()'s order, MFMT and "MDTM time path" only when FEAT
 * names MFMT / MDTM) and read from what it learnt.  Returns that method,
 * or FTP_MTIME_NONE.
 */
static enum ftp_mtime_method probe_write_file_times(struct probe *p)
{
	struct ftp_conn *c;
	enum ftp_mtime_method m;

	probe_write_time(p, FTP_MTIME_MFMT, "MFMT", PROBE_TIME0);
	probe_write_time(p, FTP_MTIME_MDTM_WRITE, "MDTM with a time",
			 PROBE_TIME0 + 60);
	probe_write_time(p, FTP_MTIME_SITE_UTIME, "SITE UTIME",
			 PROBE_TIME0 + 120);
	/* Only now: each check may have replaced the connection. */
	c = probe_conn_for(p, "file times");
	if (!c)
		return FTP_MTIME_NONE;
	(void)ftp_learned_set_mtime(c, p->tmp_path, PROBE_TIME0, false);
	m = atomic_load(&p->s->learned.mtime_method);
	if (m == FTP_MTIME_UNKNOWN)
		m = FTP_MTIME_NONE; /* not even tried: the file is gone */
	p->file_times = m != FTP_MTIME_NONE;
	probe_fact("file times", "%s",
		   m == FTP_MTIME_MFMT	       ? "can be set (with MFMT)"
		   : m == FTP_MTIME_MDTM_WRITE ? "can be set (with MDTM time "
						 "path)"
		   : m == FTP_MTIME_SITE_UTIME ? "can be set (with SITE UTIME)"
					       : "cannot be set: touch -d and "
						 "rsync -a get EPERM");
	return m;
}

static void probe_write_dir_times(struct probe *p, enum ftp_mtime_method m)
{
	struct ftp_conn *c = probe_conn_for(p, "directory times");
	char dir[HOSTSPEC_PATH_MAX + 1];

	if (!c)
		return;
	if (probe_tmp_sibling(p, ".d", dir, sizeof(dir)) < 0 ||
	    ftp_op_mkdir(c, dir) < 0) {
		probe_fact("directory times", "not checked (MKD: %s)",
			   p->last_text);
		return;
	}
	p->tmp_dir = true;
	if (m == FTP_MTIME_NONE) {
		p->dir_times = 0;
		probe_fact("directory times", "cannot be set (no way to set "
					      "times works)");
	} else if (ftp_learned_set_mtime(c, dir, PROBE_TIME0, true) == 0) {
		p->dir_times = 1;
		probe_fact("directory times", "can be set");
	} else {
		p->dir_times = 0;
		probe_fact("directory times",
			   "cannot be set (%s): rsync -a "
			   "and tar x fail on directories without -o "
			   "ignore_dir_times",
			   p->last_text);
	}
}

static void probe_write_chmod(struct probe *p)
{
	struct ftp_conn *c = probe_conn_for(p, "SITE CHMOD");

	if (c && ftp_op_chmod(c, p->tmp_path, 0600) == 0)
		probe_fact("SITE CHMOD", "yes");
	else if (c)
		probe_fact("SITE CHMOD", "no (%s): chmod gets EPERM",
			   p->last_text);
}

static void probe_write_symlink(struct probe *p)
{
	struct ftp_conn *c = probe_conn_for(p, "SITE SYMLINK");
	char link[HOSTSPEC_PATH_MAX + 1];
	int ret;

	if (!c)
		return;
	if (probe_tmp_sibling(p, ".link", link, sizeof(link)) < 0) {
		probe_fact("SITE SYMLINK", "not checked (path too long)");
		return;
	}
	ret = ftp_op_symlink(c, p->tmp_path, link);
	if (ret == 0) {
		p->tmp_link = true;
		probe_fact("SITE SYMLINK", "yes");
	} else if (ret == -EINVAL) {
		probe_fact("SITE SYMLINK", "not checked (the path has spaces, "
					   "which SITE SYMLINK cannot carry)");
	} else {
		probe_fact("SITE SYMLINK", "no (%s): symlink gets EPERM",
			   p->last_text);
	}
}

void probe_feat_write(struct probe *p)
{
	probe_write_appe(p);
	probe_write_dir_times(p, probe_write_file_times(p));
	probe_write_chmod(p);
	probe_write_symlink(p);
}

/* Delete one thing the probe made; false (printed) if it stays. */
static bool probe_tmp_delete(struct probe *p, const char *what,
			     const char *path, bool dir)
{
	struct ftp_conn *c = NULL;
	char err[512], esc[1024];
	int ret = probe_main_conn(p, &c, err, sizeof(err));

	if (ret == 0)
		ret = dir ? ftp_op_rmdir(c, path) : ftp_op_delete(c, path);
	if (ret == 0 || ret == -ENOENT)
		return true;
	probe_fact(what, "COULD NOT BE DELETED (%s): please delete %s",
		   c ? p->last_text : err, probe_esc(esc, sizeof(esc), path));
	return false;
}

void probe_tmp_cleanup(struct probe *p)
{
	char path[HOSTSPEC_PATH_MAX + 1], esc[1024];
	bool ok = true;

	if (!p->tmp_file && !p->tmp_dir && !p->tmp_link)
		return;
	if (p->tmp_link &&
	    probe_tmp_sibling(p, ".link", path, sizeof(path)) == 0)
		ok &= probe_tmp_delete(p, "temporary link", path, false);
	if (p->tmp_dir && probe_tmp_sibling(p, ".d", path, sizeof(path)) == 0)
		ok &= probe_tmp_delete(p, "temporary directory", path, true);
	if (p->tmp_file)
		ok &= probe_tmp_delete(p, "temporary file", p->tmp_path, false);
	if (ok)
		probe_fact("temporary files",
			   "%s (and what was made beside "
			   "it) created and deleted",
			   probe_esc(esc, sizeof(esc), p->tmp_path));
	p->tmp_file = p->tmp_dir = p->tmp_link = false;
}
