/*
 * main.c - start-up: options, credentials, TLS, the first login, the
 * mount, and the FUSE session loop.
 *
 * The FUSE session is created (and so every option checked) before any
 * network traffic; the first connection is made BEFORE mounting, so that
 * a wrong password, an untrusted certificate or a missing directory is
 * reported on the terminal and the mount point is never left half-mounted.
 * What connects (TLS context, endpoint) is made from the options by
 * setup.h, as for ftpsfs --probe, which main() runs instead of a mount.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "ftpsfs/charset.h"
#include "ftpsfs/fs.h"
#include "ftpsfs/fs_poll.h"
#include "ftpsfs/fs_pread.h"
#include "ftpsfs/fs_prefetch.h"
#include "ftpsfs/fs_refresh.h"
#include "ftpsfs/fs_wback.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_list.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/ftp_root.h"
#include "ftpsfs/idmap.h"
#include "ftpsfs/inode.h"
#include "ftpsfs/log.h"
#include "ftpsfs/opts.h"
#include "ftpsfs/probe.h"
#include "ftpsfs/ratelimit.h"
#include "ftpsfs/setup.h"
#include "ftpsfs/spool.h"
#include "ftpsfs/stats.h"
#include "ftpsfs/stats_view.h"
#include "ftpsfs/symlink_policy.h"
#include "ftpsfs/tls.h"

#ifndef FTPSFS_VERSION
#define FTPSFS_VERSION "0"
#endif

struct mount_state {
	struct ftpsfs_opts opts;
	struct setup s; /* remote argument, credentials (setup.h) */
	struct ftp_endpoint ep;
	struct fs_ctx ctx;
	char root_path[HOSTSPEC_PATH_MAX + 1];
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
	int ret = ftp_resolve_root(c, m->s.hs.path, m->root_path,
				   sizeof(m->root_path), &e, buf, sizeof(buf),
				   &have_entry);

	if (ret < 0) {
		log_err("%s",
			ftp_conn_err(c)[0] ? ftp_conn_err(c) : strerror(-ret));
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

/* The TLS context, the endpoint and the pool; then the first login (but
 * with delay_connect), the remote directory and the inode table. */
static int mount_remote(struct mount_state *m, struct tls_ctx **tls)
{
	struct itab_config ic;
	struct ftp_conn *c = NULL;
	struct stat root_st;
	char err[512];
	int ret;

	ret = setup_tls(&m->s, SETUP_MOUNT, 0, NULL, NULL, tls);
	if (ret == 0)
		ret = setup_endpoint(&m->s, *tls, &m->ep);
	if (ret < 0)
		return ret;
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
			 m->s.hs.path[0] == '/' ? m->s.hs.path : "/");
		root_stat_default(&m->ctx, &root_st);
		m->ctx.late_setup = late_setup;
		m->ctx.late_setup_arg = m;
		return itab_new(&ic, &root_st, &m->ctx.itab);
	}
	ret = ftp_pool_acquire(m->ctx.pool, FTP_POOL_META, &c, err,
			       sizeof(err));
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
	if (!m->opts.no_readahead && fs_readahead_new(&m->ctx.readahead) < 0)
		goto out_unmount;
	/* Threads do not survive fuse_daemonize()'s fork: start it now. */
	if (ftp_pool_start(m->ctx.pool) < 0 ||
	    fs_refresh_start(&m->ctx, se, &refresh) < 0 ||
	    fs_prefetch_start(&m->ctx, &prefetch) < 0 ||
	    fs_poll_start(&m->ctx, m->opts.poll, &poll) < 0 ||
	    fs_preads_start(&m->ctx, m->opts.parallel_reads, &m->ctx.preads) <
		    0)
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
			fuse_loop_cfg_set_idle_threads(lc,
						       co->max_idle_threads);
		fuse_loop_cfg_set_max_threads(lc, co->max_threads);
		ret = fuse_session_loop_mt(se, lc) != 0;
		fuse_loop_cfg_destroy(lc);
	}
