/*
 * setup.c - the options made into what connects: remote argument,
 * credentials, TLS context, endpoint (setup.h).  Shared by the mount and
 * ftpsfs --probe.
 */
#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

#include "ftpsfs/charset.h"
#include "ftpsfs/fingerprint.h"
#include "ftpsfs/log.h"
#include "ftpsfs/setup.h"

int setup_remote(struct setup *s)
{
	const char *msg = NULL;

	if (hostspec_parse(s->opts->remote, &s->hs, &msg) < 0) {
		log_err("%s: %s", s->opts->remote, msg ? msg : "invalid");
		return -EINVAL;
	}
	if (s->opts->proxy &&
	    proxy_spec_parse(s->opts->proxy, &s->proxy, &msg) < 0) {
		log_err("proxy=%s: %s", s->opts->proxy, msg ? msg : "invalid");
		return -EINVAL;
	}
	return 0;
}

const struct proxy_spec *setup_proxy(const struct setup *s)
{
	return s->proxy.type != PROXY_NONE ? &s->proxy : NULL;
}

int setup_credentials(struct setup *s)
{
	const char *key = s->opts->key ? s->opts->key : s->opts->cert;
	bool key_encrypted = false;
	char err[512];

	if (key &&
	    tls_key_file_encrypted(key, &key_encrypted, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -EINVAL;
	}
	if (credentials_resolve(s->opts, &s->hs, key_encrypted,
				s->proxy.type != PROXY_NONE ? &s->proxy : NULL,
				&s->cred, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -EINVAL;
	}
	return 0;
}

/* -o tofu, first connection to this server: record its key.  Runs
 * inside the TLS context's lock (tls.h). */
static int setup_tofu_record(void *arg, const uint8_t spki[FINGERPRINT_LEN],
			     char *err, size_t errsz)
{
	struct tofu *t = arg;
	char fp[FINGERPRINT_TEXT_LEN + 1];
	int ret = tofu_record(t, spki, err, errsz);

	if (ret < 0)
		return ret;
	fingerprint_format(spki, fp);
	log_warn("first connection to %s: trusting its public key %s and "
		 "recording it in %s line %u; compare it with what the "
		 "server's administrator says it is",
		 t->key, fp, t->path, t->line);
	return 0;
}

/* -o tofu with nothing recorded yet, for the probe: the key is trusted
 * for its own connections and recorded nowhere (probe.h). */
static int setup_tofu_trust_only(void *arg, const uint8_t spki[FINGERPRINT_LEN],
				 char *err, size_t errsz)
{
	(void)arg;
	(void)spki;
	(void)err;
	(void)errsz;
	return 0;
}

/* -o tofu: the recorded key, looked up once. */
static int setup_tofu(struct setup *s, enum setup_use use,
		      struct tls_settings *ts, char *origin, size_t originsz)
{
	char err[512];

	if (!s->tofu.path[0] &&
	    tofu_load(&s->tofu, s->hs.host, s->hs.host_is_ip, s->hs.port, err,
		      sizeof(err)) < 0) {
		log_err("%s", err);
		return -EINVAL;
	}
	ts->verify = TLS_VERIFY_TOFU;
	ts->have_pin = s->tofu.known;
	memcpy(ts->pin, s->tofu.pin, sizeof(ts->pin));
	if (s->tofu.known)
		snprintf(origin, originsz, "%s line %u", s->tofu.path,
			 s->tofu.line);
	else
		snprintf(origin, originsz, "%s", s->tofu.path);
	ts->pin_origin = origin;
	ts->first_use =
		use == SETUP_MOUNT ? setup_tofu_record : setup_tofu_trust_only;
	ts->first_use_arg = &s->tofu;
	return 0;
}

/* How the server proves itself: a pin (fingerprint=, tofu), nothing
 * (no_verify), or by default a CA and its name. */
static int setup_trust(struct setup *s, enum setup_use use,
		       struct tls_settings *ts, char *origin, size_t originsz)
{
	const struct ftpsfs_opts *o = s->opts;

	if (o->fingerprint) {
		ts->verify = TLS_VERIFY_PIN;
		ts->have_pin =
			fingerprint_parse(o->fingerprint,
					  strlen(o->fingerprint), ts->pin) == 0;
		ts->pin_origin = "-o fingerprint";
	} else if (o->tofu) {
		return setup_tofu(s, use, ts, origin, originsz);
	} else if (o->no_verify) {
		ts->verify = TLS_VERIFY_NONE;
		if (use == SETUP_MOUNT)
			log_warn("no_verify: the server's certificate is NOT "
				 "checked: anyone on the network path can pose "
				 "as %s and read your password and files",
				 s->hs.host);
	}
	return 0;
}

int setup_tls(struct setup *s, enum setup_use use, int max_version,
	      tls_peer_fn on_peer, void *on_peer_arg, struct tls_ctx **out)
{
	const struct ftpsfs_opts *o = s->opts;
	struct tls_settings ts = { 0 };
	char origin[sizeof(s->tofu.path) + 32], err[512];
	int ret;

	ts.cafile = o->cafile;
	ts.capath = o->capath;
	ts.max_version = max_version;
	if (!max_version && o->tls_max)
		ts.max_version = strcmp(o->tls_max, "1.2") == 0
					 ? TLS1_2_VERSION
					 : TLS1_3_VERSION;
	ts.ciphers = o->ciphers;
	ts.ciphersuites = o->tls13_ciphersuites;
	ts.cert_file = o->cert;
	ts.key_file = o->key;
	if (s->cred.key_password.value)
		ts.key_password = &s->cred.key_password;
	ts.on_peer = on_peer;
	ts.on_peer_arg = on_peer_arg;
	ret = setup_trust(s, use, &ts, origin, sizeof(origin));
	if (ret < 0)
		return ret;
	ret = tls_ctx_new(&ts, out, err, sizeof(err));
	/* A mount's client key is loaded: its passphrase has done its job. */
	if (use == SETUP_MOUNT)
		secret_wipe(&s->cred.key_password);
	if (ret < 0)
		log_err("%s", err);
	return ret;
}

int setup_endpoint(struct setup *s, struct tls_ctx *tls,
		   struct ftp_endpoint *ep)
{
	const struct ftpsfs_opts *o = s->opts;

	snprintf(ep->host, sizeof(ep->host), "%s", s->hs.host);
	ep->host_is_ip = s->hs.host_is_ip;
	ep->port = s->hs.port;
	ep->tls_mode = s->hs.tls_mode;
	snprintf(ep->user, sizeof(ep->user), "%s", s->hs.user);
	ep->password = &s->cred.password;
	ep->anonymous = s->cred.anonymous;
	ep->allow_plaintext = o->allow_plaintext;
	ep->allow_plaintext_password = o->allow_plaintext_password;
	ep->active = o->active;
	ep->no_epsv = o->no_epsv;
	ep->no_mlsd = o->no_mlsd;
	ep->proxy = setup_proxy(s);
	if (o->codepage && charset_new(o->codepage, &ep->charset) < 0) {
		log_err("codepage=%s: a charset iconv does not know (see "
			"iconv --list)",
			o->codepage);
		return -EINVAL;
	}
	ep->connect_timeout_ms = (int)o->connect_timeout * 1000;
	ep->timeout_ms = (int)o->timeout * 1000;
	ep->tls = tls;
	ep->learned = &s->learned;
	return 0;
}

void setup_wipe(struct setup *s)
{
	credentials_wipe(&s->cred);
}
