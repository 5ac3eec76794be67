/*
 * fs_remote.c - what the fs operations ask of the server: listings and
 * single-entry lookups, on pooled connections, feeding the cache.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_internal.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_learned.h"
#include "ftpsfs/ftp_list.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/idmap.h"
#include "ftpsfs/log.h"
#include "ftpsfs/nameidx.h"
#include "ftpsfs/net.h"
#include "ftpsfs/path.h"
#include "ftpsfs/stat_clamp.h"

void fs_entry_to_stat(const struct fs_ctx *ctx, const struct ftp_entry *e,
		      struct stat *st)
{
	mode_t type, perm, kind;

	memset(st, 0, sizeof(*st));
	switch (e->type) {
	case FTP_ENTRY_DIR:
		type = S_IFDIR;
		perm = 0755;
		st->st_nlink = 2;
		break;
	case FTP_ENTRY_LINK:
		type = S_IFLNK;
		perm = 0777;
		st->st_nlink = 1;
		break;
	case FTP_ENTRY_FILE:
		type = S_IFREG;
		perm = 0644;
		st->st_nlink = 1;
		break;
	default:
		/* Devices and fifos are shown as what they are not: an empty
		 * file nobody may open.  Opening a remote device is
		 * meaningless over FTP. */
		type = S_IFREG;
		perm = 0;
		st->st_nlink = 1;
		break;
	}
	if (e->has_mode && e->type != FTP_ENTRY_LINK)
		perm = e->mode & 07777;
	/* A device is no regular file: file_mode= is not for it. */
	kind = e->type == FTP_ENTRY_OTHER ? 0 : type;
	/* The server's setuid bit must not become root here (allow_suid). */
	st->st_mode = type | fs_shown_perm(ctx, kind, perm);
	/* idmap=names: the server's owner where a local account (or the
	 * map files) knows the name; the mount's owner otherwise. */
	if (!idmap_uid(ctx->idmap, e->owner, &st->st_uid))
		st->st_uid = ctx->uid;
	if (!idmap_gid(ctx->idmap, e->group, &st->st_gid))
		st->st_gid = ctx->gid;
	if (e->type == FTP_ENTRY_LINK && e->link_target)
		st->st_size = (off_t)strlen(e->link_target);
	else if (e->has_size && e->type != FTP_ENTRY_OTHER)
		(void)stat_size_from(e->size, &st->st_size); /* saturates */
	st->st_blksize = 4096;
	st->st_blocks = stat_blocks_of(st->st_size);
	if (e->mtime_prec != FTP_TIME_NONE) {
		st->st_mtim.tv_sec = stat_time_from(e->mtime);
		st->st_mtim.tv_nsec = e->mtime_ns;
	}
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
}

void fs_fill_entry(const struct fs_ctx *ctx, const struct stat *st,
		   struct fuse_entry_param *e)
{
	uint64_t dir;

	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->attr = *st;
	e->entry_timeout = ctx->attr_timeout;
	/* A time only to the minute (LIST): the kernel must ask again when
	 * someone looks at it (getattr then asks the exact one), while
	 * readdir and lookups go on without waiting for it. */
	e->attr_timeout = itab_needs_exact_mtime(ctx->itab, st->st_ino, &dir)
				  ? 0
				  : ctx->attr_timeout;
}

/* Failures that a fresh connection might not repeat. */
static bool fs_retryable(int err)
{
	return err == -EIO || ftp_errno_transient(err) || err == -EPROTO ||
	       err == -EMSGSIZE;
}

int fs_tries(const struct fs_ctx *ctx)
{
	return ftp_pool_is_soft(ctx->pool) ? FS_TRIES_SOFT : FS_TRIES_HARD;
}

