/*
 * test_fingerprint.c - "sha256:HEX" fingerprints (src/opts/fingerprint.c).
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "ftpsfs/fingerprint.h"

#define HEX64 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static uint8_t fp[FINGERPRINT_LEN];

static int parse(const char *s)
{
	memset(fp, 0xee, sizeof(fp));
	return fingerprint_parse(s, strlen(s), fp);
}

static int is_counting(void)
{
	for (int i = 0; i < FINGERPRINT_LEN; i++)
		if (fp[i] != i)
			return 0;
	return 1;
}

TEST(plain_hex_parses)
{
	CHECK_INT(parse("sha256:" HEX64), 0);
	CHECK(is_counting());
}

TEST(prefix_and_digits_are_case_insensitive)
{
	CHECK_INT(parse("SHA256:000102030405060708090A0B0C0D0E0F"
			"101112131415161718191A1B1C1D1E1F"),
		  0);
	CHECK(is_counting());
}

TEST(openssl_colon_form_parses)
{
	CHECK_INT(parse("sha256:00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:"
			"0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F"),
		  0);
	CHECK(is_counting());
}

TEST(missing_prefix_is_refused)
{
	CHECK_INT(parse(HEX64), -EINVAL);
	CHECK_INT(parse("sha1:" HEX64), -EINVAL);
	CHECK_INT(parse("sha256" HEX64), -EINVAL);
}

TEST(wrong_length_is_refused)
{
	CHECK_INT(parse("sha256:"), -EINVAL);
	CHECK_INT(parse("sha256:" HEX64 "00"), -EINVAL);
	CHECK_INT(parse("sha256:" HEX64 "0"), -EINVAL);
	CHECK_INT(parse("sha256:0001"), -EINVAL);
}

TEST(misplaced_colons_are_refused)
{
	CHECK_INT(parse("sha256::" HEX64), -EINVAL);
	CHECK_INT(parse("sha256:" HEX64 ":"), -EINVAL);
	CHECK_INT(parse("sha256:00::01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:"
			"0f:10:11:12:13:14:15:16:17:18:19:1a:1b:1c:1d:1e:1f"),
		  -EINVAL);
	CHECK_INT(parse("sha256:0:001020304050607080900a0b0c0d0e0f"
			"101112131415161718191a1b1c1d1e1f"),
		  -EINVAL);
}

TEST(other_characters_are_refused)
{
	CHECK_INT(parse("sha256:" HEX64 " "), -EINVAL);
	CHECK_INT(parse("sha256:g00102030405060708090a0b0c0d0e0f"
			"101112131415161718191a1b1c1d1e1"),
		  -EINVAL);
	CHECK_INT(fingerprint_parse("sha256:00\0"
				    "1",
				    11, fp),
		  -EINVAL);
}

TEST(format_round_trips)
{
	char text[FINGERPRINT_TEXT_LEN + 1];

	CHECK_INT(parse("sha256:" HEX64), 0);
	fingerprint_format(fp, text);
	CHECK_STR(text, "sha256:" HEX64);
	CHECK_INT(strlen(text), FINGERPRINT_TEXT_LEN);
}

static const struct check_case cases[] = {
	TEST_ENTRY(plain_hex_parses),
	TEST_ENTRY(prefix_and_digits_are_case_insensitive),
	TEST_ENTRY(openssl_colon_form_parses),
	TEST_ENTRY(missing_prefix_is_refused),
	TEST_ENTRY(wrong_length_is_refused),
	TEST_ENTRY(misplaced_colons_are_refused),
	TEST_ENTRY(other_characters_are_refused),
	TEST_ENTRY(format_round_trips),
};

CHECK_MAIN(cases)
