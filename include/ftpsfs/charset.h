/*
 * charset.h - -o codepage=: a server whose names are not UTF-8 (Latin-1,
 * CP1251, GBK ...).  Names are converted to UTF-8 as they are listed and
 * back to the server's charset where a command is sent (ftp_conn_send()),
 * with iconv(3).  Nothing is guessed or replaced: a name that has no form
 * in the other charset is -EILSEQ (dropped from listings with a log line,
 * refused for commands).
 */
#ifndef FTPSFS_CHARSET_H
#define FTPSFS_CHARSET_H

#include <stddef.h>

struct charset;

/* For a server using @server_charset (an iconv name).  Returns 0, or
 * -EINVAL if iconv does not know it, or -ENOMEM. */
int charset_new(const char *server_charset, struct charset **out);
void charset_free(struct charset *cs);

/*
 * Convert the NUL-terminated @in (UTF-8 / the server's charset) into @out
 * (the server's charset / UTF-8), NUL-terminated.  Thread-safe.  Returns
 * 0, -EILSEQ (no form in the target charset, or invalid input), or
 * -ENAMETOOLONG (@outsz too small).
 */
int charset_to_server(struct charset *cs, const char *in, char *out,
		      size_t outsz);
int charset_to_local(struct charset *cs, const char *in, char *out,
		     size_t outsz);

#endif
