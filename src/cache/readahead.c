/*
 * readahead.c - which files a reader opens next, and the bounded store of
 * what was fetched for them.  See readahead.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/readahead.h"

/* ---- the order of a directory's names ---- */

void ra_order_free(struct ra_order *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++)
		free(o->names[i]);
	free(o->names);
	free(o->sorted);
	free(o->rank);
	free(o);
}

/* A name and its listing index, to sort. */
struct named {
	const char *name;
	size_t idx;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name,
		      ((const struct named *)b)->name);
}

int ra_order_new(const char *const *names, size_t n, struct ra_order **out)
{
	struct ra_order *o = calloc(1, sizeof(*o));
	struct named *tmp = calloc(n ? n : 1, sizeof(*tmp));

	if (!o || !tmp)
		goto fail;
	o->names = calloc(n ? n : 1, sizeof(*o->names));
	o->sorted = calloc(n ? n : 1, sizeof(*o->sorted));
	o->rank = calloc(n ? n : 1, sizeof(*o->rank));
	if (!o->names || !o->sorted || !o->rank)
		goto fail;
	for (; o->n < n; o->n++) {
		o->names[o->n] = strdup(names[o->n]);
		if (!o->names[o->n])
			goto fail;
		tmp[o->n] = (struct named){ o->names[o->n], o->n };
	}
	qsort(tmp, n, sizeof(*tmp), by_name);
	for (size_t s = 0; s < n; s++) {
		o->sorted[s] = tmp[s].idx;
		o->rank[tmp[s].idx] = s;
	}
	free(tmp);
	*out = o;
	return 0;
fail:
	free(tmp);
	ra_order_free(o);
	return -ENOMEM;
}

