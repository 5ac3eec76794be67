/* Unit tests for escaping untrusted text in log lines (log.h). */
#include <string.h>

#include "check.h"
#include "ftpsfs/log.h"

static const char *sanitized(const char *in)
{
	static char out[256];

	return log_sanitize(out, sizeof(out), in);
}

TEST(printable_ascii_passes_unchanged)
{
	CHECK_STR(sanitized("RETR /a b.txt: 550 No such file"),
		  "RETR /a b.txt: 550 No such file");
}

TEST(terminal_controls_are_escaped)
{
	/* OSC title change ended by BEL, then a bare CR and a forged line */
	CHECK_STR(
		sanitized("login refused: 530 \x1b]0;owned\x07\rftpsfs: ok\n"),
		"login refused: 530 \\x1b]0;owned\\x07\\x0dftpsfs: ok\\x0a");
	CHECK_STR(sanitized("a\tb\x7f"), "a\\x09b\\x7f");
}

TEST(already_escaped_text_is_not_escaped_again)
{
	CHECK_STR(sanitized("name \\x1b[31m"), "name \\x1b[31m");
}

TEST(valid_utf8_stays)
{
	CHECK_STR(sanitized("/Dokumente/\xc3\x9c"
			    "bersicht \xe2\x82\xac \xf0\x9f\x98\x80"),
		  "/Dokumente/\xc3\x9c"
		  "bersicht \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(c1_controls_in_utf8_are_escaped)
{
	/* U+009B is CSI for terminals that obey C1 controls */
	CHECK_STR(sanitized("x\xc2\x9b"
			    "31m"),
		  "x\\xc2\\x9b31m");
	CHECK_STR(sanitized("\xc2\xa0"), "\xc2\xa0"); /* U+00A0 is printable */
}

TEST(invalid_utf8_is_escaped_bytewise)
{
	CHECK_STR(sanitized("\x9b"
			    "2J"),
		  "\\x9b2J");					 /* raw CSI */
	CHECK_STR(sanitized("\xc0\xaf"), "\\xc0\\xaf");		 /* overlong */
	CHECK_STR(sanitized("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* surrogate */
	CHECK_STR(sanitized("\xe2\x82"), "\\xe2\\x82");		 /* cut short */
	CHECK_STR(sanitized("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
}

TEST(overlong_output_is_truncated_and_terminated)
{
	char out[16];

	CHECK_STR(log_sanitize(out, sizeof(out), "\x1b\x1b\x1b\x1b\x1b"),
		  "\\x1b\\x1b\\x1b...");
	CHECK_STR(log_sanitize(out, sizeof(out), "abcdefghijklmnopqrstuvwxyz"),
		  "abcdefghijkl...");
}

TEST(escape_shows_backslash_and_controls_as_hex)
{
	char out[64];

	CHECK_STR(log_escape(out, sizeof(out), "a\\b\x1b", 4), "a\\x5cb\\x1b");
}

static const struct check_case cases[] = {
	TEST_ENTRY(printable_ascii_passes_unchanged),
	TEST_ENTRY(terminal_controls_are_escaped),
	TEST_ENTRY(already_escaped_text_is_not_escaped_again),
	TEST_ENTRY(valid_utf8_stays),
	TEST_ENTRY(c1_controls_in_utf8_are_escaped),
	TEST_ENTRY(invalid_utf8_is_escaped_bytewise),
	TEST_ENTRY(overlong_output_is_truncated_and_terminated),
	TEST_ENTRY(escape_shows_backslash_and_controls_as_hex),
};

CHECK_MAIN(cases)
