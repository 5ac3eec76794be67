/*
 * tls.h - TLS for control and data connections (OpenSSL 3).
 *
 * One tls_ctx (one SSL_CTX) serves every connection of the mount, so that
 * control and data connections offer the same versions, ciphers and
 * options: a data connection can only resume a session negotiated with the
 * same parameters (docs/DESIGN.md 4, TLS point 1).
 *
 * Session rule (docs/DESIGN.md 4, TLS point 2): each control
 * connection remembers the LATEST session issued on it - in TLS 1.3 tickets
 * arrive after the handshake, while replies are read - and every data
 * connection resumes exactly that session.  Sessions are never shared
 * between control connections, and tickets that arrive on data connections
 * never replace the control connection's session.
 *
 * All I/O is non-blocking with absolute deadlines (net.h).
 */
#ifndef FTPSFS_TLS_H
#define FTPSFS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ftpsfs/fingerprint.h"

struct secret;
struct tls_ctx;
struct tls_conn;

/*
 * How the server proves its identity (docs/DESIGN.md 4, TLS point 1; 6).  In
 * every mode the control connection is checked right after its handshake,
 * before any byte of FTP is sent over it, and a data connection that was
 * not resumed must present the very certificate of its control
 * connection.
 */
enum tls_verify {
	TLS_VERIFY_CA,	 /* chain to a trusted CA + host name (default) */
	TLS_VERIFY_PIN,	 /* SHA-256 of the certificate or of its public key
			  * equals a pin; no CA, no host name, no expiry */
	TLS_VERIFY_TOFU, /* as PIN, the pin learned on first use */
	TLS_VERIFY_NONE, /* no_verify: any certificate */
};

/*
 * TOFU without a recorded pin: called once, for the first control
 * connection that completes a handshake, with the SHA-256 of the server's
 * public key (SubjectPublicKeyInfo, DER).  Return 0 to trust it (it then
 * becomes the pin for every later connection), or a negative errno with
 * a message in @err to refuse.  Runs under the context's lock.
 */
typedef int (*tls_first_use_fn)(void *arg,
				const uint8_t spki_sha256[FINGERPRINT_LEN],
				char *err, size_t errsz);

/*
 * What a control connection's TLS handshake showed of the server, for
 * ftpsfs --probe (tls_settings.on_peer).  Every string is NUL-terminated
 * printable ASCII: whatever the certificate holds outside that is escaped
 * (\xHH, or RFC 2253's \HH in names), so it can be printed as it is.
 */
#define TLS_PEER_CHAIN_MAX 8

struct tls_peer_cert {
	char subject[256]; /* RFC 2253 */
	char issuer[256];
	char not_before[32]; /* "2024-01-31 12:00:00 UTC" */
	char not_after[32];
	bool expired, not_yet_valid;
	char names[512]; /* subjectAltName: "DNS:a, IP:127.0.0.1" */
};

struct tls_peer_info {
	bool handshake_ok; /* the TLS handshake completed */
	bool identity_ok;  /* ... and the server is the one we trust */
	char error[512];   /* why not, as the connection reports it */
	char version[16];  /* "TLSv1.3"; "" before the ServerHello */
	char cipher[64];
	unsigned chain_len;  /* certificates in chain[], leaf first ... */
	unsigned chain_sent; /* ... of this many the server sent */
	struct tls_peer_cert chain[TLS_PEER_CHAIN_MAX];
	bool have_leaf; /* the digests below are set */
	uint8_t cert_sha256[FINGERPRINT_LEN];
	uint8_t spki_sha256[FINGERPRINT_LEN];
	/* OpenSSL's verification of the chain against the CA store; only
	 * meaningful in TLS_VERIFY_CA mode (the others load no CAs). */
	bool chain_ok;
	char chain_error[128];
	/* Whether the leaf names the host we connected to (as a DNS name,
	 * or as an IP address for an IP literal), whatever the mode. */
	bool name_ok;
};

/* Called once per control connection handshake (also a failed one) with
 * what it showed; @info lives only for the call. */
typedef void (*tls_peer_fn)(void *arg, const struct tls_peer_info *info);

struct tls_settings {
	const char *cafile;	  /* NULL: system trust store */
	const char *capath;	  /* NULL: none */
	int max_version;	  /* 0 (library maximum) or TLS1_2_VERSION... */
	const char *ciphers;	  /* TLS 1.2 cipher list; NULL: OpenSSL's */
	const char *ciphersuites; /* TLS 1.3 suites; NULL: OpenSSL's */
	enum tls_verify verify;
	bool have_pin;		      /* PIN; TOFU with a recorded pin */
	uint8_t pin[FINGERPRINT_LEN]; /* certificate or key hash */
	const char *pin_origin;	      /* for messages: "-o fingerprint",
				       * "FILE line N" */
	tls_first_use_fn first_use;   /* TOFU without a recorded pin */
	void *first_use_arg;
	const char *cert_file;		   /* client certificate chain (PEM) */
	const char *key_file;		   /* its key (PEM); NULL: cert_file */
	const struct secret *key_password; /* for an encrypted key, or NULL */
	/* ftpsfs --probe only: told what each control handshake showed. */
	tls_peer_fn on_peer;
	void *on_peer_arg;
};

