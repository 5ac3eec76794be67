/*
 * opts.h - command line and mount options.
 */
#ifndef FTPSFS_OPTS_H
#define FTPSFS_OPTS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ftpsfs_opts {
	char *remote; /* [user@]host[:port][:/path] or URL */
	char *cafile;
	char *capath;
	char *tls_max; /* "1.2" or "1.3" */
	char *netrc;   /* path; default ~/.netrc */
	char *spool_dir;
	int password_stdin;
	/* Security (see the SECURITY section of ftpsfs(1)). */
	char *fingerprint; /* "sha256:HEX": pin certificate or key */
	int tofu;	   /* trust on first use, known_hosts file */
	int no_verify;	   /* accept any certificate (warns) */
	char *ciphers;	   /* TLS 1.2 cipher list */
	char *tls13_ciphersuites;
	char *cert;		/* client certificate (PEM) */
	char *key;		/* its private key (PEM); default: cert */
	int key_password_stdin; /* key passphrase: a line of stdin */
	char *credentials;	/* user=/password=/key_password= file */
	char *askpass;		/* program that prints the password */
	int anonymous;		/* log in as "anonymous" */
	int allow_plaintext;	/* go on without TLS if AUTH TLS is refused */
	int allow_plaintext_password; /* ... and then even send PASS */
	int contain_symlinks;	      /* hide symlinks leaving the mount (1) */
	int transform_symlinks;	      /* absolute targets made relative (1) */
	int atomic_upload;
	int verify; /* check each upload (SIZE, HASH) */
	int ignore_dir_times;
	int no_readahead;	 /* no read-ahead across files */
	int writeback;		 /* durable write-back queue (fs_wback.h) */
	unsigned parallel_reads; /* ranged streams of a big file; 0 off */
	int read_only;
	unsigned max_conns;
	double attr_timeout;	  /* s */
	double dir_timeout;	  /* s */
	double negative_timeout;  /* s */
	unsigned dir_cache_mb;	  /* MiB all cached listings may take */
	unsigned dir_max_entries; /* entries one listing may have */
	unsigned connect_timeout; /* s */
	unsigned timeout;	  /* s */
	unsigned op_timeout;	  /* s for one request's server work; 0 off */
	int op_timeout_set;	  /* given (else 4 * timeout) */
	unsigned keepalive;  /* s between NOOPs on idle connections; 0 off */
	unsigned idle_close; /* s before a surplus idle connection closes */
	int delay_connect;   /* mount first, connect on first use */
	int soft;	     /* fail at once while the server is down */
	int active;	     /* data connections by EPRT/PORT */
	int no_epsv;	     /* passive mode with PASV from the start */
	int no_mlsd;	     /* list with LIST, never MLSD/MLST */
	int list_hidden;     /* add the dot files MLSD leaves out */
	/* Permission bits shown (octal text as given; opts_parse_mode()). */
	char *umask;	      /* cleared from every shown mode */
	char *file_mode;      /* shown for regular files instead of the
			       * server's bits */
	char *dir_mode;	      /* ... for directories */
	unsigned uid, gid;    /* owner shown for every file ... */
	int uid_set, gid_set; /* ... if given (else the mounting user) */
	char *codepage;	      /* the server's charset for names */
	char *proxy;	      /* socks5:// or http:// URL (proxy.h) */
	/* A mount other users can reach (allow_other, often root's fstab) is
	 * a privilege boundary: see opts_mount_args(). */
	int allow_other;	    /* given; stays in the args for libfuse */
	int default_permissions;    /* given; stays in the args for libfuse */
	int no_default_permissions; /* allow_other, no kernel checks */
	int allow_suid;		    /* mount suid, show setuid/setgid bits */
	int nosuid; /* "nosuid" given (mount(8) for user mounts) */
	int show_help;
	int show_version;
	int debug;
	int probe;	    /* --probe: report on the server, no mount */
	int probe_readonly; /* ... without the checks that write */
	/* Remote changes, bandwidth (issue 18). */
	unsigned poll;		 /* s between re-listings of recently used
				  * directories; 0 off */
	char *bwlimit;		 /* download cap (opts_parse_rate()) */
	char *bwlimit_up;	 /* upload cap */
	char *idmap;		 /* "none" (default) or "names" (idmap.h) */
	char *uidfile, *gidfile; /* name:id maps for idmap=names */
};

/*
 * Parse our options out of @args (libfuse's generic ones stay in @args
 * for fuse_parse_cmdline()/fuse_session_new()).  Defaults are filled in.
 * Returns 0, or -EINVAL after printing what is wrong.
 */
int opts_parse(struct fuse_args *args, struct ftpsfs_opts *o);

/* Check ranges and combinations.  Returns 0 or -EINVAL with @msg set. */
int opts_validate(const struct ftpsfs_opts *o, const char **msg);

/*
 * The value of a umask=, file_mode= or dir_mode= option: octal digits
 * only (no sign, space or "0x"), at most 07777.  Returns 0 with *mode set,
 * or -EINVAL.
 */
int opts_parse_mode(const char *text, mode_t *mode);

/*
 * A bandwidth: decimal digits, then optionally k, M or G (binary: 1024,
 * 1024^2, 1024^3; case-insensitive, with or without a trailing "i" or
 * "B"), in bytes per second; 0 means no limit, else at least 1024.
 * Returns 0 with *bps set, or -EINVAL (also beyond 1 TiB/s).
 */
int opts_parse_rate(const char *text, uint64_t *bps);

/*
 * Add to @args what ftpsfs decides about the kernel mount, after every
 * option of the user (libfuse applies mount flags in order: the last
 * wins):
 *  - fsname= the remote argument exactly as given (fstab's first field),
 *    so that mount(8) recognises the mount as the fstab line's (mount -a
 *    twice mounts once; umount SOURCE works); ',' and '\' escaped for
 *    libfuse's option parser; subtype=ftpsfs;
 *  - default_permissions with allow_other, unless no_default_permissions:
 *    other users meet the kernel's permission checks;
 *  - nodev always, and nosuid unless allow_suid, given to a root mount
 *    without "nosuid" (mount.fuse3 passes "dev,suid" for root's fstab
 *    mounts; fusermount3 never mounts suid for other users anyway).
 * Returns 0 or -ENOMEM.
 */
int opts_mount_args(const struct ftpsfs_opts *o, bool root,
		    struct fuse_args *args);

/* The option part of --help. */
void opts_print_help(const char *progname);

void opts_free(struct ftpsfs_opts *o);

#endif
