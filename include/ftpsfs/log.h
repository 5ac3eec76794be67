/*
 * log.h - the one logging wrapper.
 *
 * Messages go to stderr while the process runs in the foreground and to
 * syslog once it has daemonised.  LOG_DEBUG lines appear only with -d.
 * Never pass a secret to these functions: callers redact PASS themselves
 * (see ctrl_conn_send()).
 *
 * Server text reaches messages (reply texts, names in paths): whatever a
 * message holds, log_msg() prints it through log_sanitize(), so no byte
 * from the server can move the cursor, set the terminal's title or start
 * a forged "ftpsfs ..." line, on a terminal or in the journal.  Callers
 * still escape untrusted text with log_escape() where they can, which also
 * shows where it starts and ends.
 */
#ifndef FTPSFS_LOG_H
#define FTPSFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_init(bool debug);
/* After daemonising: send further messages to syslog. */
void log_use_syslog(void);
bool log_debug_enabled(void);

/* Also hand every warning and error to @hook (the statistics' "last
 * error"); set before threads start. */
void log_set_error_hook(void (*hook)(const char *msg));

void log_msg(int level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(...)  log_msg(LOG_ERR, __func__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __func__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __func__, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_debug_enabled())                                       \
			log_msg(LOG_DEBUG, __func__, __VA_ARGS__);             \
	} while (0)

/*
 * Log each '\n'-separated line of untrusted @text (a multi-line FTP reply)
 * as its own message, escaped like log_escape() and after @prefix.
 */
void log_lines(int level, const char *func, const char *prefix,
	       const char *text);

/*
 * Copy @len bytes of untrusted @in into @out (size @outsz) for printing:
 * control characters and non-ASCII bytes become \xHH.  Always
 * NUL-terminates; truncates with "..." when too long.  Returns @out.
 */
char *log_escape(char *out, size_t outsz, const char *in, size_t len);

/*
 * Copy the NUL-terminated @in into @out (size @outsz) fit for a terminal
 * and a log line: C0 controls (CR, LF, ESC, BEL ... also TAB), DEL, C1
 * controls (U+0080-U+009F, which some terminals obey) and bytes that are
 * not valid UTF-8 become \xHH; valid UTF-8 and everything printable stay
 * as they are, so text escaped by log_escape() passes unchanged.  Always
 * NUL-terminates; truncates with "..." when too long.  Returns @out.
 */
char *log_sanitize(char *out, size_t outsz, const char *in);

#endif
