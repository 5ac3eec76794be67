/*
 * probe.c - ftpsfs --probe: the order of the checks.  It only drives the
 * sections (probe_*.c), which print through probe_report.c and take their
 * connections from probe_conn.c: nothing calls back into this file.
 *
 * Order: log in as a mount would (and if the TLS handshake fails while no
 * tls_max= was given, again with TLS 1.2 to see whether that is why);
 * greeting and FEAT; TLS; the remote directory; data connections
 * (probe_data.c); commands (probe_feat.c); the connection limit and the
 * verdict (probe_verdict.c).  What would stop a mount stops the probe
 * there: in particular nothing is sent after a TLS handshake whose server
 * is not verified - no USER, no password.
 */
#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpsfs/charset.h"
#include "ftpsfs/ftp_list.h"
#include "ftpsfs/ftp_root.h"
#include "ftpsfs/log.h"
#include "ftpsfs/proxy.h"
#include "probe_internal.h"

/* Why the first login failed, as the exit status says it. */
static int probe_login_failed(struct probe *p, int ret, const char *err)
{
	const struct tls_peer_info *pi = p->peer_seen ? p->peer : NULL;

	if (pi && !pi->identity_ok) {
		/* Nothing was sent after the handshake: no USER, no PASS. */
		probe_fact("login", "not attempted: %s",
			   pi->handshake_ok || pi->chain_error[0]
				   ? "the server's identity is not proved "
				     "(see TLS)"
				   : "the TLS handshake failed (see TLS)");
		if (pi->have_leaf && pi->chain_error[0] && !p->o->fingerprint &&
		    !p->o->tofu && !p->o->no_verify)
			snprintf(p->why, sizeof(p->why),
				 "the server's "
				 "certificate does not verify (%s)",
				 pi->chain_error);
		else
			snprintf(p->why, sizeof(p->why), "%s", err);
		return PROBE_EXIT_TLS;
	}
	probe_fact("login", "FAILED: %s", err);
	snprintf(p->why, sizeof(p->why), "%s", err);
	if (ret == -EPROTONOSUPPORT)
		return PROBE_EXIT_TLS;
	if (!p->peer_seen || ret == -EUSERS || ret == -ETIMEDOUT ||
	    ret == -ECONNRESET)
		return PROBE_EXIT_CONNECT;
	return PROBE_EXIT_LOGIN;
}

/*
 * TLS 1.3 handshake failed (not a verification failure): the same with
 * TLS 1.2.  If that works, the probe goes on with it and suggests
 * tls_max=1.2; otherwise the first failure stands.
 */
static int probe_login_tls12(struct probe *p, char *err, size_t errsz)
{
	struct tls_ctx *tls12 = NULL;
	char err12[512];
	int ret = probe_tls_new(p, TLS1_2_VERSION, &tls12);

	if (ret < 0)
		return ret;
	p->ep.tls = tls12;
	ret = probe_connect(p, &p->c, err12, sizeof(err12));
	if (ret < 0) {
		p->ep.tls = p->tls;
		tls_ctx_free(tls12);
		return ret;
	}
	snprintf(p->tls13_error, sizeof(p->tls13_error), "%s", err);
	snprintf(err, errsz, "%s", err12);
	tls_ctx_free(p->tls);
	p->tls = tls12;
	p->tls_max = TLS1_2_VERSION;
	p->tls13_failed = true;
	return 0;
}

/* Log in, then the Server section: greeting, login, FEAT. */
static int probe_login(struct probe *p)
{
	struct ftp_reply *r;
	char err[512] = "", esc[2048];
	int ret;

	ret = probe_connect(p, &p->c, err, sizeof(err));
	if (ret < 0 && ret != -EPERM && !p->o->tls_max && p->peer_seen &&
	    !p->peer->handshake_ok &&
	    probe_login_tls12(p, err, sizeof(err)) == 0)
		ret = 0;
	if (p->have_greeting)
		probe_fact_lines("greeting", p->greeting);
	if (ret < 0)
		return probe_login_failed(p, ret, err);
	probe_fact("login", "accepted (user %s)",
		   probe_esc(esc, sizeof(esc), p->ep.user));
	/* Once more, to show it whole: the login kept only what it uses. */
	r = ftp_conn_reply(p->c);
	if (ftp_conn_cmd(p->c, r, "FEAT", NULL) < 0)
		probe_fact("feat", "no reply (%s)",
			   probe_esc(esc, sizeof(esc), ftp_conn_err(p->c)));
	else if (r->code == FTP_REPLY_FEAT)
		probe_fact_lines("feat", r->text);
	else
		probe_fact("feat", "not supported (%s)", p->last_text);
	return PROBE_EXIT_OK;
}