int fs_with_conn(struct fs_ctx *ctx, fs_conn_fn fn, void *arg)
{
	int64_t saved = fs_op_deadline_begin(ctx);
	int tries = fs_tries(ctx);
	char err[512];
	int ret = -EIO;

	/* A broken connection is tried again on a fresh one; while the
	 * server is away, the pool makes the next try wait for it. */
	for (int attempt = 0; attempt < tries && !net_op_expired(); attempt++) {
		struct ftp_conn *c;
		bool broken;

		ret = ftp_pool_acquire(ctx->pool, FTP_POOL_META, &c, err,
				       sizeof(err));
		if (ret < 0) {
			/* No connection (server down, certificate changed,
			 * login refused): the operation could not be tried. */
			if (ret != -EINTR)
				log_err("%s", err);
			ret = ret == -ETIMEDOUT || ret == -EINTR ? ret : -EIO;
			break;
		}
		ret = fn(c, arg);
		broken = ftp_conn_broken(c);
		if (ret < 0 && ftp_conn_err(c)[0])
			log_debug("conn %u: %s", ftp_conn_id(c),
				  ftp_conn_err(c));
		if (ret < 0 && broken && ftp_conn_err(c)[0])
			log_warn("%s", ftp_conn_err(c));
		ftp_pool_release(ctx->pool, c);
		/* A connection lost, or a data connection cut on its way
		 * (the control connection still in step; refusals were
		 * asked again by the transfer layer already). */
		if (!(ret < 0 && fs_retryable(ret) &&
		      (broken || ret == -ECONNABORTED || ret == -ECONNRESET)))
			break;
	}
	fs_op_deadline_end(saved);
	return ret;
}

int fs_with_conn_for(fuse_req_t req, struct fs_ctx *ctx, fs_conn_fn fn,
		     void *arg)
{
	struct fs_intr intr;
	int ret;

	fs_intr_waits_begin(req, &intr);
	ret = fs_with_conn(ctx, fn, arg);
	fs_intr_waits_end(req, &intr);
	return ret;
}

/* ---- listings ---- */

struct fetch_state {
	struct fs_ctx *ctx;
	uint64_t dir;
	const char *path;
	bool force_list;
	bool merging;		/* second pass: LIST after MLSD */
	bool untargeted_link;	/* MLSD named a symlink without its target */
	bool from_list;		/* an entry came from LIST (times to the
				 * minute at best) */
	bool times_askable;	/* LIST times, MDTM can give exact ones */
	bool ahead;		/* fetched ahead: nobody asked for it yet */
	size_t max;		/* entries allowed (over every pass) */
	unsigned long dups;	/* names the server listed more than once */
	unsigned long clamped;	/* sizes beyond STAT_OFF_MAX */
	char clamped_name[128]; /* the first of them, escaped */
	struct itab_dirent *ents;
	size_t n, cap;
	struct itab_name_pool pool; /* the names in ents (name_packed) */
	struct name_index ix;	    /* of ents by name */
};

static void fetch_reset(struct fetch_state *st)
{
	name_index_free(&st->ix);
	itab_dirents_free(st->ents, st->n);
	itab_pool_free(&st->pool);
	st->ents = NULL;
	st->n = st->cap = 0;
}

static struct itab_dirent *fetch_find(struct fetch_state *st, const char *name)
{
	ssize_t pos = name_index_find(&st->ix, st->ents, name);

	return pos < 0 ? NULL : &st->ents[pos];
}

