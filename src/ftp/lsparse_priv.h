/*
 * lsparse_priv.h - helpers shared by the listing parsers (not a public
 * contract: only src/ftp/lsparse_*.c include this).
 *
 * Everything here is static inline so that the parsers stay three
 * independent translation units with no extra object to link.
 */
#ifndef FTPSFS_LSPARSE_PRIV_H
#define FTPSFS_LSPARSE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "ftpsfs/lsparse.h"

/* Longest directory entry name we hand to the kernel (NAME_MAX). */
#define LSPARSE_NAME_MAX 255

static inline char lsparse_ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/*
 * Compare @len bytes at @s with the lower-case literal @lit, ignoring ASCII
 * case.  Protocol keywords are ASCII, so this needs no locale (strcasecmp
 * depends on LC_CTYPE).
 */
static inline bool lsparse_ascii_ieq(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (lsparse_ascii_lower(s[i]) != lit[i])
			return false;
	}
	return true;
}

static inline bool lsparse_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Classify a directory entry name of @len bytes (which may contain NUL).
 * "." and ".." are not entries; anything that could escape the directory
 * or break the kernel's view of it is a bad name (DESIGN.md section 6).
 */
static inline int lsparse_check_name(const char *name, size_t len)
{
	if (len == 1 && name[0] == '.')
		return LSPARSE_SKIP;
	if (len == 2 && name[0] == '.' && name[1] == '.')
		return LSPARSE_SKIP;
	if (len == 0 || len > LSPARSE_NAME_MAX)
		return LSPARSE_BAD_NAME;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '/' || c == '\r' || c == '\n' || c == '\0')
			return LSPARSE_BAD_NAME;
	}
	return LSPARSE_ENTRY;
}

/*
 * A link target is only reported if it is a plain string: one with CR, LF
 * or NUL would be truncated or could inject a command, so it is dropped and
 * the link's target is unknown.
 */
static inline bool lsparse_target_ok(const char *target, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (target[i] == '\r' || target[i] == '\n' || target[i] == '\0')
			return false;
	}
	return len > 0;
}

/*
 * The name is the tail of the line: [start, end).  Terminate it without
 * writing past the caller's @len bytes by sliding it one byte to the left
 * over the separator that precedes it (which the caller guarantees exists,
 * start >= 1).  Returns the new start.
 */
static inline char *lsparse_terminate_tail(char *line, size_t start, size_t end)
{
	memmove(line + start - 1, line + start, end - start);
	line[end - 1] = '\0';
	return line + start - 1;
}

#endif
