/*
 * tls_internal.h - state shared by the files of the tls module only.
 */
#ifndef FTPSFS_TLS_INTERNAL_H
#define FTPSFS_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <pthread.h>

#include "ftpsfs/tls.h"

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	enum tls_verify verify;
	/*
	 * The pin.  Fixed at creation, except in TOFU mode without a
	 * recorded pin, where the first control handshake sets it once;
	 * connections of the pool's threads read it meanwhile, hence the
	 * lock (held only for the comparison and that first recording).
	 */
	pthread_mutex_t pin_lock;
	bool have_pin;		      /* pin_lock */
	uint8_t pin[FINGERPRINT_LEN]; /* pin_lock */
	char pin_origin[512];
	tls_first_use_fn first_use;
	void *first_use_arg;
	tls_peer_fn on_peer; /* --probe: see tls_settings */
	void *on_peer_arg;
};

/*
 * One TLS connection (or, with ssl == NULL, a plaintext one: see
 * tls_conn_plain()).  Used by one thread at a time: the thread that owns
 * the FTP connection it belongs to, so no lock is needed.
 */
struct tls_conn {
	SSL *ssl;
	int fd;
	bool is_control;
	bool fatal;	     /* a fatal TLS error: never SSL_shutdown() */
	SSL_SESSION *latest; /* control only: newest session issued on it */
	char host[256];	     /* verified name, reused for data connections */
	bool host_is_ip;
	bool cert_requested; /* the server asked for a client certificate
			      * and we had none (tls_on_cert_request) */
	char error[200];     /* the last fatal TLS error, for messages */
};

/*
 * OpenSSL's reason for error @e into @buf, with a hint when the peer's
 * alert is about our client certificate.
 */
void tls_error_text(unsigned long e, char *buf, size_t bufsz);

/* Wait for what SSL_get_error(@ret) asks; 1 = retry, else a result. */
int tls_wait_io(struct tls_conn *c, int ret, int64_t deadline);

/* tls_pin.c */

/*
 * After a completed handshake of @c: is the server the one we trust?
 * CA mode: OpenSSL has checked chain and name; NONE: anything.  PIN and
 * TOFU: the certificate's or its public key's SHA-256 must equal the pin
 * (TOFU learns it on the first control connection).  Every mode requires
 * a certificate.  Returns 0, or -EPERM with the reason in @err.
 */
int tls_check_identity(struct tls_ctx *t, struct tls_conn *c, char *err,
		       size_t errsz);

/*
 * A handshake failed with verify result @vr (not X509_V_OK): the reason,
 * the server's public key fingerprint if the certificate arrived, and
 * how to pin it, into @err.
 */
void tls_describe_verify_failure(SSL *ssl, long vr, char *err, size_t errsz);

/* The server's certificate, also after a failed verification (when
 * OpenSSL has not stored it as the peer certificate yet), or NULL. */
X509 *tls_leaf(SSL *ssl);

/* SHA-256 of @x (DER) into @cert and of its public key into @spki.
 * 0 or -EIO. */
int tls_cert_digests(X509 *x, uint8_t cert[FINGERPRINT_LEN],
		     uint8_t spki[FINGERPRINT_LEN]);

/* tls_peer.c */

/*
 * --probe: describe the handshake of control connection @c (completed if
 * @handshake_ok; @err the failure, NULL if none) to t->on_peer.
 */
void tls_peer_report(struct tls_ctx *t, struct tls_conn *c, bool handshake_ok,
		     const char *err);

#endif
