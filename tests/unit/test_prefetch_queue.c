/*
 * Unit tests for the queue of work fetched ahead (src/fs/prefetch_queue.c):
 * its order, its bound (more work is dropped), a job known once whether
 * waiting or running, and telling a tree walk from a directory listed
 * alone.
 */
#include "check.h"
#include "ftpsfs/prefetch_queue.h"

#define LIST(ino) (&(struct pfq_job){ (ino), 0 })

TEST(jobs_are_taken_in_the_order_they_came)
{
	struct pf_queue q = { 0 };
	struct pfq_job job;

	CHECK(pfq_push(&q, LIST(5)));
	CHECK(pfq_push(&q, &(struct pfq_job){ 5, 9 })); /* a file of dir 5 */
	CHECK(pfq_push(&q, LIST(3)));
	CHECK(pfq_take(&q, 0, &job));
	CHECK(job.ino == 5 && job.token == 0);
	CHECK(pfq_take(&q, 1, &job));
	CHECK(job.ino == 5 && job.token == 9);
	pfq_done(&q, 0);
	CHECK(pfq_take(&q, 0, &job));
	CHECK(job.ino == 3);
	CHECK(!pfq_take(&q, 0, &job));
}

TEST(listings_run_at_most_PFQ_LIST_WORKERS_at_once_files_on_all)
{
	struct pf_queue q = { 0 };
	struct pfq_job job;
	unsigned w = 0;

	for (uint64_t i = 1; i <= PFQ_LIST_WORKERS + 1; i++)
		CHECK(pfq_push(&q, LIST(i)));
	for (uint64_t t = 1; t <= PFQ_WORKERS; t++)
		CHECK(pfq_push(&q, &(struct pfq_job){ 50, t }));
	for (; w < PFQ_LIST_WORKERS; w++) {
		CHECK(pfq_take(&q, w, &job));
		CHECK(job.token == 0 && job.ino == w + 1);
	}
	/* The next listing waits; the files behind it are taken in order
	 * by every other worker. */
	for (uint64_t t = 1; w < PFQ_WORKERS; w++, t++) {
		CHECK(pfq_take(&q, w, &job));
		CHECK(job.ino == 50 && job.token == t);
	}
	pfq_done(&q, PFQ_WORKERS - 1); /* a file ended */
	/* Still PFQ_LIST_WORKERS listings running: a file, not the
	 * listing. */
	CHECK(pfq_take(&q, PFQ_WORKERS - 1, &job));
	CHECK(job.ino == 50 && job.token == PFQ_WORKERS - PFQ_LIST_WORKERS + 1);
	pfq_done(&q, PFQ_WORKERS - 1);
	pfq_done(&q, 0);
	/* A listing ended: the one that waited comes first again. */
	CHECK(pfq_take(&q, 0, &job));
	CHECK(job.token == 0 && job.ino == PFQ_LIST_WORKERS + 1);
	while (pfq_take(&q, PFQ_WORKERS - 1, &job)) {
		CHECK(job.ino == 50);
		pfq_done(&q, PFQ_WORKERS - 1);
	}
	CHECK_INT(q.len, 0);
}

TEST(a_full_queue_drops_more_work)
{
	struct pf_queue q = { 0 };
	struct pfq_job job;

	for (uint64_t i = 1; i <= PFQ_LEN; i++)
		CHECK(pfq_push(&q, LIST(i)));
	CHECK(!pfq_push(&q, LIST(PFQ_LEN + 1)));
	CHECK(pfq_push(&q, LIST(1))); /* waiting already: not dropped */
	/* A place taken frees one, and the ring wraps in order. */
	CHECK(pfq_take(&q, 0, &job) && job.ino == 1);
	CHECK(pfq_push(&q, LIST(PFQ_LEN + 1)));
	for (uint64_t i = 2; i <= PFQ_LEN + 1; i++) {
		CHECK(pfq_take(&q, 1, &job));
		CHECK_INT(job.ino, i);
		pfq_done(&q, 1);
	}
	CHECK(!pfq_take(&q, 1, &job));
}

