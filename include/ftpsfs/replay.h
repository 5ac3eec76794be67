/*
 * replay.h - the most recent bytes of a stream, kept to be sent again.
 *
 * A streaming upload cut by a network fault can go on from wherever the
 * server's copy ends, as long as that lies within the bytes we still
 * hold: those that were in flight (socket buffers on both sides, a TLS
 * record) when the connection broke.  A replay buffer keeps the last @max
 * bytes appended; it grows as data comes (a small file costs little) and
 * then wraps.  Pure memory, no I/O, not thread-safe (its owner's lock).
 */
#ifndef FTPSFS_REPLAY_H
#define FTPSFS_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct replay {
	unsigned char *buf;
	size_t cap; /* allocated; grows up to max */
	size_t max;
	size_t head;  /* index of the oldest byte kept */
	size_t len;   /* bytes kept: [end - len, end) */
	uint64_t end; /* stream offset just past the newest byte */
};

/* An empty buffer keeping at most @max bytes, starting at stream offset
 * @start (no allocation yet). */
void replay_init(struct replay *r, size_t max, uint64_t start);
void replay_free(struct replay *r);

/* Append @n bytes (the oldest ones fall out beyond max).  Returns 0, or
 * -ENOMEM (then the buffer keeps nothing: a resume will not be possible,
 * but the stream itself goes on). */
int replay_append(struct replay *r, const void *p, size_t n);

/* Stream offset of the oldest byte kept (== end when empty). */
static inline uint64_t replay_start(const struct replay *r)
{
	return r->end - r->len;
}

/* Copy up to @n bytes from stream offset @from into @out.  Returns the
 * count (0 at the end), or -ERANGE when @from is not kept. */
ssize_t replay_read(const struct replay *r, uint64_t from, void *out, size_t n);

#endif
