/*
 * Unit tests for the claim on a directory's exact times (src/cache/
 * mtimes.c): which files one claim asks (only listed files without an
 * exact time), that one thread asks while the others wait and take its
 * answers, that a failed fetch releases the claim and leaves the rest to
 * ask, and that an answer is used only where the listing still says what
 * was asked about.  Batches: test_inode.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "ftpsfs/inode.h"

#define LISTED 1700000040 /* a LIST time: to the minute */
#define EXACT  1700000042

static struct itab *new_table(void)
{
	struct itab_config cfg = { 100000, 100000, "/", 0 };
	struct stat root_st = { .st_mode = S_IFDIR | 0755 };
	struct itab *t = NULL;

	if (itab_new(&cfg, &root_st, &t) < 0)
		return NULL;
	return t;
}

struct ent {
	const char *name;
	mode_t mode;
	off_t size;
	bool exact; /* the listing gave the exact time (MLSD) */
};

/* Install @n entries as the root's listing, times askable (LIST). */
static int set_listing(struct itab *t, const struct ent *e, size_t n)
{
	struct itab_dirent *ents = calloc(n, sizeof(*ents));

	if (!ents)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct stat st = { .st_mode = e[i].mode, .st_size = e[i].size };

		st.st_mtim.tv_sec = LISTED;
		ents[i].name = strdup(e[i].name);
		itab_attr_pack(&ents[i].st, &st);
		ents[i].mtime_exact = e[i].exact;
	}
	return itab_set_listing(t, 1, ents, n, itab_generation(t),
				ITAB_TIMES_ASKABLE);
}

static const struct ent three[] = {
	{ "a", S_IFREG | 0644, 10, false },
	{ "b", S_IFREG | 0644, 20, false },
	{ "c", S_IFREG | 0644, 30, false },
};

/* What the listing shows for @name: its time, and whether exact. */
static int64_t listed_time(struct itab *t, const char *name, bool *exact)
{
	struct stat st;

	*exact = false;
	if (itab_listed(t, 1, name, &st, exact) < 0)
		return -1;
	return st.st_mtime;
}

/* A table listing "three", and our claim on their times. */
struct claimed {
	struct itab *t;
	struct itab_mtime_req *reqs;
	size_t n;
	uint64_t gen;
};

/* Returns 0 with all three claimed in *@c, or -1. */
static int claim_three(struct claimed *c)
{
	*c = (struct claimed){ .t = new_table() };
	if (c->t && set_listing(c->t, three, 3) == 0 &&
	    itab_mtimes_claim(c->t, 1, &c->reqs, &c->n, &c->gen) == 1 &&
	    c->n == 3)
		return 0;
	return -1;
}

/* End the claim: with @ok, every file answered EXACT; else none and
 * asking failed. */
static void answer_all(struct claimed *c, bool ok)
{
	for (size_t i = 0; ok && i < c->n; i++) {
		c->reqs[i].got = true;
		c->reqs[i].exact = EXACT;
	}
	itab_mtimes_done(c->t, 1, c->reqs, c->n, c->gen, ok);
	itab_mtime_reqs_free(c->reqs, c->n);
}

TEST(a_claim_asks_only_listed_files_without_an_exact_time)
{
	static const struct ent ents[] = {
		{ "dir", S_IFDIR | 0755, 0, false },
		{ "file", S_IFREG | 0644, 123, false },
		{ "link", S_IFLNK | 0777, 4, false },
		{ "mlsd", S_IFREG | 0644, 7, true },
		{ "other", S_IFREG | 0600, 0, false },
	};
	struct itab *t = new_table();
	struct itab_mtime_req *reqs = NULL;
	size_t n = 0;
	uint64_t gen = 0;

	CHECK(t);
	CHECK_INT(set_listing(t, ents, 5), 0);
	CHECK_INT(itab_mtimes_claim(t, 1, &reqs, &n, &gen), 1);
	CHECK_INT(n, 2);
	CHECK_STR(reqs[0].name, "file"); /* in the listing's order */
	CHECK_INT(reqs[0].size, 123);
	CHECK_INT(reqs[0].listed, LISTED);
	CHECK(!reqs[0].got);
	CHECK_STR(reqs[1].name, "other");
	CHECK_INT(reqs[1].size, 0);
	itab_mtimes_done(t, 1, reqs, n, gen, true);
	itab_mtime_reqs_free(reqs, n);
	/* Asked to the end: nothing more to claim. */
	CHECK_INT(itab_mtimes_claim(t, 1, &reqs, &n, &gen), 0);
	itab_free(t);
}

