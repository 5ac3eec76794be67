/* Unit tests for the index by name of directory entries (nameidx.h). */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "ftpsfs/inode.h"
#include "ftpsfs/nameidx.h"

#define N 3000

TEST(add_find_and_delete_agree_with_a_plain_search)
{
	struct itab_dirent *ents = calloc(N, sizeof(*ents));
	bool *live = calloc(N, sizeof(*live));
	struct name_index ix;
	char name[32];
	unsigned r = 12345;

	CHECK(ents && live);
	name_index_init(&ix);
	for (size_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		ents[i].name = strdup(name);
		CHECK_INT(name_index_add(&ix, ents, i), 0);
		live[i] = true;
	}
	/* Take out a pseudo-random half (chains must stay reachable after
	 * each removal), then check every name, present or not. */
	for (int k = 0; k < N / 2; k++) {
		size_t i;

		r = r * 1103515245 + 12345;
		i = (r >> 8) % N;
		if (!live[i])
			continue;
		name_index_del(&ix, ents, i);
		live[i] = false;
	}
	for (size_t i = 0; i < N; i++)
		CHECK_INT(name_index_find(&ix, ents, ents[i].name),
			  live[i] ? (ssize_t)i : -1);
	CHECK_INT(name_index_find(&ix, ents, "absent"), -1);
	/* Rebuilt from the live ones (the others' names NULL). */
	for (size_t i = 0; i < N; i++)
		if (!live[i]) {
			free(ents[i].name);
			ents[i].name = NULL;
		}
	CHECK_INT(name_index_build(&ix, ents, N), 0);
	for (size_t i = 0; i < N; i++)
		if (ents[i].name)
			CHECK_INT(name_index_find(&ix, ents, ents[i].name),
				  (ssize_t)i);
	name_index_free(&ix);
	itab_dirents_free(ents, N);
	free(live);
}

TEST(build_keeps_the_first_of_equal_names)
{
	struct itab_dirent ents[3] = { { .name = "a" },
				       { .name = "b" },
				       { .name = "a" } };
	struct name_index ix;

	name_index_init(&ix);
	CHECK_INT(name_index_build(&ix, ents, 3), 0);
	CHECK_INT(name_index_find(&ix, ents, "a"), 0);
	CHECK_INT(name_index_find(&ix, ents, "b"), 1);
	CHECK_INT(ix.used, 2);
	name_index_free(&ix);
}

static const struct check_case cases[] = {
	TEST_ENTRY(add_find_and_delete_agree_with_a_plain_search),
	TEST_ENTRY(build_keeps_the_first_of_equal_names),
};

CHECK_MAIN(cases)
