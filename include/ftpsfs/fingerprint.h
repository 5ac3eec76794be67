/*
 * fingerprint.h - SHA-256 fingerprints as users write them.
 *
 * Accepted text: "sha256:" (any case) followed by 64 hex digits (any
 * case), optionally with a ':' between two-digit bytes, as
 * `openssl x509 -noout -fingerprint -sha256` prints them
 * ("sha256:AB:CD:...") or as `openssl dgst -sha256` prints a public key
 * hash ("sha256:abcd...").  Printed form: "sha256:" and 64 lower-case hex
 * digits without colons (short enough for one log line).
 *
 * Pure functions: no I/O, no globals.
 */
#ifndef FTPSFS_FINGERPRINT_H
#define FTPSFS_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#define FINGERPRINT_LEN	     32			       /* SHA-256 */
#define FINGERPRINT_TEXT_LEN (7 + 2 * FINGERPRINT_LEN) /* "sha256:"+hex */

/*
 * Parse @len bytes of @text into @out.  Returns 0, or -EINVAL (no
 * "sha256:" prefix, not exactly 64 hex digits, a colon that does not sit
 * between two bytes, or any other character).
 */
int fingerprint_parse(const char *text, size_t len,
		      uint8_t out[FINGERPRINT_LEN]);

/* Write the printed form of @fp into @out (FINGERPRINT_TEXT_LEN + 1
 * bytes: always NUL-terminated). */
void fingerprint_format(const uint8_t fp[FINGERPRINT_LEN],
			char out[FINGERPRINT_TEXT_LEN + 1]);

#endif
