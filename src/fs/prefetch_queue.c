/*
 * prefetch_queue.c - the queue of jobs fetched ahead, and telling a tree
 * walk from a directory listed alone.  See prefetch_queue.h.
 */
#include "ftpsfs/prefetch_queue.h"

static bool pfq_same(const struct pfq_job *a, const struct pfq_job *b)
{
	return a->ino == b->ino && a->token == b->token;
}

bool pfq_running(const struct pf_queue *q, const struct pfq_job *job)
{
	for (unsigned w = 0; w < PFQ_WORKERS; w++)
		if (q->busy[w] && pfq_same(&q->running[w], job))
			return true;
	return false;
}

/* Is @job waiting or running already? */
static bool pfq_known(const struct pf_queue *q, const struct pfq_job *job)
{
	for (unsigned i = 0; i < q->len; i++)
		if (pfq_same(&q->queue[(q->head + i) % PFQ_LEN], job))
			return true;
	return pfq_running(q, job);
}

bool pfq_push(struct pf_queue *q, const struct pfq_job *job)
{
	if (pfq_known(q, job))
		return true;
	if (q->len >= PFQ_LEN)
		return false;
	q->queue[(q->head + q->len++) % PFQ_LEN] = *job;
	return true;
}

/* How many listings run now. */
static unsigned pfq_listings_running(const struct pf_queue *q)
{
	unsigned n = 0;

	for (unsigned w = 0; w < PFQ_WORKERS; w++)
		if (q->busy[w] && q->running[w].token == 0)
			n++;
	return n;
}

bool pfq_take(struct pf_queue *q, unsigned w, struct pfq_job *job)
{
	bool files_only = pfq_listings_running(q) >= PFQ_LIST_WORKERS;
	unsigned i = 0;

	while (files_only && i < q->len &&
	       q->queue[(q->head + i) % PFQ_LEN].token == 0)
		i++;
	if (i >= q->len)
		return false;
	*job = q->queue[(q->head + i) % PFQ_LEN];
	/* The jobs queued before it move back one place, in order. */
	for (; i > 0; i--)
		q->queue[(q->head + i) % PFQ_LEN] =
			q->queue[(q->head + i - 1) % PFQ_LEN];
	q->head = (q->head + 1) % PFQ_LEN;
	q->len--;
	q->running[w] = *job;
	q->busy[w] = true;
	return true;
}

void pfq_done(struct pf_queue *q, unsigned w)
{
	q->busy[w] = false;
}

void pfq_clear(struct pf_queue *q)
{
	q->len = 0;
}

void pfq_opened(struct pf_queue *q, uint64_t dir, uint64_t parent,
		int64_t now_ms)
{
	for (unsigned i = 0; parent && i < PFQ_RECENT; i++)
		if (q->recent[i].ino == parent &&
		    now_ms - q->recent[i].at < PFQ_WALK_MS)
			q->walk_until = now_ms + PFQ_WALK_MS;
	q->recent[q->recent_next].ino = dir;
	q->recent[q->recent_next].at = now_ms;
	q->recent_next = (q->recent_next + 1) % PFQ_RECENT;
}

bool pfq_walking(const struct pf_queue *q, int64_t now_ms)
{
	return now_ms < q->walk_until;
}
