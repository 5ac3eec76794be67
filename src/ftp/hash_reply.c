/*
 * hash_reply.c - names, FEAT lines and replies of the server-side
 * checksum commands.  See ftp_hash.h.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "ftpsfs/ftp_hash.h"

static const struct ftp_hash_info hash_table[FTP_HASH_COUNT] = {
	[FTP_HASH_CRC32] = { "CRC32", "crc32", 8 },
	[FTP_HASH_MD5] = { "MD5", "md5", 32 },
	[FTP_HASH_SHA1] = { "SHA-1", "sha1", 40 },
	[FTP_HASH_SHA256] = { "SHA-256", "sha256", 64 },
	[FTP_HASH_SHA512] = { "SHA-512", "sha512", 128 },
};

const struct ftp_hash_info *ftp_hash_info(enum ftp_hash_algo a)
{
	return &hash_table[a];
}

int ftp_hash_by_name(const char *name)
{
	for (int a = 0; a < FTP_HASH_COUNT; a++)
		if (strcmp(name, hash_table[a].name) == 0)
			return a;
	return -1;
}

static bool word_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

bool ftp_hash_feat_line(const char *s, size_t len, unsigned *hash_mask,
			int *selected)
{
	if (len < 5 || strncasecmp(s, "HASH ", 5) != 0)
		return false;
	/* "HASH SHA-1*;SHA-256;MD5" (draft-bryan-ftpext-hash section 4) */
	for (size_t i = 5; i < len;) {
		size_t n = 0;
		bool star;

		while (i + n < len && s[i + n] != ';' && s[i + n] != ' ')
			n++;
		star = n > 0 && s[i + n - 1] == '*';
		for (int a = 0; a < FTP_HASH_COUNT; a++) {
			if (word_is(s + i, star ? n - 1 : n,
				    hash_table[a].hash_name)) {
				*hash_mask |= 1u << a;
				if (star)
					*selected = a;
			}
		}
		i += n + 1;
	}
	return true;
}

/* Copy the @n hex digits at @p lower-cased, if exactly that. */
static int take_hex(const char *p, size_t n, size_t want, char *out,
		    size_t outsz)
{
	if (n != want || want + 1 > outsz)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return -EPROTO;
		out[i] = (char)tolower((unsigned char)p[i]);
	}
	out[n] = '\0';
	return 0;
}

int ftp_parse_hash(const char *text, enum ftp_hash_algo a, char *out,
		   size_t outsz)
{
	const char *line = strrchr(text, '\n');
	const char *p, *end;
	int skip = 2; /* ALGO RANGE before the digest */

	line = line ? line + 1 : text;
	/* "NNN " then the words */
	if (strlen(line) < 4 || !isdigit((unsigned char)line[0]) ||
	    line[3] != ' ')
		return -EPROTO;
	p = line + 4;
	for (int w = 0; w < skip; w++) {
		const char *sp = strchr(p, ' ');

		if (!sp)
			return -EPROTO;
		if (w == 0 &&
		    !word_is(p, (size_t)(sp - p), hash_table[a].hash_name))
			return -EPROTO; /* the digest of another algorithm */
		p = sp + 1;
	}
	end = p + strcspn(p, " ");
	return take_hex(p, (size_t)(end - p), hash_table[a].hexlen, out, outsz);
}
