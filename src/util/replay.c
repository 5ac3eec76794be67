/*
 * replay.c - the replay buffer of a streaming upload.  See replay.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/replay.h"

/* First allocation; then doubling while below max. */
#define REPLAY_FIRST_CAP (64 * 1024)

void replay_init(struct replay *r, size_t max, uint64_t start)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->end = start;
}

void replay_free(struct replay *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->head = r->len = 0;
}

/* Room for @want bytes while the data is still linear (head 0, never
 * wrapped: the buffer only wraps once it is max long). */
static int replay_grow(struct replay *r, size_t want)
{
	size_t cap = r->cap ? r->cap : REPLAY_FIRST_CAP;
	unsigned char *p;

	while (cap < want && cap < r->max)
		cap = cap > r->max / 2 ? r->max : cap * 2;
	if (cap > r->max)
		cap = r->max;
	if (cap <= r->cap)
		return 0;
	p = realloc(r->buf, cap);
	if (!p)
		return -ENOMEM;
	r->buf = p;
	r->cap = cap;
	return 0;
}

int replay_append(struct replay *r, const void *p, size_t n)
{
	const unsigned char *src = p;

	r->end += n;
	if (r->max == 0)
		return 0;
	if (n >= r->max) {
		/* Only the tail fits: keep the last max bytes. */
		src += n - r->max;
		n = r->max;
		r->head = 0;
		r->len = 0;
	}
	if (r->len + n > r->cap && r->cap < r->max &&
	    replay_grow(r, r->len + n) < 0) {
		replay_free(r);
		return -ENOMEM;
	}
	while (n > 0) {
		size_t tail = (r->head + r->len) % r->cap;
		size_t chunk = r->cap - tail < n ? r->cap - tail : n;

		memcpy(r->buf + tail, src, chunk);
		src += chunk;
		n -= chunk;
		if (r->len + chunk <= r->cap) {
			r->len += chunk;
		} else {
			/* Overwrote the oldest bytes. */
			size_t over = r->len + chunk - r->cap;

			r->head = (r->head + over) % r->cap;
			r->len = r->cap;
		}
	}
	return 0;
}

ssize_t replay_read(const struct replay *r, uint64_t from, void *out, size_t n)
{
	uint64_t start = replay_start(r);
	size_t off, done = 0;

	if (from < start || from > r->end)
		return -ERANGE;
	off = (size_t)(from - start);
	if (n > r->len - off)
		n = r->len - off;
	while (done < n) {
		size_t pos = (r->head + off + done) % r->cap;
		size_t chunk =
			r->cap - pos < n - done ? r->cap - pos : n - done;

		memcpy((unsigned char *)out + done, r->buf + pos, chunk);
		done += chunk;
	}
	return (ssize_t)done;
}
