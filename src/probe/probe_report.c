/*
 * probe_report.c - how the probe prints: sections, "key: value" facts and
 * server text made fit for a terminal.  Every section of the report
 * (probe_*.c) prints through these; they call nothing else of the probe.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ftpsfs/log.h"
#include "probe_internal.h"

void probe_section(const char *title)
{
	printf("\n%s\n", title);
}

void probe_fact(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

char *probe_esc(char *out, size_t outsz, const char *in)
{
	/* Messages may hold reply text the ftp layer escaped already
	 * (ftp_reply_message()): control characters are escaped, escapes
	 * are left alone. */
	return log_sanitize(out, outsz, in);
}

void probe_fact_lines(const char *key, const char *text)
{
	char esc[4 * 256 + 8];

	do {
		size_t len = strcspn(text, "\n");

		probe_fact(key, "%s", log_escape(esc, sizeof(esc), text, len));
		text += len;
	} while (*text++ == '\n' && *text);
}