/* The remote directory a mount would show: the mount's own code
 * (ftp_root.h), so that what it refuses, the probe reports. */
static int probe_root(struct probe *p)
{
	const char *path = p->s->hs.path;
	char buf[FTP_LIST_LINE_MAX + 1], esc[1024];
	struct ftp_entry e;
	bool have_entry = false;
	int ret;

	probe_section("Remote directory");
	ret = ftp_resolve_root(p->c, path, p->root, sizeof(p->root), &e, buf,
			       sizeof(buf), &have_entry);
	if (ret < 0) {
		snprintf(p->why, sizeof(p->why), "%s",
			 ftp_conn_err(p->c)[0] ? ftp_conn_err(p->c)
					       : strerror(-ret));
		probe_fact("remote directory", "FAILED: %s",
			   probe_esc(esc, sizeof(esc), p->why));
		return PROBE_EXIT_PATH;
	}
	probe_fact("remote directory", "%s%s",
		   probe_esc(esc, sizeof(esc), p->root),
		   path[0] ? "" : " (the login directory)");
	return PROBE_EXIT_OK;
}

/* The TLS context and the endpoint a mount would use (setup.h), but
 * with every data connection mode and MLSD tried whatever the options
 * say: the report says which of them a mount needs. */
static int probe_setup(struct probe *p)
{
	int ret = probe_tls_new(p, 0, &p->tls);

	if (ret == 0)
		ret = setup_endpoint(p->s, p->tls, &p->ep);
	p->ep.no_epsv = false;
	p->ep.no_mlsd = false;
	/* The report says whether data connections resumed: no warning on
	 * stderr besides (xfer.c says it once per mount). */
	atomic_store(&p->s->learned.warned_no_resume, true);
	p->ep.reply_seen = probe_reply_seen;
	p->ep.reply_seen_arg = p;
	p->next_id = 1;
	p->work_mode = -1;
	p->list_dots = p->mlsd_dots = -1;
	p->file_times = -1;
	p->dir_times = -1;
	return ret;
}

int probe_run(const struct probe_args *a)
{
	struct probe *p = calloc(1, sizeof(*p));
	char esc[1024];
	int status;

	if (!p)
		return PROBE_EXIT_USAGE;
	p->a = a;
	p->s = a->setup;
	p->o = a->setup->opts;
	if (probe_setup(p) < 0) {
		status = PROBE_EXIT_USAGE;
		goto out;
	}
	printf("ftpsfs probe of %s\n",
	       probe_esc(esc, sizeof(esc), p->o->remote));
	probe_section("Server");
	probe_fact(
		"server", "%s port %u, %s TLS",
		probe_esc(esc, sizeof(esc), p->ep.host), (unsigned)p->ep.port,
		p->ep.tls_mode == TLS_MODE_IMPLICIT ? "implicit" : "explicit");
	if (p->ep.proxy)
		probe_fact("proxy",
			   "%s proxy %s port %u%s%s: every connection "
			   "goes through it",
			   proxy_type_name(p->ep.proxy->type),
			   probe_esc(esc, sizeof(esc), p->ep.proxy->host),
			   (unsigned)p->ep.proxy->port,
			   p->ep.proxy->user[0] ? ", user " : "",
			   p->ep.proxy->user[0] ? p->ep.proxy->user : "");
	status = probe_login(p);
	probe_tls_report(p);
	if (status == PROBE_EXIT_OK)
		status = probe_root(p);
	if (status == PROBE_EXIT_OK) {
		probe_data_run(p);
		probe_feat_run(p);
		probe_learned_report(p);
		probe_conn_limit(p);
	}
	status = probe_verdict(p, status);
out:
	probe_tmp_cleanup(p);
	ftp_conn_close(p->c, true);
	tls_ctx_free(p->tls);
	charset_free(p->ep.charset);
	free(p->peer);
	free(p->content);
	free(p);
	fflush(stdout);
	return status;
}
