/*
 * secret.h - passwords in locked, wiped memory.
 *
 * A secret is read once at start-up (never from argv), kept in memory that
 * mlock() keeps out of swap, and wiped with OPENSSL_cleanse() when freed.
 */
#ifndef FTPSFS_SECRET_H
#define FTPSFS_SECRET_H

#include <signal.h>
#include <stddef.h>

#define SECRET_MAX 1023

struct secret {
	char *value; /* NUL-terminated; page-aligned locked buffer */
	size_t len;
};

/* Copy @len bytes of @value.  Returns 0 or -ENOMEM / -EINVAL (CR, LF or
 * NUL inside: such a password could never be sent as a command). */
int secret_set(struct secret *s, const char *value, size_t len);

/*
 * Read one line from @fd (the terminating newline and a CR before it are
 * dropped).  Returns 0, -ENODATA on empty input, -ENAMETOOLONG when longer
 * than SECRET_MAX, or a negative errno.
 */
int secret_read_line(struct secret *s, int fd);

/*
 * The same, but a read interrupted by a signal ends it with -ECANCELED
 * when *@cancel is set (a prompt that Ctrl-C must be able to stop).
 */
int secret_read_line_cancel(struct secret *s, int fd,
			    const volatile sig_atomic_t *cancel);

/* Wipe and free.  Safe on a zeroed struct. */
void secret_wipe(struct secret *s);

#endif
