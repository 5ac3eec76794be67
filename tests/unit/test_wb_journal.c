/* Unit tests for the write-back journal (wb_journal.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ftpsfs/spool.h"
#include "ftpsfs/wb_journal.h"

static char dir[256];

static struct wb_record sample(void)
{
	struct wb_record r = { .size = 12345,
			       .seen_known = true,
			       .seen_exists = true,
			       .seen_size = 77,
			       .seen_mtime = 1700000000,
			       .started = false,
			       .set_mode = true,
			       .mode = 0640,
			       .set_mtime = true,
			       .mtime = -86400 };

	snprintf(r.path, sizeof(r.path), "/dir with space/a=b\xc3\xa9%%");
	memset(r.sha256, 'a', 64);
	r.sha256[64] = '\0';
	return r;
}

TEST(record_round_trips_through_text)
{
	struct wb_record r = sample(), back;
	char buf[WB_RECORD_MAX];
	int len = wb_record_format(&r, buf, sizeof(buf));

	CHECK(len > 0);
	CHECK_INT(wb_record_parse(buf, (size_t)len, &back), 0);
	CHECK_STR(back.path, r.path);
	CHECK_INT(back.size, 12345);
	CHECK_STR(back.sha256, r.sha256);
	CHECK_INT(back.seen_known, 1);
	CHECK_INT(back.seen_exists, 1);
	CHECK_INT(back.seen_size, 77);
	CHECK_INT(back.seen_mtime, 1700000000);
	CHECK_INT(back.started, 0);
	CHECK_INT(back.set_mode, 1);
	CHECK_INT(back.mode, 0640);
	CHECK_INT(back.set_mtime, 1);
	CHECK_INT(back.mtime, -86400);
	r.set_mode = false;
	len = wb_record_format(&r, buf, sizeof(buf));
	CHECK_INT(wb_record_parse(buf, (size_t)len, &back), 0);
	CHECK_INT(back.set_mode, 0);
}

TEST(record_cut_short_is_refused)
{
	struct wb_record r = sample(), back;
	char buf[WB_RECORD_MAX];
	int len = wb_record_format(&r, buf, sizeof(buf));

	CHECK(len > 10);
	/* Without its "end" line (a torn write) it is not a record. */
	CHECK_INT(wb_record_parse(buf, (size_t)len - 4, &back), -EINVAL);
	CHECK_INT(wb_record_parse(buf, 5, &back), -EINVAL);
}

TEST(record_with_bad_values_is_refused)
{
	struct wb_record back;
	const char *bad[] = {
		"ftpsfs-writeback 1\npath=2f61\nsize=x\nsha256=" /* no */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa"
		"\nend\n",
		"ftpsfs-writeback 1\npath=2f0061\nsize=1\nsha256="
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa"
		"\nend\n", /* NUL in the path */
		"ftpsfs-writeback 1\nsize=1\nsha256="
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa"
		"\nend\n", /* no path */
		"ftpsfs-writeback 1\npath=2f610a62\nsize=1\nsha256="
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa"
		"\nend\n", /* LF in the path: never an FTP argument */
		"ftpsfs-writeback 1\npath=61\nsize=1\nsha256="
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa"
		"\nend\n", /* not absolute */
		"ftpsfs-writeback 1\npath=2f61\nsize=1\nsha256="
		"gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa"
		"\nend\n", /* a digest that is not hex */
		"something else\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(wb_record_parse(bad[i], strlen(bad[i]), &back),
			  -EINVAL);
}

