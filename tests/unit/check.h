/*
 * check.h - a very small unit-test harness.
 *
 * Each test is a function registered in a table; main() runs them all,
 * prints one line per failing check and a closing "N passed, N failed"
 * line, and exits non-zero if anything failed.  A failing check ends only
 * its own test function, so one failure never hides the others.
 */
#ifndef FTPSFS_TEST_CHECK_H
#define FTPSFS_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct check_case {
	const char *name;
	void (*fn)(int *failed);
};

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n",       \
				__FILE__, __LINE__, __func__, #cond);          \
			*failed = 1;                                           \
			return;                                                \
		}                                                              \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long check_a_ = (long long)(a),                           \
			  check_b_ = (long long)(b);                           \
		if (check_a_ != check_b_) {                                    \
			fprintf(stderr,                                        \
				"%s:%d: %s: %s == %lld, expected %lld\n",      \
				__FILE__, __LINE__, __func__, #a, check_a_,    \
				check_b_);                                     \
			*failed = 1;                                           \
			return;                                                \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *check_a_ = (a), *check_b_ = (b);                   \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_)) {    \
			fprintf(stderr,                                        \
				"%s:%d: %s: %s == \"%s\", expected \"%s\"\n",  \
				__FILE__, __LINE__, __func__, #a,              \
				check_a_ ? check_a_ : "(null)",                \
				check_b_ ? check_b_ : "(null)");               \
			*failed = 1;                                           \
			return;                                                \
		}                                                              \
	} while (0)

#define TEST(name) static void name(int *failed)
#define TEST_ENTRY(name)                                                       \
	{                                                                      \
#name, name                                                    \
	}

static inline int check_run(const struct check_case *cases, size_t n)
{
	size_t passed = 0, failed_count = 0;

	for (size_t i = 0; i < n; i++) {
		int failed = 0;

		cases[i].fn(&failed);
		if (failed) {
			fprintf(stderr, "FAIL %s\n", cases[i].name);
			failed_count++;
		} else {
			passed++;
		}
	}
	printf("%zu passed, %zu failed\n", passed, failed_count);
	return failed_count ? 1 : 0;
}

#define CHECK_MAIN(table)                                                      \
	int main(void)                                                         \
	{                                                                      \
		return check_run(table, sizeof(table) / sizeof(table[0]));     \
	}

#endif
