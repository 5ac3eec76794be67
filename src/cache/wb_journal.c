/*
 * wb_journal.c - the files of pending write-back uploads in the spool
 * directory.  See wb_journal.h; the record's text is wb_record.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ftpsfs/wb_journal.h"

#define WB_CHUNK (256 * 1024)

static const char wb_hex[] = "0123456789abcdef";

int wb_journal_new_id(char *id)
{
	unsigned char rnd[8];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	memcpy(id, "wb-", 3);
	for (size_t i = 0; i < sizeof(rnd); i++) {
		id[3 + 2 * i] = wb_hex[rnd[i] >> 4];
		id[4 + 2 * i] = wb_hex[rnd[i] & 15];
	}
	id[WB_ID_LEN] = '\0';
	return 0;
}

int wb_journal_digest(int fd, uint64_t size, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char *buf = malloc(WB_CHUNK);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned mdlen = 0;
	uint64_t off = 0;
	int ret = -ENOMEM;

	if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out_free;
	ret = 0;
	while (ret == 0 && off < size) {
		size_t want =
			size - off < WB_CHUNK ? (size_t)(size - off) : WB_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ret = n < 0 ? -errno : -EIO;
		else if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			ret = -EIO;
		off += n > 0 ? (uint64_t)n : 0;
	}
	if (ret == 0 && !EVP_DigestFinal_ex(ctx, md, &mdlen))
		ret = -EIO;
	for (unsigned i = 0; ret == 0 && i < mdlen && i < 32; i++) {
		hex[2 * i] = wb_hex[md[i] >> 4];
		hex[2 * i + 1] = wb_hex[md[i] & 15];
	}
	if (ret == 0)
		hex[64] = '\0';
out_free:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return ret;
}

static int wb_name(char *out, size_t outsz, const char *dir, const char *id,
		   const char *ext)
{
	int n = snprintf(out, outsz, "%s/%s%s", dir, id, ext);

	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

static int wb_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int wb_journal_link(const char *dir, const char *id, int fd)
{
	char tmp[4200], data[4200], proc[64];
	int ret;

	if (fdatasync(fd) < 0)
		return -errno;
	ret = wb_name(tmp, sizeof(tmp), dir, id, ".data.tmp");
	if (ret == 0)
		ret = wb_name(data, sizeof(data), dir, id, ".data");
	if (ret < 0)
		return ret;
	(void)unlink(tmp);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	/* As spool_keep(): an O_TMPFILE file gets a name via /proc. */
	if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0 &&
	    linkat(fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH) < 0)
		return -errno;
	/* rename() of a second link to the same file does nothing: then
	 * the unlink removes the spare name. */
	ret = rename(tmp, data) < 0 ? -errno : 0;
	(void)unlink(tmp);
	return ret;
}

static int wb_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int wb_journal_save(const char *dir, const struct wb_record *r)
{
	char tmp[4200], rec[4200], *text = malloc(WB_RECORD_MAX);
	int fd = -1, len, ret = -ENOMEM;

	if (!text)
		return ret;
	len = wb_record_format(r, text, WB_RECORD_MAX);
	ret = len < 0 ? len : wb_name(tmp, sizeof(tmp), dir, r->id, ".rec.tmp");
	if (ret == 0)
		ret = wb_name(rec, sizeof(rec), dir, r->id, ".rec");
	if (ret < 0)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = wb_write_all(fd, text, (size_t)len);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (ret == 0 && rename(tmp, rec) < 0)
		ret = -errno;
	if (ret == 0)
		ret = wb_sync_dir(dir);
	else
		(void)unlink(tmp);
out:
	free(text);
	return ret;
}

int wb_journal_load(const char *dir, const char *id, struct wb_record *r)
{
	char name[4200], *text = malloc(WB_RECORD_MAX);
	ssize_t n = -1;
	int fd, ret;

	if (!text)
		return -ENOMEM;
	ret = wb_name(name, sizeof(name), dir, id, ".rec");
	fd = ret == 0 ? open(name, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) {
		free(text);
		return ret < 0 ? ret : -errno;
	}
	n = read(fd, text, WB_RECORD_MAX);
	close(fd);
	ret = n < 0 || n == WB_RECORD_MAX ? -EINVAL
					  : wb_record_parse(text, (size_t)n, r);
	if (ret == 0)
		snprintf(r->id, sizeof(r->id), "%s", id);
	free(text);
	return ret;
}

