/*
 * list.c - MLSD/LIST transfers fed line by line to the listing parsers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn_internal.h"
#include "ftpsfs/charset.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_list.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/stats.h"

struct list_state {
	struct ftp_conn *c;
	bool mlsd;
	time_t now;
	ftp_list_cb cb;
	void *arg;
	unsigned long entries;
	unsigned long dropped;
	char line[FTP_LIST_LINE_MAX + 1];
	size_t len;
	/* codepage=: the entry's name and link target in UTF-8 */
	char name[1024];
	char target[FTP_LIST_LINE_MAX + 1];
	bool overlong; /* discarding the rest of an overlong line */
};

/* codepage=: the entry's names from the server's charset to UTF-8. */
static int list_to_local(struct list_state *st, struct ftp_entry *e)
{
	struct charset *cs = st->c->ep->charset;
	int ret = charset_to_local(cs, e->name, st->name, sizeof(st->name));

	if (ret == 0 && e->link_target)
		ret = charset_to_local(cs, e->link_target, st->target,
				       sizeof(st->target));
	if (ret < 0)
		return ret;
	e->name = st->name;
	if (e->link_target)
		e->link_target = st->target;
	return 0;
}

static int list_one_line(struct list_state *st)
{
	struct ftp_entry e = { 0 };
	char esc[128];
	int ret;

	if (st->len > 0 && st->line[st->len - 1] == '\r')
		st->len--;
	if (st->len == 0)
		return 0;
	st->line[st->len] = '\0';
	ret = st->mlsd ? mlsd_parse_line(st->line, st->len, &e)
		       : list_parse_line(st->line, st->len, st->now, &e);
	if (ret == LSPARSE_SKIP)
		return 0;
	if (ret == LSPARSE_BAD_NAME) {
		st->dropped++;
		/* The parser has cut the line up in place: print the name
		 * it points at, not the line. */
		log_warn("dropped a directory entry with an unusable name "
			 "from the server: \"%s\"",
			 e.name ? log_escape(esc, sizeof(esc), e.name,
					     strnlen(e.name, 255))
				: "?");
		return 0;
	}
	if (ret < 0) {
		log_debug("conn %u: unparsable listing line: %s", st->c->id,
			  log_escape(esc, sizeof(esc), st->line, st->len));
		return 0;
	}
	if (st->c->ep->charset && list_to_local(st, &e) < 0) {
		st->dropped++;
		log_warn("dropped a directory entry whose name is not valid in "
			 "the server's charset (codepage=): \"%s\"",
			 log_escape(esc, sizeof(esc), e.name,
				    strnlen(e.name, 255)));
		return 0;
	}
	st->entries++;
	ret = st->cb(st->arg, &e);
	if (ret == -E2BIG) /* the caller counts over every pass (and logs) */
		snprintf(st->c->err, sizeof(st->c->err),
			 "listing has too many entries");
	return ret;
}

/* Split received bytes into lines; lines beyond the limit are dropped. */
static int list_feed(struct list_state *st, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ret;

		if (buf[i] != '\n') {
			if (st->len < FTP_LIST_LINE_MAX)
				st->line[st->len++] = buf[i];
			else
				st->overlong = true;
			continue;
		}
		if (st->overlong) {
			log_warn("dropped an overlong listing line");
			ret = 0;
		} else {
			ret = list_one_line(st);
		}
		st->len = 0;
		st->overlong = false;
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * vsftpd lists a directory it may not read (a write-only "drop box",
 * mode -wx) as empty, and says so only in its 226: "Transfer done (but
 * failed to open directory)."  That is a refusal, not an empty directory:
 * -EACCES, with the reply kept as the reason.  Returns 0 otherwise.
 */
static int list_refused_quietly(struct ftp_conn *c)
{
	const struct ftp_reply *r = ftp_conn_reply(c);
	char msg[256];

	if (!strcasestr(r->text, "failed to open directory"))
		return 0;
	snprintf(c->err, sizeof(c->err), "listing refused: %d %s", r->code,
		 ftp_reply_message(r, msg, sizeof(msg)));
	return -EACCES;
}

