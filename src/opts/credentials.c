/*
 * credentials.c - password from stdin or netrc.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftpsfs/credentials.h"
#include "ftpsfs/netrc.h"

#define NETRC_FILE_MAX (1 << 20)

/* Read a whole small file; *text is NUL-terminated, wipe it after use. */
static int read_small_file(const char *path, char **text, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > NETRC_FILE_MAX) {
		ret = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

static int credentials_from_netrc(const char *path, struct hostspec *hs,
				  struct secret *pw, char *err, size_t errsz)
{
	struct netrc_match *m = NULL;
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = read_small_file(path, &text, &len);
	if (ret == -ENOENT)
		return 0; /* no netrc: fine */
	if (ret < 0) {
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		ret = -ENOMEM;
		goto out;
	}
	ret = netrc_lookup(text, len, hs->host, hs->user, m);
	if (ret == -ENOENT) {
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		snprintf(err, errsz, "%s: malformed netrc file", path);
		goto out;
	}
	if (!hs->user[0] && strlen(m->login) >= sizeof(hs->user)) {
		snprintf(err, errsz, "%s: login name too long", path);
		ret = -ENAMETOOLONG;
		goto out;
	}
	if (!hs->user[0])
		memcpy(hs->user, m->login, strlen(m->login) + 1);
	if (m->password[0])
		ret = secret_set(pw, m->password, strlen(m->password));
out:
	if (m)
		OPENSSL_cleanse(m, sizeof(*m));
	free(m);
	if (text)
		OPENSSL_cleanse(text, len);
	free(text);
	return ret;
}

int credentials_resolve(const struct ftpsfs_opts *o, struct hostspec *hs,
			struct secret *pw, char *err, size_t errsz)
{
	char path[4096];
	int ret;

	if (o->password_stdin) {
		ret = secret_read_line(pw, STDIN_FILENO);
		if (ret < 0) {
			snprintf(err, errsz, "password_stdin: %s",
				 ret == -ENODATA ? "no password on standard input"
						 : strerror(-ret));
			return ret;
		}
	} else {
		const char *home = getenv("HOME");

		if (o->netrc)
			snprintf(path, sizeof(path), "%s", o->netrc);
		else
			snprintf(path, sizeof(path), "%s/.netrc",
				 home ? home : "");
		if (o->netrc || home) {
			ret = credentials_from_netrc(path, hs, pw, err, errsz);
			if (ret < 0)
				return ret;
		}
	}
	if (!hs->user[0]) {
		snprintf(err, errsz,
			 "no user name: write user@host, or add a login for %s "
			 "to your netrc file",
			 hs->host);
		return -EINVAL;
	}
	return 0;
}