/* Make room for one more entry. */
static int fetch_grow(struct fetch_state *st)
{
	size_t cap = st->cap ? st->cap * 2 : 64;
	struct itab_dirent *e;

	if (st->n < st->cap)
		return 0;
	e = realloc(st->ents, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	st->ents = e;
	st->cap = cap;
	return 0;
}

static int fetch_append(struct fetch_state *st, const struct ftp_entry *e)
{
	struct itab_dirent *d;
	struct stat sb;

	/* A server that lists a name twice: the first one counts. */
	if (fetch_find(st, e->name)) {
		st->dups++;
		return 0;
	}
	/* One limit per directory, whatever passes it takes. */
	if (st->n >= st->max)
		return -E2BIG;
	if (fetch_grow(st) < 0)
		return -ENOMEM;
	d = &st->ents[st->n];
	memset(d, 0, sizeof(*d));
	fs_entry_to_stat(st->ctx, e, &sb);
	itab_attr_pack(&d->st, &sb);
	if (e->has_size && e->size > (uint64_t)STAT_OFF_MAX &&
	    st->clamped++ == 0)
		log_escape(st->clamped_name, sizeof(st->clamped_name), e->name,
			   strlen(e->name));
	/* (a name that fails below stays in the pool until it goes) */
	d->name = itab_pool_add(&st->pool, e->name);
	if (!d->name)
		return -ENOMEM;
	d->name_packed = true;
	if (e->link_target) {
		d->link_target = strdup(e->link_target);
		if (!d->link_target)
			return -ENOMEM;
	}
	d->mtime_exact = e->mtime_prec == FTP_TIME_SECOND;
	if (e->type == FTP_ENTRY_LINK && !e->link_target)
		st->untargeted_link = true;
	st->n++;
	if (name_index_add(&st->ix, st->ents, st->n - 1) < 0) {
		st->n--;
		free(d->link_target);
		return -ENOMEM;
	}
	return 0;
}

/* An entry of the LIST pass that MLSD left out and that we add:
 * dangling symlinks (ProFTPD), dot files with list_hidden. */
static bool fetch_merge_adds(const struct fetch_state *st,
			     const struct ftp_entry *e)
{
	if (e->type == FTP_ENTRY_LINK && e->link_target)
		return true;
	return st->ctx->list_hidden && e->name[0] == '.';
}

/*
 * Second pass over LIST for servers whose MLSD names symlinks without
 * their targets (ProFTPD: type=OS.unix=symlink) and leaves dangling
 * symlinks out altogether: take the targets, and add the missing links.
 * With list_hidden, also for servers whose MLSD hides dot files (Apache
 * FtpServer, unless asked with a non-standard "-a"): add those LIST -a
 * shows.  Only dot names: LIST's ls -l lines are a guess at the name
 * where MLSD's are exact, and a name parsed otherwise must not become a
 * second entry.
 */
static int fetch_merge(struct fetch_state *st, const struct ftp_entry *e)
{
	struct itab_dirent *d = fetch_find(st, e->name);

	if (!d && fetch_merge_adds(st, e)) {
		st->from_list = true;
		return fetch_append(st, e);
	}
	if (!d || e->type != FTP_ENTRY_LINK || !e->link_target ||
	    !S_ISLNK(d->st.st_mode) || d->link_target)
		return 0;
	d->link_target = strdup(e->link_target);
	if (!d->link_target)
		return -ENOMEM;
	d->st.st_size = (off_t)strlen(e->link_target);
	return 0;
}

static int fetch_add(void *arg, const struct ftp_entry *e)
{
	struct fetch_state *st = arg;

	return st->merging ? fetch_merge(st, e) : fetch_append(st, e);
}

/* Exact times we know already (our own uploads, an earlier MDTM) where
 * they agree with what LIST shows: no need to ask again. */
static void fetch_known_mtimes(struct fetch_state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		struct itab_dirent *d = &st->ents[i];

		if (d->mtime_exact || !S_ISREG(d->st.st_mode) ||
		    !itab_exact_mtime(st->ctx->itab, st->dir, d->name, &d->st,
				      &d->st.st_mtim))
			continue;
		d->mtime_exact = true;
	}
}

/* The files of this LIST listing the zone can be learnt from, asked
 * (ftp_zone_learn()); those MDTM answered for get their exact time. */
static int fetch_learn_zone(struct ftp_conn *c, struct fetch_state *st)
{
	struct ftp_zone_file files[FTP_ZONE_SAMPLES];
	size_t which[FTP_ZONE_SAMPLES], n = 0;
	time_t now = time(NULL);
	int ret;

	for (size_t i = 0; i < st->n && n < FTP_ZONE_SAMPLES; i++) {
		const struct itab_dirent *d = &st->ents[i];

		if (S_ISREG(d->st.st_mode) && !d->mtime_exact &&
		    ftp_zone_file_useful(d->st.st_mtim.tv_sec, now)) {
			files[n] = (struct ftp_zone_file){
				.name = d->name,
				.list_time = d->st.st_mtim.tv_sec
			};
			which[n++] = i;
		}
	}
	if (n == 0)
		return 0;
	ret = ftp_zone_learn(c, st->path, files, n);
	/* What MDTM answered is exact already. */
	for (size_t k = 0; ret == 0 && k < n; k++) {
		struct itab_dirent *d = &st->ents[which[k]];

		if (!files[k].answered)
			continue; /* keep the listing's time */
		d->st.st_mtim.tv_sec = stat_time_from(files[k].mdtm_time);
		d->st.st_mtim.tv_nsec = 0;
		d->mtime_exact = true;
	}
	return ret;
}

