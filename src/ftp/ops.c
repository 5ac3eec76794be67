/*
 * ops.c - namespace and metadata commands.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_internal.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_errno.h"
#include "ftpsfs/ftp_hash.h"
#include "ftpsfs/ftp_list.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/lsparse.h"
#include "ftpsfs/path.h"

/* Read the reply to "VERB arg", expect class @cls; else map with @op. */
static int ops_reply(struct ftp_conn *c, const char *verb, const char *arg,
		     int cls, enum ftp_op op, bool target_exists)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	char msg[256];
	int ret = ftp_conn_read_reply(c, r);

	if (ret == 0 && r->code / 100 != cls) {
		/* The path cut, not the server's reason (c->err is 512). */
		snprintf(c->err, sizeof(c->err), "%s %.200s: %d %s", verb, arg,
			 r->code, ftp_reply_message(r, msg, sizeof(msg)));
		ret = ftp_errno(op, r, target_exists);
	}
	return ret;
}

/* Send "VERB arg", expect a reply of class @cls; else map with @op. */
static int ops_simple(struct ftp_conn *c, const char *verb, const char *arg,
		      int cls, enum ftp_op op, bool target_exists)
{
	int ret = ftp_conn_send(c, verb, arg);

	return ret < 0 ? ret : ops_reply(c, verb, arg, cls, op, target_exists);
}

int ftp_op_delete(struct ftp_conn *c, const char *path)
{
	return ops_simple(c, "DELE", path, 2, FTP_OP_DELE, false);
}

int ftp_op_mkdir(struct ftp_conn *c, const char *path)
{
	return ops_simple(c, "MKD", path, 2, FTP_OP_MKD, false);
}

int ftp_op_rmdir(struct ftp_conn *c, const char *path)
{
	return ops_simple(c, "RMD", path, 2, FTP_OP_RMD, true);
}

/* The verb and argument of @a's time command for @path ("MFMT stamp
 * path", ...) into @arg: 0, or -EINVAL. */
static int ops_time_cmd(const struct ftp_attrs *a, const char *path,
			const char **verb, char *arg, size_t argsz)
{
	const char *pre = a->method == FTP_MTIME_SITE_UTIME ? "UTIME " : "";
	char stamp[16];

	*verb = a->method == FTP_MTIME_MFMT	    ? "MFMT"
		: a->method == FTP_MTIME_MDTM_WRITE ? "MDTM"
		: a->method == FTP_MTIME_SITE_UTIME ? "SITE"
						    : NULL;
	if (!*verb || ftp_format_time(a->mtime, stamp, sizeof(stamp)) < 0 ||
	    snprintf(arg, argsz, "%s%s %s", pre, stamp, path) >= (int)argsz)
		return -EINVAL;
	return 0;
}

/* Send @a's commands for @path (into the cork), keeping their arguments
 * in @targ and @marg for the replies. */
static int ops_attrs_send(struct ftp_conn *c, const char *path,
			  const struct ftp_attrs *a, char *targ, char *marg,
			  size_t argsz)
{
	const char *verb;
	int ret = 0;

	if (a && a->set_mtime) {
		ret = ops_time_cmd(a, path, &verb, targ, argsz);
		if (ret == 0)
			ret = ftp_conn_send(c, verb, targ);
	}
	if (ret == 0 && a && a->set_mode) {
		if (snprintf(marg, argsz, "CHMOD %04o %s",
			     (unsigned)(a->mode & 07777), path) >= (int)argsz)
			return -EINVAL;
		ret = ftp_conn_send(c, "SITE", marg);
	}
	return ret;
}

/* Their replies, in order: every one is read (the connection stays in
 * step); the first failure is the result. */
static int ops_attrs_recv(struct ftp_conn *c, const struct ftp_attrs *a,
			  const char *targ, const char *marg)
{
	int ret = 0, r2;

	if (a && a->set_mtime)
		ret = ops_reply(c,
				a->method == FTP_MTIME_SITE_UTIME ? "SITE"
				: a->method == FTP_MTIME_MFMT	  ? "MFMT"
								  : "MDTM",
				targ, 2, FTP_OP_ATTR, true);
	if (c->broken || !a || !a->set_mode)
		return ret;
	r2 = ops_reply(c, "SITE", marg, 2, FTP_OP_CHMOD, true);
	return ret < 0 ? ret : r2;
}

