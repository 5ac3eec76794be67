/*
 * fs_refresh.c - SIGUSR1: forget what is cached about the server, in
 * ftpsfs and in the kernel, so that the next access asks the server.
 *
 * FTP cannot tell a client that another one changed a file; the caches
 * (attr_timeout, dir_timeout) bound how long such a change stays unseen.
 * A user who knows something changed can say so:
 *	kill -USR1 $(pgrep -f 'ftpsfs .* /mnt')
 * Files with pending writes keep their attributes (ours are newer).  The
 * kernel's negative entries ("no such file") are not reachable this way
 * and expire after negative_timeout.
 *
 * The same thread tells the kernel about single entries that other parts
 * learnt are stale (fs_refresh_kernel(): a directory the server says is
 * gone, setfattr user.ftpsfs.refresh, -o poll).  The kernel must hear it
 * from a thread that serves no request: a notification can wait for the
 * lock of a directory that the request being served holds (libfuse,
 * fuse_lowlevel_notify_inval_entry()).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpsfs/fs.h"
#include "ftpsfs/fs_refresh.h"
#include "ftpsfs/inode.h"
#include "ftpsfs/log.h"

static int refresh_pipe[2] = { -1, -1 };

static void refresh_on_signal(int sig)
{
	int saved = errno;
	char c = 'r';

	(void)sig;
	/* async-signal-safe; a full pipe already holds a request */
	(void)!write(refresh_pipe[1], &c, 1);
	errno = saved;
}

/* Entries queued for the kernel (a name each: a few MB at most); beyond
 * this, the whole cache is refreshed instead (nothing is lost, more is
 * asked again). */
#define REFRESH_QUEUE_MAX 65536

struct fs_refresh {
	struct fs_ctx *ctx;
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;	 /* a leaf: guards the queue below */
	struct itab_name *queue; /* lock; ino, parent, name (owned) */
	size_t queued;		 /* lock */
	bool overflow;		 /* lock: the queue was full */
};

/* Tell the kernel to drop what it caches of these entries.  Without any
 * lock of ours: the kernel may call us meanwhile. */
static void refresh_tell_kernel(struct fuse_session *se,
				const struct itab_name *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].name && v[i].parent)
			(void)fuse_lowlevel_notify_inval_entry(
				se, v[i].parent, v[i].name, strlen(v[i].name));
		if (v[i].ino)
			(void)fuse_lowlevel_notify_inval_inode(se, v[i].ino, 0,
							       0);
	}
}

static void refresh_now(struct fs_refresh *r)
{
	struct itab_name *v = NULL;
	ssize_t n = itab_expire_all(r->ctx->itab, &v);

	if (n < 0) {
		log_err("refresh: %s", strerror((int)-n));
		return;
	}
	refresh_tell_kernel(r->se, v, (size_t)n);
	itab_names_free(v, (size_t)n);
	log_info("cache refreshed on request: %zd entries will be asked "
		 "for again",
		 n);
}

/* Tell the kernel what was queued (or everything, after an overflow). */
static void refresh_queued(struct fs_refresh *r)
{
	struct itab_name *v;
	size_t n;
	bool overflow;

	pthread_mutex_lock(&r->lock);
	v = r->queue;
	n = r->queued;
	overflow = r->overflow;
	r->queue = NULL;
	r->queued = 0;
	r->overflow = false;
	pthread_mutex_unlock(&r->lock);
	refresh_tell_kernel(r->se, v, n);
	itab_names_free(v, n);
	if (overflow)
		refresh_now(r);
}

static void *refresh_main(void *arg)
{
	struct fs_refresh *r = arg;

	for (;;) {
		char buf[64];
		ssize_t got = read(refresh_pipe[0], buf, sizeof(buf));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || memchr(buf, 'q', (size_t)got))
			break;
		if (memchr(buf, 'r', (size_t)got))
			refresh_now(r);
		refresh_queued(r);
	}
	return NULL;
}

void fs_refresh_kernel(struct fs_ctx *ctx, struct itab_name *v, size_t n)
{
	struct fs_refresh *r = ctx->refresh;
	struct itab_name *q;
	char c = 'n';

	if (!r || n == 0) {
		itab_names_free(v, n);
		return;
	}
	pthread_mutex_lock(&r->lock);
	q = r->queued + n <= REFRESH_QUEUE_MAX
		    ? realloc(r->queue, (r->queued + n) * sizeof(*q))
		    : NULL;
	if (q) {
		memcpy(q + r->queued, v, n * sizeof(*v));
		r->queue = q;
		r->queued += n;
		free(v); /* the names moved to the queue */
		v = NULL;
	} else {
		r->overflow = true;
	}
	pthread_mutex_unlock(&r->lock);
	if (v)
		itab_names_free(v, n);
	(void)!write(refresh_pipe[1], &c, 1);
}

int fs_refresh_start(struct fs_ctx *ctx, struct fuse_session *se,
		     struct fs_refresh **out)
{
	struct fs_refresh *r = calloc(1, sizeof(*r));
	struct sigaction sa = { .sa_handler = refresh_on_signal };
	int ret;

	if (!r)
		return -ENOMEM;
	r->ctx = ctx;
	r->se = se;
	pthread_mutex_init(&r->lock, NULL);
	/* The handler's end never blocks: a full pipe holds a request
	 * already. */
	if (pipe2(refresh_pipe, O_CLOEXEC) < 0 ||
	    fcntl(refresh_pipe[1], F_SETFL, O_NONBLOCK) < 0) {
		ret = -errno;
		if (refresh_pipe[0] >= 0) {
			close(refresh_pipe[0]);
			close(refresh_pipe[1]);
			refresh_pipe[0] = refresh_pipe[1] = -1;
		}
		free(r);
		return ret;
	}
	ret = -pthread_create(&r->thread, NULL, refresh_main, r);
	if (ret < 0) {
		close(refresh_pipe[0]);
		close(refresh_pipe[1]);
		free(r);
		return ret;
	}
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	ctx->refresh = r;
	*out = r;
	return 0;
}

void fs_refresh_stop(struct fs_refresh *r)
{
	char c = 'q';

	if (!r)
		return;
	signal(SIGUSR1, SIG_IGN);
	(void)!write(refresh_pipe[1], &c, 1);
	pthread_join(r->thread, NULL);
	r->ctx->refresh = NULL;
	itab_names_free(r->queue, r->queued);
	pthread_mutex_destroy(&r->lock);
	close(refresh_pipe[0]);
	close(refresh_pipe[1]);
	refresh_pipe[0] = refresh_pipe[1] = -1;
	free(r);
}