/*
 * LIST times are the server's local time (ftp_learned.h: the zone, learnt
 * once per mount from the first listing with recent files, in one
 * pipelined round trip), applied to every time only LIST gives.  A zone
 * with summer time shifts files from the other season by an hour until
 * their exact time is asked; directories keep that hour (documented).
 */
static int fetch_list_zone(struct ftp_conn *c, struct fetch_state *st)
{
	int off, ret = ftp_zone_wanted(c) ? fetch_learn_zone(c, st) : 0;

	if (ret < 0)
		return ret;
	off = ftp_zone_offset(c);
	for (size_t i = 0; off && i < st->n; i++) {
		struct itab_dirent *d = &st->ents[i];

		if (d->mtime_exact)
			continue;
		d->st.st_mtim.tv_sec -= off;
	}
	return 0;
}

/* The exact times of @dir's files, asked with MDTM (see inode.h). */
struct mtimes_op {
	const char *path;
	struct itab_mtime_req *reqs;
	size_t n;
	bool cut; /* the batch ended early: not every file was answered */
};

static int mtimes_run(struct ftp_conn *c, void *arg)
{
	struct mtimes_op *op = arg;
	const char **names = calloc(op->n ? op->n : 1, sizeof(*names));
	int64_t *secs = calloc(op->n ? op->n : 1, sizeof(*secs));
	int *res = calloc(op->n ? op->n : 1, sizeof(*res));
	int ret = -ENOMEM;

	if (names && secs && res) {
		for (size_t i = 0; i < op->n; i++)
			names[i] = op->reqs[i].name;
		ret = ftp_op_mdtm_in(c, op->path, names, op->n, secs, res);
		op->cut = ftp_conn_broken(c);
	}
	for (size_t i = 0; ret == 0 && i < op->n; i++) {
		op->reqs[i].got = res[i] == 0;
		op->reqs[i].exact = secs[i];
	}
	free(names);
	free(secs);
	free(res);
	return ret;
}

int fs_fetch_exact_mtimes(struct fs_ctx *ctx, uint64_t dir, uint64_t ino)
{
	char path[FS_PATH_MAX];
	uint64_t gen = 0, d;
	int ret = itab_path(ctx->itab, dir, path, sizeof(path));

	/* Batch after batch in the listing's order (ls -l asks in that
	 * order too), until @ino's time is known or every file's. */
	while (ret == 0 &&
	       (!ino || itab_needs_exact_mtime(ctx->itab, ino, &d))) {
		struct mtimes_op op = { .path = path };

		ret = itab_mtimes_claim(ctx->itab, dir, &op.reqs, &op.n, &gen);
		if (ret <= 0)
			break;
		ret = fs_with_conn(ctx, mtimes_run, &op);
		/* A batch cut short keeps what it got; the rest stay to
		 * be asked (by the next request). */
		itab_mtimes_done(ctx->itab, dir, op.reqs, op.n, gen,
				 ret == 0 && !op.cut);
		itab_mtime_reqs_free(op.reqs, op.n);
		if (op.cut)
			break;
	}
	return ret;
}

static int fetch_run(struct ftp_conn *c, void *arg)
{
	struct fetch_state *st = arg;
	bool used_list = st->force_list || !ftp_conn_feat(c)->mlst;
	int ret;

	/* A retry starts from an empty list. */
	fetch_reset(st);
	st->merging = st->untargeted_link = false;
	st->from_list = used_list;
	st->dups = 0;
	st->clamped = 0;
	ret = ftp_list_dir(c, st->path, st->force_list, true, fetch_add, st);
	if (ret == 0 && !used_list &&
	    (st->untargeted_link || st->ctx->list_hidden)) {
		st->merging = true;
		ret = ftp_list_dir(c, st->path, true, true, fetch_add, st);
	}
	if (ret < 0 || !st->from_list)
		return ret;
	/* Exact times are asked later, when someone needs them. */
	fetch_known_mtimes(st);
	st->times_askable = ftp_conn_feat(c)->mdtm;
	return fetch_list_zone(c, st);
}