int ftp_op_set_attrs(struct ftp_conn *c, const char *path,
		     const struct ftp_attrs *a)
{
	char targ[FTP_LINE_MAX], marg[FTP_LINE_MAX];
	int ret;

	ftp_conn_cork(c);
	ret = ops_attrs_send(c, path, a, targ, marg, sizeof(targ));
	if (ret < 0) {
		if (!ftp_conn_broken(c))
			ftp_conn_drop_held(c); /* none goes */
		return ret;
	}
	return ops_attrs_recv(c, a, targ, marg);
}

/*
 * RNFR and RNTO in one flight: one round trip, not two.  RFC 959 4.1.3
 * lets RNTO act only right after an accepted RNFR, so a refused RNFR gets
 * RNTO refused too (503); that reply is read and dropped, and the
 * connection stays in step.  @a's commands for @to ride in the same
 * flight (the caller knows nothing else is at @to: a refused rename
 * leaves them nothing to change).
 */
int ftp_op_rename_attrs(struct ftp_conn *c, const char *from, const char *to,
			struct ftp_attrs *a)
{
	char targ[FTP_LINE_MAX], marg[FTP_LINE_MAX];
	int ret, aret;

	ftp_conn_cork(c);
	ret = ftp_conn_send(c, "RNFR", from);
	if (ret == 0)
		ret = ftp_conn_send(c, "RNTO", to);
	if (ret == 0)
		ret = ops_attrs_send(c, to, a, targ, marg, sizeof(targ));
	if (ret < 0) {
		if (!ftp_conn_broken(c))
			ftp_conn_drop_held(c); /* none goes */
		return ret;
	}
	ret = ops_reply(c, "RNFR", from, 3, FTP_OP_RENAME, false);
	if (ret < 0 && !ftp_conn_broken(c) &&
	    ftp_conn_read_reply(c, ftp_conn_reply(c)) == 0 &&
	    ftp_conn_reply(c)->code / 100 == 2)
		ret = 0; /* renamed after all: RNTO is what counts */
	else if (ret == 0)
		ret = ops_reply(c, "RNTO", to, 2, FTP_OP_RENAME, true);
	if (ftp_conn_broken(c))
		return ret < 0 ? ret : -EIO;
	aret = ops_attrs_recv(c, a, targ, marg);
	if (a)
		a->result = ret < 0 ? ret : aret;
	return ftp_conn_broken(c) && ret == 0 ? -EIO : ret;
}

int ftp_op_rename(struct ftp_conn *c, const char *from, const char *to)
{
	return ftp_op_rename_attrs(c, from, to, NULL);
}

/* "VERB a b" (or "VERB a b c" with @c) expecting a 2xx reply. */
static int ops_args(struct ftp_conn *c, const char *verb, const char *a,
		    const char *b, const char *d, enum ftp_op op)
{
	size_t len = strlen(a) + strlen(b) + (d ? strlen(d) : 0) + 3;
	char *arg = malloc(len);
	int ret;

	if (!arg)
		return -ENOMEM;
	if (d)
		snprintf(arg, len, "%s %s %s", a, b, d);
	else
		snprintf(arg, len, "%s %s", a, b);
	ret = ops_simple(c, verb, arg, 2, op, true);
	free(arg);
	return ret;
}

int ftp_op_chmod(struct ftp_conn *c, const char *path, mode_t mode)
{
	char num[8];

	snprintf(num, sizeof(num), "%04o", (unsigned)(mode & 07777));
	return ops_args(c, "SITE", "CHMOD", num, path, FTP_OP_CHMOD);
}

/* The reply to the MLST or STAT of ftp_op_chmod_learn(): the mode, or -1.
 * Only a broken connection is an error here. */
