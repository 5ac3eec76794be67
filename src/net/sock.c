/*
 * sock.c - non-blocking TCP connect and bounded waits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"

int64_t net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t net_deadline(int ms_from_now)
{
	return net_now_ms() + ms_from_now;
}

/* Per thread: set while a FUSE request that may be interrupted runs. */
static __thread volatile int *net_cancel;

volatile int *net_set_cancel(volatile int *flag)
{
	volatile int *before = net_cancel;

	net_cancel = flag;
	return before;
}

bool net_cancelled(void)
{
	return net_cancel && *net_cancel;
}

/* Per thread: set while a request whose commands must not be cut waits
 * for a connection (see net.h). */
static __thread volatile int *net_wait_cancel;

volatile int *net_set_wait_cancel(volatile int *flag)
{
	volatile int *before = net_wait_cancel;

	net_wait_cancel = flag;
	return before;
}

bool net_wait_cancelled(void)
{
	return net_cancelled() || (net_wait_cancel && *net_wait_cancel);
}

/* Per thread: when the operation this thread works for must end (0: no
 * limit but each wait's own). */
static __thread int64_t net_op_end;

int64_t net_set_op_deadline(int64_t deadline)
{
	int64_t before = net_op_end;

	net_op_end = deadline;
	return before;
}

int64_t net_op_deadline(void)
{
	return net_op_end;
}

bool net_op_expired(void)
{
	return net_op_end && net_now_ms() >= net_op_end;
}

int64_t net_bound(int64_t deadline)
{
	return net_op_end && net_op_end < deadline ? net_op_end : deadline;
}

int net_wait(int fd, short events, int64_t deadline)
{
	deadline = net_bound(deadline);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = deadline - net_now_ms();
		int n;

		if (net_cancel && *net_cancel)
			return -EINTR;
		if (left <= 0)
			return -ETIMEDOUT;
		if (left > 60000)
			left = 60000;
		if (net_cancel && left > 100)
			left = 100; /* look at the flag again soon */
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			/* also on POLLERR/POLLHUP: the I/O call reports it */
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int net_sleep(int ms)
{
	/* poll() ignores a negative fd: only the clock and the flag count. */
	int ret = net_wait(-1, 0, net_deadline(ms));

	return ret == -ETIMEDOUT ? 0 : ret;
}

static int net_connect_addr(const struct sockaddr *sa, socklen_t salen,
			    int64_t deadline, int *fd_out)
{
	int fd, err, one = 1;
	socklen_t errlen = sizeof(err);

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	/* Nagle + delayed ACK costs 15-45 ms per small command (SERVERS.md). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	stats_round_trip(); /* SYN, SYN-ACK */
	if (connect(fd, sa, salen) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto fail;
		}
		err = net_wait(fd, POLLOUT, deadline);
		if (err < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0) {
			err = -errno;
			goto fail;
		}
		if (err) {
			err = -err;
			goto fail;
		}
	}
	*fd_out = fd;
	return 0;

fail:
	close(fd);
	return err;
}

int net_connect_host(const char *host, uint16_t port, int64_t deadline,
		     int *fd_out, struct sockaddr_storage *peer,
		     socklen_t *peerlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	char portstr[8];
	int err = -ENOENT;

	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	/* getaddrinfo() has no timeout of its own; the resolver's applies. */
	if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res) {
		/* AI_ADDRCONFIG hides ::1/127.0.0.1 when only lo is up. */
		hints.ai_flags = AI_NUMERICSERV;
		if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res)
			return -ENOENT;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		err = net_connect_addr(ai->ai_addr, ai->ai_addrlen, deadline,
				       fd_out);
		if (err == 0) {
			memcpy(peer, ai->ai_addr, ai->ai_addrlen);
			*peerlen = ai->ai_addrlen;
			break;
		}
		if (err == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return err;
}

int net_connect_peer_port(const struct sockaddr_storage *peer,
			  socklen_t peerlen, uint16_t port, int64_t deadline,
			  int *fd_out)
{
	struct sockaddr_storage sa;

	memcpy(&sa, peer, peerlen);
	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = htons(port);
	else if (sa.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
	else
		return -EAFNOSUPPORT;
	return net_connect_addr((struct sockaddr *)&sa, peerlen, deadline,
				fd_out);
}

int net_listen_beside(int ctrl_fd, int *lfd, struct sockaddr_storage *addr)
{
	socklen_t len = sizeof(*addr);
	int fd, ret;

	if (getsockname(ctrl_fd, (struct sockaddr *)addr, &len) < 0)
		return -errno;
	if (addr->ss_family == AF_INET)
		((struct sockaddr_in *)addr)->sin_port = 0;
	else if (addr->ss_family == AF_INET6)
		((struct sockaddr_in6 *)addr)->sin6_port = 0;
	else
		return -EAFNOSUPPORT;
	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)addr, len) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*lfd = fd;
	return 0;
}

/* Do @a and @b hold the same IP address (ports not compared)? */
static bool net_same_ip(const struct sockaddr_storage *a,
			const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

int net_accept_from(int lfd, const struct sockaddr_storage *peer,
		    int64_t deadline, int *fd_out, unsigned *strangers)
{
	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		int one = 1, fd, ret;

		ret = net_wait(lfd, POLLIN, deadline);
		if (ret < 0)
			return ret;
		fd = accept4(lfd, (struct sockaddr *)&from, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				continue;
			return -errno;
		}
		if (!net_same_ip(&from, peer)) {
			close(fd);
			(*strangers)++;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		*fd_out = fd;
		return 0;
	}
}
