/*
 * hexdigit.h - hexadecimal digits both ways (locale-independent, unlike
 * isxdigit/strtol/printf loops).
 */
#ifndef FTPSFS_HEXDIGIT_H
#define FTPSFS_HEXDIGIT_H

#include <stddef.h>

/* 0-15, or -1 if @c is not a hex digit. */
static inline int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* @n bytes as 2 * @n lower-case hex digits and a NUL into @out. */
static inline void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

#endif