/*
 * Create the shared context.  Returns 0 and *out, or -EINVAL with a
 * message in @err (an unreadable CA file, a client key that does not
 * load or match its certificate, a cipher list with no usable cipher).
 * @s->key_password is used only inside this call.
 */
int tls_ctx_new(const struct tls_settings *s, struct tls_ctx **out, char *err,
		size_t errsz);
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * Whether the PEM private key in @key_file is encrypted (needs a
 * passphrase).  Returns 0 with *encrypted, or a negative errno with a
 * message in @err (unreadable file, no private key in it).
 */
int tls_key_file_encrypted(const char *key_file, bool *encrypted, char *err,
			   size_t errsz);

/*
 * Handshake as a client on the connected socket @fd for a control
 * connection to @host (checked as an IP address when @host_is_ip, else as
 * a DNS name, and sent as SNI), then check the server's identity as the
 * context's mode says.  The tls_conn takes ownership of @fd (closed by
 * tls_conn_free(), also on failure).  Returns 0 and *out, or a negative
 * errno with the reason in @err: -EPERM when the server's identity is not
 * proved (the message names the reason and the server's public key
 * fingerprint), -ETIMEDOUT, -ECONNRESET, -EPROTO.
 */
int tls_conn_client_control(struct tls_ctx *ctx, int fd, const char *host,
			    bool host_is_ip, int64_t deadline,
			    struct tls_conn **out, char *err, size_t errsz);

/*
 * Handshake a data connection on @fd that resumes @control's latest
 * session, with the same host name.  Takes ownership of @fd.  On success
 * *out is set and *resumed tells whether the server accepted the session;
 * a connection that was not resumed is still checked to present the very
 * certificate of the control connection (else -EPERM).  Returns 0 or a
 * negative errno with the reason in @err.
 */
int tls_conn_client_data(struct tls_ctx *ctx, int fd, struct tls_conn *control,
			 int64_t deadline, struct tls_conn **out, bool *resumed,
			 char *err, size_t errsz);

/*
 * ftpsfs --probe only, never on a mount's path: like
 * tls_conn_client_data() but offering NO session, so that the probe can
 * see whether the server enforces resumption (vsftpd 522, ProFTPD 425,
 * FileZilla Server 450).  The certificate checks are the same.
 */
int tls_conn_client_data_unresumed(struct tls_ctx *ctx, int fd,
				   struct tls_conn *control, int64_t deadline,
				   struct tls_conn **out, bool *resumed,
				   char *err, size_t errsz);

/*
 * allow_plaintext, after the server refused AUTH TLS: the same interface
 * over the bare socket @fd (owned from now on), so that the FTP layer
 * needs no second code path.  Reads end with 0 at EOF (plaintext has no
 * close_notify: the FTP reply is the only proof of completeness).
 * Returns 0 or -ENOMEM (@fd closed).
 */
int tls_conn_plain(int fd, struct tls_conn **out);

/* True for a connection made by tls_conn_plain(). */
bool tls_conn_is_plain(const struct tls_conn *c);

/*
 * AUTH TLS: take the socket back out of the plaintext connection @c (to
 * hand it to tls_conn_client_control()) and free @c.  Returns the socket.
 */
int tls_conn_plain_release(struct tls_conn *c);

/* True if @control holds a resumable session (TLS 1.3: a ticket arrived). */
bool tls_conn_has_session(const struct tls_conn *control);

/*
 * Read up to @len bytes.  Returns the count (> 0), 0 when the peer closed
 * with close_notify, -ECONNRESET when the stream ended WITHOUT close_notify
 * (possible truncation), -ETIMEDOUT, -EPROTO on a TLS error.
 */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len,
		      int64_t deadline);

/* Write all of @buf.  Returns 0 or a negative errno. */
int tls_conn_write_all(struct tls_conn *c, const void *buf, size_t len,
		       int64_t deadline);

/*
 * Send close_notify.  With @drain, then read and discard until the peer's
 * close_notify, EOF or @deadline (consumes a late TLS 1.3 ticket so that
 * close() cannot turn into a RST that cuts an upload's tail,
 * docs/DESIGN.md 4, TLS point 4).  Returns 0, or a negative errno (only
 * informative: the caller decides from the FTP reply).
 */
int tls_conn_shutdown(struct tls_conn *c, bool drain, int64_t deadline);

/* Free the SSL object and close the socket. */
void tls_conn_free(struct tls_conn *c);

/* What a connection refused for want of a client certificate says. */
#define TLS_CERT_REQUESTED_MSG                                                 \
	"the server asked for a client certificate and none was given "        \
	"(-o cert=FILE, key=FILE)"

/*
 * Did the server ask for a client certificate that we did not have (no
 * cert= given)?  Known once the handshake is done: with TLS 1.3 the
 * refusal itself comes later and may be lost to a reset.
 */
bool tls_conn_cert_requested(const struct tls_conn *c);

/*
 * What the last fatal TLS error on @c was (OpenSSL's reason, with a hint
 * when it is about certificates), or "" if there was none.
 */
const char *tls_conn_error(const struct tls_conn *c);

/* Negotiated protocol name, e.g. "TLSv1.3"; "plaintext" if not TLS. */
const char *tls_conn_version(const struct tls_conn *c);

/* True if decrypted bytes are buffered, unread. */
bool tls_conn_pending(const struct tls_conn *c);

/* The socket (for polling). */
int tls_conn_fd(const struct tls_conn *c);

#endif