static int ops_learn_reply(struct ftp_conn *c, const char *path, bool mlst,
			   int *was)
{
	char buf[FTP_LINE_MAX];
	struct ftp_entry e;
	int ret;

	*was = -1;
	if (mlst) {
		ret = ftp_mlst_read(c, path, &e, buf, sizeof(buf));
		if (ret == 0 && e.type == FTP_ENTRY_FILE && e.has_mode)
			*was = (int)(e.mode & 07777);
	} else {
		ret = ftp_conn_read_reply(c, ftp_conn_reply(c));
		if (ret == 0 && ftp_conn_reply(c)->code / 100 == 2)
			*was = list_stat_file_mode(ftp_conn_reply(c)->text,
						   path);
	}
	return c->broken ? (ret < 0 ? ret : -EIO) : 0;
}

int ftp_op_chmod_learn(struct ftp_conn *c, const char *path, mode_t mode,
		       int *was)
{
	bool mlst = c->feat.mlst && c->feat.mlst_mode;
	char arg[16 + FTP_LINE_MAX];
	int ret;

	*was = -1;
	/* Without pipelining the question would cost a round trip. */
	if (!ftp_learned_pipelining(c) ||
	    snprintf(arg, sizeof(arg), "CHMOD %04o %s",
		     (unsigned)(mode & 07777), path) >= (int)sizeof(arg))
		return ftp_op_chmod(c, path, mode);
	ftp_conn_cork(c);
	ret = ftp_conn_send(c, mlst ? "MLST" : "STAT", path);
	if (ret == 0)
		ret = ftp_conn_send(c, "SITE", arg);
	if (ret < 0) {
		ftp_conn_drop_held(c);
		return ret;
	}
	ret = ops_learn_reply(c, path, mlst, was);
	return ret < 0 ? ret : ops_reply(c, "SITE", arg, 2, FTP_OP_CHMOD, true);
}

int ftp_op_symlink(struct ftp_conn *c, const char *target, const char *path)
{
	/* SITE SYMLINK splits its arguments at spaces. */
	if (strchr(target, ' ') || strchr(path, ' '))
		return -EINVAL;
	return ops_args(c, "SITE", "SYMLINK", target, path, FTP_OP_SYMLINK);
}

static int ops_mtime_with(struct ftp_conn *c, enum ftp_mtime_method m,
			  const char *path, const char *stamp)
{
	switch (m) {
	case FTP_MTIME_MFMT:
		return ops_args(c, "MFMT", stamp, path, NULL, FTP_OP_ATTR);
	case FTP_MTIME_MDTM_WRITE:
		return ops_args(c, "MDTM", stamp, path, NULL, FTP_OP_ATTR);
	case FTP_MTIME_SITE_UTIME:
		return ops_args(c, "SITE", "UTIME", stamp, path, FTP_OP_ATTR);
	default:
		return -EPERM;
	}
}

/* -ENOENT if "MDTM path" says @path is missing, else 0 (or a transport
 * error). */
static int ops_mdtm_says_missing(struct ftp_conn *c, const char *path)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	int ret = ftp_conn_cmd(c, r, "MDTM", path);

	if (ret == 0 && r->code != FTP_REPLY_FILE_STATUS)
		ret = ftp_errno(FTP_OP_ATTR, r, false) == -ENOENT ? -ENOENT : 0;
	return ret;
}

int ftp_op_set_mtime(struct ftp_conn *c, const char *path, int64_t sec,
		     enum ftp_mtime_method *method)
{
	char stamp[16];
	int ret;

	if (ftp_format_time(sec, stamp, sizeof(stamp)) < 0)
		return -EINVAL;
	if (*method != FTP_MTIME_UNKNOWN)
		return ops_mtime_with(c, *method, path, stamp);
	/*
	 * Try in turn: MFMT when FEAT lists it; vsftpd's two-argument MDTM
	 * (only with mdtm_write=YES; servers without it answer 5xx); SITE
	 * UTIME. A failure that is about the file itself (missing, forbidden)
	 * ends the search without deciding.
	 */
	for (enum ftp_mtime_method m = FTP_MTIME_MFMT; m < FTP_MTIME_NONE;
	     m++) {
		if (m == FTP_MTIME_MFMT && !c->feat.mfmt)
			continue;
		if (m == FTP_MTIME_MDTM_WRITE && !c->feat.mdtm)
			continue;
		ret = ops_mtime_with(c, m, path, stamp);
		if (ret == 0) {
			*method = m;
			return 0;
		}
		/* A server without MDTM-with-a-time reads "MDTM stamp path"
		 * as the name "stamp path" and says it does not exist
		 * (ftp-srv): only if plain MDTM agrees is the file missing. */
		if (ret == -ENOENT && m == FTP_MTIME_MDTM_WRITE && !c->broken)
			ret = ops_mdtm_says_missing(c, path);
		if (c->broken || ret == -ENOENT)
			return ret;
	}
	*method = FTP_MTIME_NONE;
	return -EPERM;
}