static int list_transfer(struct ftp_conn *c, struct list_state *st,
			 const char *cwd, const char *verb, const char *arg,
			 bool dir_known)
{
	struct ftp_xfer *x;
	char *buf;
	uint64_t total = 0;
	int ret;

	ret = ftp_xfer_open(
		c,
		&(struct ftp_xfer_cmd){ .cwd = cwd,
					.verb = verb,
					.arg = arg,
					.op = FTP_OP_LIST,
					.target_exists = dir_known },
		&x);
	if (ret < 0)
		return ret;
	stats_add(STATS_LISTINGS, 1);
	buf = malloc(65536);
	if (!buf) {
		ftp_xfer_abort(c, x);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = ftp_xfer_read(c, x, buf, 65536);

		if (n == 0)
			break;
		if (n < 0) {
			ret = (int)n;
			goto abort;
		}
		total += (uint64_t)n;
		if (total > FTP_LIST_BYTES_MAX) {
			snprintf(c->err, sizeof(c->err), "listing too large");
			log_warn("%s %s: refused: the listing is larger than "
				 "%llu MiB (a fixed bound against hostile "
				 "servers) after %lu entries",
				 verb,
				 arg   ? arg
				 : cwd ? cwd
				       : "",
				 FTP_LIST_BYTES_MAX >> 20, st->entries);
			ret = -E2BIG;
			goto abort;
		}
		ret = list_feed(st, buf, (size_t)n);
		if (ret < 0)
			goto abort;
	}
	free(buf);
	if (st->len > 0 && !st->overlong) { /* last line without LF */
		ret = list_one_line(st);
		if (ret < 0) {
			(void)ftp_xfer_finish(c, x, FTP_OP_LIST);
			return ret;
		}
	}
	ret = ftp_xfer_finish(c, x, FTP_OP_LIST);
	return ret == 0 && total == 0 ? list_refused_quietly(c) : ret;

abort:
	free(buf);
	ftp_xfer_abort(c, x);
	return ret;
}

int ftp_list_dir(struct ftp_conn *c, const char *path, bool force_list,
		 bool dir_known, ftp_list_cb cb, void *arg)
{
	struct list_state *st = calloc(1, sizeof(*st));
	int ret;

	if (!st)
		return -ENOMEM;
	st->c = c;
	st->cb = cb;
	st->arg = arg;
	st->now = time(NULL);
	st->mlsd = c->feat.mlst && !force_list;
	if (st->mlsd) {
		ret = list_transfer(c, st, NULL, "MLSD", path, dir_known);
		goto out;
	}
	/*
	 * "LIST path" is unreliable: servers parse options out of it, some
	 * return nothing for names with spaces (Pure-FTPd), and LIST of a
	 * symlink lists the link.  CWD first (in the same flight), then
	 * list ".": -a shows dot files on vsftpd, ProFTPD and Pure-FTPd.
	 */
	ret = list_transfer(c, st, path, "LIST", "-a", dir_known);
out:
	if (st->dropped)
		log_warn("%lu entries of %s dropped", st->dropped, path);
	free(st);
	return ret;
}

int ftp_mlst_send(struct ftp_conn *c, const char *path)
{
	if (!c->feat.mlst)
		return -ENOTSUP;
	return ftp_conn_send(c, "MLST", path);
}

int ftp_mlst_read(struct ftp_conn *c, const char *path, struct ftp_entry *e,
		  char *buf, size_t bufsz)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	const char *line;
	int ret = ftp_conn_read_reply(c, r);

	if (ret < 0)
		return ret;
	if (r->code / 100 != 2)
		return ftp_errno(FTP_OP_MLST, r, false);
	/* RFC 3659 7.2: the entry is the one line starting with a space. */
	ret = -EPROTO;
	for (line = r->text; *line;
	     line +=
	     strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n')) {
		size_t len = strcspn(line, "\n");

		if (line[0] != ' ')
			continue;
		if (len >= bufsz) {
			ret = -ENAMETOOLONG;
			break;
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		ret = mlst_parse_line(buf, len, e);
		ret = ret == LSPARSE_ENTRY ? 0 : -EPROTO;
		break;
	}
	if (ret == -EPROTO) {
		snprintf(c->err, sizeof(c->err), "malformed MLST reply for %s",
			 path);
		ftp_conn_mark_broken(c, c->err);
	}
	return ret;
}

int ftp_mlst(struct ftp_conn *c, const char *path, struct ftp_entry *e,
	     char *buf, size_t bufsz)
{
	int ret = ftp_mlst_send(c, path);

	return ret < 0 ? ret : ftp_mlst_read(c, path, e, buf, bufsz);
}
