/*
 * main.c - start-up: options, credentials, TLS, the first login, the
 * mount, and the FUSE session loop.
 *
 * The FUSE session is created (and so every option checked) before any
 * network traffic; the first connection is made BEFORE mounting, so that
 * a wrong password, an untrusted certificate or a missing directory is
 * reported on the terminal and the mount point is never left half-mounted.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "ftpsfs/charset.h"
#include "ftpsfs/credentials.h"
#include "ftpsfs/fs.h"
#include "ftpsfs/fs_poll.h"
#include "ftpsfs/fs_prefetch.h"
#include "ftpsfs/fs_pread.h"
#include "ftpsfs/fs_refresh.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_list.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_root.h"
#include "ftpsfs/hostspec.h"
#include "ftpsfs/inode.h"
#include "ftpsfs/log.h"
#include "ftpsfs/opts.h"
#include "ftpsfs/idmap.h"
#include "ftpsfs/probe.h"
#include "ftpsfs/proxy.h"
#include "ftpsfs/ratelimit.h"
#include "ftpsfs/stats_view.h"
#include "ftpsfs/fs_wback.h"
#include "ftpsfs/spool.h"
#include "ftpsfs/stats.h"
#include "ftpsfs/symlink_policy.h"
#include "ftpsfs/tls.h"
#include "ftpsfs/tofu.h"

#ifndef FTPSFS_VERSION
#define FTPSFS_VERSION "0"
#endif

struct mount_state {
	struct ftpsfs_opts opts;
	struct hostspec hs;
	struct credentials cred;
	struct proxy_spec proxy; /* -o proxy=; type PROXY_NONE if not */
	struct tofu tofu; /* -o tofu: where the server's key is recorded */
	struct ftp_endpoint ep;
	struct fs_ctx ctx;
	char root_path[HOSTSPEC_PATH_MAX + 1];
	atomic_bool warned_no_resume;
	atomic_bool no_pipelining;
};

/* The mount root's attributes where the server tells none (no MLST,
 * delay_connect): a directory of the mounting user, 0755, as of now. */
static void root_stat_default(const struct fs_ctx *ctx, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | fs_shown_perm(ctx, S_IFDIR, 0755);
	st->st_nlink = 2;
	st->st_uid = ctx->uid;
	st->st_gid = ctx->gid;
	st->st_mtime = time(NULL);
}

/* Make the remote path absolute, check it is a directory we may enter,
 * and get its attributes (ftp_root.h). */
static int resolve_root(struct mount_state *m, struct ftp_conn *c,
			struct stat *root_st)
{
	char buf[FTP_LIST_LINE_MAX + 1];
	struct ftp_entry e;
	bool have_entry = false;
	int ret = ftp_resolve_root(c, m->hs.path, m->root_path,
				   sizeof(m->root_path), &e, buf, sizeof(buf),
				   &have_entry);

	if (ret < 0) {
		log_err("%s", ftp_conn_err(c)[0] ? ftp_conn_err(c)
						 : strerror(-ret));
		return ret;
	}
	root_stat_default(&m->ctx, root_st);
	if (have_entry) {
		/* A directory, whatever type the server's facts say. */
		e.type = FTP_ENTRY_DIR;
		fs_entry_to_stat(&m->ctx, &e, root_st);
	}
	return 0;
}

/*
 * delay_connect: the first operation logs in, learns the server's
 * features and, for a relative path, the login directory.
 */
static int late_setup(struct fs_ctx *ctx, void *arg)
{
	struct mount_state *m = arg;
	struct ftp_conn *c;
	struct stat root_st;
	char err[512];
	int ret;

	ret = ftp_pool_acquire(ctx->pool, FTP_POOL_META, &c, err, sizeof(err));
	if (ret < 0) {
		log_err("%s", err);
		return ret;
	}
	ctx->feat = *ftp_conn_feat(c);
	ret = resolve_root(m, c, &root_st);
	ftp_pool_release(ctx->pool, c);
	if (ret == 0)
		ret = itab_set_root_path(ctx->itab, m->root_path);
	return ret;
}