TEST(nothing_is_claimed_for_a_listing_with_exact_times)
{
	struct itab *t = new_table();
	struct itab_dirent *ents = calloc(1, sizeof(*ents));
	struct stat st = { .st_mode = S_IFREG | 0644 };
	struct itab_mtime_req *reqs = NULL;
	size_t n = 0;
	uint64_t gen = 0;

	CHECK(t && ents);
	ents[0].name = strdup("f");
	itab_attr_pack(&ents[0].st, &st);
	/* Not askable (MLSD): no claim, not even for a file without one. */
	CHECK_INT(itab_set_listing(t, 1, ents, 1, itab_generation(t), 0), 0);
	CHECK_INT(itab_mtimes_claim(t, 1, &reqs, &n, &gen), 0);
	/* A directory without a listing, or unknown: nothing either. */
	CHECK_INT(itab_mtimes_claim(t, 99, &reqs, &n, &gen), 0);
	itab_free(t);
}

TEST(answers_are_installed_in_the_listing_and_the_inode)
{
	struct itab *t = new_table();
	struct itab_mtime_req *reqs = NULL;
	struct stat st;
	size_t n = 0;
	uint64_t gen = 0, dir = 0;
	bool exact;

	CHECK(t);
	CHECK_INT(set_listing(t, three, 3), 0);
	CHECK_INT(itab_lookup(t, 1, "b", &st), 0);
	CHECK(itab_needs_exact_mtime(t, st.st_ino, &dir));
	CHECK_INT(dir, 1);
	CHECK_INT(itab_mtimes_claim(t, 1, &reqs, &n, &gen), 1);
	CHECK_INT(n, 3);
	reqs[1].got = true;
	reqs[1].exact = EXACT;
	itab_mtimes_done(t, 1, reqs, n, gen, true);
	itab_mtime_reqs_free(reqs, n);
	CHECK_INT(listed_time(t, "b", &exact), EXACT);
	CHECK(exact);
	CHECK_INT(itab_lookup(t, 1, "b", &st), 0);
	CHECK_INT(st.st_mtime, EXACT);
	/* A file the server gave no answer for keeps its listed time. */
	CHECK_INT(listed_time(t, "a", &exact), LISTED);
	CHECK(!exact);
	itab_free(t);
}

TEST(a_failed_fetch_releases_the_claim_and_the_rest_is_asked_again)
{
	struct claimed c;
	bool exact;

	CHECK_INT(claim_three(&c), 0);
	c.reqs[0].got = true; /* "a" answered, then the connection broke */
	c.reqs[0].exact = EXACT;
	itab_mtimes_done(c.t, 1, c.reqs, c.n, c.gen, false);
	itab_mtime_reqs_free(c.reqs, c.n);
	CHECK_INT(listed_time(c.t, "a", &exact), EXACT);
	/* Not waited for (no thread holds it): the two left, claimed now. */
	CHECK_INT(itab_mtimes_claim(c.t, 1, &c.reqs, &c.n, &c.gen), 1);
	CHECK_INT(c.n, 2);
	CHECK_STR(c.reqs[0].name, "b");
	CHECK_STR(c.reqs[1].name, "c");
	itab_mtimes_done(c.t, 1, c.reqs, c.n, c.gen, true);
	itab_mtime_reqs_free(c.reqs, c.n);
	CHECK_INT(itab_mtimes_claim(c.t, 1, &c.reqs, &c.n, &c.gen), 0);
	itab_free(c.t);
}