out_unmount:
	fs_poll_stop(poll);	       /* before the refresh thread it uses */
	fs_wback_stop(&m->ctx);	       /* waits for the queue, bounded */
	fs_attrq_stop(&m->ctx);	       /* after the uploads that feed it */
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
	ctx->file_mode_set =
		o->file_mode &&
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
		log_warn(
			"allow_other with no_default_permissions: every local "
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
 * The checks a mount and ftpsfs --probe share, before any prompt or
 * traffic: the options, the remote argument, and unknown options -
 * libfuse's parser in fuse_session_new() refuses those neither it nor we
 * know, and mounts nothing.  Then the credentials (may prompt).  Returns
 * the session (the caller's), or NULL with the reason logged.
 */
static struct fuse_session *start_session(struct mount_state *m,
					  struct fuse_args *args, bool probe)
{
	struct fuse_session *se;
	const char *msg = NULL;

	if (opts_validate(&m->opts, &msg) < 0) {
		log_err("%s", msg);
		return NULL;
	}
	if (setup_remote(&m->s) < 0)
		return NULL;
	if (!probe) {
		warn_about_sharing(&m->opts);
		if (opts_mount_args(&m->opts, geteuid() == 0, args) < 0)
			return NULL;
	}
	se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), &m->ctx);
	if (se && setup_credentials(&m->s) < 0) {
		fuse_session_destroy(se);
		se = NULL;
	}
	return se;
}

/*
 * ftpsfs --probe REMOTE [-o ...]: the options, the remote argument and
 * the credentials are checked as for a mount (start_session()), and then
 * the probe runs instead of a mount (probe.h).  Returns its exit status.
 */
static int run_probe(struct mount_state *m, struct fuse_args *args,
		     const struct fuse_cmdline_opts *co, int argc, char *argv[])
{
	struct fuse_session *se;

	if (!m->opts.remote || co->mountpoint) {
		fprintf(stderr,
			"usage: %s --probe [user@]host[:port][:/path] "
			"[options]  (no mount point; see --help)\n",
			argv[0]);
		return PROBE_EXIT_USAGE;
	}
	se = start_session(m, args, true);
	if (!se)
		return PROBE_EXIT_USAGE;
	fuse_session_destroy(se);
	return probe_run(&(struct probe_args){
		.setup = &m->s, .argc = argc, .argv = argv });
}

/* The mount context from the options (checked by opts_validate()), and
 * what they name on this machine: map files, the spool directory.
 * 0, or -1 with the reason logged. */