static int ops_reply_213(struct ftp_conn *c, const char *verb, const char *path,
			 struct ftp_reply *r)
{
	char msg[256];
	int ret = ftp_conn_cmd(c, r, verb, path);

	if (ret == 0 && r->code != FTP_REPLY_FILE_STATUS) {
		snprintf(c->err, sizeof(c->err), "%s %s: %d %s", verb, path,
			 r->code, ftp_reply_message(r, msg, sizeof(msg)));
		ret = ftp_errno(FTP_OP_ATTR, r, false);
	}
	return ret;
}

int ftp_op_size(struct ftp_conn *c, const char *path, uint64_t *size)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	int ret = ops_reply_213(c, "SIZE", path, r);

	if (ret == 0)
		ret = ftp_parse_size(r->text, size);
	return ret;
}

/* The 213 reply to a SIZE or MDTM already sent: parse it into @size or
 * @sec, else map it. */
static int ops_read_213(struct ftp_conn *c, const char *verb, uint64_t *size,
			int64_t *sec)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	uint32_t ns;
	char msg[256];
	int ret = ftp_conn_read_reply(c, r);

	if (ret < 0)
		return ret;
	if (r->code != FTP_REPLY_FILE_STATUS) {
		snprintf(c->err, sizeof(c->err), "%s: %d %s", verb, r->code,
			 ftp_reply_message(r, msg, sizeof(msg)));
		return ftp_errno(FTP_OP_ATTR, r, false);
	}
	return size ? ftp_parse_size(r->text, size)
		    : ftp_parse_mdtm(r->text, sec, &ns);
}

int ftp_op_size_mdtm_send(struct ftp_conn *c, const char *path)
{
	int ret = ftp_conn_send(c, "SIZE", path);

	return ret < 0 ? ret : ftp_conn_send(c, "MDTM", path);
}

/* The replies to SIZE and MDTM; @mdtm_path: MDTM is sent only after
 * SIZE's reply (no pipelining), else NULL: it was sent already. */
static int ops_size_mdtm_replies(struct ftp_conn *c, const char *mdtm_path,
				 uint64_t *size, int64_t *mtime)
{
	int ret = ops_read_213(c, "SIZE", size, NULL), mret;

	if (c->broken)
		return ret;
	if (mdtm_path && (mret = ftp_conn_send(c, "MDTM", mdtm_path)) < 0)
		return mret;
	mret = ops_read_213(c, "MDTM", NULL, mtime);
	if (c->broken)
		return mret;
	if (mret < 0)
		*mtime = -1; /* no MDTM here: the size alone tells */
	return ret;
}

int ftp_op_size_mdtm_recv(struct ftp_conn *c, uint64_t *size, int64_t *mtime)
{
	return ops_size_mdtm_replies(c, NULL, size, mtime);
}

int ftp_op_size_mdtm(struct ftp_conn *c, const char *path, uint64_t *size,
		     int64_t *mtime)
{
	bool pipelined = ftp_learned_pipelining(c);
	int ret;

	/* One flight when the server takes pipelined commands (RFC 959
	 * answers in order; ftp_conn_cork()). */
	if (pipelined) {
		ftp_conn_cork(c);
		ret = ftp_op_size_mdtm_send(c, path);
		if (ret < 0) {
			ftp_conn_drop_held(c);
			return ret;
		}
		return ftp_op_size_mdtm_recv(c, size, mtime);
	}
	ret = ftp_conn_send(c, "SIZE", path);
	return ret < 0 ? ret : ops_size_mdtm_replies(c, path, size, mtime);
}

