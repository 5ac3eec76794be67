/*
 * tofu.h - trust on first use: the per-user known_hosts file.
 *
 * The file is $XDG_CONFIG_HOME/ftpsfs/known_hosts, or
 * ~/.config/ftpsfs/known_hosts (format: known_hosts.h).  Directories are
 * created with mode 0700 and the file with 0600; a file that another user
 * owns or that group or others may write is refused, because whoever can
 * write it decides which server we trust.
 */
#ifndef FTPSFS_TOFU_H
#define FTPSFS_TOFU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftpsfs/known_hosts.h"

struct tofu {
	char path[4096];
	char key[KNOWN_HOSTS_KEY_MAX]; /* "host:port" */
	bool known;		       /* a pin is recorded: */
	uint8_t pin[FINGERPRINT_LEN];  /* ... this one, */
	unsigned line;		       /* ... on this line */
};

/*
 * Locate the file and look up the server.  Returns 0 (t->known tells
 * whether a pin is recorded; a missing file means none), or a negative
 * errno with a message in @err (no HOME, unsafe or unreadable file).
 */
int tofu_load(struct tofu *t, const char *host, bool host_is_ip, uint16_t port,
	      char *err, size_t errsz);

/*
 * Record @fp for t->key (appends a line, under an exclusive lock).  If
 * another process recorded a pin for the server meanwhile, that one must
 * equal @fp (else -EPERM).  Returns 0 with t->known, t->pin and t->line
 * set, or a negative errno with a message in @err.
 */
int tofu_record(struct tofu *t, const uint8_t fp[FINGERPRINT_LEN], char *err,
		size_t errsz);

#endif
