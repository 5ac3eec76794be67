/*
 * tls_ctx.c - the shared SSL_CTX, peer verification and session capture.
 *
 * Follows the recipe of docs/DESIGN.md 4 (TLS session resumption): one SSL_CTX
 * for all connections; client session caching with a new-session callback (the
 * callback only runs when client caching is on) that keeps the newest
 * session of each CONTROL connection; data connections set that session,
 * handshake after the 1xx reply, and check SSL_session_reused().
 *
 * The server's identity is checked in tls_pin.c right after each
 * handshake; here the context is set up for the chosen mode: CA mode lets
 * OpenSSL verify chain and host name (SSL_VERIFY_PEER aborts the
 * handshake), the other modes take any chain (SSL_VERIFY_NONE) and rely
 * on the post-handshake pin check, which runs before the caller sends
 * anything.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpsfs/net.h"
#include "ftpsfs/secret.h"
#include "ftpsfs/stats.h"
#include "tls_internal.h"

/*
 * Keep the latest session of a control connection.  In TLS 1.3 this runs
 * once per NewSessionTicket, inside SSL_read() of a reply; in TLS 1.2
 * inside the handshake.  Tickets on data connections (vsftpd sends one per
 * resumed data handshake) are ignored: returning 0 lets OpenSSL free them.
 */
static int tls_on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *c = SSL_get_app_data(ssl);

	if (!c || !c->is_control)
		return 0;
	SSL_SESSION_free(c->latest);
	c->latest = sess;
	return 1;
}

/*
 * The server sent a CertificateRequest and no client certificate is
 * configured (OpenSSL asks only then).  Remember it: with TLS 1.3 the
 * server's refusal comes after the handshake, as an alert that a reset
 * may well swallow, and "the server wants a certificate" is the one thing
 * the user needs to hear.  Returning 0 sends no certificate.
 */
static int tls_on_cert_request(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
	struct tls_conn *c = SSL_get_app_data(ssl);

	(void)x509;
	(void)pkey;
	if (c)
		c->cert_requested = true;
	return 0;
}

/* OpenSSL asks for the client key's passphrase: hand over the secret. */
static int tls_key_password_cb(char *buf, int size, int rwflag, void *u)
{
	const struct secret *pw = u;

	(void)rwflag;
	if (!pw || !pw->value || pw->len > (size_t)size)
		return -1;
	memcpy(buf, pw->value, pw->len);
	return (int)pw->len;
}

static void tls_openssl_reason(char *buf, size_t bufsz)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, bufsz, "%s", r ? r : "unknown error");
}

/* Client certificate authentication (vsftpd require_cert): the same
 * certificate on every connection, data ones included. */
static int tls_ctx_client_cert(SSL_CTX *ctx, const struct tls_settings *s,
			       char *err, size_t errsz)
{
	const char *key = s->key_file ? s->key_file : s->cert_file;
	char why[128];
	int ok;

	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, s->cert_file) != 1) {
		tls_openssl_reason(why, sizeof(why));
		snprintf(err, errsz, "cannot load client certificate %s: %s",
			 s->cert_file, why);
		return -EINVAL;
	}
	SSL_CTX_set_default_passwd_cb(ctx, tls_key_password_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)s->key_password);
	ok = SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM);
	/* The passphrase is needed only here: forget where it lives. */
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	SSL_CTX_set_default_passwd_cb(ctx, NULL);
	if (ok != 1) {
		tls_openssl_reason(why, sizeof(why));
		snprintf(err, errsz, "cannot load client key %s: %s%s", key,
			 why, s->key_password ? " (wrong passphrase?)" : "");
		return -EINVAL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errsz,
			 "client key %s does not belong to certificate %s", key,
			 s->cert_file);
		return -EINVAL;
	}
	return 0;
}

/* Why the CA file or directory @path was not loaded: the system's reason
 * when it cannot be read (a typo, permissions: access(@mode)), else
 * OpenSSL's. */
static void tls_ca_reason(const char *path, int mode, char *buf, size_t bufsz)
{
	if (access(path, mode) < 0)
		snprintf(buf, bufsz, "%s", strerror(errno));
	else
		tls_openssl_reason(buf, bufsz);
}

