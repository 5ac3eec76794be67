/*
 * probe_tls.c - the TLS context a mount with these options would use, and
 * the TLS section of the report: version, cipher, the certificate chain,
 * the name checked, the fingerprints, and whether the server is verified.
 *
 * The facts come from the TLS layer's observer (tls.h: on_peer), called
 * after every control handshake - a failed one too, so that a server that
 * does not verify still shows what it presented and what to pin.
 */
#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/fingerprint.h"
#include "ftpsfs/log.h"
#include "probe_internal.h"

static void probe_on_peer(void *arg, const struct tls_peer_info *info)
{
	struct probe *p = arg;

	if (!p->peer)
		p->peer = malloc(sizeof(*p->peer));
	if (!p->peer)
		return;
	memcpy(p->peer, info, sizeof(*info));
	p->peer_seen = true;
}

int probe_tls_new(struct probe *p, int max_version, struct tls_ctx **out)
{
	return setup_tls(p->s, SETUP_PROBE, max_version, probe_on_peer, p, out);
}

bool probe_tls_fingerprint(const struct probe *p, char *out, size_t outsz)
{
	char fp[FINGERPRINT_TEXT_LEN + 1];

	if (!p->peer || !p->peer->have_leaf)
		return false;
	fingerprint_format(p->peer->spki_sha256, fp);
	snprintf(out, outsz, "%s", fp);
	return true;
}

static void probe_tls_chain(const struct tls_peer_info *pi)
{
	char key[64];

	for (unsigned i = 0; i < pi->chain_len; i++) {
		const struct tls_peer_cert *pc = &pi->chain[i];

		snprintf(key, sizeof(key), "certificate %u subject", i + 1);
		probe_fact(key, "%s", pc->subject);
		snprintf(key, sizeof(key), "certificate %u issuer", i + 1);
		probe_fact(key, "%s", pc->issuer);
		snprintf(key, sizeof(key), "certificate %u valid", i + 1);
		probe_fact(key, "from %s to %s%s", pc->not_before,
			   pc->not_after,
			   pc->expired	       ? " (EXPIRED)"
			   : pc->not_yet_valid ? " (NOT YET VALID)"
					       : "");
		snprintf(key, sizeof(key), "certificate %u names", i + 1);
		probe_fact(key, "%s", pc->names[0] ? pc->names : "(none)");
	}
	if (pi->chain_sent > pi->chain_len)
		probe_fact("certificate chain", "%u more not shown",
			   pi->chain_sent - pi->chain_len);
}

/* Whether the server is the one we trust, in the mode the options
 * choose, and why not. */
static void probe_tls_verdict(const struct probe *p,
			      const struct tls_peer_info *pi)
{
	const struct ftpsfs_opts *o = p->o;

	if (o->no_verify) {
		probe_fact("verification",
			   "not checked (no_verify): anyone on "
			   "the network path could pose as this server");
	} else if (pi->identity_ok && o->fingerprint) {
		probe_fact("verification", "passed (the key matches -o "
					   "fingerprint)");
	} else if (pi->identity_ok && o->tofu && p->s->tofu.known) {
		probe_fact("verification",
			   "passed (the key matches %s line %u)",
			   p->s->tofu.path, p->s->tofu.line);
	} else if (pi->identity_ok && o->tofu) {
		probe_fact("verification",
			   "not recorded yet: a mount would "
			   "trust this key and record it in %s (trust on first "
			   "use); compare the fingerprint with what the "
			   "server's administrator says",
			   p->s->tofu.path);
	} else if (pi->identity_ok) {
		probe_fact("verification",
			   "passed (the chain leads to a CA "
			   "in %s, and the name matches)",
			   o->cafile   ? o->cafile
			   : o->capath ? o->capath
				       : "the system's store");
	} else if (pi->error[0]) {
		probe_fact("verification", "FAILED: %s", pi->error);
	} else {
		probe_fact("verification", "FAILED: the TLS handshake did not "
					   "complete");
	}
}

void probe_tls_report(struct probe *p)
{
	const struct tls_peer_info *pi = p->peer;
	bool ca = !p->o->fingerprint && !p->o->tofu && !p->o->no_verify;
	char fp[FINGERPRINT_TEXT_LEN + 1], esc[600];

	probe_section("TLS");
	if (p->tls13_failed)
		probe_fact("tls 1.3",
			   "the handshake failed (%s); with TLS "
			   "1.2 it works, and the probe went on with TLS 1.2",
			   p->tls13_error);
	if (!pi) {
		probe_fact("tls", "no TLS handshake took place");
		return;
	}
	if (pi->version[0])
		probe_fact("tls version", "%s", pi->version);
	if (pi->cipher[0])
		probe_fact("tls cipher", "%s", pi->cipher);
	if (!pi->handshake_ok && !pi->chain_len)
		probe_fact("tls handshake", "FAILED: %s", pi->error);
	probe_tls_chain(pi);
	if (pi->have_leaf) {
		probe_esc(esc, sizeof(esc), p->ep.host);
		if (ca)
			probe_fact("name checked", "%s (as %s): %s", esc,
				   p->ep.host_is_ip ? "an IP address"
						    : "a DNS name",
				   pi->name_ok ? "in the certificate"
					       : "NOT in the certificate");
		else
			probe_fact("name checked",
				   "none, the pin is the "
				   "identity (the certificate %s %s)",
				   pi->name_ok ? "names" : "does not name",
				   esc);
		fingerprint_format(pi->spki_sha256, fp);
		probe_fact("fingerprint",
			   "%s (SHA-256 of the public key: "
			   "what -o fingerprint= takes)",
			   fp);
		fingerprint_format(pi->cert_sha256, fp);
		probe_fact("certificate fingerprint",
			   "%s (SHA-256 of the "
			   "certificate, as openssl x509 -fingerprint -sha256 "
			   "shows it)",
			   fp);
	}
	if (pi->have_leaf && ca && !pi->chain_ok && pi->chain_error[0])
		probe_fact("chain", "does not verify: %s", pi->chain_error);
	probe_tls_verdict(p, pi);
}
