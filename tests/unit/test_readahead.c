/* Unit tests for readahead.c: the open pattern and the bounded store. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "ftpsfs/readahead.h"

/* Listing order differs from the sorted one (as a server's hash order). */
static const char *const NAMES[] = { "c", "a", "d", "b", "e" };
#define NNAMES (sizeof(NAMES) / sizeof(NAMES[0]))

static size_t idx(const struct ra_order *o, const char *name)
{
	return (size_t)ra_order_find(o, name);
}

TEST(order_finds_names_and_their_successors)
{
	struct ra_order *o;

	CHECK_INT(ra_order_new(NAMES, NNAMES, &o), 0);
	CHECK_INT(ra_order_find(o, "d"), 2);
	CHECK_INT(ra_order_find(o, "zz"), -1);
	CHECK_STR(ra_order_next(o, 0, RA_BY_LISTING, 1), "a");
	CHECK_STR(ra_order_next(o, 0, RA_BY_NAME, 1), "d");
	CHECK_STR(ra_order_next(o, 1, RA_BY_NAME, 3), "d");
	CHECK(ra_order_next(o, 4, RA_BY_LISTING, 1) == NULL);
	CHECK(ra_order_next(o, 4, RA_BY_NAME, 1) == NULL);
	ra_order_free(o);
}

TEST(second_consecutive_open_in_listing_order_starts_the_pattern)
{
	struct ra_pattern p = { 0 };
	struct ra_order *o;

	CHECK_INT(ra_order_new(NAMES, NNAMES, &o), 0);
	CHECK_INT(ra_pattern_opened(&p, o, 0), 0);
	CHECK_INT(ra_pattern_opened(&p, o, 1), RA_BY_LISTING);
	CHECK_INT(ra_pattern_opened(&p, o, 2), RA_BY_LISTING);
	ra_order_free(o);
}

TEST(opens_in_sorted_name_order_start_the_pattern)
{
	struct ra_pattern p = { 0 };
	struct ra_order *o;

	CHECK_INT(ra_order_new(NAMES, NNAMES, &o), 0);
	CHECK_INT(ra_pattern_opened(&p, o, idx(o, "a")), 0);
	CHECK_INT(ra_pattern_opened(&p, o, idx(o, "b")), RA_BY_NAME);
	CHECK_INT(ra_pattern_opened(&p, o, idx(o, "c")), RA_BY_NAME);
	ra_order_free(o);
}

TEST(an_open_out_of_order_ends_the_pattern)
{
	struct ra_pattern p = { 0 };
	struct ra_order *o;

	CHECK_INT(ra_order_new(NAMES, NNAMES, &o), 0);
	ra_pattern_opened(&p, o, 0);
	CHECK_INT(ra_pattern_opened(&p, o, 1), RA_BY_LISTING);
	CHECK_INT(ra_pattern_opened(&p, o, 4), 0);
	/* it must be seen twice again */
	CHECK_INT(ra_pattern_opened(&p, o, 0), 0);
	CHECK_INT(ra_pattern_opened(&p, o, 1), RA_BY_LISTING);
	ra_order_free(o);
}

TEST(opening_the_same_file_again_is_neutral)
{
	struct ra_pattern p = { 0 };
	struct ra_order *o;

	CHECK_INT(ra_order_new(NAMES, NNAMES, &o), 0);
	ra_pattern_opened(&p, o, 0);
	CHECK_INT(ra_pattern_opened(&p, o, 0), 0);
	CHECK_INT(ra_pattern_opened(&p, o, 1), RA_BY_LISTING);
	ra_order_free(o);
}

TEST(shuffled_opens_never_start_the_pattern)
{
	static const size_t shuffled[] = { 4, 1, 0, 3, 2 };
	struct ra_pattern p = { 0 };
	struct ra_order *o;

	CHECK_INT(ra_order_new(NAMES, NNAMES, &o), 0);
	/* e, a, c, b, d: no open follows the last in either order */
	for (size_t i = 0; i < 5; i++)
		CHECK_INT(ra_pattern_opened(&p, o, shuffled[i]), 0);
	ra_order_free(o);
}

/* The name of file number @i (entries are known by directory and name). */
static const char *N(uint64_t i)
{
	static char names[1024][8];

	snprintf(names[i % 1024], sizeof(names[0]), "f%u", (unsigned)i);
	return names[i % 1024];
}

static const struct timespec T1 = { 1000, 5 }, T2 = { 1000, 6 };

static char *bytes(size_t n, char c)
{
	char *p = malloc(n ? n : 1);

	memset(p, c, n);
	return p;
}

