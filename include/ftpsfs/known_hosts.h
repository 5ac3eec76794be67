/*
 * known_hosts.h - the trust-on-first-use file, as text.
 *
 * One server per line: "HOST:PORT sha256:HEX", where HEX is the SHA-256 of
 * the server certificate's public key (SubjectPublicKeyInfo, DER) and HOST
 * is the name as typed on the command line, lower-cased; IPv6 literals are
 * bracketed ("[::1]:21").  Fields are separated by spaces or tabs; empty
 * lines and lines starting with '#' are ignored, as are malformed lines
 * (so a hand-edit cannot lock a user out of every server).  The FIRST line
 * for a host wins.
 *
 * Pure functions over bytes: no I/O, no globals (the file itself is read
 * and written by tofu.c).
 */
#ifndef FTPSFS_KNOWN_HOSTS_H
#define FTPSFS_KNOWN_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftpsfs/fingerprint.h"

/* "[" + 255 + "]:" + 5 digits + NUL */
#define KNOWN_HOSTS_KEY_MAX 264

/*
 * The key of a server: "host:port", "[v6]:port"; host lower-cased.
 * Returns 0, or -EINVAL for an empty host or one with whitespace or
 * control characters (it could not be written on one line), or
 * -ENAMETOOLONG.
 */
int known_hosts_key(const char *host, bool host_is_ip, uint16_t port, char *out,
		    size_t outsz);

/*
 * Find @key in @text (@len bytes).  Returns 0 with the recorded
 * fingerprint in @fp and its 1-based line number in *line, or -ENOENT.
 */
int known_hosts_lookup(const char *text, size_t len, const char *key,
		       uint8_t fp[FINGERPRINT_LEN], unsigned *line);

/*
 * The line to append for @key and @fp, with its newline.  Returns the
 * length, or -ENAMETOOLONG when @outsz is too small.
 */
int known_hosts_format_line(const char *key, const uint8_t fp[FINGERPRINT_LEN],
			    char *out, size_t outsz);

#endif
