/*
 * opts.c - ftpsfs's own options, parsed with libfuse's option parser.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/fingerprint.h"
#include "ftpsfs/ftp_list.h"
#include "ftpsfs/opts.h"

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_DEBUG,
	KEY_RO,
	KEY_RW,
	KEY_ALLOW_OTHER,
	KEY_DEFAULT_PERMISSIONS,
	KEY_NOSUID,
	KEY_DROP,
	KEY_PROBE,
};

#define OPT(t, p)                                                              \
	{                                                                      \
		t, offsetof(struct ftpsfs_opts, p), 1                          \
	}
#define OPTV(t, p, v)                                                          \
	{                                                                      \
		t, offsetof(struct ftpsfs_opts, p), v                          \
	}

static const struct fuse_opt opts_spec[] = {
	OPT("cafile=%s", cafile),
	OPT("capath=%s", capath),
	OPT("tls_max=%s", tls_max),
	OPT("netrc=%s", netrc),
	OPT("password_stdin", password_stdin),
	OPT("fingerprint=%s", fingerprint),
	OPT("tofu", tofu),
	OPT("no_verify", no_verify),
	OPT("ciphers=%s", ciphers),
	OPT("tls13_ciphersuites=%s", tls13_ciphersuites),
	OPT("cert=%s", cert),
	OPT("key=%s", key),
	OPT("key_password_stdin", key_password_stdin),
	OPT("credentials=%s", credentials),
	OPT("askpass=%s", askpass),
	OPT("anonymous", anonymous),
	OPT("allow_plaintext", allow_plaintext),
	OPT("allow_plaintext_password", allow_plaintext_password),
	OPTV("contain_symlinks", contain_symlinks, 1),
	OPTV("no_contain_symlinks", contain_symlinks, 0),
	OPTV("transform_symlinks", transform_symlinks, 1),
	OPTV("no_transform_symlinks", transform_symlinks, 0),
	OPT("atomic_upload", atomic_upload),
	OPT("verify", verify),
	OPT("ignore_dir_times", ignore_dir_times),
	OPT("no_readahead", no_readahead),
	OPT("writeback", writeback),
	OPT("parallel_reads=%u", parallel_reads),
	OPT("spool_dir=%s", spool_dir),
	OPT("max_conns=%u", max_conns),
	OPT("attr_timeout=%lf", attr_timeout),
	OPT("dir_timeout=%lf", dir_timeout),
	OPT("negative_timeout=%lf", negative_timeout),
	OPT("dir_cache_mb=%u", dir_cache_mb),
	OPT("dir_max_entries=%u", dir_max_entries),
	OPT("connect_timeout=%u", connect_timeout),
	OPT("timeout=%u", timeout),
	OPT("op_timeout=%u", op_timeout),
	OPT("op_timeout=", op_timeout_set),
	OPT("keepalive=%u", keepalive),
	OPT("idle_close=%u", idle_close),
	OPT("delay_connect", delay_connect),
	OPT("soft", soft),
	OPT("active", active),
	OPT("no_epsv", no_epsv),
	OPT("no_mlsd", no_mlsd),
	OPT("list_hidden", list_hidden),
	OPT("umask=%s", umask),
	OPT("file_mode=%s", file_mode),
	OPT("dir_mode=%s", dir_mode),
	OPT("uid=%u", uid),
	OPT("uid=", uid_set),
	OPT("gid=%u", gid),
	OPT("gid=", gid_set),
	OPT("codepage=%s", codepage),
	OPT("proxy=%s", proxy),
	OPT("allow_suid", allow_suid),
	OPT("no_default_permissions", no_default_permissions),
	OPT("probe_readonly", probe_readonly),
	/* Remote changes, bandwidth (issue 18). */
	OPT("poll=%u", poll),
	OPT("bwlimit=%s", bwlimit),
	OPT("bwlimit_up=%s", bwlimit_up),
	OPT("idmap=%s", idmap),
	OPT("uidfile=%s", uidfile),
	OPT("gidfile=%s", gidfile),
	/* Also seen by libfuse (they stay in args). */
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMISSIONS),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("--probe", KEY_PROBE),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	/* Also seen by the kernel (mount flags). */
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("rw", KEY_RW),
	/* Decided by opts_mount_args(), not taken from the caller:
	 * mount.fuse3 adds "dev,suid" to every root mount from fstab. */
	FUSE_OPT_KEY("suid", KEY_DROP),
	FUSE_OPT_KEY("dev", KEY_DROP),
	FUSE_OPT_KEY("nodev", KEY_DROP),
	FUSE_OPT_KEY("nosuid", KEY_NOSUID),
	/* fstab's own options, for mount(8) and systemd: mount.fuse3 and
	 * mount(8) filter most of them, but a unit or script that runs
	 * ftpsfs with the fstab line's options must not fail on them
	 * (x-* in opts_proc()). */
	FUSE_OPT_KEY("_netdev", KEY_DROP),
	FUSE_OPT_KEY("auto", KEY_DROP),
	FUSE_OPT_KEY("noauto", KEY_DROP),
	FUSE_OPT_KEY("nofail", KEY_DROP),
	FUSE_OPT_KEY("user", KEY_DROP),
	FUSE_OPT_KEY("nouser", KEY_DROP),
	FUSE_OPT_KEY("users", KEY_DROP),
	FUSE_OPT_KEY("owner", KEY_DROP),
	FUSE_OPT_KEY("group", KEY_DROP),
	FUSE_OPT_KEY("defaults", KEY_DROP),
	FUSE_OPT_KEY("comment=", KEY_DROP),
	FUSE_OPT_END,
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
	case KEY_ALLOW_OTHER:
		o->allow_other = 1;
		return 1;
	case KEY_DEFAULT_PERMISSIONS:
		o->default_permissions = 1;
		return 1;
	case KEY_NOSUID:
		o->nosuid = 1;
		return 0;
	case KEY_DROP:
		return 0;
	case KEY_PROBE:
		o->probe = 1;
		return 0;
	case FUSE_OPT_KEY_OPT:
		/* x-systemd.automount, x-mount.mkdir ...: userspace options
		 * (mount(8) "x-*"), never meant for a file system. */
		return strncmp(arg, "x-", 2) == 0 ? 0 : 1;
	default:
		return 1;
	}
}

