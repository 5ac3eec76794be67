/*
 * tls_peer.c - what a control connection's handshake showed of the
 * server, described for ftpsfs --probe (tls.h: struct tls_peer_info).
 *
 * Everything in a certificate is the server's text, so it leaves here as
 * printable ASCII only: names through RFC 2253 escaping, SAN entries and
 * anything else through log_escape().  Nothing here decides trust; the
 * verdicts come from the checks the connection already made.
 */
#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftpsfs/log.h"
#include "tls_internal.h"

/* Anything outside printable ASCII that got through becomes '?'. */
static void tls_peer_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void tls_peer_name(const X509_NAME *n, char *out, size_t outsz)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	out[0] = '\0';
	if (!b)
		return;
	/* RFC 2253 with control and non-ASCII bytes escaped as \HH. */
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_read(b, out, (int)outsz - 1);
		out[len > 0 ? len : 0] = '\0';
	}
	BIO_free(b);
	tls_peer_printable(out);
}

static void tls_peer_time(const ASN1_TIME *t, char *out, size_t outsz)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm) ||
	    strftime(out, outsz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, outsz, "?");
}

/* Append ", " (unless first) and @what to @out, bounded. */
static void tls_peer_append(char *out, size_t outsz, const char *what)
{
	size_t used = strlen(out);

	snprintf(out + used, outsz - used, "%s%s", used ? ", " : "", what);
}

static void tls_peer_sans(X509 *x, char *out, size_t outsz)
{
	GENERAL_NAMES *sans =
		X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char item[300], esc[280];

	out[0] = '\0';
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const ASN1_STRING *s;
		char ip[INET6_ADDRSTRLEN];

		if (g->type == GEN_DNS) {
			s = g->d.dNSName;
			/* A DNS name may hold a NUL (the classic
			 * "www.bank.com\0.evil.com"): escape by length. */
			snprintf(item, sizeof(item), "DNS:%s",
				 log_escape(
					 esc, sizeof(esc),
					 (const char *)ASN1_STRING_get0_data(s),
					 (size_t)ASN1_STRING_length(s)));
		} else if (g->type == GEN_IPADD) {
			int len;

			s = g->d.iPAddress;
			len = ASN1_STRING_length(s);
			/* inet_ntop() reads 4 or 16 bytes: check first. */
			if ((len != 4 && len != 16) ||
			    !inet_ntop(len == 4 ? AF_INET : AF_INET6,
				       ASN1_STRING_get0_data(s), ip,
				       sizeof(ip)))
				snprintf(ip, sizeof(ip), "?");
			snprintf(item, sizeof(item), "IP:%s", ip);
		} else {
			snprintf(item, sizeof(item), "(type %d)", g->type);
		}
		tls_peer_append(out, outsz, item);
	}
	GENERAL_NAMES_free(sans);
}

static void tls_peer_cert(X509 *x, struct tls_peer_cert *pc)
{
	tls_peer_name(X509_get_subject_name(x), pc->subject,
		      sizeof(pc->subject));
	tls_peer_name(X509_get_issuer_name(x), pc->issuer, sizeof(pc->issuer));
	tls_peer_time(X509_get0_notBefore(x), pc->not_before,
		      sizeof(pc->not_before));
	tls_peer_time(X509_get0_notAfter(x), pc->not_after,
		      sizeof(pc->not_after));
	pc->not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(x)) > 0;
	pc->expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
	tls_peer_sans(x, pc->names, sizeof(pc->names));
}

static void tls_peer_chain(SSL *ssl, struct tls_peer_info *pi)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	int n = chain ? sk_X509_num(chain) : 0;

	pi->chain_sent = n > 0 ? (unsigned)n : 0;
	for (int i = 0; i < n && i < TLS_PEER_CHAIN_MAX; i++)
		tls_peer_cert(sk_X509_value(chain, i),
			      &pi->chain[pi->chain_len++]);
}

void tls_peer_report(struct tls_ctx *t, struct tls_conn *c, bool handshake_ok,
		     const char *err)
{
	struct tls_peer_info *pi = calloc(1, sizeof(*pi));
	const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
	X509 *leaf = tls_leaf(c->ssl);
	long vr = SSL_get_verify_result(c->ssl);

	if (!pi)
		return; /* the probe then says it saw nothing */
	pi->handshake_ok = handshake_ok;
	pi->identity_ok = handshake_ok && !err;
	snprintf(pi->error, sizeof(pi->error), "%s", err ? err : "");
	tls_peer_printable(pi->error);
	snprintf(pi->version, sizeof(pi->version), "%s",
		 SSL_get_version(c->ssl));
	snprintf(pi->cipher, sizeof(pi->cipher), "%s",
		 cipher ? SSL_CIPHER_get_name(cipher) : "");
	tls_peer_chain(c->ssl, pi);
	if (leaf &&
	    tls_cert_digests(leaf, pi->cert_sha256, pi->spki_sha256) == 0)
		pi->have_leaf = true;
	pi->chain_ok = leaf && vr == X509_V_OK;
	snprintf(pi->chain_error, sizeof(pi->chain_error), "%s",
		 vr == X509_V_OK ? "" : X509_verify_cert_error_string(vr));
	if (leaf)
		pi->name_ok =
			c->host_is_ip
				? X509_check_ip_asc(leaf, c->host, 0) == 1
				: X509_check_host(
					  leaf, c->host, 0,
					  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
					  NULL) == 1;
	t->on_peer(t->on_peer_arg, pi);
	free(pi);
}
