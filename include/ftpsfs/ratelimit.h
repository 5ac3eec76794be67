/*
 * ratelimit.h - bandwidth caps for the whole mount (-o bwlimit=,
 * bwlimit_up=; user.ftpsfs.bwlimit and bwlimit_up change them mounted).
 *
 * One token bucket per direction, shared by every data connection of the
 * process (a documented singleton, like the statistics: the data layer
 * uses it without a context to carry).  The bytes of a transfer pass
 * ftp_xfer_read()/ftp_xfer_write(), which account them here and sleep
 * while the direction is ahead of its rate.  An idle direction saves up
 * at most RATELIMIT_BURST_MS worth of bytes, so that the rate over any
 * stretch of seconds stays within a few percent of the cap.
 */
#ifndef FTPSFS_RATELIMIT_H
#define FTPSFS_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_BURST_MS 100

enum ratelimit_dir {
	RATELIMIT_DOWN, /* downloads and listings: bytes we read */
	RATELIMIT_UP,	/* uploads: bytes we write */
	RATELIMIT_DIRS
};

/* Cap @d at @bps bytes per second; 0 removes the cap.  Thread-safe; takes
 * effect for the next bytes of transfers already running. */
void ratelimit_set(enum ratelimit_dir d, uint64_t bps);

/* The cap of @d (0: none). */
uint64_t ratelimit_get(enum ratelimit_dir d);

/* How much of @len to move at once under the cap (a tenth of a second's
 * worth, at least 4 KiB), so that the sleeps stay short; @len when there
 * is no cap. */
size_t ratelimit_chunk(enum ratelimit_dir d, size_t len);

/*
 * @n bytes moved (read) or about to be (written) in direction @d: sleep
 * while the direction is ahead of its cap.  Returns 0, or -EINTR when
 * the calling thread's cancel flag ended the sleep (net_set_cancel()).
 */
int ratelimit_account(enum ratelimit_dir d, size_t n);

#endif