int wb_journal_open_data(const char *dir, const char *id)
{
	char name[4200];
	int ret = wb_name(name, sizeof(name), dir, id, ".data");
	int fd;

	if (ret < 0)
		return ret;
	fd = open(name, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int wb_journal_remove(const char *dir, const char *id)
{
	char name[4200];
	int ret = wb_name(name, sizeof(name), dir, id, ".rec");

	if (ret == 0 && unlink(name) < 0 && errno != ENOENT)
		ret = -errno;
	if (ret == 0)
		ret = wb_name(name, sizeof(name), dir, id, ".data");
	if (ret == 0 && unlink(name) < 0 && errno != ENOENT)
		ret = -errno;
	return ret == 0 ? wb_sync_dir(dir) : ret;
}

/* Is @name "ID" + @ext for a well-formed ID? */
static bool wb_is_name(const char *name, const char *ext)
{
	size_t elen = strlen(ext);

	if (strlen(name) != WB_ID_LEN + elen || strncmp(name, "wb-", 3) != 0 ||
	    strcmp(name + WB_ID_LEN, ext) != 0)
		return false;
	for (size_t i = 3; i < WB_ID_LEN; i++)
		if (!name[i] || !strchr(wb_hex, name[i]))
			return false;
	return true;
}

struct wb_entry {
	char id[WB_ID_LEN + 1];
	struct timespec when;
};

static int wb_entry_cmp(const void *a, const void *b)
{
	const struct wb_entry *x = a, *y = b;

	if (x->when.tv_sec != y->when.tv_sec)
		return x->when.tv_sec < y->when.tv_sec ? -1 : 1;
	if (x->when.tv_nsec != y->when.tv_nsec)
		return x->when.tv_nsec < y->when.tv_nsec ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Does @dir/@id.rec exist? */
static bool wb_has_record(int dfd, const char *id)
{
	char name[WB_ID_LEN + 8];

	snprintf(name, sizeof(name), "%.*s.rec", WB_ID_LEN, id);
	return faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int wb_journal_keep_orphans(const char *dir, unsigned *kept)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char to[WB_ID_LEN + 16];

	*kept = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (wb_is_name(de->d_name, ".data.tmp")) {
			(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (!wb_is_name(de->d_name, ".data") ||
		    wb_has_record(dirfd(d), de->d_name))
			continue;
		snprintf(to, sizeof(to), "unsaved-%.*s", WB_ID_LEN, de->d_name);
		if (renameat(dirfd(d), de->d_name, dirfd(d), to) == 0)
			(*kept)++;
	}
	closedir(d);
	return 0;
}

int wb_journal_list(const char *dir, char (**ids)[WB_ID_LEN + 1], size_t *n)
{
	struct wb_entry *e = NULL, *grown;
	size_t count = 0, cap = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	*ids = NULL;
	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stat st;

		if (wb_is_name(de->d_name, ".rec.tmp")) {
			(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (!wb_is_name(de->d_name, ".rec") ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(e, cap * sizeof(*e));
			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			e = grown;
		}
		memcpy(e[count].id, de->d_name, WB_ID_LEN);
		e[count].id[WB_ID_LEN] = '\0';
		e[count].when = st.st_mtim;
		count++;
	}
	closedir(d);
	if (ret == 0 && count) {
		qsort(e, count, sizeof(*e), wb_entry_cmp);
		*ids = malloc(count * sizeof(**ids));
		if (!*ids)
			ret = -ENOMEM;
		for (size_t i = 0; ret == 0 && i < count; i++)
			memcpy((*ids)[i], e[i].id, WB_ID_LEN + 1);
		if (ret == 0)
			*n = count;
	}
	free(e);
	return ret;
}