int opts_parse(struct fuse_args *args, struct ftpsfs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_conns = 5;
	o->parallel_reads = 4;
	o->attr_timeout = 20;
	o->dir_timeout = 20;
	o->negative_timeout = 5;
	o->dir_cache_mb = 64;
	o->dir_max_entries = FTP_LIST_ENTRIES_MAX;
	o->connect_timeout = 15;
	o->timeout = 30;
	o->contain_symlinks = 1;
	o->transform_symlinks = 1;
	o->keepalive = 60;
	o->idle_close = 120;
	if (fuse_opt_parse(args, o, opts_spec, opts_proc) == -1)
		return -EINVAL;
	return 0;
}

/* Combinations that contradict each other, and values we can check
 * without I/O.  Returns 0 or -EINVAL with @msg set. */
static int opts_validate_security(const struct ftpsfs_opts *o, const char **msg)
{
	uint8_t pin[FINGERPRINT_LEN];
	int sources;

	if (o->writeback && o->read_only) {
		*msg = "writeback and ro exclude each other";
		return -EINVAL;
	}
	if (!!o->fingerprint + !!o->tofu + !!o->no_verify > 1) {
		*msg = "fingerprint=, tofu and no_verify exclude each other";
		return -EINVAL;
	}
	if (o->fingerprint &&
	    fingerprint_parse(o->fingerprint, strlen(o->fingerprint), pin) <
		    0) {
		*msg = "fingerprint must be sha256: and 64 hex digits (colons "
		       "between bytes allowed)";
		return -EINVAL;
	}
	if ((o->fingerprint || o->tofu || o->no_verify) &&
	    (o->cafile || o->capath)) {
		*msg = "cafile=/capath= have no effect with fingerprint=, tofu "
		       "or no_verify: choose one way to trust the server";
		return -EINVAL;
	}
	sources = !!o->password_stdin + !!o->credentials + !!o->askpass;
	if (sources > 1) {
		*msg = "choose one password source: password_stdin, "
		       "credentials= or askpass=";
		return -EINVAL;
	}
	if (o->key && !o->cert) {
		*msg = "key= needs cert=";
		return -EINVAL;
	}
	if (o->key_password_stdin && !o->cert) {
		*msg = "key_password_stdin needs cert= (and an encrypted key)";
		return -EINVAL;
	}
	if (o->allow_plaintext_password && !o->allow_plaintext) {
		*msg = "allow_plaintext_password needs allow_plaintext";
		return -EINVAL;
	}
	if (o->allow_plaintext && (o->fingerprint || o->tofu || o->cert)) {
		*msg = "allow_plaintext cannot be combined with fingerprint=, "
		       "tofu or cert=: they only make sense over TLS";
		return -EINVAL;
	}
	return 0;
}