/* -o tofu, first connection to this server: record its key.  Runs
 * inside the TLS context's lock (tls.h). */
static int tofu_first_use(void *arg, const uint8_t spki[FINGERPRINT_LEN],
			  char *err, size_t errsz)
{
	struct tofu *t = arg;
	char fp[FINGERPRINT_TEXT_LEN + 1];
	int ret = tofu_record(t, spki, err, errsz);

	if (ret < 0)
		return ret;
	fingerprint_format(spki, fp);
	log_warn("first connection to %s: trusting its public key %s and "
		 "recording it in %s line %u; compare it with what the "
		 "server's administrator says it is",
		 t->key, fp, t->path, t->line);
	return 0;
}

/* The TLS context: how the server proves itself, the client certificate,
 * versions and ciphers. */
static int setup_tls(struct mount_state *m, struct tls_ctx **tls)
{
	struct tls_settings ts = { 0 };
	char origin[sizeof(m->tofu.path) + 32], err[512];
	int ret;

	ts.cafile = m->opts.cafile;
	ts.capath = m->opts.capath;
	if (m->opts.tls_max)
		ts.max_version = strcmp(m->opts.tls_max, "1.2") == 0
					 ? TLS1_2_VERSION
					 : TLS1_3_VERSION;
	ts.ciphers = m->opts.ciphers;
	ts.ciphersuites = m->opts.tls13_ciphersuites;
	ts.cert_file = m->opts.cert;
	ts.key_file = m->opts.key;
	if (m->cred.key_password.value)
		ts.key_password = &m->cred.key_password;
	if (m->opts.fingerprint) {
		ts.verify = TLS_VERIFY_PIN;
		ts.have_pin = fingerprint_parse(m->opts.fingerprint,
						strlen(m->opts.fingerprint),
						ts.pin) == 0;
		ts.pin_origin = "-o fingerprint";
	} else if (m->opts.tofu) {
		ret = tofu_load(&m->tofu, m->hs.host, m->hs.host_is_ip,
				m->hs.port, err, sizeof(err));
		if (ret < 0) {
			log_err("%s", err);
			return ret;
		}
		ts.verify = TLS_VERIFY_TOFU;
		ts.have_pin = m->tofu.known;
		memcpy(ts.pin, m->tofu.pin, sizeof(ts.pin));
		if (m->tofu.known)
			snprintf(origin, sizeof(origin), "%s line %u",
				 m->tofu.path, m->tofu.line);
		else
			snprintf(origin, sizeof(origin), "%s", m->tofu.path);
		ts.pin_origin = origin;
		ts.first_use = tofu_first_use;
		ts.first_use_arg = &m->tofu;
	} else if (m->opts.no_verify) {
		ts.verify = TLS_VERIFY_NONE;
		log_warn("no_verify: the server's certificate is NOT checked: "
			 "anyone on the network path can pose as %s and read "
			 "your password and files",
			 m->hs.host);
	}
	ret = tls_ctx_new(&ts, tls, err, sizeof(err));
	/* The client key is loaded: its passphrase has done its job. */
	secret_wipe(&m->cred.key_password);
	if (ret < 0)
		log_err("%s", err);
	return ret;
}

