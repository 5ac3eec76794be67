/*
 * tls_pin.c - the server's identity: pins, trust on first use, and the
 * fingerprint shown when verification fails.
 *
 * A pin is the SHA-256 of the leaf certificate (DER) or of its public key
 * (SubjectPublicKeyInfo, DER: what curl's --pinnedpubkey and HPKP hash).
 * Either matches, so a user may paste what `openssl x509 -fingerprint
 * -sha256` prints, or a key hash that survives certificate renewals.
 * Comparisons run in constant time (CRYPTO_memcmp): the pin is not secret,
 * but a comparison that leaks where it stopped is a habit not worth having.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "tls_internal.h"

X509 *tls_leaf(SSL *ssl)
{
	STACK_OF(X509) * chain;
	X509 *x = SSL_get0_peer_certificate(ssl);

	if (x)
		return x;
	chain = SSL_get_peer_cert_chain(ssl); /* client side: leaf first */
	return chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
}

int tls_cert_digests(X509 *x, uint8_t cert[FINGERPRINT_LEN],
		     uint8_t spki[FINGERPRINT_LEN])
{
	unsigned char *der = NULL;
	unsigned int n = 0;
	int len, ok;

	if (!X509_digest(x, EVP_sha256(), cert, &n) || n != FINGERPRINT_LEN)
		return -EIO;
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (len <= 0)
		return -EIO;
	ok = EVP_Digest(der, (size_t)len, spki, &n, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return ok && n == FINGERPRINT_LEN ? 0 : -EIO;
}

void tls_describe_verify_failure(SSL *ssl, long vr, char *err, size_t errsz)
{
	uint8_t cert[FINGERPRINT_LEN], spki[FINGERPRINT_LEN];
	char fk[FINGERPRINT_TEXT_LEN + 1];
	X509 *x = tls_leaf(ssl);

	if (!x || tls_cert_digests(x, cert, spki) < 0) {
		snprintf(err, errsz, "certificate verification failed: %s",
			 X509_verify_cert_error_string(vr));
		return;
	}
	/* Pinning is the comfortable path for self-signed servers: show
	 * what to pin, for the user to check out of band. */
	fingerprint_format(spki, fk);
	snprintf(err, errsz,
		 "certificate verification failed: %s; the server's public "
		 "key is %s (if you have checked that this is your server's "
		 "key: -o fingerprint=%s)",
		 X509_verify_cert_error_string(vr), fk, fk);
}

/* PIN and TOFU modes: compare (or, the first time in TOFU, record). */
static int tls_check_pin(struct tls_ctx *t, struct tls_conn *c, X509 *x,
			 char *err, size_t errsz)
{
	uint8_t cert[FINGERPRINT_LEN], spki[FINGERPRINT_LEN];
	char fk[FINGERPRINT_TEXT_LEN + 1], fc[FINGERPRINT_TEXT_LEN + 1];
	char fr[FINGERPRINT_TEXT_LEN + 1];
	int match, ret;

	if (tls_cert_digests(x, cert, spki) < 0) {
		snprintf(err, errsz, "cannot hash the server's certificate");
		return -EPERM;
	}
	fingerprint_format(spki, fk);
	fingerprint_format(cert, fc);
	pthread_mutex_lock(&t->pin_lock);
	if (!t->have_pin) {
		/* Only a control connection may teach us the key: a data
		 * connection always follows a checked control one. */
		ret = -EPERM;
		snprintf(err, errsz, "no pin for the server's certificate");
		if (t->verify == TLS_VERIFY_TOFU && c->is_control &&
		    t->first_use)
			ret = t->first_use(t->first_use_arg, spki, err, errsz);
		if (ret == 0) {
			memcpy(t->pin, spki, FINGERPRINT_LEN);
			t->have_pin = true;
		}
		pthread_mutex_unlock(&t->pin_lock);
		return ret;
	}
	/* Both comparisons always run: constant time, whichever matches. */
	match = (CRYPTO_memcmp(cert, t->pin, FINGERPRINT_LEN) == 0) |
		(CRYPTO_memcmp(spki, t->pin, FINGERPRINT_LEN) == 0);
	fingerprint_format(t->pin, fr);
	pthread_mutex_unlock(&t->pin_lock);
	if (match)
		return 0;
	if (t->verify == TLS_VERIFY_TOFU)
		snprintf(err, errsz,
			 "@@@ THE SERVER'S KEY HAS CHANGED @@@ %s records "
			 "%s, but the server now presents %s.  This may be "
			 "an attack, or a new key: refusing to connect.  If "
			 "the change is expected, delete that line.",
			 t->pin_origin, fr, fk);
	else
		snprintf(err, errsz,
			 "the server's certificate does not match %s: its "
			 "public key is %s, its certificate %s",
			 t->pin_origin, fk, fc);
	return -EPERM;
}

int tls_check_identity(struct tls_ctx *t, struct tls_conn *c, char *err,
		       size_t errsz)
{
	X509 *x = SSL_get0_peer_certificate(c->ssl);
	long vr;

	/* Also with no_verify: data connections are bound to it. */
	if (!x) {
		snprintf(err, errsz, "the server sent no certificate");
		return -EPERM;
	}
	switch (t->verify) {
	case TLS_VERIFY_CA:
		/* SSL_VERIFY_PEER aborted the handshake on any failure;
		 * checked again so that no code path can skip it. */
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK) {
			tls_describe_verify_failure(c->ssl, vr, err, errsz);
			return -EPERM;
		}
		return 0;
	case TLS_VERIFY_PIN:
	case TLS_VERIFY_TOFU:
		return tls_check_pin(t, c, x, err, errsz);
	case TLS_VERIFY_NONE:
		return 0;
	}
	return -EPERM;
}
