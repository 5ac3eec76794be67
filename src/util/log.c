/*
 * log.c - logging to stderr or syslog.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ftpsfs/log.h"

/* Set once at start-up, before any thread exists; read-only afterwards. */
static bool log_debug_on;
static bool log_to_syslog;
static void (*log_error_hook)(const char *msg); /* set once at start */

void log_init(bool debug)
{
	log_debug_on = debug;
}

void log_use_syslog(void)
{
	openlog("ftpsfs", LOG_PID, LOG_DAEMON);
	log_to_syslog = true;
}

bool log_debug_enabled(void)
{
	return log_debug_on;
}

static const char *log_level_name(int level)
{
	switch (level) {
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_set_error_hook(void (*hook)(const char *msg))
{
	log_error_hook = hook;
}

void log_msg(int level, const char *func, const char *fmt, ...)
{
	char raw[2048], msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	log_sanitize(msg, sizeof(msg), raw);

	if (level <= LOG_WARNING && log_error_hook)
		log_error_hook(msg);
	if (log_to_syslog) {
		syslog(level, "%s", msg);
		return;
	}
	if (log_debug_on) {
		/* Local wall-clock time to the millisecond, to set beside
		 * the server's log and the user's own notes. */
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		if (!localtime_r(&ts.tv_sec, &tm) ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm) == 0)
			snprintf(when, sizeof(when), "%lld",
				 (long long)ts.tv_sec);
		fprintf(stderr, "%s.%03ld ftpsfs %s: %s: %s\n", when,
			ts.tv_nsec / 1000000, log_level_name(level), func, msg);
	} else {
		fprintf(stderr, "ftpsfs: %s\n", msg);
	}
}

void log_lines(int level, const char *func, const char *prefix,
	       const char *text)
{
	char esc[512];

	do {
		size_t len = strcspn(text, "\n");

		log_msg(level, func, "%s%s", prefix,
			log_escape(esc, sizeof(esc), text, len));
		text += len;
	} while (*text++ == '\n' && *text);
}

char *log_escape(char *out, size_t outsz, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outsz == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t need = (c < 0x20 || c >= 0x7f || c == '\\') ? 4 : 1;

		if (o + need + 4 > outsz) {
			if (o + 4 <= outsz) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 4) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

/*
 * Length of the valid UTF-8 sequence at @s (at most @len bytes) that is
 * not a C1 control, or 0.  RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF.
 */
static size_t log_utf8_len(const unsigned char *s, size_t len)
{
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > len)
		return 0;
	if (s[0] == 0xc2)
		lo = 0xa0; /* U+0080-U+009F: C1 controls (0x9b is CSI) */
	else if (s[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

char *log_sanitize(char *out, size_t outsz, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)in;
	size_t len = strlen(in), o = 0;

	if (outsz == 0)
		return out;
	for (size_t i = 0; i < len;) {
		size_t n = 0, need;

		if (s[i] >= 0x20 && s[i] < 0x7f)
			n = 1;
		else if (s[i] >= 0x80)
			n = log_utf8_len(s + i, len - i);
		need = n ? n : 4; /* 0: escaped as \xHH */

		if (o + need + 4 > outsz) {
			if (o + 4 <= outsz) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[s[i] >> 4];
		out[o++] = hex[s[i] & 15];
		i++;
	}
	out[o] = '\0';
	return out;
}
