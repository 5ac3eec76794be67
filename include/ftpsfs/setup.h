/*
 * setup.h - from the parsed options to what connects to the server: the
 * remote argument, the credentials, the TLS context and the endpoint.
 *
 * A mount (main.c) and ftpsfs --probe (probe.h) both build their
 * connections with these functions, so the probe tries the configuration
 * a mount with the same options would use.  An option that changes how
 * ftpsfs connects is read here, once, and both get it.
 */
#ifndef FTPSFS_SETUP_H
#define FTPSFS_SETUP_H

#include "ftpsfs/credentials.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_learned.h"
#include "ftpsfs/hostspec.h"
#include "ftpsfs/opts.h"
#include "ftpsfs/proxy.h"
#include "ftpsfs/tls.h"
#include "ftpsfs/tofu.h"

struct setup {
	const struct ftpsfs_opts *opts; /* validated (opts_validate()) */
	struct hostspec hs;		/* the remote argument */
	struct proxy_spec proxy;	/* -o proxy=; type PROXY_NONE if not */
	struct credentials cred;	/* setup_credentials() */
	struct tofu tofu;		/* -o tofu: where the key is recorded */
	struct ftp_learned learned;	/* what connecting learns about the
					 * server (ftp_learned.h) */
};

/* Who the TLS context is for. */
enum setup_use {
	SETUP_MOUNT, /* -o tofu records a new key, no_verify is warned of,
		      * the client key's passphrase is wiped once loaded */
	SETUP_PROBE, /* nothing recorded or warned of (the report says it);
		      * the passphrase stays for another context */
};

/* The remote argument and -o proxy= into @s (before any prompt or
 * traffic).  0, or -EINVAL with the reason logged. */
int setup_remote(struct setup *s);

/* Who logs in, and the secrets for it (credentials.h): may prompt.  0, or
 * -EINVAL with the reason logged. */
int setup_credentials(struct setup *s);

/* The proxy every connection goes through, or NULL: direct. */
const struct proxy_spec *setup_proxy(const struct setup *s);

/*
 * The TLS context (tls.h) the options ask for: how the server proves
 * itself (CA and name, fingerprint=, tofu, no_verify), the client
 * certificate, versions and ciphers.  @max_version (0: as tls_max= says)
 * caps the version; @on_peer, if not NULL, is told what each control
 * handshake showed.  Returns 0 and *@out (tls_ctx_free()), or a negative
 * errno with the reason logged.
 */
int setup_tls(struct setup *s, enum setup_use use, int max_version,
	      tls_peer_fn on_peer, void *on_peer_arg, struct tls_ctx **out);

/*
 * Where and how to log in (ftp_conn.h), for connections over @tls.
 * Returns 0, or -EINVAL for a codepage= iconv does not know (logged).
 * @ep->charset is then the caller's (charset_free()); @ep points into @s,
 * which must outlive it.
 */
int setup_endpoint(struct setup *s, struct tls_ctx *tls,
		   struct ftp_endpoint *ep);

/* Wipe the secrets (at exit). */
void setup_wipe(struct setup *s);

#endif