TEST(a_job_waiting_or_running_is_not_queued_twice)
{
	struct pf_queue q = { 0 };
	struct pfq_job job;

	CHECK(pfq_push(&q, LIST(7)));
	CHECK(pfq_push(&q, LIST(7)));
	CHECK_INT(q.len, 1);
	CHECK(pfq_take(&q, 1, &job));
	CHECK(pfq_running(&q, LIST(7)));
	CHECK(pfq_push(&q, LIST(7))); /* running: its listing serves */
	CHECK_INT(q.len, 0);
	CHECK(!pfq_running(&q, &(struct pfq_job){ 7, 1 }));
	pfq_done(&q, 1);
	CHECK(!pfq_running(&q, LIST(7)));
	CHECK(pfq_push(&q, LIST(7))); /* done: may be fetched again */
	CHECK_INT(q.len, 1);
}

TEST(clearing_drops_waiting_jobs_not_running_ones)
{
	struct pf_queue q = { 0 };
	struct pfq_job job;

	CHECK(pfq_push(&q, LIST(1)));
	CHECK(pfq_push(&q, LIST(2)));
	CHECK(pfq_take(&q, 0, &job));
	pfq_clear(&q);
	CHECK(!pfq_take(&q, 1, &job));
	CHECK(pfq_running(&q, LIST(1)));
}

TEST(a_directory_opened_alone_is_no_walk)
{
	struct pf_queue q = { 0 };
	int64_t t = 1000000;

	pfq_opened(&q, 10, 1, t);
	CHECK(!pfq_walking(&q, t));
	pfq_opened(&q, 11, 1, t + 100); /* a sibling: still no walk */
	CHECK(!pfq_walking(&q, t + 100));
	pfq_opened(&q, 12, 0, t + 200); /* parent unknown */
	CHECK(!pfq_walking(&q, t + 200));
}

TEST(a_child_opened_soon_after_its_parent_starts_a_walk)
{
	struct pf_queue q = { 0 };
	int64_t t = 1000000;

	pfq_opened(&q, 10, 1, t);
	pfq_opened(&q, 20, 10, t + PFQ_WALK_MS - 1);
	CHECK(pfq_walking(&q, t + PFQ_WALK_MS - 1));
	/* It lasts PFQ_WALK_MS after that open. */
	CHECK(pfq_walking(&q, t + 2 * PFQ_WALK_MS - 2));
	CHECK(!pfq_walking(&q, t + 2 * PFQ_WALK_MS - 1));
}

TEST(a_parent_opened_too_long_ago_or_forgotten_starts_no_walk)
{
	struct pf_queue q = { 0 };
	int64_t t = 1000000;

	pfq_opened(&q, 10, 1, t);
	pfq_opened(&q, 20, 10, t + PFQ_WALK_MS); /* too late */
	CHECK(!pfq_walking(&q, t + PFQ_WALK_MS));
	/* PFQ_RECENT other directories push 10 out of memory. */
	pfq_opened(&q, 10, 1, t + PFQ_WALK_MS);
	for (uint64_t i = 0; i < PFQ_RECENT; i++)
		pfq_opened(&q, 100 + i, 0, t + PFQ_WALK_MS);
	pfq_opened(&q, 21, 10, t + PFQ_WALK_MS + 1);
	CHECK(!pfq_walking(&q, t + PFQ_WALK_MS + 1));
}

static const struct check_case cases[] = {
	TEST_ENTRY(jobs_are_taken_in_the_order_they_came),
	TEST_ENTRY(listings_run_at_most_PFQ_LIST_WORKERS_at_once_files_on_all),
	TEST_ENTRY(a_full_queue_drops_more_work),
	TEST_ENTRY(a_job_waiting_or_running_is_not_queued_twice),
	TEST_ENTRY(clearing_drops_waiting_jobs_not_running_ones),
	TEST_ENTRY(a_directory_opened_alone_is_no_walk),
	TEST_ENTRY(a_child_opened_soon_after_its_parent_starts_a_walk),
	TEST_ENTRY(a_parent_opened_too_long_ago_or_forgotten_starts_no_walk),
};

CHECK_MAIN(cases)
