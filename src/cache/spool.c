/*
 * spool.c - local spool files and the upload plan.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ftpsfs/spool.h"

int spool_dir_prepare(const char *dir, char *out, size_t outsz, char *err,
		      size_t errsz)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (dir)
		snprintf(out, outsz, "%s", dir);
	else
		snprintf(out, outsz, "%s/ftpsfs-spool-%u",
			 tmp && tmp[0] == '/' ? tmp : "/tmp",
			 (unsigned)getuid());
	if (mkdir(out, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errsz, "cannot create spool directory %s: %s",
			 out, strerror(errno));
		return -errno;
	}
	/* lstat: a symlink planted in /tmp must not redirect our data. */
	if (lstat(out, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != getuid() || (st.st_mode & 077)) {
		snprintf(err, errsz,
			 "spool directory %s must be a directory owned by you "
			 "with no access for others",
			 out);
		return -EPERM;
	}
	return 0;
}

int spool_open(const char *dir, uint64_t remote_size, struct spool *sp)
{
	/* Unlinked from the start: nothing is left behind by a crash. */
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	sp->fd = fd;
	sp->size = 0;
	sp->remote_size = remote_size;
	/* Empty: differs from a non-empty server file from byte 0 on. */
	sp->changed_from = remote_size ? 0 : SPOOL_CLEAN;
	return 0;
}

void spool_close(struct spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	sp->fd = -1;
}

int spool_keep(const struct spool *sp, const char *dir, const char *path,
	       char *out, size_t outsz)
{
	const char *base = strrchr(path, '/');
	char proc[64], when[32];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	base = base && base[1] ? base + 1 : "file";
	if (!localtime_r(&now, &tm) ||
	    !strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm))
		snprintf(when, sizeof(when), "%lld", (long long)now);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sp->fd);
	for (unsigned i = 0; i < 100; i++) {
		n = snprintf(out, outsz, "%s/unsaved-%s-%u-%.160s", dir, when,
			     i, base);
		if (n < 0 || (size_t)n >= outsz)
			return -ENAMETOOLONG;
		/* An O_TMPFILE file gets a name by linkat() of its /proc
		 * link (as any user; AT_EMPTY_PATH would need
		 * CAP_DAC_READ_SEARCH). */
		if (linkat(AT_FDCWD, proc, AT_FDCWD, out, AT_SYMLINK_FOLLOW) ==
			    0 ||
		    linkat(sp->fd, "", AT_FDCWD, out, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static int spool_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int spool_fill(struct spool *sp, const void *buf, size_t len, uint64_t off)
{
	int ret = spool_pwrite_all(sp->fd, buf, len, off);

	if (ret == 0 && off + len > sp->size)
		sp->size = off + len;
	return ret;
}

int spool_pwrite(struct spool *sp, const void *buf, size_t len, uint64_t off)
{
	int ret;

	if (len == 0)
		return 0;
	ret = spool_fill(sp, buf, len, off);
	if (ret == 0 && off < sp->changed_from)
		sp->changed_from = off;
	return ret;
}

ssize_t spool_pread(struct spool *sp, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	if (off >= sp->size)
		return 0;
	if (len > sp->size - off)
		len = (size_t)(sp->size - off);
	while (got < len) {
		ssize_t n = pread(sp->fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int spool_truncate(struct spool *sp, uint64_t size)
{
	uint64_t first = size < sp->size ? size : sp->size;

	if (size == sp->size)
		return 0;
	if (ftruncate(sp->fd, (off_t)size) < 0)
		return -errno;
	/* Shrinking changes the file from the cut on; growing adds zeros
	 * after the old end. */
	if (first < sp->changed_from)
		sp->changed_from = first;
	sp->size = size;
	return 0;
}

void spool_mark_clean(struct spool *sp)
{
	sp->remote_size = sp->size;
	sp->changed_from = SPOOL_CLEAN;
}

struct upload_plan upload_plan(const struct spool *sp, bool remote_exists,
			       bool can_rest_stor, bool atomic)
{
	struct upload_plan p = { UPLOAD_STOR, 0 };

	if (!remote_exists)
		return p;
	if (sp->changed_from == SPOOL_CLEAN && sp->size == sp->remote_size) {
		p.how = UPLOAD_NONE;
		return p;
	}
	if (atomic || sp->size < sp->remote_size || sp->changed_from == 0)
		return p;
	if (sp->changed_from >= sp->remote_size) {
		/* Only new bytes after the server's end (APPE is RFC 959). */
		p.how = UPLOAD_APPE;
		p.offset = sp->remote_size;
	} else if (can_rest_stor) {
		p.how = UPLOAD_REST_STOR;
		p.offset = sp->changed_from;
	}
	return p;
}