int opts_parse_mode(const char *text, mode_t *mode)
{
	unsigned long v = 0;
	size_t i;

	/* By hand: strtoul() would take a sign, spaces and "0x". */
	for (i = 0; text[i]; i++) {
		if (text[i] < '0' || text[i] > '7')
			return -EINVAL;
		v = v * 8 + (unsigned long)(text[i] - '0');
		if (v > 07777)
			return -EINVAL;
	}
	if (i == 0)
		return -EINVAL;
	*mode = (mode_t)v;
	return 0;
}

/* The options about what the server is asked, and how. */
static int opts_validate_protocol(const struct ftpsfs_opts *o, const char **msg)
{
	if (o->no_epsv && o->active) {
		*msg = "no_epsv has no effect with active (EPRT/PORT): choose "
		       "one";
		return -EINVAL;
	}
	if (o->proxy && o->active) {
		*msg = "active cannot work through proxy=: the server would "
		       "have to connect back to us; drop -o active (passive "
		       "data connections go through the proxy)";
		return -EINVAL;
	}
	if (o->list_hidden && o->no_mlsd) {
		*msg = "list_hidden has no effect with no_mlsd: LIST -a shows "
		       "dot files already";
		return -EINVAL;
	}
	return 0;
}

/* umask=, file_mode=, dir_mode=: octal, at most 07777. */
static int opts_validate_modes(const struct ftpsfs_opts *o, const char **msg)
{
	mode_t m;

	if ((o->umask && opts_parse_mode(o->umask, &m) < 0) ||
	    (o->file_mode && opts_parse_mode(o->file_mode, &m) < 0) ||
	    (o->dir_mode && opts_parse_mode(o->dir_mode, &m) < 0)) {
		*msg = "umask=, file_mode= and dir_mode= take an octal mode "
		       "from 0 to 7777 (such as 022, 0644, 0755)";
		return -EINVAL;
	}
	return 0;
}

#define RATE_MIN 1024 /* bytes per second, the least cap */