static int tls_ctx_trust(SSL_CTX *ctx, const struct tls_settings *s, char *err,
			 size_t errsz)
{
	char why[128];

	if (s->verify != TLS_VERIFY_CA) {
		/* The pin (or nothing, with no_verify) is the identity:
		 * the chain is not checked, see tls_pin.c. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (s->cafile || s->capath) {
		ERR_clear_error();
		if (s->cafile && !SSL_CTX_load_verify_file(ctx, s->cafile)) {
			tls_ca_reason(s->cafile, R_OK, why, sizeof(why));
			snprintf(err, errsz, "cannot load CA file %s: %s",
				 s->cafile, why);
			return -EINVAL;
		}
		/* OpenSSL reads the directory only when it verifies: check
		 * now that it can. */
		if (s->capath && (access(s->capath, R_OK | X_OK) < 0 ||
				  !SSL_CTX_load_verify_dir(ctx, s->capath))) {
			tls_ca_reason(s->capath, R_OK | X_OK, why, sizeof(why));
			snprintf(err, errsz, "cannot load CA directory %s: %s",
				 s->capath, why);
			return -EINVAL;
		}
	} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
		snprintf(err, errsz, "cannot load the system CA store");
		return -EINVAL;
	}
	return 0;
}

int tls_ctx_new(const struct tls_settings *s, struct tls_ctx **out, char *err,
		size_t errsz)
{
	struct tls_ctx *t = calloc(1, sizeof(*t));
	SSL_CTX *ctx = NULL;

	if (!t)
		return -ENOMEM;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		goto fail_msg;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (s->max_version)
		SSL_CTX_set_max_proto_version(ctx, s->max_version);
	/*
	 * No TLS 1.2 session tickets: resume by session ID, which every FTP
	 * server supports and ProFTPD compares (docs/DESIGN.md 4, TLS point 1).
	 * Has no effect on TLS 1.3 tickets.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
	/* vsftpd and Pure-FTPd offer only P-256: a key share for it first
	 * saves a HelloRetryRequest round trip per connection. */
	SSL_CTX_set1_groups_list(ctx, "P-256:X25519:P-384:P-521");
	/* Once, on the context: control and data must offer the same
	 * (docs/DESIGN.md 4, TLS point 1). */
	if (s->ciphers && !SSL_CTX_set_cipher_list(ctx, s->ciphers)) {
		snprintf(err, errsz, "ciphers=%s: no usable TLS 1.2 cipher",
			 s->ciphers);
		goto fail;
	}
	if (s->ciphersuites &&
	    !SSL_CTX_set_ciphersuites(ctx, s->ciphersuites)) {
		snprintf(err, errsz, "tls13_ciphersuites=%s: not a valid list",
			 s->ciphersuites);
		goto fail;
	}
	if (tls_ctx_trust(ctx, s, err, errsz) < 0)
		goto fail;
	if (s->cert_file && tls_ctx_client_cert(ctx, s, err, errsz) < 0)
		goto fail;
	if (!s->cert_file)
		SSL_CTX_set_client_cert_cb(ctx, tls_on_cert_request);

	SSL_CTX_set_session_cache_mode(
		ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tls_on_new_session);

	t->ssl_ctx = ctx;
	t->verify = s->verify;
	pthread_mutex_init(&t->pin_lock, NULL);
	t->have_pin = s->have_pin;
	memcpy(t->pin, s->pin, sizeof(t->pin));
	snprintf(t->pin_origin, sizeof(t->pin_origin), "%s",
		 s->pin_origin ? s->pin_origin : "the pin");
	t->first_use = s->first_use;
	t->first_use_arg = s->first_use_arg;
	t->on_peer = s->on_peer;
	t->on_peer_arg = s->on_peer_arg;
	*out = t;
	return 0;

fail_msg:
	snprintf(err, errsz, "cannot create TLS context: %s",
		 ERR_reason_error_string(ERR_get_error()));
fail:
	SSL_CTX_free(ctx);
	free(t);
	return -EINVAL;
}

/* PEM callback that only notes that a passphrase was asked for. */
static int tls_note_password_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(bool *)u = true;
	return -1;
}