static int setup_remote(struct mount_state *m, struct tls_ctx **tls)
{
	struct itab_config ic;
	struct ftp_conn *c = NULL;
	struct stat root_st;
	char err[512];
	int ret;

	ret = setup_tls(m, tls);
	if (ret < 0)
		return ret;
	snprintf(m->ep.host, sizeof(m->ep.host), "%s", m->hs.host);
	m->ep.host_is_ip = m->hs.host_is_ip;
	m->ep.port = m->hs.port;
	m->ep.tls_mode = m->hs.tls_mode;
	snprintf(m->ep.user, sizeof(m->ep.user), "%s", m->hs.user);
	m->ep.password = &m->cred.password;
	m->ep.anonymous = m->cred.anonymous;
	m->ep.allow_plaintext = m->opts.allow_plaintext;
	m->ep.allow_plaintext_password = m->opts.allow_plaintext_password;
	m->ep.active = m->opts.active;
	m->ep.no_epsv = m->opts.no_epsv;
	m->ep.no_mlsd = m->opts.no_mlsd;
	m->ep.proxy = m->proxy.type != PROXY_NONE ? &m->proxy : NULL;
	if (m->opts.codepage &&
	    charset_new(m->opts.codepage, &m->ep.charset) < 0) {
		log_err("codepage=%s: a charset iconv does not know (see "
			"iconv --list)", m->opts.codepage);
		return -EINVAL;
	}
	m->ep.connect_timeout_ms = (int)m->opts.connect_timeout * 1000;
	m->ep.timeout_ms = (int)m->opts.timeout * 1000;
	m->ep.tls = *tls;
	m->ep.warned_no_resume = &m->warned_no_resume;
	m->ep.no_pipelining = &m->no_pipelining;

	ret = ftp_pool_new(&m->ep, m->opts.max_conns, &m->ctx.pool);
	if (ret < 0)
		return ret;
	/* Uploads at close have no op deadline (ending them early would
	 * lose data), but wait for a server that is away as long as any
	 * request does. */
	ftp_pool_set_soft(m->ctx.pool, m->opts.soft,
			  m->ctx.op_timeout_ms ? m->ctx.op_timeout_ms
					       : m->ep.timeout_ms);
	ftp_pool_set_maintenance(m->ctx.pool, (int)m->opts.keepalive * 1000,
				 (int)m->opts.idle_close * 1000);
	ic.attr_timeout_ms = (int)(m->opts.attr_timeout * 1000);
	ic.dir_timeout_ms = (int)(m->opts.dir_timeout * 1000);
	ic.root_path = m->root_path;
	ic.listing_budget = (size_t)m->opts.dir_cache_mb << 20;
	if (m->opts.delay_connect) {
		/* fstab at boot: mount now, log in at the first operation. */
		snprintf(m->root_path, sizeof(m->root_path), "%s",
			 m->hs.path[0] == '/' ? m->hs.path : "/");
		root_stat_default(&m->ctx, &root_st);
		m->ctx.late_setup = late_setup;
		m->ctx.late_setup_arg = m;
		return itab_new(&ic, &root_st, &m->ctx.itab);
	}
	ret = ftp_pool_acquire(m->ctx.pool, FTP_POOL_META, &c, err, sizeof(err));
	if (ret < 0) {
		log_err("%s", err);
		return ret;
	}
	m->ctx.feat = *ftp_conn_feat(c);
	ret = resolve_root(m, c, &root_st);
	ftp_pool_release(m->ctx.pool, c);
	if (ret < 0)
		return ret;
	return itab_new(&ic, &root_st, &m->ctx.itab);
}

