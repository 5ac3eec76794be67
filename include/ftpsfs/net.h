/*
 * net.h - TCP sockets with deadlines.
 *
 * Every socket is non-blocking; every wait is bounded by an absolute
 * deadline on the monotonic clock (milliseconds, see net_now_ms()), so no
 * call here can block for longer than its caller allows.
 */
#ifndef FTPSFS_NET_H
#define FTPSFS_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t net_now_ms(void);

/* Deadline @ms_from_now milliseconds from now. */
int64_t net_deadline(int ms_from_now);

/*
 * Wait until @fd is ready for @events (POLLIN/POLLOUT) or @deadline (or
 * this thread's operation deadline, net_set_op_deadline()) passes.
 * Returns 0 when ready, -ETIMEDOUT, -EINTR when this thread's cancel flag
 * (net_set_cancel()) is set, or another negative errno.
 */
int net_wait(int fd, short events, int64_t deadline);

/* Sleep @ms milliseconds.  Returns 0, or -EINTR once this thread's cancel
 * flag is set. */
int net_sleep(int ms);

/*
 * Make every wait of the calling thread return -EINTR once *@flag is
 * non-zero (checked at least every 100 ms); NULL turns it off.  Used for
 * FUSE interrupts: a program killed in the middle of a read.  Returns the
 * flag set before, to put back after work done on another's behalf.
 */
volatile int *net_set_cancel(volatile int *flag);

/* True when this thread's cancel flag is set (see net_set_cancel()). */
bool net_cancelled(void);

/*
 * A flag that ends only the calling thread's waits for a connection (the
 * pool's: a server that is away), not its waits for the server's replies:
 * for operations that must not be cut between a command and its reply.
 * NULL turns it off.  Returns the flag set before.
 */
volatile int *net_set_wait_cancel(volatile int *flag);

/* True when this thread's cancel flag or wait-cancel flag is set. */
bool net_wait_cancelled(void);

/*
 * The calling thread's operation deadline (op_timeout): every wait of
 * the thread also ends, with -ETIMEDOUT, at @deadline (net_now_ms()
 * clock), whatever the deadline it was given; 0 turns it off.  A hostile
 * server answering each reply just inside its own limit still cannot
 * stretch one operation beyond it.  Returns the deadline set before (0:
 * none), to put back when the operation ends.
 */
int64_t net_set_op_deadline(int64_t deadline);

/* This thread's operation deadline, 0 if none. */
int64_t net_op_deadline(void);

/* True once this thread's operation deadline has passed. */
bool net_op_expired(void);

/* @deadline, or this thread's operation deadline if that comes first. */
int64_t net_bound(int64_t deadline);

/*
 * Resolve @host and connect to @port, trying each address in turn until
 * @deadline.  On success returns 0, stores the connected non-blocking socket
 * (TCP_NODELAY set) in *fd_out and the peer address in *peer and *peerlen.
 * Returns -ENOENT (name does not resolve), -ECONNREFUSED, -ETIMEDOUT or
 * another negative errno of the last address tried.
 */
int net_connect_host(const char *host, uint16_t port, int64_t deadline,
		     int *fd_out, struct sockaddr_storage *peer,
		     socklen_t *peerlen);

/*
 * Connect to the address @peer with its port replaced by @port (used for
 * passive data connections: always the control connection's peer).
 * Returns 0 and the socket in *fd_out, or a negative errno.
 */
int net_connect_peer_port(const struct sockaddr_storage *peer,
			  socklen_t peerlen, uint16_t port, int64_t deadline,
			  int *fd_out);

/*
 * Listen for one connection on the local address of the connected socket
 * @ctrl_fd, on a free port (active-mode data connections: the address the
 * server reached us on is the one it can reach again).  Returns 0, the
 * listening socket in *lfd and its address in *addr, or a negative errno.
 */
int net_listen_beside(int ctrl_fd, int *lfd, struct sockaddr_storage *addr);

/*
 * Accept on @lfd a connection from @peer's address (any port) until
 * @deadline.  Connections from any other address are closed and counted
 * in *strangers: whoever reaches the port first must not become our data
 * connection.  Returns 0 and the socket (non-blocking, TCP_NODELAY) in
 * *fd_out, or a negative errno (-ETIMEDOUT: the server never came).
 */
int net_accept_from(int lfd, const struct sockaddr_storage *peer,
		    int64_t deadline, int *fd_out, unsigned *strangers);

#endif