int tls_key_file_encrypted(const char *key_file, bool *encrypted, char *err,
			   size_t errsz)
{
	BIO *bio = BIO_new_file(key_file, "r");
	EVP_PKEY *key;
	bool asked = false;
	char why[128];

	if (!bio) {
		snprintf(err, errsz, "cannot read key file %s", key_file);
		return -ENOENT;
	}
	ERR_clear_error();
	key = PEM_read_bio_PrivateKey(bio, NULL, tls_note_password_cb, &asked);
	BIO_free(bio);
	if (key) {
		EVP_PKEY_free(key);
		*encrypted = false;
		return 0;
	}
	if (asked) {
		ERR_clear_error();
		*encrypted = true;
		return 0;
	}
	tls_openssl_reason(why, sizeof(why));
	snprintf(err, errsz, "no private key in %s: %s", key_file, why);
	ERR_clear_error();
	return -EINVAL;
}

void tls_ctx_free(struct tls_ctx *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ssl_ctx);
	pthread_mutex_destroy(&t->pin_lock);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

/* Host name checks and SNI, identical for control and data.  Outside CA
 * mode the pin is the identity: no name check, but SNI all the same
 * (vsftpd's ssl_sni_hostname refuses a ClientHello without it). */
static int tls_set_peer_name(SSL *ssl, const char *host, bool host_is_ip,
			     bool check_name)
{
	if (!check_name)
		return host_is_ip || SSL_set_tlsext_host_name(ssl, host)
			       ? 0
			       : -EINVAL;
	if (host_is_ip) {
		/* SSL_set1_host() checks DNS names only; IPs need this. */
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host))
			return -EINVAL;
		return 0;
	}
	if (!SSL_set_tlsext_host_name(ssl, host) || !SSL_set1_host(ssl, host))
		return -EINVAL;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return 0;
}

static void tls_describe_failure(SSL *ssl, int ret, char *err, size_t errsz)
{
	long vr = SSL_get_verify_result(ssl);
	unsigned long e = ERR_peek_last_error();

	if (vr != X509_V_OK && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER)) {
		tls_describe_verify_failure(ssl, vr, err, errsz);
	} else if (e) {
		char buf[256];

		tls_error_text(e, buf, sizeof(buf));
		snprintf(err, errsz, "TLS handshake failed: %s", buf);
	} else if (ret == -ETIMEDOUT) {
		snprintf(err, errsz, "TLS handshake timed out");
	} else {
		snprintf(err, errsz,
			 "TLS handshake failed: connection closed by server");
	}
}

/* Say what the server wanted, whatever the transport said after it. */
static void tls_add_cert_hint(char *err, size_t errsz)
{
	size_t len = strlen(err);

	snprintf(err + len, errsz - len, "%s%s", len ? "; " : "",
		 TLS_CERT_REQUESTED_MSG);
}

static int tls_handshake(struct tls_conn *c, int64_t deadline, char *err,
			 size_t errsz)
{
	for (;;) {
		int r, w;

		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		/* Each flight we wait for is a round trip. */
		if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
			stats_round_trip();
		w = tls_wait_io(c, r, deadline);
		if (w == 1)
			continue;
		c->fatal = true;
		tls_describe_failure(c->ssl, w, err, errsz);
		if (c->cert_requested)
			tls_add_cert_hint(err, errsz);
		if (SSL_get_verify_result(c->ssl) != X509_V_OK &&
		    (SSL_get_verify_mode(c->ssl) & SSL_VERIFY_PEER))
			return -EPERM;
		return w < 0 ? w : -EPROTO;
	}
}

static int tls_conn_new(struct tls_ctx *t, int fd, bool is_control,
			const char *host, bool host_is_ip,
			struct tls_conn **out)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->is_control = is_control;
	c->host_is_ip = host_is_ip;
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->ssl = SSL_new(t->ssl_ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, fd) ||
	    tls_set_peer_name(c->ssl, host, host_is_ip,
			      t->verify == TLS_VERIFY_CA) < 0) {
		c->fatal = true;
		tls_conn_free(c);
		return -ENOMEM;
	}
	SSL_set_app_data(c->ssl, c);
	*out = c;
	return 0;
}

int tls_conn_client_control(struct tls_ctx *t, int fd, const char *host,
			    bool host_is_ip, int64_t deadline,
			    struct tls_conn **out, char *err, size_t errsz)
{
	struct tls_conn *c;
	bool handshake_ok;
	int ret;