static int ctx_from_opts(struct mount_state *m)
{
	const struct ftpsfs_opts *o = &m->opts;
	uint64_t bps = 0;
	char err[512];

	fs_ctx_init(&m->ctx);
	/* uid=/gid=: a root mount (fstab) shown as the user's own files
	 * (git refuses repositories owned by someone else). */
	m->ctx.uid = o->uid_set ? (uid_t)o->uid : getuid();
	m->ctx.gid = o->gid_set ? (gid_t)o->gid : getgid();
	m->ctx.read_only = o->read_only;
	m->ctx.atomic_upload = o->atomic_upload;
	m->ctx.verify = o->verify;
	m->ctx.ignore_dir_times = o->ignore_dir_times;
	m->ctx.show_suid = o->allow_suid;
	m->ctx.list_hidden = o->list_hidden;
	m->ctx.max_entries = o->dir_max_entries;
	m->ctx.attr_timeout = o->attr_timeout;
	m->ctx.negative_timeout = o->negative_timeout;
	/* DESIGN.md 4: each request's wait for the server is bounded. */
	m->ctx.op_timeout_ms = 1000 * (int)(o->op_timeout_set ? o->op_timeout
							      : 4 * o->timeout);
	set_shown_modes(o, &m->ctx);
	m->ctx.symlink_flags = (o->contain_symlinks ? SYMLINK_CONTAIN : 0) |
			       (o->transform_symlinks ? SYMLINK_TRANSFORM : 0);
	/* Bandwidth caps (issue 18). */
	if (o->bwlimit && opts_parse_rate(o->bwlimit, &bps) == 0)
		ratelimit_set(RATELIMIT_DOWN, bps);
	if (o->bwlimit_up && opts_parse_rate(o->bwlimit_up, &bps) == 0)
		ratelimit_set(RATELIMIT_UP, bps);
	/* Owners by name (issue 18): the map files are read before any
	 * connection, so that a bad one fails the mount at once. */
	if ((o->idmap && strcmp(o->idmap, "names") == 0 &&
	     idmap_new(o->uidfile, o->gidfile, &m->ctx.idmap, err,
		       sizeof(err)) < 0) ||
	    (!m->ctx.read_only &&
	     spool_dir_prepare(o->spool_dir, m->ctx.spool_dir,
			       sizeof(m->ctx.spool_dir), err,
			       sizeof(err)) < 0)) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

/* --version, --help: 1 if one was asked for (and printed), else 0. */
static int show_info(const struct ftpsfs_opts *o,
		     const struct fuse_cmdline_opts *co, const char *argv0)
{
	if (o->show_version || co->show_version) {
		printf("ftpsfs %s\n", FTPSFS_VERSION);
		printf("FUSE library version %s\n", fuse_pkgversion());
		printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
		return 1;
	}
	if (o->show_help || co->show_help) {
		opts_print_help(argv0);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return 1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co = { 0 };
	struct mount_state *m = calloc(1, sizeof(*m));
	struct fuse_session *se = NULL;
	struct tls_ctx *tls = NULL;
	int ret = 1;

	if (!m)
		return 1;
	/* glibc gives every thread that allocates its own arena (up to 8 per
	 * core): the cache's records are made by whichever FUSE worker
	 * serves the request, and memory freed in one arena (a listing's
	 * names while it is read) cannot serve another's allocations, so
	 * the peak grew by some 3 MiB per 100,000 entries (issue 21).  Two
	 * arenas are enough: the cache allocates under one lock anyway.
	 * Before any thread starts; MALLOC_ARENA_MAX in the environment
	 * still decides. */
	if (!getenv("MALLOC_ARENA_MAX"))
		(void)mallopt(M_ARENA_MAX, 2);
	/* ftpsfs --stats MOUNTPOINT [SECONDS]: a viewer, not a mount. */
	if (argc >= 2 && strcmp(argv[1], "--stats") == 0) {
		free(m);
		return stats_view_main(argv[0], argc - 2, argv + 2);
	}
	m->s.opts = &m->opts;
	signal(SIGPIPE, SIG_IGN); /* a dead peer is an errno, not a signal */
	/* The password stays in memory for reconnects: no core dumps of it,
	 * and no ptrace or /proc/PID/mem by other processes of the user. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (opts_parse(&args, &m->opts) < 0 ||
	    fuse_parse_cmdline(&args, &co) != 0)
		goto out;
	if (show_info(&m->opts, &co, argv[0])) {
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
		fprintf(stderr,
			"usage: %s [user@]host[:port][:/path] mountpoint "
			"[options]  (see --help)\n",
			argv[0]);
		goto out;
	}
	se = start_session(m, &args, false);
	if (se && ctx_from_opts(m) == 0 && mount_remote(m, &tls) == 0)
		ret = run_session(m, se, &co);
out:
	if (se)
		fuse_session_destroy(se);
	fs_ctx_release_handles(&m->ctx);
	fs_attrq_stop(&m->ctx); /* a start that failed: its empty queue */
	fs_preads_free(m->ctx.preads);
	m->ctx.preads = NULL;
	ftp_pool_free(m->ctx.pool);
	itab_free(m->ctx.itab);
	idmap_free(m->ctx.idmap);
	charset_free(m->ep.charset);
	tls_ctx_free(tls);
	setup_wipe(&m->s);
	opts_free(&m->opts);
	free(co.mountpoint);
	fuse_opt_free_args(&args);
	free(m);
	return ret;
}