/* Files we created that are not uploaded yet exist too (unless the
 * server lists the name already). */
static int fetch_add_local(struct fetch_state *st)
{
	size_t first = st->n, kept = st->n;
	int ret = itab_add_local_entries(st->ctx->itab, st->dir, &st->ents,
					 &st->n, &st->cap);

	for (size_t i = first; i < st->n; i++) {
		if (ret == 0 && !fetch_find(st, st->ents[i].name)) {
			st->ents[kept++] = st->ents[i];
			continue;
		}
		free(st->ents[i].name);
		free(st->ents[i].link_target);
	}
	st->n = kept;
	/* The index is not needed any more: its memory goes before the
	 * listing is installed. */
	name_index_free(&st->ix);
	return ret;
}

/* Say why a listing was refused for its size, and what changes it. */
static void fetch_log_too_big(const struct fetch_state *st)
{
	if (st->ahead)
		log_debug("%s: not fetched ahead: more than %zu entries",
			  st->path, st->max);
	else
		log_warn("%s: refused: the listing has more than %zu entries "
			 "(mount with -o dir_max_entries=N to allow more; "
			 "each costs some %u bytes of memory)",
			 st->path, st->max, FS_BYTES_PER_ENTRY);
}

/* Say what was odd in a listing the server sent, and what we made of it. */
static void fetch_log_oddities(const struct fetch_state *st)
{
	if (st->dups)
		log_warn("%s: the server listed %lu names more than "
			 "once; showing each once",
			 st->path, st->dups);
	if (st->clamped)
		log_warn("%s: %lu entr%s with a size of 2^63 bytes or "
			 "more (the first: \"%s\"): shown as %lld bytes",
			 st->path, st->clamped, st->clamped == 1 ? "y" : "ies",
			 st->clamped_name, (long long)STAT_OFF_MAX);
}

int fs_fetch_listing(struct fs_ctx *ctx, uint64_t dir, bool force_list,
		     struct itab_snapshot **snap)
{
	return fs_fetch_listing_max(ctx, dir, force_list, snap, 0);
}

int fs_fetch_listing_max(struct fs_ctx *ctx, uint64_t dir, bool force_list,
			 struct itab_snapshot **snap, size_t ahead_max)
{
	struct fetch_state st = { .ctx = ctx,
				  .dir = dir,
				  .force_list = force_list,
				  .ahead = ahead_max > 0 };
	char *path = malloc(FS_PATH_MAX);
	int64_t saved;
	int ret;

