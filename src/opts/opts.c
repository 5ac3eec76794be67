/*
 * opts.c - ftpsfs's own options, parsed with libfuse's option parser.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/opts.h"

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_DEBUG,
	KEY_RO,
	KEY_RW,
};

#define OPT(t, p) { t, offsetof(struct ftpsfs_opts, p), 1 }
#define OPTV(t, p, v) { t, offsetof(struct ftpsfs_opts, p), v }

static const struct fuse_opt opts_spec[] = {
	OPT("cafile=%s", cafile),
	OPT("capath=%s", capath),
	OPT("tls_max=%s", tls_max),
	OPT("netrc=%s", netrc),
	OPT("password_stdin", password_stdin),
	OPT("atomic_upload", atomic_upload),
	OPT("ignore_dir_times", ignore_dir_times),
	OPT("spool_dir=%s", spool_dir),
	OPT("max_conns=%u", max_conns),
	OPT("attr_timeout=%lf", attr_timeout),
	OPT("dir_timeout=%lf", dir_timeout),
	OPT("negative_timeout=%lf", negative_timeout),
	OPT("connect_timeout=%u", connect_timeout),
	OPT("timeout=%u", timeout),
	/* Also seen by libfuse (they stay in args). */
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	/* Also seen by the kernel (mount flags). */
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("rw", KEY_RW),
	FUSE_OPT_END
};

static int opts_proc(void *data, const char *arg, int key,
		     struct fuse_args *outargs)
{
	struct ftpsfs_opts *o = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->remote) {
			o->remote = strdup(arg);
			return o->remote ? 0 : -1;
		}
		return 1; /* the mount point: for fuse_parse_cmdline() */
	case KEY_HELP:
		o->show_help = 1;
		return 1;
	case KEY_VERSION:
		o->show_version = 1;
		return 1;
	case KEY_DEBUG:
		o->debug = 1;
		return 1;
	case KEY_RO:
		o->read_only = 1;
		return 1;
	case KEY_RW:
		o->read_only = 0;
		return 1;
	default:
		return 1;
	}
}

int opts_parse(struct fuse_args *args, struct ftpsfs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_conns = 4;
	o->attr_timeout = 20;
	o->dir_timeout = 20;
	o->negative_timeout = 5;
	o->connect_timeout = 15;
	o->timeout = 30;
	if (fuse_opt_parse(args, o, opts_spec, opts_proc) == -1)
		return -EINVAL;
	return 0;
}

int opts_validate(const struct ftpsfs_opts *o, const char **msg)
{
	if (o->max_conns < 1 || o->max_conns > 64) {
		*msg = "max_conns must be between 1 and 64";
		return -EINVAL;
	}
	if (o->attr_timeout < 0 || o->dir_timeout < 0 ||
	    o->negative_timeout < 0 || o->attr_timeout > 86400 ||
	    o->dir_timeout > 86400 || o->negative_timeout > 86400) {
		*msg = "cache timeouts must be between 0 and 86400 seconds";
		return -EINVAL;
	}
	if (o->connect_timeout < 1 || o->connect_timeout > 3600 ||
	    o->timeout < 1 || o->timeout > 3600) {
		*msg = "connect_timeout and timeout must be between 1 and "
		       "3600 seconds";
		return -EINVAL;
	}
	if (o->tls_max && strcmp(o->tls_max, "1.2") != 0 &&
	    strcmp(o->tls_max, "1.3") != 0) {
		*msg = "tls_max must be 1.2 or 1.3";
		return -EINVAL;
	}
	return 0;
}

void opts_print_help(const char *progname)
{
	printf("usage: %s [user@]host[:port][:/path] mountpoint [options]\n"
	       "       %s ftp://[user@]host[:port]/path mountpoint [options]\n"
	       "       %s ftps://[user@]host[:port]/path mountpoint [options]\n"
	       "\n"
	       "ftp:// and the plain form use explicit TLS (AUTH TLS, port 21);\n"
	       "ftps:// uses implicit TLS (port 990).  TLS is always required.\n"
	       "\n"
	       "ftpsfs options:\n"
	       "    -o password_stdin      read the password from standard input\n"
	       "    -o netrc=FILE          credentials file (default ~/.netrc)\n"
	       "    -o cafile=FILE         trust the CA certificates in FILE\n"
	       "    -o capath=DIR          trust the CA certificates in DIR\n"
	       "    -o tls_max=1.2|1.3     highest TLS version to offer\n"
	       "    -o ro                  mount read-only (default read-write)\n"
	       "    -o atomic_upload       upload to a temporary name, rename when\n"
	       "                           complete (a failed upload keeps the old file)\n"
	       "    -o ignore_dir_times    accept directory times the server cannot\n"
	       "                           set (vsftpd) instead of failing with EPERM\n"
	       "    -o spool_dir=DIR       private directory for local copies of files\n"
	       "                           being changed (default $TMPDIR or /tmp)\n"
	       "    -o max_conns=N         control connections (default 4)\n"
	       "    -o attr_timeout=S      cache attributes for S seconds (20)\n"
	       "    -o dir_timeout=S       cache listings for S seconds (20)\n"
	       "    -o negative_timeout=S  cache missing names for S seconds (5)\n"
	       "    -o connect_timeout=S   connect/handshake limit (15)\n"
	       "    -o timeout=S           limit for each reply or stall (30)\n"
	       "\n",
	       progname, progname, progname);
}

void opts_free(struct ftpsfs_opts *o)
{
	free(o->remote);
	free(o->cafile);
	free(o->capath);
	free(o->tls_max);
	free(o->netrc);
	free(o->spool_dir);
}