int ftp_op_abort_size_mdtm(struct ftp_conn *c, struct ftp_xfer *x,
			   const char *path, uint64_t *size, int64_t *mtime)
{
	bool pipelined = ftp_learned_pipelining(c);
	int ret;

	if (!pipelined) {
		ftp_xfer_abort(c, x);
		return c->broken ? -EIO
				 : ftp_op_size_mdtm(c, path, size, mtime);
	}
	/* ABOR, NOOP, SIZE, MDTM in one flight: one round trip for both. */
	ftp_conn_cork(c);
	if (ftp_xfer_abort_send(c, x) < 0) {
		ftp_conn_drop_held(c);
		return -EIO;
	}
	ret = ftp_op_size_mdtm_send(c, path);
	if (ret < 0) {
		/* Not sent (the path): what is held still goes. */
		(void)ftp_conn_flush(c);
		(void)ftp_xfer_abort_recv(c, false);
		return ret;
	}
	if (ftp_xfer_abort_recv(c, true) < 0)
		return -EIO;
	return ftp_op_size_mdtm_recv(c, size, mtime);
}

int ftp_op_avbl(struct ftp_conn *c, const char *path, uint64_t *bytes)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	int ret;

	if (!c->feat.avbl)
		return -ENOTSUP;
	ret = ops_reply_213(c, "AVBL", path, r);
	if (ret == 0)
		ret = ftp_parse_size(r->text, bytes); /* the same "213 N" */
	return ret;
}

int ftp_op_hash(struct ftp_conn *c, const char *path, enum ftp_hash_algo a,
		char *hex, size_t hexsz)
{
	const struct ftp_hash_info *info = ftp_hash_info(a);
	struct ftp_reply *r = ftp_conn_reply(c);
	char arg[32], msg[256];
	int ret;

	if (!(c->feat.hash_algos & (1u << a)))
		return -ENOTSUP;
	/* The algorithm is the connection's state (draft-bryan-ftpext-hash
	 * section 5): choose it only when it differs. */
	if (c->feat.hash_selected != (int)a) {
		snprintf(arg, sizeof(arg), "HASH %s", info->hash_name);
		ret = ftp_conn_cmd(c, r, "OPTS", arg);
		if (ret < 0)
			goto out;
		if (r->code != FTP_REPLY_OK) {
			snprintf(c->err, sizeof(c->err), "OPTS %s: %d %s", arg,
				 r->code,
				 ftp_reply_message(r, msg, sizeof(msg)));
			ret = ftp_errno(FTP_OP_ATTR, r, false);
			goto out;
		}
		c->feat.hash_selected = (int)a;
	}
	ret = ops_reply_213(c, "HASH", path, r);
	if (ret == 0 && ftp_parse_hash(r->text, a, hex, hexsz) < 0) {
		snprintf(c->err, sizeof(c->err), "HASH %s: malformed reply",
			 path);
		ret = -EPROTO;
	}
out:
	return ret;
}

/* Commands in one batch at most.  A batch is also one write (16 KiB:
 * ftp_conn_cork()), which bounds what the server must buffer: some 300
 * short MDTMs, their replies under 10 KiB.  Each batch costs a round
 * trip, so a directory of 1,000 files is 4 of them, not 16. */
#define OPS_PIPELINE_DEPTH 256

int ftp_op_mdtm_many(struct ftp_conn *c, const char *const *paths, size_t n,
		     int64_t *secs, int *results)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	size_t depth = ftp_learned_pipelining(c) ? OPS_PIPELINE_DEPTH : 1;
	size_t sent = 0, done = 0;
	bool answered = false;
	int ret = 0;

	/* In batches, each written at once and answered in full before the
	 * next: the replies name no path, so their order is all that ties
	 * them to the files (see ftp_conn_cork()). */
	while (done < n) {
		ftp_conn_cork(c);
		while (sent < n && sent - done < depth) {
			ret = ftp_conn_send(c, "MDTM", paths[sent]);
			if (ret == -ENOBUFS && sent > done) {
				ret = 0;
				break; /* batch full: its replies first */
			}
			if (ret < 0 && !c->broken) {
				/* Not sent at all (CR/LF, too long, not in
				 * the server's charset): no reply will come,
				 * and those already due must still be read. */
				results[sent++] = ret;
				ret = 0;
				continue;
			}
			if (ret < 0)
				goto out;
			results[sent++] = 1; /* a reply is due */
		}
		for (; done < sent; done++) {
			uint32_t ns;

			if (results[done] != 1)
				continue;
			ret = ftp_conn_read_reply(c, r);
			if (ret < 0)
				goto out;
			answered = true;
			if (r->code == FTP_REPLY_FILE_STATUS)
				results[done] = ftp_parse_mdtm(
					r->text, &secs[done], &ns);
			else
				results[done] =
					ftp_errno(FTP_OP_ATTR, r, false);
		}
	}