	if (!path)
		return -ENOMEM;
	/* One deadline for every try, however many a race costs. */
	saved = fs_op_deadline_begin(ctx);
	ret = itab_path(ctx->itab, dir, path, FS_PATH_MAX);
	if (ret == -ESTALE && itab_is_removed(ctx->itab, dir))
		ret = -ENOENT; /* a directory found gone meanwhile */
	if (ret < 0)
		goto out;
	st.path = path;
	name_index_init(&st.ix);
	st.max = ctx->max_entries ? ctx->max_entries : FTP_LIST_ENTRIES_MAX;
	if (ahead_max && ahead_max < st.max)
		st.max = ahead_max;
	/* A change of ours while the listing was on its way makes it stale
	 * (itab generations): ask again, a few times. */
	for (int attempt = 0;; attempt++) {
		uint64_t gen = itab_generation(ctx->itab);

		ret = fs_with_conn(ctx, fetch_run, &st);
		if (ret == -E2BIG && st.n >= st.max)
			fetch_log_too_big(&st);
		if (ret < 0) {
			/* CWD or LIST refused: the directory may be gone. */
			ret = fs_check_dir_gone(ctx, dir, ret);
			goto out;
		}
		fetch_log_oddities(&st);
		ret = fetch_add_local(&st);
		if (ret < 0)
			goto out;
		/* A LIST asked for what MLSD lacks serves its caller only: a
		 * server whose LIST shows less than its MLSD (or nothing)
		 * must not hide the directory's files from the cache. */
		if (force_list && snap) {
			ret = itab_snapshot_copy(st.ents, st.n, snap);
			if (ret == 0)
				(*snap)->gen = gen;
			break;
		}
		/* The caller's snapshot is the cache's (not a copy): the
		 * next opendir shares it. */
		ret = itab_set_listing_pool(
			ctx->itab, dir, st.ents, st.n, &st.pool, gen,
			(st.times_askable ? ITAB_TIMES_ASKABLE : 0) |
				(st.ahead ? ITAB_AHEAD : 0),
			snap);
		st.ents = NULL;
		st.n = st.cap = 0;
		if (ret != -EAGAIN)
			break;
		if (attempt == 2) {
			/* Still racing: this one serves the caller, not the
			 * cache; its generation keeps our newer changes. */
			ret = 0;
			break;
		}
		if (snap) {
			itab_snapshot_free(*snap);
			*snap = NULL;
		}
	}
	if (ret < 0 && snap) {
		itab_snapshot_free(*snap);
		*snap = NULL;
	}
out:
	fs_op_deadline_end(saved);
	fetch_reset(&st);
	free(path);
	return ret;
}

const struct itab_dirent *fs_snapshot_find(const struct itab_snapshot *snap,
					   const char *name)
{
	for (size_t i = 0; i < snap->n; i++)
		if (strcmp(snap->ents[i].name, name) == 0)
			return &snap->ents[i];
	return NULL;
}

/* ---- single entries ---- */

struct stat_one {
	const char *path;
	struct ftp_entry e;
	char line[FTP_LINE_MAX + 1];
};

static int stat_one_fn(struct ftp_conn *c, void *arg)
{
	struct stat_one *op = arg;

	return ftp_op_stat_one(c, op->path, &op->e, op->line, sizeof(op->line));
}

/*
 * @name in @parent, whose listing the server refuses (a write-only "drop
 * box"): asked on its own, so that files can be created there (the
 * kernel looks the name up first) and known names opened.
 */
static int stat_unlisted(struct fs_ctx *ctx, uint64_t parent, const char *name,
			 struct stat *attr, uint64_t *gen)
{
	struct stat_one *op = malloc(sizeof(*op));
	char *path = malloc(FS_PATH_MAX);
	int ret = op && path ? 0 : -ENOMEM;

	if (gen)
		*gen = itab_generation(ctx->itab);
	if (ret == 0)
		ret = itab_child_path(ctx->itab, parent, name, path,
				      FS_PATH_MAX);
	if (ret == 0) {
		op->path = path;
		ret = fs_with_conn(ctx, stat_one_fn, op);
	}
	if (ret == 0)
		fs_entry_to_stat(ctx, &op->e, attr);
	free(op);
	free(path);
	return ret;
}

int fs_stat_remote(struct fs_ctx *ctx, uint64_t parent, const char *name,
		   struct stat *attr, char *link, size_t linksz, uint64_t *gen)
{
	struct itab_snapshot *snap = NULL;
	const struct itab_dirent *d;
	int ret;

	/*
	 * One listing of the parent, not MLST: it answers the lookups of
	 * the directory's other entries too (programs rarely stat just one
	 * name), and MLST describes a symlink as its target on ProFTPD.
	 */
	link[0] = '\0';
	ret = fs_fetch_listing(ctx, parent, false, &snap);
	if (ret == -EACCES || ret == -EPERM)
		return stat_unlisted(ctx, parent, name, attr, gen);
	if (ret < 0)
		return ret;
	if (gen)
		*gen = snap->gen;
	d = fs_snapshot_find(snap, name);
	if (!d) {
		ret = -ENOENT;
	} else {
		itab_snapshot_stat(snap, d, 0, attr);
		if (d->link_target)
			snprintf(link, linksz, "%s", d->link_target);
	}
	itab_snapshot_free(snap);
	return ret;
}
