/*
 * root.c - the mount's remote directory: PWD, CWD and MLST in one flight.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn_internal.h"
#include "ftpsfs/charset.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_list.h"
#include "ftpsfs/ftp_root.h"
#include "ftpsfs/path.h"

/* The reply to PWD (RFC 959 257 "dir") as a UTF-8 path in @out. */
static int root_pwd_reply(struct ftp_conn *c, char *out, size_t outsz)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	char local[FTP_LINE_MAX + 1];
	int ret = ftp_conn_read_reply(c, r);

	if (ret < 0)
		return ret;
	if (r->code != FTP_REPLY_PATH_CREATED ||
	    ftp_parse_pwd(r->text, out, outsz) < 0)
		ret = -EPROTO;
	/* Paths are kept in UTF-8 (codepage=). */
	if (ret == 0 && c->ep->charset) {
		ret = charset_to_local(c->ep->charset, out, local,
				       sizeof(local));
		if (ret == 0 && strlen(local) >= outsz)
			ret = -ENAMETOOLONG;
		if (ret == 0)
			snprintf(out, outsz, "%s", local);
	}
	if (ret < 0)
		snprintf(c->err, sizeof(c->err),
			 "cannot find the login directory (PWD)");
	return ret < 0 ? -EPROTO : 0;
}

/* The reply to "CWD @root": 2xx, else -ENOENT described. */
static int root_cwd_reply(struct ftp_conn *c, const char *root)
{
	struct ftp_reply *r = ftp_conn_reply(c);
	char msg[256];
	int ret = ftp_conn_read_reply(c, r);

	if (ret < 0 || r->code / 100 == 2)
		return ret;
	snprintf(c->err, sizeof(c->err), "remote directory %s: %d %s", root,
		 r->code, ftp_reply_message(r, msg, sizeof(msg)));
	return -ENOENT;
}

/*
 * The flight for @spec (see ftp_resolve_root()), sent: *mlst says whether
 * MLST went with it.  A relative CWD, sent before we know the login
 * directory, goes where the absolute one would (RFC 959 4.1.1).  MLST
 * comes last, and only where its path is known: a malformed reply to it
 * cannot leave the CWD's unread.  The login directory itself needs no
 * CWD: the server put us there.
 */
static int root_send(struct ftp_conn *c, const char *spec, const char *root,
		     bool *mlst)
{
	bool absolute = spec[0] == '/';
	int ret = 0;

	ftp_conn_cork(c);
	if (!absolute)
		ret = ftp_conn_send(c, "PWD", NULL);
	if (ret == 0 && spec[0])
		ret = ftp_conn_send(c, "CWD", spec);
	if (ret == 0 && absolute) {
		ret = ftp_mlst_send(c, root);
		*mlst = ret == 0;
		if (ret == -ENOTSUP)
			ret = 0;
	}
	if (ret < 0)
		ftp_conn_drop_held(c); /* none of them goes */
	return ret;
}

/* PWD's reply (relative @spec), made into the absolute @root. */
static int root_from_pwd(struct ftp_conn *c, const char *spec, char *root,
			 size_t rootsz)
{
	char pwd[FTP_LINE_MAX + 1];
	int ret = root_pwd_reply(c, pwd, sizeof(pwd));

	if (ret == 0 && path_join(root, rootsz, pwd, spec) < 0) {
		snprintf(c->err, sizeof(c->err),
			 "the remote path is too long once joined to the "
			 "login directory");
		ret = -ENAMETOOLONG;
	}
	return ret;
}

int ftp_resolve_root(struct ftp_conn *c, const char *spec, char *root,
		     size_t rootsz, struct ftp_entry *e, char *buf,
		     size_t bufsz, bool *have_entry)
{
	bool absolute = spec[0] == '/', mlst = false;
	int ret = 0, cwd_ret = 0;

	*have_entry = false;
	if (absolute && path_join(root, rootsz, spec, "") < 0) {
		snprintf(c->err, sizeof(c->err), "the remote path is too long");
		return -ENAMETOOLONG;
	}
	ret = root_send(c, spec, root, &mlst);
	if (ret < 0)
		return ret;
	/* Every reply of the flight is read, whatever the first says: the
	 * connection stays in step. */
	if (!absolute)
		ret = root_from_pwd(c, spec, root, rootsz);
	if (spec[0] && !c->broken)
		cwd_ret = root_cwd_reply(c, ret == 0 ? root : spec);
	if (mlst && !c->broken)
		*have_entry = ftp_mlst_read(c, root, e, buf, bufsz) == 0;
	if (ret == 0)
		ret = cwd_ret;
	if (ret < 0 || absolute)
		return ret;
	/* Only now is the absolute path known: MLST it on its own. */
	*have_entry = ftp_mlst(c, root, e, buf, bufsz) == 0;
	return 0;
}
