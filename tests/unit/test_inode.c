/* Unit tests for the inode table and its attribute/listing cache. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "ftpsfs/inode.h"

static struct itab *new_table_budget(int attr_ms, int dir_ms, const char *root,
				     size_t budget)
{
	struct itab_config cfg = { attr_ms, dir_ms, root, budget };
	struct stat root_st = { .st_mode = S_IFDIR | 0755 };
	struct itab *t = NULL;

	if (itab_new(&cfg, &root_st, &t) < 0)
		return NULL;
	return t;
}

static struct itab *new_table(int attr_ms, int dir_ms, const char *root)
{
	return new_table_budget(attr_ms, dir_ms, root, 0);
}

static struct stat file_st(off_t size)
{
	struct stat st = { .st_mode = S_IFREG | 0644, .st_size = size };

	return st;
}

/* The same packed, as listings hold it. */
static struct itab_attr file_attr(off_t size)
{
	struct stat st = file_st(size);
	struct itab_attr a;

	itab_attr_pack(&a, &st);
	return a;
}

/* A listing of @n regular files named by @names. */
static int set_listing(struct itab *t, uint64_t dir, const char **names,
		       size_t n)
{
	struct itab_dirent *ents = calloc(n ? n : 1, sizeof(*ents));

	for (size_t i = 0; i < n; i++) {
		ents[i].name = strdup(names[i]);
		ents[i].st = file_attr((off_t)i);
	}
	return itab_set_listing(t, dir, ents, n, itab_generation(t), 0);
}

/* Exact times of a huge LIST directory are claimed in bounded batches, in
 * the listing's order, until every file was asked once. */
TEST(exact_times_are_claimed_in_bounded_batches)
{
	struct itab *t = new_table(100000, 100000, "/");
	size_t n = 2 * ITAB_MTIMES_BATCH + 10, seen = 0, rounds = 0;
	struct itab_dirent *ents = calloc(n, sizeof(*ents));
	struct itab_mtime_req *reqs;
	char name[32];
	uint64_t gen;
	size_t k;

	CHECK(t && ents);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%06zu", i);
		ents[i].name = strdup(name);
		ents[i].st = file_attr((off_t)i);
		ents[i].st.st_mtim.tv_sec = 1700000040;
	}
	CHECK_INT(itab_set_listing(t, 1, ents, n, itab_generation(t),
				   ITAB_TIMES_ASKABLE),
		  0);
	while (itab_mtimes_claim(t, 1, &reqs, &k, &gen) == 1) {
		CHECK(k <= ITAB_MTIMES_BATCH);
		CHECK(rounds < 10);
		snprintf(name, sizeof(name), "f%06zu", seen);
		CHECK(k > 0 && strcmp(reqs[0].name, name) == 0);
		for (size_t i = 0; i < k; i++) {
			reqs[i].got = true;
			reqs[i].exact = 1700000042;
		}
		itab_mtimes_done(t, 1, reqs, k, gen, true);
		itab_mtime_reqs_free(reqs, k);
		seen += k;
		rounds++;
	}
	CHECK(seen == n);
	CHECK(rounds == 3);
	/* Every file now shows its exact time, the last one too. */
	{
		struct stat st;
		uint64_t dir;

		snprintf(name, sizeof(name), "f%06zu", n - 1);
		CHECK_INT(itab_lookup(t, 1, name, &st), 0);
		CHECK(st.st_mtime == 1700000042);
		CHECK(!itab_needs_exact_mtime(t, st.st_ino, &dir));
	}
	itab_free(t);
}