out:
	if (ftp_conn_flush(c) < 0 && ret == 0)
		ret = -EIO;
	if (ret == 0)
		return 0;
	/* Cut short (a deadline, a lost connection): the answers that came
	 * stand; the rest fail with the cause. */
	for (size_t k = done; k < n; k++)
		if (k >= sent || results[k] == 1)
			results[k] = ret;
	return answered ? 0 : ret;
}

int ftp_op_stat_one(struct ftp_conn *c, const char *path, struct ftp_entry *e,
		    char *line, size_t linesz)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	uint64_t size;
	int ret;

	if (c->feat.mlst) {
		ret = ftp_mlst(c, path, e, line, linesz);
		/* A refused MLST (a drop box refuses it with its listing)
		 * leaves SIZE and CWD to try. */
		if (ret == 0 || ret == -ENOENT || c->broken ||
		    (ret != -EACCES && ret != -EPERM))
			return ret;
	}
	memset(e, 0, sizeof(*e));
	ret = ftp_op_size(c, path, &size);
	if (ret == 0) {
		int64_t secs;
		int got;

		e->type = FTP_ENTRY_FILE;
		e->has_size = true;
		e->size = size;
		/* Its time too, where MDTM answers (else it stays unknown). */
		if (c->feat.mdtm &&
		    ftp_op_mdtm_many(c, &path, 1, &secs, &got) == 0 &&
		    got == 0) {
			e->mtime = secs;
			e->mtime_prec = FTP_TIME_SECOND;
		}
		return 0;
	}
	if (c->broken)
		return ret;
	/* Our paths are absolute: the working directory left behind
	 * matters to no later command. */
	ret = ftp_conn_cmd(c, r, "CWD", path);
	if (ret < 0)
		return ret;
	if (r->code / 100 != 2)
		return -ENOENT;
	e->type = FTP_ENTRY_DIR;
	return 0;
}

int ftp_op_what_is(struct ftp_conn *c, const char *path)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	char line[FTP_LINE_MAX + 1];
	struct ftp_entry e;
	uint64_t size;
	int ret;

	if (c->feat.mlst) {
		ret = ftp_mlst(c, path, &e, line, sizeof(line));
		return ret < 0 ? ret : (int)e.type;
	}
	/* Without MLST (RFC 3659 7): SIZE answers for files, CWD for
	 * directories; our paths are absolute, so the working directory
	 * left behind matters to no later command. */
	ret = ftp_op_size(c, path, &size);
	if (ret == 0 || c->broken)
		return ret < 0 ? ret : FTP_ENTRY_FILE;
	ret = ftp_conn_cmd(c, r, "CWD", path);
	if (ret < 0)
		return ret;
	return r->code / 100 == 2 ? FTP_ENTRY_DIR : -ENOENT;
}

int ftp_op_mdtm_in(struct ftp_conn *c, const char *dir,
		   const char *const *names, size_t n, int64_t *secs,
		   int *results)
{
	const char **paths = calloc(n ? n : 1, sizeof(*paths));
	size_t k = 0;
	int ret = -ENOMEM;

	if (!paths)
		return -ENOMEM;
	for (; k < n; k++) {
		paths[k] = path_join_new(dir, names[k]);
		if (!paths[k])
			goto out;
	}
	ret = ftp_op_mdtm_many(c, paths, n, secs, results);
out:
	for (size_t i = 0; i < k; i++)
		free((char *)paths[i]);
	free(paths);
	return ret;
}