/* Who logs in, and the secrets for it (credentials.h). */
static int setup_login(struct mount_state *m)
{
	const char *key = m->opts.key ? m->opts.key : m->opts.cert;
	bool key_encrypted = false;
	char err[512];

	if (key && tls_key_file_encrypted(key, &key_encrypted, err,
					  sizeof(err)) < 0) {
		log_err("%s", err);
		return -EINVAL;
	}
	if (credentials_resolve(&m->opts, &m->hs, key_encrypted,
				m->proxy.type != PROXY_NONE ? &m->proxy : NULL,
				&m->cred, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -EINVAL;
	}
	return 0;
}

/* The remote argument and proxy= (before any prompt or traffic). */
static int parse_remote(struct mount_state *m)
{
	const char *msg = NULL;

	if (hostspec_parse(m->opts.remote, &m->hs, &msg) < 0) {
		log_err("%s: %s", m->opts.remote, msg ? msg : "invalid");
		return -EINVAL;
	}
	if (m->opts.proxy &&
	    proxy_spec_parse(m->opts.proxy, &m->proxy, &msg) < 0) {
		log_err("proxy=%s: %s", m->opts.proxy, msg ? msg : "invalid");
		return -EINVAL;
	}
	return 0;
}

/* Mount @se (made by fuse_session_new() before connecting), detach and
 * serve requests until unmounted.  @se stays the caller's. */
static int run_session(struct mount_state *m, struct fuse_session *se,
		       struct fuse_cmdline_opts *co)
{
	struct fuse_loop_config *lc = NULL;
	struct fs_refresh *refresh = NULL;
	struct fs_prefetch *prefetch = NULL;
	struct fs_poll *poll = NULL;
	int ret = 1;

	if (fuse_set_signal_handlers(se) != 0)
		return 1;
	if (fuse_session_mount(se, co->mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(co->foreground) != 0)
		goto out_unmount;
	if (!co->foreground)
		log_use_syslog();
	if (!m->opts.no_readahead &&
	    fs_readahead_new(&m->ctx.readahead) < 0)
		goto out_unmount;
	/* Threads do not survive fuse_daemonize()'s fork: start it now. */
	if (ftp_pool_start(m->ctx.pool) < 0 ||
	    fs_refresh_start(&m->ctx, se, &refresh) < 0 ||
	    fs_prefetch_start(&m->ctx, &prefetch) < 0 ||
	    fs_poll_start(&m->ctx, m->opts.poll, &poll) < 0 ||
	    fs_preads_start(&m->ctx, m->opts.parallel_reads,
			    &m->ctx.preads) < 0)
		goto out_unmount;
	/* An earlier mount's pending uploads go first: no request is
	 * served before they are on the server (fs_wback.h). */
	fs_wback_replay(&m->ctx);
	if (m->opts.writeback && fs_wback_start(&m->ctx) < 0)
		goto out_unmount;
	if (co->singlethread) {
		ret = fuse_session_loop(se) != 0;
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)co->clone_fd);
		/* UINT_MAX is fuse_parse_cmdline()'s "not given"; libfuse
		 * 3.14 would log it as an invalid value.  The loop's own
		 * default is the same: no limit on idle threads. */
		if (co->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, co->max_idle_threads);
		fuse_loop_cfg_set_max_threads(lc, co->max_threads);
		ret = fuse_session_loop_mt(se, lc) != 0;
		fuse_loop_cfg_destroy(lc);
	}
out_unmount:
	fs_poll_stop(poll); /* before the refresh thread it uses */
	fs_wback_stop(&m->ctx); /* waits for the queue, bounded */
	fs_attrq_stop(&m->ctx); /* after the uploads that feed it */
	fs_preads_stop(m->ctx.preads); /* freed after the handles */
	fs_prefetch_stop(prefetch);
	fs_refresh_stop(refresh);
	fs_readahead_free(m->ctx.readahead); /* after the workers */
	m->ctx.readahead = NULL;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
	return ret;
}

/* umask=, file_mode=, dir_mode= into the context (checked already by
 * opts_validate()). */
static void set_shown_modes(const struct ftpsfs_opts *o, struct fs_ctx *ctx)
{
	ctx->umask = 0;
	if (o->umask)
		(void)opts_parse_mode(o->umask, &ctx->umask);
	ctx->file_mode_set = o->file_mode &&
			     opts_parse_mode(o->file_mode, &ctx->file_mode) == 0;
	ctx->dir_mode_set = o->dir_mode &&
			    opts_parse_mode(o->dir_mode, &ctx->dir_mode) == 0;
}

/*
 * Say what a mount shared with other users exposes, before it is made
 * (see opts_mount_args() for what is enforced).
 */