TEST(paths_are_built_from_parents)
{
	struct itab *t = new_table(1000, 1000, "/srv/ftp");
	struct stat st, dir = { .st_mode = S_IFDIR | 0755 };
	char buf[256];
	uint64_t a;

	CHECK(t);
	CHECK_INT(itab_path(t, 1, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "/srv/ftp");
	CHECK_INT(itab_add_entry(t, 1, "a dir", &dir, NULL, &st), 0);
	a = st.st_ino;
	CHECK_INT(itab_add_entry(t, a, "f", &dir, NULL, &st), 0);
	CHECK_INT(itab_path(t, st.st_ino, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "/srv/ftp/a dir/f");
	CHECK_INT(itab_child_path(t, a, "x", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "/srv/ftp/a dir/x");
	CHECK_INT(itab_path(t, st.st_ino, buf, 10), -ENAMETOOLONG);
	itab_free(t);
}

TEST(root_slash_has_no_double_slash)
{
	struct itab *t = new_table(1000, 1000, "/");
	char buf[64];

	CHECK(t);
	CHECK_INT(itab_path(t, 1, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "/");
	CHECK_INT(itab_child_path(t, 1, "x", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "/x");
	itab_free(t);
}

TEST(fresh_listing_answers_lookups_and_negatives)
{
	struct itab *t = new_table(1000, 60000, "/");
	const char *names[] = { "a", "b c" };
	struct stat st;

	CHECK(t);
	CHECK_INT(itab_lookup(t, 1, "a", &st), -EAGAIN);
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	CHECK_INT(itab_lookup(t, 1, "b c", &st), 0);
	CHECK_INT(st.st_size, 1);
	CHECK(st.st_ino > 1);
	CHECK_INT(itab_lookup(t, 1, "missing", &st), -ENOENT);
	itab_free(t);
}

TEST(listed_attributes_without_a_lookup)
{
	struct itab *t = new_table(1000, 60000, "/");
	const char *names[] = { "a", "b c" };
	size_t before;
	struct stat st;
	uint64_t ino;
	bool exact = false;

	CHECK(t);
	CHECK_INT(itab_listed(t, 1, "a", &st, &exact), -EAGAIN);
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	before = itab_count(t);
	CHECK_INT(itab_listed(t, 1, "b c", &st, &exact), 0);
	CHECK_INT(st.st_size, 1);
	CHECK(!exact); /* set_listing() gives no exact times */
	CHECK_INT(itab_listed(t, 1, "missing", &st, &exact), -ENOENT);
	CHECK_INT(itab_listed(t, 99, "a", &st, &exact), -ESTALE);
	CHECK_INT(itab_count(t), before); /* no inode made */
	CHECK_INT(itab_find_child(t, 1, "b c", &ino), -ENOENT);
	itab_free(t);
}

TEST(expired_listing_is_not_used)
{
	struct itab *t = new_table(0, 0, "/");
	const char *names[] = { "a" };
	struct itab_snapshot *s = NULL;
	struct stat st;

	CHECK(t);
	CHECK_INT(set_listing(t, 1, names, 1), 0);
	usleep(2000);
	CHECK_INT(itab_lookup(t, 1, "a", &st), -EAGAIN);
	CHECK_INT(itab_snapshot(t, 1, &s), -EAGAIN);
	itab_free(t);
}

TEST(same_name_gives_same_inode)
{
	struct itab *t = new_table(1000, 1000, "/");
	struct stat a = file_st(1), st1, st2;

	CHECK(t);
	CHECK_INT(itab_add_entry(t, 1, "x", &a, NULL, &st1), 0);
	CHECK_INT(itab_add_entry(t, 1, "x", &a, NULL, &st2), 0);
	CHECK_INT(st1.st_ino, st2.st_ino);
	itab_free(t);
}

/* A table with the directory /d (*d) and the file /d/x (*x) in it. */
static struct itab *table_d_x(uint64_t *d, uint64_t *x)
{
	struct itab *t = new_table(1000, 1000, "/");
	struct stat dir = { .st_mode = S_IFDIR | 0755 }, f = file_st(3), st;

	if (!t || itab_add_entry(t, 1, "d", &dir, NULL, &st) < 0)
		return t;
	*d = st.st_ino;
	if (itab_add_entry(t, *d, "x", &f, NULL, &st) == 0)
		*x = st.st_ino;
	return t;
}

TEST(forget_frees_inodes_and_empty_parents)
{
	uint64_t d = 0, x = 0;
	struct itab *t = table_d_x(&d, &x);
	struct stat st;

	CHECK(t);
	CHECK_INT(itab_count(t), 3);
	/* The kernel forgets the directory first: kept for its child. */
	itab_forget(t, d, 1);
	CHECK_INT(itab_count(t), 3);
	itab_forget(t, x, 1);
	CHECK_INT(itab_count(t), 1);
	CHECK_INT(itab_getattr(t, x, &st), -ESTALE);
	/* The root is never freed. */
	itab_forget(t, 1, 100);
	CHECK_INT(itab_count(t), 1);
	itab_free(t);
}

static int ino_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Inode numbers come from the slab (its ids, across pages): the first
 * are small, a forgotten one never finds an inode again, not even one
 * made in its slot later, and no number is given twice. */
TEST(forgotten_inode_numbers_are_not_reused)
{
	enum { K = 3000 }; /* about three slab pages */
	struct itab *t = new_table(1000, 1000, "/");
	uint64_t *ino = calloc(2 * K, sizeof(*ino));
	struct stat st;
	char name[32];

	CHECK(t && ino);
	for (size_t i = 0; i < 2 * K; i++) {
		struct stat f = file_st((off_t)i);

		if (i == K) /* the kernel forgets every other one */
			for (size_t j = 0; j < K; j += 2)
				itab_forget(t, ino[j], 1);
		snprintf(name, sizeof(name), "f%zu", i);
		CHECK_INT(itab_add_entry(t, 1, name, &f, NULL, &st), 0);
		ino[i] = st.st_ino;
	}
	CHECK_INT(ino[0], 2);
	CHECK_INT(itab_count(t), 1 + 2 * K - K / 2);
	for (size_t i = 0; i < 2 * K; i++) {
		bool gone = i < K && i % 2 == 0;

		CHECK_INT(itab_getattr(t, ino[i], &st), gone ? -ESTALE : 0);
		CHECK(gone || st.st_size == (off_t)i);
	}
	CHECK_INT(itab_getattr(t, 0, &st), -ESTALE);
	CHECK_INT(itab_getattr(t, (1ull << 40) | 2, &st), -ESTALE);
	CHECK_INT(itab_getattr(t, UINT32_MAX, &st), -ESTALE);
	qsort(ino, 2 * K, sizeof(*ino), ino_cmp);
	for (size_t i = 1; i < 2 * K; i++)
		CHECK(ino[i] != ino[i - 1]);
	free(ino);
	itab_free(t);
}

TEST(pinned_inode_outlives_the_kernels_forget)
{
	uint64_t d = 0, x = 0;
	struct itab *t = table_d_x(&d, &x);
	struct stat f = file_st(3), st;
	char path[64];

	CHECK(t);
	CHECK_INT(itab_count(t), 3);
	/* A write-back upload still queued after the last close. */
	itab_pin(t, x, true);
	itab_forget(t, d, 1);
	itab_forget(t, x, 1);
	CHECK_INT(itab_count(t), 3);
	CHECK_INT(itab_path(t, x, path, sizeof(path)), 0);
	CHECK_STR(path, "/d/x");
	/* Looked up again meanwhile: the same inode. */
	CHECK_INT(itab_add_entry(t, d, "x", &f, NULL, &st), 0);
	CHECK_INT(st.st_ino, x);
	itab_forget(t, x, 1);
	/* The upload is over: now nothing holds it or its directory. */
	itab_pin(t, x, false);
	CHECK_INT(itab_count(t), 1);
	CHECK_INT(itab_getattr(t, x, &st), -ESTALE);
	itab_free(t);
}

TEST(getattr_expires)
{
	struct itab *t = new_table(0, 1000, "/");
	struct stat f = file_st(3), st;

	CHECK(t);
	CHECK_INT(itab_add_entry(t, 1, "x", &f, NULL, &st), 0);
	usleep(2000);
	CHECK_INT(itab_getattr(t, st.st_ino, &st), -EAGAIN);
	CHECK_INT(st.st_size, 3); /* stale values still given */
	itab_free(t);
}

TEST(listing_refreshes_known_children)
{
	struct itab *t = new_table(0, 60000, "/");
	struct stat f = file_st(3), st;
	const char *names[] = { "zero", "x" }; /* x gets size 1 */
	uint64_t x;

	CHECK(t);
	CHECK_INT(itab_add_entry(t, 1, "x", &f, NULL, &st), 0);
	x = st.st_ino;
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	CHECK_INT(itab_getattr(t, x, &st), 0);
	CHECK_INT(st.st_size, 1);
	itab_free(t);
}

TEST(snapshot_is_a_copy)
{
	struct itab *t = new_table(1000, 60000, "/");
	const char *names[] = { "a", "b" }, *other[] = { "c" };
	struct itab_snapshot *s = NULL;

	CHECK(t);
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	CHECK_INT(itab_snapshot(t, 1, &s), 0);
	CHECK_INT(set_listing(t, 1, other, 1), 0);
	CHECK_INT(s->n, 2);
	CHECK_STR(s->ents[1].name, "b");
	itab_snapshot_free(s);
	itab_free(t);
}

TEST(snapshot_is_shared_until_the_listing_changes)
{
	struct itab *t = new_table(1000, 60000, "/");
	const char *names[] = { "a", "b" };
	struct itab_snapshot *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL;
	struct stat f = file_st(5), st;

	CHECK(t);
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	CHECK_INT(itab_snapshot(t, 1, &s1), 0);
	CHECK_INT(itab_snapshot(t, 1, &s2), 0);
	CHECK(s1 == s2); /* one copy for both opendirs */
	/* A change: the holders keep what they had, the next one sees it. */
	CHECK_INT(itab_add_entry(t, 1, "new", &f, NULL, &st), 0);
	CHECK_INT(itab_snapshot(t, 1, &s3), 0);
	CHECK(s3 != s1);
	CHECK_INT(s1->n, 2);
	CHECK_INT(s3->n, 3);
	CHECK_STR(s3->ents[2].name, "new");
	itab_snapshot_free(s1);
	CHECK_STR(s2->ents[1].name, "b");
	itab_snapshot_free(s2);
	/* The last holder gone, the next opendir makes a new one; a dropped
	 * listing leaves its snapshot to its holder. */
	itab_snapshot_free(s3);
	CHECK_INT(itab_snapshot(t, 1, &s4), 0);
	itab_invalidate_dir(t, 1);
	CHECK_INT(itab_snapshot(t, 1, &s1), -EAGAIN);
	CHECK_INT(s4->n, 3);
	itab_snapshot_free(s4);
	itab_free(t);
}

/* readdirplus hands each entry back as it was listed: no copy of the
 * listing for that. */
TEST(readdirplus_leaves_the_snapshot_shared)
{
	struct itab *t = new_table(1000, 60000, "/");
	const char *names[] = { "a", "b", "c" };
	struct itab_snapshot *s1 = NULL, *s2 = NULL;
	struct stat st, attr;

	struct itab_dirent *ents = calloc(3, sizeof(*ents));

	CHECK(t && ents);
	for (size_t i = 0; i < 3; i++) { /* exact times, as MLSD gives */
		ents[i].name = strdup(names[i]);
		ents[i].st = file_attr((off_t)i);
		ents[i].mtime_exact = true;
	}
	CHECK_INT(itab_set_listing(t, 1, ents, 3, itab_generation(t), 0), 0);
	CHECK_INT(itab_snapshot(t, 1, &s1), 0);
	for (size_t i = 0; i < s1->n; i++) {
		itab_attr_unpack(&s1->ents[i].st, 0, &attr);
		CHECK_INT(itab_add_listed(t, 1, s1->ents[i].name, &attr, NULL,
					  s1->gen, &st),
			  0);
	}
	CHECK_INT(itab_snapshot(t, 1, &s2), 0);
	CHECK(s1 == s2);
	itab_snapshot_free(s1);
	itab_snapshot_free(s2);
	itab_free(t);
}

TEST(readlink_from_cache)
{
	struct itab *t = new_table(1000, 1000, "/");
	struct stat l = { .st_mode = S_IFLNK | 0777, .st_size = 6 }, st;
	char buf[64];

	CHECK(t);
	CHECK_INT(itab_add_entry(t, 1, "l", &l, "target", &st), 0);
	CHECK_INT(itab_readlink(t, st.st_ino, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "target");
	CHECK_INT(itab_add_entry(t, 1, "m", &l, NULL, &st), 0);
	CHECK_INT(itab_readlink(t, st.st_ino, buf, sizeof(buf)), -EAGAIN);
	itab_free(t);
}

TEST(keep_cache_only_when_unchanged)
{
	struct itab *t = new_table(1000, 1000, "/");
	struct stat f = file_st(3), g = file_st(4), st;

	CHECK(t);
	CHECK_INT(itab_add_entry(t, 1, "x", &f, NULL, &st), 0);
	CHECK(!itab_open_keep_cache(t, st.st_ino)); /* first open */
	CHECK(itab_open_keep_cache(t, st.st_ino));
	itab_set_attr(t, st.st_ino, &g, NULL, ITAB_FORCE);
	CHECK(!itab_open_keep_cache(t, st.st_ino));
	CHECK(itab_open_keep_cache(t, st.st_ino));
	/* Data given out before the server confirmed it: not kept meanwhile,
	 * kept once confirmed, dropped once refused. */
	itab_data_unconfirmed(t, st.st_ino, ITAB_DATA_SENT);
	CHECK(!itab_open_keep_cache(t, st.st_ino));
	itab_data_unconfirmed(t, st.st_ino, ITAB_DATA_CONFIRMED);
	CHECK(itab_open_keep_cache(t, st.st_ino));
	itab_data_unconfirmed(t, st.st_ino, ITAB_DATA_SENT);
	itab_data_unconfirmed(t, st.st_ino, ITAB_DATA_REFUSED);
	CHECK(!itab_open_keep_cache(t, st.st_ino));
	CHECK(itab_open_keep_cache(t, st.st_ino));
	itab_free(t);
}

TEST(many_entries)
{
	struct itab *t = new_table(1000, 60000, "/");
	struct itab_dirent *ents = calloc(5000, sizeof(*ents));
	struct stat st;
	char name[32];

	CHECK(t && ents);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ents[i].name = strdup(name);
		ents[i].st = file_attr(i);
	}
	CHECK_INT(itab_set_listing(t, 1, ents, 5000, itab_generation(t), 0), 0);
	CHECK_INT(itab_lookup(t, 1, "f4321", &st), 0);
	CHECK_INT(st.st_size, 4321);
	itab_free(t);
}

/* Names packed in a pool as they are read: the listing takes the pool's
 * blocks over (a name listed twice: the first counts, the second is
 * not freed on its own), and a failed or replaced listing frees them
 * (ASan and valgrind check that). */
TEST(listing_from_a_name_pool)
{
	struct itab *t = new_table(1000, 60000, "/");
	struct itab_name_pool pool = { 0 };
	struct itab_dirent *ents = calloc(3001, sizeof(*ents));
	struct itab_snapshot *s = NULL;
	struct stat st;
	char name[32];

	CHECK(t && ents);
	for (int i = 0; i < 3001; i++) {
		snprintf(name, sizeof(name), "f%d", i == 3000 ? 7 : i);
		ents[i].name = itab_pool_add(&pool, name);
		CHECK(ents[i].name);
		ents[i].name_packed = true;
		ents[i].st = file_attr(i);
	}
	CHECK(pool.blocks && pool.room > 1024); /* it grew */
	CHECK_INT(itab_set_listing_pool(t, 1, ents, 3001, &pool,
					itab_generation(t), 0, &s),
		  0);
	CHECK(!pool.blocks);
	CHECK_INT(s->n, 3000); /* the repeated name is gone */
	CHECK_INT(itab_lookup(t, 1, "f7", &st), 0);
	CHECK_INT(st.st_size, 7);
	CHECK_INT(itab_lookup(t, 1, "f2999", &st), 0);
	CHECK_INT(st.st_size, 2999);
	/* A name pooled but never listed goes with the pool. */
	CHECK(itab_pool_add(&pool, "stray"));
	itab_pool_free(&pool);
	/* The lookups' inodes share the pooled names: a new listing
	 * replacing the one they are in keeps them right. */
	ents = calloc(1, sizeof(*ents));
	CHECK(ents);
	ents[0].name = itab_pool_add(&pool, "f7");
	ents[0].name_packed = true;
	ents[0].st = file_attr(70);
	CHECK_INT(itab_set_listing_pool(t, 1, ents, 1, &pool,
					itab_generation(t), 0, NULL),
		  0);
	CHECK_INT(itab_lookup(t, 1, "f7", &st), 0);
	CHECK_INT(st.st_size, 70);
	CHECK_INT(itab_lookup(t, 1, "f2999", &st), -ENOENT);
	CHECK_INT(s->n, 3000); /* the opendir's stays as it was */
	itab_snapshot_free(s);
	itab_free(t);
}

TEST(remove_drops_name_keeps_inode_until_forgotten)
{
	struct itab *t = new_table(1000, 60000, "/");
	const char *names[] = { "a" };
	struct stat st;
	char buf[64];
	uint64_t a;

	CHECK(t);
	CHECK_INT(set_listing(t, 1, names, 1), 0);
	CHECK_INT(itab_lookup(t, 1, "a", &st), 0);
	a = st.st_ino;
	itab_remove(t, 1, "a");
	CHECK_INT(itab_lookup(t, 1, "a", &st), -ENOENT);
	CHECK_INT(itab_getattr(t, a, &st), 0); /* open files still stat */
	CHECK_INT(itab_path(t, a, buf, sizeof(buf)), -ESTALE);
	itab_forget(t, a, 1);
	CHECK_INT(itab_count(t), 1);
	itab_free(t);
}

TEST(rename_moves_inode_and_listing_entry)
{
	struct itab *t = new_table(1000, 60000, "/r");
	struct stat dir = { .st_mode = S_IFDIR | 0755 }, st;
	const char *names[] = { "a", "b" };
	char buf[64];
	uint64_t d, a;

	CHECK(t);
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	CHECK_INT(itab_add_entry(t, 1, "d", &dir, NULL, &st), 0);
	d = st.st_ino;
	CHECK_INT(set_listing(t, d, NULL, 0), 0);
	CHECK_INT(itab_lookup(t, 1, "a", &st), 0);
	a = st.st_ino;
	CHECK_INT(itab_rename(t, 1, "a", d, "z"), 0);
	CHECK_INT(itab_path(t, a, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "/r/d/z");
	CHECK_INT(itab_lookup(t, 1, "a", &st), -ENOENT);
	CHECK_INT(itab_lookup(t, d, "z", &st), 0);
	CHECK_INT(st.st_ino, a);
	/* A longer name than the inode was made with, and back. */
	CHECK_INT(itab_rename(t, d, "z", d, "a much longer name"), 0);
	CHECK_INT(itab_path(t, a, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "/r/d/a much longer name");
	CHECK_INT(itab_find_child(t, d, "a much longer name", &d), 0);
	CHECK_INT(d, a);
	CHECK_INT(itab_parent_name(t, a, &d, buf, sizeof(buf)), 0);
	CHECK_INT(itab_rename(t, d, "a much longer name", d, "y"), 0);
	CHECK_INT(itab_path(t, a, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "/r/d/y");
	itab_free(t);
}

TEST(rename_over_existing_replaces_target)
{
	struct itab *t = new_table(1000, 60000, "/");
	const char *names[] = { "a", "b" };
	struct stat st;
	uint64_t a, b;

	CHECK(t);
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	CHECK_INT(itab_lookup(t, 1, "a", &st), 0);
	a = st.st_ino;
	CHECK_INT(itab_lookup(t, 1, "b", &st), 0);
	b = st.st_ino;
	CHECK_INT(itab_rename(t, 1, "a", 1, "b"), 0);
	CHECK_INT(itab_lookup(t, 1, "b", &st), 0);
	CHECK_INT(st.st_ino, a);
	CHECK_INT(st.st_size, 0); /* a's size, not b's */
	CHECK(st.st_ino != b);
	itab_free(t);
}

TEST(pinned_inode_keeps_our_size_against_listings)
{
	struct itab *t = new_table(1000, 60000, "/");
	const char *names[] = { "x", "y" }; /* y gets size 1 */
	struct stat mine = file_st(500), st;
	uint64_t y;

	CHECK(t);
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	CHECK_INT(itab_lookup(t, 1, "y", &st), 0);
	y = st.st_ino;
	itab_pin(t, y, true);
	itab_set_attr(t, y, &mine, NULL, ITAB_FORCE);
	CHECK_INT(set_listing(t, 1, names, 2), 0); /* server still says 1 */
	CHECK_INT(itab_lookup(t, 1, "y", &st), 0);
	CHECK_INT(st.st_size, 500);
	itab_pin(t, y, false);
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	CHECK_INT(itab_getattr(t, y, &st), 0);
	CHECK_INT(st.st_size, 1);
	itab_free(t);
}

TEST(exact_mtime_reused_only_when_consistent)
{
	struct itab *t = new_table(1000, 60000, "/");
	struct itab_dirent *e = calloc(1, sizeof(*e));
	struct itab_attr listed = file_attr(10);
	struct itab_mtim ex;

	CHECK(t && e);
	e->name = strdup("f");
	e->st = file_attr(10);
	e->st.st_mtim.tv_sec = 1000000123;
	e->mtime_exact = true;
	CHECK_INT(itab_set_listing(t, 1, e, 1, itab_generation(t), 0), 0);
	listed.st_mtim.tv_sec = 1000000080; /* 123 s cut to the minute */
	CHECK(itab_exact_mtime(t, 1, "f", &listed, &ex));
	CHECK_INT(ex.tv_sec, 1000000123);
	listed.st_mtim.tv_sec = 1000000140; /* a later minute: changed */
	CHECK(!itab_exact_mtime(t, 1, "f", &listed, &ex));
	listed.st_mtim.tv_sec = 1000000080;
	listed.st_size = 11;
	CHECK(!itab_exact_mtime(t, 1, "f", &listed, &ex));
	itab_free(t);
}

TEST(expire_all_forgets_listings_and_attributes_but_not_pinned)
{
	struct itab *t = new_table(60000, 60000, "/");
	const char *names[] = { "a", "b" };
	struct itab_snapshot *s = NULL;
	struct itab_name *v = NULL;
	struct stat a, b, st;
	ssize_t n;
	int named = 0;

	CHECK(t);
	CHECK_INT(set_listing(t, 1, names, 2), 0);
	CHECK_INT(itab_lookup(t, 1, "a", &a), 0);
	CHECK_INT(itab_lookup(t, 1, "b", &b), 0);
	itab_pin(t, b.st_ino, true); /* writes pending */
	n = itab_expire_all(t, &v);
	CHECK_INT(n, 3); /* the root, a, b */
	for (ssize_t i = 0; i < n; i++) {
		if (v[i].ino == a.st_ino) {
			CHECK_INT(v[i].parent, 1);
			CHECK_STR(v[i].name, "a");
			named++;
		} else if (v[i].ino == 1) {
			CHECK(v[i].name == NULL);
		}
	}
	CHECK_INT(named, 1);
	itab_names_free(v, (size_t)n);
	CHECK_INT(itab_lookup(t, 1, "a", &st), -EAGAIN);
	CHECK_INT(itab_snapshot(t, 1, &s), -EAGAIN);
	CHECK_INT(itab_getattr(t, a.st_ino, &st), -EAGAIN);
	CHECK_INT(itab_getattr(t, b.st_ino, &st), 0);
	itab_pin(t, b.st_ino, false);
	itab_free(t);
}

TEST(listing_asked_before_our_change_is_not_installed)
{
	struct itab *t = new_table(60000, 60000, "/");
	const char *names[] = { "old" };
	struct itab_dirent *ents = calloc(1, sizeof(*ents));
	struct stat f = file_st(5), st;
	uint64_t gen;

	CHECK(t && ents);
	gen = itab_generation(t);
	/* meanwhile we create "new": the listing on its way lacks it */
	CHECK_INT(itab_add_entry(t, 1, "new", &f, NULL, &st), 0);
	ents[0].name = strdup(names[0]);
	ents[0].st = file_attr(1);
	CHECK_INT(itab_set_listing(t, 1, ents, 1, gen, 0), -EAGAIN);
	CHECK_INT(itab_lookup(t, 1, "old", &st), -EAGAIN); /* ask again */
	/* asked again after the change: installed */
	CHECK_INT(set_listing(t, 1, names, 1), 0);
	CHECK_INT(itab_lookup(t, 1, "old", &st), 0);
	itab_free(t);
}

TEST(server_attributes_older_than_our_change_are_ignored)
{
	struct itab *t = new_table(60000, 60000, "/");
	struct stat f = file_st(14), ours = file_st(100), st;
	uint64_t before, x;

	CHECK(t);
	CHECK_INT(itab_add_entry(t, 1, "log", &f, NULL, &st), 0);
	x = st.st_ino;
	before = itab_generation(t);
	itab_set_attr(t, x, &ours, NULL, ITAB_FORCE); /* we appended */
	/* a listing asked for before the append says 14 bytes */
	CHECK_INT(itab_add_listed(t, 1, "log", &f, NULL, before, &st), 0);
	CHECK_INT(st.st_size, 100);
	itab_set_listed_attr(t, x, &f, NULL, before);
	CHECK_INT(itab_getattr(t, x, &st), 0);
	CHECK_INT(st.st_size, 100);
	/* what the server says later is taken */
	CHECK_INT(
		itab_add_listed(t, 1, "log", &f, NULL, itab_generation(t), &st),
		0);
	CHECK_INT(st.st_size, 14);
	itab_forget(t, x, 3);
	itab_free(t);
}

/* @n files "f0" ... in @dir. */
static int set_numbered_listing(struct itab *t, uint64_t dir, size_t n)
{
	struct itab_dirent *ents = calloc(n, sizeof(*ents));
	char name[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		ents[i].name = strdup(name);
		ents[i].st = file_attr((off_t)i);
	}
	return itab_set_listing(t, dir, ents, n, itab_generation(t), 0);
}

TEST(listings_stay_within_budget_least_recently_used_dropped)
{
	struct itab *t;
	struct stat st, dir_st = { .st_mode = S_IFDIR | 0755 };
	uint64_t d[4], ino;
	size_t one, held;
	char name[8];

	/* What one listing of 100 files costs, measured. */
	t = new_table(1000, 60000, "/");
	CHECK(t);
	CHECK_INT(set_numbered_listing(t, 1, 100), 0);
	one = itab_listing_bytes(t, &held);
	CHECK_INT(held, 1);
	CHECK(one > 100 * 20 && one < 100 * 400);
	itab_free(t);

	/* Room for the root's small listing and two of those. */
	t = new_table_budget(1000, 60000, "/", 2 * one + one / 2);
	CHECK(t);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		CHECK_INT(itab_add_entry(t, 1, name, &dir_st, NULL, &st), 0);
		d[i] = st.st_ino;
	}
	CHECK_INT(set_numbered_listing(t, d[0], 100), 0);
	CHECK_INT(set_numbered_listing(t, d[1], 100), 0);
	CHECK_INT(itab_lookup(t, d[0], "f1", &st), 0); /* d0 used: d1 older */
	CHECK_INT(set_numbered_listing(t, d[2], 100), 0);
	CHECK(itab_listing_bytes(t, &held) <= 2 * one + one / 2);
	CHECK_INT(itab_lookup(t, d[1], "f1", &st), -EAGAIN); /* dropped */
	CHECK_INT(itab_lookup(t, d[0], "f1", &st), 0);
	CHECK_INT(itab_lookup(t, d[2], "f99", &st), 0);
	/* The inodes the kernel holds stay; only the listing went. */
	CHECK_INT(itab_find_child(t, 1, "d1", &ino), 0);
	CHECK_INT(ino, d[1]);

	/* One listing bigger than the budget is kept alone. */
	CHECK_INT(set_numbered_listing(t, d[3], 1000), 0);
	CHECK_INT(itab_lookup(t, d[3], "f999", &st), 0);
	CHECK_INT(itab_lookup(t, d[0], "f1", &st), -EAGAIN);
	CHECK_INT(itab_lookup(t, d[2], "f1", &st), -EAGAIN);

	/* Changes keep the count exact: all gone, nothing counted. */
	itab_remove(t, d[3], "f5");
	CHECK_INT(itab_add_entry(t, d[3], "new", &dir_st, NULL, &st), 0);
	for (int i = 0; i < 4; i++)
		itab_invalidate_dir(t, d[i]);
	itab_invalidate_dir(t, 1);
	CHECK_INT(itab_listing_bytes(t, &held), 0);
	CHECK_INT(held, 0);
	itab_free(t);
}

TEST(dropped_listing_keeps_local_only_files)
{
	struct itab *t;
	struct stat st, f = file_st(0);
	struct itab_dirent *ents = NULL;
	size_t n = 0, cap = 0;
	uint64_t ino;

	t = new_table_budget(1000, 60000, "/", 1);
	CHECK(t);
	CHECK_INT(set_numbered_listing(t, 1, 10), 0);
	CHECK_INT(itab_add_entry(t, 1, "new.txt", &f, NULL, &st), 0);
	itab_set_local_only(t, st.st_ino, true);
	itab_invalidate_dir(t, 1); /* as if dropped for the budget */
	CHECK_INT(itab_find_child(t, 1, "new.txt", &ino), 0);
	CHECK_INT(ino, st.st_ino);
	CHECK_INT(itab_add_local_entries(t, 1, &ents, &n, &cap), 0);
	CHECK_INT(n, 1);
	CHECK(strcmp(ents[0].name, "new.txt") == 0);
	CHECK_INT(itab_set_listing(t, 1, ents, n, itab_generation(t), 0), 0);
	CHECK_INT(itab_lookup(t, 1, "new.txt", &st), 0);
	itab_forget(t, ino, 2);
	itab_free(t);
}

static const struct check_case cases[] = {
	TEST_ENTRY(listings_stay_within_budget_least_recently_used_dropped),
	TEST_ENTRY(dropped_listing_keeps_local_only_files),
	TEST_ENTRY(remove_drops_name_keeps_inode_until_forgotten),
	TEST_ENTRY(listing_from_a_name_pool),
	TEST_ENTRY(rename_moves_inode_and_listing_entry),
	TEST_ENTRY(rename_over_existing_replaces_target),
	TEST_ENTRY(pinned_inode_keeps_our_size_against_listings),
	TEST_ENTRY(exact_mtime_reused_only_when_consistent),
	TEST_ENTRY(expire_all_forgets_listings_and_attributes_but_not_pinned),
	TEST_ENTRY(listing_asked_before_our_change_is_not_installed),
	TEST_ENTRY(server_attributes_older_than_our_change_are_ignored),
	TEST_ENTRY(paths_are_built_from_parents),
	TEST_ENTRY(root_slash_has_no_double_slash),
	TEST_ENTRY(fresh_listing_answers_lookups_and_negatives),
	TEST_ENTRY(listed_attributes_without_a_lookup),
	TEST_ENTRY(expired_listing_is_not_used),
	TEST_ENTRY(same_name_gives_same_inode),
	TEST_ENTRY(forget_frees_inodes_and_empty_parents),
	TEST_ENTRY(pinned_inode_outlives_the_kernels_forget),
	TEST_ENTRY(getattr_expires),
	TEST_ENTRY(listing_refreshes_known_children),
	TEST_ENTRY(snapshot_is_a_copy),
	TEST_ENTRY(snapshot_is_shared_until_the_listing_changes),
	TEST_ENTRY(readdirplus_leaves_the_snapshot_shared),
	TEST_ENTRY(readlink_from_cache),
	TEST_ENTRY(keep_cache_only_when_unchanged),
	TEST_ENTRY(many_entries),
	TEST_ENTRY(forgotten_inode_numbers_are_not_reused),
	TEST_ENTRY(exact_times_are_claimed_in_bounded_batches),
};

CHECK_MAIN(cases)