ssize_t ra_order_find(const struct ra_order *o, const char *name)
{
	size_t lo = 0, hi = o->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, o->names[o->sorted[mid]]);

		if (c == 0)
			return (ssize_t)o->sorted[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

const char *ra_order_next(const struct ra_order *o, size_t i, unsigned by,
			  size_t k)
{
	if (i >= o->n)
		return NULL;
	if (by == RA_BY_LISTING)
		return i + k < o->n ? o->names[i + k] : NULL;
	if (o->rank[i] + k < o->n)
		return o->names[o->sorted[o->rank[i] + k]];
	return NULL;
}

/* ---- the pattern of opens ---- */

unsigned ra_pattern_opened(struct ra_pattern *p, const struct ra_order *o,
			   size_t i)
{
	unsigned follows = 0;

	if (i >= o->n)
		return 0;
	if (p->valid && p->last == i)
		return 0; /* the same file again */
	if (p->valid && p->last < o->n) {
		if (i == p->last + 1)
			follows |= RA_BY_LISTING;
		if (o->rank[i] == o->rank[p->last] + 1)
			follows |= RA_BY_NAME;
	}
	if (p->streak >= 2)
		follows &= p->by; /* keep to the order the streak followed */
	if (follows) {
		p->streak++;
		p->by = follows;
	} else {
		p->streak = 1;
		p->by = 0;
	}
	p->valid = true;
	p->last = i;
	if (p->streak < 2)
		return 0;
	return (p->by & RA_BY_LISTING) ? RA_BY_LISTING : RA_BY_NAME;
}

/* ---- the store ---- */

static struct ra_entry *store_find(struct ra_store *s, uint64_t dir,
				   const char *name)
{
	for (size_t i = 0; i < RA_ENTRIES; i++)
		if (s->e[i].state != RA_FREE && s->e[i].dir == dir &&
		    strcmp(s->e[i].name, name) == 0)
			return &s->e[i];
	return NULL;
}

static void entry_free(struct ra_store *s, struct ra_entry *e)
{
	if (e->state == RA_READY && e->served < (uint64_t)e->size)
		s->wasted += (uint64_t)e->size - e->served;
	s->bytes -= (size_t)e->size;
	free(e->data);
	memset(e, 0, sizeof(*e));
}

/* The oldest stored entry nobody has begun to read (fetches under way
 * are never evicted, nor a copy part-served: the rest of that file from
 * the server could be another version of it - it expires instead). */
static struct ra_entry *store_oldest_ready(struct ra_store *s)
{
	struct ra_entry *old = NULL;

	for (size_t i = 0; i < RA_ENTRIES; i++)
		if (s->e[i].state == RA_READY && s->e[i].served == 0 &&
		    (!old || s->e[i].since_ms < old->since_ms))
			old = &s->e[i];
	return old;
}

static struct ra_entry *store_free_slot(struct ra_store *s)
{
	for (size_t i = 0; i < RA_ENTRIES; i++)
		if (s->e[i].state == RA_FREE)
			return &s->e[i];
	return NULL;
}

int ra_store_reserve(struct ra_store *s, uint64_t dir, const char *name,
		     off_t size, const struct timespec *mtime, int64_t now_ms,
		     uint64_t *token)
{
	struct ra_entry *e;

	size_t len = strlen(name);

	if (size < 0 || size > RA_FILE_MAX || len >= sizeof(e->name))
		return -EFBIG;
	if (store_find(s, dir, name))
		return -EEXIST;
	for (;;) {
		struct ra_entry *old;

		e = store_free_slot(s);
		if (e && s->bytes + (size_t)size <= RA_BUDGET)
			break;
		old = store_oldest_ready(s);
		if (!old)
			return -ENOSPC;
		entry_free(s, old);
	}
	e->state = RA_RESERVED;
	memcpy(e->name, name, len + 1);
	e->dir = dir;
	e->token = ++s->next_token;
	e->size = size;
	e->mtime = *mtime;
	e->since_ms = now_ms;
	s->bytes += (size_t)size;
	*token = e->token;
	return 0;
}

static struct ra_entry *store_by_token(struct ra_store *s, uint64_t token)
{
	for (size_t i = 0; i < RA_ENTRIES; i++)
		if (s->e[i].state != RA_FREE && s->e[i].token == token)
			return &s->e[i];
	return NULL;
}

int ra_store_start(struct ra_store *s, uint64_t token, struct ra_entry *out)
{
	struct ra_entry *e = store_by_token(s, token);

	if (!e || e->state != RA_RESERVED)
		return -ENOENT;
	e->state = RA_FETCHING;
	*out = *e;
	return 0;
}

int ra_store_fill(struct ra_store *s, uint64_t token, char *data, size_t len,
		  int64_t now_ms)
{
	struct ra_entry *e = store_by_token(s, token);

	if (!e || e->state != RA_FETCHING || len != (size_t)e->size) {
		s->wasted += len;
		if (e)
			entry_free(s, e);
		return -ENOENT;
	}
	e->state = RA_READY;
	e->data = data;
	e->since_ms = now_ms;
	return 0;
}

void ra_store_cancel(struct ra_store *s, uint64_t token)
{
	struct ra_entry *e = store_by_token(s, token);

	if (e && e->state != RA_READY)
		entry_free(s, e);
}

void ra_store_drop(struct ra_store *s, uint64_t dir, const char *name)
{
	struct ra_entry *e = store_find(s, dir, name);

	if (e)
		entry_free(s, e);
}

void ra_store_drop_unstarted(struct ra_store *s, uint64_t dir)
{
	for (size_t i = 0; i < RA_ENTRIES; i++)
		if (s->e[i].state == RA_RESERVED && s->e[i].dir == dir)
			entry_free(s, &s->e[i]);
}

void ra_store_expire(struct ra_store *s, int64_t now_ms)
{
	for (size_t i = 0; i < RA_ENTRIES; i++)
		if (s->e[i].state == RA_READY &&
		    now_ms - s->e[i].since_ms >= RA_TTL_MS)
			entry_free(s, &s->e[i]);
}

ssize_t ra_store_read(struct ra_store *s, uint64_t dir, const char *name,
		      off_t size, const struct timespec *mtime, char *buf,
		      size_t len, uint64_t off, bool *first)
{
	struct ra_entry *e = store_find(s, dir, name);
	size_t n = 0;

	*first = false;
	if (e && e->state == RA_RESERVED)
		entry_free(s, e); /* the reader came first: no need any more */
	if (!e || e->state != RA_READY)
		return -ENOENT;
	if (e->size != size || e->mtime.tv_sec != mtime->tv_sec ||
	    e->mtime.tv_nsec != mtime->tv_nsec) {
		entry_free(s, e); /* the file changed: never serve it */
		return -ENOENT;
	}
	*first = e->served == 0;
	if (off < (uint64_t)e->size) {
		n = (uint64_t)e->size - off < len
			    ? (size_t)((uint64_t)e->size - off)
			    : len;
		memcpy(buf, e->data + off, n);
		if (off <= e->served && off + n > e->served)
			e->served = off + n;
	}
	if (e->served >= (uint64_t)e->size)
		entry_free(s, e);
	return (ssize_t)n;
}

bool ra_store_fetching(struct ra_store *s, uint64_t dir, const char *name)
{
	struct ra_entry *e = store_find(s, dir, name);

	return e && e->state == RA_FETCHING;
}

void ra_store_clear(struct ra_store *s)
{
	for (size_t i = 0; i < RA_ENTRIES; i++)
		if (s->e[i].state != RA_FREE)
			entry_free(s, &s->e[i]);
}
