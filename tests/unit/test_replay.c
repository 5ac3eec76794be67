/* Unit tests for the replay buffer of streaming uploads. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "ftpsfs/replay.h"

/* Byte i of the test stream. */
static unsigned char stream_byte(uint64_t i)
{
	return (unsigned char)(i * 31 + (i >> 8));
}

static void append_stream(struct replay *r, uint64_t from, size_t n)
{
	unsigned char *buf = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
		buf[i] = stream_byte(from + i);
	replay_append(r, buf, n);
	free(buf);
}

/* Does the buffer hold exactly stream bytes [from, end)? */
static int holds(const struct replay *r, uint64_t from)
{
	unsigned char b[1000];
	uint64_t at = from;

	for (;;) {
		ssize_t n = replay_read(r, at, b, sizeof(b));

		if (n < 0)
			return 0;
		if (n == 0)
			return at == r->end;
		for (ssize_t i = 0; i < n; i++)
			if (b[i] != stream_byte(at + (uint64_t)i))
				return 0;
		at += (uint64_t)n;
	}
}

TEST(small_stream_is_kept_whole)
{
	struct replay r;

	replay_init(&r, 1 << 20, 0);
	append_stream(&r, 0, 5000);
	CHECK_INT(replay_start(&r), 0);
	CHECK_INT(r.end, 5000);
	CHECK(holds(&r, 0));
	CHECK(holds(&r, 4999));
	replay_free(&r);
}

TEST(long_stream_keeps_the_last_max_bytes)
{
	struct replay r;
	uint64_t at = 0;

	replay_init(&r, 300000, 0);
	for (int i = 0; i < 40; i++) {
		size_t n = 7777 + (size_t)i * 1000;

		append_stream(&r, at, n);
		at += n;
	}
	CHECK_INT(r.end, at);
	CHECK_INT(replay_start(&r), at - 300000);
	CHECK(holds(&r, replay_start(&r)));
	CHECK_INT(replay_read(&r, replay_start(&r) - 1, (char[4]){ 0 }, 4),
		  -ERANGE);
	replay_free(&r);
}

TEST(a_chunk_larger_than_max_keeps_its_tail)
{
	struct replay r;

	replay_init(&r, 100000, 10);
	append_stream(&r, 10, 1000);
	append_stream(&r, 1010, 250000);
	CHECK_INT(r.end, 251010);
	CHECK_INT(replay_start(&r), 151010);
	CHECK(holds(&r, 151010));
	replay_free(&r);
}

TEST(stream_offset_starts_where_told)
{
	struct replay r;
	char b[8];

	replay_init(&r, 1000, 4096);
	CHECK_INT(replay_start(&r), 4096);
	CHECK_INT(replay_read(&r, 4096, b, sizeof(b)), 0);
	append_stream(&r, 4096, 10);
	CHECK(holds(&r, 4096));
	CHECK_INT(replay_read(&r, 4000, b, sizeof(b)), -ERANGE);
	CHECK_INT(replay_read(&r, 4107, b, sizeof(b)), -ERANGE);
	replay_free(&r);
}

static const struct check_case cases[] = {
	TEST_ENTRY(small_stream_is_kept_whole),
	TEST_ENTRY(long_stream_keeps_the_last_max_bytes),
	TEST_ENTRY(a_chunk_larger_than_max_keeps_its_tail),
	TEST_ENTRY(stream_offset_starts_where_told),
};

CHECK_MAIN(cases)