static void warn_about_sharing(const struct ftpsfs_opts *o)
{
	/* Without allow_other the kernel lets only the mounting user in,
	 * whoever the files are shown as owned by. */
	if (o->uid_set && o->uid != getuid() && !o->allow_other)
		log_warn("uid=%u without allow_other: only the mounting user "
			 "(uid %u) can use this mount, user %u gets "
			 "\"Permission denied\"; add allow_other",
			 o->uid, (unsigned)getuid(), o->uid);
	if (o->allow_other && o->no_default_permissions)
		log_warn("allow_other with no_default_permissions: every local "
			 "user may read, change and delete every file the login "
			 "may");
	if (o->allow_suid && geteuid() != 0)
		log_warn("allow_suid: only root can mount with suid; setuid "
			 "and setgid bits are shown but have no effect");
	else if (o->allow_suid && o->nosuid)
		log_warn("allow_suid with nosuid: the mount is nosuid");
	else if (o->allow_suid)
		log_warn("allow_suid: setuid files on the server run with "
			 "their owner's rights here; whoever can write to the "
			 "server can become root on this machine");
}

/*
 * ftpsfs --probe REMOTE [-o ...]: the options, the remote argument and
 * the credentials are checked as for a mount - unknown options included,
 * by libfuse's parser in fuse_session_new(), which mounts nothing - and
 * then the probe runs instead of a mount (probe.h).  Returns its exit
 * status.
 */
