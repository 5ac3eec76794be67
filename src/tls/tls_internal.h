/*
 * tls_internal.h - state shared by the files of the tls module only.
 */
#ifndef FTPSFS_TLS_INTERNAL_H
#define FTPSFS_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "ftpsfs/tls.h"

struct tls_ctx {
	SSL_CTX *ssl_ctx;
};

/*
 * One TLS connection.  Used by one thread at a time: the thread that owns
 * the FTP connection it belongs to, so no lock is needed.
 */
struct tls_conn {
	SSL *ssl;
	int fd;
	bool is_control;
	bool fatal;	      /* a fatal TLS error: never SSL_shutdown() */
	SSL_SESSION *latest;  /* control only: newest session issued on it */
	char host[256];	      /* verified name, reused for data connections */
	bool host_is_ip;
};

/* Wait for what SSL_get_error(@ret) asks; 1 = retry, else a result. */
int tls_wait_io(struct tls_conn *c, int ret, int64_t deadline);

#endif