int opts_parse_rate(const char *text, uint64_t *bps)
{
	uint64_t v = 0, unit = 1;
	size_t i;

	for (i = 0; text[i] >= '0' && text[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(text[i] - '0');
		if (v > (1ULL << 40))
			return -EINVAL;
	}
	if (i == 0)
		return -EINVAL;
	switch (text[i]) {
	case 'k':
	case 'K':
		unit = 1ULL << 10;
		break;
	case 'm':
	case 'M':
		unit = 1ULL << 20;
		break;
	case 'g':
	case 'G':
		unit = 1ULL << 30;
		break;
	default:
		break;
	}
	if (unit > 1)
		i++;
	if (unit > 1 && (text[i] == 'i' || text[i] == 'I'))
		i++;
	if (text[i] == 'B' || text[i] == 'b')
		i++;
	if (text[i] != '\0' || v > (1ULL << 40) / unit)
		return -EINVAL;
	/* Below 1 KiB/s one 4 KiB piece would wait longer than a server's
	 * data timeout. */
	if (v * unit != 0 && v * unit < RATE_MIN)
		return -EINVAL;
	*bps = v * unit;
	return 0;
}

/* poll=, bwlimit=, bwlimit_up=, idmap=, uidfile=, gidfile= (issue 18). */
static int opts_validate_changes(const struct ftpsfs_opts *o, const char **msg)
{
	uint64_t r;

	if ((o->bwlimit && opts_parse_rate(o->bwlimit, &r) < 0) ||
	    (o->bwlimit_up && opts_parse_rate(o->bwlimit_up, &r) < 0)) {
		*msg = "bwlimit= and bwlimit_up= take bytes per second, with "
		       "k, "
		       "M or G for 1024, 1024^2, 1024^3 (such as 512k, 10M), "
		       "at least 1k; 0 = no limit";
		return -EINVAL;
	}
	if (o->poll > 86400) {
		*msg = "poll must be between 0 (off) and 86400 seconds";
		return -EINVAL;
	}
	if (o->idmap && strcmp(o->idmap, "none") != 0 &&
	    strcmp(o->idmap, "names") != 0) {
		*msg = "idmap must be none or names";
		return -EINVAL;
	}
	if ((o->uidfile || o->gidfile) &&
	    !(o->idmap && strcmp(o->idmap, "names") == 0)) {
		*msg = "uidfile= and gidfile= go with idmap=names";
		return -EINVAL;
	}
	return 0;
}

/* The numbers: connections, streams, cache sizes and timeouts. */
static int opts_validate_bounds(const struct ftpsfs_opts *o, const char **msg)
{
	if (o->max_conns < 1 || o->max_conns > 64) {
		*msg = "max_conns must be between 1 and 64";
		return -EINVAL;
	}
	if (o->parallel_reads > 16) {
		*msg = "parallel_reads must be between 0 and 16";
		return -EINVAL;
	}
	if (o->attr_timeout < 0 || o->dir_timeout < 0 ||
	    o->negative_timeout < 0 || o->attr_timeout > 86400 ||
	    o->dir_timeout > 86400 || o->negative_timeout > 86400) {
		*msg = "cache timeouts must be between 0 and 86400 seconds";
		return -EINVAL;
	}
	if (o->dir_cache_mb < 1 || o->dir_cache_mb > 65536) {
		*msg = "dir_cache_mb must be between 1 and 65536";
		return -EINVAL;
	}
	if (o->dir_max_entries < 1 ||
	    o->dir_max_entries > FTP_LIST_ENTRIES_LIMIT) {
		*msg = "dir_max_entries must be between 1 and 10000000";
		return -EINVAL;
	}
	if (o->connect_timeout < 1 || o->connect_timeout > 3600 ||
	    o->timeout < 1 || o->timeout > 3600) {
		*msg = "connect_timeout and timeout must be between 1 and "
		       "3600 seconds";
		return -EINVAL;
	}
	if (o->op_timeout > 86400) {
		*msg = "op_timeout must be between 0 (no limit) and 86400 "
		       "seconds";
		return -EINVAL;
	}
	if (o->keepalive > 86400 || o->idle_close < 1 ||
	    o->idle_close > 86400) {
		*msg = "keepalive must be 0 to 86400 and idle_close 1 to 86400 "
		       "seconds";
		return -EINVAL;
	}
	return 0;
}

int opts_validate(const struct ftpsfs_opts *o, const char **msg)
{
	if (opts_validate_changes(o, msg) < 0)
		return -EINVAL;
	if (opts_validate_security(o, msg) < 0 ||
	    opts_validate_protocol(o, msg) < 0 ||
	    opts_validate_modes(o, msg) < 0)
		return -EINVAL;
	if (opts_validate_bounds(o, msg) < 0)
		return -EINVAL;
	if (o->no_default_permissions && o->default_permissions) {
		*msg = "default_permissions and no_default_permissions exclude "
		       "each other";
		return -EINVAL;
	}
	if (o->probe_readonly && !o->probe) {
		*msg = "probe_readonly goes with --probe only";
		return -EINVAL;
	}
	if (o->tls_max && strcmp(o->tls_max, "1.2") != 0 &&
	    strcmp(o->tls_max, "1.3") != 0) {
		*msg = "tls_max must be 1.2 or 1.3";
		return -EINVAL;
	}
	return 0;
}

/* "-ofsname=" + @remote with commas and backslashes escaped: libfuse's option
 * parser splits at commas and takes a backslash as "the next character
 * as it is". */
static int opts_add_fsname(const char *remote, struct fuse_args *args)
{
	static const char prefix[] = "-ofsname=";
	size_t len = strlen(remote), o = sizeof(prefix) - 1;
	char *opt;
	int ret;

	if (len > (SIZE_MAX - sizeof(prefix)) / 2)
		return -ENOMEM;
	opt = malloc(sizeof(prefix) + 2 * len);
	if (!opt)
		return -ENOMEM;
	memcpy(opt, prefix, o);
	for (size_t i = 0; i < len; i++) {
		if (remote[i] == ',' || remote[i] == '\\')
			opt[o++] = '\\';
		opt[o++] = remote[i];
	}
	opt[o] = '\0';
	ret = fuse_opt_add_arg(args, opt) < 0 ? -ENOMEM : 0;
	free(opt);
	return ret;
}

int opts_mount_args(const struct ftpsfs_opts *o, bool root,
		    struct fuse_args *args)
{
	bool suid = o->allow_suid && root && !o->nosuid;

	if (opts_add_fsname(o->remote, args) < 0 ||
	    fuse_opt_add_arg(args, "-osubtype=ftpsfs") < 0)
		return -ENOMEM;
	if (o->allow_other && !o->no_default_permissions &&
	    !o->default_permissions &&
	    fuse_opt_add_arg(args, "-odefault_permissions") < 0)
		return -ENOMEM;
	/* Device files are never needed: FTP has none (fs_entry_to_stat()
	 * shows them as empty files). */
	if (fuse_opt_add_arg(args, suid ? "-onodev,suid" : "-onodev,nosuid") <
	    0)
		return -ENOMEM;
	return 0;
}

void opts_print_help(const char *progname)
{
	printf("usage: %s [user@]host[:port][:/path] mountpoint [options]\n"
	       "       %s ftp://[user@]host[:port]/path mountpoint [options]\n"
	       "       %s ftps://[user@]host[:port]/path mountpoint [options]\n"
	       "       %s --probe REMOTE [options]   (no mount point)\n"
	       "       %s --stats MOUNTPOINT [SECONDS]  (a mount's activity)\n"
	       "\n"
	       "ftp:// and the plain form use explicit TLS (AUTH TLS, port "
	       "21);\n"
	       "ftps:// uses implicit TLS (port 990).  TLS is required, and "
	       "the\n"
	       "server's certificate is verified, unless options below say "
	       "otherwise.\n"
	       "\n"
	       "ftpsfs options:\n"
	       "    -o password_stdin      read the password from standard "
	       "input\n"
	       "    -o netrc=FILE          credentials file (default "
	       "~/.netrc)\n"
	       "    -o cafile=FILE         trust the CA certificates in FILE\n"
	       "    -o capath=DIR          trust the CA certificates in DIR\n"
	       "    -o tls_max=1.2|1.3     highest TLS version to offer\n"
	       "    -o fingerprint=sha256:HEX  trust only the server whose "
	       "certificate\n"
	       "                           or public key has this SHA-256 (no "
	       "CA, no\n"
	       "                           host name check)\n"
	       "    -o tofu                trust the server's key on first "
	       "use, record it\n"
	       "                           in ~/.config/ftpsfs/known_hosts, "
	       "refuse if it\n"
	       "                           changes\n"
	       "    -o no_verify           accept ANY certificate (insecure; "
	       "warns)\n"
	       "    -o ciphers=LIST        TLS 1.2 ciphers (OpenSSL syntax)\n"
	       "    -o tls13_ciphersuites=LIST  TLS 1.3 cipher suites\n"
	       "    -o cert=FILE           client certificate (PEM) for "
	       "servers that\n"
	       "                           require one\n"
	       "    -o key=FILE            its private key (PEM; default: in "
	       "cert=)\n"
	       "    -o key_password_stdin  read the key's passphrase from "
	       "standard input\n"
	       "                           (the line after the password, if "
	       "any)\n"
	       "    -o credentials=FILE    user=, password=, key_password= "
	       "lines; the file\n"
	       "                           must not be accessible by group or "
	       "others\n"
	       "    -o askpass=PROGRAM     run PROGRAM to get the password\n"
	       "    -o anonymous           log in anonymously\n"
	       "    -o allow_plaintext     continue WITHOUT encryption if the "
	       "server\n"
	       "                           refuses AUTH TLS (anonymous logins "
	       "only ...)\n"
	       "    -o allow_plaintext_password  ... or also send the password "
	       "in clear\n"
	       "    -o no_contain_symlinks show symlinks that point outside "
	       "the mount\n"
	       "    -o no_transform_symlinks  keep absolute symlink targets "
	       "absolute\n"
	       "    -o ro                  mount read-only (default "
	       "read-write)\n"
	       "    -o atomic_upload       upload to a temporary name, rename "
	       "when\n"
	       "                           complete (a failed upload keeps the "
	       "old file)\n"
	       "    -o verify              check each upload: SIZE, and the "
	       "server's\n"
	       "                           HASH against ours where it offers "
	       "one\n"
	       "    -o ignore_dir_times    accept directory times the server "
	       "cannot\n"
	       "                           set (vsftpd) instead of failing "
	       "with EPERM\n"
	       "    -o no_readahead        do not fetch the next small files "
	       "of a\n"
	       "                           directory read file after file\n"
	       "    -o parallel_reads=N    fetch a big file read on and on "
	       "with N\n"
	       "                           ranged streams (default 4; 0 off; "
	       "at most\n"
	       "                           max_conns - 1)\n"
	       "    -o spool_dir=DIR       private directory for local copies "
	       "of files\n"
	       "                           being changed (default $TMPDIR or "
	       "/tmp)\n"
	       "    -o writeback           close() returns once the file is "
	       "safe in\n"
	       "                           spool_dir; uploads run in the "
	       "background,\n"
	       "                           resumed at the next mount after a "
	       "crash;\n"
	       "                           fsync() still waits for the server\n"
	       "    -o max_conns=N         control connections (default 5; one "
	       "is\n"
	       "                           kept free of transfers for "
	       "metadata)\n"
	       "    -o attr_timeout=S      cache attributes for S seconds "
	       "(20)\n"
	       "    -o dir_timeout=S       cache listings for S seconds (20)\n"
	       "    -o negative_timeout=S  cache missing names for S seconds "
	       "(5)\n"
	       "    -o dir_cache_mb=N      MiB for cached listings of all "
	       "directories\n"
	       "                           together (64); the least used are "
	       "dropped\n"
	       "    -o dir_max_entries=N   entries one directory's listing may "
	       "have\n"
	       "                           (1000000); a bigger one fails with "
	       "EIO\n"
	       "    -o connect_timeout=S   connect/handshake limit (15)\n"
	       "    -o timeout=S           limit for each reply or stall (30)\n"
	       "    -o op_timeout=S        limit for the server's part of one "
	       "request\n"
	       "                           (lookup, listing, one read): 4 x "
	       "timeout\n"
	       "                           (120); 0 = none\n"
	       "    -o soft                while the server is unreachable, "
	       "fail\n"
	       "                           requests at once (EIO) instead of "
	       "waiting\n"
	       "                           for it up to op_timeout (the "
	       "default)\n"
	       "    -o keepalive=S         NOOP on idle connections every S "
	       "seconds,\n"
	       "                           end transfers of files idle that "
	       "long\n"
	       "                           (60; 0 = never)\n"
	       "    -o idle_close=S        close surplus idle connections "
	       "after S\n"
	       "                           seconds (120)\n"
	       "    -o delay_connect       mount at once, connect on first use "
	       "(for\n"
	       "                           fstab at boot before the network is "
	       "up)\n"
	       "    -o active              active-mode data connections "
	       "(EPRT/PORT:\n"
	       "                           the server connects to us)\n"
	       "    -o no_epsv             passive mode with PASV from the "
	       "start, not\n"
	       "                           EPSV (for servers and middleboxes "
	       "that\n"
	       "                           mishandle EPSV)\n"
	       "    -o no_mlsd             never use MLSD/MLST, even if FEAT "
	       "offers\n"
	       "                           them: list with LIST -a (for "
	       "servers whose\n"
	       "                           MLSD is broken)\n"
	       "    -o list_hidden         add the dot files a server's MLSD "
	       "leaves out\n"
	       "                           (one more LIST -a per listing)\n"
	       "    -o file_mode=OOOO      permission bits shown for every "
	       "regular file\n"
	       "                           instead of the server's (octal); "
	       "chmod\n"
	       "                           still changes the server's\n"
	       "    -o dir_mode=OOOO       ... for every directory\n"
	       "    -o umask=OOO           bits cleared from every shown mode "
	       "(octal)\n"
	       "    -o uid=N,gid=N         show files as owned by N (default: "
	       "the\n"
	       "                           mounting user); for a user other "
	       "than the\n"
	       "                           one mounting, add allow_other\n"
	       "    -o allow_other         let other users use the mount "
	       "(generic FUSE\n"
	       "                           option); turns on "
	       "default_permissions: the\n"
	       "                           kernel checks the shown owner and "
	       "mode\n"
	       "    -o no_default_permissions  with allow_other: no checks by "
	       "the\n"
	       "                           kernel; every user may do what the "
	       "login may\n"
	       "    -o allow_suid          mount suid (root only) and show "
	       "setuid and\n"
	       "                           setgid bits: whoever can write to "
	       "the server\n"
	       "                           can become root here (default: "
	       "nosuid, and\n"
	       "                           the bits are hidden; always nodev)\n"
	       "    -o codepage=CHARSET    the server's names are in CHARSET, "
	       "not\n"
	       "                           UTF-8 (ISO-8859-1, CP1251, GBK "
	       "...)\n"
	       "    -o proxy=URL           every connection through a proxy:\n"
	       "                           socks5://[user@]host:port (the "
	       "proxy\n"
	       "                           resolves the server's name; "
	       "socks5h://\n"
	       "                           too) or http://[user@]host:port "
	       "(HTTP\n"
	       "                           CONNECT); passive mode only; the "
	       "proxy\n"
	       "                           password: proxy_password= in "
	       "credentials=,\n"
	       "                           netrc, askpass= or a prompt\n"
	       "    -o probe_readonly      with --probe: skip the checks that "
	       "write\n"
	       "    -o poll=S              every S seconds, list again the "
	       "directories\n"
	       "                           used in the last 5 minutes (at most "
	       "32) and\n"
	       "                           tell the kernel what changed (0 = "
	       "off)\n"
	       "    -o bwlimit=RATE        cap downloads of the whole mount at "
	       "RATE\n"
	       "                           bytes/s (k, M, G = 1024, 1024^2, "
	       "1024^3:\n"
	       "                           512k, 10M; at least 1k); 0 = none;\n"
	       "                           changeable while mounted:\n"
	       "                           setfattr -n user.ftpsfs.bwlimit -v "
	       "5M MNT\n"
	       "    -o bwlimit_up=RATE     ... uploads "
	       "(user.ftpsfs.bwlimit_up)\n"
	       "    -o idmap=names         show the owner and group the server "
	       "names as\n"
	       "                           the local account and group of that "
	       "name;\n"
	       "                           names unknown here show the "
	       "mounting user\n"
	       "                           (or uid=/gid=); default idmap=none\n"
	       "    -o uidfile=FILE,gidfile=FILE  with idmap=names: name:id "
	       "lines,\n"
	       "                           tried before the local accounts\n"
	       "\n"
	       "--probe connects as a mount with these options would and "
	       "reports on\n"
	       "standard output: greeting and FEAT, TLS (certificate chain,\n"
	       "fingerprint, verification), whether data connections resume "
	       "the TLS\n"
	       "session and whether the server insists on it (one data "
	       "connection is\n"
	       "opened deliberately without resumption), passive and active "
	       "mode,\n"
	       "the commands a mount uses, the server's connection limit (at "
	       "most 8\n"
	       "connections are tried), then suggested options and an fstab "
	       "line.\n"
	       "To test writing it creates, changes and deletes a temporary "
	       "file,\n"
	       "directory and symlink named .ftpsfs-probe-* in the remote "
	       "directory;\n"
	       "nothing else on the server is changed (-o probe_readonly: "
	       "nothing).\n"
	       "Exit status: 0 if a mount would work; 2 server unreachable, 3 "
	       "TLS\n"
	       "failed or not verified, 4 login refused, 5 remote directory "
	       "missing,\n"
	       "6 no data connection possible; 1 for bad options.\n"
	       "\n"
	       "fstab's own options (_netdev, noauto, nofail, user, users, "
	       "x-*,\n"
	       "comment=...) are accepted and ignored; any other unknown "
	       "option is\n"
	       "refused before connecting.  Detached, ftpsfs logs to syslog "
	       "(facility\n"
	       "daemon, tag ftpsfs: journalctl -t ftpsfs).\n"
	       "\n"
	       "--stats prints one line per interval (default 1 s) of what a "
	       "running\n"
	       "mount does: operations, bytes downloaded (in) and uploaded "
	       "(out) and\n"
	       "round trips per second; connections busy and idle, retries "
	       "and\n"
	       "errors in the interval, uploads pending, the server's state.  "
	       "A header\n"
	       "every 20 lines; Ctrl-C ends it, and so does unmounting (exit "
	       "0).\n"
	       "\n",
	       progname, progname, progname, progname, progname);
}

void opts_free(struct ftpsfs_opts *o)
{
	free(o->remote);
	free(o->cafile);
	free(o->capath);
	free(o->tls_max);
	free(o->netrc);
	free(o->spool_dir);
	free(o->fingerprint);
	free(o->ciphers);
	free(o->tls13_ciphersuites);
	free(o->cert);
	free(o->key);
	free(o->credentials);
	free(o->askpass);
	free(o->codepage);
	free(o->proxy);
	free(o->umask);
	free(o->file_mode);
	free(o->dir_mode);
	free(o->bwlimit);
	free(o->bwlimit_up);
	free(o->idmap);
	free(o->uidfile);
	free(o->gidfile);
}