TEST(an_answer_is_dropped_where_the_listing_changed_meanwhile)
{
	struct ent changed[3];
	struct claimed c;
	bool exact;

	CHECK_INT(claim_three(&c), 0);
	/* While MDTM runs, a new listing: "a" grew, "c" is gone. */
	memcpy(changed, three, sizeof(changed));
	changed[0].size = 11;
	CHECK_INT(set_listing(c.t, changed, 2), 0);
	answer_all(&c, true);
	CHECK_INT(listed_time(c.t, "a", &exact), LISTED); /* another file */
	CHECK(!exact);
	CHECK_INT(listed_time(c.t, "b", &exact), EXACT); /* the same file */
	CHECK(exact);
	CHECK_INT(listed_time(c.t, "c", &exact), -1);
	itab_free(c.t);
}

/* A second thread's claim while the first asks. */
struct claimer {
	struct itab *t;
	atomic_int done;
	int ret;
	size_t n;
	char first[16];
};

static void *claim_in_thread(void *arg)
{
	struct claimer *w = arg;
	struct itab_mtime_req *reqs = NULL;
	uint64_t gen = 0;

	w->ret = itab_mtimes_claim(w->t, 1, &reqs, &w->n, &gen);
	if (w->ret == 1) {
		snprintf(w->first, sizeof(w->first), "%s", reqs[0].name);
		itab_mtimes_done(w->t, 1, reqs, w->n, gen, true);
		itab_mtime_reqs_free(reqs, w->n);
	}
	atomic_store(&w->done, 1);
	return NULL;
}

/* Our claim, and a second claimer waiting for us. */
struct contest {
	struct claimed c;
	struct claimer w;
	pthread_t th;
};

static int contest_start(struct contest *c)
{
	*c = (struct contest){ 0 };
	if (claim_three(&c->c) < 0)
		return -1;
	c->w.t = c->c.t;
	if (pthread_create(&c->th, NULL, claim_in_thread, &c->w) != 0)
		return -1;
	/* It must wait for us (were it not to, it would be done by now;
	 * a slow machine only makes this check miss, never fail). */
	usleep(50000);
	return atomic_load(&c->w.done) ? -1 : 0;
}

/* Our fetch ends (@ok: all answered), and the claimer returns. */
static void contest_end(struct contest *c, bool ok)
{
	answer_all(&c->c, ok);
	pthread_join(c->th, NULL);
}

TEST(a_second_claim_waits_and_takes_the_first_ones_answers)
{
	struct contest c;

	CHECK_INT(contest_start(&c), 0);
	contest_end(&c, true);
	CHECK_INT(c.w.ret, 0); /* nothing left for it to ask */
	itab_free(c.c.t);
}

TEST(a_waiting_claim_takes_over_after_a_failed_fetch)
{
	struct contest c;

	CHECK_INT(contest_start(&c), 0);
	contest_end(&c, false); /* asking failed */
	CHECK_INT(c.w.ret, 1);	/* it asks them itself */
	CHECK_INT(c.w.n, 3);
	CHECK_STR(c.w.first, "a");
	itab_free(c.c.t);
}

static const struct check_case cases[] = {
	TEST_ENTRY(a_claim_asks_only_listed_files_without_an_exact_time),
	TEST_ENTRY(nothing_is_claimed_for_a_listing_with_exact_times),
	TEST_ENTRY(answers_are_installed_in_the_listing_and_the_inode),
	TEST_ENTRY(
		a_failed_fetch_releases_the_claim_and_the_rest_is_asked_again),
	TEST_ENTRY(an_answer_is_dropped_where_the_listing_changed_meanwhile),
	TEST_ENTRY(a_second_claim_waits_and_takes_the_first_ones_answers),
	TEST_ENTRY(a_waiting_claim_takes_over_after_a_failed_fetch),
};

CHECK_MAIN(cases)