	ret = tls_conn_new(t, fd, true, host, host_is_ip, &c);
	if (ret < 0) {
		snprintf(err, errsz, "out of memory");
		return ret;
	}
	ret = tls_handshake(c, deadline, err, errsz);
	handshake_ok = ret == 0;
	if (ret == 0)
		ret = tls_check_identity(t, c, err, errsz);
	if (t->on_peer)
		tls_peer_report(t, c, handshake_ok, ret < 0 ? err : NULL);
	if (ret < 0) {
		tls_conn_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

int tls_conn_plain(int fd, struct tls_conn **out)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	*out = c;
	return 0;
}

bool tls_conn_is_plain(const struct tls_conn *c)
{
	return c->ssl == NULL;
}

int tls_conn_plain_release(struct tls_conn *c)
{
	int fd = c->fd;

	c->fd = -1;
	tls_conn_free(c);
	return fd;
}

bool tls_conn_has_session(const struct tls_conn *control)
{
	return control->ssl && control->latest &&
	       SSL_SESSION_is_resumable(control->latest);
}

/* A data connection's handshake, offering @control's session if
 * @offer_session (always, on a mount's path). */
static int tls_data_handshake(struct tls_ctx *t, int fd,
			      struct tls_conn *control, bool offer_session,
			      int64_t deadline, struct tls_conn **out,
			      bool *resumed, char *err, size_t errsz)
{
	struct tls_conn *c;
	int ret;

	if (tls_conn_is_plain(control)) {
		*resumed = true; /* nothing to resume */
		ret = tls_conn_plain(fd, out);
		if (ret < 0)
			snprintf(err, errsz, "out of memory");
		return ret;
	}
	ret = tls_conn_new(t, fd, false, control->host, control->host_is_ip,
			   &c);
	if (ret < 0) {
		snprintf(err, errsz, "out of memory");
		return ret;
	}
	if (offer_session && control->latest) {
		/*
		 * Offer a copy: after a TLS 1.3 resumption OpenSSL removes
		 * the session used from the cache, which marks that very
		 * object not resumable, and the next data connection would
		 * then offer nothing.  The control session must stay
		 * usable for every transfer (docs/DESIGN.md 4, TLS point 3).
		 */
		SSL_SESSION *copy = SSL_SESSION_dup(control->latest);

		if (!copy || !SSL_set_session(c->ssl, copy)) {
			SSL_SESSION_free(copy);
			snprintf(err, errsz, "cannot set the TLS session");
			ret = -ENOMEM;
			goto fail;
		}
		SSL_SESSION_free(copy); /* the SSL keeps its own reference */
	}
	ret = tls_handshake(c, deadline, err, errsz);
	if (ret < 0)
		goto fail;

	*resumed = SSL_session_reused(c->ssl);
	if (!*resumed) {
		/*
		 * A full handshake: the chain and name were verified again,
		 * and the server must also present the very certificate of
		 * the control connection (FileZilla's rule), so that a data
		 * connection is bound to the identity we logged in to.
		 */
		X509 *a = SSL_get1_peer_certificate(control->ssl);
		X509 *b = SSL_get1_peer_certificate(c->ssl);
		bool same = a && b && X509_cmp(a, b) == 0;

		X509_free(a);
		X509_free(b);
		if (!same) {
			snprintf(err, errsz,
				 "data connection presented a different "
				 "certificate than the control connection");
			ret = -EPERM;
			goto fail;
		}
	}
	/* Pin mode: the data connection matches the pin as well (after a
	 * resumption the certificate is the session's: it matches). */
	ret = tls_check_identity(t, c, err, errsz);
	if (ret < 0)
		goto fail;
	*out = c;
	return 0;

fail:
	tls_conn_free(c);
	return ret;
}

int tls_conn_client_data(struct tls_ctx *t, int fd, struct tls_conn *control,
			 int64_t deadline, struct tls_conn **out, bool *resumed,
			 char *err, size_t errsz)
{
	return tls_data_handshake(t, fd, control, true, deadline, out, resumed,
				  err, errsz);
}

int tls_conn_client_data_unresumed(struct tls_ctx *t, int fd,
				   struct tls_conn *control, int64_t deadline,
				   struct tls_conn **out, bool *resumed,
				   char *err, size_t errsz)
{
	return tls_data_handshake(t, fd, control, false, deadline, out, resumed,
				  err, errsz);
}