static int run_probe(struct mount_state *m, struct fuse_args *args,
		     const struct fuse_cmdline_opts *co, int argc,
		     char *argv[])
{
	struct fuse_session *se;
	const char *msg = NULL;

	if (!m->opts.remote || co->mountpoint) {
		fprintf(stderr, "usage: %s --probe [user@]host[:port][:/path] "
				"[options]  (no mount point; see --help)\n",
			argv[0]);
		return PROBE_EXIT_USAGE;
	}
	if (opts_validate(&m->opts, &msg) < 0) {
		log_err("%s", msg);
		return PROBE_EXIT_USAGE;
	}
	if (parse_remote(m) < 0)
		return PROBE_EXIT_USAGE;
	se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), NULL);
	if (!se)
		return PROBE_EXIT_USAGE;
	fuse_session_destroy(se);
	if (setup_login(m) < 0)
		return PROBE_EXIT_USAGE;
	return probe_run(&(struct probe_args){ .opts = &m->opts,
					       .hs = &m->hs,
					       .cred = &m->cred,
					       .proxy = m->proxy.type != PROXY_NONE
								? &m->proxy
								: NULL,
					       .argc = argc,
					       .argv = argv });
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co = { 0 };
	struct mount_state *m = calloc(1, sizeof(*m));
	struct fuse_session *se = NULL;
	struct tls_ctx *tls = NULL;
	const char *msg = NULL;
	char err[512];
	int ret = 1;

	if (!m)
		return 1;
	/* ftpsfs --stats MOUNTPOINT [SECONDS]: a viewer, not a mount. */
	if (argc >= 2 && strcmp(argv[1], "--stats") == 0) {
		free(m);
		return stats_view_main(argv[0], argc - 2, argv + 2);
	}
	signal(SIGPIPE, SIG_IGN); /* a dead peer is an errno, not a signal */
	/* The password stays in memory for reconnects: no core dumps of it,
	 * and no ptrace or /proc/PID/mem by other processes of the user. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (opts_parse(&args, &m->opts) < 0 ||
	    fuse_parse_cmdline(&args, &co) != 0)
		goto out;
	if (m->opts.show_version || co.show_version) {
		printf("ftpsfs %s\n", FTPSFS_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
		ret = 0;
		goto out;
	}
	if (m->opts.show_help || co.show_help) {
		opts_print_help(argv[0]);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out;
	}
	log_init(m->opts.debug || co.debug);
	log_set_error_hook(stats_note_error);
	if (m->opts.probe) {
		ret = run_probe(m, &args, &co, argc, argv);
		goto out;
	}
	if (!m->opts.remote || !co.mountpoint) {
		fprintf(stderr, "usage: %s [user@]host[:port][:/path] mountpoint "
				"[options]  (see --help)\n",
			argv[0]);
		goto out;
	}
	if (opts_validate(&m->opts, &msg) < 0) {
		log_err("%s", msg);
		goto out;
	}
	if (parse_remote(m) < 0)
		goto out;
	warn_about_sharing(&m->opts);
	if (opts_mount_args(&m->opts, geteuid() == 0, &args) < 0)
		goto out;
	/* Before any prompt or network traffic: libfuse refuses options
	 * that neither it nor we know. */
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &m->ctx);
	if (!se)
		goto out;
	if (setup_login(m) < 0)
		goto out;
	fs_ctx_init(&m->ctx);
	/* uid=/gid=: a root mount (fstab) shown as the user's own files
	 * (git refuses repositories owned by someone else). */
	m->ctx.uid = m->opts.uid_set ? (uid_t)m->opts.uid : getuid();
	m->ctx.gid = m->opts.gid_set ? (gid_t)m->opts.gid : getgid();
	m->ctx.read_only = m->opts.read_only;
	m->ctx.atomic_upload = m->opts.atomic_upload;
	m->ctx.verify = m->opts.verify;
	m->ctx.ignore_dir_times = m->opts.ignore_dir_times;
	m->ctx.show_suid = m->opts.allow_suid;
	m->ctx.list_hidden = m->opts.list_hidden;
	m->ctx.max_entries = m->opts.dir_max_entries;
	/* Bandwidth caps (issue 18): validated by opts_validate(). */
	{
		uint64_t bps = 0;

		if (m->opts.bwlimit &&
		    opts_parse_rate(m->opts.bwlimit, &bps) == 0)
			ratelimit_set(RATELIMIT_DOWN, bps);
		if (m->opts.bwlimit_up &&
		    opts_parse_rate(m->opts.bwlimit_up, &bps) == 0)
			ratelimit_set(RATELIMIT_UP, bps);
	}
	/* Owners by name (issue 18): the map files are read before any
	 * connection, so that a bad one fails the mount at once. */
	if (m->opts.idmap && strcmp(m->opts.idmap, "names") == 0 &&
	    idmap_new(m->opts.uidfile, m->opts.gidfile, &m->ctx.idmap, err,
		      sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	set_shown_modes(&m->opts, &m->ctx);
	m->ctx.symlink_flags =
		(m->opts.contain_symlinks ? SYMLINK_CONTAIN : 0) |
		(m->opts.transform_symlinks ? SYMLINK_TRANSFORM : 0);
	if (!m->ctx.read_only &&
	    spool_dir_prepare(m->opts.spool_dir, m->ctx.spool_dir,
			      sizeof(m->ctx.spool_dir), err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	m->ctx.attr_timeout = m->opts.attr_timeout;
	/* DESIGN.md 4: each request's wait for the server is bounded. */
	m->ctx.op_timeout_ms = 1000 * (int)(m->opts.op_timeout_set
						    ? m->opts.op_timeout
						    : 4 * m->opts.timeout);
	m->ctx.negative_timeout = m->opts.negative_timeout;
	if (setup_remote(m, &tls) < 0)
		goto out;
	ret = run_session(m, se, &co);
out:
	if (se)
		fuse_session_destroy(se);
	fs_ctx_release_handles(&m->ctx);
	fs_preads_free(m->ctx.preads);
	m->ctx.preads = NULL;
	ftp_pool_free(m->ctx.pool);
	itab_free(m->ctx.itab);
	idmap_free(m->ctx.idmap);
	charset_free(m->ep.charset);
	tls_ctx_free(tls);
	credentials_wipe(&m->cred);
	opts_free(&m->opts);
	free(co.mountpoint);
	fuse_opt_free_args(&args);
	free(m);
	return ret;
}