/* Reserve, start and fill @ino with @size bytes of @c. */
static int store_put(struct ra_store *s, uint64_t ino, off_t size, char c,
		     int64_t now)
{
	uint64_t token;
	struct ra_entry e;
	int ret = ra_store_reserve(s, 1, N(ino), size, &T1, now, &token);
	char *data;

	if (ret < 0)
		return ret;
	ret = ra_store_start(s, token, &e);
	if (ret < 0)
		return ret;
	data = bytes((size_t)e.size, c);
	ret = ra_store_fill(s, token, data, (size_t)e.size, now);
	if (ret < 0)
		free(data);
	return ret;
}

TEST(store_serves_ranges_and_drops_an_entry_served_whole)
{
	struct ra_store s = { 0 };
	char buf[16];
	bool first;

	CHECK_INT(store_put(&s, 7, 10, 'x', 0), 0);
	CHECK_INT(ra_store_read(&s, 1, N(7), 10, &T1, buf, 4, 0, &first), 4);
	CHECK(first);
	CHECK(buf[0] == 'x' && buf[3] == 'x');
	CHECK_INT(ra_store_read(&s, 1, N(7), 10, &T1, buf, 16, 4, &first), 6);
	CHECK(!first);
	CHECK_INT(ra_store_read(&s, 1, N(7), 10, &T1, buf, 16, 10, &first),
		  -ENOENT);
	CHECK_INT(s.bytes, 0);
	CHECK_INT(s.wasted, 0);
}

TEST(store_never_serves_when_size_or_mtime_changed)
{
	struct ra_store s = { 0 };
	char buf[16];
	bool first;

	CHECK_INT(store_put(&s, 7, 10, 'x', 0), 0);
	CHECK_INT(ra_store_read(&s, 1, N(7), 10, &T2, buf, 4, 0, &first),
		  -ENOENT);
	CHECK_INT(s.wasted, 10);
	CHECK_INT(store_put(&s, 8, 10, 'x', 0), 0);
	CHECK_INT(ra_store_read(&s, 1, N(8), 11, &T1, buf, 4, 0, &first),
		  -ENOENT);
	CHECK_INT(ra_store_read(&s, 1, N(8), 10, &T1, buf, 4, 0, &first),
		  -ENOENT);
	CHECK_INT(s.bytes, 0);
}

TEST(store_refuses_a_fetch_of_another_length)
{
	struct ra_store s = { 0 };
	uint64_t token;
	struct ra_entry e;
	char *data = bytes(11, 'y');

	CHECK_INT(ra_store_reserve(&s, 1, N(7), 10, &T1, 0, &token), 0);
	CHECK_INT(ra_store_start(&s, token, &e), 0);
	CHECK_INT(ra_store_fill(&s, token, data, 11, 0), -ENOENT);
	free(data);
	CHECK_INT(s.bytes, 0);
}

TEST(a_drop_while_fetching_makes_the_fetch_unusable)
{
	struct ra_store s = { 0 };
	uint64_t token, token2;
	struct ra_entry e;
	char *data = bytes(10, 'y');
	char buf[16];
	bool first;

	CHECK_INT(ra_store_reserve(&s, 1, N(7), 10, &T1, 0, &token), 0);
	CHECK(!ra_store_fetching(&s, 1, N(7)));
	CHECK_INT(ra_store_start(&s, token, &e), 0);
	CHECK(ra_store_fetching(&s, 1, N(7)));
	ra_store_drop(&s, 1, N(7)); /* a local write */
	CHECK(!ra_store_fetching(&s, 1, N(7)));
	/* decided again meanwhile: the old fetch must not fill the new one */
	CHECK_INT(ra_store_reserve(&s, 1, N(7), 10, &T1, 0, &token2), 0);
	CHECK_INT(ra_store_fill(&s, token, data, 10, 0), -ENOENT);
	free(data);
	CHECK_INT(ra_store_read(&s, 1, N(7), 10, &T1, buf, 4, 0, &first),
		  -ENOENT);
}

