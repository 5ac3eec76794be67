/*
 * tofu.c - read and append the known_hosts file of trust on first use.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftpsfs/smallfile.h"
#include "ftpsfs/tofu.h"

#define KNOWN_HOSTS_FILE_MAX (4 << 20)

/* Whoever can write the file chooses the servers we trust. */
static int tofu_check_owner(const struct stat *st, const char *path, char *err,
			    size_t errsz)
{
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errsz, "%s is not a regular file", path);
		return -EINVAL;
	}
	if (st->st_uid != getuid() && st->st_uid != 0) {
		snprintf(err, errsz,
			 "%s belongs to another user (uid %u): refusing to "
			 "trust it",
			 path, (unsigned)st->st_uid);
		return -EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errsz,
			 "%s may be written by group or others (mode %04o): "
			 "refusing to trust it; run chmod 600 %s",
			 path, (unsigned)(st->st_mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

/* The whole file open on @fd, once its owner and mode are checked. */
static int tofu_read(int fd, const char *path, char **text, size_t *len,
		     char *err, size_t errsz)
{
	struct stat st;
	int ret;

	if (fstat(fd, &st) < 0)
		return -errno;
	ret = tofu_check_owner(&st, path, err, errsz);
	if (ret < 0)
		return ret;
	ret = small_file_read(fd, KNOWN_HOSTS_FILE_MAX, text, len);
	if (ret == -EFBIG)
		snprintf(err, errsz, "%s is too large", path);
	return ret;
}

/* @path's directory part, created (mode 0700) with its parents. */
static int tofu_mkdirs(const char *path)
{
	char dir[4096];
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int tofu_load(struct tofu *t, const char *host, bool host_is_ip, uint16_t port,
	      char *err, size_t errsz)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *text = NULL;
	size_t len = 0;
	int fd, ret, n;

	memset(t, 0, sizeof(*t));
	ret = known_hosts_key(host, host_is_ip, port, t->key, sizeof(t->key));
	if (ret < 0) {
		snprintf(err, errsz, "tofu: unusable host name");
		return ret;
	}
	/* XDG base directories: a relative $XDG_CONFIG_HOME is invalid. */
	if (xdg && xdg[0] == '/')
		n = snprintf(t->path, sizeof(t->path), "%s/ftpsfs/known_hosts",
			     xdg);
	else if (home && home[0] == '/')
		n = snprintf(t->path, sizeof(t->path),
			     "%s/.config/ftpsfs/known_hosts", home);
	else {
		snprintf(err, errsz,
			 "tofu: neither $XDG_CONFIG_HOME nor $HOME "
			 "is set: nowhere to keep known hosts");
		return -ENOENT;
	}
	if (n < 0 || (size_t)n >= sizeof(t->path)) {
		snprintf(err, errsz, "tofu: known_hosts path too long");
		return -ENAMETOOLONG;
	}
	fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errsz, "cannot read %s: %s", t->path,
			 strerror(-ret));
		return ret;
	}
	ret = tofu_read(fd, t->path, &text, &len, err, errsz);
	close(fd);
	if (ret < 0)
		return ret;
	t->known = known_hosts_lookup(text, len, t->key, t->pin, &t->line) == 0;
	free(text);
	return 0;
}

int tofu_record(struct tofu *t, const uint8_t fp[FINGERPRINT_LEN], char *err,
		size_t errsz)
{
	char line[KNOWN_HOSTS_KEY_MAX + FINGERPRINT_TEXT_LEN + 4];
	char *text = NULL;
	size_t len = 0;
	unsigned lines = 0;
	int fd, ret, n;

	err[0] = '\0';
	ret = tofu_mkdirs(t->path);
	if (ret < 0) {
		snprintf(err, errsz, "cannot create the directory of %s: %s",
			 t->path, strerror(-ret));
		return ret;
	}
	fd = open(t->path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errsz, "cannot write %s: %s", t->path,
			 strerror(-ret));
		return ret;
	}
	/* Two mounts of one new server at once: one records, the other
	 * must agree with it. */
	if (flock(fd, LOCK_EX) < 0) {
		ret = -errno;
		goto out;
	}
	ret = tofu_read(fd, t->path, &text, &len, err, errsz);
	if (ret < 0)
		goto out;
	if (known_hosts_lookup(text, len, t->key, t->pin, &t->line) == 0) {
		t->known = true;
		if (CRYPTO_memcmp(t->pin, fp, FINGERPRINT_LEN) != 0) {
			snprintf(err, errsz,
				 "%s line %u was just recorded for %s by "
				 "another mount, with a different key: "
				 "refusing to connect",
				 t->path, t->line, t->key);
			ret = -EPERM;
		}
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	/* A hand-edited file may lack its last newline. */
	n = len > 0 && text[len - 1] != '\n' ? 1 : 0;
	if (n)
		line[0] = '\n';
	ret = known_hosts_format_line(t->key, fp, line + n, sizeof(line) - n);
	if (ret < 0)
		goto out;
	if (write(fd, line, (size_t)ret + (size_t)n) != ret + n ||
	    fsync(fd) < 0) {
		ret = -EIO;
		goto out;
	}
	memcpy(t->pin, fp, FINGERPRINT_LEN);
	t->known = true;
	t->line = lines + (unsigned)n + 1;
	ret = 0;
out:
	if (ret < 0 && !err[0])
		snprintf(err, errsz, "cannot record the server's key in %s: %s",
			 t->path, strerror(-ret));
	free(text);
	close(fd);
	return ret;
}