TEST(saved_record_and_linked_spool_survive_and_are_removed)
{
	struct wb_record r = sample(), back;
	struct spool sp;
	char sha[WB_SHA256_HEX], (*ids)[WB_ID_LEN + 1] = NULL;
	size_t n = 0;
	int fd;

	CHECK_INT(wb_journal_new_id(r.id), 0);
	CHECK_INT(strlen(r.id), WB_ID_LEN);
	CHECK_INT(spool_open(dir, 0, &sp), 0);
	CHECK_INT(spool_pwrite(&sp, "hello", 5, 0), 0);
	CHECK_INT(wb_journal_link(dir, r.id, sp.fd), 0);
	/* Linking again (a second close) keeps one name. */
	CHECK_INT(wb_journal_link(dir, r.id, sp.fd), 0);
	CHECK_INT(wb_journal_digest(sp.fd, 5, r.sha256), 0);
	/* sha256("hello") */
	CHECK_STR(r.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e"
			    "73043362938b9824");
	r.size = 5;
	CHECK_INT(wb_journal_save(dir, &r), 0);
	spool_close(&sp); /* the process is gone: the data stays */

	CHECK_INT(wb_journal_list(dir, &ids, &n), 0);
	CHECK_INT(n, 1);
	CHECK_STR(ids[0], r.id);
	free(ids);
	CHECK_INT(wb_journal_load(dir, r.id, &back), 0);
	CHECK_STR(back.id, r.id);
	CHECK_STR(back.path, r.path);
	fd = wb_journal_open_data(dir, r.id);
	CHECK(fd >= 0);
	CHECK_INT(wb_journal_digest(fd, 5, sha), 0);
	close(fd);
	CHECK_STR(sha, r.sha256);

	CHECK_INT(wb_journal_remove(dir, r.id), 0);
	CHECK_INT(wb_journal_list(dir, &ids, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(wb_journal_open_data(dir, r.id), -ENOENT);
}

/* @dir/@base holding @text (what a crash left behind); its path to @name.
 * Returns 0 or -1. */
static int leftover(char *name, size_t namesz, const char *base,
		    const char *text)
{
	FILE *f;

	snprintf(name, namesz, "%s/%s", dir, base);
	f = fopen(name, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

TEST(torn_save_leaves_no_record)
{
	char name[512], (*ids)[WB_ID_LEN + 1] = NULL;
	size_t n = 5;

	/* A crash between writing ID.rec.tmp and renaming it. */
	CHECK_INT(leftover(name, sizeof(name), "wb-0123456789abcdef.rec.tmp",
			   "ftpsfs-writeback 1\npath=2f"),
		  0);
	CHECK_INT(wb_journal_list(dir, &ids, &n), 0);
	CHECK_INT(n, 0);
	CHECK(access(name, F_OK) < 0); /* cleaned up */
}

TEST(data_without_record_is_kept_as_unsaved)
{
	char name[512];
	unsigned kept = 0;

	/* A crash between linking the data and writing its record. */
	CHECK_INT(leftover(name, sizeof(name), "wb-00000000000000aa.data",
			   "partial"),
		  0);
	CHECK_INT(wb_journal_keep_orphans(dir, &kept), 0);
	CHECK_INT(kept, 1);
	CHECK(access(name, F_OK) < 0);
	snprintf(name, sizeof(name), "%s/unsaved-wb-00000000000000aa", dir);
	CHECK_INT(access(name, F_OK), 0);
	unlink(name);
}

TEST(digest_of_short_file_fails)
{
	char sha[WB_SHA256_HEX];
	struct spool sp;

	CHECK_INT(spool_open(dir, 0, &sp), 0);
	CHECK_INT(spool_pwrite(&sp, "abc", 3, 0), 0);
	CHECK_INT(wb_journal_digest(sp.fd, 10, sha), -EIO);
	spool_close(&sp);
}

static const struct check_case cases[] = {
	TEST_ENTRY(record_round_trips_through_text),
	TEST_ENTRY(record_cut_short_is_refused),
	TEST_ENTRY(record_with_bad_values_is_refused),
	TEST_ENTRY(saved_record_and_linked_spool_survive_and_are_removed),
	TEST_ENTRY(torn_save_leaves_no_record),
	TEST_ENTRY(data_without_record_is_kept_as_unsaved),
	TEST_ENTRY(digest_of_short_file_fails),
};

int main(void)
{
	int ret;

	snprintf(dir, sizeof(dir), "/tmp/ftpsfs-test-wbj-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	ret = check_run(cases, sizeof(cases) / sizeof(cases[0]));
	rmdir(dir);
	return ret;
}