TEST(budget_evicts_the_oldest_stored_and_never_a_fetch_under_way)
{
	struct ra_store s = { 0 };
	uint64_t token;
	struct ra_entry e;
	char buf[4];
	bool first;
	uint64_t n = RA_BUDGET / RA_FILE_MAX;

	for (uint64_t i = 0; i < n; i++)
		CHECK_INT(store_put(&s, 100 + i, RA_FILE_MAX, 'z', (int64_t)i),
			  0);
	CHECK_INT(store_put(&s, 999, RA_FILE_MAX, 'z', 1000), 0);
	CHECK_INT(ra_store_read(&s, 1, N(100), RA_FILE_MAX, &T1, buf, 4, 0,
				&first),
		  -ENOENT);
	CHECK_INT(s.wasted, RA_FILE_MAX);
	CHECK_INT(ra_store_read(&s, 1, N(101), RA_FILE_MAX, &T1, buf, 4, 0,
				&first),
		  4);
	CHECK(s.bytes <= RA_BUDGET);
	ra_store_clear(&s);
	/* fetches under way fill the budget: no room */
	for (uint64_t i = 0; i < n; i++) {
		CHECK_INT(ra_store_reserve(&s, 1, N(200 + i), RA_FILE_MAX, &T1,
					   0, &token),
			  0);
		CHECK_INT(ra_store_start(&s, token, &e), 0);
	}
	CHECK_INT(ra_store_reserve(&s, 1, N(300), 1, &T1, 0, &token), -ENOSPC);
	CHECK_INT(ra_store_reserve(&s, 1, N(301), RA_FILE_MAX + 1, &T1, 0,
				   &token),
		  -EFBIG);
	ra_store_clear(&s);
	CHECK_INT(s.bytes, 0);
}

TEST(entries_expire_and_unstarted_ones_go_when_the_pattern_breaks)
{
	struct ra_store s = { 0 };
	uint64_t token;
	char buf[4];
	bool first;

	CHECK_INT(store_put(&s, 7, 10, 'x', 0), 0);
	ra_store_expire(&s, RA_TTL_MS - 1);
	CHECK_INT(s.bytes, 10);
	ra_store_expire(&s, RA_TTL_MS);
	CHECK_INT(s.bytes, 0);
	CHECK_INT(s.wasted, 10);
	CHECK_INT(ra_store_reserve(&s, 1, N(8), 10, &T1, 0, &token), 0);
	ra_store_drop_unstarted(&s, 2);
	CHECK_INT(s.bytes, 10);
	ra_store_drop_unstarted(&s, 1);
	CHECK_INT(s.bytes, 0);
	CHECK_INT(ra_store_read(&s, 1, N(8), 10, &T1, buf, 4, 0, &first),
		  -ENOENT);
}

TEST(a_read_before_the_fetch_started_drops_the_entry)
{
	struct ra_store s = { 0 };
	uint64_t token;
	struct ra_entry e;
	char buf[4];
	bool first;

	CHECK_INT(ra_store_reserve(&s, 1, N(7), 10, &T1, 0, &token), 0);
	CHECK_INT(ra_store_read(&s, 1, N(7), 10, &T1, buf, 4, 0, &first),
		  -ENOENT);
	CHECK_INT(ra_store_start(&s, token, &e), -ENOENT);
	CHECK_INT(s.bytes, 0);
	CHECK_INT(s.wasted, 0);
}

TEST(an_empty_file_is_served_once)
{
	struct ra_store s = { 0 };
	char buf[4];
	bool first;

	CHECK_INT(store_put(&s, 7, 0, 'x', 0), 0);
	CHECK_INT(ra_store_read(&s, 1, N(7), 0, &T1, buf, 4, 0, &first), 0);
	CHECK(first);
	CHECK_INT(ra_store_read(&s, 1, N(7), 0, &T1, buf, 4, 0, &first),
		  -ENOENT);
}

static const struct check_case cases[] = {
	TEST_ENTRY(order_finds_names_and_their_successors),
	TEST_ENTRY(second_consecutive_open_in_listing_order_starts_the_pattern),
	TEST_ENTRY(opens_in_sorted_name_order_start_the_pattern),
	TEST_ENTRY(an_open_out_of_order_ends_the_pattern),
	TEST_ENTRY(opening_the_same_file_again_is_neutral),
	TEST_ENTRY(shuffled_opens_never_start_the_pattern),
	TEST_ENTRY(store_serves_ranges_and_drops_an_entry_served_whole),
	TEST_ENTRY(store_never_serves_when_size_or_mtime_changed),
	TEST_ENTRY(store_refuses_a_fetch_of_another_length),
	TEST_ENTRY(a_drop_while_fetching_makes_the_fetch_unusable),
	TEST_ENTRY(budget_evicts_the_oldest_stored_and_never_a_fetch_under_way),
	TEST_ENTRY(
		entries_expire_and_unstarted_ones_go_when_the_pattern_breaks),
	TEST_ENTRY(a_read_before_the_fetch_started_drops_the_entry),
	TEST_ENTRY(an_empty_file_is_served_once),
};

CHECK_MAIN(cases)
