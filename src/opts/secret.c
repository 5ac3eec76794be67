/*
 * secret.c - locked, wiped storage for passwords.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ftpsfs/secret.h"

#define SECRET_BUF_SIZE 4096 /* one page: SECRET_MAX + NUL fits */

static int secret_alloc(struct secret *s)
{
	void *p = NULL;

	if (s->value)
		return 0;
	if (posix_memalign(&p, SECRET_BUF_SIZE, SECRET_BUF_SIZE) != 0)
		return -ENOMEM;
	memset(p, 0, SECRET_BUF_SIZE);
	/* Best effort: unprivileged users may have no mlock budget. */
	(void)mlock(p, SECRET_BUF_SIZE);
	s->value = p;
	s->len = 0;
	return 0;
}

int secret_set(struct secret *s, const char *value, size_t len)
{
	int ret;

	if (len > SECRET_MAX)
		return -ENAMETOOLONG;
	if (memchr(value, '\r', len) || memchr(value, '\n', len) ||
	    memchr(value, '\0', len))
		return -EINVAL;
	ret = secret_alloc(s);
	if (ret < 0)
		return ret;
	memcpy(s->value, value, len);
	s->value[len] = '\0';
	s->len = len;
	return 0;
}

int secret_read_line(struct secret *s, int fd)
{
	return secret_read_line_cancel(s, fd, NULL);
}

int secret_read_line_cancel(struct secret *s, int fd,
			    const volatile sig_atomic_t *cancel)
{
	size_t len = 0;
	int ret = secret_alloc(s);

	if (ret < 0)
		return ret;
	/* Byte by byte: must not consume input beyond the newline. */
	for (;;) {
		char ch;
		ssize_t n = read(fd, &ch, 1);

		if (n < 0 && errno == EINTR) {
			if (cancel && *cancel) {
				OPENSSL_cleanse(s->value, SECRET_BUF_SIZE);
				return -ECANCELED;
			}
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0 || ch == '\n')
			break;
		if (len >= SECRET_MAX) {
			OPENSSL_cleanse(s->value, SECRET_BUF_SIZE);
			return -ENAMETOOLONG;
		}
		s->value[len++] = ch;
	}
	if (len > 0 && s->value[len - 1] == '\r')
		len--;
	s->value[len] = '\0';
	s->len = len;
	if (len == 0)
		return -ENODATA;
	if (memchr(s->value, '\0', len) || memchr(s->value, '\r', len))
		return -EINVAL;
	return 0;
}

void secret_wipe(struct secret *s)
{
	if (!s->value)
		return;
	OPENSSL_cleanse(s->value, SECRET_BUF_SIZE);
	munlock(s->value, SECRET_BUF_SIZE);
	free(s->value);
	s->value = NULL;
	s->len = 0;
}
