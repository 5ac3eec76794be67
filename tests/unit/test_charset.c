/*
 * test_charset.c - name conversion for codepage= (src/ftp/charset.c).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/charset.h"

static char out[64];

static int to_server(const char *cs_name, const char *in)
{
	struct charset *cs;
	int ret = charset_new(cs_name, &cs);

	if (ret < 0)
		return ret;
	memset(out, 'Z', sizeof(out));
	ret = charset_to_server(cs, in, out, sizeof(out));
	charset_free(cs);
	return ret;
}

static int to_local(const char *cs_name, const char *in, size_t outsz)
{
	struct charset *cs;
	int ret = charset_new(cs_name, &cs);

	if (ret < 0)
		return ret;
	memset(out, 'Z', sizeof(out));
	ret = charset_to_local(cs, in, out, outsz);
	charset_free(cs);
	return ret;
}

TEST(latin1_both_ways)
{
	CHECK_INT(to_server("ISO-8859-1", "caf\xc3\xa9.txt"), 0);
	CHECK_STR(out, "caf\xe9.txt");
	CHECK_INT(to_local("ISO-8859-1", "r\xe9sum\xe9", sizeof(out)), 0);
	CHECK_STR(out, "r\xc3\xa9sum\xc3\xa9");
}

TEST(gbk_both_ways)
{
	/* "中文" */
	CHECK_INT(to_server("GBK", "\xe4\xb8\xad\xe6\x96\x87.txt"), 0);
	CHECK_STR(out, "\xd6\xd0\xce\xc4.txt");
	CHECK_INT(to_local("GBK", "\xd6\xd0\xce\xc4", sizeof(out)), 0);
	CHECK_STR(out, "\xe4\xb8\xad\xe6\x96\x87");
}

TEST(ascii_commands_are_unchanged)
{
	CHECK_INT(to_server("CP1251", "HASH SHA-256"), 0);
	CHECK_STR(out, "HASH SHA-256");
	CHECK_INT(to_server("GBK", ""), 0);
	CHECK_STR(out, "");
}

TEST(no_form_in_the_other_charset_is_eilseq)
{
	/* "中" has no Latin-1 form: refused, never replaced by '?' */
	CHECK_INT(to_server("ISO-8859-1", "\xe4\xb8\xad"), -EILSEQ);
	/* invalid UTF-8 from the program */
	CHECK_INT(to_server("ISO-8859-1", "a\xff"), -EILSEQ);
	/* an incomplete GBK character from the server */
	CHECK_INT(to_local("GBK", "ab\xd6", sizeof(out)), -EILSEQ);
}

TEST(too_small_output_is_enametoolong)
{
	CHECK_INT(to_local("ISO-8859-1", "\xe9\xe9\xe9", 6), -ENAMETOOLONG);
	CHECK_INT(to_local("ISO-8859-1", "\xe9\xe9\xe9", 7), 0);
	CHECK_INT(to_local("ISO-8859-1", "x", 0), -ENAMETOOLONG);
}

TEST(unknown_charset_is_einval)
{
	struct charset *cs = NULL;

	CHECK_INT(charset_new("NO-SUCH-CHARSET-42", &cs), -EINVAL);
	CHECK(cs == NULL);
}

static const struct check_case cases[] = {
	TEST_ENTRY(latin1_both_ways),
	TEST_ENTRY(gbk_both_ways),
	TEST_ENTRY(ascii_commands_are_unchanged),
	TEST_ENTRY(no_form_in_the_other_charset_is_eilseq),
	TEST_ENTRY(too_small_output_is_enametoolong),
	TEST_ENTRY(unknown_charset_is_einval),
};

CHECK_MAIN(cases)
