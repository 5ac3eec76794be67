/*
 * fingerprint.c - parse and print "sha256:HEX" fingerprints.
 */
#include <errno.h>
#include <strings.h>

#include "ftpsfs/fingerprint.h"
#include "ftpsfs/hexdigit.h"

int fingerprint_parse(const char *text, size_t len,
		      uint8_t out[FINGERPRINT_LEN])
{
	size_t i = 7, n = 0;

	if (len < 7 || strncasecmp(text, "sha256:", 7) != 0)
		return -EINVAL;
	while (i < len) {
		int hi, lo;

		/* A colon only between two bytes: "AB:CD", never "A:B",
		 * "::", or a leading or trailing one. */
		if (text[i] == ':') {
			if (n == 0 || i + 1 >= len || text[i + 1] == ':')
				return -EINVAL;
			i++;
		}
		if (i + 1 >= len || n == FINGERPRINT_LEN)
			return -EINVAL;
		hi = hex_digit_value(text[i]);
		lo = hex_digit_value(text[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return n == FINGERPRINT_LEN ? 0 : -EINVAL;
}

void fingerprint_format(const uint8_t fp[FINGERPRINT_LEN],
			char out[FINGERPRINT_TEXT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (const char *s = "sha256:"; *s; s++)
		*p++ = *s;
	for (size_t i = 0; i < FINGERPRINT_LEN; i++) {
		*p++ = hex[fp[i] >> 4];
		*p++ = hex[fp[i] & 15];
	}
	*p = '\0';
}
