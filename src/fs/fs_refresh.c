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

struct fs_refresh {
	struct fs_ctx *ctx;
	struct fuse_session *se;
	pthread_t thread;
};

static void refresh_now(struct fs_refresh *r)
{
	struct itab_name *v = NULL;
	ssize_t n = itab_expire_all(r->ctx->itab, &v);

	if (n < 0) {
		log_err("refresh: %s", strerror((int)-n));
		return;
	}
	/* Without any lock of ours: the kernel may call us meanwhile. */
	for (ssize_t i = 0; i < n; i++) {
		if (v[i].name && v[i].parent)
			(void)fuse_lowlevel_notify_inval_entry(
				r->se, v[i].parent, v[i].name,
				strlen(v[i].name));
		(void)fuse_lowlevel_notify_inval_inode(r->se, v[i].ino, 0, 0);
	}
	itab_names_free(v, (size_t)n);
	log_info("cache refreshed on request: %zd entries will be asked "
		 "for again", n);
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
		refresh_now(r);
	}
	return NULL;
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
	close(refresh_pipe[0]);
	close(refresh_pipe[1]);
	refresh_pipe[0] = refresh_pipe[1] = -1;
	free(r);
}
